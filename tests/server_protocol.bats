#!/usr/bin/env bats
# tests/server_protocol.bats - what peers see on the wire: the byte-exact
# message sequence for 1, 2 and 3 peers with 1 and 3 vectors in both
# protocol formats, disconnect notices, ID allocation and reuse, and
# eventfds that really connect one peer's doorbell to another's vector.
# The peers are the real client tool (raw, info, wait, ring).

load lib/helpers

setup() {
	tm_setup
	need_client
}
teardown() { tm_teardown; }

# raw_peer NAME [-l]: a client printing every message it gets, until EOF.
# Each gets its own command line (-w) so that the server's "restarted
# peer gets its old ID" rule never applies between two of them.
PEER_SEQ=0
raw_peer() {
	local name=$1
	shift
	PEER_SEQ=$((PEER_SEQ + 1))
	bg "$name" "$CLI" -p "$SOCK" -w $((100000 + PEER_SEQ)) "$@" raw
}

# expect_seq N LEGACY IDS...: the lines a peer must have seen once peers
# with IDS (in order) are connected and it is one of them.
expect_seq() {
	local n=$1 legacy=$2 id i
	shift 2
	[ -n "$legacy" ] || msg 0 nofd
	msg "$SELF" nofd
	msg -1 fd
	for id in "$@"; do
		for ((i = 0; i < n; i++)); do
			msg "$id" fd
		done
	done
}

same() {
	if ! diff -u "$1" "$2" >&2; then
		echo "# $2 differs from the expected $1 (see diff above)" >&2
		return 1
	fi
}

# sequence N [-l]: three peers join one by one, the middle one leaves;
# every byte each of them received is compared.
sequence() {
	local n=$1 legacy=${2:-} hdr=3 lflag=()
	[ -n "$legacy" ] && { hdr=2; lflag=(-l); }
	start_server -f "$REGION" -n "$n" "${lflag[@]}"

	raw_peer a "${lflag[@]}"
	local a=$BG_PID
	wait_count "$T/a.out" ^msg $((hdr + n))
	SELF=0 expect_seq "$n" "$legacy" 0 >"$T/want"
	sleep 0.1
	same "$T/want" "$T/a.out"

	raw_peer b "${lflag[@]}"
	local b=$BG_PID
	wait_count "$T/b.out" ^msg $((hdr + 2 * n))
	wait_count "$T/a.out" ^msg $((hdr + 2 * n))
	sleep 0.1
	SELF=0 expect_seq "$n" "$legacy" 0 1 >"$T/want"
	same "$T/want" "$T/a.out"
	SELF=1 expect_seq "$n" "$legacy" 0 1 >"$T/want"
	same "$T/want" "$T/b.out"

	raw_peer c "${lflag[@]}"
	local c=$BG_PID
	wait_count "$T/c.out" ^msg $((hdr + 3 * n))
	wait_count "$T/a.out" ^msg $((hdr + 3 * n))
	wait_count "$T/b.out" ^msg $((hdr + 3 * n))
	SELF=0 expect_seq "$n" "$legacy" 0 1 2 >"$T/want.a"
	SELF=1 expect_seq "$n" "$legacy" 0 1 2 >"$T/want.b"
	SELF=2 expect_seq "$n" "$legacy" 0 1 2 >"$T/want.c"

	# Peer 1 leaves: the others get its ID, once, without an fd.
	kill -TERM "$b"
	wait_count "$T/a.out" ^msg $((hdr + 3 * n + 1))
	wait_count "$T/c.out" ^msg $((hdr + 3 * n + 1))
	msg 1 nofd >>"$T/want.a"
	msg 1 nofd >>"$T/want.c"
	# Stopping the server ends the raw peers at EOF: nothing more came.
	stop_server
	[ "$SRV_STATUS" -eq 0 ]
	wait_gone "$a"
	wait_gone "$c"
	same "$T/want.a" "$T/a.out"
	same "$T/want.b" "$T/b.out"
	same "$T/want.c" "$T/c.out"
}

@test "byte-exact sequence, 1 to 3 peers, 1 vector (version 0)" {
	sequence 1
}

