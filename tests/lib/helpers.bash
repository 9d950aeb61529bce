# tests/helpers.bash - shared set-up for the server suites (server_*.bats):
# a per-test directory, the real programs started in the background with
# their output in files, waits on log lines, and a teardown that kills
# everything a test started and unmounts what it mounted.
#
# Every background process is started through bg(), which records its pid
# in $T/pids; tm_teardown kills those, in reverse order.

TM_TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
TM_BUILD=${TM_BUILD:-$TM_TOP/build}
TM_FLAVOUR=${TM_FLAVOUR:-normal}
SRV=$TM_BUILD/bin/tm_ivshmem_server
CLI=$TM_BUILD/bin/tm_ivshmem_client
STORM=$TM_BUILD/tests/peerstorm
RPEER=$TM_BUILD/tests/region_peer
TRAP=$TM_BUILD/tests/cmdline_trap

tm_setup() {
	[ -x "$SRV" ] || { echo "$SRV missing; run make" >&2; return 1; }
	T=$(mktemp -d /tmp/tm-srv.XXXXXX)
	SOCK=$T/sock
	REGION=$T/region
	SRV_PID=
	SRV_LOG=
	SRV_N=0
	: >"$T/pids"
	: >"$T/mounts"
	: >"$T/shm"
}

tm_teardown() {
	local pid m i
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	for pid in $(tac "$T/pids"); do
		kill -TERM "$pid" 2>/dev/null
	done
	for ((i = 0; i < 100; i++)); do
		alive_any || break
		sleep 0.05
	done
	for pid in $(cat "$T/pids"); do
		kill -KILL "$pid" 2>/dev/null
	done
	for m in $(tac "$T/mounts"); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	for m in $(cat "$T/shm"); do
		rm -f "/dev/shm/$m"
	done
	rm -rf "$T"
}

alive_any() {
	local pid
	for pid in $(cat "$T/pids"); do
		kill -0 "$pid" 2>/dev/null && return 0
	done
	return 1
}

# bg NAME CMD...: run CMD in the background, stdout in $T/NAME.out and
# stderr in $T/NAME.err; its pid is in $BG_PID.  fd 3 is closed so that
# bats does not wait for it.
bg() {
	local name=$1
	shift
	"$@" >"$T/$name.out" 2>"$T/$name.err" 3>&- &
	BG_PID=$!
	echo "$BG_PID" >>"$T/pids"
}

# wait_for FILE ERE [SECONDS]: until a line of FILE matches, or fail
# showing FILE.
wait_for() {
	local file=$1 re=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 50; i++)); do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.02
	done
	echo "# $file never matched '$re' in $secs s:" >&2
	sed 's/^/#   /' "$file" >&2 2>/dev/null
	return 1
}

# wait_while PID FILE ERE [SECONDS]: like wait_for, but fails at once
# when process PID ends without FILE matching.
wait_while() {
	local pid=$1 file=$2 re=$3 secs=${4:-10} i
	for ((i = 0; i < secs * 10; i++)); do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			grep -Eq -- "$re" "$file" 2>/dev/null && return 0
			echo "# process $pid ended before $file matched '$re':" >&2
			sed 's/^/#   /' "$file" "${file%.out}.err" >&2 2>/dev/null
			return 1
		fi
		sleep 0.1
	done
	echo "# $file never matched '$re' in $secs s" >&2
	return 1
}

# wait_count FILE ERE N [SECONDS]: until N lines of FILE match.
wait_count() {
	local file=$1 re=$2 n=$3 secs=${4:-10} i
	for ((i = 0; i < secs * 50; i++)); do
		[ "$(grep -Ec -- "$re" "$file" 2>/dev/null)" -ge "$n" ] &&
			return 0
		sleep 0.02
	done
	echo "# $file: fewer than $n lines matched '$re' in $secs s:" >&2
	sed 's/^/#   /' "$file" >&2 2>/dev/null
	return 1
}

# absent ERE FILE: no line of FILE matches.  (A bare "! grep" is no
# assertion: set -e ignores negated commands.)
absent() {
	if grep -Eq -- "$1" "$2"; then
		echo "# $2 has what it must not ('$1'):" >&2
		grep -E -- "$1" "$2" | head -n5 | sed 's/^/#   /' >&2
		return 1
	fi
}

