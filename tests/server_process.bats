#!/usr/bin/env bats
# tests/server_process.bats - the server as a process: signals (TERM and
# INT flush and clean up, HUP and USR1 log the peer table), -d with its
# pidfile and syslog, -P, peer credentials and the -U/-G allow-lists, the
# -c peer limit, and accept() under EMFILE.

load lib/helpers

setup() { tm_setup; }
teardown() { tm_teardown; }

# The server under strace, which records fdatasync; SRV_PID is the
# server itself, STRACE_PID the tracer.
start_traced_server() {
	command -v strace >/dev/null || skip "strace not installed"
	# LeakSanitizer cannot run under ptrace; the other tests check leaks.
	[ "$TM_FLAVOUR" = asan ] &&
		export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	SRV_N=$((SRV_N + 1))
	SRV_LOG=$T/server.$SRV_N.log
	strace -f -qq -e trace=fdatasync,fsync,exit_group -o "$T/strace" \
	    "$SRV" -p "$SOCK" "$@" >"$SRV_LOG" 2>&1 3>&- &
	STRACE_PID=$!
	echo "$STRACE_PID" >>"$T/pids"
	wait_for "$SRV_LOG" "listening on"
	SRV_PID=$(pgrep -P "$STRACE_PID")
	[ -n "$SRV_PID" ]
	echo "$SRV_PID" >>"$T/pids"
}

# signal_exit SIG: with a peer connected and data written, SIG makes the
# server close the peer, fdatasync the region, remove the socket, exit 0.
signal_exit() {
	local sig=$1 status=0 rfd
	need_client
	start_traced_server -f "$REGION" -P "$T/pid"
	bg peer "$CLI" -p "$SOCK" -w 0 raw
	local peer=$BG_PID
	wait_count "$T/peer.out" ^msg 4
	printf 'flush me' | cli write 0
	# The descriptor the server holds the region by.
	rfd=$(find "/proc/$SRV_PID/fd" -lname "$REGION" -printf '%f\n' | head -n1)
	[ -n "$rfd" ]
	kill "-$sig" "$SRV_PID"
	wait "$STRACE_PID" || status=$?
	[ "$status" -eq 0 ]
	grep -q "closing 1 peers" "$SRV_LOG"
	grep -q "exiting: region flushed, socket removed" "$SRV_LOG"
	[ ! -e "$SOCK" ]
	[ ! -e "$T/pid" ]
	# The peer saw EOF and ended.
	wait_gone "$peer" 5
	# fdatasync on the region's descriptor succeeded, then exit 0.
	cat "$T/strace"
	grep -Eq "fdatasync\($rfd\) += 0" "$T/strace"
	grep -q "exit_group(0)" "$T/strace"
	[ "$(head -c 8 "$REGION")" = "flush me" ]
}

@test "SIGTERM: peers closed, region flushed (fdatasync), socket and pidfile removed, exit 0" {
	signal_exit TERM
}

@test "SIGINT: peers closed, region flushed (fdatasync), socket and pidfile removed, exit 0" {
	signal_exit INT
}

# peer_table SIG: SIG logs one line per peer with its pid and uid, and
# the server carries on.
peer_table() {
	need_client
	start_server -f "$REGION" -n 2
	bg a "$CLI" -p "$SOCK" -n 2 -w 0 raw
	local a=$BG_PID
	wait_count "$T/a.out" ^msg 5
	bg b "$CLI" -p "$SOCK" -n 2 -w 1000 raw
	local b=$BG_PID
	wait_count "$T/b.out" ^msg 7
	kill "-$1" "$SRV_PID"
	wait_for "$SRV_LOG" "peer 1: pid $b, uid 0, gid 0"
	grep -q "2 peers on $SOCK, 2 vectors each" "$SRV_LOG"
	grep -q "peer 0: pid $a, uid 0, gid 0" "$SRV_LOG"
	# Still serving, with nobody dropped.
	run cli -n 2 info
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "id 2" ]
	# Only that info client left.
	wait_for "$SRV_LOG" "peer 2 disconnected"
	[ "$(grep -c disconnected "$SRV_LOG")" -eq 1 ]
	kill -0 "$SRV_PID"
}

@test "SIGHUP logs the peer table and the server carries on" {
	peer_table HUP
}

@test "SIGUSR1 logs the peer table and the server carries on" {
	peer_table USR1
}

