#!/usr/bin/env bash
# bench/qemu-ivshmem-server.sh - build QEMU's own contrib/ivshmem-server,
# from the source of the QEMU that Debian ships, for bench/run's
# QEMU_SERVER (Debian packages no such binary).
#
#   bash bench/qemu-ivshmem-server.sh       (as root on Debian 12)
#   QEMU_SERVER=$(bash bench/qemu-ivshmem-server.sh) bash bench/run
#
# It fetches the Debian source package (apt-get source, through deb-src
# twins of the system's deb entries in a private apt directory: /etc/apt
# is not touched), installs the few build dependencies with apt-get,
# configures QEMU with the minimum (no emulator, no docs, no optional
# feature) and builds only the contrib/ivshmem-server target, at
# nice -n 10 with ninja -j2.  The first run takes about 2 minutes on 2
# shared CPUs (24 MB to download, configure, about 420 build steps),
# more where apt-get must install meson first.  Everything lives under
# CACHE (default /var/tmp/tm-qemu-ivshmem-server): the source in
# src-VERSION/, the build in src-VERSION/qemu-*/build/, logs as *.log,
# the binary as CACHE/ivshmem-server and the Debian version of QEMU it
# came from in CACHE/version.  While that version is the one installed,
# a later run only prints the path.  The binary's path is always the
# last line printed (on standard output; progress goes to standard error).
set -euo pipefail

prog=bench/qemu-ivshmem-server.sh
CACHE=${CACHE:-/var/tmp/tm-qemu-ivshmem-server}
bin=$CACHE/ivshmem-server
aptdir=$CACHE/apt

die() {
	echo "$prog: $*" >&2
	exit 1
}

# The source version of the QEMU installed (what the tests run), else of
# the one apt would install.
qemu_version() {
	local v
	v=$(dpkg-query -W -f='${source:Version}' qemu-system-x86 2>/dev/null) ||
		v=
	[ -n "$v" ] || v=$(apt-cache policy qemu-system-x86 2>/dev/null |
	    awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }' |
	    sed 's/+b[0-9]*$//')
	echo "$v"
}

# deb-src twins of the system's enabled deb entries, one-line and deb822.
write_sources() {
	local f
	mkdir -p "$aptdir/lists/partial" "$aptdir/parts"
	: >"$aptdir/sources.list"
	rm -f "$aptdir"/parts/*.sources
	if [ -f /etc/apt/sources.list ]; then
		sed -n 's/^deb[[:space:]]/deb-src /p' /etc/apt/sources.list \
		    >>"$aptdir/sources.list"
	fi
	for f in /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n 's/^deb[[:space:]]/deb-src /p' "$f" \
		    >>"$aptdir/sources.list"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed 's/^Types:.*/Types: deb-src/' "$f" \
		    >"$aptdir/parts/$(basename "$f")"
	done
}

aptsrc() {
	apt-get -q -o APT::Sandbox::User=root \
	    -o Dir::Etc::SourceList="$aptdir/sources.list" \
	    -o Dir::Etc::SourceParts="$aptdir/parts" \
	    -o Dir::State::Lists="$aptdir/lists" "$@"
}

ver=$(qemu_version)
[ -n "$ver" ] || die "no qemu-system-x86 installed or known to apt; run 'apt-get update' (and 'apt-get install qemu-system-x86') first"

if [ -x "$bin" ] && [ "$(cat "$CACHE/version" 2>/dev/null)" = "$ver" ]; then
	echo "$bin"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "building needs root (apt-get); run it as root, or give bench/run a QEMU_SERVER built elsewhere"
command -v apt-get >/dev/null || die "no apt-get: this script builds on Debian; build QEMU's contrib/ivshmem-server yourself"

echo "$prog: building QEMU $ver's contrib/ivshmem-server in $CACHE" >&2
mkdir -p "$CACHE"

deps=(dpkg-dev xz-utils gcc make ninja-build meson python3 pkg-config
    libglib2.0-dev flex bison)
missing=()
for d in "${deps[@]}"; do
	dpkg-query -W -f='${Status}' "$d" 2>/dev/null |
	    grep -q 'install ok installed' || missing+=("$d")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "$prog: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends "${missing[@]}" >"$CACHE/apt-install.log" 2>&1 ||
		die "apt-get install ${missing[*]} failed (see $CACHE/apt-install.log); run 'apt-get update' and retry"
fi

# The tree apt-get source unpacked, qemu-UPSTREAM_VERSION, under a
# folder named after the Debian version: a new QEMU gets a new tree.
src=$CACHE/src-${ver//[^A-Za-z0-9.+-]/_}
srctree() {
	local d
	for d in "$src"/qemu-*/; do
		[ -f "$d/contrib/ivshmem-server/main.c" ] && echo "${d%/}" && return
	done
	return 0
}
tree=$(srctree)
if [ -z "$tree" ]; then
	write_sources
	echo "$prog: apt-get source qemu=$ver" >&2
	aptsrc update >"$CACHE/apt-update.log" 2>&1 ||
		die "apt-get update of the deb-src entries failed (see $CACHE/apt-update.log); check the network and /etc/apt/sources.list.d"
	rm -rf "$CACHE"/src-*
	mkdir -p "$src"
	(cd "$src" && aptsrc source "qemu=$ver") >"$CACHE/apt-source.log" 2>&1 ||
		die "apt-get source qemu=$ver failed (see $CACHE/apt-source.log); the archive may have moved on: 'apt-get update && apt-get install qemu-system-x86', then retry"
	tree=$(srctree)
	[ -n "$tree" ] ||
		die "no qemu-*/contrib/ivshmem-server/main.c under $src after apt-get source (see $CACHE/apt-source.log); remove $CACHE and retry"
fi

# Only what the target needs: no emulator, no docs, no optional feature.
build=$tree/build
if [ ! -f "$build/build.ninja" ]; then
	echo "$prog: configuring (log: $CACHE/configure.log)" >&2
	rm -rf "$build"
	mkdir -p "$build"
	(cd "$build" && nice -n 10 ../configure --without-default-features \
	    --disable-system --disable-user --enable-tools --disable-docs \
	    --disable-werror) >"$CACHE/configure.log" 2>&1 ||
		die "QEMU's configure failed; the end of $CACHE/configure.log names what is missing (apt-get install it, then retry)"
fi

echo "$prog: ninja contrib/ivshmem-server/ivshmem-server (log: $CACHE/build.log)" >&2
nice -n 10 ninja -C "$build" -j2 contrib/ivshmem-server/ivshmem-server \
    >"$CACHE/build.log" 2>&1 ||
	die "building ivshmem-server failed; see $CACHE/build.log"
install -m 755 "$build/contrib/ivshmem-server/ivshmem-server" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "$ver" >"$CACHE/version"
echo "$bin"
