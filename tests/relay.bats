#!/usr/bin/env bats
# tests/relay.bats - the broker relay (mqrelay) against a real ActiveMQ,
# driven through its uplink by tests/progs/uplink_drive, which plays the
# bridge with the bridge's own uplink code.  What reaches the broker is
# read, and what is put on it is written, by tests/progs/stomp_cli.py, a
# STOMP client independent of the relay's code.  docs/broker-format.md
# is the contract these tests hold the relay to.

load lib/helpers
load lib/relay_helpers

setup_file() { relay_file_setup; }
teardown_file() { relay_file_teardown; }
setup() { relay_setup; }
teardown() { relay_teardown; }

MAC2=02:00:00:00:00:02
Q2() { echo "/queue/$PREFIX.020000000002"; }

@test "relay: a frame for a MAC lands in its queue byte for byte, with the documented headers" {
	drive_start --broker "stomp://127.0.0.1:$PORT1"
	drive send 5b0e6c1f02d3a4e7 1042 "$FRAME_12"
	drive drain 5000
	grep -qx drained "$T/drive.last"
	run stomp recv "$(Q2)" --count 1 --timeout 5 --show content-type \
		--show x-mq-origin --show x-mq-seq --show x-mq-bridge \
		--show persistent --show content-length
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "$FRAME_12 "* ]]
	[[ "$output" == *"content-type=application/octet-stream"* ]]
	[[ "$output" == *"x-mq-origin=5b0e6c1f02d3a4e7"* ]]
	[[ "$output" == *"x-mq-seq=1042"* ]]
	[[ "$output" =~ x-mq-bridge=[0-9a-f]{16} ]]
	[[ "$output" == *"content-length=36"* ]]
}

@test "relay: broadcast goes to the topic; a frame SENT by a third party reaches the bridge" {
	drive_start --broker "stomp://127.0.0.1:$PORT1"
	drive sub $MAC2
	# A listener on the topic, then the broadcast.
	bg topic python3 "$STOMP_CLI" --port "$PORT1" recv \
		"/topic/$PREFIX.broadcast" --count 1 --timeout 10
	sleep 1
	drive send 00000000000000a1 1 "$FRAME_BC"
	wait_for "$T/topic.out" "^$FRAME_BC\$" 10
	# A third party's frame for our MAC, without any x-mq header.
	stomp send "$(Q2)" --hex "$FRAME_12"
	drive recv 1 5000
	grep -qx "frame [0-9]* $FRAME_12" "$T/drive.last"
	# Our own broadcast did not come back to us.
	absent "$FRAME_BC" "$T/drive.last"
}

@test "relay: a frame the slot cannot take is not ACKed; it is offered again until placed" {
	drive_start --broker "stomp://127.0.0.1:$PORT1"
	drive sub $MAC2
	drive policy full
	stomp send "$(Q2)" --hex "$FRAME_12"
	drive recv 3 5000
	[ "$(grep -c "^frame .* $FRAME_12\$" "$T/drive.last")" -ge 3 ]
	drive policy ok
	drive recv 1 5000
	grep -q "$FRAME_12" "$T/drive.last"
	[ "$(drive_stat refused_full)" -ge 3 ]
	# Placed means ACKed: nothing is left on the broker.
	[ "$(amq_queue_size "$AMQ_SHARED/b1" "$PREFIX.020000000002")" = 0 ]
}

@test "relay: a frame for a MAC that left is given back, not ACKed: the next consumer gets it" {
	drive_start --broker "stomp://127.0.0.1:$PORT1"
	drive sub $MAC2
	drive policy gone
	stomp send "$(Q2)" --hex "$FRAME_12"
	drive recv 1 5000
	grep -q "$FRAME_12" "$T/drive.last"
	drive unsub $MAC2
	run stomp recv "$(Q2)" --count 1 --timeout 5
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$FRAME_12" ]
}