@test "byte-exact sequence, 1 to 3 peers, 3 vectors (version 0)" {
	sequence 3
}

@test "byte-exact sequence, 1 to 3 peers, 1 vector, pre-2.5 protocol (-l): no version message" {
	sequence 1 legacy
}

@test "byte-exact sequence, 1 to 3 peers, 3 vectors, pre-2.5 protocol (-l)" {
	sequence 3 legacy
}

@test "info: version, own ID, region size and the other peers" {
	start_server -f "$REGION" -m 2M -n 2
	raw_peer a
	wait_count "$T/a.out" ^msg 5
	run cli -n 2 info
	[ "$status" -eq 0 ]
	[ "$output" = "version 0
id 1
size 2097152
peer 0 vectors 2" ]
}

@test "a client that expects v0 is refused by a -l server, and the reverse" {
	start_server -f "$REGION" -l
	run cli -w 5 info
	[ "$status" -eq 2 ]
	run cli -w 5 -l info
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "id 0" ]
}

# ids_of NAME...: the ID each raw peer got (its second, or first with -l,
# nofd message, decoded).
id_of() {
	local hex
	hex=$(sed -n 2p "$T/$1.out" | cut -d' ' -f2)
	echo $((16#${hex:2:2}${hex:0:2}))
}

@test "IDs: lowest free first, and a freed ID is reused" {
	start_server -f "$REGION"
	local p
	for p in a b c; do
		raw_peer $p
		wait_count "$T/$p.out" ^msg 4
		eval "pid_$p=$BG_PID"
	done
	[ "$(id_of a)" -eq 0 ]
	[ "$(id_of b)" -eq 1 ]
	[ "$(id_of c)" -eq 2 ]
	kill "$pid_b"
	wait_for "$SRV_LOG" "peer 1 disconnected"
	run cli -w 11 info
	[ "${lines[1]}" = "id 1" ]
	kill "$pid_a"
	wait_for "$SRV_LOG" "peer 0 disconnected"
	run cli -w 12 info
	[ "${lines[1]}" = "id 0" ]
	raw_peer d
	wait_count "$T/d.out" ^msg 5
	[ "$(id_of d)" -eq 0 ]
	raw_peer e
	wait_count "$T/e.out" ^msg 6
	[ "$(id_of e)" -eq 1 ]
	raw_peer f
	wait_count "$T/f.out" ^msg 7
	[ "$(id_of f)" -eq 3 ]
}

@test "IDs: a restarted peer (same uid and command line) gets its old ID back" {
	chmod 0755 "$T"	# nobody connects at the end
	start_server -f "$REGION" -S 0666
	# -w makes the command lines differ; "raw" keeps each peer connected.
	bg a "$CLI" -p "$SOCK" -w 1001 raw
	local a=$BG_PID
	wait_count "$T/a.out" ^msg 4
	bg b "$CLI" -p "$SOCK" -w 1002 raw
	local b=$BG_PID
	wait_count "$T/b.out" ^msg 5
	[ "$(id_of a)" -eq 0 ]
	[ "$(id_of b)" -eq 1 ]
	kill "$a" "$b"
	wait_for "$SRV_LOG" "peer 0 disconnected"
	wait_for "$SRV_LOG" "peer 1 disconnected"
	# b comes back: 1 although 0 is free.
	bg b2 "$CLI" -p "$SOCK" -w 1002 raw
	wait_count "$T/b2.out" ^msg 4
	[ "$(id_of b2)" -eq 1 ]
	# A newcomer takes the lowest free, 0.
	bg n "$CLI" -p "$SOCK" -w 1003 raw
	wait_count "$T/n.out" ^msg 5
	[ "$(id_of n)" -eq 0 ]
	# a comes back while its old ID is taken: lowest free.
	bg a2 "$CLI" -p "$SOCK" -w 1001 raw
	wait_count "$T/a2.out" ^msg 6
	[ "$(id_of a2)" -eq 2 ]
	# The same command line run by another user is not the same peer.
	kill "$BG_PID"
	wait_for "$SRV_LOG" "peer 2 disconnected"
	bg x setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$CLI" -p "$SOCK" -w 1001 raw
	wait_count "$T/x.out" ^msg 6
	[ "$(id_of x)" -eq 2 ]
}

@test "an eventfd handed to peer A rings peer B's vector (3 vectors, both ways)" {
	start_server -f "$REGION" -n 3
	bg b "$CLI" -p "$SOCK" -n 3 -w 20 wait 2 1
	wait_for "$T/b.out" '^ready$'
	run cli -n 3 info
	local bid
	bid=$(sed -n 's/^peer \([0-9]*\) vectors 3$/\1/p' <<<"$output")
	[ "$bid" = 0 ]
	# Vectors 0 and 1 of B are other eventfds: B keeps waiting.
	run cli -n 3 ring 0 0
	[ "$status" -eq 0 ]
	[ "$output" = "rang 0 0" ]
	run cli -n 3 ring 0 1 3
	[ "$output" = "rang 0 1" ]
	sleep 0.3
	absent "rung 2" "$T/b.out"
	run cli -n 3 ring 0 2
	[ "$output" = "rang 0 2" ]
	wait_for "$T/b.out" '^rung 2 1$'
	# And back: B rings A's vector 1.
	bg a "$CLI" -p "$SOCK" -n 3 -w 20 wait 1 2
	wait_for "$T/a.out" '^ready$'
	run cli -n 3 info
	local aid
	aid=$(sed -n 's/^peer \([0-9]*\) vectors 3$/\1/p' <<<"$output" | tail -n1)
	[ -n "$aid" ]
	run cli -n 3 ring "$aid" 1 2
	[ "$status" -eq 0 ]
	wait_for "$T/a.out" '^rung 1 2$'
}

@test "a newcomer gets no vectors of a peer that left (ring exits 2)" {
	start_server -f "$REGION"
	# One at a time, so that a, b and c get IDs 0, 1 and 2.
	raw_peer a
	local a=$BG_PID
	wait_count "$T/a.out" ^msg 3
	raw_peer b
	local b=$BG_PID
	wait_count "$T/b.out" ^msg 3
	raw_peer c
	wait_count "$T/c.out" ^msg 6
	kill "$a" "$b"
	wait_for "$SRV_LOG" "peer 1 disconnected"
	wait_for "$SRV_LOG" "peer 0 disconnected"
	run cli -w 1 ring 1 0
	[ "$status" -eq 2 ]
	run cli -w 1 ring 2 0
	[ "$status" -eq 0 ]
	[ "$output" = "rang 2 0" ]
}

# The server never tells a QEMU-like peer (here tests/region_peer, whose
# name is none of our tools') that a peer left: QEMU frees its record of
# the peer and crashes when the ID comes back.  A newcomer that takes the
# ID gets the very eventfds QEMU holds for it, and QEMU is not told again.
@test "a QEMU-like peer is never told of a departure; its doorbell reaches whoever took the ID" {
	start_server -f "$REGION"
	bg w "$RPEER" -p "$SOCK" watch 2
	local w=$BG_PID
	wait_for "$T/w.out" "^connect 0$"
	bg m "$CLI" -p "$SOCK" -w 0 monitor
	wait_for "$T/m.out" '^ready$'
	raw_peer a
	local a=$BG_PID
	wait_for "$T/m.out" "^connect 2 vector 0$"
	wait_for "$T/w.out" "^connect 2$"
	kill "$a"
	wait_for "$T/m.out" "^disconnect 2$"
	# b takes ID 2, and a's eventfds with it.
	bg b "$CLI" -p "$SOCK" -w 20 wait 0 1
	wait_for "$T/b.out" '^ready$'
	[ "$(grep -c "peer 2 connected" "$SRV_LOG")" -eq 2 ]
	wait_count "$T/m.out" "^connect 2 vector 0$" 2
	# Our tool heard both; the QEMU-like peer heard neither ...
	[ "$(cat "$T/w.out")" = "id 0
size 4194304
ready
connect 0
connect 1
connect 2" ]
	# ... and the eventfd it holds for ID 2 rings b.
	kill -USR1 "$w"
	wait_for "$T/w.out" "^rang 2$"
	wait_for "$T/b.out" '^rung 0 1$'
}
