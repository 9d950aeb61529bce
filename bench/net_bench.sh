#!/usr/bin/env bash
# bench/net_bench.sh - ping RTT and TCP throughput between two network
# namespaces through the NIC bridge (tm_ivshmem_server + mqbridge + one
# mqnic per namespace), against a veth pair between the same two
# namespaces in the same run.
#
#   bash bench/net_bench.sh            (as root; bench/run calls it)
#   O=build TIME=3 PINGS=1000 bash bench/net_bench.sh
#
# Output: one "key=value ..." line per path, for bench/run:
#   net=veth ping_min_ms=... ping_avg_ms=... ping_p50_ms=... ping_p99_ms=...
#       tcp_gbps=... retr=... (one stream) tcp4_gbps=... retr4=... (four)
#       udp64_pps=... udp64_loss=... (64-byte frames, iperf3 -u -b 0)
#   net=bridge ... drops=N drop_REASON=N ...  (the bridge's --status)
#       cpu_s_per_gb_bridge=... cpu_s_per_gb_mqa=... cpu_s_per_gb_mqb=...
#       (CPU seconds, /proc/PID/stat, per GB received over the TCP runs)
#       tx_dropped=N (the sending TAP's, over the whole run)
#       bells_per_mb_bridge=... quiet_per_mb_bridge=... bells_per_mb_mqa=...
#       (doorbells rung, and commits that needed none, per MB received
#       over the TCP runs: from the bridge's status and mqnic's counters)
#   net=bridge skipped="why"    when mqbridge or mqnic is not built
# Everything it makes is its own: namespaces tm-nb-{a,b}-PID, addresses
# 10.77.0.0/24 (bridge) and 10.77.1.0/24 (veth) inside them only, a
# temporary directory for the region and the socket.  All of it goes on
# exit.  Exit 1 if a path that should run did not.
set -euo pipefail
cd "$(dirname "$0")/.."

O=${O:-build}
TIME=${TIME:-3}		# seconds of iperf3 per path, after 1 s omitted
PINGS=${PINGS:-1000}	# pings per path, 10 ms apart
prog=bench/net_bench.sh

case $TIME in ''|*[!0-9]*|0)
	echo "$prog: TIME=$TIME is not a count of seconds; give 1 or more" >&2
	exit 1;;
esac
case $PINGS in ''|*[!0-9]*|0)
	echo "$prog: PINGS=$PINGS is not a count; give 1 or more" >&2
	exit 1;;
esac
if [ "$(id -u)" -ne 0 ]; then
	echo "$prog: needs root for network namespaces; run it as root" >&2
	exit 1
fi
for c in ip ping iperf3 ss timeout; do
	command -v "$c" >/dev/null || {
		echo "$prog: $c is missing; run bash tests/deps.sh" >&2
		exit 1
	}
done

server=$O/bin/tm_ivshmem_server
bridge=$O/bin/mqbridge
mqnic=$O/bin/mqnic
na=tm-nb-a-$$
nb=tm-nb-b-$$
tmp=$(mktemp -d /tmp/tm-netbench.XXXXXX)
pids=()
bridge_pid=

