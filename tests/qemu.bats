#!/usr/bin/env bats
# tests/qemu.bats - our server against Debian's real QEMU (ivshmem-doorbell
# and ivshmem-plain), driven through qtest by tests/qtest_drive: IDs, BAR2
# size, shared bytes, doorbells, IDs taken over while VMs live, the legacy
# switch, mixed plain/doorbell use and refused sizes.  See tests/qemu_helpers.bash.

# The *_args helpers print QEMU words for splitting; $T has no spaces.
# shellcheck disable=SC2046

load lib/qemu_helpers

setup() {
	qemu_setup
}

teardown() {
	qemu_teardown
}

# IVPosition of VM $1 appears in the server log with that VM's QEMU pid.
assert_logged_id() {
	local id=$1 pid=$2
	grep -q "peer $id connected (pid $pid," "$T/server.log" || {
		echo "no 'peer $id connected (pid $pid,' in the server log:"
		cat "$T/server.log"
		return 1
	}
}

@test "two VMs read distinct IVPositions, the IDs the server logged" {
	server_start -f "$T/region" -m 1M
	vm_start A $(doorbell_args 1)
	vm_start B $(doorbell_args 1)
	a=$(vmv A ivposition)
	b=$(vmv B ivposition)
	[ "$a" != "$b" ]
	assert_logged_id "$a" "$(vmv A pid)"
	assert_logged_id "$b" "$(vmv B pid)"
}

@test "BAR2 size equals the backing file's size, 1 MiB and 1 GiB" {
	server_start -f "$T/small" -m 1M
	[ "$(stat -c %s "$T/small")" -eq 1048576 ]
	run "$DRIVE" -c bar2size -- $(doorbell_args 1)
	[ "$status" -eq 0 ]
	[ "$output" = "bar2size 1048576" ]
	server_stop
	# A sparse file keeps this cheap: QEMU maps it, nobody touches it.
	truncate -s 1G "$T/big"
	server_start -f "$T/big"
	run "$DRIVE" -c bar2size -- $(doorbell_args 1)
	[ "$status" -eq 0 ]
	[ "$output" = "bar2size $(stat -c %s "$T/big")" ]
	[ "$output" = "bar2size 1073741824" ]
}

@test "bytes A writes are read by B, are in the file, and survive restarts" {
	server_start -f "$T/region" -m 1M
	vm_start A $(doorbell_args 1)
	vm_start B $(doorbell_args 1)
	data=$(random_hex 4096)
	off=65536
	[ "$(vm A write $off "$data")" = "write 4096" ]
	[ "$(vmv B read $off 4096)" = "$data" ]
	[ "$(file_hex "$T/region" $off 4096)" = "$data" ]
	# Everything goes away: both VMs and the server.
	vm_quit A
	vm_quit B
	server_stop
	server_start -f "$T/region"
	vm_start A2 $(doorbell_args 1)
	vm_start B2 $(doorbell_args 1)
	[ "$(vmv A2 read $off 4096)" = "$data" ]
	[ "$(vmv B2 read $off 4096)" = "$data" ]
	[ "$(file_hex "$T/region" $off 4096)" = "$data" ]
}

@test "a doorbell to (B, v) sets B's pending bit v and no other (vectors=2)" {
	server_start -f "$T/region" -m 1M -n 2
	vm_start A $(doorbell_args 2)
	vm_start B $(doorbell_args 2)
	[ "$(vmv B vectors)" = 2 ]
	b=$(vmv B ivposition)
	[ "$(vmv B pending)" = 0x0 ]
	vm A doorbell "$b" 1
	[ "$(vmv B waitpending 1 3000)" = 0x2 ]
	# Give a wrong delivery time to show up before saying "no other".
	vm B sleep 200
	[ "$(vmv B pending)" = 0x2 ]
	[ "$(vmv A pending)" = 0x0 ]
	vm A doorbell "$b" 0
	[ "$(vmv B waitpending 0 3000)" = 0x3 ]
	[ "$(vmv A pending)" = 0x0 ]
}

