# tests/lib/guest_helpers.bash - a real Linux guest under Debian's QEMU
# for the suites that boot one (tests/mqnic.bats, tests/guest_drill.bats):
# the guest's kernel and busybox (Debian packages fetched once with
# apt-get download into $TM_GUEST_CACHE, default /var/tmp/tm-guest), an
# initramfs whose /init runs the static mqnic --pci on the ivshmem device
# and pings a peer, and QEMU started on a server's socket, under KVM when
# it boots a kernel in time, TCG otherwise.  The guest reports what
# happened as "MARK ..." lines on its serial console ($T/guest.out): tests
# judge those, never QEMU's exit status (a panic exits too).  Loaded after
# helpers.bash, whose bg, wait_for and $T it uses.

GUEST_CACHE=${TM_GUEST_CACHE:-/var/tmp/tm-guest}
NIC_STATIC=$TM_BUILD/tests/mqnic-static

# guest_assets: a Debian 6.1 kernel (with tun.ko) and busybox-static in
# $GUEST_CACHE, fetched once; sets KERNEL, TUN_KO and BUSYBOX.
guest_assets() {
	local pkg deb
	mkdir -p "$GUEST_CACHE" || return 1
	if ! compgen -G "$GUEST_CACHE/kernel/boot/vmlinuz-*" >/dev/null; then
		pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
		    awk '{ print $1 }' | sort -V | tail -n1)
		[ -n "$pkg" ] || return 1
		(cd "$GUEST_CACHE" && apt-get download -q "$pkg" >/dev/null 2>&1) || return 1
		deb=$(ls "$GUEST_CACHE"/"$pkg"_*.deb | head -n1)
		dpkg-deb -x "$deb" "$GUEST_CACHE/kernel" && rm -f "$deb" || return 1
	fi
	if [ ! -x "$GUEST_CACHE/busybox/bin/busybox" ]; then
		(cd "$GUEST_CACHE" && apt-get download -q busybox-static >/dev/null 2>&1) || return 1
		deb=$(ls "$GUEST_CACHE"/busybox-static_*.deb | head -n1)
		dpkg-deb -x "$deb" "$GUEST_CACHE/busybox" && rm -f "$deb" || return 1
	fi
	KERNEL=$(ls "$GUEST_CACHE"/kernel/boot/vmlinuz-* | head -n1)
	TUN_KO=$(find "$GUEST_CACHE/kernel/lib/modules" -name tun.ko | head -n1)
	BUSYBOX=$GUEST_CACHE/busybox/bin/busybox
	[ -f "$KERNEL" ] && [ -f "$TUN_KO" ] && [ -x "$BUSYBOX" ]
}

# need_guest: skip unless QEMU, the static mqnic and the guest's kernel
# and busybox are there (fetching the latter once).
need_guest() {
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing"
	[ -x "$NIC_STATIC" ] || skip "$NIC_STATIC not built; run make test-progs"
	guest_assets || skip "no guest kernel or busybox: apt-get download failed"
}

