#!/usr/bin/env bats
# tests/mqnic.bats - the NIC endpoint (mqnic) with real processes only: a
# real tm_ivshmem_server with a file region, mqnic in a network namespace
# each test creates, and tests/nic_ring.c on the bridge's end of the slot
# (formatting, state, TX ring reader, RX ring writer, doorbells) through
# the ring API.  Frames come from the real kernel stack (ping, ARP) and
# are checked on an AF_PACKET socket and in the interface counters.
#
# --pci is tested twice: against a stand-in directory whose resource2 is
# the region file and resource0 a 256-byte register file (the mapping and
# register code, quickly), and in a real Linux guest under QEMU (TCG) with
# an ivshmem-doorbell device, pinging a host mqnic through mqbridge.  The
# guest's kernel and busybox are Debian packages fetched once with
# apt-get download into $TM_GUEST_CACHE (default /var/tmp/tm-guest).

load lib/helpers
load lib/guest_helpers

NIC=$TM_BUILD/bin/mqnic
RING=$TM_BUILD/tests/nic_ring
BRIDGE=$TM_BUILD/bin/mqbridge
MAC=02:00:00:00:00:01
MAC2=02:00:00:00:00:02
# ARP request from 02:..:02 (10.77.0.2): who has 10.77.0.1?
ARP_REQ=ffffffffffff020000000002080600010800060400010200000000020a4d00020000000000000a4d0001

setup() {
	local p
	for p in "$NIC" "$RING"; do
		[ -x "$p" ] || { echo "$p missing; run make all test-progs" >&2; return 1; }
	done
	tm_setup
	NS=tm-nic-$$-$BATS_TEST_NUMBER
	ip netns add "$NS"
	# No IPv6 chatter: the frames in the rings are the tests' own.
	ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	    net.ipv6.conf.default.disable_ipv6=1
}

teardown() {
	tm_teardown
	ip netns del "$NS" 2>/dev/null || true
}

in_ns() {
	ip netns exec "$NS" "$@"
}

# no_link IF [host]: no interface IF in $NS (or in the host's namespace).
# A function, not "! cmd": bash's errexit never fails on a "!" command.
no_link() {
	local out
	if [ "${2:-}" = host ]; then
		out=$(ip -o link show "$1" 2>/dev/null) || true
	else
		out=$(in_ns ip -o link show "$1" 2>/dev/null) || true
	fi
	[ -z "$out" ] || { echo "# interface $1 exists: $out" >&2; return 1; }
}

# region SLOTS [nic_ring format options]: a server on a 8 MiB file region
# and a formatted NIC area.
region() {
	local slots=$1
	shift
	start_server -f "$REGION" -m 8M
	"$RING" format "$REGION" -s "$slots" "$@" >/dev/null
}

# nic NAME ARGS...: mqnic in $NS, on $SOCK unless ARGS has --pci; returns
# once it is ready.  Its pid is in $NIC_PID, its log in $T/NAME.err.
nic() {
	local name=$1
	shift
	if [[ " $* " == *" --pci "* ]]; then
		bg "$name" ip netns exec "$NS" "$NIC" "$@"
	else
		bg "$name" ip netns exec "$NS" "$NIC" -p "$SOCK" "$@"
	fi
	NIC_PID=$BG_PID
	wait_for "$T/$name.err" "mqnic ready"
}

# bridge ARGS...: nic_ring bridge on slot 0; returns once both sides run.
bridge() {
	bg bridge "$RING" bridge "$REGION" "$@"
	BRIDGE_PID=$BG_PID
	wait_for "$T/bridge.out" "^state run"
}

slot_line() {
	"$RING" slots "$REGION" "${@:2}" | grep "^slot $1 "
}

sysnet() {
	in_ns cat "/sys/class/net/$1/$2"
}

# link_up [IF [LOG]]: mqnic logged the link up and the kernel has taken
# the carrier in (before that, the stack drops what it sends).
link_up() {
	wait_for "$T/${2:-nic}.err" "link up" || return 1
	wait_sysnet "${1:-mq0}" operstate up
}

