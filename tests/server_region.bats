#!/usr/bin/env bats
# tests/server_region.bats - the backing store: contents survive restarts,
# kill -9 and -t grows (checksums); every bad input is refused with one
# line and leaves existing data untouched; blocks are reserved, sparse
# files are reported, small filesystems fail cleanly, and sizes far past
# 32 bits work.

load lib/helpers

setup() { tm_setup; }
teardown() { tm_teardown; }

sum() {
	sha256sum "$1" | cut -d' ' -f1
}

# refused ARGS... -- ERE: the server exits 1 with one error line, last,
# matching ERE, and $REGION's checksum, size and blocks are what they
# were.  $PRE is a command prefix (e.g. setpriv).
PRE=()
refused() {
	local args=() re before after
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	re=$2
	before="$(sum "$REGION") $(stat -c '%s %b' "$REGION")"
	run timeout 20 "${PRE[@]}" "$SRV" "${args[@]}"
	after="$(sum "$REGION") $(stat -c '%s %b' "$REGION")"
	if [ "$status" -ne 1 ]; then
		echo "# ${args[*]}: exit $status, expected 1: $output" >&2
		return 1
	fi
	error_last || { echo "# for: ${args[*]}" >&2; return 1; }
	if ! [[ $output =~ $re ]]; then
		echo "# ${args[*]}: '$output' does not match '$re'" >&2
		return 1
	fi
	if [ "$before" != "$after" ]; then
		echo "# ${args[*]}: region changed: $before -> $after" >&2
		return 1
	fi
}

random_region() {
	head -c "$2" /dev/urandom >"$1"
}

@test "region contents survive a server restart (written by the client and by dd)" {
	need_client
	start_server -f "$REGION" -m 4M
	head -c 1M /dev/urandom >"$T/data"
	cli write 1M <"$T/data"
	printf 'written by dd' | dd of="$REGION" bs=1 seek=100 conv=notrunc status=none
	local before
	before=$(sum "$REGION")
	cmp <(dd if="$REGION" bs=1M skip=1 count=1 status=none) "$T/data"
	stop_server
	[ "$SRV_STATUS" -eq 0 ]
	[ "$(sum "$REGION")" = "$before" ]
	start_server -f "$REGION"
	grep -q "using $REGION: 4194304 bytes" "$SRV_LOG"
	cmp <(cli read 1M 1M) "$T/data"
	[ "$(cli read 100 13)" = "written by dd" ]
	stop_server
	[ "$(sum "$REGION")" = "$before" ]
}

@test "region contents survive kill -9 of the server; the stale socket is replaced" {
	need_client
	start_server -f "$REGION" -m 4M
	head -c 64K /dev/urandom >"$T/data"
	cli write $((4 * 1024 * 1024 - 65536)) <"$T/data"
	local before
	before=$(sum "$REGION")
	kill -KILL "$SRV_PID"
	wait "$SRV_PID" || true
	[ -S "$SOCK" ]
	[ "$(sum "$REGION")" = "$before" ]
	start_server -f "$REGION"
	grep -q "removed the stale socket $SOCK" "$SRV_LOG"
	cmp <(cli read $((4 * 1024 * 1024 - 65536)) 64K) "$T/data"
	[ "$(sum "$REGION")" = "$before" ]
}

@test "-t grows a region and keeps every byte; the new part is zero and reserved" {
	random_region "$REGION" 4M
	local before
	before=$(sum "$REGION")
	start_server -f "$REGION" -m 16M -t
	grep -Eq "growing $REGION from 4194304 to 16777216 bytes" "$SRV_LOG"
	[ "$(stat -c %s "$REGION")" -eq 16777216 ]
	[ "$(head -c 4M "$REGION" | sha256sum | cut -d' ' -f1)" = "$before" ]
	cmp <(tail -c 12M "$REGION") <(head -c 12M /dev/zero)
	[ "$(allocated "$REGION")" -ge 16777216 ]
	stop_server
	[ "$(head -c 4M "$REGION" | sha256sum | cut -d' ' -f1)" = "$before" ]
}

@test "-t shrinks only when asked, and says what it discards" {
	random_region "$REGION" 8M
	local head4
	head4=$(head -c 4M "$REGION" | sha256sum)
	start_server -f "$REGION" -m 4M -t
	grep -Eq "warning: shrinking $REGION from 8388608 to 4194304 bytes: its last 4194304 bytes are discarded" "$SRV_LOG"
	[ "$(stat -c %s "$REGION")" -eq 4194304 ]
	[ "$(sha256sum <"$REGION")" = "$head4" ]
}

