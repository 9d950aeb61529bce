#!/usr/bin/env bats
# tests/server_drill.bats - the server's failure drill: kill -9 of a
# tm_ivshmem_server while a QEMU VM (ivshmem-doorbell, driven by qtest),
# two mqnic endpoints and the bridge are attached.  The region's bytes
# must be intact when it starts again, and the bridge and the endpoints
# must join the new server by themselves (retrying with backoff) and carry
# frames, with doorbells, within a bound the test states.

load lib/helpers
load lib/mqbridge_helpers
load lib/qemu_helpers

# From the restart to the first ping answered across the bridge.  Both
# retry at most every 5 s (REJOIN_MAX_MS); the first retry comes after
# 0.1 s, so this leaves room for a slow, loaded machine.
REJOIN_BOUND_S=10
GUEST_OFF=$((4 << 20))		# the guest's bytes: past the NIC area
GUEST_LEN=$((4 << 20))

setup() {
	command -v qemu-system-x86_64 >/dev/null ||
		skip "qemu-system-x86_64 missing; run 'bash tests/deps.sh' as root"
	[ -x "$DRIVE" ] || { echo "$DRIVE missing; run make test-progs" >&2; return 1; }
	mqb_setup
	declare -gA VM_PID=() VM_FD=()
}

teardown() {
	vm_stop_all
	mqb_teardown
}

# The sum of the region's bytes the NIC area never touches.
guest_sum() {
	dd if="$REGION" bs=1M skip=$((GUEST_OFF >> 20)) \
	    count=$((GUEST_LEN >> 20)) status=none | sha256sum | cut -d' ' -f1
}

# all_joined SECONDS: the bridge and both endpoints joined the new
# server within SECONDS; prints the milliseconds it took.
all_joined() {
	local t0 now re='joined the server again as peer [0-9]+'
	t0=$(date +%s%3N)
	now=$t0
	while ((now - t0 < $1 * 1000)); do
		grep -Eq "$re" "$BR_LOG" && grep -Eq "$re" "$T/nica.err" &&
		    grep -Eq "$re" "$T/nicb.err" && { echo $((now - t0)); return 0; }
		sleep 0.05
		now=$(date +%s%3N)
	done
	echo "# not all joined within $1 s:" >&2
	grep -H "joined" "$BR_LOG" "$T/nica.err" "$T/nicb.err" >&2
	return 1
}

@test "drill: kill -9 of the server with a VM, endpoints and the bridge attached; bytes intact, all rejoin, frames flow again" {
	local i data before took a b
	need_mqnic
	need_net
	truncate -s 8M "$REGION"
	two_nics
	vm_start G $(doorbell_args 1)
	# The guest writes its bytes (16 KiB at four places) through BAR2.
	for i in 0 1 2 3; do
		data=$(random_hex 4096)
		[ "$(vm G write $((GUEST_OFF + i * 1048576)) "$data")" = "write 4096" ]
		[ "$(vm G write $((GUEST_OFF + i * 1048576 + 4096)) "$data")" = "write 4096" ]
	done
	data=$(vmv G read "$GUEST_OFF" 4096)
	before=$(guest_sum)
	ip netns exec "$nsa" ping -c2 -W2 10.77.0.2

	kill -KILL "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null || true
	wait_for "$BR_LOG" "server hung up|server gone"
	wait_for "$T/nica.err" "server hung up"
	# Frames keep moving meanwhile: the doorbells are the old server's.
	ip netns exec "$nsa" ping -c1 -W2 10.77.0.2
	[ "$(guest_sum)" = "$before" ]

	start_server -f "$REGION"
	took=$(all_joined "$REJOIN_BOUND_S")
	echo "# the bridge and both endpoints joined $took ms after the restart (bound: $REJOIN_BOUND_S s)" >&3
	# The new server knows them all under their new IDs, and the bridge
	# rings them there: its status shows the IDs they published.
	a=$(sed -nE 's/.*joined the server again as peer ([0-9]+).*/\1/p' "$T/nica.err")
	b=$(sed -nE 's/.*joined the server again as peer ([0-9]+).*/\1/p' "$T/nicb.err")
	wait_status "0.$(slot_of nica)" peer "$a"
	wait_status "0.$(slot_of nicb)" peer "$b"
	# Ten pings in a row, each answered within a second: doorbells work.
	ip netns exec "$nsa" ping -c10 -i0.2 -W1 10.77.0.2
	# The region's bytes: the same on disk, and through the VM's BAR2.
	[ "$(guest_sum)" = "$before" ]
	[ "$(vmv G read "$GUEST_OFF" 4096)" = "$data" ]
	kill -0 "$BR_PID" "$NICA_PID" "$NICB_PID" "${VM_PID[G]}"
}
