#!/usr/bin/env bats
# tests/offload.bats - large frames between endpoints (RING_F_VNET): the
# bridge refuses and counts every kind of bad virtio_net_hdr a slot can
# write, cuts segments for endpoints that did not announce the feature
# (checksums checked by mqpeer's own RFC 1071 code), passes them whole to
# those that did, and carries real TCP (every byte, no checksum error in
# either namespace) between two mqnic endpoints with offloads, with one
# of them --no-offload, and with a bridge or an mqnic built before
# features (from git, once per build directory).  Also the doorbells: a
# stress of numbered frames both ways with SIGSTOP/SIGCONT and a stall
# watchdog, and the CPU an idle bridge and endpoints burn.

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
	for how in flags type ecn size0 hdrlen csum segs headers long; do
		kind=tcp4 pay=3000 gso=1448
		case $how in
		segs) kind=udp4 pay=8000 ;;
		long) pay=4000 ;;
		csum|ecn) pay=1000 ;;	# plain frames, not segments
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
	[ "$(drop_count bad_vnet)" -eq 9 ]
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

# onic NAME NS MAC ADDR [MQNIC ARGS...]: as nic(), with mqnic options.
onic() {
	local name=$1 ns=$2 mac=$3 addr=$4
	shift 4
	bg "$name" ip netns exec "$ns" "$MQNIC" -p "$SOCK" --mac "$mac" \
	    --tap mq0 "$@"
	NIC_PID=$BG_PID
	wait_for "$T/$name.err" "mqnic ready" || return 1
	ip -n "$ns" addr add "$addr" dev mq0 &&
	    ip -n "$ns" link set mq0 up
}

# sha_over FROM_NS TO_NS ADDR: 20 MB of random bytes over one TCP
# connection; the receiver's SHA-256 must be the sender's.
sha_over() {
	local from=$1 to=$2 addr=$3 want port=$((7000 + RANDOM % 1000))
	[ -f "$T/blob" ] || head -c 20000000 /dev/urandom >"$T/blob"
	want=$(sha256sum <"$T/blob" | cut -d' ' -f1)
	rm -f "$T/sink.out"
	bg sink ip netns exec "$to" python3 -c '
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
h = hashlib.sha256()
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    h.update(b)
print(h.hexdigest(), flush=True)
' "$addr" "$port"
	wait_for "$T/sink.out" "^listening"
	timeout 60 ip netns exec "$from" python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
with open(sys.argv[3], "rb") as f:
    c.sendall(f.read())
c.close()
' "$addr" "$port" "$T/blob"
	wait_for "$T/sink.out" "^$want$" 30
}

# no_csum_errors NS: the kernel in NS counted no bad checksum.
no_csum_errors() {
	local bad
	bad=$(ip netns exec "$1" nstat -azs TcpInCsumErrors UdpInCsumErrors \
	    IpExtInCsumErrors Udp6InCsumErrors | awk 'NR > 1 && $2 != 0')
	if [ -n "$bad" ]; then
		echo "# checksum errors in $1: $bad" >&2
		return 1
	fi
}

# nic_large NAME: how many large frames the mqnic NAME sent, from its
# counters line.
nic_large() {
	local pid=$2
	kill -USR1 "$pid"
	wait_for "$T/$1.err" "counters: " || return 1
	sleep 0.1
	grep 'counters: ' "$T/$1.err" | tail -n1 |
	    sed -n 's/.*counters: tx [0-9]* frames [0-9]* bytes (\([0-9]*\) large).*/\1/p'
}

@test "TCP with offloads between two mqnic endpoints: segments of 64 KiB, every byte, no checksum errors" {
	need_mqnic
	need_net
	command -v nstat >/dev/null || skip "nstat (iproute2) missing"
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	nsa=$(netns a)
	nsb=$(netns b)
	onic nica "$nsa" "$MAC_A" 10.77.0.1/24
	pa=$NIC_PID
	onic nicb "$nsb" "$MAC_B" 10.77.0.2/24
	pb=$NIC_PID
	wait_for "$T/nica.err" "link up.*large frames and checksum offloads on"
	wait_for "$T/nicb.err" "link up.*large frames and checksum offloads on"
	sha_over "$nsa" "$nsb" 10.77.0.2
	sha_over "$nsb" "$nsa" 10.77.0.1
	no_csum_errors "$nsa"
	no_csum_errors "$nsb"
	# Whole segments crossed the ring, both ways.
	[ "$(nic_large nica "$pa")" -gt 0 ]
	[ "$(nic_large nicb "$pb")" -gt 0 ]
	wait_drop bad_vnet 0
}

@test "one endpoint with --no-offload: the bridge segments for it; TCP works both ways" {
	need_mqnic
	need_net
	command -v nstat >/dev/null || skip "nstat (iproute2) missing"
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	nsa=$(netns a)
	nsb=$(netns b)
	onic nica "$nsa" "$MAC_A" 10.77.0.1/24
	pa=$NIC_PID
	onic nicb "$nsb" "$MAC_B" 10.77.0.2/24 --no-offload
	wait_for "$T/nica.err" "link up.*large frames and checksum offloads on"
	wait_for "$T/nicb.err" "link up: slot [0-9]* served by bridge peer [0-9]*$"
	sha_over "$nsa" "$nsb" 10.77.0.2
	sha_over "$nsb" "$nsa" 10.77.0.1
	no_csum_errors "$nsa"
	no_csum_errors "$nsb"
	[ "$(nic_large nica "$pa")" -gt 0 ]
}

