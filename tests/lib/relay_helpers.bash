# tests/lib/relay_helpers.bash - set-up for suites that need a real
# broker: one ActiveMQ per test file (tests/lib/activemq.bash), and the
# relay driven through its uplink by tests/progs/uplink_drive, which plays
# the bridge.  Loaded after helpers.bash (tm_setup, bg, wait_for).

load lib/activemq

RELAY=$TM_BUILD/bin/mqrelay
DRIVE=$TM_BUILD/tests/uplink_drive
STOMP_CLI=$TM_TOP/tests/progs/stomp_cli.py
FAKE_BROKER=$TM_TOP/tests/progs/fake_broker.py

# A frame from 02:..:01 to 02:..:02 (IPv4, 36 bytes), and one to all.
FRAME_12=020000000002020000000001080045000014000000004001000000000000000000000000
FRAME_BC=ffffffffffff020000000001080645000014000000004001000000000000000000000000

# relay_file_setup: one broker for the whole file, in $AMQ_SHARED.
relay_file_setup() {
	command -v python3 >/dev/null || { echo "python3 missing" >&2; return 1; }
	amq_install || return 1
	AMQ_SHARED=$(mktemp -d /tmp/tm-relay-amq.XXXXXX)
	export AMQ_SHARED AMQ_REGISTRY=$AMQ_SHARED/registry
	amq_start "$AMQ_SHARED/b1" b1 || { amq_kill_all; return 1; }
	export PORT1
	PORT1=$(amq_get "$AMQ_SHARED/b1" stomp_port)
}

relay_file_teardown() {
	AMQ_REGISTRY=$AMQ_SHARED/registry amq_kill_all
	rm -rf "$AMQ_SHARED"
}

relay_setup() {
	local p
	for p in "$RELAY" "$DRIVE"; do
		[ -x "$p" ] || { echo "$p missing; run make all test-progs" >&2; return 1; }
	done
	tm_setup
	# Queue names unique to this test: brokers outlive tests.
	PREFIX=t$BATS_TEST_NUMBER$$
}

relay_teardown() {
	exec 4>&- 2>/dev/null
	tm_teardown
}

# drive_start ARGS...: uplink_drive (and so a relay) with ARGS, commands
# through fd 4, answers in $T/drive.out, logs in $T/drive.err.
drive_start() {
	rm -f "$T/in"
	mkfifo "$T/in"
	"$DRIVE" --relay "$RELAY" --prefix "$PREFIX" "$@" <"$T/in" \
		>"$T/drive.out" 2>"$T/drive.err" 3>&- &
	DRIVE_PID=$!
	echo "$DRIVE_PID" >>"$T/pids"
	exec 4>"$T/in"
	wait_for "$T/drive.out" '^ready$' 20
}

# drive CMD...: run one command and wait for its last answer line; the
# answer lines are in $T/drive.last.
drive() {
	# The count lives in a file: drive runs in $(...) subshells too.
	local n=$(($(cat "$T/drive.n" 2>/dev/null || echo 0) + 1))
	echo "$n" >"$T/drive.n"
	local mark="__done_$n" from
	from=$(wc -l <"$T/drive.out")
	echo "$*" >&4
	echo "echo $mark" >&4
	wait_for "$T/drive.out" "^$mark\$" "${DRIVE_WAIT:-30}" || return 1
	tail -n +"$((from + 1))" "$T/drive.out" | grep -v "^$mark\$" >"$T/drive.last"
}

# drive_many CMD-LINE...: several commands written at once, so that the
# driver runs them back to back; waits for the last.
drive_many() {
	local last=$#
	printf '%s\n' "${@:1:last-1}" >&4
	drive "${!last}"
}

# drive_stat NAME: the relay's counter NAME from a fresh report.
drive_stat() {
	drive stats >/dev/null || return 1
	sed -n "s/^stat $1 //p" "$T/drive.last"
}

# stomp ARGS...: the independent client on broker 1.
stomp() {
	python3 "$STOMP_CLI" --port "${STOMP_PORT:-$PORT1}" "$@"
}

# fake NAME ARGS...: tests/progs/fake_broker.py in the background; its
# port in $FAKE_PORT once it listens.
fake() {
	local name=$1
	shift
	bg "$name" python3 "$FAKE_BROKER" "$@"
	wait_for "$T/$name.out" '^[0-9]+$' 10
	FAKE_PORT=$(head -n1 "$T/$name.out")
}

# recorded_seqs FILE: the x-mq-seq values a fake broker recorded cannot
# be seen (it keeps bodies); so tests number frames in their bodies.
# frame_n N: FRAME_12 with N (0-255) in its last byte.
frame_n() {
	printf '%s%02x' "${FRAME_12:0:70}" "$1"
}
