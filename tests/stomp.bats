#!/usr/bin/env bats
# tests/stomp.bats - the STOMP 1.2 codec (mqbridge/relay/stomp.c) that the
# relay speaks to brokers with: the unit tests of tests/progs/stomp_test.c
# in this build's flavour, grouped by what they prove, and a short
# libFuzzer run of tests/fuzz/fuzz_stomp.c (clang; normal flavour only,
# since the fuzz binary is always ASan+UBSan instrumented).

FUZZ_SECONDS=20

setup() {
	TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	ST=${TM_BUILD:-$TOP/build}/tests/stomp_test
	T=$(mktemp -d /tmp/tm-stomp.XXXXXX)
}

teardown() {
	[ -n "${T:-}" ] && rm -rf "$T"
}

unit() {
	local t
	[ -x "$ST" ] || { echo "$ST missing; run make test-progs"; return 1; }
	run "$ST" "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	for t in "$@"; do
		grep -qx "ok $t" <<<"$output"
	done
}

@test "stomp: every unit test in stomp_test is run by this suite" {
	[ -x "$ST" ] || { echo "$ST missing; run make test-progs"; false; }
	for n in $("$ST" -l); do
		grep -Eq "^	unit .*\\b$n\\b" "$BATS_TEST_FILENAME" ||
			{ echo "stomp_test $n is not run by stomp.bats"; false; }
	done
}

@test "stomp: frames split at every byte, or several in one read, parse the same" {
	unit split_every_byte byte_at_a_time several_frames sticky_error midframe
}

@test "stomp: EOLs between frames are heart-beats, with LF or CRLF" {
	unit heartbeats_lf heartbeats_crlf crlf_lines
}

@test "stomp: bodies framed by content-length are binary; others end at NUL" {
	unit binary_body body_without_length missing_nul bad_length
}

@test "stomp: header escapes; an unknown escape is a protocol error; CONNECTED is raw" {
	unit escapes escape_unknown connected_raw first_header_wins header_no_colon bad_command
}

@test "stomp: caps on lines, headers, head size and body" {
	unit cap_line cap_headers cap_head cap_body init_limits
}

@test "stomp: a real ActiveMQ frame parses" {
	unit activemq_sample
}

@test "stomp: the encoder round-trips, escapes, and refuses what it cannot write" {
	unit encode_roundtrip encode_nolength encode_connect_raw encode_small encode_invalid strerror
}

@test "stomp: heart-beat values are strict and negotiated as the spec says" {
	unit heartbeat_parse heartbeat_negotiate
}

@test "stomp: libFuzzer finds nothing in the codec (${FUZZ_SECONDS} s)" {
	[ "${TM_FLAVOUR:-normal}" != asan ] ||
		skip "fuzz_stomp is always sanitized; it runs in the normal flavour"
	command -v clang >/dev/null ||
		skip "clang missing; apt-get install clang libclang-rt-14-dev"
	run make -s -C "$TOP" O="${TM_BUILD:-$TOP/build}" fuzz
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	mkdir "$T/corpus"
	run env -u ASAN_OPTIONS -u UBSAN_OPTIONS \
	    "${TM_BUILD:-$TOP/build}/fuzz/fuzz_stomp" \
	    -max_total_time=$FUZZ_SECONDS -rss_limit_mb=1024 \
	    -dict="$TOP/tests/fuzz/stomp.dict" \
	    -print_final_stats=1 -artifact_prefix="$T/" "$T/corpus"
	if [ "$status" -ne 0 ]; then
		tail -n 40 <<<"$output"
		for f in "$T"/crash-* "$T"/leak-* "$T"/timeout-*; do
			[ -e "$f" ] && { echo "input $f:"; od -An -tx1 "$f"; }
		done
		false
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' <<<"$output")
	echo "fuzz_stomp: $runs inputs"
	[ "${runs:-0}" -gt 10000 ]
}
