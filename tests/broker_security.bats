#!/usr/bin/env bats
# tests/broker_security.bats - what docs/broker-security.md promises, on a
# real ActiveMQ: TLS to the broker through --broker exec:openssl s_client
# with the strict options, against a stomp+ssl:// connector whose CA this
# file makes, and ActiveMQ authorization that keeps each bridge user to its
# own prefix.  The relay is driven through its uplink by
# tests/progs/uplink_drive (tests/lib/relay_helpers.bash); what reaches the
# broker is read over its plain stomp:// port by tests/progs/stomp_cli.py.
#
# One broker for the file: users alice (granted prefix hostA) and bob
# (granted hostB), a plain and a stomp+ssl connector.  Each test's queues
# are under hostA.tN... of its own, so tests do not see each other's.

load lib/helpers
load lib/relay_helpers

MAC2=02:00:00:00:00:02
Q2() { echo "/queue/$PREFIX.020000000002"; }

setup_file() {
	command -v openssl >/dev/null ||
		{ echo "openssl missing; run tests/deps.sh" >&2; return 1; }
	command -v python3 >/dev/null || { echo "python3 missing" >&2; return 1; }
	amq_install || return 1
	SEC=$(mktemp -d /tmp/tm-bsec.XXXXXX)
	export SEC TLS=$SEC/tls AMQ_REGISTRY=$SEC/registry
	# As root the relay, and so its exec: command, runs as nobody: the
	# CA files must be readable by anyone (the keys stay 0600).
	chmod 711 "$SEC"
	mkdir -m 755 "$TLS"
	amq_tls_ca "$TLS" testca && amq_tls_ca "$TLS" otherca &&
		amq_tls_keystore "$TLS" testca ks-pw &&
		chmod 644 "$TLS/testca.pem" "$TLS/otherca.pem" || return 1
	amq_start "$SEC/b1" b1 --user alice:alice-pw --user bob:bob-pw \
		--grant alice:hostA --grant bob:hostB \
		--ssl "$TLS/server.p12:ks-pw" || { amq_kill_all; return 1; }
	export PORT1 SSL_PORT
	PORT1=$(amq_get "$SEC/b1" stomp_port)
	SSL_PORT=$(amq_get "$SEC/b1" ssl_port)
}

teardown_file() {
	AMQ_REGISTRY=$SEC/registry amq_kill_all
	rm -rf "$SEC"
}

setup() {
	relay_setup
	PREFIX=hostA.t$BATS_TEST_NUMBER$$
}

teardown() { relay_teardown; }

# as USER ARGS...: stomp_cli.py logged in as USER, on the plain port.
as() {
	local u=$1
	shift
	python3 "$STOMP_CLI" --port "$PORT1" --login "$u" --passcode "$u-pw" "$@"
}

# rstat NAME: the relay's counter NAME from a fresh report, in $STAT.
# (drive_stat in a $(...) would lose drive's count of its markers, and a
# second call in one test would then read the first one's answer.)
rstat() {
	drive stats >/dev/null || return 1
	STAT=$(sed -n "s/^stat $1 //p" "$T/drive.last")
	[ -n "$STAT" ]
}

# cred USER: $T/USER.cred, a --credentials file.
cred() {
	printf 'login=%s\npasscode=%s-pw\n' "$1" "$1" >"$T/$1.cred"
	chmod 600 "$T/$1.cred"
}

# strict CA [NAME]: the --broker of docs/broker-security.md, trusting CA
# and checking that the broker's certificate names NAME; -verify_quiet
# and -servername keep s_client silent unless something fails, and the
# shell's "exec" makes s_client the relay's child (not an orphan left
# running when the relay ends the shell).
strict() {
	local n=${2:-localhost}
	echo "exec:exec openssl s_client -quiet -verify_return_error" \
		"-verify_hostname $n -CAfile $1 -verify_quiet -servername $n" \
		"-connect 127.0.0.1:$SSL_PORT"
}

# s_client ARGS...: one STOMP session by hand through openssl s_client:
# CONNECT as alice, DISCONNECT with a receipt (so that the broker closes
# and s_client exits); the broker's bytes in $T/sc.out, s_client's
# diagnostics in $T/sc.err, its exit status in $status.
s_client() {
	status=0
	printf 'CONNECT\naccept-version:1.2\nlogin:alice\npasscode:alice-pw\n\n\0DISCONNECT\nreceipt:bye\n\n\0' |
		timeout 20 openssl s_client "$@" -connect "127.0.0.1:$SSL_PORT" \
			>"$T/sc.out" 2>"$T/sc.err" || status=$?
	# Shown only when the test fails.
	echo "s_client $* -> $status"
	sed 's/^/  /' "$T/sc.err"
}