# QEMU (7.2 here; master reads the same) frees its record of a peer it is
# told has left but keeps the pointer, and writes the next holder of that
# ID's eventfds into the freed memory.  So the server never tells a VM
# that a peer left; a newcomer that takes the ID gets the eventfds the VMs
# already hold for it (and they are not sent again).  No ID is held back,
# and a VM's doorbell to the ID reaches whoever holds it now.
@test "B lives through A's ID being taken and freed again and again (VMs and probes); B's doorbell reaches the VM that holds it now" {
	server_start -f "$T/region" -m 1M
	vm_start A $(doorbell_args 1)
	vm_start B $(doorbell_args 1)
	a=$(vmv A ivposition)
	b=$(vmv B ivposition)
	vm_quit A
	wait_log "peer $a disconnected"
	for i in 1 2 3; do
		vm_start "P$i" $(doorbell_args 1)
		[ "$(vmv "P$i" ivposition)" = "$a" ]
		vm_quit "P$i"
		# B still answers after each.
		run vm B read 0 64
		[ "$status" -eq 0 ] || {
			echo "B's QEMU died when P$i took A's ID: $output"
			false
		}
	done
	# A's ID again each time, or the next free one when the server saw a
	# probe before its predecessor's hang-up; never more: no ID is used up.
	next=$(( (a > b ? a : b) + 1 ))
	for i in $(seq 200); do
		"$TM_BUILD/bin/tm_ivshmem_client" -p "$SOCK" info >"$T/probe"
		grep -Eqx "id ($a|$next)" "$T/probe" ||
			{ cat "$T/probe"; false; }
	done
	run vm B read 0 2048
	[ "$status" -eq 0 ] || {
		echo "B's QEMU died while A's ID was reused:"
		echo "$output"
		false
	}
	vm_start D $(doorbell_args 1)
	[ "$(vmv D ivposition)" = "$a" ]
	# B never heard that A left nor that D came: its doorbell to A's ID
	# rings the eventfd D took over ...
	vm B doorbell "$a" 0
	[ "$(vmv D waitpending 0 3000)" = 0x1 ]
	# ... and D rings B.
	vm D doorbell "$b" 0
	[ "$(vmv B waitpending 0 3000)" = 0x1 ]
}

@test "3,000 probe cycles while a VM lives use up no ID: the next VM gets the lowest free one, and doorbells work" {
	server_start -f "$T/region" -m 1M
	vm_start B $(doorbell_args 1)
	b=$(vmv B ivposition)
	# peerstorm probes count as QEMU; the client is one of our tools.
	run "$TM_BUILD/tests/peerstorm" -p "$SOCK" -w 300 cycles 3000
	[ "$status" -eq 0 ]
	for i in $(seq 100); do
		"$TM_BUILD/bin/tm_ivshmem_client" -p "$SOCK" info >/dev/null
	done
	vm_start C $(doorbell_args 1)
	c=$(vmv C ivposition)
	[ "$b" = 0 ]
	[ "$c" = 1 ]
	run vm B read 0 2048
	[ "$status" -eq 0 ]
	vm B doorbell "$c" 0
	[ "$(vmv C waitpending 0 3000)" = 0x1 ]
	vm C doorbell "$b" 0
	[ "$(vmv B waitpending 0 3000)" = 0x1 ]
}

@test "with -l (pre-2.5 protocol) QEMU 2.5+ refuses the server" {
	# Control: the same QEMU takes the default protocol.
	server_start -f "$T/region" -m 1M
	run "$DRIVE" -c ivposition -- $(doorbell_args 1)
	[ "$status" -eq 0 ]
	[ "$output" = "ivposition 0" ]
	server_stop

	server_start -l -f "$T/region"
	grep -q "protocol pre-2.5" "$T/server.log"
	# Peer 0's ID reads as version 0, then the region message is no ID.
	run "$DRIVE" -c ivposition -- $(doorbell_args 1)
	[ "$status" -ne 0 ]
	[[ $output == *"server sent invalid ID message"* ]]
	# With ID 0 held by a legacy client, QEMU reads ID 1 as the version.
	monitor_start -l
	grep -q '^id 0$' "$T/mon"
	run "$DRIVE" -c ivposition -- $(doorbell_args 1)
	[ "$status" -ne 0 ]
	[[ $output == *"server sent version 1, expecting 0"* ]]
}

@test "an ivshmem-plain VM on the same file and a doorbell VM share bytes" {
	server_start -f "$T/region" -m 1M
	vm_start D $(doorbell_args 1)
	vm_start P $(plain_args "$T/region" 1M)
	[ "$(vmv P bar2size)" = 1048576 ]
	x=$(random_hex 256)
	y=$(random_hex 256)
	vm D write 4096 "$x"
	[ "$(vmv P read 4096 256)" = "$x" ]
	vm P write 8192 "$y"
	[ "$(vmv D read 8192 256)" = "$y" ]
	[ "$(file_hex "$T/region" 4096 256)" = "$x" ]
	[ "$(file_hex "$T/region" 8192 256)" = "$y" ]
}

@test "sizes QEMU dies on (not a power of two) are refused before any QEMU" {
	# Why it matters: QEMU aborts on a 3 MiB BAR2.
	truncate -s 3M "$T/three"
	run "$DRIVE" -c bar2size -- $(plain_args "$T/three" 3M)
	[ "$status" -ne 0 ]
	[[ $output == *"is_power_of_2(size)"* ]]

	run timeout 5 "$TM_BUILD/bin/tm_ivshmem_server" -f "$T/new" -m 3M -p "$SOCK"
	[ "$status" -ne 0 ]
	[[ $output == *"power of two"* ]]
	[ ! -e "$SOCK" ]
	[ ! -e "$T/new" ]

	run timeout 5 "$TM_BUILD/bin/tm_ivshmem_server" -f "$T/three" -p "$SOCK"
	[ "$status" -ne 0 ]
	[[ $output == *"power of two"* ]]
	[ ! -e "$SOCK" ]
	[ "$(stat -c %s "$T/three")" -eq 3145728 ]
}
