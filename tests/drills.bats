#!/usr/bin/env bats
# tests/drills.bats - failure drills across hosts, each ending with: the
# data and the counted frames are all there.  Hosts are servers with
# their bridges on one machine; brokers are real ActiveMQ, one per host
# where a drill needs a network of brokers.  The long drills run in the
# normal build only (the ASan build runs the same code in shorter suites).

load lib/helpers
load lib/mqbridge_helpers
load lib/relay_helpers
load lib/broker_helpers

setup_file() { relay_file_setup; }
teardown_file() { relay_file_teardown; }

setup() {
	mqb_setup
	relay_setup
}

teardown() {
	exec 4>&- 2>/dev/null
	mqb_teardown
}

normal_only() {
	[ "${TM_FLAVOUR:-normal}" = normal ] ||
		skip "a long drill: the normal build runs it"
}

# count_arrived FILE N SECONDS: until N distinct numbered frames arrived.
count_arrived() {
	local i got
	for ((i = 0; i < $3 * 5; i++)); do
		got=$(seqs_distinct "$1")
		[ "$got" -ge "$2" ] && return 0
		sleep 0.2
	done
	echo "# $got of $2 distinct frames arrived in $3 s" >&2
	return 1
}

@test "drill: kill -9 of a bridge during a TCP transfer across hosts; the transfer completes" {
	need_mqnic
	need_net
	normal_only
	host A
	host B
	nsa=$(netns a)
	nsb=$(netns b)
	quiet_ns "$nsa" "$nsb"
	host_nic nica A "$nsa" "$MAC_A" 10.77.0.1/24
	host_nic nicb B "$nsb" "$MAC_B" 10.77.0.2/24
	wait_sysnet_up "$nsa"
	wait_sysnet_up "$nsb"
	ip netns exec "$nsa" ping -c 2 -W 5 10.77.0.2
	bg iperfs ip netns exec "$nsb" iperf3 -s -1 -B 10.77.0.2
	sleep 0.5
	bg iperfc ip netns exec "$nsa" iperf3 -c 10.77.0.2 -t 8 -f m
	client=$BG_PID
	sleep 3
	host_stop A KILL
	host A
	wait "$client"
	cat "$T/iperfc.out"
	grep -Eq '[0-9.]+ Mbits/sec .*receiver' "$T/iperfc.out"
}

@test "drill: a broker of two stops mid-stream; its bridge fails over, loses nothing, and comes home when it is back" {
	normal_only
	local n=3000
	amq_start "$T/ba" ba
	amq_start "$T/bb" bb --network "$(amq_get "$T/ba" ow_port)" --duplex
	pa=$(amq_get "$T/ba" stomp_port)
	pb=$(amq_get "$T/bb" stomp_port)
	host A --persistent --broker "stomp://127.0.0.1:$pa" \
		--broker "stomp://127.0.0.1:$pb"
	host B --persistent --broker "stomp://127.0.0.1:$pb" \
		--broker "stomp://127.0.0.1:$pa"
	host_peer pb B "$MAC_B" -w 300 run hold
	running pb
	sleep 1		# the queue's demand reaches the other broker
	host_peer pa A "$MAC_A" -w 300 run send "$MAC_B" "$n" hold
	wait_count "$T/pb.out" '^rx ' $((n / 4)) 120
	amq_stop "$T/ba"
	wait_for "$T/A.bridge.log" "broker stomp://127.0.0.1:$pb: connected" 30
	# Frames broker A had receipted but not yet passed on wait in its
	# store until it is back: a network of brokers loses none either.
	sleep 5
	amq_start "$T/ba"
	count_arrived "$T/pb.out" "$n" 180
	# The bridge goes home, the brokers' network heals, and frames
	# flow through the home broker again.
	wait_for "$T/A.bridge.log" "stomp://127.0.0.1:$pa answers again" 30
	wait_count "$T/A.bridge.log" "broker stomp://127.0.0.1:$pa: connected" 2 30
	host_peer pa2 A "$MAC_C" -w 120 run send "$MAC_B" 100 hold
	wait_count "$T/pb.out" "^rx src $MAC_C" 100 60
	total=$(seqs_total "$T/pb.out")
	echo "# duplicates: $((total - n - 100))"
	amq_stop "$T/bb"
	amq_stop "$T/ba"
}