cleanup() {
	local i
	# Newest first: endpoints release their slots before the bridge goes.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	ip netns del "$na" 2>/dev/null || true
	ip netns del "$nb" 2>/dev/null || true
	if [ -n "${BENCH_KEEP:-}" ]; then
		mkdir -p "$BENCH_KEEP"
		cp "$tmp"/*.log "$BENCH_KEEP"/ 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start LOG CMD...: in the background, remembered for cleanup.
start() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	pids+=($!)
}

# await LOG PATTERN WHAT: until the last started process logs PATTERN.
await() {
	local log=$1 pat=$2 what=$3 pid=${pids[-1]} _
	for _ in $(seq 100); do
		grep -q -- "$pat" "$log" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "$prog: $what did not log \"$pat\" within 10 s; its log:" >&2
	cat "$log" >&2
	return 1
}

# ping_rtt NS ADDR: "min avg p50 p99" in ms over PINGS pings, after ARP
# warm-up.
ping_rtt() {
	ip netns exec "$1" ping -q -c 3 -i 0.2 -W 2 "$2" >/dev/null
	ip netns exec "$1" ping -c "$PINGS" -i 0.01 -W 2 "$2" |
		sed -n 's/.* time=\([0-9.]*\) ms$/\1/p' | sort -g |
		awk '{ t[NR] = $1; s += $1 } END { if (NR == 0) exit 1
		    p50 = t[int((NR + 1) * 0.50)]; p99 = t[int(NR * 0.99)]
		    if (p99 == "") p99 = t[NR]
		    printf "%s %.3f %s %s\n", t[1], s / NR, p50, p99 }'
}

# tcp_gbps LABEL ADDR [IPERF3 ARGS]: tcp="Gbit/s retransmits", A sends
# to B for TIME s.  Not in a subshell: the iperf3 server must stay in pids
# for cleanup.
tcp_gbps() {
	local log=$tmp/iperf3-$1.log out=$tmp/iperf3-$1.out _ label=$1 addr=$2
	shift 2
	start "$log" ip netns exec "$nb" iperf3 -s -1 -B "$addr" -p 5201
	for _ in $(seq 50); do
		ip netns exec "$nb" ss -Hltn "sport = :5201" | grep -q . && break
		sleep 0.1
	done
	set -- "$label" "$addr" "$@"
	if ! timeout $((TIME + 20)) ip netns exec "$na" iperf3 -c "$2" \
	    -p 5201 -t "$TIME" -O 1 -f g "${@:3}" >"$out" 2>&1; then
		echo "$prog: iperf3 over $1 failed:" >&2
		cat "$out" "$log" >&2
		return 1
	fi
	wait "${pids[-1]}" 2>/dev/null || true
	unset 'pids[-1]'
	# The receiver's line is what arrived; the sender's counts retries.
	tcp=$(awk '/receiver$/ { for (i = 1; i < NF; i++)
		if ($(i + 1) == "Gbits/sec") g = $i }
	    / sender$/ { r = $(NF - 1) }
	    END { if (g == "") exit 1; print g, r }' "$out") || {
		echo "$prog: no iperf3 summary over $1:" >&2
		cat "$out" >&2
		return 1
	}
}

# udp_pps LABEL ADDR: udp="frames/s lost%" of 64-byte frames (22 bytes
# of UDP payload) sent as fast as iperf3 can, as received.
udp_pps() {
	local log=$tmp/iperf3u-$1.log out=$tmp/iperf3u-$1.out _
	start "$log" ip netns exec "$nb" iperf3 -s -1 -B "$2" -p 5202
	for _ in $(seq 50); do
		ip netns exec "$nb" ss -Hltn "sport = :5202" | grep -q . && break
		sleep 0.1
	done
	if ! timeout $((TIME + 20)) ip netns exec "$na" iperf3 -c "$2" \
	    -p 5202 -u -b 0 -l 22 -t "$TIME" -f g >"$out" 2>&1; then
		echo "$prog: iperf3 -u over $1 failed:" >&2
		cat "$out" "$log" >&2
		return 1
	fi
	wait "${pids[-1]}" 2>/dev/null || true
	unset 'pids[-1]'
	# "... 0.00-3.00 sec ... lost/total (pct%)  receiver"
	udp=$(awk -v t="$TIME" '/receiver$/ { split($(NF - 2), a, "/")
		l = $(NF - 1); gsub(/[()%]/, "", l)
		printf "%d %s\n", (a[2] - a[1]) / t, l }' "$out")
	[ -n "$udp" ] || { cat "$out" >&2; return 1; }
}

# bells: "rung quiet" doorbell totals of the bridge (all slots, from its
# status file), then "rung" of mqnic A (its counters line, on SIGUSR1).
bells() {
	local _ n
	rm -f "$tmp/status"
	kill -USR1 "$bridge_pid"
	for _ in $(seq 50); do
		[ -s "$tmp/status" ] && break
		sleep 0.1
	done
	awk '$1 == "slot" { for (i = 3; i < NF; i += 2) {
		if ($i == "bells") b += $(i + 1)
		if ($i == "bells_quiet") q += $(i + 1) } }
	    END { printf "%d %d", b, q }' "$tmp/status"
	n=$(grep -c 'counters: ' "$tmp/mqnic-mqa.log" || true)
	kill -USR1 "${cpu_pids[1]}"
	for _ in $(seq 50); do
		[ "$(grep -c 'counters: ' "$tmp/mqnic-mqa.log")" -gt "$n" ] && break
		sleep 0.1
	done
	grep 'counters: ' "$tmp/mqnic-mqa.log" | tail -n1 |
	    sed -n 's/.*; doorbells \([0-9]*\) .*/ \1/p'
}

# cpu_ticks PID: utime + stime so far.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# rx_bytes NS DEV: bytes the device received.
rx_bytes() {
	ip netns exec "$1" cat "/sys/class/net/$2/statistics/rx_bytes"
}