@test "doorbells: numbered frames both ways through SIGSTOP and SIGCONT; none stalls 1 s or comes out of order" {
	local n=${TM_DUPLEX_FRAMES:-2000000} pa pb p i=0
	start_server -f "$REGION"
	start_bridge -p "$SOCK" --full-wait 60000
	peer a "$MAC_A" --strict -w 600 run pause duplex "$MAC_B" "$n"
	pa=$BG_PID
	peer b "$MAC_B" --strict -w 600 run pause duplex "$MAC_A" "$n"
	pb=$BG_PID
	running a
	running b
	kill -USR1 "$pa" "$pb"
	while kill -0 "$pa" 2>/dev/null || kill -0 "$pb" 2>/dev/null; do
		case $((RANDOM % 3)) in
		0) p=$pa ;; 1) p=$pb ;; *) p=$BR_PID ;;
		esac
		sleep "0.$((RANDOM % 200 + 50))"
		kill -STOP "$p" 2>/dev/null || true
		sleep "0.$((RANDOM % 300))"
		kill -CONT "$p" 2>/dev/null || true
		i=$((i + 1))
	done
	echo "# $i stops" >&3
	wait "$pa"
	wait "$pb"
	grep -q "^duplex sent $n got $n$" "$T/a.out"
	grep -q "^duplex sent $n got $n$" "$T/b.out"
	# The doorbells were rung only to sleepers: most commits needed none.
	kill -USR1 "$BR_PID"
	wait_for "$STATUS" "bells_quiet [1-9]"
}

@test "idle: the bridge and two mqnic endpoints use at most 1% CPU over 10 s" {
	local t0 t1 p
	two_nics
	ip netns exec "$nsa" ping -c 1 -W 2 10.77.0.2
	sleep 1
	t0=0
	for p in "$BR_PID" "$NICA_PID" "$NICB_PID"; do
		t0=$((t0 + $(cpu_ticks "$p")))
	done
	sleep 10
	t1=0
	for p in "$BR_PID" "$NICA_PID" "$NICB_PID"; do
		t1=$((t1 + $(cpu_ticks "$p")))
	done
	echo "# bridge and two mqnic: $((t1 - t0)) ticks in 10 s" >&3
	# 1% of 10 s is 10 ticks of 10 ms.
	[ $((t1 - t0)) -le 10 ]
}

# old_bins: mqbridge and mqnic as built before features (the commit
# before the ring ABI gained them), built once into $TM_BUILD/old; their
# directory in $OLD.
OLD_REV=a4bae393366b23f14a541627816b2ad28d21dd22
old_bins() {
	OLD=$TM_BUILD/old
	[ -x "$OLD/bin/mqbridge" ] && [ -x "$OLD/bin/mqnic" ] && return 0
	git -C "$TM_TOP" cat-file -e "$OLD_REV^{commit}" 2>/dev/null ||
	    skip "the revision before features ($OLD_REV) is not in this repository"
	rm -rf "$OLD.src"
	mkdir -p "$OLD.src"
	git -C "$TM_TOP" archive "$OLD_REV" | tar -x -C "$OLD.src"
	nice -n 10 make -s -C "$OLD.src" -j2 O="$OLD" "$OLD/bin/mqbridge" \
	    "$OLD/bin/mqnic" >"$T/old-build.log" 2>&1 ||
	    { cat "$T/old-build.log" >&2; return 1; }
	rm -rf "$OLD.src"
}

@test "a bridge built before features carries TCP between two new mqnic endpoints" {
	need_mqnic
	need_net
	old_bins
	start_server -f "$REGION"
	BRIDGE=$OLD/bin/mqbridge start_bridge -p "$SOCK"
	nsa=$(netns a)
	nsb=$(netns b)
	onic nica "$nsa" "$MAC_A" 10.77.0.1/24
	onic nicb "$nsb" "$MAC_B" 10.77.0.2/24
	# No features from the old bridge: no large frames either way.
	wait_for "$T/nica.err" "link up: slot [0-9]* served by bridge peer [0-9]*$"
	wait_for "$T/nicb.err" "link up: slot [0-9]* served by bridge peer [0-9]*$"
	sha_over "$nsa" "$nsb" 10.77.0.2
	sha_over "$nsb" "$nsa" 10.77.0.1
	no_csum_errors "$nsa"
	no_csum_errors "$nsb"
}

@test "an mqnic built before features and a new one with offloads: TCP both ways through a new bridge" {
	local pa
	need_mqnic
	need_net
	old_bins
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	nsa=$(netns a)
	nsb=$(netns b)
	onic nica "$nsa" "$MAC_A" 10.77.0.1/24
	pa=$NIC_PID
	MQNIC=$OLD/bin/mqnic onic nicb "$nsb" "$MAC_B" 10.77.0.2/24
	wait_for "$T/nica.err" "link up.*large frames and checksum offloads on"
	wait_for "$T/nicb.err" "link up"
	sha_over "$nsa" "$nsb" 10.77.0.2
	sha_over "$nsb" "$nsa" 10.77.0.1
	no_csum_errors "$nsa"
	no_csum_errors "$nsb"
	# The new one sent whole segments; the bridge cut them for the old.
	[ "$(nic_large nica "$pa")" -gt 0 ]
	wait_drop bad_vnet 0
}
