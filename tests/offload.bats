#!/usr/bin/env bats
# tests/offload.bats - large frames between endpoints (RING_F_VNET): the
# bridge refuses and counts every kind of bad virtio_net_hdr a slot can
# write, cuts segments for endpoints that did not announce the feature
# (checksums checked by mqpeer's own RFC 1071 code), passes them whole to
# those that did, keeps working with peers built before features, and
# carries real TCP with offloads between two mqnic endpoints.  Also the
# doorbells: a stress of numbered frames both ways with SIGSTOP/SIGCONT
# and a stall watchdog, and the CPU an idle bridge and endpoints burn.

load lib/helpers
load lib/mqbridge_helpers

setup() { mqb_setup; }
teardown() { mqb_teardown; }

# rx_lines NAME: the frames the peer NAME printed.
rx_lines() {
	grep '^rx ' "$T/$1.out" || true
}

# segs_ok NAME N: the peer got N frames, all IP, each no longer than the MTU's
# 1514 bytes, each with a correct checksum and the payload expected.
segs_ok() {
	local name=$1 n=$2 bad
	wait_count "$T/$name.out" '^rx ' "$n" || return 1
	bad=$(rx_lines "$name" | awk '$7 > 1514 || !/csum ok data ok/' | wc -l)
	if [ "$(rx_lines "$name" | wc -l)" -ne "$n" ] || [ "$bad" -ne 0 ]; then
		sed 's/^/#   /' "$T/$name.out" >&2
		return 1
	fi
}

@test "every bad virtio_net_hdr is refused and counted; the bridge stays up; other slots flow" {
	local how kind pay gso n=0
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	peer b "$MAC_B" --vnet run hold
	peer c "$MAC_C" run hold
	running b
	running c
	# Each spoiled header once, then a good segment: only that one and
	# the plain frames from c reach b.
	for how in flags type size0 hdrlen csum segs headers long; do
		kind=tcp4 pay=3000 gso=1448
		case $how in
		segs) kind=udp4 pay=8000 ;;
		long) pay=4000 ;;
		esac
		rm -f "$T/a.out"
		peer a "$MAC_A" --vnet run vnet $kind "$MAC_B" $pay $gso $how \
		    send "$MAC_C" hold
		running a
		# Its plain frame after the bad one still goes: the slot lives.
		wait_count "$T/c.out" '^rx ' $((++n))
		kill "$BG_PID"
		wait "$BG_PID" || true
		wait_drop bad_vnet "$n"
		kill -0 "$BR_PID"
	done
	[ "$(rx_count b)" -eq 0 ]
	grep -q "state run" "$T/b.out"
	peer a "$MAC_A" --vnet run vnet tcp4 "$MAC_B" 3000 1448 good hold
	wait_count "$T/b.out" '^rx ' 1
	rx_lines b | grep -q "len 3054 .* csum partial data ok vnet 1 1448"
	[ "$(drop_count bad_vnet)" -eq 8 ]
	[ "$(drop_count corrupt)" -eq 0 ]
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "a segment is cut to the MTU, checksummed, for a peer without large frames" {
	local pb pc
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	peer b "$MAC_B" run hold
	pb=$BG_PID
	peer c "$MAC_C" run hold
	pc=$BG_PID
	running b
	running c
	# 20000 bytes at 1448: 13 full segments and one of 1176.
	peer a "$MAC_A" --vnet run vnet tcp4 "$MAC_B" 20000 1448 good hold
	segs_ok b 14
	rx_lines b | head -n1 | grep -q " len 1502 "
	rx_lines b | tail -n1 | grep -q " len 1230 "
	kill "$BG_PID"
	wait "$BG_PID" || true
	peer a6 "$MAC_A" --vnet run vnet tcp6 "$MAC_B" 5000 1428 good hold
	segs_ok b 18
	kill "$BG_PID"
	wait "$BG_PID" || true
	# UDP: 3 datagrams of 1400 and one of 800, each its own length.  A
	# fresh receiver for each: it follows the payload from its start.
	peer u "$MAC_A" --vnet run vnet udp4 "$MAC_C" 5000 1400 good hold
	segs_ok c 4
	rx_lines c | tail -n1 | grep -q " len 842 "
	kill "$BG_PID" "$pb"
	wait "$BG_PID" "$pb" || true
	peer d "$MAC_B" run hold
	running d
	peer u6 "$MAC_A" --vnet run vnet udp6 "$MAC_B" 2900 1400 good hold
	segs_ok d 3
	rx_lines d | tail -n1 | grep -q " len 162 "
	[ "$(drop_count bad_vnet)" -eq 0 ]
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "a peer built before features works both ways with one that has them" {
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	local pb
	peer b "$MAC_B" --old run hold
	pb=$BG_PID
	running b
	peer a "$MAC_A" --vnet run vnet tcp4 "$MAC_B" 4000 1448 good hold
	segs_ok b 3
	# And back: plain frames from the old peer reach the new one.
	kill "$pb"
	wait "$pb" || true
	peer b2 "$MAC_B" --old run send "$MAC_A" 2 hold
	wait_count "$T/a.out" '^rx ' 2
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}
