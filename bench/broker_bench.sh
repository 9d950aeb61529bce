#!/usr/bin/env bash
# bench/broker_bench.sh - mqbridge through a real ActiveMQ, each figure
# beside a baseline taken in the same run:
#
#  1. frames/s from a slot's TX ring into the broker, fast and persistent,
#     64 and 1500 B, without and with --aggregate, against ActiveMQ's own
#     producer tool (activemq.jar producer) at the same size and mode;
#  2. ping RTT (p50, p99) and TCP (iperf3) between two namespaces on two
#     "hosts" (servers and bridges) through the broker, beside the local
#     switch and a veth pair.
#
#   bash bench/broker_bench.sh            (as root; bench/run calls it)
#   O=build N_FAST=20000 N_PERSIST=5000 PINGS=200 TIME=3 bash bench/broker_bench.sh
#
# Each measurement gets a fresh broker (tests/lib/activemq.bash) in a
# temporary directory, so that queued messages of one do not slow the
# next.  Only loopback and namespaces of its own carry traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

O=${O:-build}
N_FAST=${N_FAST:-20000}
N_PERSIST=${N_PERSIST:-5000}
PINGS=${PINGS:-200}
TIME=${TIME:-3}
AGG=${AGG:-32}
prog=bench/broker_bench.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "$prog: needs root (namespaces, the relay's privilege drop)" >&2
	exit 1
fi
for c in ip ping iperf3 java python3; do
	command -v "$c" >/dev/null ||
		{ echo "$prog: $c is missing; run bash tests/deps.sh" >&2; exit 1; }
done
server=$top/$O/bin/tm_ivshmem_server
bridge=$top/$O/bin/mqbridge
mqnic=$top/$O/bin/mqnic
mqpeer=$top/$O/tests/mqpeer
for p in "$server" "$bridge" "$mqnic" "$mqpeer" "$top/$O/bin/mqrelay"; do
	[ -x "$p" ] || { echo "$prog: $p missing; run make all test-progs" >&2; exit 1; }
done

# shellcheck source=tests/lib/activemq.bash
. tests/lib/activemq.bash
amq_install >/dev/null

tmp=$(mktemp -d /tmp/tm-brokerbench.XXXXXX)
export AMQ_REGISTRY=$tmp/registry
pids=()
nss=()

cleanup() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	amq_kill_all >/dev/null 2>&1 || true
	for i in "${nss[@]}"; do ip netns del "$i" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 3>&- &
	pids+=($!)
}

await() {
	local file=$1 pat=$2 secs=${3:-20} i
	for ((i = 0; i < secs * 20; i++)); do
		grep -q -- "$pat" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "$prog: $file never showed \"$pat\":" >&2
	tail -n 20 "$file" >&2
	return 1
}

# broker NAME: a fresh broker (a new directory each time: an empty
# store); its directory in $BDIR, its ports in $OW, $STOMP.
nbroker=0
broker() {
	nbroker=$((nbroker + 1))
	BDIR=$tmp/$1$nbroker
	amq_start "$BDIR" "$1" >/dev/null || return 1
	OW=$(amq_get "$BDIR" ow_port)
	STOMP=$(amq_get "$BDIR" stomp_port)
}

# host NAME BRIDGE-ARGS...: server and bridge; waits for the broker.
host() {
	local h=$1
	shift
	start "$tmp/$h.server.log" "$server" -p "$tmp/$h.sock" \
		-f "$tmp/$h.region" -m 64M
	await "$tmp/$h.server.log" "listening on"
	start "$tmp/$h.bridge.log" "$bridge" -p "$tmp/$h.sock" \
		--status "$tmp/$h.status" "$@"
	eval "BPID_$h=\${pids[-1]}"
	await "$tmp/$h.bridge.log" "connected ("
}

# relay_field HOST FIELD: from a fresh status file.
relay_field() {
	kill -USR1 "$(eval echo "\$BPID_$1")"
	sleep 0.02
	awk -v f="$2" '$1 == "relay" { for (i = 2; i < NF; i += 2)
		if ($i == f) print $(i + 1) }' "$tmp/$1.status"
}