measure() {	# LABEL ADDR
	local rtt line tcp1 t0 t1 b0 b1 i hz addr=$2 d0 q0 n0 d1 q1 n1
	rtt=$(ping_rtt "$na" "$2") && [ -n "$rtt" ] || {
		echo "$prog: ping over $1 failed" >&2
		return 1
	}
	if [ "$1" = bridge ]; then
		for i in "${!cpu_pids[@]}"; do
			t0[i]=$(cpu_ticks "${cpu_pids[i]}")
		done
		b0=$(rx_bytes "$nb" mqb)
		read -r d0 q0 n0 <<<"$(bells)"
	fi
	tcp_gbps "$1" "$2" || return 1
	tcp1=$tcp
	tcp_gbps "$1-4" "$2" -P 4 || return 1
	set -- "$1" $rtt $tcp1 $tcp
	line="net=$1 ping_min_ms=$2 ping_avg_ms=$3 ping_p50_ms=$4"
	line="$line ping_p99_ms=$5 tcp_gbps=$6 retr=$7 tcp4_gbps=$8 retr4=$9"
	if [ "$1" = bridge ]; then
		b1=$(rx_bytes "$nb" mqb)
		read -r d1 q1 n1 <<<"$(bells)"
		line="$line $(awk -v d=$((d1 - d0)) -v q=$((q1 - q0)) \
		    -v n=$((n1 - n0)) -v b=$((b1 - b0)) 'BEGIN { mb = b / 1e6
		    printf "bells_per_mb_bridge=%.2f quiet_per_mb_bridge=%.2f " \
		    "bells_per_mb_mqa=%.2f", d / mb, q / mb, n / mb }')"
		hz=$(getconf CLK_TCK)
		for i in "${!cpu_pids[@]}"; do
			t1=$(cpu_ticks "${cpu_pids[i]}")
			line="$line cpu_s_per_gb_${cpu_names[i]}=$(awk -v t=$((t1 - t0[i])) \
			    -v hz="$hz" -v b=$((b1 - b0)) \
			    'BEGIN { printf "%.2f", t / hz / (b / 1e9) }')"
		done
	fi
	udp_pps "$1" "$addr" || return 1
	line="$line udp64_pps=${udp% *} udp64_loss_pct=${udp#* }"
	if [ "$1" = bridge ]; then
		line="$line tx_dropped=$(ip netns exec "$na" \
		    cat /sys/class/net/mqa/statistics/tx_dropped)"
		line="$line $(bridge_drops)"
	fi
	echo "$line"
}

# The bridge's drop counters so far, from its --status file.
bridge_drops() {
	local _
	rm -f "$tmp/status"
	kill -USR1 "$bridge_pid"
	for _ in $(seq 50); do
		[ -s "$tmp/status" ] && break
		sleep 0.1
	done
	awk '$1 == "drop" { printf "drop_%s=%s ", $2, $3 }
	    $1 == "total" { for (i = 2; i < NF; i += 2) if ($i == "drops")
		d = $(i + 1) } END { printf "drops=%s", d }' "$tmp/status"
}

setup_ns() {
	local n
	for n in "$na" "$nb"; do
		ip netns add "$n"
		ip -n "$n" link set lo up
	done
	ip -n "$na" link add veth-a type veth peer name veth-b netns "$nb"
	ip -n "$na" addr add 10.77.1.1/24 dev veth-a
	ip -n "$nb" addr add 10.77.1.2/24 dev veth-b
	ip -n "$na" link set veth-a up
	ip -n "$nb" link set veth-b up
}

# nic NS TAP MAC ADDR: an endpoint inside NS, its TAP given ADDR.
nic() {
	local log=$tmp/mqnic-$2.log
	start "$log" ip netns exec "$1" "$mqnic" -p "$tmp/sock" --mac "$3" \
	    --tap "$2" -w 10 ${NIC_ARGS:-}
	cpu_pids+=("${pids[-1]}")
	cpu_names+=("$2")
	await "$log" "mqnic ready" "mqnic in $1" || return 1
	ip -n "$1" addr add "$4" dev "$2"
	ip -n "$1" link set "$2" up
}

setup_bridge() {
	start "$tmp/server.log" "$server" -f "$tmp/region" -m 4M \
	    -p "$tmp/sock"
	await "$tmp/server.log" "listening on" "tm_ivshmem_server" || return 1
	start "$tmp/bridge.log" "$bridge" -p "$tmp/sock" \
	    --status "$tmp/status" ${BRIDGE_ARGS:-}
	bridge_pid=${pids[-1]}
	cpu_pids=("$bridge_pid")
	cpu_names=(bridge)
	await "$tmp/bridge.log" "bridge ready" "mqbridge" || return 1
	nic "$na" mqa 02:77:00:00:00:01 10.77.0.1/24 || return 1
	nic "$nb" mqb 02:77:00:00:00:02 10.77.0.2/24
}

bridge_missing() {
	local f
	if ! ${MAKE:-make} -s O="$O" bench-net-progs >"$tmp/make.log" 2>&1
	then
		cat "$tmp/make.log" >&2
		echo "mqbridge or mqnic does not build (make bench-net-progs)"
		return 0
	fi
	for f in "$server" "$bridge" "$mqnic"; do
		[ -x "$f" ] || { echo "$f is not built"; return 0; }
	done
	return 1
}

setup_ns
measure veth 10.77.1.2
if why=$(bridge_missing); then
	echo "$prog: skipping the bridge path: $why (make builds it once" \
	    "mqbridge/bridge/mqbridge.c and mqbridge/nic/mqnic.c exist)" >&2
	echo "net=bridge skipped=\"$why\""
	exit 0
fi
setup_bridge
measure bridge 10.77.0.2
