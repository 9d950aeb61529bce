#!/usr/bin/env bats
# tests/server_options.bats - every server option: -h documents it, a bad
# value is refused with one line naming the problem and the fix (and
# nothing is created), and a good value has its effect.  Options whose
# effect needs peers or signals are in server_process.bats and
# server_protocol.bats; region options in server_region.bats.

load lib/helpers

setup() { tm_setup; }
teardown() { tm_teardown; }

@test "-h lists every option and exits 0" {
	run_server -h
	[ "$status" -eq 0 ]
	local o
	for o in d h l q r t v W f s m n p F S o u U G P c C k; do
		if ! grep -Eq -- "(^ +|; )-$o( |:|$)" <<<"$output"; then
			echo "# -h does not document -$o" >&2
			return 1
		fi
	done
	[[ $output == *usage:*tm_ivshmem_server* ]]
	[[ $output == *SIGHUP* || $output == *HUP* ]]
}

# bad ARGS... -- ERE: the server refuses ARGS with exit 1, one line that
# matches ERE, and leaves neither a region nor a socket behind.
bad() {
	local args=() re
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	re=$2
	run_server -f "$REGION" -p "$SOCK" "${args[@]}"
	if [ "$status" -ne 1 ]; then
		echo "# ${args[*]}: exit $status, expected 1; output: $output" >&2
		return 1
	fi
	one_line_error || { echo "# for: ${args[*]}" >&2; return 1; }
	if ! [[ $output =~ $re ]]; then
		echo "# ${args[*]}: message does not match '$re': $output" >&2
		return 1
	fi
	if [ -e "$REGION" ] || [ -e "$SOCK" ]; then
		echo "# ${args[*]}: left $(ls "$T") behind" >&2
		return 1
	fi
}

@test "bad -m values: one line naming the problem and the fix" {
	bad -m 3M -- "not a power of two.*QEMU.*power of two such as"
	bad -m 0 -- "not a power of two"
	bad -m 12Q -- "unknown unit.*64M"
	bad -m -4 -- "not a number.*size such as"
	bad -m 4x -- "unknown unit|trailing"
	bad -m 99999999999T -- "too large"
	bad -m "" -- "not a number|size such as"
	bad -m -- "needs a value"
}

@test "bad -n, -c and -k values name the valid range" {
	bad -n 0 -- "-n 0: out of range; give a number from 1 to 64"
	bad -n 65 -- "-n 65: out of range; give a number from 1 to 64"
	bad -n x -- "-n x: not a number; give a number from 1 to 64"
	bad -c 0 -- "-c 0: out of range; give a number from 1 to 65536"
	bad -c 65537 -- "from 1 to 65536"
	bad -c -1 -- "not a number"
	bad -C 0 -- "-C 0: out of range; give a number from 1 to 65536"
	bad -k 0 -- "-k 0: out of range; give a number from 1 to"
	bad -k abc -- "-k abc: not a number"
}

@test "bad -F and -S modes ask for an octal mode" {
	bad -F 0999 -- "-F 0999: .*octal mode such as 0660"
	bad -F rw -- "-F rw: .*octal mode"
	bad -S 8 -- "-S 8: .*octal mode"
	bad -S 077777 -- "-S 077777: .*octal mode"
}

@test "unknown users and groups in -U -G -o -u are refused before anything is created" {
	bad -U nosuchuser -- "unknown user nosuchuser; give a user name or a numeric uid"
	bad -G nosuchgroup -- "unknown group nosuchgroup; give a group name or a numeric gid"
	bad -U 0,nosuchuser -- "unknown user nosuchuser"
	bad -o nosuchuser -- "unknown user nosuchuser"
	bad -o root:nosuchgroup -- "unknown group nosuchgroup"
	bad -u nosuchuser -- "nosuchuser.*unknown user|unknown user.*nosuchuser"
}

@test "an unwritable -P pidfile is refused before anything is created" {
	bad -P /nonexistent/dir/x.pid -- "pidfile /nonexistent/dir/x.pid.*-P"
}

