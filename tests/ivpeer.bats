#!/usr/bin/env bats
# tests/ivpeer.bats - the one greeting reader (lib/greet): its unit tests
# (tests/progs/ivpeer_test.c), then a fake server (ivpeer_test serve)
# that sends each greeting a server can get wrong to every program that
# reads one: the client tool, peerstorm (thousands of non-blocking
# sockets) and lib/ivpeer (mqbridge's and mqnic's joiner, driven by
# ivpeer_test join).  Each refuses in the same one line.

load lib/helpers

IT=$TM_BUILD/tests/ivpeer_test

setup() {
	[ -x "$IT" ] || { echo "$IT missing; run make test-progs"; return 1; }
	tm_setup
}
teardown() { tm_teardown; }

unit() {
	run "$IT" "$1"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "ok $1" ]
}

# fake TOKEN...: a fake server on $FAKE that greets one peer with TOKENs.
FAKE_N=0
fake() {
	FAKE_N=$((FAKE_N + 1))
	FAKE=$T/fake$FAKE_N.sock
	bg "fake$FAKE_N" "$IT" serve "$FAKE" "$@"
	wait_for "$T/fake$FAKE_N.out" '^listening$'
}

# refuses STATUS LINE CMD...: CMD exits STATUS and its last line is LINE.
refuses() {
	local want=$1 line=$2
	shift 2
	run timeout 20 "$@"
	echo "# $*: status $status: $output" >&2
	[ "$status" -eq "$want" ]
	[ "${lines[${#lines[@]} - 1]}" = "$line" ]
}

# every REASON TOKEN...: the client (info), peerstorm (cycles, through
# epoll) and ivpeer each refuse that greeting with REASON.
every() {
	local reason=$1
	shift
	fake "$@"
	refuses 2 "tm_ivshmem_client: error: $reason" "$CLI" -p "$FAKE" -w 5 info
	fake "$@"
	refuses 2 "peerstorm: $reason" "$STORM" -p "$FAKE" -w 5 cycles 1
	fake "$@"
	refuses 1 "ivpeer_test: error: $reason" "$IT" join "$FAKE" 1
}

SERVER_FIX="is that socket an ivshmem server's? see its log"

@test "ivpeer: every unit test in ivpeer_test is run by this suite" {
	for n in $("$IT" -l); do
		grep -q "^	unit $n\$" "$BATS_TEST_FILENAME" ||
			{ echo "ivpeer_test $n is not run here"; false; }
	done
}

@test "greet: a whole v0 greeting, counted per peer: departures, rejoins, the last ID" {
	unit v0_sequence
}

@test "greet: the pre-2.5 greeting has no version message" {
	unit legacy_sequence
}

@test "greet: without a count table the state is small and only our own vectors are limited" {
	unit uncounted
}

@test "greet: a version other than 0, or one with a descriptor, is refused naming the fix" {
	unit version
}

@test "greet: IDs out of range, with a descriptor, or the region where an ID belongs are refused" {
	unit id
}

@test "greet: the region must be -1 with a descriptor of a non-empty file" {
	unit region
}

@test "greet: after the region, a second region, a bad ID, our own departure and a vector too many are refused" {
	unit peers
}

@test "greet: the end of the connection gets a reason naming what was missing" {
	unit eof
}

@test "greet: greet_recv reads through send_scm; EBADMSG for a violation, a reason for every end" {
	unit recv
}

@test "every reader: a version other than 0 is refused in one line naming -l" {
	fake 7
	refuses 2 "tm_ivshmem_client: error: server sent version 7, expecting 0; is it running with -l (pre-2.5 protocol)? then pass -l" \
	    "$CLI" -p "$FAKE" -w 5 info
	fake 7
	refuses 2 "peerstorm: server sent version 7, expecting 0; is it running with -l (pre-2.5 protocol)? then pass -l" \
	    "$STORM" -p "$FAKE" -w 5 cycles 1
	# mqbridge and mqnic have no -l: the fix is on the server's side.
	fake 7
	refuses 1 "ivpeer_test: error: server sent version 7, expecting 0; is it running with -l (pre-2.5 protocol)? then start it without -l" \
	    "$IT" join "$FAKE" 1
}

@test "every reader: a -l reader on a version-0 server is told to drop -l" {
	fake 0 1 -1:region 0:efd
	refuses 2 "tm_ivshmem_client: error: server sent 1 alone where the region (-1 with a descriptor) belongs; if it speaks version 0, drop -l" \
	    "$CLI" -p "$FAKE" -w 5 -l info
	fake 0 1 -1:region 0:efd
	refuses 2 "peerstorm: peer 0: server sent 1 alone where the region (-1 with a descriptor) belongs; if it speaks version 0, drop -l" \
	    "$STORM" -p "$FAKE" -w 5 -l cycles 1
}