@test "-P writes a pidfile in the foreground too, removed at exit" {
	start_server -f "$REGION" -P "$T/server.pid"
	[ "$(cat "$T/server.pid")" = "$SRV_PID" ]
	stop_server
	[ "$SRV_STATUS" -eq 0 ]
	[ ! -e "$T/server.pid" ]
}

@test "-d: detaches once ready, pidfile SOCKET.pid, logs to syslog, SIGTERM removes pidfile and socket" {
	need_client
	need_storm
	# A private mount and pid namespace: a /dev with a syslog socket of
	# our own at /dev/log, and every process dies with the namespace.
	cat >"$T/ns.sh" <<-EOF
	mount -t tmpfs tmpfs /dev
	mknod -m 666 /dev/null c 1 3
	mknod -m 666 /dev/urandom c 1 9
	"$STORM" syslog /dev/log >"$T/syslog" 2>&1 &
	for i in \$(seq 250); do
		[ -S /dev/log ] && break
		sleep 0.02
	done
	"$SRV" -d -f "$REGION" -p "$SOCK" >"$T/parent.out" 2>&1
	echo "parent exit \$?"
	pid=\$(cat "$SOCK.pid")
	echo "pidfile \$pid"
	[ "\$(ps -o sid= -p "\$pid" | tr -d ' ')" = "\$pid" ] && echo "own session"
	[ "\$(readlink /proc/\$pid/fd/2)" = /dev/null ] && echo "stderr /dev/null"
	[ "\$(readlink /proc/\$pid/cwd)" = / ] && echo "cwd /"
	"$CLI" -p "$SOCK" info | grep '^id'
	kill -TERM "\$pid"
	for i in \$(seq 250); do
		kill -0 "\$pid" 2>/dev/null || break
		sleep 0.02
	done
	kill -0 "\$pid" 2>/dev/null || echo "daemon gone"
	[ -e "$SOCK.pid" ] || echo "pidfile removed"
	[ -e "$SOCK" ] || echo "socket removed"
	sleep 0.1
	EOF
	run timeout 30 unshare --mount --pid --fork --kill-child --mount-proc \
	    --propagation private bash "$T/ns.sh"
	echo "$output"
	echo "--- syslog"; cat "$T/syslog"
	echo "--- parent"; cat "$T/parent.out"
	[ "$status" -eq 0 ]
	[[ $output == *"parent exit 0"* ]]
	local pid
	pid=$(sed -n 's/^pidfile \([0-9]*\)$/\1/p' <<<"$output")
	[[ $pid =~ ^[0-9]+$ ]]
	[[ $output == *"own session"* ]]
	[[ $output == *"stderr /dev/null"* ]]
	[[ $output == *"cwd /"* ]]
	[[ $output == *"id 0"* ]]
	[[ $output == *"daemon gone"* ]]
	[[ $output == *"pidfile removed"* ]]
	[[ $output == *"socket removed"* ]]
	grep -q "tm_ivshmem_server\[$pid\]: daemon started, pid $pid, pidfile $SOCK.pid" "$T/syslog"
	grep -q "tm_ivshmem_server\[$pid\]: peer 0 connected" "$T/syslog"
	grep -q "tm_ivshmem_server\[$pid\]: peer 0 disconnected" "$T/syslog"
	grep -q "tm_ivshmem_server\[$pid\]: exiting" "$T/syslog"
	# Before it detached, the daemon said where it listens.
	grep -q "listening on $SOCK" "$T/parent.out"
}

@test "-d: a bad pidfile reaches the caller (exit 1, message), nothing left running" {
	run_server -d -f "$REGION" -p "$SOCK" -P "$T/no/such/dir/pid"
	[ "$status" -eq 1 ]
	[[ $output == *"pidfile $T/no/such/dir/pid"* ]]
	sleep 0.2
	if pgrep -f "$SOCK" >/dev/null; then false; fi
}

@test "SO_PEERCRED: each peer's pid, uid and gid are logged" {
	need_client
	chmod 0755 "$T"
	start_server -f "$REGION" -S 0666
	bg a "$CLI" -p "$SOCK" -w 0 raw
	wait_for "$SRV_LOG" "peer 0 connected \(pid $BG_PID, uid 0, gid 0\)"
	bg b setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$CLI" -p "$SOCK" -w 0 raw
	wait_for "$SRV_LOG" "peer 1 connected \(pid $BG_PID, uid 65534, gid 65534\)"
}

