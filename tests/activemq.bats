#!/usr/bin/env bats
# tests/activemq.bats - proves the ActiveMQ test harness against the real
# broker: tests/lib/activemq.bash (private brokers), tests/progs/stomp_cli.py
# (the independent STOMP 1.2 client) and tests/progs/fake_broker.py (the
# hostile one).  It tests no project binary.
#
# Two brokers are shared by the whole file (a start takes about 1 s):
#   b1  plain;
#   b2  a duplex network connector to b1, a user, a 4 KiB STOMP frame limit.
# Each test keeps its own files, fake brokers and extra brokers under $T,
# and teardown kills them; teardown_file kills b1 and b2.

load lib/activemq

PROGS=$BATS_TEST_DIRNAME/progs
CLI=$PROGS/stomp_cli.py

setup_file() {
	command -v python3 >/dev/null || { echo "python3 missing" >&2; return 1; }
	amq_install || return 1
	SHARED=$(mktemp -d /tmp/tm-amq.XXXXXX)
	export SHARED B1=$SHARED/b1 B2=$SHARED/b2
	export AMQ_REGISTRY=$SHARED/registry
	# Whatever started is killed here if the rest fails, in case bats
	# skips teardown_file after a failed setup_file.
	amq_start "$B1" b1 &&
		amq_start "$B2" b2 --network "$(amq_get "$B1" ow_port)" --duplex \
			--user alice:secret --max-frame 4096 ||
		{ amq_kill_all; return 1; }
}

teardown_file() {
	AMQ_REGISTRY=$SHARED/registry amq_kill_all
	rm -rf "$SHARED"
}

setup() {
	T=$(mktemp -d /tmp/tm-amq-t.XXXXXX)
	: >"$T/pids"
	# Brokers a test starts itself are killed by its own teardown.
	AMQ_REGISTRY=$T/registry
}

teardown() {
	local pid
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	for pid in $(cat "$T/pids"); do
		kill -TERM "$pid" 2>/dev/null
	done
	amq_kill_all
	rm -rf "$T"
}

# cli DIR ARGS...: stomp_cli.py against a broker (see amq_stomp).
cli() { amq_stomp "$@"; }

# fb_start ARGS...: fake_broker.py in the background; sets FB_PORT and
# FB_ERR (its log).  Each start has its own files, so that a port printed
# by an earlier fake broker of the same test is never read.
fb_start() {
	FB_N=$((${FB_N:-0} + 1))
	local out=$T/fb.$FB_N.out i
	FB_ERR=$T/fb.$FB_N.err
	: >"$out"
	python3 "$PROGS/fake_broker.py" "$@" >"$out" 2>"$FB_ERR" 3>&- &
	echo $! >>"$T/pids"
	for ((i = 0; i < 100; i++)); do
		FB_PORT=$(head -n 1 "$out")
		[ -n "$FB_PORT" ] && return 0
		sleep 0.05
	done
	echo "fake_broker did not start:" >&2
	cat "$FB_ERR" >&2
	return 1
}

@test "a binary body with NULs and LFs makes the round trip byte for byte" {
	local hex=000a0d0a5c3a00ff0a00
	run cli "$B1" send /queue/x --hex "$hex" --persistent --receipt
	[ "$status" -eq 0 ]
	run cli "$B1" recv /queue/x --count 1 --show content-length --show redelivered
	[ "$status" -eq 0 ]
	[ "$output" = "$hex content-length=10" ]
	# The same through files, with every byte value, and --out-dir.
	python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4)' >"$T/body"
	mkdir "$T/got"
	cli "$B1" send /queue/x --file "$T/body" --receipt
	run cli "$B1" recv /queue/x --out-dir "$T/got"
	[ "$status" -eq 0 ]
	cmp "$T/body" "$T/got/msg-0001.bin"
	[ "$(amq_queue_size "$B1" x)" -eq 0 ]
}

