# tests/mqbridge_helpers.bash - set-up for tests/mqbridge.bats: the bridge,
# mqpeer and mqnic endpoints, network namespaces, and reading the bridge's
# status file.  Loaded after helpers.bash, whose tm_setup, bg, wait_for
# and start_server it uses; namespaces it creates are deleted in teardown.

BRIDGE=$TM_BUILD/bin/mqbridge
MQNIC=$TM_BUILD/bin/mqnic
MQPEER=$TM_BUILD/tests/mqpeer
SCRIBBLE=$TM_BUILD/tests/ring_scribble

MAC_A=02:00:00:00:00:0a
MAC_B=02:00:00:00:00:0b
MAC_C=02:00:00:00:00:0c

mqb_setup() {
	local p
	for p in "$BRIDGE" "$MQPEER" "$SCRIBBLE"; do
		[ -x "$p" ] || { echo "$p missing; run make all test-progs" >&2; return 1; }
	done
	tm_setup
	: >"$T/netns"
	STATUS=$T/status
	BR_N=0
}

mqb_teardown() {
	local ns list=
	[ -n "${T:-}" ] && [ -f "$T/netns" ] && list=$(cat "$T/netns")
	tm_teardown
	for ns in $list; do
		ip netns del "$ns" 2>/dev/null
	done
}

# start_bridge ARGS...: mqbridge with --status $STATUS, its log in $BR_LOG;
# returns once it logs "bridge ready".
start_bridge() {
	BR_N=$((BR_N + 1))
	BR_LOG=$T/bridge.$BR_N.log
	"$BRIDGE" --status "$STATUS" "$@" >"$BR_LOG" 2>&1 3>&- &
	BR_PID=$!
	echo "$BR_PID" >>"$T/pids"
	wait_for "$BR_LOG" "bridge ready"
}

# stop_bridge [SIGNAL]: its exit status in $BR_STATUS.
stop_bridge() {
	kill "-${1:-TERM}" "$BR_PID"
	BR_STATUS=0
	wait "$BR_PID" || BR_STATUS=$?
}

# peer NAME MAC STEP...: mqpeer on $SOCK in the background; output in
# $T/NAME.out (frames) and $T/NAME.err; pid in $BG_PID.
peer() {
	local name=$1 mac=$2
	shift 2
	bg "$name" "$MQPEER" -p "$SOCK" --mac "$mac" "$@"
}

# running NAME [N]: the peer NAME has reached run N times (1).
running() {
	wait_count "$T/$1.out" '^state run' "${2:-1}"
}

# rx_count NAME: frames the peer NAME printed.
rx_count() {
	grep -c '^rx ' "$T/$1.out" || true
}

# status_field SLOT FIELD: from the slot's line, e.g. 0.1 in_frames.
status_field() {
	awk -v s="$1" -v f="$2" '$1 == "slot" && $2 == s {
		for (i = 3; i < NF; i += 2) if ($i == f) print $(i + 1) }' \
	    "$STATUS"
}

drop_count() {
	awk -v r="$1" '$1 == "drop" && $2 == r { print $3 }' "$STATUS"
}

# wait_status SLOT FIELD VALUE [SECONDS]: SIGUSR1 makes the bridge
# rewrite the file; poll until the field has the value.
wait_status() {
	local slot=$1 field=$2 want=$3 secs=${4:-5} i got
	for ((i = 0; i < secs * 10; i++)); do
		kill -USR1 "$BR_PID" 2>/dev/null
		sleep 0.1
		got=$(status_field "$slot" "$field" 2>/dev/null)
		[ "$got" = "$want" ] && return 0
	done
	echo "# slot $slot $field is '$got', not '$want':" >&2
	sed 's/^/#   /' "$STATUS" >&2
	return 1
}

# wait_drop REASON VALUE [SECONDS]
wait_drop() {
	local why=$1 want=$2 secs=${3:-5} i got
	for ((i = 0; i < secs * 10; i++)); do
		kill -USR1 "$BR_PID" 2>/dev/null
		sleep 0.1
		got=$(drop_count "$why" 2>/dev/null)
		[ "$got" = "$want" ] && return 0
	done
	echo "# drop $why is '$got', not '$want':" >&2
	sed 's/^/#   /' "$STATUS" >&2
	return 1
}

# slot_of NAME: the slot the peer or mqnic NAME claimed.
slot_of() {
	sed -n 's/^slot \([0-9]*\) peer.*/\1/p; s/.*mqnic ready: slot \([0-9]*\) .*/\1/p' \
	    "$T/$1.out" "$T/$1.err" 2>/dev/null | head -n1
}

need_mqnic() {
	[ -x "$MQNIC" ] || skip "mqnic not built yet"
}

need_net() {
	command -v ip >/dev/null || skip "ip (iproute2) missing"
	command -v ping >/dev/null || skip "ping (iputils-ping) missing"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
}

# netns NAME: a namespace for this test only, with lo up; its name is
# printed.
netns() {
	local ns
	ns=tm-mqb-$(basename "$T" | tr -dc 'A-Za-z0-9')-$1
	ip netns add "$ns" || return 1
	echo "$ns" >>"$T/netns"
	ip -n "$ns" link set lo up
	echo "$ns"
}

# nic NAME NS MAC ADDR: mqnic in namespace NS with a TAP named mq0 that
# gets ADDR (e.g. 10.77.0.1/24); returns once it is ready, its pid in
# $NIC_PID (ip netns exec execs it).
nic() {
	local name=$1 ns=$2 mac=$3 addr=$4
	bg "$name" ip netns exec "$ns" "$MQNIC" -p "$SOCK" --mac "$mac" \
	    --tap mq0
	NIC_PID=$BG_PID
	wait_for "$T/$name.err" "mqnic ready" || return 1
	ip -n "$ns" addr add "$addr" dev mq0 &&
	    ip -n "$ns" link set mq0 up
}

# two_nics [BRIDGE ARGS...]: the common start: server, bridge, and mqnic
# endpoints nica (10.77.0.1, namespace $nsa, pid $NICA_PID) and nicb
# (10.77.0.2, $nsb, $NICB_PID) on it.
two_nics() {
	need_mqnic
	need_net
	start_server -f "$REGION"
	start_bridge -p "$SOCK" "$@"
	nsa=$(netns a)
	nsb=$(netns b)
	nic nica "$nsa" "$MAC_A" 10.77.0.1/24
	NICA_PID=$NIC_PID
	nic nicb "$nsb" "$MAC_B" 10.77.0.2/24
	NICB_PID=$NIC_PID
}

# wait_sysnet_up NS: mq0 in NS has its carrier (the kernel's link watch
# settles operstate up to a second after the change).
wait_sysnet_up() {
	local i v
	for ((i = 0; i < 150; i++)); do
		v=$(ip netns exec "$1" cat /sys/class/net/mq0/operstate 2>/dev/null)
		[ "$v" = up ] && return 0
		sleep 0.02
	done
	echo "# mq0 in $1 is '$v', not up" >&2
	return 1
}