@test "-m equal to the existing size needs no -t" {
	random_region "$REGION" 2M
	local before
	before=$(sum "$REGION")
	start_server -f "$REGION" -m 2M
	stop_server
	[ "$(sum "$REGION")" = "$before" ]
}

@test "bad: -m different from the file's size without -t" {
	random_region "$REGION" 4M
	refused -f "$REGION" -p "$SOCK" -m 8M -- \
	    "$REGION is 4194304 bytes but -m asks for 8388608; add -t"
	refused -f "$REGION" -p "$SOCK" -m 2M -- "add -t"
}

@test "bad: -m that is not a power of two, with and without -t" {
	random_region "$REGION" 4M
	refused -f "$REGION" -p "$SOCK" -m 3M -- "not a power of two.*QEMU"
	refused -f "$REGION" -p "$SOCK" -m 3M -t -- "not a power of two"
	refused -f "$REGION" -p "$SOCK" -m 5000K -t -- "not a power of two"
}

@test "bad: an existing 3 MiB file without -m" {
	random_region "$REGION" 3M
	refused -f "$REGION" -p "$SOCK" -- \
	    "3145728 bytes, not a power of two.*QEMU.*-t -m"
	[ ! -e "$SOCK" ]
}

@test "bad: an empty existing file without -m" {
	: >"$REGION"
	refused -f "$REGION" -p "$SOCK" -- "empty; give its size with -m"
}

@test "bad: -f and -s together leave the file alone" {
	random_region "$REGION" 4M
	refused -f "$REGION" -s "$(shm_name x)" -p "$SOCK" -m 8M -t -- \
	    "-f and -s both given"
}

@test "bad: a second server on the same file is refused (lock); a symlink to it is refused as a link" {
	need_client
	random_region "$REGION" 4M
	start_server -f "$REGION"
	cli write 0 <<<"first"
	ln -s "$REGION" "$T/link"
	refused -f "$REGION" -p "$T/sock2" -- \
	    "$REGION is in use by another tm_ivshmem_server; stop"
	refused -f "$T/link" -p "$T/sock2" -m 8M -t -- \
	    "$T/link is a symbolic link; give -f the file it points to"
	[ ! -e "$T/sock2" ]
	# The first server is unharmed.
	[ "$(cli read 0 5)" = first ]
	run cli info
	[ "$status" -eq 0 ]
}

@test "bad: a second server on a live socket is refused; the first keeps serving" {
	need_client
	random_region "$REGION" 4M
	start_server -f "$REGION"
	refused -f "$T/other" -m 4M -p "$SOCK" -- \
	    "already listening on $SOCK; stop it or choose another -p"
	[ -S "$SOCK" ]
	# A bad start creates nothing.
	[ ! -e "$T/other" ]
	run cli info
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "size 4194304" ]
}

@test "bad: a socket path too long for sun_path leaves the region alone" {
	random_region "$REGION" 4M
	refused -f "$REGION" -p "$T/$(printf 'x%.0s' {1..110})" -- \
	    "longer than the 107 a UNIX socket allows; choose a shorter -p"
}

@test "bad: a region the server's user cannot write (root's 0600 file, server as nobody)" {
	chmod 0755 "$T"
	random_region "$REGION" 4M
	chmod 0600 "$REGION"
	PRE=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	refused -f "$REGION" -p "$SOCK" -- \
	    "cannot open $REGION for reading and writing: Permission denied; run as a user that may write it"
	chmod 0644 "$REGION"
	refused -f "$REGION" -p "$SOCK" -- \
	    "cannot open $REGION for reading and writing"
	refused -f "$REGION" -p "$SOCK" -m 8M -t -- \
	    "cannot open $REGION for reading and writing"
	# A shm object too.
	local name
	name=$(shm_name ro)
	head -c 1M /dev/urandom >"/dev/shm/$name"
	chmod 0644 "/dev/shm/$name"
	REGION=/dev/shm/$name
	refused -s "$name" -p "$SOCK" -- "cannot open shm object $name for reading and writing"
}

@test "bad: a new region bigger than its filesystem: clean error, no file left" {
	mount_tmpfs "$T/small" 8M
	run_server -f "$T/small/region" -p "$SOCK" -m 16M
	[ "$status" -eq 1 ]
	one_line_error
	[[ $output == *"cannot reserve 16777216 bytes for $T/small/region: No space left on device; free space on its filesystem or choose a smaller -m"* ]]
	[ -z "$(ls -A "$T/small")" ]
	[ ! -e "$SOCK" ]
	# What fits, works.
	start_server -f "$T/small/region" -m 4M
	[ "$(allocated "$T/small/region")" -ge 4194304 ]
}