# wait_sysnet IF FILE VALUE: the kernel's link watch settles operstate
# asynchronously, up to a second after the change.
wait_sysnet() {
	local i v
	for ((i = 0; i < 150; i++)); do
		v=$(sysnet "$1" "$2" 2>/dev/null)
		[ "$v" = "$3" ] && return 0
		sleep 0.02
	done
	echo "# $1/$2 is '$v', not '$3'" >&2
	return 1
}

# bad_usage ARGS...: exit 1, one line "mqnic: error: ...".
bad_usage() {
	run timeout 10 "$NIC" "$@"
	if [ "$status" -ne 1 ] || [ "$(printf '%s\n' "$output" | grep -c .)" -ne 1 ] ||
	    [[ $output != "mqnic: error: "* ]]; then
		echo "# mqnic $*: status $status, output:" >&2
		printf '%s\n' "$output" | sed 's/^/#   /' >&2
		return 1
	fi
}

# A stand-in for the ivshmem device's sysfs directory: the region file
# as resource2, registers with IVPosition $1, an enable file.
pci_dir() {
	PCI=$T/pci
	mkdir -p "$PCI"
	ln -s "$REGION" "$PCI/resource2"
	head -c 256 /dev/zero >"$PCI/resource0"
	printf "$(printf '\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8)))" |
	    dd of="$PCI/resource0" bs=1 seek=8 conv=notrunc status=none
	echo 0 >"$PCI/enable"
}

# The 32-bit value at byte offset $2 of file $1.
u32_at() {
	od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '
}

@test "-h documents every option" {
	local o
	run "$NIC" -h
	[ "$status" -eq 0 ]
	for o in "-p SOCKET" "--pci DIR" "--mac MAC" "--tap NAME" \
	    "-n VECTORS" "--offset BYTES" "-w SECONDS" "--busy-poll US" \
	    --no-offload "  -v" "  -h" \
	    resource0 resource2 enable IVPosition "mqnic ready" TERM USR1; do
		[[ $output == *"$o"* ]] || { echo "# -h lacks '$o'" >&2; return 1; }
	done
}

@test "bad usage: one line naming the problem and the fix, exit 1" {
	bad_usage
	[[ $output == *"give -p SOCKET"*"--pci DIR"* ]]
	bad_usage --mac $MAC
	bad_usage -p s
	[[ $output == *"no --mac; give"* ]]
	bad_usage -p s --pci d --mac $MAC
	[[ $output == *"both given"* ]]
	bad_usage -p s --mac zz:00:00:00:00:01
	[[ $output == *"not a MAC address; give a unicast"* ]]
	bad_usage -p s --mac 02:00:00:00:00
	bad_usage -p s --mac 01:00:5e:00:00:01
	[[ $output == *"multicast"*"give a unicast"* ]]
	bad_usage -p s --mac 00:00:00:00:00:00
	[[ $output == *"all-zero"* ]]
	bad_usage -p s --mac $MAC --offset 100
	[[ $output == *"not a multiple of 4096"* ]]
	bad_usage -p s --mac $MAC --offset 1X
	bad_usage -p s --mac $MAC -n 0
	[[ $output == *"give a number from 1 to 64"* ]]
	bad_usage -p s --mac $MAC -n 65
	bad_usage -p s --mac $MAC -w -1
	bad_usage -p s --mac $MAC --busy-poll 1000001
	bad_usage -p s --mac $MAC --busy-poll x
	bad_usage -p s --mac $MAC --tap abcdefghijklmnop
	[[ $output == *"shorter"* ]]
	bad_usage -p s --mac $MAC --tap a/b
	bad_usage --pci d --mac $MAC -n 2
	[[ $output == *"-n applies to -p only"* ]]
	bad_usage -p s --mac $MAC -x
	[[ $output == *"unknown option -x; see mqnic -h"* ]]
	bad_usage -p s --mac $MAC --bogus
	[[ $output == *"unknown option --bogus"* ]]
	bad_usage --mac $MAC -p
	[[ $output == *"-p needs a value"* ]]
	bad_usage -p s --mac $MAC extra
	[[ $output == *"unexpected argument extra"* ]]
	# Options are checked before anything is touched: no server here.
	bad_usage -p "$T/nosuch" --mac $MAC
	[[ $output == *"cannot connect to $T/nosuch"*"tm_ivshmem_server running"* ]]
}