@test "usage errors: unknown option, missing value, stray argument, -t without -m" {
	bad -x -- "unknown option -x; see -h"
	bad -n -- "-n needs a value"
	bad stray -- "unexpected argument stray"
	bad -t -- "-t needs -m"
}

@test "-f and -s together are refused" {
	bad -s "$(shm_name fs)" -- "-f and -s both given; choose"
	[ ! -e "/dev/shm/$(tail -n1 "$T/shm")" ]
}

@test "a -f that is a directory is refused with a fix" {
	mkdir "$T/dir"
	run_server -f "$T/dir" -p "$SOCK"
	[ "$status" -eq 1 ]
	one_line_error
	[[ $output =~ $T/dir.*(regular file|give|choose) ]]
}

@test "bad -s names are refused" {
	run_server -s a/b -p "$SOCK"
	[ "$status" -eq 1 ]
	one_line_error
	[[ $output == *"not a valid shm name"* ]]
	[ ! -e "$SOCK" ]
}

@test "-p: a path too long for sun_path is a clear error" {
	local long
	long=$T/$(printf 's%.0s' {1..120})
	run_server -f "$REGION" -p "$long"
	[ "$status" -eq 1 ]
	one_line_error
	[[ $output == *"longer than the 107"*"choose a shorter -p"* ]]
	# Checked before the region is touched.
	[ ! -e "$REGION" ]
}

@test "-p: an existing file that is not a socket is left alone" {
	echo keep >"$SOCK"
	run_server -f "$REGION" -p "$SOCK"
	[ "$status" -eq 1 ]
	one_line_error
	[[ $output == *"not a socket"* ]]
	[ "$(cat "$SOCK")" = keep ]
}