stop_all() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	pids=()
	rm -f "$tmp"/*.sock "$tmp"/*.region
	amq_kill_all >/dev/null 2>&1 || true
	: >"$AMQ_REGISTRY"
}

# slot_rate MODE SIZE N [ARGS]: frames/s from mqpeer's TX ring until the
# relay has sent them all (and, persistent, has every receipt).
# ticks PID...: CPU time (user + system, clock ticks) of the processes.
ticks() {
	local p t=0
	for p in "$@"; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null ||
			echo 0)))
	done
	echo "$t"
}

slot_rate() {
	local mode=$1 size=$2 n=$3 t0 t1 sent left i ours theirs c0 b0
	shift 3
	broker b
	# Rings of 4096: the broker takes frames in bursts, and a full ring
	# makes the source wait for the bridge's doorbell for room.
	host A --broker "stomp://127.0.0.1:$STOMP" --prefix bench --ring 4096 \
		--full-wait 60000 ${mode:+--persistent} "$@"
	ours="$BPID_A $(pgrep -P "$BPID_A" mqrelay)"
	theirs=$(amq_get "$BDIR" pid)
	# shellcheck disable=SC2086
	c0=$(ticks $ours)
	b0=$(ticks "$theirs")
	t0=$(date +%s.%N)
	start "$tmp/peer.log" "$mqpeer" -p "$tmp/A.sock" --mac 02:00:00:00:00:0a \
		-w 600 run send 02:00:00:00:00:ff "$n" "$size" hold
	for ((i = 0; i < 4000; i++)); do
		sent=$(relay_field A sent_frames)
		left=$(relay_field A unreceipted)
		[ "${sent:-0}" -ge "$n" ] && [ "${left:-1}" -eq 0 ] && break
		sleep 0.03
	done
	t1=$(date +%s.%N)
	# shellcheck disable=SC2086
	CPU="$(($(ticks $ours) - c0))/$(($(ticks "$theirs") - b0))"
	stop_all
	[ "${sent:-0}" -ge "$n" ] ||
		{ echo "$prog: only $sent of $n frames reached the broker" >&2; return 1; }
	RATE=$(awk -v n="$n" -v a="$t0" -v b="$t1" \
		'BEGIN { printf "%.0f", n / (b - a) }')
}

# tool_rate PERSISTENT SIZE N: ActiveMQ's producer tool, msg/s.
tool_rate() {
	local ms
	broker t
	ms=$(java --add-reads=java.xml=java.logging \
		--add-opens java.base/java.lang=ALL-UNNAMED \
		-Dactivemq.home=/usr/share/activemq -Dactivemq.base="$BDIR" \
		-Dactivemq.conf="$BDIR/conf" -Dactivemq.classpath="$BDIR/conf" \
		-jar /usr/share/activemq/bin/activemq.jar producer \
		--brokerUrl "tcp://127.0.0.1:$OW" --destination queue://benchtool \
		--messageCount "$3" --messageSize "$2" --persistent "$1" 2>&1 |
		sed -n 's/.*Elapsed time in milli second : \([0-9]*\).*/\1/p' |
		tail -n1)
	stop_all
	[ -n "$ms" ] || { echo "$prog: the producer tool printed no time" >&2; return 1; }
	awk -v n="$3" -v ms="$ms" 'BEGIN { printf "%.0f", n * 1000 / ms }'
}

echo "## Frames/s from a slot's TX ring into ActiveMQ (same run: its producer tool)"
echo
echo "| mode | size | mqbridge | mqbridge --aggregate $AGG | activemq.jar producer | ratio | ratio aggregated | CPU ticks bridge+relay / broker |"
echo "|---|---|---|---|---|---|---|---|"
for mode in fast persistent; do
	n=$N_FAST p=false m=
	[ $mode = persistent ] && n=$N_PERSIST p=true m=1
	for size in 64 1500; do
		tool=$(tool_rate $p $size "$n")
		slot_rate "$m" $size "$n"
		plain=$RATE cpu=$CPU
		# Ten times the frames: packs go fast, and the relay reports
		# its counters only ten times a second.
		# (Not 1500 B fast: a test broker keeps 64 MB of messages
		# no one consumes, then holds its producers.)
		k=10
		[ $mode = fast ] && [ $size = 1500 ] && k=1
		slot_rate "$m" $size $((n * k)) --aggregate "$AGG" --linger 2000
		agg=$RATE
		echo "| $mode | $size B | $plain | $agg | $tool |" \
		    "$(awk -v a="$plain" -v b="$tool" 'BEGIN { printf "%.2f", a / b }') |" \
		    "$(awk -v a="$agg" -v b="$tool" 'BEGIN { printf "%.1f", a / b }') |" \
		    "$cpu |"
	done