# wait_gone PID [SECONDS]: until the process has exited.
wait_gone() {
	local pid=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.02
	done
	echo "# process $pid still running after $secs s" >&2
	return 1
}

# start_server ARGS...: the server with -p $SOCK (unless ARGS has -p),
# stdout and stderr in $SRV_LOG; returns once it logs "listening on".
start_server() {
	local a
	SRV_N=$((SRV_N + 1))
	SRV_LOG=$T/server.$SRV_N.log
	for a in "$@"; do
		[ "$a" = -p ] && { start_server_raw "$@"; return; }
	done
	start_server_raw -p "$SOCK" "$@"
}

start_server_raw() {
	"$SRV" "$@" >"$SRV_LOG" 2>&1 3>&- &
	SRV_PID=$!
	echo "$SRV_PID" >>"$T/pids"
	local i
	for ((i = 0; i < 500; i++)); do
		grep -q "listening on" "$SRV_LOG" && return 0
		if ! kill -0 "$SRV_PID" 2>/dev/null; then
			echo "# server exited before listening:" >&2
			sed 's/^/#   /' "$SRV_LOG" >&2
			return 1
		fi
		sleep 0.02
	done
	echo "# server did not log 'listening on' within 10 s:" >&2
	sed 's/^/#   /' "$SRV_LOG" >&2
	return 1
}

# stop_server [SIGNAL]: signal the server (TERM) and wait; its exit
# status is in $SRV_STATUS.
stop_server() {
	local sig=${1:-TERM}
	kill "-$sig" "$SRV_PID"
	SRV_STATUS=0
	wait "$SRV_PID" || SRV_STATUS=$?
}

# run_server ARGS...: the server in the foreground, for start-up errors;
# sets $status and $output like bats' run (stderr included).
run_server() {
	run timeout 20 "$SRV" "$@"
}

# cli ARGS...: the client on $SOCK, foreground.
cli() {
	"$CLI" -p "$SOCK" "$@"
}

need_client() {
	[ -x "$CLI" ] || skip "tm_ivshmem_client not built yet"
}

need_storm() {
	[ -x "$STORM" ] || { echo "$STORM missing; make test-progs" >&2; return 1; }
}

# msg VALUE fd|nofd: the client's raw line for one message, the value as
# 8 little-endian bytes in hex.
msg() {
	local be le="" i
	be=$(printf '%016x' "$1")
	for ((i = 14; i >= 0; i -= 2)); do
		le+=${be:i:2}
	done
	echo "msg $le $2"
}

# one_line_error: $output is one line, "tm_ivshmem_server: ...".  The
# caller checks that it names the problem and the fix.
one_line_error() {
	local lines
	lines=$(printf '%s\n' "$output" | grep -c .)
	if [ "$lines" -ne 1 ]; then
		echo "# expected one line of error, got $lines:" >&2
		printf '%s\n' "$output" | sed 's/^/#   /' >&2
		return 1
	fi
	if ! [[ $output =~ ^tm_ivshmem_server:\ .+ ]]; then
		echo "# not 'tm_ivshmem_server: MESSAGE': $output" >&2
		return 1
	fi
}

# error_last: $output ends in the one error line; lines before it, if any,
# are the server's ordinary progress log ("growing ...").  For failures
# found while acting, not in the options.
error_last() {
	local errors last
	errors=$(printf '%s\n' "$output" | grep -c 'error:')
	last=$(printf '%s\n' "$output" | tail -n1)
	if [ "$errors" -ne 1 ] || [[ $last != "tm_ivshmem_server: error: "* ]]; then
		echo "# expected one error line, last; got:" >&2
		printf '%s\n' "$output" | sed 's/^/#   /' >&2
		return 1
	fi
}

# mount_tmpfs DIR SIZE: a small filesystem, unmounted in teardown.
mount_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2" tmpfs "$1" || return 1
	echo "$1" >>"$T/mounts"
}

# Allocated bytes of a file (st_blocks counts 512-byte units).
allocated() {
	echo $(($(stat -c %b "$1") * 512))
}

fd_count() {
	ls "/proc/$1/fd" | wc -l
}

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# Server CPU time so far, in clock ticks (utime + stime).
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# shm_name: a unique POSIX shm name, removed in teardown.
shm_name() {
	local name
	name=tm-test-$(basename "$T")-$1
	echo "$name" >>"$T/shm"
	echo "$name"
}
