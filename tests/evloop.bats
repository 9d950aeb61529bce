#!/usr/bin/env bats
# tests/evloop.bats - the one event loop (lib/evloop.c) that every daemon
# runs: the unit tests of tests/progs/evloop_test.c, one per bats test.

setup() {
	TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	ET=${TM_BUILD:-$TOP/build}/tests/evloop_test
	[ -x "$ET" ] || { echo "$ET missing; run make test-progs"; return 1; }
}

unit() {
	run "$ET" "$1"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "ok $1" ]
}

@test "evloop: every unit test in evloop_test is run by this suite" {
	for n in $("$ET" -l); do
		grep -q "^	unit $n\$" "$BATS_TEST_FILENAME" ||
			{ echo "evloop_test $n is not run here"; false; }
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
