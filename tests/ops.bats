#!/usr/bin/env bats
# tests/ops.bats - running the programs as services: socket activation,
# readiness, status and watchdog messages, as systemd would see them but
# without systemd (tests/progs/svc_harness.py passes the socket and reads
# the notify socket); logs to syslog and to the journal's stream; status
# files as text and in Prometheus' format (checked by promtool); the
# manual pages against -h; make install; the units of contrib/systemd.

load lib/helpers
load lib/mqbridge_helpers

HARNESS=$TM_TOP/tests/progs/svc_harness.py

setup() {
	mqb_setup
	NOTIFY=$T/notify
	ASOCK=$T/asock
}
teardown() { mqb_teardown; }

# svc NAME HARNESS-ARGS... -- CMD...: the harness in the background, its
# output (child PID, notify ..., exit N) in $T/NAME.out; the daemon's pid
# in $SVC_PID once the harness started it.
svc() {
	local name=$1
	shift
	bg "$name" python3 "$HARNESS" "$@"
	wait_for "$T/$name.out" '^child [0-9]+$' 10
	SVC_PID=$(sed -n 's/^child \([0-9]*\)$/\1/p' "$T/$name.out")
	echo "$SVC_PID" >>"$T/pids"
}

# svc_run HARNESS-ARGS... -- CMD...: the harness in the foreground, for
# refusals; $status and $output as bats' run, the daemon's exit code in
# $SVC_EXIT.
svc_run() {
	run timeout 20 python3 "$HARNESS" "$@"
	SVC_EXIT=$(printf '%s\n' "$output" | sed -n 's/^exit \([0-9]*\)$/\1/p')
}

# The one error line a refused start printed (the harness prints the rest).
svc_error() {
	printf '%s\n' "$output" | grep -v '^child \|^exit \|^notify '
}

# notified NAME MSG: NAME's daemon sent MSG, from its own pid.
notified() {
	wait_for "$T/$1.out" "^notify pid=$SVC_PID $2\$" 10
}

# A strict check of Prometheus' text exposition format: promtool's linter
# (names, types, units, _total on counters) from Debian's prometheus.
prom_check() {
	command -v promtool >/dev/null || {
		echo "# promtool missing: apt-get install prometheus" >&2
		return 1
	}
	run promtool check metrics <"$1"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

# prom_value FILE METRIC{LABELS}: the sample's value.
prom_value() {
	awk -v m="$2" '$1 == m { print $2 }' "$1"
}

# wait_prom FILE METRIC{LABELS} VALUE: until the file has it.
wait_prom() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(prom_value "$1" "$2")" = "$3" ] && return 0
		sleep 0.05
	done
	echo "# $2 is '$(prom_value "$1" "$2")', not '$3', in $1:" >&2
	sed 's/^/#   /' "$1" >&2
	return 1
}

# ---- The server under a service manager ----------------------------

@test "server: the socket from LISTEN_FDS serves; READY, STATUS, WATCHDOG at half the interval, STOPPING; the socket stays" {
	need_client
	svc srv --listen "$ASOCK" --mode 0660 --notify "$NOTIFY" \
	    --watchdog 400000 -- "$SRV" -f "$REGION" -m 1M
	notified srv READY=1
	notified srv "STATUS=0 peers on $ASOCK"
	grep -q "listening on $ASOCK, from the service manager" "$T/srv.err"
	# The socket is the harness's: the server made none of its own.
	run "$CLI" -p "$ASOCK" info
	[ "$status" -eq 0 ]
	[[ $output == *"id 0"* ]]
	bg mon "$CLI" -p "$ASOCK" -w 0 monitor
	wait_for "$T/mon.out" '^ready'
	notified srv "STATUS=1 peer on $ASOCK"
	# 400 ms interval: a ping every 200 ms.  Generous bounds: at least 4
	# in 2 s, and not one per turn of the loop.
	sleep 2
	local n
	n=$(grep -c "^notify pid=$SVC_PID WATCHDOG=1$" "$T/srv.out")
	echo "# $n pings"
	[ "$n" -ge 4 ] && [ "$n" -le 40 ]
	kill -TERM "$SVC_PID"
	notified srv STOPPING=1
	wait_for "$T/srv.out" '^exit 0$'
	[ -S "$ASOCK" ]
	grep -q "socket left to the service manager" "$T/srv.err"
	absent "^notify pid=[0-9]* READY=1" <(grep -v "pid=$SVC_PID " "$T/srv.out")
}