@test "every reader: a descriptor where none is due (with the version, with our ID) is refused" {
	every "server sent 0 with a descriptor where the version (0, alone) belongs; $SERVER_FIX" 0:efd
	every "server sent 3 with a descriptor where an ID (0 to 65535, alone) belongs; $SERVER_FIX" 0 3:efd
}

@test "every reader: an ID out of range is refused" {
	every "server sent 65536 alone where an ID (0 to 65535, alone) belongs; $SERVER_FIX" 0 65536
	every "server sent -5 alone where an ID (0 to 65535, alone) belongs; $SERVER_FIX" 0 -5
}

@test "every reader: a region that is a pipe, or empty, is refused" {
	local why="server sent a region descriptor that is not a file or shm object, or is empty; check the server's -f, -s and -m"
	fake 0 0 -1:pipe 0:efd
	refuses 2 "tm_ivshmem_client: error: $why" "$CLI" -p "$FAKE" -w 5 info
	fake 0 0 -1:pipe 0:efd
	refuses 2 "peerstorm: peer 0: $why" "$STORM" -p "$FAKE" -w 5 cycles 1
	fake 0 0 -1:empty 0:efd
	refuses 2 "peerstorm: peer 0: $why" "$STORM" -p "$FAKE" -w 5 cycles 1
	fake 0 0 -1:pipe 0:efd
	refuses 1 "ivpeer_test: error: $why" "$IT" join "$FAKE" 1
	fake 0 0 -1:empty 0:efd
	refuses 1 "ivpeer_test: error: $why" "$IT" join "$FAKE" 1
}

@test "every reader: the server announcing our own departure is refused" {
	local why="server announced that we, peer 0, left; $SERVER_FIX"
	fake 0 0 -1:region 0:efd 0
	refuses 2 "tm_ivshmem_client: error: $why" "$CLI" -p "$FAKE" -w 5 monitor
	fake 0 0 -1:region 0:efd 0
	refuses 2 "peerstorm: peer 0: $why" "$STORM" -p "$FAKE" -w 5 hold 1
	fake 0 0 -1:region 0:efd 0
	refuses 1 "ivpeer_test: error: $why" "$IT" join "$FAKE" 1
}

@test "every reader: more vectors than -n are refused (ours everywhere, another peer's where counted)" {
	local why="server sent peer 0 more than 1 vectors; does its -n match ours?"
	fake 0 0 -1:region 0:efd 0:efd
	refuses 2 "tm_ivshmem_client: error: $why" "$CLI" -p "$FAKE" -w 5 monitor
	fake 0 0 -1:region 0:efd 0:efd
	refuses 2 "peerstorm: peer 0: $why" "$STORM" -p "$FAKE" -w 5 hold 1
	fake 0 0 -1:region 0:efd 0:efd
	refuses 1 "ivpeer_test: error: $why" "$IT" join "$FAKE" 1
	# The client and ivpeer keep a table of every peer's vectors.
	why="server sent peer 5 more than 1 vectors; does its -n match ours?"
	fake 0 0 -1:region 5:efd 5:efd 0:efd
	refuses 2 "tm_ivshmem_client: error: $why" "$CLI" -p "$FAKE" -w 5 info
	fake 0 0 -1:region 5:efd 5:efd 0:efd
	refuses 1 "ivpeer_test: error: $why" "$IT" join "$FAKE" 1
}

@test "every reader: a hang-up mid-greeting is refused, naming what was missing" {
	fake 0 0
	refuses 2 "tm_ivshmem_client: error: server closed the connection before sending the region; see its log" \
	    "$CLI" -p "$FAKE" -w 5 info
	fake 0 0
	refuses 1 "ivpeer_test: error: server closed the connection before sending the region; see its log" \
	    "$IT" join "$FAKE" 1
	# peerstorm names the cycle that failed.
	fake 0 0
	refuses 2 "peerstorm: peer 0: server hung up before the greeting was complete (cycle 1)" \
	    "$STORM" -p "$FAKE" -w 5 cycles 1
	fake 0 0 -1:region 3:efd
	refuses 1 "ivpeer_test: error: server closed the connection before sending our vectors (got 0 of 1; is -n the server's -n?)" \
	    "$IT" join "$FAKE" 1
}

@test "ivpeer: a server that stops inside a message cannot hold the joiner past its timeout" {
	fake 0 0 -1:region half hold
	local t0=$SECONDS
	refuses 1 "ivpeer_test: error: server sent nothing for 2000 ms while we waited for our vectors (got 0 of 1; is -n the server's -n?); check the server" \
	    "$IT" join "$FAKE" 1
	[ $((SECONDS - t0)) -lt 10 ]
	fake 0 0 -1:region half hold
	refuses 3 "tm_ivshmem_client: error: timed out after 2 s waiting for our vectors (got 0 of 1; is -n the server's -n?); raise -w (0 waits forever) or check the server" \
	    "$CLI" -p "$FAKE" -w 2 info
}
