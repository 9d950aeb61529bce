#!/usr/bin/env bats
# tests/demo.bats - `make demo` as a newcomer runs it: two hosts, two
# brokers, an endpoint on each; a report; Ctrl-C (here DEMO_SECONDS) keeps
# the regions and the brokers' stores, and the next run delivers what
# waited on the brokers meanwhile.  Normal flavour only: the demo builds
# and runs the normal build.

setup() {
	TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	[ "${TM_FLAVOUR:-normal}" = normal ] ||
		skip "the demo runs the normal build; once is enough"
	[ "$(id -u)" -eq 0 ] || skip "the demo needs root"
	D=$(mktemp -d /tmp/tm-demo-test.XXXXXX)
}

teardown() {
	[ -n "${D:-}" ] || return 0
	AMQ_REGISTRY=$D/brokers bash -c ". '$TOP/tests/lib/activemq.bash'; amq_kill_all" 2>/dev/null
	rm -rf "$D"
}

@test "demo: two runs; the report; what waited on the brokers is delivered the second time" {
	run env DEMO_DIR="$D" DEMO_SECONDS=1 timeout 300 make -s -C "$TOP" demo
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"first ping across both brokers"* ]]
	grep -Eq 'ping host 1 -> host 2 \(20\) +[0-9.]+ ms avg' <<<"$output"
	grep -Eq 'TCP host 1 -> host 2 \(3 s\) +[0-9.]+ Mbit/s' <<<"$output"
	[[ "$output" == *"5 pings for it wait on the brokers"* ]]
	[ -s "$D/host1.region" ]
	run env DEMO_DIR="$D" DEMO_SECONDS=1 timeout 300 make -s -C "$TOP" demo
	echo "$output"
	[ "$status" -eq 0 ]
	n=$(sed -n 's/.*delivered at start *\([0-9]*\) frames.*/\1/p' <<<"$output")
	[ "${n:-0}" -ge 5 ]
	# Nothing else runs: brokers and daemons stopped.
	! pgrep -f "$D/" >/dev/null
}