@test "TAP appears in the namespace with the MAC, the area's MTU, up, carrier only with the bridge" {
	region 2
	nic nic --mac $MAC
	grep -q "mqnic: mqnic ready: slot 0 tap mq0 mac $MAC" "$T/nic.err"
	[ "$(sysnet mq0 address)" = $MAC ]
	[ "$(sysnet mq0 mtu)" = 1500 ]
	# IFF_UP set, no carrier until the bridge runs the slot.
	[ $(($(sysnet mq0 flags) & 1)) -eq 1 ]
	wait_sysnet mq0 operstate down
	[ "$(sysnet mq0 carrier)" = 0 ]
	# Not in the host's namespace.
	no_link mq0 host
	bridge -p "$SOCK"
	wait_for "$T/nic.err" "link up: slot 0 served by bridge peer"
	[ "$(sysnet mq0 carrier)" = 1 ]
	wait_sysnet mq0 operstate up
	# The bridge leaving takes the carrier away again.
	kill "$BRIDGE_PID"
	wait_for "$T/nic.err" "link down"
	[ "$(sysnet mq0 carrier)" = 0 ]
}

@test "--tap names the device; an MTU 9000 area gives the TAP MTU 9000 and jumbo frames pass" {
	region 1 -m 9000
	nic nic --mac $MAC --tap nicA
	[ "$(sysnet nicA mtu)" = 9000 ]
	[ "$(sysnet nicA address)" = $MAC ]
	bridge -p "$SOCK"
	link_up nicA
	in_ns ip addr add 10.77.0.1/24 dev nicA
	in_ns ip neigh add 10.77.0.2 lladdr $MAC2 dev nicA
	in_ns ping -c1 -W1 -s 8000 10.77.0.2 || true
	# 8000 + 8 ICMP + 20 IP + 14 Ethernet, in one frame.
	wait_for "$T/bridge.out" "^tx 8042 ${MAC2//:/}${MAC//:/}0800"
}

@test "the slot carries our peer ID, vector 0, the MAC and a beating heartbeat" {
	region 2
	nic nic --mac $MAC
	local id b1 b2
	id=$(sed -n 's/.*peer \([0-9]*\) connected.*/\1/p' "$SRV_LOG" | tail -n1)
	run slot_line 0
	[[ $output == "slot 0 claimed nic init peer $id vec 0 mac $MAC "* ]]
	b1=$(slot_line 0 | awk '{ print $13 }')
	sleep 0.5
	b2=$(slot_line 0 | awk '{ print $13 }')
	[ "$b2" -ge $((b1 + 3)) ]
	run slot_line 1
	[[ $output == "slot 1 free "* ]]
}

@test "a MAC live in another slot is refused; the second NIC leaves no trace" {
	region 2
	nic nic --mac $MAC
	run timeout 20 ip netns exec "$NS" "$NIC" -p "$SOCK" --mac $MAC --tap other
	[ "$status" -eq 1 ]
	[ "$(printf '%s\n' "$output" | grep -c .)" -eq 1 ]
	[[ $output == "mqnic: error: MAC $MAC is live in slot 0 (peer "*"); give another --mac, or stop the NIC that has it" ]]
	run slot_line 1
	[[ $output == "slot 1 free "* ]]
	no_link other
	# The first one is untouched, and another MAC takes slot 1.
	kill -0 "$NIC_PID"
	nic nic2 --mac $MAC2
	grep -q "ready: slot 1 tap mq1" "$T/nic2.err"
}

@test "no free slot is refused in one line" {
	region 1
	nic nic --mac $MAC
	run timeout 20 ip netns exec "$NS" "$NIC" -p "$SOCK" --mac $MAC2
	[ "$status" -eq 1 ]
	[ "$(printf '%s\n' "$output" | grep -c .)" -eq 1 ]
	[[ $output == "mqnic: error: no free slot in the NIC area: all 1 are claimed; stop another NIC, or have mqbridge format the area with more --slots" ]]
	[ "$(in_ns ls /sys/class/net | grep -c '^mq')" -eq 1 ]
}