@test "relay: a frame seen twice from one origin is delivered once and counted" {
	drive_start --broker "stomp://127.0.0.1:$PORT1"
	drive sub $MAC2
	for i in 1 2; do
		stomp send "$(Q2)" --hex "$FRAME_12" --header x-mq-origin:00000000000000d1 \
			--header x-mq-seq:77
	done
	stomp send "$(Q2)" --hex "$FRAME_12" --header x-mq-origin:00000000000000d1 \
		--header x-mq-seq:78
	drive recv 3 4000
	grep -qx "got 2" "$T/drive.last"
	[ "$(drive_stat duplicates)" = 1 ]
	[ "$(amq_queue_size "$AMQ_SHARED/b1" "$PREFIX.020000000002")" = 0 ]
}

@test "relay: frames that break the format are dropped, counted and ACKed" {
	drive_start --broker "stomp://127.0.0.1:$PORT1"
	drive sub $MAC2
	# Wrong destination MAC, too short, a broken pack.
	stomp send "$(Q2)" --hex "${FRAME_12/#020000000002/020000000003}"
	stomp send "$(Q2)" --hex 0200000000020200
	stomp send "$(Q2)" --hex 0100aa --header content-type:application/vnd.tm-mqnic.frames
	stomp send "$(Q2)" --hex "$FRAME_12"
	drive recv 4 4000
	grep -qx "got 1" "$T/drive.last"
	[ "$(drive_stat dropped)" = 3 ]
	[ "$(amq_queue_size "$AMQ_SHARED/b1" "$PREFIX.020000000002")" = 0 ]
}

@test "relay: --aggregate packs consecutive frames of one origin; the receiver unpacks them" {
	drive_start --broker "stomp://127.0.0.1:$PORT1" --aggregate 4 --linger 100000
	# Back to back: the pack of four goes at once, the fifth after the
	# linger.
	drive_many "send 00000000000000b1 1 $FRAME_12" \
		"send 00000000000000b1 2 $FRAME_12" \
		"send 00000000000000b1 3 $FRAME_12" \
		"send 00000000000000b1 4 $FRAME_12" \
		"send 00000000000000b1 5 $FRAME_12"
	drive drain 5000
	run stomp recv "$(Q2)" --count 2 --timeout 5 --show content-type \
		--show x-mq-count --show x-mq-seq --no-ack
	echo "$output"
	[ "$status" -eq 0 ]
	one=$(printf '0024%s' "$FRAME_12")
	[[ "${lines[0]}" == "$one$one$one$one content-type=application/vnd.tm-mqnic.frames x-mq-count=4 x-mq-seq=1" ]]
	[[ "${lines[1]}" == "$FRAME_12 content-type=application/octet-stream x-mq-seq=5" ]]
	# Our own subscription unpacks them into five frames.
	drive sub $MAC2
	drive recv 5 5000
	grep -qx "got 5" "$T/drive.last"
}

@test "relay: persistent mode frees a frame only once the broker receipted it" {
	drive_start --broker "stomp://127.0.0.1:$PORT1" --persistent --heartbeat 1000
	drive send 00000000000000c1 1 "$FRAME_12"
	drive drain 5000
	grep -qx drained "$T/drive.last"
	amq_stop "$AMQ_SHARED/b1"
	for i in 2 3 4; do
		drive send 00000000000000c1 $i "$FRAME_12"
	done
	drive drain 2000
	grep -qx "pending 3" "$T/drive.last"
	amq_start "$AMQ_SHARED/b1"
	DRIVE_WAIT=60 drive drain 40000
	grep -qx drained "$T/drive.last"
	run stomp recv "$(Q2)" --count 4 --timeout 5 --show x-mq-seq
	echo "$output"
	[ "$status" -eq 0 ]
	for i in 1 2 3 4; do
		grep -q "x-mq-seq=$i\$" <<<"$output"
	done
}

