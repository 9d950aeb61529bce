#!/usr/bin/env bats
# tests/broker.bats - mqbridge across hosts through a real ActiveMQ: two
# servers stand for two hosts, each with its own bridge, one broker (two
# for failover) between them.  Endpoints are mqnic in namespaces or
# tests/progs/mqpeer; what is on the broker is read and written by
# tests/progs/stomp_cli.py, which shares no code with the bridge.

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

MAC_D=02:00:00:00:00:0d

@test "broker: endpoints on two hosts ping each other, ARP included; a local pair never touches the broker" {
	need_mqnic
	need_net
	host A
	host B
	nsa=$(netns a)
	nsb=$(netns b)
	nsc=$(netns c)
	quiet_ns "$nsa" "$nsb" "$nsc"
	host_nic nica A "$nsa" "$MAC_A" 10.77.0.1/24
	host_nic nicb B "$nsb" "$MAC_B" 10.77.0.2/24
	host_nic nicc A "$nsc" "$MAC_C" 10.77.0.3/24
	wait_sysnet_up "$nsa"
	wait_sysnet_up "$nsb"
	run ip netns exec "$nsa" ping -c 3 -W 5 10.77.0.2
	echo "$output"
	[ "$status" -eq 0 ]
	# The neighbour on the same host: straight through the switch.
	run ip netns exec "$nsc" ping -c 3 -W 5 10.77.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	# ARP went out as a broadcast and came back as unicast.
	[ "$(host_slot_field A "$MAC_A" to_broker_frames)" -ge 4 ]
	[ "$(host_slot_field B "$MAC_B" from_broker_frames)" -ge 4 ]
	# C's unicasts to A stayed on host A; only its ARP broadcast left.
	[ "$(host_slot_field A "$MAC_C" to_broker_frames)" -le 1 ]
	[ "$(relay_field A connected)" = 1 ]
}