@test "-U: a uid not in the list is refused and logged; a listed one is served" {
	need_client
	chmod 0755 "$T"
	start_server -f "$REGION" -S 0666 -U 65534
	run cli -w 5 info
	[ "$status" -eq 2 ]
	wait_for "$SRV_LOG" "refused a peer \(pid [0-9]+, uid 0, gid 0\): not in the allow-list"
	absent "connected" "$SRV_LOG"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$CLI" \
	    -p "$SOCK" info
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "id 0" ]
	grep -q "peer 0 connected (pid [0-9]*, uid 65534" "$SRV_LOG"
}

@test "-U by name and as a list; -G by gid: refused unless listed" {
	need_client
	start_server -f "$REGION" -U 4242,nobody
	run cli -w 5 info
	[ "$status" -eq 2 ]
	stop_server
	start_server -f "$REGION" -U nobody,root
	run cli info
	[ "$status" -eq 0 ]
	stop_server
	start_server -f "$REGION" -G nogroup
	run cli -w 5 info
	[ "$status" -eq 2 ]
	grep -q "refused a peer (pid [0-9]*, uid 0, gid 0): not in the allow-list" "$SRV_LOG"
	stop_server
	start_server -f "$REGION" -G 4242,0
	run cli info
	[ "$status" -eq 0 ]
	grep -q "peer 0 connected" "$SRV_LOG"
}

@test "-c 2: the third peer is refused cleanly and logged; the two others are unaffected" {
	need_client
	start_server -f "$REGION" -c 2
	bg a "$CLI" -p "$SOCK" -w 30 wait 0 1
	wait_for "$T/a.out" '^ready$'
	bg b "$CLI" -p "$SOCK" -w 0 raw
	local b=$BG_PID
	wait_count "$T/b.out" ^msg 5
	run cli -w 5 -n 1 info
	[ "$status" -eq 2 ]
	wait_for "$SRV_LOG" "refused a peer \(pid [0-9]+, uid 0, gid 0\): server full"
	# The refused one was never announced: b saw a and itself only.
	sleep 0.2
	[ "$(grep -c ^msg "$T/b.out")" -eq 5 ]
	# With b gone there is room again, and a still gets doorbells.
	kill "$b"
	wait_for "$SRV_LOG" "peer 1 disconnected"
	run cli ring 0 0
	[ "$status" -eq 0 ]
	wait_for "$T/a.out" '^rung 0 1$'
}

@test "-P never follows a symlink nor writes a file of another user; it chowns what it opened to -u" {
	chmod 0755 "$T"
	echo keep >"$T/target"
	ln -s "$T/target" "$T/pid"
	run_server -f "$REGION" -p "$SOCK" -P "$T/pid"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot write the pidfile $T/pid: it is a symbolic link; choose another -P"* ]]
	[ "$(cat "$T/target")" = keep ]
	[ ! -e "$SOCK" ]
	rm "$T/pid"
	echo 1 >"$T/pid"
	chown nobody "$T/pid"
	run_server -f "$REGION" -p "$SOCK" -P "$T/pid"
	[ "$status" -eq 1 ]
	[[ $output == *"it is not a file of ours (owner uid 65534, 1 links); remove it or choose another -P"* ]]
	ln "$T/target" "$T/pid2"
	run_server -f "$REGION" -p "$SOCK" -P "$T/pid2"
	[ "$status" -eq 1 ]
	[[ $output == *"not a file of ours (owner uid 0, 2 links)"* ]]
	[ "$(cat "$T/target")" = keep ]
	# The -u user's own stale pidfile is fine, and stays the -u user's.
	start_server -f "$REGION" -u nobody -P "$T/pid"
	[ "$(cat "$T/pid")" = "$SRV_PID" ]
	[ "$(stat -c %U "$T/pid")" = nobody ]
}