@test "tls recipe: s_client refuses a wrong CA or name only with -verify_return_error" {
	local strict=(-quiet -verify_return_error -verify_hostname localhost)
	s_client "${strict[@]}" -CAfile "$TLS/testca.pem"
	[ "$status" -eq 0 ]
	grep -q '^CONNECTED' "$T/sc.out"
	grep -q '^receipt-id:bye' "$T/sc.out"
	s_client "${strict[@]}" -CAfile "$TLS/otherca.pem"
	[ "$status" -eq 1 ]
	[ ! -s "$T/sc.out" ]
	grep -q 'verify error:num=20:unable to get local issuer certificate' "$T/sc.err"
	grep -q 'certificate verify failed' "$T/sc.err"
	s_client -quiet -verify_return_error -verify_hostname broker.example \
		-CAfile "$TLS/testca.pem"
	[ "$status" -eq 1 ]
	[ ! -s "$T/sc.out" ]
	grep -q 'verify error:num=62:hostname mismatch' "$T/sc.err"
	# -verify_quiet -servername NAME: silent when all is well, the
	# reason still given when not.
	strict+=(-verify_quiet -servername localhost)
	s_client "${strict[@]}" -CAfile "$TLS/testca.pem"
	[ "$status" -eq 0 ]
	grep -q '^CONNECTED' "$T/sc.out"
	[ ! -s "$T/sc.err" ]
	s_client "${strict[@]}" -CAfile "$TLS/otherca.pem"
	[ "$status" -eq 1 ]
	[ ! -s "$T/sc.out" ]
	grep -q 'verify error:num=20:unable to get local issuer certificate' "$T/sc.err"
	# Without -verify_return_error s_client notes the failure and talks
	# to the broker all the same: this is why the recipe needs it.
	s_client -quiet -CAfile "$TLS/otherca.pem"
	[ "$status" -eq 0 ]
	grep -q 'verify error:num=20' "$T/sc.err"
	grep -q '^CONNECTED' "$T/sc.out"
}

@test "tls: alice's relay (prefix hostA) over exec:openssl s_client: frames flow both ways" {
	cred alice
	drive_start --broker "$(strict "$TLS/testca.pem")" \
		--credentials "$T/alice.cred"
	wait_for "$T/drive.err" 'connected \(ActiveMQ' 20
	# The session is the TLS one, carried by the command, which says
	# nothing when all is well.
	ss -Htnp state established "( dport = :$SSL_PORT )" | grep -q openssl
	absent '^depth=|^verify |SSL_get_servername' "$T/drive.err"
	# "exec" in the command: s_client is the relay's own child.
	[ "$(ps -o comm= --ppid "$(pgrep -P "$DRIVE_PID" mqrelay)")" = openssl ]
	drive send 00000000000000a1 7 "$FRAME_12"
	drive drain 5000
	grep -qx drained "$T/drive.last"
	run as alice recv "$(Q2)" --count 1 --timeout 5 --show x-mq-seq
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$FRAME_12 x-mq-seq=7" ]
	# And in: a frame put on the queue by a third party reaches the bridge.
	drive sub $MAC2
	as alice send "$(Q2)" --hex "$FRAME_12" --receipt
	drive recv 1 5000
	grep -qx "frame [0-9]* $FRAME_12" "$T/drive.last"
	[ "$(amq_queue_size "$SEC/b1" "$PREFIX.020000000002")" = 0 ]
}

@test "tls: with another CA the relay logs the refusal, retries with backoff, and nothing reaches the broker" {
	cred alice
	drive_start --broker "$(strict "$TLS/otherca.pem")" \
		--credentials "$T/alice.cred"
	drive send 00000000000000a2 1 "$FRAME_12"
	# openssl's reason reaches the relay's stderr; the relay adds a
	# warning naming the broker for each attempt.
	wait_count "$T/drive.err" 'certificate verify failed' 3 20
	wait_count "$T/drive.err" \
		"warning: broker exec:exec openssl s_client .* -connect 127.0.0.1:$SSL_PORT: " 3 20
	local n1 i
	rstat failures
	n1=$STAT
	[ "$n1" -ge 3 ]
	# Still alive and still trying: the count goes on growing (the
	# backoff doubles from 0.1 s, so a few seconds see more).
	for ((i = 0; i < 15; i++)); do
		rstat failures
		[ "$STAT" -gt "$n1" ] && break
	done
	[ "$STAT" -gt "$n1" ]
	rstat sessions
	[ "$STAT" = 0 ]
	kill -0 "$(pgrep -P "$DRIVE_PID" mqrelay)"
	absent 'connected \(' "$T/drive.err"
	drive drain 500
	grep -qx "pending 1" "$T/drive.last"
	[ "$(amq_queue_size "$SEC/b1" "$PREFIX.020000000002")" = 0 ]
}

@test "tls: a certificate for another name is refused too (-verify_hostname)" {
	cred alice
	drive_start --broker "$(strict "$TLS/testca.pem" broker.example)" \
		--credentials "$T/alice.cred"
	wait_count "$T/drive.err" 'hostname mismatch' 2 20
	rstat sessions
	[ "$STAT" = 0 ]
	absent 'connected \(' "$T/drive.err"
}

