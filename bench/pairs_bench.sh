#!/usr/bin/env bash
# bench/pairs_bench.sh - PAIRS endpoint pairs at once on one bridge: each
# pair one TCP stream (iperf3) between its two namespaces for TIME
# seconds, all pairs together; then the same number of veth pairs at
# once, in the same run, as the baseline.  Prints per pair Gbit/s, the
# total and Jain's fairness index, (sum x)^2 / (n * sum x^2): 1 when every
# pair gets the same, 1/n when one gets all.
#
#   bash bench/pairs_bench.sh             (as root; 8 pairs, 5 s)
#   O=build PAIRS=4 TIME=10 bash bench/pairs_bench.sh
#
# Output: one line per path, "pairs=veth|bridge n=N total_gbps=... jain=...
# min_gbps=... max_gbps=... retr=...".  Namespaces tm-pb-PID-{a,b}N,
# addresses 10.78.N.0/24 (bridge) and 10.79.N.0/24 (veth) inside them
# only; everything goes on exit.  Exit 1 if a path did not run.
set -euo pipefail
cd "$(dirname "$0")/.."

O=${O:-build}
PAIRS=${PAIRS:-8}
TIME=${TIME:-5}
prog=bench/pairs_bench.sh

case $PAIRS in ''|*[!0-9]*|0)
	echo "$prog: PAIRS=$PAIRS is not a count; give 1 to 100" >&2; exit 1;;
esac
[ "$PAIRS" -le 100 ] ||
	{ echo "$prog: PAIRS=$PAIRS is too many; give 1 to 100" >&2; exit 1; }
case $TIME in ''|*[!0-9]*|0)
	echo "$prog: TIME=$TIME is not a count of seconds; give 1 or more" >&2
	exit 1;;
esac
[ "$(id -u)" -eq 0 ] ||
	{ echo "$prog: needs root for network namespaces; run it as root" >&2; exit 1; }
for c in ip iperf3 ss timeout; do
	command -v "$c" >/dev/null ||
		{ echo "$prog: $c is missing; run bash tests/deps.sh" >&2; exit 1; }
done
${MAKE:-make} -s O="$O" bench-net-progs

tmp=$(mktemp -d /tmp/tm-pairs.XXXXXX)
pre=tm-pb-$$
pids=()

cleanup() {
	local i n
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	for n in $(ip netns list | awk -v p="$pre-" 'index($1, p) == 1 { print $1 }'); do
		ip netns del "$n" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	pids+=($!)
}

await() {	# LOG PATTERN WHAT
	local _
	for _ in $(seq 100); do
		grep -q -- "$2" "$1" && return 0
		sleep 0.1
	done
	echo "$prog: $3 did not log \"$2\" within 10 s:" >&2
	cat "$1" >&2
	return 1
}

ns() {	# NAME: a namespace of ours with lo up
	ip netns add "$pre-$1"
	ip -n "$pre-$1" link set lo up
}

# run_pairs KIND SUBNET: PAIRS iperf3 streams at once, b<i> to a<i> at
# SUBNET.<i>.1; one "Gbit/s retransmits" line per pair in $tmp/KIND.res.
run_pairs() {
	local kind=$1 net=$2 i _ srv=() cli=()
	for ((i = 1; i <= PAIRS; i++)); do
		ip netns exec "$pre-a$i" iperf3 -s -1 -B "$net.$i.1" -p 5201 \
		    >"$tmp/$kind-s$i.log" 2>&1 &
		srv+=($!)
		pids+=($!)
	done
	for ((i = 1; i <= PAIRS; i++)); do
		for _ in $(seq 50); do
			ip netns exec "$pre-a$i" ss -Hltn "sport = :5201" |
			    grep -q . && break
			sleep 0.1
		done
	done
	for ((i = 1; i <= PAIRS; i++)); do
		timeout $((TIME + 30)) ip netns exec "$pre-b$i" iperf3 \
		    -c "$net.$i.1" -p 5201 -t "$TIME" -O 1 -f g \
		    >"$tmp/$kind-c$i.out" 2>&1 &
		cli+=($!)
	done
	for i in "${cli[@]}"; do
		wait "$i" || {
			echo "$prog: an iperf3 client over $kind failed:" >&2
			cat "$tmp/$kind"-c*.out >&2
			return 1
		}
	done
	for ((i = 1; i <= PAIRS; i++)); do
		awk '/receiver$/ { for (i = 1; i < NF; i++)
			if ($(i + 1) == "Gbits/sec") g = $i }
		    / sender$/ { r = $(NF - 1) }
		    END { if (g == "") exit 1; print g, r }' "$tmp/$kind-c$i.out" ||
		    { cat "$tmp/$kind-c$i.out" >&2; return 1; }
	done >"$tmp/$kind.res"
	for i in "${srv[@]}"; do
		wait "$i" 2>/dev/null || true
	done
}

report() {	# KIND
	awk -v k="$1" '{ s += $1; q += $1 * $1; r += $2
		if (NR == 1 || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
	    END { printf "pairs=%s n=%d total_gbps=%.2f jain=%.3f " \
		"min_gbps=%.2f max_gbps=%.2f retr=%d\n", k, NR, s,
		s * s / (NR * q), lo, hi, r }' "$tmp/$1.res"
}

setup_veth() {
	local i
	for ((i = 1; i <= PAIRS; i++)); do
		ns "a$i"
		ns "b$i"
		ip -n "$pre-a$i" link add va type veth peer name vb netns "$pre-b$i"
		ip -n "$pre-a$i" addr add "10.79.$i.1/24" dev va
		ip -n "$pre-b$i" addr add "10.79.$i.2/24" dev vb
		ip -n "$pre-a$i" link set va up
		ip -n "$pre-b$i" link set vb up
	done
}

# nic NS TAP MAC ADDR
nic() {
	start "$tmp/nic-$1.log" ip netns exec "$pre-$1" "$O/bin/mqnic" \
	    -p "$tmp/sock" --mac "$2" --tap mq0 -w 10
	await "$tmp/nic-$1.log" "mqnic ready" "mqnic in $1" || return 1
	ip -n "$pre-$1" addr add "$3" dev mq0
	ip -n "$pre-$1" link set mq0 up
}

setup_bridge() {
	local i
	start "$tmp/server.log" "$O/bin/tm_ivshmem_server" -f "$tmp/region" \
	    -m 64M -p "$tmp/sock"
	await "$tmp/server.log" "listening on" tm_ivshmem_server
	start "$tmp/bridge.log" "$O/bin/mqbridge" -p "$tmp/sock" \
	    --slots $((PAIRS * 2))
	await "$tmp/bridge.log" "bridge ready" mqbridge
	for ((i = 1; i <= PAIRS; i++)); do
		nic "a$i" "$(printf '02:78:00:00:%02x:01' "$i")" "10.78.$i.1/24"
		nic "b$i" "$(printf '02:78:00:00:%02x:02' "$i")" "10.78.$i.2/24"
	done
	# ARP and the links' carrier, before the clock starts.
	for ((i = 1; i <= PAIRS; i++)); do
		ip netns exec "$pre-b$i" ping -q -c 2 -i 0.2 -W 5 "10.78.$i.1" \
		    >/dev/null || { echo "$prog: pair $i does not answer" >&2; return 1; }
	done
}

setup_veth
run_pairs veth 10.79
report veth
setup_bridge
run_pairs bridge 10.78
report bridge
