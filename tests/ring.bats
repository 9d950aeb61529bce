#!/usr/bin/env bats
# tests/ring.bats - the NIC ring ABI (mqbridge/ring.h): the unit tests of
# tests/ring_test.c in this build's flavour, one group per test, and a
# short libFuzzer run of tests/fuzz/fuzz_ring.c (clang; normal flavour only,
# since the fuzz binary is always ASan+UBSan instrumented).

FUZZ_SECONDS=20

setup() {
	TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	RT=${TM_BUILD:-$TOP/build}/tests/ring_test
	T=$(mktemp -d /tmp/tm-ring.XXXXXX)
	export TMPDIR=$T
}

teardown() {
	[ -n "${T:-}" ] && rm -rf "$T"
}

# Run the named unit tests; each must report "ok NAME".
unit() {
	local t
	[ -x "$RT" ] || { echo "$RT missing; run make test-progs"; return 1; }
	run "$RT" "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	for t in "$@"; do
		grep -qx "ok $t" <<<"$output"
	done
}

@test "ring: every unit test in ring_test is run by this suite" {
	[ -x "$RT" ] || { echo "$RT missing; run make test-progs"; false; }
	names=$("$RT" -l)
	[ -n "$names" ]
	for n in $names; do
		grep -Eq "^	unit .*\\b$n\\b" "$BATS_TEST_FILENAME" ||
			{ echo "ring_test $n is not run by ring.bats"; false; }
	done
}

@test "ring: geometry matches the layout documented in docs/ring-abi.md" {
	unit layout
	# The worked example's numbers appear in the document as well.
	for n in 896 2944 4992 398208 794624 798720; do
		grep -q "$n" "$TOP/docs/ring-abi.md" ||
			{ echo "docs/ring-abi.md lacks $n"; false; }
	done
}

@test "ring: a formatted area is kept; force makes a new generation" {
	unit format_keep
}

@test "ring: format refuses foreign data and writes only inside its area" {
	unit format_confined
}

@test "ring: corrupt, misplaced or mismatched headers are refused" {
	unit hostile_header
}

@test "ring: frames up to MTU 1500 and 9000 make the round trip" {
	unit frame_1500 frame_9000
}

@test "ring: a full ring, and free-running indices across 2^32" {
	unit full_and_wrap
}

@test "ring: garbage indices are clamped, reported, and repaired" {
	unit hostile_index
}

@test "ring: descriptors with bad length, offset or flags are refused" {
	unit hostile_desc
}

@test "ring: slot state, peer, vector and MAC words are checked" {
	unit hostile_slot_words
}

@test "ring: a private ring may allow descriptor flags, a slot none; a consumer can free late" {
	unit flags_and_lag
}

@test "ring: the uplink's control messages are believed only whole and typed" {
	unit uplink_ctl
}

@test "ring: random scribbles never make us touch outside the slot" {
	unit confined
}

@test "ring: slot claim, release and reclaim" {
	unit claim
}

@test "ring: the reset/init/ready/run state machine" {
	unit states
}

@test "ring: need-wakeup flag" {
	unit wakeup
}

@test "ring: queued frames survive SIGKILL of the NIC and of the bridge" {
	unit crash_resume
}

@test "ring: two processes hand over every byte of 50000 frames" {
	unit two_process
}

@test "ring: libFuzzer finds nothing in the ring checks (${FUZZ_SECONDS} s)" {
	[ "${TM_FLAVOUR:-normal}" != asan ] ||
		skip "fuzz_ring is always sanitized; it runs in the normal flavour"
	command -v clang >/dev/null ||
		skip "clang missing; apt-get install clang libclang-rt-14-dev"
	run make -s -C "$TOP" O="${TM_BUILD:-$TOP/build}" fuzz
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	mkdir "$T/corpus"
	run env -u ASAN_OPTIONS -u UBSAN_OPTIONS \
	    "${TM_BUILD:-$TOP/build}/fuzz/fuzz_ring" \
	    -max_total_time=$FUZZ_SECONDS -rss_limit_mb=1024 \
	    -print_final_stats=1 -artifact_prefix="$T/" "$T/corpus"
	if [ "$status" -ne 0 ]; then
		tail -n 40 <<<"$output"
		for f in "$T"/crash-* "$T"/leak-* "$T"/timeout-*; do
			[ -e "$f" ] && { echo "input $f:"; od -An -tx1 "$f"; }
		done
		false
	fi
	# It really ran: a healthy run does tens of thousands of inputs.
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' <<<"$output")
	echo "fuzz_ring: $runs inputs"
	[ "${runs:-0}" -gt 10000 ]
}
