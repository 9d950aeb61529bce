# tests/lib/broker_helpers.bash - "hosts" for tests/broker.bats: each a
# tm_ivshmem_server with its region and an mqbridge that relays through
# the broker(s) of tests/lib/relay_helpers.bash.  Loaded after helpers,
# mqbridge_helpers and relay_helpers.

MAC_D=02:00:00:00:00:0d

# host NAME [BRIDGE ARGS...]: the server and the bridge of host NAME
# (socket $T/NAME.sock, status $T/NAME.status, bridge log
# $T/NAME.bridge.log, bridge pid in HOST_PID_NAME), relaying through broker
# 1 with this test's prefix unless ARGS give a --broker; returns once the
# relay is connected.
host() {
	local h=$1 a broker=(--broker "stomp://127.0.0.1:$PORT1")
	shift
	for a in "$@"; do
		[ "$a" = --broker ] && broker=()
	done
	if [ ! -S "$T/$h.sock" ]; then
		SRV_LOG=$T/$h.server.log
		start_server_raw -p "$T/$h.sock" -f "$T/$h.region" -m 4M
		eval "SRV_PID_$h=\$SRV_PID"
	fi
	"$BRIDGE" -p "$T/$h.sock" --status "$T/$h.status" --prefix "$PREFIX" \
		"${broker[@]}" "$@" >>"$T/$h.bridge.log" 2>&1 3>&- &
	eval "HOST_PID_$h=\$!"
	echo "$!" >>"$T/pids"
	wait_for "$T/$h.bridge.log" "bridge ready" &&
		wait_for "$T/$h.bridge.log" "connected \\(" 20
}

# host_stop NAME [SIGNAL]: stop the bridge of host NAME (TERM).
host_stop() {
	local pid
	eval "pid=\$HOST_PID_$1"
	kill "-${2:-TERM}" "$pid"
	wait "$pid" 2>/dev/null || true
}

# host_nic NAME HOST NS MAC ADDR: mqnic on HOST's server in namespace NS.
host_nic() {
	local SOCK=$T/$2.sock
	nic "$1" "$3" "$4" "$5"
}

# host_peer NAME HOST MAC STEP...: mqpeer on HOST's server.
host_peer() {
	local name=$1 h=$2 mac=$3
	shift 3
	bg "$name" "$MQPEER" -p "$T/$h.sock" --mac "$mac" "$@"
}

# relay_field HOST FIELD: from the status file's relay line.
relay_field() {
	kill -USR1 "$(eval echo "\$HOST_PID_$1")" 2>/dev/null
	sleep 0.2
	awk -v f="$2" '$1 == "relay" { for (i = 2; i < NF; i += 2)
		if ($i == f) print $(i + 1) }' "$T/$1.status"
}

# wait_relay_field HOST FIELD MIN [SECONDS]: until the relay's counter
# (reported each second) reaches MIN.
wait_relay_field() {
	local i v
	for ((i = 0; i < ${4:-10} * 2; i++)); do
		v=$(relay_field "$1" "$2")
		[ -n "$v" ] && [ "$v" -ge "$3" ] && return 0
		sleep 0.3
	done
	echo "# relay $2 on host $1 is '$v', not $3 or more" >&2
	return 1
}

# host_slot_field HOST MAC FIELD: a counter of the slot that has MAC.
host_slot_field() {
	kill -USR1 "$(eval echo "\$HOST_PID_$1")" 2>/dev/null
	sleep 0.2
	awk -v m="$2" -v f="$3" '$1 == "slot" && $6 == m {
		for (i = 3; i < NF; i += 2) if ($i == f) print $(i + 1) }' \
	    "$T/$1.status"
}

# seqs FILE: how many distinct "seq N" a peer printed, and how many twice.
seqs_distinct() {
	sed -n 's/.* seq \([0-9]*\)$/\1/p' "$1" | sort -un | wc -l
}

seqs_total() {
	grep -c ' seq ' "$1" || true
}

# quiet_ns NS...: no IPv6 in the namespaces, so that the frames a test
# counts are the ones it made (no router solicitations, no MLD).
quiet_ns() {
	local ns
	for ns in "$@"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
	done
}