@test "-m suffixes: K, M, G, T, iB, and a bare number means MiB" {
	local spec want
	for spec in 64K:65536 2M:2097152 8:8388608 1MiB:1048576 \
	    4096K:4194304; do
		want=${spec#*:}
		rm -f "$REGION"
		start_server -f "$REGION" -m "${spec%%:*}"
		grep -q "$want bytes" "$SRV_LOG"
		[ "$(stat -c %s "$REGION")" -eq "$want" ]
		stop_server
		[ "$SRV_STATUS" -eq 0 ]
	done
}

@test "-f creates the region with mode 0600, 4 MiB by default, blocks reserved" {
	start_server -f "$REGION"
	[ "$(stat -c %a "$REGION")" = 600 ]
	[ "$(stat -c %s "$REGION")" -eq 4194304 ]
	[ "$(allocated "$REGION")" -ge 4194304 ]
	grep -q "created $REGION: 4194304 bytes" "$SRV_LOG"
}

@test "-F sets the mode of a region the server creates" {
	start_server -f "$REGION" -F 0640
	[ "$(stat -c %a "$REGION")" = 640 ]
}

@test "-F does not change the mode of an existing region" {
	truncate -s 4M "$REGION"
	chmod 0604 "$REGION"
	start_server -f "$REGION" -F 0640
	[ "$(stat -c %a "$REGION")" = 604 ]
}

@test "-S sets the socket mode; the default is 0660" {
	start_server -f "$REGION"
	[ "$(stat -c %a "$SOCK")" = 660 ]
	[ "$(stat -c %F "$SOCK")" = socket ]
	stop_server
	start_server -f "$REGION" -S 0600
	[ "$(stat -c %a "$SOCK")" = 600 ]
}

@test "-o sets the socket's owner and group" {
	start_server -f "$REGION" -o nobody:nogroup
	[ "$(stat -c %U:%G "$SOCK")" = nobody:nogroup ]
	stop_server
	start_server -f "$REGION" -o :nogroup
	[ "$(stat -c %U:%G "$SOCK")" = root:nogroup ]
}

@test "-u drops privileges once the region and socket are open" {
	start_server -f "$REGION" -u nobody
	[ "$(awk '/^Uid:/ { print $2 $3 $4 $5 }' "/proc/$SRV_PID/status")" = \
	    65534655346553465534 ]
	[ "$(awk '/^Groups:/ { print $2 }' "/proc/$SRV_PID/status")" = 65534 ]
	[ "$(stat -c %U "$SOCK")" = nobody ]
	# The region stays root's: the open descriptor is what the server uses.
	[ "$(stat -c %U "$REGION")" = root ]
	grep -q "running as nobody" "$SRV_LOG"
}

@test "-q logs errors only; without it the server says what it does" {
	start_server -f "$REGION"
	stop_server
	grep -q "listening on $SOCK" "$SRV_LOG"
	grep -q "exiting" "$SRV_LOG"
	SRV_N=$((SRV_N + 1))
	SRV_LOG=$T/server.$SRV_N.log
	bg quiet "$SRV" -q -f "$REGION" -p "$SOCK"
	SRV_PID=$BG_PID
	local i
	for ((i = 0; i < 250; i++)); do
		[ -S "$SOCK" ] && break
		sleep 0.02
	done
	[ -S "$SOCK" ]
	stop_server
	[ "$SRV_STATUS" -eq 0 ]
	[ ! -s "$T/quiet.out" ]
	[ ! -s "$T/quiet.err" ]
}

# v_scenario ARGS...: a server with ARGS sees a QEMU-like peer stay
# while others come and go; prints how many lines it logged.
v_scenario() {
	start_server -f "$REGION" "$@"
	bg stay "$STORM" -p "$SOCK" -w 0 drain 1
	local stay=$BG_PID
	wait_for "$T/stay.out" "connected 1"
	"$STORM" -p "$SOCK" -w 10 cycles 5 >/dev/null
	cli info >/dev/null
	kill "$stay"
	wait_gone "$stay"
	stop_server
	wc -l <"$SRV_LOG"
}

@test "-v logs more than the default" {
	need_client
	need_storm
	local plain verbose
	plain=$(v_scenario)
	verbose=$(v_scenario -v)
	echo "# $plain lines, $verbose with -v" >&3
	[ "$verbose" -gt "$plain" ]
}

@test "defaults: shm object ivshmem, socket /tmp/ivshmem_socket mode 0660 (private /tmp and /dev/shm)" {
	# A private mount namespace with fresh /tmp and /dev/shm, so the
	# defaults can be used without touching the machine's.
	cat >"$T/ns.sh" <<-EOF
	set -e
	# The checkout may itself live under /tmp: hold the binary open
	# before the fresh /tmp hides it, and run it through that fd.
	exec 9<"$SRV"
	mount -t tmpfs tmpfs /tmp
	mount -t tmpfs tmpfs /dev/shm
	/proc/\$\$/fd/9 >/tmp/log 2>&1 &
	for i in \$(seq 250); do
		grep -q "listening on" /tmp/log && break
		sleep 0.02
	done
	stat -c 'sock %a %F' /tmp/ivshmem_socket
	stat -c 'shm %s %a' /dev/shm/ivshmem
	kill -TERM \$!
	wait \$! && echo "exit 0"
	[ -e /tmp/ivshmem_socket ] || echo "socket removed"
	[ -e /dev/shm/ivshmem ] && echo "shm kept"
	cat /tmp/log
	EOF
	run timeout 20 unshare --mount --propagation private --fork \
	    --kill-child bash "$T/ns.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"sock 660 socket"* ]]
	[[ $output == *"shm 4194304 600"* ]]
	[[ $output == *"exit 0"* ]]
	[[ $output == *"socket removed"* ]]
	[[ $output == *"shm kept"* ]]
	[[ $output == *"listening on /tmp/ivshmem_socket (shm object ivshmem, 4194304 bytes, 1 vector, protocol version 0)"* ]]
}

@test "-s uses a POSIX shm object, kept after exit" {
	local name
	name=$(shm_name keep)
	start_server -s "$name" -m 2M
	[ "$(stat -c %s "/dev/shm/$name")" -eq 2097152 ]
	printf 'hello' | dd of="/dev/shm/$name" conv=notrunc status=none
	stop_server
	[ "$SRV_STATUS" -eq 0 ]
	[ -e "/dev/shm/$name" ]
	start_server -s "$name"
	grep -q "2097152 bytes" "$SRV_LOG"
	[ "$(head -c 5 "/dev/shm/$name")" = hello ]
}
