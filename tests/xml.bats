#!/usr/bin/env bats
# tests/xml.bats: the libvirt examples in xml/.  Each domain must pass
# libvirt's own schema (virt-xml-validate) and survive a define/dumpxml
# round trip through virsh's test driver with its device intact.  The
# memory-backend-file example, whose device the test driver drops, is
# started in a real QEMU instead.  Needs virsh, virt-xml-validate,
# xmllint and qemu-system-x86_64; no libvirtd.

XML=$BATS_TEST_DIRNAME/../xml
QEMU_NS=http://libvirt.org/schemas/domain/qemu/1.0

setup()
{
	T=$(mktemp -d /tmp/tm-xml.XXXXXX)
	QPID= QIN= QOUT=
}

teardown()
{
	if [ -n "$QPID" ]; then
		[ -z "$QIN" ] || exec {QIN}>&- {QOUT}<&-
		kill "$QPID" 2>/dev/null || true
		wait "$QPID" 2>/dev/null || true
	fi
	rm -rf "$T"
}

# The test driver keeps its state inside one virsh process, so define
# and dump in one call.  Leaves the dumped XML in $T/dump.xml.
define_dump()
{
	virsh -q -c test:///default "define $1; dumpxml $2" >"$T/dump.xml"
}

xp()
{
	xmllint --xpath "$2" "$1"
}

# Bytes in a libvirt scaled integer (K, M, G are powers of 1024).
bytes()
{
	case $2 in
	b|bytes|'')	echo "$1" ;;
	K|KiB|k)	echo $(($1 << 10)) ;;
	M|MiB)		echo $(($1 << 20)) ;;
	G|GiB)		echo $(($1 << 30)) ;;
	KB)		echo $(($1 * 1000)) ;;
	MB)		echo $(($1 * 1000000)) ;;
	GB)		echo $(($1 * 1000000000)) ;;
	*)		echo "bytes: unknown unit $2" >&2; return 1 ;;
	esac
}

# What QEMU's ivshmem insists on; libvirt's schema and test driver do
# not check it (see the 3M test below).
pow2_region()
{
	[ "$1" -ge $((1 << 20)) ] && [ $(($1 & ($1 - 1))) -eq 0 ]
}

# The only <shmem> in FILE is doorbell device NAME on server PATH with
# VECTORS vectors and ioeventfd, and has no <size> (libvirt's QEMU
# driver refuses a size on a doorbell device).
doorbell_ok()
{
	local d=$1
	[ "$(xp "$d" 'count(//devices/shmem)')" -eq 1 ] &&
	[ "$(xp "$d" 'string(//devices/shmem/@name)')" = "$2" ] &&
	[ "$(xp "$d" 'string(//devices/shmem/model/@type)')" = ivshmem-doorbell ] &&
	[ "$(xp "$d" 'string(//devices/shmem/server/@path)')" = "$3" ] &&
	[ "$(xp "$d" 'string(//devices/shmem/msi/@vectors)')" = "$4" ] &&
	[ "$(xp "$d" 'string(//devices/shmem/msi/@ioeventfd)')" = on ] &&
	[ "$(xp "$d" 'count(//devices/shmem/size)')" -eq 0 ]
}

# The size of the only <shmem> in FILE, in bytes, and whether QEMU
# would take it.
shmem_size_ok()
{
	local n u
	n=$(xp "$1" 'string(//devices/shmem/size)')
	u=$(xp "$1" 'string(//devices/shmem/size/@unit)')
	[ -n "$n" ] || { echo "no <size> in $1"; return 1; }
	pow2_region "$(bytes "$n" "$u")"
}

# The qemu:arg values of FILE, one per line.
qemu_args()
{
	local i n
	n=$(xp "$1" "count(//*[namespace-uri()='$QEMU_NS' and local-name()='arg'])")
	for ((i = 1; i <= n; i++)); do
		# xmllint ends each result with a newline.
		xp "$1" "string((//*[namespace-uri()='$QEMU_NS' and local-name()='arg'])[$i]/@value)"
	done
}

# Value of KEY in a QEMU option string "type,k=v,...".
opt()
{
	tr ',' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

# qtest: send one command to the QEMU coprocess, print its reply.
# Uses copies of the coprocess fds: bash hides ${Q[@]} from the
# subshells of $(...).
qt()
{
	local r
	echo "$1" >&"$QIN"
	while IFS= read -r -t 10 r <&"$QOUT"; do
		case $r in IRQ*) continue ;; esac
		echo "$r"
		return 0
	done
	echo "qemu gave no reply to '$1': $(cat "$T/qemu.err")" >&2
	return 1
}

cfg_addr()
{
	printf '0x%x' $((0x80000000 | $1 << 11 | $2))
}

cfg_read()
{
	qt "outl 0xcf8 $(cfg_addr "$1" "$2")" >/dev/null &&
	    qt "inl 0xcfc" | sed -n 's/^OK //p'
}

cfg_write()
{
	qt "outl 0xcf8 $(cfg_addr "$1" "$2")" >/dev/null &&
	    qt "outl 0xcfc $3" >/dev/null
}