@test "drill: a VM moves between hosts mid-stream; every frame reaches it on the new host" {
	normal_only
	local n=2000
	host A --persistent
	host B --persistent
	host C --persistent
	# The VM (an endpoint with MAC_D) starts on host A; host C sends to it.
	host_peer vm1 A "$MAC_D" -w 300 run hold
	running vm1 || { cat "$T/vm1.err" "$T/A.bridge.log"; false; }
	host_peer src C "$MAC_C" -w 300 run send "$MAC_D" "$n" hold
	wait_count "$T/vm1.out" '^rx ' $((n / 4)) 120
	# It stops on host A (its slot released, as QEMU's device goes)...
	pkill -TERM -f "mqpeer -p $T/A.sock --mac $MAC_D" || true
	wait_for "$T/A.bridge.log" "slot 0\.[0-9]+: released by its owner" 10
	sleep 1
	# ...and starts on host B with the same MAC.
	host_peer vm2 B "$MAC_D" -w 300 run hold
	got=0
	for ((i = 0; i < 600; i++)); do
		got=$(cat "$T/vm1.out" "$T/vm2.out" | seqs_distinct /dev/stdin)
		[ "$got" -ge "$n" ] && break
		sleep 0.2
	done
	echo "# $got of $n frames: $(seqs_total "$T/vm1.out") on host A, $(seqs_total "$T/vm2.out") on host B"
	[ "$got" -eq "$n" ]
	[ "$(seqs_total "$T/vm2.out")" -gt 0 ]
	# What host A had placed in the ring and the VM never read went back
	# to the broker with the MAC.
	grep -Eq "frames its owner left unread go back to the broker" "$T/A.bridge.log" ||
		echo "# (the VM had read every frame on host A)"
	# Host A let go of the MAC: no bridge saw another serve it.
	absent "MAC CONFLICT" "$T/A.bridge.log"
	absent "MAC CONFLICT" "$T/B.bridge.log"
}

@test "drill: 32 endpoints per host ping endpoints on the other host through two networked brokers; every one gets replies" {
	normal_only
	need_mqnic
	need_net
	local rel=${TM_BUILD#"$TM_TOP"/}
	[ "$rel" != "$TM_BUILD" ] || skip "TM_BUILD outside the checkout"
	run env O="$rel" bash "$TM_TOP/bench/scale_drill.sh" 32 60
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[[ $output =~ \|\ 64\ \|\ 60\ s\ \|\ 64\ of\ 64\ \| ]]
}

@test "drill: a guest scribbles over its own slot during counted traffic; only its slot is reset, every frame arrives" {
	normal_only
	need_mqnic
	need_net
	local n=3000 sc nsc line bad=0
	host A --persistent
	host B --persistent
	host_peer dst B "$MAC_B" -w 300 run hold
	running dst
	host_peer loc A "$MAC_D" -w 300 run hold
	running loc
	nsc=$(netns c)
	quiet_ns "$nsc"
	host_nic bad A "$nsc" "$MAC_C" 10.77.0.3/24
	sc=$(slot_of bad)
	sleep 1		# the queue's demand reaches the broker
	host_peer src A "$MAC_A" -w 300 run send "$MAC_B" "$n" send "$MAC_D" "$n" hold
	wait_count "$T/dst.out" '^rx ' $((n / 10)) 60
	# 3 s of garbage in the guest's own rings while the stream runs.
	"$SCRIBBLE" "$T/A.region" 0 "$sc" storm 3
	count_arrived "$T/dst.out" "$n" 120
	count_arrived "$T/loc.out" "$n" 60
	# The guest's slot was reset, and no other: every line the bridge
	# logged about a reset, a repair or garbage names the guest's slot.
	grep -Eq "slot (0\.)?$sc\b.*(reset|repair)" "$T/A.bridge.log"
	while read -r line; do
		grep -Eo 'slot (0\.)?[0-9]+' <<<"$line" | grep -Evq "^slot (0\.)?$sc\$" ||
			continue
		echo "# another slot was touched: $line" >&2
		bad=1
	done < <(grep -E "reset|repair|corrupt|garbage" "$T/A.bridge.log" || true)
	[ "$bad" -eq 0 ]
	kill -USR1 "$HOST_PID_A"
	sleep 0.3
	awk -v s="0.$sc" '$1 == "slot" && $2 != s {
		for (i = 3; i < NF; i += 2) if ($i == "resets" && $(i + 1) != 0) {
			print "# " $0; bad = 1 } } END { exit bad }' "$T/A.status"
	# And the guest's slot runs again.
	wait_for "$T/A.bridge.log" "slot 0\.$sc: running" 10
	[ "$(host_slot_field A "$MAC_C" state)" = run ]
}