@test "bad: -t growing past the filesystem's space keeps the region as it was" {
	mount_tmpfs "$T/small" 8M
	REGION=$T/small/region
	random_region "$REGION" 4M
	refused -f "$REGION" -p "$SOCK" -m 16M -t -- \
	    "cannot grow $REGION to 16777216 bytes: No space left on device; free space"
}

@test "bad: -r on a sparse file bigger than the free space keeps it as it was" {
	mount_tmpfs "$T/small" 8M
	REGION=$T/small/region
	truncate -s 16M "$REGION"
	printf 'sparse data' | dd of="$REGION" bs=1 seek=8192 conv=notrunc status=none
	refused -f "$REGION" -p "$SOCK" -r -- \
	    "cannot reserve the blocks of $REGION: No space left on device; free space"
	[ "$(dd if="$REGION" bs=1 skip=8192 count=11 status=none)" = "sparse data" ]
}

@test "an existing sparse file is reported with the fallocate command and -r" {
	truncate -s 4M "$REGION"
	start_server -f "$REGION"
	grep -q "warning: $REGION is sparse (0 of 4194304 bytes allocated).*reserve it with -r or 'fallocate -l 4194304 $REGION'" "$SRV_LOG"
	# And the fix it names works: no warning afterwards.
	stop_server
	fallocate -l 4194304 "$REGION"
	start_server -f "$REGION"
	absent sparse "$SRV_LOG"
}

@test "-r reserves the blocks of an existing sparse file and keeps its data" {
	truncate -s 4M "$REGION"
	printf 'keep me' | dd of="$REGION" bs=1 seek=3000000 conv=notrunc status=none
	[ "$(allocated "$REGION")" -lt 1048576 ]
	start_server -f "$REGION" -r
	[ "$(allocated "$REGION")" -ge 4194304 ]
	grep -q "reserved all 4194304 bytes of $REGION" "$SRV_LOG"
	absent "is sparse" "$SRV_LOG"
	[ "$(dd if="$REGION" bs=1 skip=3000000 count=7 status=none)" = "keep me" ]
	[ "$(stat -c %s "$REGION")" -eq 4194304 ]
}

@test "a 64 GiB sparse file works: the client writes and reads at 64G-4096" {
	need_client
	REGION=$T/big
	truncate -s 64G "$REGION"
	start_server -f "$REGION"
	grep -q "listening on $SOCK ($REGION, 68719476736 bytes" "$SRV_LOG"
	run cli info
	[ "${lines[2]}" = "size 68719476736" ]
	head -c 4096 /dev/urandom >"$T/data"
	cli write $((64 * 1024 ** 3 - 4096)) <"$T/data"
	cmp <(cli read 68719472640 4096) "$T/data"
	cmp <(dd if="$REGION" bs=4096 skip=$((16 * 1024 * 1024 - 1)) count=1 status=none) "$T/data"
	# Past the end is refused and writes nothing.
	run cli write $((64 * 1024 ** 3 - 2048)) <"$T/data"
	[ "$status" -eq 1 ]
	[ "$(stat -c %s "$REGION")" -eq 68719476736 ]
	[ "$(allocated "$REGION")" -lt $((1024 * 1024)) ]
}

@test "a 16 TiB sparse region on a small tmpfs works (no 32-bit truncation)" {
	need_client
	mount_tmpfs "$T/small" 8M
	REGION=$T/small/huge
	truncate -s 16T "$REGION"
	start_server -f "$REGION"
	grep -q "17592186044416 bytes" "$SRV_LOG"
	run cli info
	[ "${lines[2]}" = "size 17592186044416" ]
	printf 'end of 16T' | cli write $((16 * 1024 ** 4 - 4096))
	[ "$(cli read 17592186040320 10)" = "end of 16T" ]
	[ "$(dd if="$REGION" bs=4096 skip=$((4 * 1024 * 1024 * 1024 - 1)) count=1 status=none | head -c 10)" = "end of 16T" ]
}

@test "the fd peers get is the region: client writes land in the file at the same offset" {
	need_client
	start_server -f "$REGION" -m 1M
	printf 'abc' | cli write 4095
	[ "$(dd if="$REGION" bs=1 skip=4095 count=3 status=none)" = abc ]
	printf 'xyz' | dd of="$REGION" bs=1 seek=999 conv=notrunc status=none
	[ "$(cli read 999 3)" = xyz ]
}

