#!/usr/bin/env bats
# tests/lib_units.bats - the pieces of lib/ every daemon leans on: the one
# event loop (lib/evloop.c), doorbells no peer can block
# (lib/doorbell.c), and the service manager's protocol (lib/svc.c).  The unit tests of tests/progs/lib_test.c, one per
# bats test.

setup() {
	TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	LT=${TM_BUILD:-$TOP/build}/tests/lib_test
	[ -x "$LT" ] || { echo "$LT missing; run make test-progs"; return 1; }
}

unit() {
	run "$LT" "$1"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "ok $1" ]
}

@test "lib: every unit test in lib_test is run by this suite" {
	for n in $("$LT" -l); do
		grep -q "^	unit $n\$" "$BATS_TEST_FILENAME" ||
			{ echo "lib_test $n is not run here"; false; }
	done
}

@test "evloop: timers fire in due order; a stopped timer does not fire" {
	unit order
}

@test "evloop: a timer that re-arms itself cannot starve descriptors" {
	unit rearm_waits_a_turn
}

@test "evloop: a wait ends at the soonest timer" {
	unit wait_bounded_by_timer
}

@test "evloop: a handle stopped in a callback gets nothing more from the batch" {
	unit stop_inside_batch
}

@test "evloop: ev_io_set changes what a handle waits for" {
	unit io_set
}

@test "doorbell: a peer that clears O_NONBLOCK and fills the counter cannot block a ring" {
	unit doorbell_hostile
}

@test "svc: notifications reach the manager's socket, path or abstract; none without one" {
	unit svc_notify
}

@test "svc: LISTEN_FDS and WATCHDOG_USEC count only when their _PID is ours" {
	unit svc_env
}

@test "svc: WATCHDOG=1 at half the interval from the loop's timers, only while it turns" {
	unit svc_watchdog
}