@test "amq_queue_size counts queued and in-flight messages" {
	cli "$B1" send /queue/size --hex 01 --count 3 --receipt
	[ "$(amq_queue_size "$B1" size)" -eq 3 ]
	[ "$(amq_queue_size "$B1" no.such.queue)" -eq 0 ]
	# A consumer holding one un-ACKed message: it is still counted.
	python3 "$CLI" --port "$(amq_get "$B1" stomp_port)" recv /queue/size \
		--count 0 --timeout 30 --prefetch 1 --ack client-individual \
		--no-ack >"$T/held" 3>&- &
	local held=$! i
	echo "$held" >>"$T/pids"
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/held" ] && break
		sleep 0.05
	done
	[ "$(wc -l <"$T/held")" -eq 1 ]
	[ "$(amq_queue_size "$B1" size)" -eq 3 ]
	# Its TCP connection closes with it: the held message is released.
	kill "$held"
	wait "$held" || true
	run cli "$B1" recv /queue/size --count 3 --timeout 10
	[ "$status" -eq 0 ]
	[ "$(amq_queue_size "$B1" size)" -eq 0 ]
}

@test "two brokers run at once on their own ports, joined by a duplex network connector" {
	local p1 p2
	p1=$(amq_get "$B1" stomp_port) p2=$(amq_get "$B2" stomp_port)
	[ "$p1" != "$p2" ]
	[ "$(amq_get "$B1" ow_port)" != "$(amq_get "$B2" ow_port)" ]
	# shellcheck disable=SC2154 # a per-name copy exported by amq_start
	[ "$AMQ_STOMP_PORT_b2" = "$p2" ]
	kill -0 "$(amq_get "$B1" pid)"
	kill -0 "$(amq_get "$B2" pid)"
	# Each way through the one duplex bridge.
	cli "$B1" send /queue/net.a --hex aa01 --persistent --receipt
	run cli "$B2" recv /queue/net.a --timeout 15
	[ "$status" -eq 0 ]
	[ "$output" = aa01 ]
	cli "$B2" send /queue/net.b --hex bb02 --persistent --receipt
	run cli "$B1" recv /queue/net.b --timeout 15
	[ "$status" -eq 0 ]
	[ "$output" = bb02 ]
}

@test "broker options: --user needs a login, --max-frame limits STOMP frames" {
	local port
	port=$(amq_get "$B2" stomp_port)
	run python3 "$CLI" --port "$port" send /queue/auth --hex 01
	[ "$status" -eq 2 ]
	[[ $output == *"password is invalid"* ]]
	run python3 "$CLI" --port "$port" --login alice --passcode wrong send /queue/auth --hex 01
	[ "$status" -eq 2 ]
	head -c 3000 /dev/zero >"$T/small"
	head -c 5000 /dev/zero >"$T/big"
	run cli "$B2" send /queue/frame --file "$T/small" --receipt
	[ "$status" -eq 0 ]
	run cli "$B2" send /queue/frame --file "$T/big" --receipt
	[ "$status" -eq 2 ]
	[[ $output == *"maximum frame size was exceeded"* ]]
}

