#!/usr/bin/env bats
# tests/broker.bats - mqbridge across hosts through a real ActiveMQ: two
# servers stand for two hosts, each with its own bridge, one broker (two
# for failover) between them.  Endpoints are mqnic in namespaces or
# tests/progs/mqpeer; what is on the broker is read and written by
# tests/progs/stomp_cli.py, which shares no code with the bridge.

load lib/helpers
load lib/mqbridge_helpers
load lib/relay_helpers
load lib/broker_helpers

setup_file() { relay_file_setup; }
teardown_file() { relay_file_teardown; }

setup() {
	mqb_setup
	relay_setup
}

teardown() {
	exec 4>&- 2>/dev/null
	mqb_teardown
}



@test "broker: endpoints on two hosts ping each other, ARP included; a local pair never touches the broker" {
	need_mqnic
	need_net
	host A
	host B
	nsa=$(netns a)
	nsb=$(netns b)
	nsc=$(netns c)
	quiet_ns "$nsa" "$nsb" "$nsc"
	host_nic nica A "$nsa" "$MAC_A" 10.77.0.1/24
	host_nic nicb B "$nsb" "$MAC_B" 10.77.0.2/24
	host_nic nicc A "$nsc" "$MAC_C" 10.77.0.3/24
	wait_sysnet_up "$nsa"
	wait_sysnet_up "$nsb"
	run ip netns exec "$nsa" ping -c 3 -W 5 10.77.0.2
	echo "$output"
	[ "$status" -eq 0 ]
	# The neighbour on the same host: straight through the switch.
	run ip netns exec "$nsc" ping -c 3 -W 5 10.77.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	# ARP went out as a broadcast and came back as unicast.
	[ "$(host_slot_field A "$MAC_A" to_broker_frames)" -ge 4 ]
	[ "$(host_slot_field B "$MAC_B" from_broker_frames)" -ge 4 ]
	# C's unicasts to A stayed on host A; only its ARP broadcast left.
	[ "$(host_slot_field A "$MAC_C" to_broker_frames)" -le 1 ]
	[ "$(relay_field A connected)" = 1 ]
}

