#!/usr/bin/env bats
# tests/mqbridge.bats - the bridge (mqbridge) with real processes only: a
# real tm_ivshmem_server, mqnic endpoints with TAP devices in namespaces
# the tests create, and mqpeer endpoints (tests/mqpeer.c) for frames no
# kernel would send.  Covers the command line, formatting once, ping and
# ARP through the bridge, corrupt slots, persistence across a restart,
# anti-spoofing and counters, fairness, backpressure from full rings,
# heartbeat reclaim and several regions at once.

load lib/helpers
load lib/mqbridge_helpers

setup() { mqb_setup; }
teardown() { mqb_teardown; }

# bad_usage ARGS...: exit 1 with one line "mqbridge: error: ...".
bad_usage() {
	run timeout 10 "$BRIDGE" "$@"
	if [ "$status" -ne 1 ] || [ "$(printf '%s\n' "$output" | grep -c .)" -ne 1 ] ||
	    [[ $output != "mqbridge: error: "* ]]; then
		echo "# mqbridge $*: status $status, output:" >&2
		printf '%s\n' "$output" | sed 's/^/#   /' >&2
		return 1
	fi
}

@test "-h documents every option; bad usage is one line and exit 1" {
	local o
	run "$BRIDGE" -h
	[ "$status" -eq 0 ]
	# Each option has a line of its own that explains it.
	for o in "-p SOCKET" "-n VECTORS" "--slots N" "--mtu N" "--ring N" \
	    "--offset BYTES" --force-format "--status FILE" \
	    "--reclaim SECONDS" "--budget FRAMES" "--full-wait MS" \
	    "--busy-poll US" -v -h; do
		printf '%s\n' "$output" | grep -Eq -- "^  $o +[A-Za-z]" ||
		    { echo "# -h does not explain '$o'" >&2; return 1; }
	done
	for o in SIGUSR1 SIGTERM "drop REASON" "(spoofed)" "(unknown)" \
	    "(hairpin)" "(too_big)" "(full)" "(corrupt)" "bridge ready"; do
		[[ $output == *"$o"* ]] || { echo "# -h lacks '$o'" >&2; return 1; }
	done
	bad_usage
	bad_usage -x
	bad_usage --bogus -p s
	bad_usage -p
	bad_usage -p s --mtu 10
	bad_usage -p s --ring 100
	bad_usage -p s --ring 65536
	bad_usage -p s --offset 5
	bad_usage -p s --offset 4Q
	bad_usage -p s --slots 0
	bad_usage -p s --budget 0
	bad_usage -p s --full-wait 60001
	bad_usage -p s --full-wait -1
	bad_usage -p s --busy-poll 1000001
	bad_usage -p s --reclaim x
	bad_usage -p s -n 65
	bad_usage -p s extra
	bad_usage -p s -p s
	bad_usage -p "$T/nosock"
	[[ $output == *"is tm_ivshmem_server running there?"* ]]
}