done
echo
echo "Frames of the stated size from mqpeer to a MAC on no slot, $N_FAST (fast)"
echo "or $N_PERSIST (persistent) per run (ten times that with --aggregate,"
echo "but for 1500 B fast), until the relay sent them all (and had"
echo "every receipt); prefetch and window at their defaults, rings of 4096"
echo "descriptors, region 64 MiB (a source with a full ring waits for a doorbell for room),"
echo "--full-wait 60000 (the source waits for the broker, never dropped)."
echo

# ---- RTT and TCP -------------------------------------------------------

netns() {
	local ns=tm-bb-$1-$$
	ip netns add "$ns"
	nss+=("$ns")
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	echo "$ns"
}

# nic NAME HOST NS MAC ADDR
nic() {
	start "$tmp/$1.log" ip netns exec "$3" "$mqnic" -p "$tmp/$2.sock" \
		--mac "$4" --tap mq0
	await "$tmp/$1.log" "mqnic ready"
	ip -n "$3" addr add "$5" dev mq0
	ip -n "$3" link set mq0 up
	sleep 1.2	# the kernel's link watch: carrier up
}

# rtt NS ADDR: "p50 p99" in ms over PINGS pings.
rtt() {
	ip netns exec "$1" ping -q -c 3 -i 0.2 -W 2 "$2" >/dev/null
	ip netns exec "$1" ping -c "$PINGS" -i 0.01 -W 2 "$2" |
		sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -g |
		awk '{ v[NR] = $1 } END { printf "%.3f %.3f", v[int(NR * 0.5 + 0.5)],
			v[int(NR * 0.99 + 0.5)] }'
}

# tcp SRC_NS DST_NS ADDR: Gbit/s received.
tcp() {
	start "$tmp/iperf.log" ip netns exec "$2" iperf3 -s -1 -B "$3"
	sleep 0.5
	timeout $((TIME + 30)) ip netns exec "$1" iperf3 -c "$3" -t "$TIME" \
		-O 1 -f g 2>&1 | awk '/receiver$/ { for (i = 1; i < NF; i++)
		if ($(i + 1) == "Gbits/sec") g = $i } END { print g + 0 }'
}

echo "## Two namespaces: through the broker, the local switch and a veth pair (same run)"
echo
echo "| path | ping p50 | ping p99 | TCP |"
echo "|---|---|---|---|"
broker b
host A --broker "stomp://127.0.0.1:$STOMP" --prefix benchnet
host B --broker "stomp://127.0.0.1:$STOMP" --prefix benchnet
na=$(netns a)
nb=$(netns b)
nc=$(netns c)
nic a A "$na" 02:00:00:00:00:0a 10.78.0.1/24
nic b B "$nb" 02:00:00:00:00:0b 10.78.0.2/24
nic c A "$nc" 02:00:00:00:00:0c 10.78.0.3/24
read -r p50 p99 <<<"$(python3 bench/stomp_rtt.py "$STOMP" "$PINGS")"
echo "| ActiveMQ alone: one message to a queue and back to its consumer (a ping crosses twice) | $p50 ms | $p99 ms | |"
read -r p50 p99 <<<"$(rtt "$na" 10.78.0.2)"
g=$(tcp "$na" "$nb" 10.78.0.2)
echo "| through ActiveMQ (two bridges, fast mode) | $p50 ms | $p99 ms | $g Gbit/s |"
read -r p50 p99 <<<"$(rtt "$na" 10.78.0.3)"
g=$(tcp "$na" "$nc" 10.78.0.3)
echo "| local switch (one bridge) | $p50 ms | $p99 ms | $g Gbit/s |"
ip link add tm-bbv-a-$$ netns "$na" type veth peer name tm-bbv-b-$$ netns "$nb"
ip -n "$na" addr add 10.79.0.1/24 dev tm-bbv-a-$$
ip -n "$nb" addr add 10.79.0.2/24 dev tm-bbv-b-$$
ip -n "$na" link set tm-bbv-a-$$ up
ip -n "$nb" link set tm-bbv-b-$$ up
read -r p50 p99 <<<"$(rtt "$na" 10.79.0.2)"
g=$(tcp "$na" "$nb" 10.79.0.2)
echo "| veth pair | $p50 ms | $p99 ms | $g Gbit/s |"
echo
echo "$PINGS pings 10 ms apart; iperf3 one stream, $TIME s after 1 s omitted."