@test "server: without a manager, no notification and the socket is its own" {
	svc srv --notify "$NOTIFY" -- "$SRV" -f "$REGION" -m 1M -p "$SOCK"
	notified srv READY=1
	kill -TERM "$SVC_PID"
	wait_for "$T/srv.out" '^exit 0$'
	[ ! -e "$SOCK" ]
	absent "from the service manager" "$T/srv.err"
	# No NOTIFY_SOCKET: nothing is sent, nothing fails.
	bg plain "$SRV" -f "$REGION" -p "$SOCK"
	wait_for "$T/plain.err" "listening on $SOCK \("
}

@test "server: LISTEN_PID of another process is not ours: the server makes its own socket" {
	svc srv --listen "$ASOCK" --listen-pid 1 -- "$SRV" -f "$REGION" \
	    -m 1M -p "$SOCK"
	wait_for "$T/srv.err" "listening on $SOCK \("
	[ -S "$SOCK" ]
}

@test "server: -p must name the socket the manager passed; -S and -o must match it" {
	svc_run --listen "$ASOCK" --mode 0660 -- "$SRV" -f "$REGION" -m 1M \
	    -p "$T/other"
	echo "$output"
	[ "$SVC_EXIT" = 1 ]
	output=$(svc_error) one_line_error
	[[ $output == *"-p $T/other: the service manager passed the socket $ASOCK"* ]]
	[[ $output == *"make -p and ListenStream= name the same path, or drop -p"* ]]
	# Refused before the region is made.
	[ ! -e "$REGION" ]
	rm -f "$ASOCK"
	svc_run --listen "$ASOCK" --mode 0660 -- "$SRV" -f "$REGION" -m 1M \
	    -p "$ASOCK" -S 0600
	echo "$output"
	[ "$SVC_EXIT" = 1 ]
	output=$(svc_error) one_line_error
	[[ $output == *"-S 0600: the socket $ASOCK from the service manager has mode 0660; set SocketMode=0600"* ]]
	[ ! -e "$REGION" ]
	rm -f "$ASOCK"
	svc_run --listen "$ASOCK" --mode 0660 -- "$SRV" -f "$REGION" -m 1M \
	    -o 65534
	echo "$output"
	[ "$SVC_EXIT" = 1 ]
	output=$(svc_error) one_line_error
	[[ $output == *"set SocketUser= and SocketGroup="* ]]
	# What matches is accepted.
	rm -f "$ASOCK"
	svc srv --listen "$ASOCK" --mode 0660 --notify "$NOTIFY" -- "$SRV" \
	    -f "$REGION" -m 1M -p "$ASOCK" -S 0660 -o 0:0
	notified srv READY=1
}

@test "server: two sockets, a descriptor 3 that is no socket, or an abstract socket are refused" {
	svc_run --listen "$ASOCK" --fds 2 -- "$SRV" -f "$REGION" -m 1M
	[ "$SVC_EXIT" = 1 ]
	output=$(svc_error) one_line_error
	[[ $output == *"passed 2 sockets (LISTEN_FDS); give the .socket unit exactly one ListenStream="* ]]
	echo x >"$T/file"
	svc_run --fd3-file "$T/file" -- "$SRV" -f "$REGION" -m 1M
	[ "$SVC_EXIT" = 1 ]
	output=$(svc_error) one_line_error
	[[ $output == *"descriptor 3 from the service manager (LISTEN_FDS) is not a listening UNIX stream socket"* ]]
	svc_run --abstract "tm-ops-$$" -- "$SRV" -f "$REGION" -m 1M
	[ "$SVC_EXIT" = 1 ]
	output=$(svc_error) one_line_error
	[[ $output == *"has no path (abstract or unnamed); use ListenStream=/PATH"* ]]
	[ ! -e "$REGION" ]
}