@test "-s -t grows a shm object and keeps its bytes" {
	local name
	name=$(shm_name grow)
	start_server -s "$name" -m 1M
	stop_server
	head -c 1M /dev/urandom >"/dev/shm/$name"
	local before
	before=$(sum "/dev/shm/$name")
	start_server -s "$name" -m 2M -t
	[ "$(stat -c %s "/dev/shm/$name")" -eq 2097152 ]
	[ "$(head -c 1M "/dev/shm/$name" | sha256sum | cut -d' ' -f1)" = "$before" ]
	stop_server
	REGION=/dev/shm/$name
	refused -s "$name" -p "$SOCK" -m 4M -- "add -t"
}

@test "a peer's flock(LOCK_UN) on its region descriptor cannot let a second server in" {
	random_region "$REGION" 4M
	start_server -f "$REGION"
	bg peer "$RPEER" -p "$SOCK" unlock
	wait_for "$T/peer.out" "^ready$"
	# Its descriptor is an open of its own: the server's lock stands.
	grep -q "^lock busy: the server still holds its own$" "$T/peer.out"
	refused -f "$REGION" -p "$T/sock2" -- \
	    "$REGION is in use by another tm_ivshmem_server; stop"
	[ ! -e "$T/sock2" ]
}

@test "a server killed with -9 restarts while a peer still holds the region" {
	need_client
	random_region "$REGION" 4M
	start_server -f "$REGION"
	bg peer "$RPEER" -p "$SOCK" hold
	wait_for "$T/peer.out" "^ready$"
	kill -KILL "$SRV_PID"
	wait "$SRV_PID" || true
	# The peer keeps its descriptor, not the crashed server's lock.
	start_server -f "$REGION"
	run cli info
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "size 4194304" ]
}

@test "a peer that truncates the region is logged; newcomers are refused until its size is back" {
	need_client
	start_server -f "$REGION" -m 1M
	bg peer "$RPEER" -p "$SOCK" truncate 0
	wait_for "$T/peer.out" "^ready$"
	wait_for "$SRV_LOG" "warning: $REGION changed size from 1048576 to 0 bytes.*newcomers are refused" 5
	run cli -w 5 info
	[ "$status" -ne 0 ]
	wait_for "$SRV_LOG" "refused a peer .*: the region changed size and QEMU would abort on it"
	# Not repaired by the server (that would not bring the data back),
	# but once someone restores a size QEMU takes, newcomers are served.
	truncate -s 1M "$REGION"
	wait_for "$SRV_LOG" "changed size from 0 to 1048576 bytes" 5
	run cli info
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "size 1048576" ]
}

@test "-t never resizes what a symlink points to: -f refuses links" {
	random_region "$REGION" 4M
	ln -s "$REGION" "$T/link"
	refused -f "$T/link" -p "$SOCK" -m 8M -t -- \
	    "$T/link is a symbolic link; give -f the file it points to"
	[ "$(stat -c %s "$REGION")" -eq 4194304 ]
	[ ! -e "$SOCK" ]
}

@test "an existing region others planted or may write is refused unless -W; -F names the mode allowed" {
	chmod 0755 "$T"
	random_region "$REGION" 1M
	chown nobody "$REGION"
	refused -f "$REGION" -p "$SOCK" -- \
	    "$REGION belongs to uid 65534, not to root or the server's user; chown it, or add -W"
	# Unless it is the -u user's own.
	start_server -f "$REGION" -u nobody
	stop_server
	start_server -f "$REGION" -W
	stop_server
	chown root "$REGION"
	chmod 0666 "$REGION"
	refused -f "$REGION" -p "$SOCK" -- \
	    "$REGION has mode 0666: anyone may write it; chmod go-w it, give -F the mode it should have, or add -W"
	chmod 0660 "$REGION"
	refused -f "$REGION" -p "$SOCK" -- "mode 0660: its group may write it"
	start_server -f "$REGION" -F 0660
	stop_server
	chmod 0600 "$REGION"
	ln "$REGION" "$T/other-name"
	refused -f "$REGION" -p "$SOCK" -- \
	    "$REGION has 2 hard links: it may be another file too"
	rm "$T/other-name"
	start_server -f "$REGION"
	# A shm object another user planted under the name we use.
	local name
	name=$(shm_name planted)
	head -c 1M /dev/zero >"/dev/shm/$name"
	chown nobody "/dev/shm/$name"
	REGION=/dev/shm/$name
	refused -s "$name" -p "$T/sock2" -- \
	    "shm object $name belongs to uid 65534"
}