@test "formats the area once; a restart resumes it; --force-format formats again" {
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	grep -q "formatted NIC area at offset 0: 4 slots" "$BR_LOG"
	gen=$(sed -n 's/.*generation \([0-9]*\)$/\1/p' "$BR_LOG")
	peer a "$MAC_A" run hold
	running a
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
	start_bridge -p "$SOCK"
	grep -q "resuming the NIC area at offset 0: 4 slots.*generation $gen$" "$BR_LOG"
	# The claim and the slot survived: the endpoint runs on.
	wait_status "0.$(slot_of a)" state run
	stop_bridge
	bad_usage -p "$SOCK" --slots 2 --mtu 1000
	[[ $output == *"formatted with --slots 4 --ring 256 --mtu 1500"* ]]
	# What is stored is told before whether ours would fit.
	bad_usage -p "$SOCK" --mtu 9000
	[[ $output == *"NIC area was formatted with --slots 4 --ring 256 --mtu 1500, not --slots 4 --ring 256 --mtu 9000; use those or --force-format"* ]]
	start_bridge -p "$SOCK" --force-format --slots 2
	grep -q "formatted NIC area at offset 0: 2 slots" "$BR_LOG"
	! grep -q "generation $gen$" "$BR_LOG"
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "two mqnic endpoints in two namespaces ping each other; ARP floods" {
	two_nics
	run ip netns exec "$nsa" ping -c 3 -i 0.2 -W 2 10.77.0.2
	echo "$output"
	[ "$status" -eq 0 ]
	run ip netns exec "$nsb" ping -c 3 -i 0.2 -W 2 10.77.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	# ARP went out as a broadcast and came back as the owner's MAC.
	ip -n "$nsa" neigh show 10.77.0.2 | grep -q "lladdr $MAC_B"
	ip -n "$nsb" neigh show 10.77.0.1 | grep -q "lladdr $MAC_A"
	kill -USR1 "$BR_PID"
	sleep 0.2
	[ "$(drop_count spoofed)" -eq 0 ]
	[ "$(status_field "0.$(slot_of nica)" in_frames)" -ge 6 ]
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "an idle bridge sleeps; doorbells wake it within milliseconds" {
	two_nics
	ip netns exec "$nsa" ping -c 1 -W 2 10.77.0.2
	# Idle: a polling bridge would burn 200 ticks in these 2 s.
	local t0 t1 avg
	t0=$(cpu_ticks "$BR_PID")
	sleep 2
	t1=$(cpu_ticks "$BR_PID")
	echo "# bridge used $((t1 - t0)) ticks in 2 s idle" >&3
	[ $((t1 - t0)) -le 20 ]
	# Pings far apart find the bridge asleep each time; without
	# doorbells each would wait for its 20 ms tick.
	run ip netns exec "$nsa" ping -c 5 -i 0.3 -W 2 10.77.0.2
	echo "$output"
	[ "$status" -eq 0 ]
	avg=$(printf '%s\n' "$output" | sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9]*\)\..*|\1|p')
	echo "# average rtt about $avg ms" >&3
	[ "$avg" -lt 8 ]
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "a scribbled slot is reset and logged; the other two keep pinging" {
	two_nics
	peer c "$MAC_C" run hold
	running c
	sc=$(slot_of c)
	ip netns exec "$nsa" ping -c 1 -W 2 10.77.0.2
	"$SCRIBBLE" "$REGION" 0 "$sc" index
	wait_for "$BR_LOG" "slot $sc tx: produced count 4000 exceeds ring size 256; resetting slot 0\.$sc$"
	run ip netns exec "$nsa" ping -c 3 -i 0.2 -W 2 10.77.0.2
	echo "$output"
	[ "$status" -eq 0 ]
	kill -0 "$BR_PID"
	# The scribbled slot came back once repaired.
	running c 2
	wait_status "0.$sc" resets 1
	wait_status "0.$sc" state run
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

# slot_lines FILE SLOT: lines of a log about the bridge's slot 0.SLOT.
slot_lines() {
	grep -Ec "slot (0\.$2|$2 )" "$1" || true
}

@test "a slot scribbled for a while comes back, with its log lines rate-limited" {
	local n0 n1 m0 m1
	two_nics
	ip netns exec "$nsa" ping -c 1 -W 2 10.77.0.2
	sa=$(slot_of nica)
	n0=$(slot_lines "$BR_LOG" "$sa")
	m0=$(grep -c . "$T/nica.err")
	# 3 s of garbage in both rings, aimed at the moments when one side
	# waits for the other to repair a ring, and ending on such a one.
	"$SCRIBBLE" "$REGION" 0 "$sa" storm 3
	n1=$(slot_lines "$BR_LOG" "$sa")
	m1=$(grep -c . "$T/nica.err")
	echo "# bridge: $((n1 - n0)) lines about the slot, mqnic: $((m1 - m0)) lines" >&3
	# At most 10 at once, then one a second (and a count of the rest).
	[ $((n1 - n0)) -le 20 ]
	[ $((m1 - m0)) -le 20 ]
	# Both sides converge: the slot runs again and carries pings.
	wait_status "0.$sa" state run 10
	wait_sysnet_up "$nsa"
	run ip netns exec "$nsa" ping -c 3 -i 0.2 -W 2 10.77.0.2
	echo "$output"
	[ "$status" -eq 0 ]
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "every kind of garbage resets only its slot; the others keep forwarding" {
	local what line n=0 sent=0
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	peer b "$MAC_B" run hold
	running b
	peer c "$MAC_C" run hold
	running c
	sc=$(slot_of c)
	# Each SIGUSR1 sends one broadcast, which makes the bridge write to
	# c's RX ring too.
	peer a "$MAC_A" run pause send bcast pause send bcast pause send bcast \
	    pause send bcast pause send "$MAC_C" hold
	local pa=$BG_PID
	running a
	for what in index desc state rxcons; do
		case $what in
		index) line="slot $sc tx: produced count 4000 exceeds ring size 256" ;;
		desc) line="slot $sc tx: descriptor flags 0xff" ;;
		state) line="slot $sc: slot state word out of range" ;;
		rxcons) line="slot $sc rx: produced count [0-9]+ exceeds ring size 256" ;;
		esac
		"$SCRIBBLE" "$REGION" 0 "$sc" "$what"
		kill -USR1 "$pa"
		sent=$((sent + 1))
		wait_for "$BR_LOG" "$line.*; resetting slot 0\.$sc$"
		n=$((n + 1))
		running c $((n + 1))
		wait_count "$T/b.out" "^rx src $MAC_A" "$sent"
		# Up on the bridge's side too before the next round.
		wait_status "0.$sc" resets "$n"
		wait_status "0.$sc" state run
	done
	kill -0 "$BR_PID"
	# c gets frames again after all that.
	kill -USR1 "$pa"
	wait_count "$T/c.out" "^rx src $MAC_A dst $MAC_C" 1
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "a peer that makes doorbells blocking and fills them stalls no slot" {
	local mac_d=02:00:00:00:00:0d mac_h=02:00:00:00:00:1a mac_j=02:00:00:00:00:1b
	need_mqnic
	need_net
	start_server -f "$REGION" -m 8M
	start_bridge -p "$SOCK" --slots 6
	nsa=$(netns a)
	nsb=$(netns b)
	nic nica "$nsa" "$MAC_A" 10.77.0.1/24
	nic nicb "$nsb" "$MAC_B" 10.77.0.2/24
	ip netns exec "$nsa" ping -c 1 -W 2 10.77.0.2
	peer d "$mac_d" run hold
	running d
	# h clears O_NONBLOCK on its own doorbell, which the bridge holds as
	# the same open file description, fills it and asks for doorbells:
	# a plain write() to it would never return.
	peer h "$mac_h" run jam hold
	wait_for "$T/h.out" "^jammed"
	# j does the same to the bridge's doorbell and keeps it full, so
	# every endpoint that rings the bridge would block.
	peer j "$mac_j" run jam-bridge hold
	wait_for "$T/j.out" "^jammed"
	# Broadcasts go to h too; frames to d and pings must still flow.
	peer c "$MAC_C" run send bcast 5 send "$mac_d" 50 hold
	wait_count "$T/d.out" "^rx src $MAC_C dst $mac_d" 50
	run ip netns exec "$nsa" ping -c 5 -i 0.2 -W 2 10.77.0.2
	echo "$output"
	[ "$status" -eq 0 ]
	run ip netns exec "$nsb" ping -c 5 -i 0.2 -W 2 10.77.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for "$BR_LOG" "slot 0\.$(slot_of h): ringing peer [0-9]+ would block"
	kill -0 "$BR_PID"
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "a header changed under the bridge stops its slots until it is valid" {
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	peer b "$MAC_B" run hold
	running b
	peer a "$MAC_A" run pause send "$MAC_B" hold
	local pa=$BG_PID
	running a
	wait_status "0.$(slot_of a)" state run
	"$SCRIBBLE" "$REGION" 0 0 magic
	wait_for "$BR_LOG" "NIC area changed under us .*; its slots stop"
	wait_status "0.$(slot_of a)" state reset
	"$SCRIBBLE" "$REGION" 0 0 remagic
	wait_for "$BR_LOG" "serving the NIC area again, generation"
	wait_status "0.$(slot_of a)" state run
	kill -USR1 "$pa"
	wait_count "$T/b.out" "^rx src $MAC_A dst $MAC_B" 1
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "frames queued while the bridge is stopped are delivered when it starts" {
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	peer b "$MAC_B" run hold
	running b
	peer a "$MAC_A" run pause send "$MAC_B" 5 hold
	local pa=$BG_PID
	running a
	wait_status "0.$(slot_of a)" state run
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
	kill -USR1 "$pa"
	sleep 0.5
	[ "$(rx_count b)" -eq 0 ]
	start_bridge -p "$SOCK"
	wait_count "$T/b.out" "^rx src $MAC_A dst $MAC_B len 60 seq 5$" 1
	[ "$(rx_count b)" -eq 5 ]
	wait_status "0.$(slot_of a)" in_frames 5
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "frames queued for an mqnic while the bridge is stopped reach it" {
	two_nics
	ip netns exec "$nsa" ping -c 1 -W 2 10.77.0.2
	stop_bridge
	# One echo request, sent while no bridge runs; its reply can only
	# come if the request waited in the ring.
	ip netns exec "$nsa" ping -c 1 -W 10 10.77.0.2 >"$T/ping.out" 2>&1 3>&- &
	local ping=$!
	sleep 1
	kill -0 "$ping"
	start_bridge -p "$SOCK"
	wait "$ping"
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "spoofed and unknown frames are dropped and counted; counters add up" {
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	peer b "$MAC_B" run hold
	running b
	peer a "$MAC_A" run send "$MAC_B" 3 100 send "$MAC_B" 2 60 02:00:00:00:00:99 \
	    send 02:00:00:00:00:77 send "$MAC_A" send bcast 1 80 hold
	running a
	sa=$(slot_of a)
	sb=$(slot_of b)
	wait_count "$T/b.out" "^rx " 4
	wait_drop spoofed 2
	[ "$(drop_count unknown)" -eq 1 ]
	[ "$(drop_count hairpin)" -eq 1 ]
	[ "$(status_field "0.$sa" in_frames)" -eq 8 ]
	[ "$(status_field "0.$sa" in_bytes)" -eq 620 ]
	[ "$(status_field "0.$sa" drops)" -eq 4 ]
	[ "$(status_field "0.$sb" out_frames)" -eq 4 ]
	[ "$(status_field "0.$sb" out_bytes)" -eq 380 ]
	[ "$(status_field "0.$sa" mac)" = "$MAC_A" ]
	grep -q "^total in_frames 8 in_bytes 620 out_frames 4 out_bytes 380 drops 4$" "$STATUS"
	! grep -q "src 02:00:00:00:00:99" "$T/b.out"
	[ "$(rx_count b)" -eq 4 ]
	# SIGUSR1 also puts them in the log.
	grep -q "drops spoofed 2 unknown 1 full 0 too_big 0 hairpin 1" "$BR_LOG"
	grep -q "slot 0.$sa state run mac $MAC_A .* in_frames 8 " "$BR_LOG"
	stop_bridge INT
	[ "$BR_STATUS" -eq 0 ]
}

@test "the status file is rewritten every second and replaced whole" {
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	wait_for "$STATUS" "^uptime 1$" 5
	grep -q "^pid $BR_PID$" "$STATUS"
	[ "$(grep -c '^slot ' "$STATUS")" -eq 4 ]
	[ "$(grep -c '^drop ' "$STATUS")" -eq 7 ]
	[ "$(ls "$T" | grep -c '^status\.')" -eq 0 ]
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "the status file's temporary file is no planted symlink's target" {
	local pid
	start_server -f "$REGION"
	echo precious >"$T/victim"
	# Plant FILE.PID.tmp -> victim for the bridge's own PID (the shell
	# execs it), where a predictable temporary name would be.
	bg br bash -c 'ln -s "$1" "$2.$$.tmp" && exec "$3" --status "$2" -p "$4"' \
	    _ "$T/victim" "$STATUS" "$BRIDGE" "$SOCK"
	pid=$BG_PID
	wait_for "$T/br.err" "bridge ready"
	wait_for "$STATUS" "^uptime [1-9]" 5
	[ "$(cat "$T/victim")" = precious ]
	[ -f "$STATUS" ] && [ ! -L "$STATUS" ]
	[ -L "$STATUS.$pid.tmp" ]
	grep -q "^pid $pid$" "$STATUS"
	# The file is as readable as fopen() would have made it.
	[ "$(stat -c %a "$STATUS")" = "$(printf '%o' $((0666 & ~$(umask))))" ]
	kill "$pid"
	wait_gone "$pid"
	[ "$(ls "$T" | grep -c '^status\.[^.]*$')" -eq 0 ]
}

@test "--budget bounds each slot's share of a round" {
	start_server -f "$REGION"
	start_bridge -p "$SOCK" --budget 1
	peer a "$MAC_A" run pause send "$MAC_B" 100 pause send "$MAC_B" 100 hold
	local pa=$BG_PID
	running a
	peer c "$MAC_C" run pause send "$MAC_B" pause send "$MAC_B" hold
	local pc=$BG_PID
	running c
	peer b "$MAC_B" run hold
	running b
	wait_status "0.$(slot_of b)" state run
	# A backlog of 100 from a and one frame from c, queued while the
	# bridge is down, meet in the first round.
	stop_bridge
	kill -USR1 "$pa" "$pc"
	sleep 0.5
	start_bridge -p "$SOCK" --budget 1
	wait_count "$T/b.out" "^rx " 101
	grep '^rx ' "$T/b.out" | head -n 2 | grep -q "src $MAC_C"
	# The same with 64 a round: c waits behind a's first 64.
	stop_bridge
	kill -USR1 "$pa" "$pc"
	sleep 0.5
	start_bridge -p "$SOCK" --budget 64
	wait_count "$T/b.out" "^rx " 202
	! grep '^rx ' "$T/b.out" | sed -n '102,165p' | grep -q "src $MAC_C"
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

# in_order NAME: the peer's frames came with seq 1, 2, 3 ... (one sender).
in_order() {
	grep '^rx ' "$T/$1.out" | awk '$NF != NR { bad++ } END { exit bad > 0 }'
}

@test "a destination that stops reading holds its sender back; nothing is lost" {
	local t0 t1
	start_server -f "$REGION"
	start_bridge -p "$SOCK" --full-wait 10000
	peer b "$MAC_B" run deaf pause listen hold
	local pb=$BG_PID
	running b
	# More than b's RX ring (256) and a's TX ring (256) hold together.
	peer a "$MAC_A" run send "$MAC_B" 600 hold
	running a
	sa=$(slot_of a)
	sb=$(slot_of b)
	# b's ring is full; the bridge took no more from a than it placed.
	wait_status "0.$sb" out_frames 256
	[ "$(status_field "0.$sa" in_frames)" -eq 256 ]
	# Waiting for room is a nap, not a spin.
	t0=$(cpu_ticks "$BR_PID")
	sleep 1
	t1=$(cpu_ticks "$BR_PID")
	echo "# bridge used $((t1 - t0)) ticks in 1 s holding a frame" >&3
	[ $((t1 - t0)) -le 25 ]
	[ "$(status_field "0.$sa" in_frames)" -eq 256 ]
	kill -USR1 "$pb"
	wait_count "$T/b.out" "^rx src $MAC_A" 600
	in_order b
	[ "$(rx_count b)" -eq 600 ]
	wait_status "0.$sa" in_frames 600
	[ "$(drop_count full)" -eq 0 ]
	[ "$(status_field "0.$sa" drops)" -eq 0 ]
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "a destination that never reads costs its sender one --full-wait; other slots flow" {
	local mac_d=02:00:00:00:00:0d
	start_server -f "$REGION"
	start_bridge -p "$SOCK" --full-wait 3000
	peer c "$MAC_C" run deaf hold
	running c
	peer b "$MAC_B" run hold
	running b
	peer d "$mac_d" run pause send "$MAC_B" 3 hold
	local pd=$BG_PID
	running d
	# 256 fill c's ring; frame 257 waits with the rest behind it.
	peer a "$MAC_A" run send "$MAC_C" 300 send "$MAC_B" 5 send bcast hold
	running a
	sa=$(slot_of a)
	sc=$(slot_of c)
	wait_status "0.$sc" out_frames 256
	# Within the bound: another slot's frames to b pass, the bridge
	# answers, and nothing of a's has been dropped or overtaken.
	kill -USR1 "$pd"
	wait_count "$T/b.out" "^rx src $mac_d dst $MAC_B" 3
	[ "$(grep -c "^rx src $MAC_A" "$T/b.out")" -eq 0 ]
	[ "$(drop_count full)" -eq 0 ]
	# After it, the other 43 frames for c go at once, not one bound
	# each; so does the broadcast's copy for c.  b and d get the rest.
	wait_count "$T/b.out" "^rx src $MAC_A" 6 8
	wait_count "$T/d.out" "^rx src $MAC_A dst ff:ff:ff:ff:ff:ff" 1
	wait_drop full 45
	[ "$(status_field "0.$sa" drops)" -eq 45 ]
	[ "$(status_field "0.$sa" in_frames)" -eq 306 ]
	[ "$(status_field "0.$sc" out_frames)" -eq 256 ]
	kill -0 "$BR_PID"
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "a paused owner keeps its slot past --reclaim; an owner that left the server loses it" {
	local id
	two_nics --reclaim 1
	ip netns exec "$nsa" ping -c 1 -W 2 10.77.0.2
	sa=$(slot_of nica)
	sb=$(slot_of nicb)
	# The status file is rewritten each second: a fresh one, then read.
	wait_status "0.$sa" state run
	id=$(status_field "0.$sa" peer)
	# A VM paused for a snapshot: its heartbeat stops, its peer stays.
	kill -STOP "$NICA_PID"
	wait_for "$BR_LOG" "slot 0\.$sa: its owner's heartbeat stopped 1 s ago, but its peer $id is still on the server \(paused\?\); not reclaiming it" 10
	kill -CONT "$NICA_PID"
	run ip netns exec "$nsa" ping -c 3 -i 0.2 -W 2 10.77.0.2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(status_field "0.$sa" reclaims)" -eq 0 ]
	absent "reclaimed" "$T/nica.err"
	# Killed: its peer leaves the server, and the slot is reclaimed.
	kill -9 "$NICB_PID"
	wait_for "$BR_LOG" "slot 0\.$sb: reclaimed, its owner's heartbeat stopped 1 s ago and its peer left the server" 10
	wait_status "0.$sb" reclaims 1
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "a slot whose owner's heartbeat stops is reclaimed after --reclaim" {
	start_server -f "$REGION"
	start_bridge -p "$SOCK" --reclaim 1
	peer a "$MAC_A" run crash
	running a
	sa=$(slot_of a)
	wait_for "$BR_LOG" "slot 0\.$sa: reclaimed, its owner's heartbeat stopped 1 s ago" 5
	wait_status "0.$sa" reclaims 1
	# Free again: the same MAC comes back.
	peer a2 "$MAC_A" run hold
	running a2
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "a region with a bad header at start-up costs its own slots only, until it is fixed" {
	start_server -f "$REGION"
	start_server -p "$T/sock2" -f "$T/region2"
	# Someone else's data where region 2's NIC area would go.
	head -c 4096 /dev/urandom | dd of="$T/region2" conv=notrunc status=none
	start_bridge -p "$SOCK" -p "$T/sock2"
	grep -q "warning: $T/sock2: region holds other data at this offset.*; serving the other regions, and trying this one again every 1 s" "$BR_LOG"
	grep -q "bridge ready: 2 regions, 8 slots" "$BR_LOG"
	peer b "$MAC_B" run hold
	running b
	peer a "$MAC_A" run send "$MAC_B" 3 hold
	running a
	wait_count "$T/b.out" "^rx src $MAC_A" 3
	# Cleared: the bridge formats it at its next look and serves it.
	dd if=/dev/zero of="$T/region2" bs=4096 count=1 conv=notrunc status=none
	wait_for "$BR_LOG" "$T/sock2: formatted NIC area at offset 0: 4 slots" 5
	SOCK=$T/sock2 peer c "$MAC_C" run send "$MAC_B" 2 hold
	running c
	wait_count "$T/b.out" "^rx src $MAC_C" 2
	# With no region to serve there is nothing to do: exit 1, one line.
	stop_bridge
	head -c 4096 /dev/urandom | dd of="$T/region2" conv=notrunc status=none
	bad_usage -p "$T/sock2"
	[[ $output == *"$T/sock2: region holds other data at this offset"* ]]
}

@test "a region truncated under the bridge stops its own slots; mqnic and the others carry on" {
	local ns pc sc
	need_mqnic
	need_net
	start_server -f "$REGION"
	start_server -p "$T/sock2" -f "$T/region2"
	start_bridge -p "$SOCK" -p "$T/sock2"
	peer b "$MAC_B" run hold
	running b
	peer a "$MAC_A" run pause send "$MAC_B" 5 pause send "$MAC_B" 5 hold
	local pa=$BG_PID
	running a
	ns=$(netns c)
	SOCK=$T/sock2 nic nicc "$ns" "$MAC_C" 10.77.0.3/24
	pc=$NIC_PID
	sc=$(slot_of nicc)
	wait_status "1.$sc" state run
	# A peer of region 2 truncates its file: the next touch of the
	# mapping would raise SIGBUS in the bridge and in mqnic.
	truncate -s 0 "$T/region2"
	wait_for "$BR_LOG" "$T/sock2: the region shrank under the NIC area .*; its slots stop, the other regions carry on"
	wait_for "$T/nicc.err" "the region's file shrank under the NIC area"
	kill -USR1 "$pa"
	wait_count "$T/b.out" "^rx src $MAC_A dst $MAC_B" 5
	kill -0 "$BR_PID"
	kill -0 "$pc"
	wait_status "1.$sc" state reset
	# Grown back (zeros): formatted again, and mqnic comes back to it.
	truncate -s 4M "$T/region2"
	wait_for "$BR_LOG" "$T/sock2: formatted NIC area at offset 0" 5
	wait_count "$T/nicc.err" "mqnic ready: slot" 2
	wait_status "1.$(slot_of nicc)" state run
	kill -USR1 "$pa"
	wait_count "$T/b.out" "^rx src $MAC_A dst $MAC_B" 10
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "the bridge raises its descriptor limit, and says so when it runs out" {
	local id
	need_storm
	start_server -f "$REGION"
	# A soft limit of 256 would stop the bridge at about 250 peers.
	bg br bash -c 'ulimit -Sn 256 && exec "$@"' _ "$BRIDGE" -v \
	    --status "$STATUS" -p "$SOCK"
	BR_PID=$BG_PID
	wait_for "$T/br.err" "bridge ready"
	bg storm "$STORM" -p "$SOCK" -w 120 drain 400
	wait_while "$BG_PID" "$T/storm.out" "^connected 400$" 120
	peer a "$MAC_A" run hold
	running a
	id=$(sed -n 's/^slot [0-9]* peer \([0-9]*\)$/\1/p' "$T/a.out")
	wait_for "$T/br.err" "peer $id joined"
	absent "without news|out of descriptors" "$T/br.err"
	stop_bridge
	# A hard limit it may not raise (no CAP_SYS_RESOURCE): it says why
	# it hears no more of peers.
	start_server -p "$T/sock2" -f "$T/region2"
	bg br2 capsh --drop=cap_sys_resource -- -c \
	    'ulimit -n 200 && exec "$0" -p "$1"' "$BRIDGE" "$T/sock2"
	BR_PID=$BG_PID
	wait_for "$T/br2.err" "bridge ready"
	bg storm2 "$STORM" -p "$T/sock2" -w 120 drain 300
	wait_for "$T/br2.err" "error: $T/sock2: out of descriptors: the limit is 200 and each peer costs one per vector; .*raise the limit" 60
	kill -0 "$BR_PID"
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "frames are switched across regions of two servers" {
	start_server -f "$REGION"
	start_server -p "$T/sock2" -f "$T/region2"
	start_bridge -p "$SOCK" -p "$T/sock2"
	grep -q "bridge ready: 2 regions, 8 slots" "$BR_LOG"
	SOCK=$T/sock2 peer b "$MAC_B" run hold
	running b
	peer a "$MAC_A" run send "$MAC_B" 3 send bcast hold
	running a
	wait_count "$T/b.out" "^rx src $MAC_A" 4
	wait_status "1.$(slot_of b)" out_frames 4
	wait_status "0.$(slot_of a)" in_frames 4
	# One region twice would serve its slots twice: refused.
	ln -s "$SOCK" "$T/sock3"
	run timeout 10 "$BRIDGE" -p "$SOCK" -p "$T/sock3"
	[ "$status" -eq 1 ]
	[[ ${lines[-1]} == *"error: $SOCK and $T/sock3 hand out the same region; give it once" ]]
	stop_bridge
	[ "$BR_STATUS" -eq 0 ]
}

@test "a server killed with -9 and started again: the bridge joins it by itself and serves on" {
	start_server -f "$REGION"
	start_bridge -p "$SOCK"
	peer pa "$MAC_A" run hold
	running pa
	kill -9 "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null || true
	rm -f "$SOCK"
	sleep 0.5
	start_server -f "$REGION"
	wait_for "$BR_LOG" "joined the server again as peer [0-9]+" 10
	# New peers on the new server: frames and doorbells both ways.
	peer pb "$MAC_B" run send "$MAC_C" 3 hold
	peer pc "$MAC_C" run expect 3 send "$MAC_B" 2 hold
	wait_count "$T/pc.out" "^rx src $MAC_B" 3 10
	wait_count "$T/pb.out" "^rx src $MAC_C" 2 10
	kill -0 "$BR_PID"
}