@test "TERM, INT and HUP release the slot, remove the TAP and exit 0" {
	local sig st
	region 1
	for sig in TERM INT HUP; do
		nic nic.$sig --mac $MAC
		run slot_line 0
		[[ $output == "slot 0 claimed nic init "* ]]
		kill -$sig "$NIC_PID"
		st=0
		wait "$NIC_PID" || st=$?
		[ "$st" -eq 0 ]
		run slot_line 0
		[[ $output == "slot 0 free nic reset "* ]]
		no_link mq0
		grep -q "stopping on" "$T/nic.$sig.err"
		absent error "$T/nic.$sig.err"
	done
}

@test "after kill -9 the heartbeat stops; the same MAC waits for the reclaim, then takes the slot" {
	local b1 b2
	region 1
	nic nic --mac $MAC
	kill -9 "$NIC_PID"
	wait_gone "$NIC_PID"
	b1=$(slot_line 0 | awk '{ print $13 }')
	sleep 0.4
	b2=$(slot_line 0 | awk '{ print $13 }')
	[ "$b1" = "$b2" ]
	run slot_line 0
	[[ $output == "slot 0 claimed "* ]]
	# Another peer takes the dead NIC's ID, so the next mqnic is not
	# the dead one's successor (see the next test).
	bg holder "$TM_BUILD/bin/tm_ivshmem_client" -p "$SOCK" monitor
	wait_for "$T/holder.out" "^ready"
	grep -q "^id 0$" "$T/holder.out"
	# Nobody reclaims: a clear error once -w runs out.
	run timeout 20 ip netns exec "$NS" "$NIC" -p "$SOCK" --mac $MAC -w 1
	[ "$status" -eq 1 ]
	[[ ${output##*$'\n'} == "mqnic: error: MAC $MAC is held by slot 0, whose owner stopped beating; mqbridge reclaims such a slot after its --reclaim time: is it running? (or wait longer with -w)" ]]
	# The bridge's reclaim (done here by nic_ring) lets a waiting NIC in.
	bg nic2 ip netns exec "$NS" "$NIC" -p "$SOCK" --mac $MAC -w 20
	wait_for "$T/nic2.err" "heartbeat stopped; waiting up to"
	"$RING" reclaim "$REGION" -s 0
	wait_for "$T/nic2.err" "mqnic ready: slot 0"
}

@test "a restarted mqnic with the dead one's peer ID takes its slot back at once" {
	region 1
	nic nic --mac $MAC
	kill -9 "$NIC_PID"
	wait_gone "$NIC_PID"
	# The server hands the same command line its old ID back: the dead
	# holder was an earlier run of ours, gone from the server, as after a
	# guest reboots (the VM's peer stays, so no bridge ever reclaims it).
	nic nic2 --mac $MAC -w 2
	grep -q "slot 0 held MAC $MAC for our own peer ID 0, and its heartbeat stopped: an earlier run of ours; took it back" "$T/nic2.err"
	grep -q "mqnic ready: slot 0 tap mq0" "$T/nic2.err"
	run slot_line 0
	[[ $output == "slot 0 claimed nic init peer 0 vec 0 mac $MAC "* ]]
}

@test "frames from the TAP reach the TX ring, with a doorbell to the sleeping bridge" {
	region 1
	nic nic --mac $MAC
	bridge -p "$SOCK"
	link_up
	in_ns ip addr add 10.77.0.1/24 dev mq0
	in_ns ping -c1 -W1 10.77.0.2 || true
	# The ARP request for 10.77.0.2, broadcast from our MAC.
	wait_for "$T/bridge.out" "^tx 42 ffffffffffff${MAC//:/}08060001080006040001${MAC//:/}0a4d00010000000000000a4d0002$"
	grep -q "^bell" "$T/bridge.out"
	[ "$(sysnet mq0 statistics/tx_packets)" -ge 1 ]
}

@test "a frame in the RX ring reaches the TAP whole; the kernel's answer comes back on TX" {
	region 1
	nic nic --mac $MAC
	bridge -p "$SOCK"
	link_up
	in_ns ip addr add 10.77.0.1/24 dev mq0
	bg sniff ip netns exec "$NS" "$RING" sniff mq0 10 1
	wait_for "$T/sniff.out" listening
	sleep 0.3
	# mqnic sleeps with its need-wakeup flag up, so the writer rings it.
	run "$RING" rx "$REGION" -s 0 -p "$SOCK" "$ARP_REQ"
	[ "$status" -eq 0 ]
	[ "$output" = rang ]
	wait_for "$T/sniff.out" "^rx 42 $ARP_REQ$"
	[ "$(sysnet mq0 statistics/rx_packets)" -eq 1 ]
	# The ARP reply: to 02:..:02, from us, "10.77.0.1 is at $MAC".
	wait_for "$T/bridge.out" "^tx 42 ${MAC2//:/}${MAC//:/}08060001080006040002${MAC//:/}0a4d0001${MAC2//:/}0a4d0002$"
	in_ns ip neigh show 10.77.0.2 | grep -q "lladdr $MAC2"
}

@test "a frame over the MTU from the TAP is dropped and counted, never truncated" {
	region 1
	nic nic --mac $MAC
	bridge -p "$SOCK"
	link_up
	in_ns ip link set mq0 mtu 9000
	in_ns ip addr add 10.77.0.1/24 dev mq0
	in_ns ip neigh add 10.77.0.2 lladdr $MAC2 dev mq0
	in_ns ping -c1 -W1 -s 3000 10.77.0.2 || true
	in_ns ping -c1 -W1 -s 100 10.77.0.2 || true
	wait_for "$T/bridge.out" "^tx 142 "
	kill -USR1 "$NIC_PID"
	wait_for "$T/nic.err" "counters: tx 1 frames 142 bytes .0 large., rx 0 frames 0 bytes .0 large.; dropped: oversize 1,"
	# Nothing of the 3042-byte frame went out, whole or cut.
	[ "$(grep -c '^tx' "$T/bridge.out")" -eq 1 ]
}

@test "a corrupt RX index resets the link, mqnic repairs the ring and carries on" {
	region 1
	nic nic --mac $MAC
	bridge -p "$SOCK"
	link_up
	"$RING" corrupt "$REGION" -s 0
	wait_for "$T/nic.err" "slot 0 rx: produced count 4000 exceeds ring size 256"
	wait_count "$T/nic.err" "link up" 2
	wait_sysnet mq0 operstate up
	kill -0 "$NIC_PID"
	in_ns ip addr add 10.77.0.1/24 dev mq0
	run "$RING" rx "$REGION" -s 0 -p "$SOCK" "$ARP_REQ"
	[ "$status" -eq 0 ]
	wait_for "$T/bridge.out" "^tx 42 ${MAC2//:/}${MAC//:/}0806"
}

@test "a slot reclaimed while mqnic was stopped is claimed again on resume; the TAP stays" {
	region 1
	nic nic --mac $MAC
	bridge -p "$SOCK"
	link_up
	kill -STOP "$NIC_PID"
	"$RING" reclaim "$REGION" -s 0
	run slot_line 0
	[[ $output == "slot 0 free "* ]]
	kill -CONT "$NIC_PID"
	wait_for "$T/nic.err" "slot 0 was reclaimed by the bridge"
	wait_count "$T/nic.err" "mqnic ready: slot 0 tap mq0 mac $MAC" 2
	wait_count "$T/nic.err" "link up" 2
	run slot_line 0
	[[ $output == "slot 0 claimed nic run "*" mac $MAC "* ]]
	[ "$(sysnet mq0 address)" = $MAC ]
}

@test "a reformatted area is attached to again, with its new MTU" {
	region 1
	nic nic --mac $MAC
	"$RING" format "$REGION" -s 1 -m 9000 -F >/dev/null
	wait_for "$T/nic.err" "the NIC area was reformatted or damaged; attaching again"
	wait_count "$T/nic.err" "mqnic ready: slot 0 tap mq0" 2
	wait_sysnet mq0 mtu 9000
	run slot_line 0
	[[ $output == "slot 0 claimed nic init "*" mac $MAC "* ]]
	kill -0 "$NIC_PID"
}

@test "the server going away does not stop frames or doorbells" {
	local bells
	region 1
	nic nic --mac $MAC
	bridge -p "$SOCK"
	link_up
	stop_server
	wait_for "$T/nic.err" "server hung up; frames keep moving"
	wait_for "$T/bridge.out" "server gone"
	bells=$(grep -c '^bell' "$T/bridge.out" || true)
	in_ns ip addr add 10.77.0.1/24 dev mq0
	in_ns ping -c1 -W1 10.77.0.2 || true
	wait_for "$T/bridge.out" "^tx 42 ffffffffffff${MAC//:/}0806"
	[ "$(grep -c '^bell' "$T/bridge.out")" -gt "$bells" ]
	kill -0 "$NIC_PID"
}

@test "a TAP name held by another device is refused in one line; the slot is left free" {
	region 1
	in_ns ip link add busy0 type veth peer name busy1
	run timeout 20 ip netns exec "$NS" "$NIC" -p "$SOCK" --mac $MAC --tap busy0
	[ "$status" -eq 1 ]
	[[ ${output##*$'\n'} == "mqnic: error: cannot create TAP busy0: "*"; pick another --tap" ]]
	run slot_line 0
	[[ $output == "slot 0 free "* ]]
}

@test "deleting the TAP stops mqnic with an error, and frees the slot" {
	local st=0
	region 1
	nic nic --mac $MAC
	in_ns ip link del mq0
	wait "$NIC_PID" || st=$?
	[ "$st" -eq 1 ]
	grep -q "mqnic: error: TAP mq0: " "$T/nic.err"
	run slot_line 0
	[[ $output == "slot 0 free "* ]]
}

@test "-n must match the server's vectors: a mismatch is one line at start-up" {
	start_server -f "$REGION" -m 8M -n 2
	"$RING" format "$REGION" -s 1 >/dev/null
	run timeout 30 ip netns exec "$NS" "$NIC" -p "$SOCK" --mac $MAC
	[ "$status" -eq 1 ]
	[ "$output" = "mqnic: error: server sent peer 0 more than 1 vectors; does its -n match ours?" ]
	no_link mq0
	nic nic --mac $MAC -n 2
	run slot_line 0
	[[ $output == "slot 0 claimed nic init peer "*" vec 0 mac $MAC "* ]]
}

@test "mqnic waits for the area to be formatted, and gives up after -w" {
	start_server -f "$REGION" -m 8M
	bg nic ip netns exec "$NS" "$NIC" -p "$SOCK" --mac $MAC -w 30
	wait_for "$T/nic.err" "waiting up to 30 s for mqbridge to format the NIC area at offset 0"
	"$RING" format "$REGION" -s 1 >/dev/null
	wait_for "$T/nic.err" "mqnic ready: slot 0 tap mq0"
	run timeout 20 ip netns exec "$NS" "$NIC" -p "$SOCK" --mac $MAC2 \
	    --offset 1M -w 1
	[ "$status" -eq 1 ]
	[[ ${output##*$'\n'} == "mqnic: error: no NIC area at offset 1048576 of the region; start mqbridge on this server with the same --offset, or wait longer with -w" ]]
}

@test "--offset finds an area formatted away from the start of the region" {
	start_server -f "$REGION" -m 8M
	"$RING" format "$REGION" -s 1 -o 1048576 >/dev/null
	nic nic --mac $MAC --offset 1M
	run slot_line 0 -o 1048576
	[[ $output == "slot 0 claimed nic init "*" mac $MAC "* ]]
	run timeout 20 ip netns exec "$NS" "$NIC" -p "$SOCK" --mac $MAC2 --offset 8M
	[ "$status" -eq 1 ]
	[[ $output == *"--offset 8388608 is past the end of the 8388608-byte region"* ]]
}

@test "--pci: maps resource2 and resource0, takes IVPosition as its ID, rings through the doorbell register" {
	local st
	region 1
	pci_dir 7
	nic nic --pci "$PCI" --mac $MAC
	[ "$(cat "$PCI/enable")" = 1 ]
	run slot_line 0
	[[ $output == "slot 0 claimed nic init peer 7 vec 0 mac $MAC "* ]]
	bg bridge "$RING" bridge "$REGION" -i 5
	wait_for "$T/bridge.out" "^state run"
	wait_for "$T/nic.err" "link up: slot 0 served by bridge peer 5"
	link_up
	in_ns ip addr add 10.77.0.1/24 dev mq0
	in_ns ping -c1 -W1 10.77.0.2 || true
	wait_for "$T/bridge.out" "^tx 42 ffffffffffff${MAC//:/}0806"
	# Doorbell: (peer 5 << 16) | vector 0, one 32-bit store.
	[ "$(u32_at "$PCI/resource0" 12)" -eq $((5 << 16)) ]
	# A guest polls: it never asks for doorbells, and still sees RX.
	run "$RING" rx "$REGION" -s 0 "$ARP_REQ"
	[ "$output" = "no wakeup wanted" ]
	wait_for "$T/bridge.out" "^tx 42 ${MAC2//:/}${MAC//:/}08060001080006040002"
	[ "$(sysnet mq0 statistics/rx_packets)" -eq 1 ]
	kill "$NIC_PID"
	st=0
	wait "$NIC_PID" || st=$?
	[ "$st" -eq 0 ]
	run slot_line 0
	[[ $output == "slot 0 free "* ]]
}

@test "--pci refuses a directory that is not an ivshmem device, in one line" {
	run timeout 10 "$NIC" --pci "$T/nosuch" --mac $MAC
	[ "$status" -eq 1 ]
	[[ $output == "mqnic: error: cannot open $T/nosuch/resource0: No such file or directory; give the ivshmem device's sysfs directory and run as root" ]]
	mkdir "$T/dev"
	echo 0x8086 >"$T/dev/vendor"
	echo 0x100e >"$T/dev/device"
	run timeout 10 "$NIC" --pci "$T/dev" --mac $MAC
	[ "$status" -eq 1 ]
	[[ $output == "mqnic: error: $T/dev is PCI device 8086:100e, not ivshmem (1af4:1110); give the ivshmem device's directory" ]]
	# IVPosition -1: the device has no peer ID.
	region 1
	pci_dir 0
	printf '\xff\xff\xff\xff' | dd of="$PCI/resource0" bs=1 seek=8 conv=notrunc status=none
	run timeout 10 "$NIC" --pci "$PCI" --mac $MAC
	[ "$status" -eq 1 ]
	[[ $output == *"IVPosition is -1, not a peer ID"* ]]
}

@test "a real Linux guest: mqnic --pci on the ivshmem device pings a host mqnic through mqbridge, both ways" {
	local ok=0 i
	[ -x "$BRIDGE" ] || skip "mqbridge not built"
	need_guest
	GUEST_MAC=02:00:00:00:00:0a
	guest_initrd $GUEST_MAC 10.77.0.10/24 10.77.0.1 3 2
	start_server -f "$REGION" -m 8M
	bg mqbridge "$BRIDGE" -p "$SOCK" --slots 2
	wait_for "$T/mqbridge.err" "bridge ready"
	nic nic --mac $MAC
	in_ns ip addr add 10.77.0.1/24 dev mq0
	# TCG, as always here: the KVM try costs its time limit where
	# nested KVM never boots; tests/guest_drill.bats makes that try.
	start_guest "$SOCK" tcg
	wait_for "$T/guest.out" "MARK ping" 150
	grep -aq "MARK device /sys/bus/pci/devices/" "$T/guest.out"
	grep -aq "mqnic ready: slot 1 tap mq0 mac $GUEST_MAC" "$T/guest.out"
	grep -aq "MARK carrier 1" "$T/guest.out"
	grep -aq "MARK ping ok" "$T/guest.out"
	# And the other way: the host namespace pings the guest.
	for ((i = 0; i < 3; i++)); do
		in_ns ping -c 2 -W 5 10.77.0.10 && { ok=1; break; }
	done
	[ "$ok" -eq 1 ]
	wait_for "$T/guest.out" "MARK mqnic exit" 60
	grep -aq "MARK mqnic exit 0" "$T/guest.out"
	wait_gone "$GUEST_PID" 30
	# The guest's mqnic released its slot on TERM.
	run slot_line 1
	[[ $output == "slot 1 free "* ]]
}