@test "relay: it runs unprivileged and holds no region" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to drop to nobody"
	drive_start --broker "stomp://127.0.0.1:$PORT1"
	wait_for "$T/drive.err" "relay ready"
	pid=$(pgrep -P "$DRIVE_PID" mqrelay)
	[ -n "$pid" ]
	[ "$(awk '/^Uid:/ { print $2 }' /proc/$pid/status)" = \
		"$(id -u nobody)" ]
	absent 'region' /proc/$pid/maps
	[ "$(awk '/^NoNewPrivs:/ { print $2 }' /proc/$pid/status)" = 1 ]
}

@test "relay: a relay killed with -9 is started again, and nothing un-receipted is lost" {
	drive_start --broker "stomp://127.0.0.1:$PORT1" --persistent
	drive send 00000000000000e1 1 "$FRAME_12"
	drive drain 5000
	drive kill
	for i in 2 3; do
		drive send 00000000000000e1 $i "$FRAME_12"
	done
	DRIVE_WAIT=40 drive drain 30000
	grep -qx drained "$T/drive.last"
	wait_for "$T/drive.err" "relay: starting again"
	run stomp recv "$(Q2)" --count 3 --timeout 5 --show x-mq-seq
	[ "$status" -eq 0 ]
}

# Five numbered frames in persistent mode through a broker that misbehaves
# on the first connection; all five must reach the good second one.
hostile() {
	fake fb "$@" --once --record "$T/record"
	drive_start --broker "stomp://127.0.0.1:$FAKE_PORT" --persistent \
		--heartbeat 0
	for i in 1 2 3 4 5; do
		drive send 00000000000000f1 $i "$(frame_n $i)"
	done
	DRIVE_WAIT=40 drive drain 30000
	grep -qx drained "$T/drive.last"
	for i in 1 2 3 4 5; do
		grep -q " $(frame_n $i)\$" "$T/record" ||
			{ echo "frame $i lost"; cat "$T/record"; false; }
	done
}

@test "relay: a broker that sends ERROR mid-stream: logged, reconnected, nothing lost" {
	hostile --mode error --after 3 --on SEND
	grep -q 'ERROR from the broker' "$T/drive.err"
	grep -q 'SENDs were not receipted; they go again' "$T/drive.err"
}

@test "relay: a broker that closes the connection mid-stream: reconnected, nothing lost" {
	hostile --mode close --after 2 --on SEND --rst
	grep -q 'session lost' "$T/drive.err"
}

@test "relay: a malformed frame from the broker ends the session; nothing lost" {
	hostile --mode malformed --variant escape --after 2 --on SEND
	grep -q 'malformed frame from the broker: undefined escape' "$T/drive.err"
}

@test "relay: a frame past the size cap ends the session; nothing lost" {
	fake fb --mode oversize --size 2000000 --after 1 --on SUBSCRIBE --once
	drive_start --broker "stomp://127.0.0.1:$FAKE_PORT" --heartbeat 0
	drive sub $MAC2
	wait_for "$T/drive.err" 'malformed frame from the broker: body too large' 10
	wait_count "$T/drive.err" 'connected \(' 2 20
}

@test "relay: a broker that goes silent is dropped after two heart-beats" {
	fake fb --mode silent --after 2 --once
	drive_start --broker "stomp://127.0.0.1:$FAKE_PORT" --heartbeat 500
	wait_for "$T/drive.err" 'no heart-beat from the broker in 1000 ms' 10
	wait_count "$T/drive.err" 'connected \(' 2 20
}

@test "relay: with two --broker, a dead first one fails over to the second" {
	dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	drive_start --broker "stomp://127.0.0.1:$dead" \
		--broker "stomp://127.0.0.1:$PORT1"
	wait_for "$T/drive.err" "broker stomp://127.0.0.1:$PORT1: connected" 10
	grep -q "broker stomp://127.0.0.1:$dead: Connection refused" "$T/drive.err"
	drive send 00000000000000f2 1 "$FRAME_12"
	drive drain 5000
	grep -qx drained "$T/drive.last"
	run stomp recv "$(Q2)" --count 1 --timeout 5
	[ "$status" -eq 0 ]
}

