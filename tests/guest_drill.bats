#!/usr/bin/env bats
# tests/guest_drill.bats - a real Linux guest across two hosts and two
# brokers: the guest (tests/lib/guest_helpers.bash) runs the static
# mqnic --pci on the ivshmem-doorbell device of host A's server; host A's
# bridge relays only through broker A, host B's only through broker B,
# and the brokers are joined by a network connector (a broker per host,
# as users scale out).  An mqnic endpoint in a namespace on host B is the
# guest's peer.  The guest's own console markers are judged, and the
# bridges' counters show that the frames crossed both relays.  The guest
# boots under KVM when it does so in time, under TCG otherwise.  Normal
# build only: the static guest mqnic is never sanitized, and the ASan
# build runs the bridges and relays in tests/broker.bats.  The path the
# guest takes is first checked with a host mqnic in its place, in both
# builds: quick, and it tells a broken network of brokers from a broken
# guest.

load lib/helpers
load lib/mqbridge_helpers
load lib/relay_helpers
load lib/broker_helpers
load lib/guest_helpers

normal_only() {
	[ "${TM_FLAVOUR:-normal}" = normal ] ||
		skip "a long drill: the normal build runs it"
}

# Broker A is the file's broker ($PORT1); broker B ($PORT2) joins it by
# a duplex network connector.  Both live for the whole file.
setup_file() {
	relay_file_setup || return 1
	amq_start "$AMQ_SHARED/b2" b2 --network \
	    "$(amq_get "$AMQ_SHARED/b1" ow_port)" --duplex || return 1
	export PORT2
	PORT2=$(amq_get "$AMQ_SHARED/b2" stomp_port)
}

teardown_file() {
	[ -z "${AMQ_SHARED:-}" ] || relay_file_teardown
}

setup() {
	mqb_setup
	relay_setup
}

teardown() {
	mqb_teardown
}

# two_hosts: hosts A and B, each relaying through its own broker, and the
# mqnic nicb (10.77.0.2, MAC_B) in namespace $nsb on host B.
two_hosts() {
	host A --broker "stomp://127.0.0.1:$PORT1"
	host B --broker "stomp://127.0.0.1:$PORT2"
	nsb=$(netns b)
	quiet_ns "$nsb"
	host_nic nicb B "$nsb" "$MAC_B" 10.77.0.2/24
	wait_sysnet_up "$nsb"
}

# marker ERE: the guest's console has a line matching ERE; else show it.
marker() {
	grep -aEq -- "$1" "$T/guest.out" && return 0
	echo "# the guest's console has no '$1':" >&2
	grep -a 'MARK\|mqnic' "$T/guest.out" | sed 's/^/#   /' >&2
	return 1
}

@test "the guest's path with a host mqnic in its place: host A pings host B through both bridges and both brokers" {
	need_mqnic
	need_net
	two_hosts
	nsa=$(netns a)
	quiet_ns "$nsa"
	host_nic nica A "$nsa" "$MAC_A" 10.77.0.10/24
	wait_sysnet_up "$nsa"
	run ip netns exec "$nsa" ping -c 3 -W 10 10.77.0.2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(host_slot_field A "$MAC_A" to_broker_frames)" -ge 3 ]
	[ "$(host_slot_field B "$MAC_B" from_broker_frames)" -ge 3 ]
	[ "$(host_slot_field B "$MAC_B" to_broker_frames)" -ge 3 ]
	[ "$(host_slot_field A "$MAC_A" from_broker_frames)" -ge 3 ]
}

@test "a real Linux guest on host A pings an mqnic on host B through both bridges and both brokers, and host B pings it back" {
	normal_only
	need_mqnic
	need_net
	need_guest
	local pings=4 replies ok=0 i a_out a_in
	two_hosts
	guest_initrd "$MAC_A" 10.77.0.10/24 10.77.0.2 "$pings" 3
	start_guest "$T/A.sock" auto
	echo "# guest under $GUEST_ACCEL${GUEST_ACCEL_WHY:+ ($GUEST_ACCEL_WHY)}" >&3
	wait_while "$GUEST_PID" "$T/guest.out" "MARK ping" 180
	marker "MARK device /sys/bus/pci/devices/"
	marker "mqnic ready: slot [0-9]+ tap mq0 mac $MAC_A"
	marker "MARK carrier 1"
	marker "MARK ping ok"
	replies=$(sed -n 's/.*MARK replies \([0-9]*\) of .*/\1/p' "$T/guest.out")
	echo "# the guest got $replies of $pings replies" >&3
	# One lost to a slow first hop across the brokers is tolerated.
	[ "${replies:-0}" -ge $((pings - 1)) ]
	# The guest's slot on host A sent to broker A and got from it at
	# least what the replies took (its slot goes when the guest stops).
	a_out=$(host_slot_field A "$MAC_A" to_broker_frames)
	a_in=$(host_slot_field A "$MAC_A" from_broker_frames)
	echo "# host A, the guest's slot: $a_out frames to broker A, $a_in from it" >&3
	[ "$a_out" -ge "$replies" ]
	[ "$a_in" -ge "$replies" ]
	# And the other way: host B's endpoint pings the guest.
	for ((i = 0; i < 3; i++)); do
		ip netns exec "$nsb" ping -c 3 -W 5 10.77.0.10 && { ok=1; break; }
	done
	[ "$ok" -eq 1 ]
	wait_while "$GUEST_PID" "$T/guest.out" "MARK mqnic exit" 60
	marker "MARK answered ([3-9]|[1-9][0-9])"
	marker "MARK mqnic exit 0"
	wait_gone "$GUEST_PID" 30
	# Host B's endpoint got the guest's echo requests and its replies
	# from broker B, and sent its answers to it.
	[ "$(host_slot_field B "$MAC_B" from_broker_frames)" -ge $((replies + 3)) ]
	[ "$(host_slot_field B "$MAC_B" to_broker_frames)" -ge $((replies + 3)) ]
	# Both relays carried the frames: each sent and received at least
	# the echo requests and replies of both directions.
	for h in A B; do
		echo "# relay $h: sent $(relay_field $h sent_frames) received $(relay_field $h recv_frames) frames" >&3
		[ "$(relay_field $h connected)" = 1 ]
		[ "$(relay_field $h sent_frames)" -ge $((replies + 3)) ]
		[ "$(relay_field $h recv_frames)" -ge $((replies + 3)) ]
	done
}
