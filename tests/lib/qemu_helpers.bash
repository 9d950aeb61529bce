# tests/qemu_helpers.bash - start, talk to and stop the real programs that
# tests/qemu.bats needs: our server and QEMU VMs held by tests/qtest_drive.
#
# A long-lived VM is a qtest_drive process reading commands from a FIFO
# that this shell keeps open; each command answers with exactly one line
# in $T/NAME.out, so `vm NAME CMD` can wait for that line.  Everything
# runs under the per-test directory $T and qemu_teardown kills it all.

TM_BUILD=${TM_BUILD:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)/build}
DRIVE=$TM_BUILD/tests/qtest_drive

qemu_setup() {
	command -v "${QEMU:-qemu-system-x86_64}" >/dev/null || {
		echo "qemu-system-x86_64 missing;" \
			"run 'bash tests/deps.sh' as root" >&2
		return 1
	}
	[ -x "$DRIVE" ] || {
		echo "$DRIVE missing; run 'make test-progs'" >&2
		return 1
	}
	T=$(mktemp -d /tmp/tm-qemu.XXXXXX)
	SOCK=$T/sock
	: >"$T/server.log"
	SERVER_PID=
	BG_PIDS=()
	declare -gA VM_PID=() VM_FD=()
}

qemu_teardown() {
	local pid
	vm_stop_all
	for pid in "${BG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	server_stop
	rm -rf "$T"
}

# vm_stop_all: every VM of vm_start gone, its QEMU reaped.
vm_stop_all() {
	local name pid fd
	for name in "${!VM_FD[@]}"; do
		fd=${VM_FD[$name]}
		exec {fd}>&-
	done
	for name in "${!VM_PID[@]}"; do
		kill -TERM "${VM_PID[$name]}" 2>/dev/null
	done
	for name in "${!VM_PID[@]}"; do
		wait "${VM_PID[$name]}" 2>/dev/null
	done
	# The driver reaps its QEMU; this is only for a driver that was
	# SIGKILLed before it could.
	cat "$T"/*.qpid 2>/dev/null | while read -r pid; do
		kill -KILL "$pid" 2>/dev/null
	done
}

# Wait up to 5 s for a line matching the ERE $1 in the server's log.
wait_log() {
	local i
	for ((i = 0; i < 250; i++)); do
		grep -Eq -- "$1" "$T/server.log" 2>/dev/null && return 0
		sleep 0.02
	done
	echo "server log never matched '$1':" >&2
	cat "$T/server.log" >&2
	return 1
}

# server_start ARGS...: our server on $SOCK, logging to $T/server.log.
# Only lines after $from count: the log keeps earlier servers' lines.
server_start() {
	local i from
	from=$(($(wc -l <"$T/server.log") + 1))
	"$TM_BUILD/bin/tm_ivshmem_server" -p "$SOCK" "$@" 2>>"$T/server.log" 3>&- &
	SERVER_PID=$!
	for ((i = 0; i < 250; i++)); do
		tail -n +"$from" "$T/server.log" |
			grep -q "listening on $SOCK" && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.02
	done
	echo "server did not start:" >&2
	cat "$T/server.log" >&2
	return 1
}

server_stop() {
	[ -n "$SERVER_PID" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
}

# monitor_start CLIENT_OPTIONS...: our client's monitor in the background,
# output in $T/mon; returns once it is ready (it holds an ID then).
monitor_start() {
	local i pid
	"$TM_BUILD/bin/tm_ivshmem_client" -p "$SOCK" "$@" monitor \
		>"$T/mon" 2>&1 3>&- &
	pid=$!
	BG_PIDS+=("$pid")
	for ((i = 0; i < 250; i++)); do
		grep -q '^ready' "$T/mon" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	echo "client monitor did not get ready:" >&2
	cat "$T/mon" >&2
	return 1
}

# QEMU arguments for a doorbell device on our server with $1 vectors.
doorbell_args() {
	echo "-chardev socket,path=$SOCK,id=ivs" \
		"-device ivshmem-doorbell,chardev=ivs,vectors=${1:-1}"
}

# QEMU arguments for an ivshmem-plain device on file $1 of size $2.
plain_args() {
	echo "-object memory-backend-file,id=m,size=$2,mem-path=$1,share=on" \
		"-device ivshmem-plain,memdev=m"
}

# vm_start NAME QEMU_ARGS...: a VM that waits for `vm NAME CMD`.  -name
# makes each command line distinct, so the server's "restarted peer gets
# its old ID" rule never mistakes one VM for another.
vm_start() {
	local name=$1 fd
	shift
	mkfifo "$T/$name.in"
	"$DRIVE" -P "$T/$name.qpid" -- -name "$name" "$@" \
		<"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" 3>&- &
	VM_PID[$name]=$!
	exec {fd}>"$T/$name.in"
	VM_FD[$name]=$fd
	# The first answer means the device is realized and set up.
	vm "$name" echo up >/dev/null
}

# vm NAME CMD ARGS...: run one driver command, print its answer line.
vm() {
	local name=$1 n i alive
	shift
	n=$(wc -l <"$T/$name.out")
	if ! (printf '%s\n' "$*" >&"${VM_FD[$name]}") 2>/dev/null; then
		vm_dead "$name"
		return 1
	fi
	for ((i = 0; i < 1500; i++)); do
		# Liveness first: "quit" answers and then the driver exits.
		alive=0
		kill -0 "${VM_PID[$name]}" 2>/dev/null && alive=1
		if [ "$(wc -l <"$T/$name.out")" -gt "$n" ]; then
			sed -n "$((n + 1))p" "$T/$name.out"
			return 0
		fi
		if [ "$alive" -eq 0 ]; then
			vm_dead "$name"
			return 1
		fi
		sleep 0.01
	done
	echo "vm $name: no answer to '$*' within 15 s" >&2
	return 1
}

vm_dead() {
	echo "vm $1: driver is gone; its stderr:" >&2
	cat "$T/$1.err" >&2
}

# The value part of a driver answer: `vmv A ivposition` prints "0".
vmv() {
	local line
	line=$(vm "$@") || return 1
	echo "${line#* }"
}

vm_quit() {
	local fd=${VM_FD[$1]}
	vm "$1" quit >/dev/null
	exec {fd}>&-
	wait "${VM_PID[$1]}"
	unset "VM_FD[$1]" "VM_PID[$1]"
}

# N random bytes as lowercase hex.
random_hex() {
	od -An -v -tx1 -N "$1" /dev/urandom | tr -d ' \n'
}

# LEN bytes of FILE at OFF as lowercase hex.
file_hex() {
	od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'
}