@test "server: on the journal's stream each line carries its priority" {
	svc srv --journal -- "$SRV" -f "$REGION" -m 1M -p "$SOCK"
	wait_for "$T/srv.err" "^<6>tm_ivshmem_server: listening on $SOCK"
	kill -TERM "$SVC_PID"
	wait_for "$T/srv.out" '^exit 0$'
	svc_run --journal -- "$SRV" -f "$REGION" -m 3M -p "$SOCK"
	[[ $output == *"<3>tm_ivshmem_server: error: -m 3M: "* ]]
}

# ---- The bridge and mqnic under a service manager -------------------

@test "mqbridge: READY once serving, STATUS as slots run, WATCHDOG, STOPPING" {
	start_server -f "$REGION" -m 4M
	svc br --notify "$NOTIFY" --watchdog 600000 -- "$BRIDGE" -p "$SOCK"
	notified br READY=1
	notified br "STATUS=0 of 4 slots running, 1 region"
	peer a "$MAC_A" run hold
	running a
	notified br "STATUS=1 of 4 slots running, 1 region"
	wait_count "$T/br.out" "^notify pid=$SVC_PID WATCHDOG=1$" 3 5
	kill -TERM "$SVC_PID"
	notified br STOPPING=1
	wait_for "$T/br.out" '^exit 0$'
}

# in_private_dev SCRIPT: run SCRIPT with a /dev of its own holding a
# syslog socket at /dev/log (peerstorm's receiver, into $T/syslog), in
# new mount, pid and network namespaces; everything dies with them.
in_private_dev() {
	cat >"$T/ns.sh" <<-EOF
	set -u
	mount -t tmpfs tmpfs /dev
	mknod -m 666 /dev/null c 1 3
	mknod -m 666 /dev/urandom c 1 9
	mkdir /dev/net && mknod -m 666 /dev/net/tun c 10 200
	ip link set lo up
	"$STORM" syslog /dev/log >"$T/syslog" 2>&1 &
	for i in \$(seq 250); do [ -S /dev/log ] && break; sleep 0.02; done
	$1
	EOF
	run timeout 60 unshare --mount --pid --net --fork --kill-child \
	    --mount-proc --propagation private bash "$T/ns.sh"
	echo "$output"
	echo "--- syslog"
	cat "$T/syslog"
}

@test "mqbridge --syslog and mqnic --syslog log to syslog, the relay too; stderr stays empty" {
	need_storm
	need_mqnic
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
	in_private_dev "
	\"$SRV\" -f \"$REGION\" -m 4M -p \"$SOCK\" 2>\"$T/srv.err\" &
	for i in \$(seq 250); do grep -q 'listening on' \"$T/srv.err\" && break; sleep 0.02; done
	\"$BRIDGE\" -p \"$SOCK\" --syslog --broker stomp://127.0.0.1:9 \
	    2>\"$T/br.err\" &
	echo bridge \$!
	\"$MQNIC\" -p \"$SOCK\" --mac $MAC_A --tap mq0 --syslog \
	    2>\"$T/nic.err\" &
	echo nic \$!
	for i in \$(seq 500); do
		grep -q 'mqnic ready' \"$T/syslog\" &&
		    grep -q 'mqrelay\[[0-9]*\]: relay ready' \"$T/syslog\" && break
		sleep 0.02
	done
	"
	[ "$status" -eq 0 ]
	local br nic
	br=$(sed -n 's/^bridge //p' <<<"$output")
	nic=$(sed -n 's/^nic //p' <<<"$output")
	grep -q "mqbridge\[$br\]: bridge ready: 1 region" "$T/syslog"
	grep -q "mqnic\[$nic\]: mqnic ready: slot [0-9]* tap mq0 mac $MAC_A" "$T/syslog"
	grep -q "mqrelay\[[0-9]*\]: relay ready" "$T/syslog"
	[ ! -s "$T/br.err" ]
	[ ! -s "$T/nic.err" ]
	# A bad option still goes to stderr, where the operator sees it.
	run "$BRIDGE" -p "$SOCK" --syslog --slots 0
	[ "$status" -eq 1 ]
	[[ $output == "mqbridge: error: --slots 0: "* ]]
}