# ---------------------------------------------------------------- file

@test "node05.xml.file passes virt-xml-validate" {
	run virt-xml-validate "$XML/node05.xml.file" domain
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "node05.xml.file: define + dumpxml keep the ivshmem-doorbell device" {
	define_dump "$XML/node05.xml.file" node05-file
	doorbell_ok "$T/dump.xml" node05-file /tmp/ivshmem_socket 2
	[ "$(xp "$T/dump.xml" 'string(/domain/os/type/@machine)')" = q35 ]
}

# --------------------------------------------------------------- shm

@test "node05.xml.shm passes virt-xml-validate" {
	run virt-xml-validate "$XML/node05.xml.shm" domain
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "node05.xml.shm: define + dumpxml keep the ivshmem-plain device and its size" {
	define_dump "$XML/node05.xml.shm" node05-shm
	d=$T/dump.xml
	[ "$(xp "$d" 'count(//devices/shmem)')" -eq 1 ]
	[ "$(xp "$d" 'string(//devices/shmem/@name)')" = node05-shm ]
	[ "$(xp "$d" 'string(//devices/shmem/model/@type)')" = ivshmem-plain ]
	[ "$(xp "$d" 'string(//devices/shmem/size)')" = 4 ]
	[ "$(xp "$d" 'string(//devices/shmem/size/@unit)')" = M ]
	shmem_size_ok "$d"
	# libvirt's QEMU driver refuses a server on ivshmem-plain.
	[ "$(xp "$d" 'count(//devices/shmem/server)')" -eq 0 ]
}

# -------------------------------------------------------- membackend

@test "node05.xml.membackend passes virt-xml-validate" {
	run virt-xml-validate "$XML/node05.xml.membackend" domain
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "node05.xml.membackend: the test driver defines it and drops qemu:commandline" {
	define_dump "$XML/node05.xml.membackend" node05-membackend
	d=$T/dump.xml
	[ "$(xp "$d" 'string(/domain/name)')" = node05-membackend ]
	# What the XML comment and docs/libvirt.md say: only the QEMU
	# driver acts on qemu:commandline; the test driver forgets it.
	[ "$(qemu_args "$XML/node05.xml.membackend" | wc -l)" -eq 4 ]
	[ -z "$(qemu_args "$d")" ]
	! grep -q 'memory-backend-file' "$d"
}

@test "node05.xml.membackend: its QEMU arguments name a shared, persistent, power-of-two region" {
	mapfile -t a < <(qemu_args "$XML/node05.xml.membackend")
	[ "${a[0]}" = -object ]
	[ "${a[1]%%,*}" = memory-backend-file ]
	[ "${a[2]}" = -device ]
	[ "${a[3]%%,*}" = ivshmem-plain ]
	[ "$(opt "${a[1]}" share)" = on ]
	path=$(opt "${a[1]}" mem-path)
	[ "$path" = /var/lib/tm-ivshmem/node05.region ]
	[ "$(opt "${a[3]}" memdev)" = "$(opt "${a[1]}" id)" ]
	size=$(opt "${a[1]}" size)
	[ "$size" = 4M ]
	pow2_region $(("${size%M}" << 20))
}

@test "node05.xml.membackend: real QEMU takes its arguments and writes through to the file" {
	mapfile -t a < <(qemu_args "$XML/node05.xml.membackend")
	region=$T/node05.region
	truncate -s 4M "$region"
	a[1]=${a[1]/mem-path=\/var\/lib\/tm-ivshmem\/node05.region/mem-path=$region}
	[[ ${a[1]} == *"mem-path=$region"* ]]
	coproc Q { exec qemu-system-x86_64 -machine q35 -accel tcg -S \
	    -display none -nodefaults -m 64 -qtest stdio -qtest-log /dev/null \
	    "${a[@]}" 2>"$T/qemu.err"; }
	QPID=$Q_PID
	exec {QIN}>&"${Q[1]}" {QOUT}<&"${Q[0]}"
	slot=
	for ((s = 0; s < 32; s++)); do
		id=$(cfg_read "$s" 0)
		[ -n "$id" ]
		if [ "$id" = 0x11101af4 ]; then slot=$s; break; fi
	done
	[ -n "$slot" ] || { echo "no ivshmem (1af4:1110) on bus 0"; false; }
	# BAR2 sizes the region: write all-ones, read the mask back.
	cfg_write "$slot" 0x18 0xffffffff
	cfg_write "$slot" 0x1c 0xffffffff
	lo=$(cfg_read "$slot" 0x18)
	hi=$(cfg_read "$slot" 0x1c)
	[ $(((~((hi << 32) | (lo & ~0xf)) + 1) & 0xffffffffffffffff)) -eq $((4 << 20)) ]
	# Map BAR2 at 0xe0000000, enable memory space, write a marker.
	cfg_write "$slot" 0x18 0xe0000000
	cfg_write "$slot" 0x1c 0
	cfg_write "$slot" 0x04 0x6
	[ "$(qt 'write 0xe0000010 4 0x746d6976')" = OK ]
	[ "$(dd if="$region" bs=1 skip=16 count=4 status=none)" = tmiv ]
}

# ------------------------------------------------------------- hot-plug

@test "every file in xml/ is well-formed XML" {
	n=0
	for f in "$XML"/*; do
		xmllint --noout "$f"
		n=$((n + 1))
	done
	[ "$n" -ge 4 ]
}

@test "node05.shmem.hotplug: the device validates and round-trips inside a domain" {
	# The test driver has no attach-device, so put the device inside
	# node05.xml.shm's <devices> and check it there.
	awk -v dev="$XML/node05.shmem.hotplug" '
	    /<\/devices>/ { while ((getline l < dev) > 0) print l }
	    { print }' "$XML/node05.xml.shm" >"$T/domain.xml"
	run virt-xml-validate "$T/domain.xml" domain
	echo "$output"
	[ "$status" -eq 0 ]
	define_dump "$T/domain.xml" node05-shm
	d=$T/dump.xml
	[ "$(xp "$d" 'count(//devices/shmem)')" -eq 2 ]
	s="//devices/shmem[@name='node05-hotplug']"
	[ "$(xp "$d" "string($s/model/@type)")" = ivshmem-doorbell ]
	[ "$(xp "$d" "string($s/server/@path)")" = /tmp/ivshmem_socket ]
	[ "$(xp "$d" "string($s/msi/@vectors)")" = 1 ]
}

# ------------------------------------------------------------ together

@test "the three domains have distinct names and all define in one test driver" {
	run virsh -q -c test:///default "define $XML/node05.xml.file;
	    define $XML/node05.xml.shm; define $XML/node05.xml.membackend;
	    list --all --name"
	echo "$output"
	[ "$status" -eq 0 ]
	for n in node05-file node05-shm node05-membackend; do
		grep -qx "$n" <<<"$output"
	done
}

# ----------------------------------------------- the checks can fail

@test "a bad model type fails virt-xml-validate (exit 3) and define" {
	sed "s/ivshmem-doorbell/ivshmem-bell/" "$XML/node05.xml.file" >"$T/bad.xml"
	! cmp -s "$XML/node05.xml.file" "$T/bad.xml"
	run virt-xml-validate "$T/bad.xml" domain
	echo "$output"
	[ "$status" -eq 3 ]
	run virsh -q -c test:///default "define $T/bad.xml"
	[ "$status" -ne 0 ]
	[[ $output == *"ivshmem-bell"* ]]
}

@test "non-numeric msi vectors fail virt-xml-validate (exit 3) and define" {
	sed "s/vectors='2'/vectors='two'/" "$XML/node05.xml.file" >"$T/bad.xml"
	! cmp -s "$XML/node05.xml.file" "$T/bad.xml"
	run virt-xml-validate "$T/bad.xml" domain
	echo "$output"
	[ "$status" -eq 3 ]
	run virsh -q -c test:///default "define $T/bad.xml"
	[ "$status" -ne 0 ]
	[[ $output == *"vectors"* ]]
}

@test "a relative server path fails virt-xml-validate (exit 3)" {
	sed "s|path='/tmp/ivshmem_socket'|path='tmp/ivshmem_socket'|" \
	    "$XML/node05.xml.file" >"$T/bad.xml"
	! cmp -s "$XML/node05.xml.file" "$T/bad.xml"
	run virt-xml-validate "$T/bad.xml" domain
	[ "$status" -eq 3 ]
}

@test "a 3M plain region passes libvirt's checks here but fails the power-of-two check" {
	sed "s|<size unit='M'>4</size>|<size unit='M'>3</size>|" \
	    "$XML/node05.xml.shm" >"$T/bad.xml"
	! cmp -s "$XML/node05.xml.shm" "$T/bad.xml"
	# Neither the schema nor the test driver know about QEMU's rule.
	virt-xml-validate "$T/bad.xml" domain
	define_dump "$T/bad.xml" node05-shm
	[ "$(xp "$T/dump.xml" 'string(//devices/shmem/size)')" = 3 ]
	! shmem_size_ok "$T/dump.xml"
}

@test "the doorbell round-trip check fails on a changed or missing device" {
	sed "s|vectors='2'|vectors='3'|" "$XML/node05.xml.file" >"$T/v3.xml"
	define_dump "$T/v3.xml" node05-file
	! doorbell_ok "$T/dump.xml" node05-file /tmp/ivshmem_socket 2
	sed "s|/tmp/ivshmem_socket|/run/other.sock|" "$XML/node05.xml.file" >"$T/p.xml"
	define_dump "$T/p.xml" node05-file
	! doorbell_ok "$T/dump.xml" node05-file /tmp/ivshmem_socket 2
	sed '/<shmem/,/<\/shmem>/d' "$XML/node05.xml.file" >"$T/nodev.xml"
	define_dump "$T/nodev.xml" node05-file
	! doorbell_ok "$T/dump.xml" node05-file /tmp/ivshmem_socket 2
}
