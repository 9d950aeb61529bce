#!/usr/bin/env bash
# bench/scale_drill.sh - many endpoints across two hosts, simulated on one
# machine: N mqnic endpoints per host (each in its own namespace), every
# one pinging a random endpoint on the other host through the brokers for
# SECONDS.  Each host has its own broker (the two joined by a duplex
# network connector), server and bridge.
#
#   bash bench/scale_drill.sh [N [SECONDS]]      (as root; 32 and 60)
#   bash bench/scale_drill.sh grow [SECONDS]     4, 8, 16, 32 per host
#
# Prints a report: endpoints that got replies, ping RTT percentiles, the
# bridges' CPU, the messages per second the brokers carried.  Exit 1 if
# an endpoint got no reply.  tests/drills.bats runs it with 32 per host.
set -uo pipefail	# no -e: tests/lib/activemq.bash is not written for it
cd "$(dirname "$0")/.."
top=$PWD
O=${O:-build}
prog=bench/scale_drill.sh

[ "$(id -u)" -eq 0 ] || { echo "$prog: needs root" >&2; exit 1; }
# shellcheck source=tests/lib/activemq.bash
. tests/lib/activemq.bash

pids=()
nss=()
SD=

cleanup() {
	local k
	for ((k = ${#pids[@]} - 1; k >= 0; k--)); do
		kill -TERM "${pids[k]}" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ -n "$SD" ] && AMQ_REGISTRY=$SD/registry amq_kill_all >/dev/null 2>&1
	for k in "${nss[@]}"; do ip netns del "$k" 2>/dev/null || true; done
	[ -n "$SD" ] && rm -rf "$SD"
	pids=() nss=() SD=
}
trap cleanup EXIT

run_one() {		# N SECONDS
	local n=$1 secs=$2 h i j ns c0 c1 m0 m1 rc=0
	SD=$(mktemp -d /tmp/tm-scale.XXXXXX)
	export AMQ_REGISTRY=$SD/registry
	amq_start "$SD/b1" s1 >/dev/null || return 1
	amq_start "$SD/b2" s2 --network "$(amq_get "$SD/b1" ow_port)" \
		--duplex >/dev/null || return 1
	for h in 1 2; do
		"$top/$O/bin/tm_ivshmem_server" -f "$SD/r$h" -m 64M -p "$SD/s$h" \
			>"$SD/server$h.log" 2>&1 &
		pids+=($!)
		for _ in $(seq 100); do [ -S "$SD/s$h" ] && break; sleep 0.05; done
		"$top/$O/bin/mqbridge" -p "$SD/s$h" --slots $((n + 1)) \
			--status "$SD/st$h" --prefix scale \
			--broker "stomp://127.0.0.1:$(amq_get "$SD/b$h" stomp_port)" \
			>"$SD/bridge$h.log" 2>&1 &
		pids+=($!)
		eval "bridge$h=\$!"
		for _ in $(seq 200); do
			grep -qs 'connected (' "$SD/bridge$h.log" && break
			sleep 0.05
		done
	done
	for h in 1 2; do
		for ((i = 1; i <= n; i++)); do
			ns=tm-sc$$-$h-$i
			ip netns add "$ns"
			nss+=("$ns")
			ip -n "$ns" link set lo up
			ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
			ip netns exec "$ns" "$top/$O/bin/mqnic" -p "$SD/s$h" \
				--mac "$(printf '02:00:00:0%d:00:%02x' "$h" "$i")" \
				--tap mq0 >"$SD/nic$h-$i.log" 2>&1 &
			pids+=($!)
		done
	done
	for h in 1 2; do
		for ((i = 1; i <= n; i++)); do
			ns=tm-sc$$-$h-$i
			for _ in $(seq 200); do
				grep -qs "mqnic ready" "$SD/nic$h-$i.log" && break
				sleep 0.05
			done
			ip -n "$ns" addr add "10.80.$h.$i/16" dev mq0
			ip -n "$ns" link set mq0 up
		done
	done
	sleep 2
	# shellcheck disable=SC2154
	c0=$(awk '{ print $14 + $15 }' "/proc/$bridge1/stat" "/proc/$bridge2/stat" \
		"/proc/$(pgrep -P "$bridge1" mqrelay)/stat" \
		"/proc/$(pgrep -P "$bridge2" mqrelay)/stat" | paste -sd+ | bc)
	m0=$(( $(msgs 1 "$SD") + $(msgs 2 "$SD") ))
	for h in 1 2; do
		for ((i = 1; i <= n; i++)); do
			j=$((RANDOM % n + 1))
			ip netns exec "tm-sc$$-$h-$i" ping -i 0.2 -w "$secs" -W 5 \
				"10.80.$((3 - h)).$j" >"$SD/ping$h-$i.out" 2>&1 &
		done
	done
	wait_pings "$SD" "$n"
	c1=$(awk '{ print $14 + $15 }' "/proc/$bridge1/stat" "/proc/$bridge2/stat" \
		"/proc/$(pgrep -P "$bridge1" mqrelay)/stat" \
		"/proc/$(pgrep -P "$bridge2" mqrelay)/stat" | paste -sd+ | bc)
	m1=$(( $(msgs 1 "$SD") + $(msgs 2 "$SD") ))
	report "$SD" "$n" "$secs" "$((c1 - c0))" "$((m1 - m0))" || rc=1
	cleanup
	return "$rc"
}

# msgs HOST DIR: messages the relay sent and received so far.
msgs() {
	eval "kill -USR1 \$bridge$1"
	sleep 0.3
	awk '$1 == "relay" { for (i = 2; i < NF; i += 2)
		if ($i == "sent_messages" || $i == "recv_messages") s += $(i + 1) }
		END { print s + 0 }' "$2/st$1"
}

wait_pings() {
	local SD=$1 n=$2 left
	while :; do
		left=$(pgrep -f "ping -i 0.2 -w" | wc -l)
		[ "$left" -eq 0 ] && return
		sleep 1
	done
}

report() {
	local SD=$1 n=$2 secs=$3 ticks=$4 msgs=$5 silent=0 f hz
	hz=$(getconf CLK_TCK)
	for f in "$SD"/ping*.out; do
		grep -qs ' 0 received' "$f" && silent=$((silent + 1))
	done
	sed -n 's/.*time=\([0-9.]*\) ms/\1/p' "$SD"/ping*.out | sort -g >"$SD/rtts"
	awk -v n="$n" -v secs="$secs" -v silent="$silent" -v ticks="$ticks" \
	    -v hz="$hz" -v msgs="$msgs" '
		{ v[NR] = $1 }
		END {
			printf "| %d | %d s | %d of %d | %d | %.2f ms | %.2f ms | %.2f ms | %.0f%% | %.0f |\n",
			    2 * n, secs, 2 * n - silent, 2 * n, NR,
			    v[int(NR * 0.5 + 0.5)], v[int(NR * 0.9 + 0.5)],
			    v[int(NR * 0.99 + 0.5)], 100 * ticks / hz / secs,
			    msgs / secs
		}' "$SD/rtts"
	[ "$silent" -eq 0 ]
}

header() {
	echo "| endpoints | time | got replies | pings | RTT p50 | p90 | p99 | bridges+relays CPU | broker msgs/s |"
	echo "|---|---|---|---|---|---|---|---|---|"
}

if [ "${1:-}" = grow ]; then
	header
	for n in 4 8 16 32; do run_one "$n" "${2:-30}"; done
else
	header
	run_one "${1:-32}" "${2:-60}"
fi