# ---- Status files ----------------------------------------------------

@test "server -i: peers and counters as text and as Prometheus metrics that promtool accepts" {
	need_client
	chmod 0755 "$T"
	start_server -f "$REGION" -m 1M -U 0 -S 0666 -i "$T/st" -i "$T/st.prom"
	bg mon "$CLI" -p "$SOCK" -w 0 monitor
	wait_for "$T/mon.out" '^ready'
	# A refused user: the allow-list is -U 0.
	run setpriv --reuid 65534 --regid 65534 --clear-groups "$CLI" -p "$SOCK" -w 2 info
	[ "$status" -ne 0 ]
	local sock=socket=\"$SOCK\"
	wait_prom "$T/st.prom" "tm_ivshmem_server_peers{$sock,kind=\"tool\"}" 1
	wait_prom "$T/st.prom" "tm_ivshmem_server_refused_connections_total{$sock,reason=\"allow_list\"}" 1
	[ "$(prom_value "$T/st.prom" "tm_ivshmem_server_connections_total{$sock}")" = 2 ]
	[ "$(prom_value "$T/st.prom" "tm_ivshmem_server_region_size_bytes{$sock}")" = 1048576 ]
	grep -q "^tm_ivshmem_server_peer_info{$sock,peer=\"0\",uid=\"0\",kind=\"tool\"} 1$" "$T/st.prom"
	prom_check "$T/st.prom"
	grep -q "^peers 1 max 65536 kept 0 pending 0$" "$T/st"
	grep -q "^refused allow_list 1$" "$T/st"
	grep -Eq "^peer 0 pid [0-9]+ uid 0 gid 0 kind tool greeting done connected_seconds [0-9]+$" "$T/st"
	grep -q "^socket $SOCK activated 0$" "$T/st"
	stop_server
	[ "$SRV_STATUS" -eq 0 ]
	# Every rewrite went through a fresh file renamed over the old.
	absent . <(ls "$T" | grep -E '^st(\.prom)?\.[A-Za-z0-9]{6}$')
	run_server -f "$REGION" -p "$SOCK" -i "$T/a.prom" -i "$T/b.prom"
	[ "$status" -eq 1 ]
	one_line_error
	[[ $output == *"-i $T/b.prom: a Prometheus status file is given already ($T/a.prom); give one FILE and one FILE.prom at most"* ]]
}