@test "an un-ACKed message is redelivered when the consumer reconnects" {
	cli "$B1" send /queue/redo --hex 0102 --persistent --receipt
	run cli "$B1" recv /queue/redo --ack client-individual --no-ack \
		--show message-id --show redelivered
	[ "$status" -eq 0 ]
	local first=$output id
	id=${first#0102 message-id=}
	[ "$id" != "$first" ]
	run cli "$B1" recv /queue/redo --ack client-individual \
		--show message-id --show redelivered
	[ "$status" -eq 0 ]
	[ "$output" = "0102 message-id=$id redelivered=true" ]
	[ "$(amq_queue_size "$B1" redo)" -eq 0 ]
}

@test "a persistent message survives amq_stop and amq_start of the same dir" {
	local ow stomp pid
	ow=$(amq_get "$B1" ow_port) stomp=$(amq_get "$B1" stomp_port)
	pid=$(amq_get "$B1" pid)
	cli "$B1" send /queue/keep --hex c0ffee --persistent --receipt
	cli "$B1" send /queue/keep --hex dead --receipt # not persistent
	amq_stop "$B1"
	run kill -0 "$pid"
	[ "$status" -ne 0 ]
	run _amq_port_open "$stomp"
	[ "$status" -ne 0 ]
	# b1 belongs to the file, not to this test's teardown.
	AMQ_REGISTRY=$SHARED/registry amq_start "$B1"
	[ "$(amq_get "$B1" ow_port)" = "$ow" ]
	[ "$AMQ_STOMP_PORT" = "$stomp" ]
	[ "$AMQ_PID" != "$pid" ]
	run cli "$B1" recv /queue/keep --count 1
	[ "$status" -eq 0 ]
	[ "$output" = c0ffee ]
	# The non-persistent one lived in memory only.
	[ "$(amq_queue_size "$B1" keep)" -eq 0 ]
}

@test "fake_broker good mode records what stomp_cli sends and delivers with ACKs" {
	printf '/queue/in 00ff0a\n/queue/in 0a0a\n' >"$T/deliver"
	fb_start --record "$T/rec" --deliver "$T/deliver" --acks "$T/acks"
	run python3 "$CLI" --port "$FB_PORT" send /queue/out --hex 000a5c3a --persistent --receipt
	[ "$status" -eq 0 ]
	[ "$(cat "$T/rec")" = "/queue/out 000a5c3a" ]
	# No ACK, then a reconnect: both come again, redelivered.
	run python3 "$CLI" --port "$FB_PORT" recv /queue/in --count 2 \
		--ack client-individual --no-ack
	[ "$status" -eq 0 ]
	run python3 "$CLI" --port "$FB_PORT" recv /queue/in --count 2 \
		--ack client-individual --show redelivered --show ack
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "00ff0a redelivered=true ack=ID:fb-3-1" ]
	[ "${lines[1]}" = "0a0a redelivered=true ack=ID:fb-3-2" ]
	[ "$(cat "$T/acks")" = "ACK ID:fb-3-1 fb-msg-1
ACK ID:fb-3-2 fb-msg-2" ]
}

@test "fake_broker hostile modes: error, close --once, silent, malformed, oversize" {
	fb_start --mode error --on SEND --after 2 --record "$T/rec"
	run python3 "$CLI" --port "$FB_PORT" send /queue/e --hex 01 --count 2 --receipt
	[ "$status" -eq 2 ]
	[[ $output == *"ERROR"*"receipt-id=r-2"* ]]
	[ "$(wc -l <"$T/rec")" -eq 1 ]

	fb_start --mode close --once --record "$T/rec2"
	run python3 "$CLI" --port "$FB_PORT" send /queue/c --hex 01 --receipt
	[ "$status" -eq 3 ]
	run python3 "$CLI" --port "$FB_PORT" send /queue/c --hex 02 --receipt
	[ "$status" -eq 0 ]
	[ "$(cat "$T/rec2")" = "/queue/c 02" ]

	fb_start --mode silent --after 2
	run python3 "$CLI" --port "$FB_PORT" --timeout 0.5 send /queue/s --hex 01 --receipt
	[ "$status" -eq 1 ]
	[[ $output == *"no RECEIPT"* ]]

	local v
	for v in garbage escape length badlength hugelength; do
		fb_start --mode malformed --variant "$v" --on SUBSCRIBE
		run python3 "$CLI" --port "$FB_PORT" --timeout 2 recv /queue/m
		[ "$status" -eq 2 ]
		[[ $output == *"protocol error"* ]]
	done

	fb_start --mode oversize --size 5000 --on SUBSCRIBE
	run python3 "$CLI" --port "$FB_PORT" recv /queue/o --ack client-individual
	[ "$status" -eq 0 ]
	[ "${#output}" -eq $((5001 * 2)) ]
}