# The frame tests/progs/mqpeer sends: DST SRC 88b5, its number (LE), zeros
# to 60 bytes.
peer_frame() {
	local dst=${1//:/} src=${2//:/} n=$3
	printf '%s%s88b5%02x%02x%02x%02x%084d' "$dst" "$src" $((n & 255)) \
		$(((n >> 8) & 255)) $(((n >> 16) & 255)) $(((n >> 24) & 255)) 0
}

@test "broker: a large segment for another host leaves cut to the MTU, each frame checksummed" {
	host A
	host B
	host_peer b B "$MAC_B" run hold
	running b
	# 20000 bytes at 1448: 13 full segments and one of 1176.
	host_peer a A "$MAC_A" --vnet run vnet tcp4 "$MAC_B" 20000 1448 good hold
	wait_count "$T/b.out" '^rx ' 14 20
	[ "$(grep -c '^rx .* len 1502 .* csum ok data ok$' "$T/b.out")" -eq 13 ]
	[ "$(grep -c '^rx .* len 1230 .* csum ok data ok$' "$T/b.out")" -eq 1 ]
	[ "$(grep -c '^rx ' "$T/b.out")" -eq 14 ]
}

@test "broker: a third party's frame on a slot's queue reaches its TAP; a frame for an unknown MAC waits in that MAC's queue, byte for byte" {
	need_mqnic
	need_net
	host A
	nsa=$(netns a)
	quiet_ns "$nsa"
	host_nic nica A "$nsa" "$MAC_A" 10.77.0.1/24
	wait_sysnet_up "$nsa"
	# ARP: who has 10.77.0.1? tell 10.77.0.99 (02:00:00:00:00:ee).
	arp=02000000000a0200000000ee08060001080006040001
	arp+=0200000000ee0a4d0063000000000000
	arp+=0a4d0001
	stomp send "/queue/$PREFIX.02000000000a" --hex "$arp"
	# The kernel's answer goes to a MAC no slot has: into its queue.
	run stomp recv "/queue/$PREFIX.0200000000ee" --count 1 --timeout 10
	echo "$output"
	[ "$status" -eq 0 ]
	reply=0200000000ee02000000000a08060001080006040002
	reply+=02000000000a0a4d0001
	reply+=0200000000ee0a4d0063
	[[ "$output" == "$reply"* ]]
	# And a frame we know byte for byte, from an endpoint on host A.
	host_peer pa A "$MAC_D" run send 02:00:00:00:00:ff 1 hold
	run stomp recv "/queue/$PREFIX.0200000000ff" --count 1 --timeout 10
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$(peer_frame 02:00:00:00:00:ff "$MAC_D" 1)" ]
}

# A counted stream in persistent mode from pa (host A) to pb (host B),
# with a drill in the middle; every frame must arrive, and duplicates
# stay within the window.  10,000 frames (2,000 in the ASan build).
counted() {
	local drill=$1 n=10000 i got=0 total
	[ "${TM_FLAVOUR:-normal}" = asan ] && n=2000
	host A --persistent
	host B --persistent
	host_peer pb B "$MAC_B" -w 300 run hold
	running pb
	host_peer pa A "$MAC_A" -w 300 run send "$MAC_B" "$n" hold
	wait_count "$T/pb.out" '^rx ' $((n / 4)) 120
	"$drill"
	for ((i = 0; i < 600; i++)); do
		got=$(seqs_distinct "$T/pb.out")
		[ "$got" -ge "$n" ] && break
		sleep 0.2
	done
	total=$(seqs_total "$T/pb.out")
	echo "# $got of $n distinct frames, $total in all"
	if [ "$got" -ne "$n" ]; then
		tail -n 30 "$T/A.bridge.log" "$T/B.bridge.log" "$T/pa.err" "$T/pb.err" "$T/A.status"
		sed -n 's/.* seq \([0-9]*\)$/\1/p' "$T/pb.out" | sort -n | awk 'NR==1{p=$1;next} $1!=p+1{print "gap after", p, "to", $1} {p=$1}' | head
	fi
	[ "$got" -eq "$n" ]
	[ $((total - got)) -le 64 ]
	# The numbers are exactly 1..n.
	[ "$(sed -n 's/.* seq \([0-9]*\)$/\1/p' "$T/pb.out" | sort -un | tail -n1)" -eq "$n" ]
}

kill_sender() {
	host_stop A KILL
	host A --persistent
}

kill_receiver() {
	host_stop B KILL
	host B --persistent
}

restart_broker() {
	amq_stop "$AMQ_SHARED/b1"
	sleep 1
	amq_start "$AMQ_SHARED/b1"
}

@test "broker: persistent, kill -9 of the sending bridge mid-stream: every counted frame arrives" {
	counted kill_sender
}

@test "broker: persistent, kill -9 of the receiving bridge mid-stream: every counted frame arrives" {
	counted kill_receiver
}

@test "broker: persistent, ActiveMQ stopped and started mid-stream: every counted frame arrives" {
	counted restart_broker
}

@test "broker: a slot that stops reading backs up its queue on the broker; its neighbour keeps flowing" {
	host A
	host B
	host_peer pdeaf B "$MAC_B" -w 120 run deaf hold
	host_peer plive B "$MAC_D" -w 120 run hold
	running pdeaf
	running plive
	host_peer s1 A "$MAC_A" -w 120 run send "$MAC_B" 3000 hold
	host_peer s2 A "$MAC_C" -w 120 run send "$MAC_D" 3000 hold
	wait_count "$T/plive.out" '^rx ' 3000 120
	# The deaf slot took what its ring holds; the rest waits on the
	# broker, un-ACKed, and none of it was dropped anywhere.
	[ "$(grep -c '^rx ' "$T/pdeaf.out")" -eq 0 ]
	[ "$(relay_field B refused_full)" -gt 0 ]
	n=$(amq_queue_size "$AMQ_SHARED/b1" "$PREFIX.02000000000b")
	echo "# $n frames wait on the broker for the deaf slot"
	[ "$n" -ge 2500 ]
	kill -USR1 "$HOST_PID_B"
	sleep 0.3
	[ "$(awk '$1 == "total" { print $NF }' "$T/B.status")" -eq 0 ]
}

@test "broker: with two --broker, stopping the first moves traffic to the second" {
	amq_start "$T/b2" b2
	p2=$(amq_get "$T/b2" stomp_port)
	host A --broker "stomp://127.0.0.1:$p2" --broker "stomp://127.0.0.1:$PORT1"
	host B --broker "stomp://127.0.0.1:$p2" --broker "stomp://127.0.0.1:$PORT1"
	grep -q "broker stomp://127.0.0.1:$p2: connected" "$T/A.bridge.log"
	host_peer pb B "$MAC_B" -w 120 run hold
	running pb
	host_peer pa A "$MAC_A" -w 120 run send "$MAC_B" 100 pause send "$MAC_B" 100 hold
	wait_count "$T/pb.out" '^rx ' 100 30
	amq_stop "$T/b2"
	wait_for "$T/A.bridge.log" "broker stomp://127.0.0.1:$PORT1: connected" 30
	wait_for "$T/B.bridge.log" "broker stomp://127.0.0.1:$PORT1: connected" 30
	kill -USR1 "$BG_PID"	# pa: the second hundred
	wait_count "$T/pb.out" '^rx ' 200 30
}

@test "broker: a broker that sends ERROR mid-stream: the bridge logs it, reconnects, and in persistent mode loses nothing" {
	fake fb --mode error --after 20 --on SEND --once --record "$T/record"
	host A --persistent --heartbeat 0 --broker "stomp://127.0.0.1:$FAKE_PORT"
	host_peer pa A "$MAC_A" -w 60 run send 02:00:00:00:00:ff 50 hold
	for ((i = 0; i < 300; i++)); do
		[ "$(grep ' 0200000000ff' "$T/record" | cut -d' ' -f2 | sort -u | wc -l)" -ge 50 ] && break
		sleep 0.1
	done
	# Probes go to the broker too: count the frames alone.
	[ "$(grep ' 0200000000ff' "$T/record" | cut -d' ' -f2 | sort -u | wc -l)" -eq 50 ]
	grep -q 'ERROR from the broker' "$T/A.bridge.log"
	for n in 1 25 50; do
		grep -q " $(peer_frame 02:00:00:00:00:ff "$MAC_A" $n)\$" "$T/record"
	done
}

@test "broker: one MAC on two bridges is reported loudly by both" {
	host A
	host B
	host_peer pa A "$MAC_D" run hold
	host_peer pb B "$MAC_D" run hold
	wait_for "$T/A.bridge.log" "MAC CONFLICT: /queue/$PREFIX.02000000000d" 20
	wait_for "$T/B.bridge.log" "MAC CONFLICT: /queue/$PREFIX.02000000000d" 20
	wait_relay_field A conflicts 1
	wait_relay_field B conflicts 1
}

broker_bad_usage() {
	run timeout 10 "$BRIDGE" "$@"
	if [ "$status" -ne 1 ] || [ "$(printf '%s\n' "$output" | grep -c .)" -ne 1 ] ||
	    [[ $output != "mqbridge: error: "* ]]; then
		echo "# mqbridge $*: status $status, output:" >&2
		printf '%s\n' "$output" | sed 's/^/#   /' >&2
		return 1
	fi
}

@test "broker: -h documents every broker option; a bad one is one line and exit 1" {
	local o
	run "$BRIDGE" -h
	[ "$status" -eq 0 ]
	for o in "--broker URL" "--prefix NAME" "--credentials FILE" \
	    "--vhost NAME" --persistent "--window N" "--heartbeat MS" \
	    "--aggregate N" "--linger US" "--prefetch N" "--relay-user USER" \
	    "--relay-path PATH"; do
		printf '%s\n' "$output" | grep -Eq -- "^  $o +[A-Za-z(]" ||
		    { echo "# -h does not explain '$o'" >&2; return 1; }
	done
	[[ $output == *"relay pid PID"* ]]
	broker_bad_usage -p s --broker http://h:1
	broker_bad_usage -p s --broker stomp://h
	broker_bad_usage -p s --broker stomp://h:0
	broker_bad_usage -p s --broker stomp://::1:61613
	broker_bad_usage -p s --broker exec:
	broker_bad_usage -p s --broker stomp://h:1 --prefix a/b
	broker_bad_usage -p s --broker stomp://h:1 --prefix ''
	broker_bad_usage -p s --broker stomp://h:1 --window 0
	broker_bad_usage -p s --broker stomp://h:1 --window 513
	broker_bad_usage -p s --broker stomp://h:1 --heartbeat x
	broker_bad_usage -p s --broker stomp://h:1 --aggregate 65
	broker_bad_usage -p s --broker stomp://h:1 --linger 100001
	broker_bad_usage -p s --broker stomp://h:1 --prefetch 0
	broker_bad_usage -p s --broker stomp://h:1 --relay-user no-such-user-here
	broker_bad_usage -p s --broker stomp://h:1 --relay-path /nonexistent/mqrelay
	printf 'login=a\npasscode=b\n' >"$T/cred"
	chmod 640 "$T/cred"
	broker_bad_usage -p s --broker stomp://h:1 --credentials "$T/cred"
	[[ $output == *"readable by group or others (mode 0640); chmod 600"* ]]
}

@test "broker: a broker down at start-up is no error: the bridge switches locally and keeps trying" {
	need_mqnic
	need_net
	dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	SRV_LOG=$T/A.server.log
	start_server_raw -p "$T/A.sock" -f "$T/A.region" -m 4M
	"$BRIDGE" -p "$T/A.sock" --status "$T/A.status" --prefix "$PREFIX" \
		--broker "stomp://127.0.0.1:$dead" >"$T/A.bridge.log" 2>&1 3>&- &
	HOST_PID_A=$!
	echo "$!" >>"$T/pids"
	wait_for "$T/A.bridge.log" "bridge ready"
	nsa=$(netns a)
	nsb=$(netns b)
	host_nic nica A "$nsa" "$MAC_A" 10.77.0.1/24
	host_nic nicb A "$nsb" "$MAC_B" 10.77.0.2/24
	wait_sysnet_up "$nsa"
	run ip netns exec "$nsa" ping -c 3 -W 5 10.77.0.2
	[ "$status" -eq 0 ]
	wait_count "$T/A.bridge.log" "broker stomp://127.0.0.1:$dead: Connection refused" 2 10
	kill -0 "$HOST_PID_A"
}