@test "-C 2: a user's third connection is refused and logged; root's are not counted" {
	need_client
	need_storm
	chmod 0755 "$T"
	start_server -f "$REGION" -S 0666 -C 2
	bg two setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$STORM" -p "$SOCK" -w 0 drain 3
	local two=$BG_PID
	wait_for "$T/two.out" "connected 3"
	wait_for "$SRV_LOG" "refused a peer \(pid [0-9]+, uid 65534, gid 65534\): uid 65534 already holds 2 connections \(-C 2\)"
	[ "$(grep -c "connected (pid [0-9]*, uid 65534" "$SRV_LOG")" -eq 2 ]
	# Root's connections are not counted.
	bg root "$STORM" -p "$SOCK" -w 0 drain 3
	wait_for "$T/root.out" "connected 3"
	[ "$(grep -c "connected (pid [0-9]*, uid 0" "$SRV_LOG")" -eq 3 ]
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$CLI" \
	    -p "$SOCK" -w 5 info
	[ "$status" -ne 0 ]
	# Once nobody's two leave, nobody may connect again.
	kill "$two"
	wait_count "$SRV_LOG" "disconnected" 2
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$CLI" \
	    -p "$SOCK" info
	[ "$status" -eq 0 ]
}

@test "use of the IDs is logged at 50% and 90% of -c" {
	need_storm
	start_server -f "$REGION" -c 10
	bg four "$STORM" -p "$SOCK" -w 0 drain 4
	wait_for "$T/four.out" "connected 4"
	absent "IDs in use" "$SRV_LOG"
	bg one "$STORM" -p "$SOCK" -w 0 drain 1
	wait_for "$SRV_LOG" "warning: 5 of 10 peer IDs in use \(50%\): at 10 newcomers are refused"
	bg more "$STORM" -p "$SOCK" -w 0 drain 4
	wait_for "$SRV_LOG" "warning: 9 of 10 peer IDs in use \(90%\)"
	[ "$(grep -c "IDs in use" "$SRV_LOG")" -eq 2 ]
}

# The server as nobody under a descriptor limit it cannot raise.
start_limited_server() {
	SRV_N=$((SRV_N + 1))
	SRV_LOG=$T/server.$SRV_N.log
	prlimit --nofile="$1:$1" setpriv --reuid=nobody --regid=nogroup \
	    --clear-groups "$SRV" -f "$T/run/region" -p "$SOCK" -S 0666 \
	    >"$SRV_LOG" 2>&1 3>&- &
	SRV_PID=$!
	echo "$SRV_PID" >>"$T/pids"
	wait_for "$SRV_LOG" "listening on"
}

@test "out of descriptors (server as nobody, ulimit -n 40 and 41): accept() sheds, no spinning, recovers" {
	need_client
	need_storm
	chmod 0755 "$T"
	mkdir "$T/run"
	chown nobody:nogroup "$T/run"
	SOCK=$T/run/sock
	# Each peer takes two descriptors (socket, eventfd), so one of the two
	# limits runs out in accept() itself and the other in eventfd().
	local limit base drain t0 t1 i
	for limit in 40 41; do
		start_limited_server $limit
		base=$(fd_count "$SRV_PID")
		bg drain "$STORM" -p "$SOCK" -w 0 drain 30
		drain=$BG_PID
		wait_for "$T/drain.out" "connected 30"
		wait_for "$SRV_LOG" "out of file descriptors"
		sleep 0.3
		t0=$(cpu_ticks "$SRV_PID")
		sleep 1.5
		t1=$(cpu_ticks "$SRV_PID")
		echo "# ulimit -n $limit: server CPU over 1.5 s while out of fds: $((t1 - t0)) ticks" >&3
		[ $((t1 - t0)) -le 15 ]
		kill "$drain"
		wait_gone "$drain"
		grep -Eq "closed [0-9]+ refused [1-9][0-9]*" "$T/drain.out"
		# Recovered: serves again, every descriptor given back.
		run cli -w 10 info
		[ "$status" -eq 0 ]
		[ "${lines[0]}" = "version 0" ]
		# Departures are taken in the loop's own time (slower under
		# ASan on a loaded machine): wait, but a leak stays a leak.
		for ((i = 0; i < 250; i++)); do
			[ "$(fd_count "$SRV_PID")" -eq "$base" ] && break
			sleep 0.02
		done
		[ "$(fd_count "$SRV_PID")" -eq "$base" ] || {
			echo "# $(fd_count "$SRV_PID") descriptors, not $base:" >&2
			ls -l "/proc/$SRV_PID/fd" >&2
			false
		}
		stop_server
		[ "$SRV_STATUS" -eq 0 ]
	done
	# Both ways of running out were met and logged.
	cat "$T"/server.*.log | grep -q "out of file descriptors: refused a connection"
	cat "$T"/server.*.log | grep -q "refused a peer .*: out of file descriptors (raise ulimit -n)"
}