@test "relay: --credentials readable by others is refused; the secret never shows" {
	fake fb --mode good --login alice:s3cr3t-pw
	printf 'login=alice\npasscode=s3cr3t-pw\n' >"$T/cred"
	chmod 644 "$T/cred"
	run "$DRIVE" --relay "$RELAY" --broker "stomp://127.0.0.1:$FAKE_PORT" \
		--credentials "$T/cred" </dev/null
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"readable by group or others (mode 0644); chmod 600"* ]]
	chmod 600 "$T/cred"
	drive_start --broker "stomp://127.0.0.1:$FAKE_PORT" \
		--credentials "$T/cred" -v
	wait_for "$T/drive.err" 'connected \(' 10
	pid=$(pgrep -P "$DRIVE_PID" mqrelay)
	absent 's3cr3t' "/proc/$pid/cmdline"
	absent 's3cr3t' "$T/drive.err"
}

@test "relay: a wrong login is logged and retried with backoff" {
	fake fb --mode good --login alice:right
	printf 'login=alice\npasscode=wrong\n' >"$T/cred"
	chmod 600 "$T/cred"
	drive_start --broker "stomp://127.0.0.1:$FAKE_PORT" --credentials "$T/cred"
	wait_count "$T/drive.err" 'ERROR from the broker' 2 20
	absent 'connected \(' "$T/drive.err"
}

@test "relay: after a failover it goes back to the first broker once that one answers" {
	amq_start "$T/home" home
	home=$(amq_get "$T/home" stomp_port)
	drive_start --broker "stomp://127.0.0.1:$home" \
		--broker "stomp://127.0.0.1:$PORT1" --persistent
	wait_for "$T/drive.err" "broker stomp://127.0.0.1:$home: connected" 10
	amq_stop "$T/home"
	wait_for "$T/drive.err" "broker stomp://127.0.0.1:$PORT1: connected" 20
	drive send 00000000000000f3 1 "$FRAME_12"
	drive drain 10000
	grep -qx drained "$T/drive.last"
	amq_start "$T/home"
	wait_for "$T/drive.err" "stomp://127.0.0.1:$home answers again" 30
	wait_count "$T/drive.err" "broker stomp://127.0.0.1:$home: connected" 2 20
	drive send 00000000000000f3 2 "$FRAME_12"
	drive drain 10000
	grep -qx drained "$T/drive.last"
	STOMP_PORT=$home run stomp recv "$(Q2)" --count 1 --timeout 5 --show x-mq-seq
	echo "$output"
	[[ "$output" == *"x-mq-seq=2" ]]
	amq_stop "$T/home"
}

@test "relay: an exec: command that never answers is killed with its children; the relay never waits on it" {
	drive_start --broker "exec:trap '' TERM; sleep 4$$; echo never"
	first=
	for i in $(seq 50); do
		first=$(pgrep -f "^sleep 4$$") && break
		sleep 0.1
	done
	[ -n "$first" ]
	wait_for "$T/drive.err" 'no CONNECTED within 10 s' 20
	# The loop went on meanwhile: the uplink's counters still come.
	drive stats
	grep -q '^stat failures [1-9]' "$T/drive.last"
	# The shell ignored TERM, its child too: both are gone all the same
	# (at most a zombie, for whoever reaps orphans here).
	sleep 0.5
	[ ! -e "/proc/$first" ] || grep -q '^State:.*zombie' "/proc/$first/status"
}

@test "relay: an exec: command that fails is logged with its status and its words" {
	drive_start --broker "exec:echo 'cannot reach the broker' >&2; exit 3"
	wait_for "$T/drive.err" 'the command exited with status 3: cannot reach the broker' 10
}