@test "mqbridge --status FILE.prom: slots, drops and the relay's counters, accepted by promtool" {
	start_server -f "$REGION" -m 4M
	bg broker python3 "$TM_TOP/tests/progs/fake_broker.py" --mode good
	wait_for "$T/broker.out" '^[0-9]+$'
	FAKE_PORT=$(head -n1 "$T/broker.out")
	start_bridge -p "$SOCK" --status "$T/br.prom" --broker "stomp://127.0.0.1:$FAKE_PORT"
	peer a "$MAC_A" run hold
	running a
	local sl="socket=\"$SOCK\",slot=\"$(slot_of a)\"" br="bridge=\"$SOCK\""
	wait_prom "$T/br.prom" "mqbridge_relay_connected{$br}" 1
	wait_prom "$T/br.prom" "mqbridge_slot_state{$sl,state=\"run\"}" 1
	[ "$(prom_value "$T/br.prom" "mqbridge_slot_state{$sl,state=\"init\"}")" = 0 ]
	[ "$(prom_value "$T/br.prom" "mqbridge_relay_running{$br}")" = 1 ]
	[ "$(prom_value "$T/br.prom" "mqbridge_relay_sessions_total{$br}")" -ge 1 ]
	[ "$(prom_value "$T/br.prom" "mqbridge_dropped_frames_total{$br,reason=\"spoofed\"}")" = 0 ]
	[ "$(prom_value "$T/br.prom" "mqbridge_region_served{socket=\"$SOCK\"}")" = 1 ]
	grep -q "^mqbridge_slot_info{$sl,mac=\"$MAC_A\",peer=\"[0-9]*\"} 1$" "$T/br.prom"
	grep -q "^mqbridge_slot_in_frames_total{$sl} " "$T/br.prom"
	prom_check "$T/br.prom"
	# The text file alongside, with the relay's line.
	wait_for "$STATUS" "^relay pid [0-9]+ port run mode fast .* connected 1 "
	run timeout 10 "$BRIDGE" -p "$SOCK" --status "$T/a" --status "$T/b"
	[ "$status" -eq 1 ]
	[[ $output == *"--status $T/b: a text status file is given already ($T/a); give one FILE and one FILE.prom at most"* ]]
}

@test "mqnic --status FILE and FILE.prom: slot, peer, link state and counters; promtool accepts them" {
	need_mqnic
	need_net
	local ns tx0
	start_server -f "$REGION" -m 4M
	start_bridge -p "$SOCK"
	ns=$(netns a)
	bg nic ip netns exec "$ns" "$MQNIC" -p "$SOCK" --mac "$MAC_A" --tap mq0 \
	    --status "$T/nic.status" --status "$T/nic.prom"
	wait_for "$T/nic.err" "mqnic ready"
	# The link comes up once the bridge serves the slot.
	wait_for "$T/nic.status" "^nic slot [0-9]+ tap mq0 mac $MAC_A peer [0-9]+ state run server up$"
	wait_prom "$T/nic.prom" "mqnic_link_running{tap=\"mq0\",mac=\"$MAC_A\"}" 1
	grep -Eq "^mqnic_info\{tap=\"mq0\",mac=\"$MAC_A\",slot=\"[0-9]+\",peer=\"[0-9]+\"\} 1$" "$T/nic.prom"
	prom_check "$T/nic.prom"
	# Frames the kernel sends out of mq0 are counted, in both files.
	tx0=$(sed -nE 's/.* tx_frames ([0-9]+) .*/\1/p' "$T/nic.status")
	ip -n "$ns" addr add 10.77.0.1/24 dev mq0
	ip -n "$ns" link set mq0 up
	ip netns exec "$ns" ping -c 2 -W 1 10.77.0.9 >/dev/null 2>&1 || true
	kill -USR1 "$BG_PID"
	wait_for "$T/nic.status" "tx_frames ([1-9][0-9]*) " 5
	[ "$(sed -nE 's/.* tx_frames ([0-9]+) .*/\1/p' "$T/nic.status")" -gt "$tx0" ]
	wait_for "$T/nic.prom" "^mqnic_tx_frames_total\{tap=\"mq0\",mac=\"$MAC_A\"\} [1-9]" 5
	# The server goes away: the file says so, and frames keep moving.
	stop_server
	wait_for "$T/nic.status" " server gone$" 5
	wait_prom "$T/nic.prom" "mqnic_server_up{tap=\"mq0\",mac=\"$MAC_A\"}" 0
	# One of each kind at most, in one line.
	run timeout 10 "$MQNIC" -p "$SOCK" --mac "$MAC_B" --status "$T/a" --status "$T/b"
	[ "$status" -eq 1 ]
	[[ $output == *"--status $T/b: a text status file is given already ($T/a); give one FILE and one FILE.prom at most"* ]]
}

# ---- Manual pages ----------------------------------------------------

@test "man pages: mandoc -Tlint finds nothing but manuals not installed here" {
	command -v mandoc >/dev/null || { echo "# mandoc missing: apt-get install mandoc" >&2; return 1; }
	local f
	for f in "$TM_TOP"/docs/man/*.[18]; do
		# "referenced manual not found" names our own pages before
		# they are installed, and mandoc.db staleness is the host's.
		run mandoc -Tlint "$f"
		printf '%s\n' "$output" | grep -v 'referenced manual not found\|mandoc\.db' |
		    grep . && { echo "# $f is not clean" >&2; return 1; }
	done
	[ -f "$TM_TOP/docs/man/tm_ivshmem_client.1" ]
	ls "$TM_TOP"/docs/man/{tm_ivshmem_server,mqbridge,mqnic,mqrelay}.8
}

# options_of_help: the options -h names, one per line ("[-hv]" counts as
# -h and -v).
options_of_help() {
	python3 -c '
import re, sys
text = sys.stdin.read()
opts = set()
for m in re.finditer(r"(?<![\w-])(\[?)-(-?[A-Za-z][\w-]*)", text):
	o = m.group(2)
	if o.startswith("-"):
		opts.add("-" + o)
	elif len(o) > 1 and m.group(1) == "[":
		opts.update("-" + c for c in o)
	elif len(o) == 1:
		opts.add("-" + o)
print("\n".join(sorted(opts)))'
}

# options_of_page PAGE: the options its option lists explain (.It Fl X).
options_of_page() {
	sed -n 's/^\.It Fl \(-\{0,1\}[A-Za-z][A-Za-z0-9-]*\).*/-\1/p' "$1" | sort -u
}

@test "man pages: every option -h names is explained in the page, and every option the page explains is in -h" {
	local prog page bad=0
	for prog in tm_ivshmem_server:8 tm_ivshmem_client:1 mqbridge:8 mqnic:8 mqrelay:8; do
		page=$TM_TOP/docs/man/${prog%:*}.${prog#*:}
		"$TM_BUILD/bin/${prog%:*}" -h >"$T/help" 2>&1 || true
		options_of_help <"$T/help" >"$T/h"
		options_of_page "$page" >"$T/p"
		[ -s "$T/h" ] && [ -s "$T/p" ]
		if ! diff "$T/h" "$T/p" >"$T/d"; then
			echo "# ${prog%:*}: < only in -h, > only in the page:"
			sed 's/^/#   /' "$T/d"
			bad=1
		fi
	done
	[ "$bad" -eq 0 ]
}

# ---- make install and the units ----------------------------------------

# staged_install: make install into $T/root with PREFIX=/usr/local, from
# this flavour's build.
staged_install() {
	local san=
	[ "$TM_FLAVOUR" = asan ] && san="SAN=1"
	make -s -C "$TM_TOP" O="$TM_BUILD" $san install DESTDIR="$T/root" \
	    PREFIX=/usr/local >"$T/install.log" 2>&1 ||
	    { cat "$T/install.log"; return 1; }
	ROOT=$T/root/usr/local
}

@test "make install: daemons and mqrelay in sbin, the client in bin, pages in man1 and man8, units; the installed bridge finds its relay" {
	staged_install
	local f
	for f in sbin/tm_ivshmem_server sbin/mqbridge sbin/mqnic sbin/mqrelay \
	    bin/tm_ivshmem_client; do
		[ -x "$ROOT/$f" ] || { echo "# $f missing" >&2; return 1; }
	done
	for f in man1/tm_ivshmem_client.1 man8/tm_ivshmem_server.8 \
	    man8/mqbridge.8 man8/mqnic.8 man8/mqrelay.8; do
		[ -f "$ROOT/share/man/$f" ] || { echo "# $f missing" >&2; return 1; }
	done
	for f in tm-ivshmem-server.socket tm-ivshmem-server.service \
	    mqbridge.service mqnic@.service; do
		[ -f "$ROOT/lib/systemd/system/$f" ]
	done
	grep -q "^ExecStart=/usr/local/sbin/mqbridge " "$ROOT/lib/systemd/system/mqbridge.service"
	# man finds the installed pages.
	run env MANPATH="$ROOT/share/man" man -w mqbridge
	[[ $output == "$ROOT/share/man/man8/mqbridge.8"* ]]
	# The installed bridge runs the relay beside it, without --relay-path.
	start_server -f "$REGION" -m 4M
	bg br "$ROOT/sbin/mqbridge" -p "$SOCK" --broker stomp://127.0.0.1:9
	wait_for "$T/br.err" "mqrelay: relay ready"
	kill -TERM "$BG_PID"
	wait_gone "$BG_PID"
	# Without it there, the bridge says where it looked and what to do.
	rm "$ROOT/sbin/mqrelay"
	run timeout 10 "$ROOT/sbin/mqbridge" -p "$SOCK" --broker stomp://127.0.0.1:9
	[ "$status" -eq 1 ]
	[[ $output == *"--relay-path $ROOT/sbin/mqrelay: No such file or directory; build mqrelay (make) or give its path"* ]]
}

@test "units: systemd-analyze verify finds nothing; security exposure stays low" {
	command -v systemd-analyze >/dev/null || { echo "# systemd-analyze missing" >&2; return 1; }
	staged_install
	local u d=$T/units
	mkdir "$d"
	# verify checks that ExecStart's program exists: point it at the
	# staged one.
	for u in "$ROOT"/lib/systemd/system/*; do
		sed "s|/usr/local/sbin/|$ROOT/sbin/|" "$u" >"$d/${u##*/}"
	done
	cd "$d"
	run env MANPATH="$ROOT/share/man:/usr/share/man" systemd-analyze verify \
	    ./tm-ivshmem-server.socket ./tm-ivshmem-server.service \
	    ./mqbridge.service ./mqnic@mq0.service
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# Exposure on systemd's 0-10 scale, threshold in tenths: the server
	# at most 1.5 (it needs nothing), the others at most 3.
	run systemd-analyze security --offline=true --threshold=15 ./tm-ivshmem-server.service
	echo "$output" | tail -n1
	[ "$status" -eq 0 ]
	for u in mqbridge.service mqnic@.service; do
		run systemd-analyze security --offline=true --threshold=30 "./$u"
		echo "$output" | tail -n1
		[ "$status" -eq 0 ]
	done
}

@test "units: the server runs as its unit runs it: another user, no capabilities, no new privileges, the socket from the manager" {
	need_client
	local d=$T/state
	mkdir -m 0700 "$d"
	chown 61234:61234 "$d"
	chmod 0755 "$T"
	svc srv --listen "$ASOCK" --mode 0666 --notify "$NOTIFY" --watchdog 2000000 -- \
	    "$(command -v setpriv)" --reuid 61234 --regid 61234 --clear-groups \
	    --no-new-privs --bounding-set -all --inh-caps -all \
	    "$SRV" -f "$d/region" -m 1M -i "$d/status" -i "$d/server.prom"
	# setpriv execs: the pid the harness forked is the server's.
	notified srv READY=1
	notified srv WATCHDOG=1
	run "$CLI" -p "$ASOCK" info
	[ "$status" -eq 0 ]
	[ "$(stat -c %u "$d/region")" = 61234 ]
	wait_for "$d/status" "^connections accepted 1 "
	prom_check "$d/server.prom"
	grep -q "^CapEff:	0000000000000000$" "/proc/$SVC_PID/status"
	kill -TERM "$SVC_PID"
	notified srv STOPPING=1
	wait_for "$T/srv.out" '^exit 0$'
}

# Without CAP_KILL the bridge (root) could not stop its relay (nobody),
# and waited for it at exit.
@test "units: the bridge with only CAP_SETUID, CAP_SETGID and CAP_KILL starts its relay as nobody and stops it" {
	start_server -f "$REGION" -m 4M
	svc br --notify "$NOTIFY" -- "$(command -v setpriv)" --no-new-privs \
	    --bounding-set -all,+setuid,+setgid,+kill --inh-caps -all \
	    "$BRIDGE" -p "$SOCK" --broker stomp://127.0.0.1:9
	notified br READY=1
	wait_for "$T/br.err" "mqrelay: relay ready"
	local relay
	relay=$(pgrep -P "$SVC_PID" mqrelay)
	[ -n "$relay" ]
	[ "$(stat -c %U "/proc/$relay")" = nobody ]
	kill -TERM "$SVC_PID"
	wait_for "$T/br.out" '^exit 0$'
	wait_gone "$relay"
}