# guest_initrd MAC ADDR PEER [PINGS [ANSWER]]: $T/initrd.gz with busybox,
# the static mqnic, tun.ko and an /init that finds the ivshmem device
# (1af4:1110), runs mqnic --pci on it with MAC, gives mq0 ADDR (e.g.
# 10.77.0.10/24), pings PEER PINGS times (3), waits until it has been
# sent ANSWER echo requests (2; 0 waits for none), stops mqnic and powers
# off.  Its markers, in order:
#   MARK init KERNEL-RELEASE          the kernel booted and ran /init
#   MARK device SYSFS-DIR             the ivshmem device it found
#   MARK carrier 0|1                  mq0's carrier once the bridge is there
#   MARK replies N of PINGS           ping's own summary
#   MARK ping ok|failed               ping's exit status
#   MARK answered N                   echo requests received
#   MARK mqnic exit STATUS            mqnic's exit status after TERM
# mqnic's own stderr ("mqnic ready: slot ...") goes to the console too.
guest_initrd() {
	local mac=$1 addr=$2 peer=$3 pings=${4:-3} answer=${5:-2}
	local r=$T/guest
	mkdir -p "$r/bin" "$r/proc" "$r/sys" "$r/dev" "$r/tmp"
	cp "$BUSYBOX" "$r/bin/busybox"
	cp "$NIC_STATIC" "$r/mqnic"
	cp "$TUN_KO" "$r/tun.ko"
	cat >"$r/init" <<-EOF
	#!/bin/busybox sh
	/bin/busybox --install -s /bin
	mount -t proc proc /proc
	mount -t sysfs sys /sys
	mount -t devtmpfs dev /dev
	echo "MARK init \$(uname -r)"
	insmod /tun.ko || echo "MARK insmod failed"
	for d in /sys/bus/pci/devices/*; do
		[ "\$(cat \$d/vendor)" = 0x1af4 ] &&
		    [ "\$(cat \$d/device)" = 0x1110 ] && dev=\$d
	done
	echo "MARK device \$dev"
	/mqnic --pci "\$dev" --mac $mac -w 60 &
	pid=\$!
	i=0
	until [ "\$(cat /sys/class/net/mq0/carrier 2>/dev/null)" = 1 ] ||
	    [ \$i -ge 300 ]; do sleep 0.1; i=\$((i + 1)); done
	ip addr add $addr dev mq0
	echo "MARK carrier \$(cat /sys/class/net/mq0/carrier)"
	if ping -c $pings -W 10 $peer >/tmp/ping; then ok=ok; else ok=failed; fi
	cat /tmp/ping
	echo "MARK replies \$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping) of $pings"
	echo "MARK ping \$ok"
	i=0
	until [ "\$(awk '/^Icmp:/ { if (h) { print \$10; exit } h = 1 }' \\
	    /proc/net/snmp)" -ge $answer ] || [ \$i -ge 300 ]; do
		sleep 0.1; i=\$((i + 1))
	done
	echo "MARK answered \$(awk '/^Icmp:/ { if (h) { print \$10; exit } h = 1 }' /proc/net/snmp)"
	kill -TERM \$pid
	wait \$pid
	echo "MARK mqnic exit \$?"
	poweroff -f
	EOF
	chmod +x "$r/init"
	(cd "$r" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1) >"$T/initrd.gz"
}

# _guest_qemu ACCEL SOCK: QEMU with $T/initrd.gz, its ivshmem-doorbell
# device on SOCK; console in $T/guest.out, pid in $GUEST_PID.
_guest_qemu() {
	bg guest timeout 300 qemu-system-x86_64 -machine q35 -accel "$1" \
	    -m 256 -nographic -no-reboot -kernel "$KERNEL" \
	    -initrd "$T/initrd.gz" -append 'console=ttyS0 quiet panic=-1' \
	    -chardev socket,path="$2",id=ivs \
	    -device ivshmem-doorbell,chardev=ivs,vectors=1
	GUEST_PID=$BG_PID
}

# start_guest SOCK [auto|kvm|tcg]: boot the guest on the server at SOCK;
# sets GUEST_PID and GUEST_ACCEL (what it runs under).  auto tries KVM
# when /dev/kvm opens, and falls back to TCG unless the kernel reaches
# /init within $TM_GUEST_KVM_SECS (15): the nested KVM of some machines
# never finishes booting a stock kernel, and TCG boots it in 5 to 7 s.
# The KVM guest is stopped before it runs mqnic, so it leaves no slot.
start_guest() {
	local sock=$1 accel=${2:-auto}
	if [ "$accel" = auto ]; then
		accel=tcg
		if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
			_guest_qemu kvm "$sock"
			if wait_while "$GUEST_PID" "$T/guest.out" "MARK init" \
			    "${TM_GUEST_KVM_SECS:-15}" 2>/dev/null; then
				GUEST_ACCEL=kvm
				return 0
			fi
			kill -TERM "$GUEST_PID" 2>/dev/null
			wait "$GUEST_PID" 2>/dev/null
			mv "$T/guest.out" "$T/guest.kvm.out"
			mv "$T/guest.err" "$T/guest.kvm.err"
			GUEST_ACCEL_WHY="KVM did not reach /init in ${TM_GUEST_KVM_SECS:-15} s"
		else
			GUEST_ACCEL_WHY="no usable /dev/kvm"
		fi
	fi
	_guest_qemu "$accel" "$sock"
	GUEST_ACCEL=$accel
}