@test "authz: alice uses hostA's queues and topic; bob is refused with the broker's ERROR" {
	local q=/queue/$PREFIX.x
	as alice send "$q" --hex 0a0b --persistent --receipt
	run as alice send "/topic/$PREFIX.broadcast" --hex 0c --receipt
	[ "$status" -eq 0 ]
	run as bob recv "$q" --count 1 --timeout 5
	echo "$output"
	[ "$status" -eq 2 ]
	[[ $output == *"ERROR: User bob is not authorized to read from: queue://$PREFIX.x"* ]]
	# Not by browsing, nor by a wildcard over hostA or over everything.
	run as bob recv "$q" --count 0 --timeout 5 --ack auto \
		--header browser:true --stop-on-header browser:end
	[ "$status" -eq 2 ]
	[[ $output == *"not authorized to read from: queue://$PREFIX.x"* ]]
	run as bob recv '/queue/hostA.>' --count 0 --timeout 2
	[ "$status" -eq 2 ]
	[[ $output == *"ERROR: User bob is not authorized to read from: queue://hostA.>"* ]]
	run as bob recv '/queue/>' --count 0 --timeout 2
	[ "$status" -eq 2 ]
	[[ $output == *"ERROR: User bob is not authorized to read from: queue://>"* ]]
	# Nor write there.
	run as bob send "$q" --hex 0d --receipt
	[ "$status" -eq 2 ]
	[[ $output == *"ERROR: User bob is not authorized to write to: queue://$PREFIX.x"* ]]
	# Nor hear or speak on hostA's broadcast topic.
	run as bob recv "/topic/$PREFIX.broadcast" --count 0 --timeout 1
	[ "$status" -eq 2 ]
	[[ $output == *"ERROR: User bob is not authorized to read from: topic://$PREFIX.broadcast"* ]]
	run as bob send "/topic/$PREFIX.broadcast" --hex 0e --receipt
	[ "$status" -eq 2 ]
	[[ $output == *"ERROR: User bob is not authorized to write to: topic://$PREFIX.broadcast"* ]]
	# Alice's message is still there, alone, and hers to take.
	run as alice recv "$q" --count 0 --timeout 1
	[ "$status" -eq 0 ]
	[ "$output" = 0a0b ]
	# Outside her prefix alice has no right either, advisories included.
	run as alice send /queue/elsewhere --hex 01 --receipt
	[ "$status" -eq 2 ]
	[[ $output == *"ERROR: User alice is not authorized to write to: queue://elsewhere"* ]]
	run as alice recv /topic/ActiveMQ.Advisory.Queue --count 0 --timeout 2
	[ "$status" -eq 2 ]
	[[ $output == *"not authorized to read from: topic://ActiveMQ.Advisory.Queue"* ]]
	# The refusal does not end the session: a later SEND is receipted.
	printf 'SUBSCRIBE\nid:1\ndestination:%s\nreceipt:s1\n\n\0SEND\ndestination:/queue/hostB.y\nreceipt:s2\n\nz\0' "$q" |
		as bob --timeout 1 raw >"$T/raw.out"
	cat "$T/raw.out"
	[ "$(wc -l <"$T/raw.out")" -eq 2 ]
	[[ $(sed -n 1p "$T/raw.out") == "ERROR "*"receipt-id=s1"* ]]
	[[ $(sed -n 2p "$T/raw.out") == "RECEIPT receipt-id=s2"* ]]
}

@test "authz: bob's relay on prefix hostA is refused at SUBSCRIBE, retried, and takes nothing" {
	as alice send "$(Q2)" --hex "$FRAME_12" --persistent --receipt
	cred bob
	drive_start --broker "$(strict "$TLS/testca.pem")" \
		--credentials "$T/bob.cred"
	drive sub $MAC2
	wait_count "$T/drive.err" \
		"session lost: ERROR from the broker: User bob is not authorized to read from: topic://$PREFIX.broadcast" 2 20
	drive recv 1 2000
	grep -qx "got 0" "$T/drive.last"
	[ "$(amq_queue_size "$SEC/b1" "$PREFIX.020000000002")" = 1 ]
	run as alice recv "$(Q2)" --count 1 --timeout 5
	[ "$output" = "$FRAME_12" ]
}

@test "amq_start: --grant and --ssl values are checked before any broker starts" {
	run amq_start "$T/x" x --user alice:pw --grant carol:hostC
	[ "$status" -eq 1 ]
	[[ $output == *"--grant 'carol:hostC': no --user carol"* ]]
	run amq_start "$T/x" x --grant alice:hostA
	[ "$status" -eq 1 ]
	[[ $output == *"--grant needs --user"* ]]
	run amq_start "$T/x" x --ssl relative.p12:pw
	[ "$status" -eq 1 ]
	[[ $output == *"bad --ssl 'relative.p12:pw'"* ]]
	run amq_start "$T/x" x --ssl "$T/none.p12:pw"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot read $T/none.p12"* ]]
	[ -z "$(amq_get "$T/x" pid)" ]
}
