#!/usr/bin/env bats
# tests/layout.bats - the house rules that keep the repository readable:
# no include circles, every source file says what it owns, none grows past
# about 800 lines without saying why, and the build writes nothing beside
# the sources.  docs/architecture.md is the map these rules keep true.

setup() {
	TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	cd "$TOP"
}

sources() {
	git ls-files '*.c' '*.h'
}

@test "layout: no include circle between modules" {
	run bash scripts/check-includes
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "layout: check-includes finds a circle when there is one" {
	T=$(mktemp -d /tmp/tm-layout.XXXXXX)
	git -C "$T" init -q
	mkdir "$T/a"
	printf '#include "a/b.h"\n' >"$T/a/a.c"
	printf '/* */\n' >"$T/a/a.h"
	printf '#include "a/a.h"\n' >"$T/a/b.c"
	printf '/* */\n' >"$T/a/b.h"
	git -C "$T" add -A
	run bash scripts/check-includes "$T"
	rm -rf "$T"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"include circle: a/"* ]]
}

@test "layout: every source file opens with a comment naming itself" {
	local f bad=0
	for f in $(sources); do
		if ! head -2 "$f" | grep -q "^ \* $(basename "$f") - "; then
			echo "$f does not open with ' * $(basename "$f") - what it owns'"
			bad=1
		fi
	done
	[ "$bad" -eq 0 ]
}

@test "layout: no source file over 800 lines without a reason at its top" {
	local f n bad=0
	for f in $(git ls-files '*.c' '*.h' '*.bash' '*.sh'); do
		n=$(wc -l <"$f")
		[ "$n" -le 820 ] && continue
		if ! head -12 "$f" | grep -Eqi '(over|about) 800 lines'; then
			echo "$f has $n lines and no reason in its first lines"
			bad=1
		fi
	done
	[ "$bad" -eq 0 ]
}

@test "layout: the top level holds only what the README names" {
	local f extra=
	for f in $(git ls-files | cut -d/ -f1 | sort -u); do
		case $f in
		README.md|Makefile|COPYING|tm_ivshmem_server.c|send_scm.c|\
		send_scm.h|.gitignore|.ci|server|lib|client|mqbridge|xml|\
		tests|docs|bench|contrib|scripts) ;;
		*) extra="$extra $f" ;;
		esac
	done
	[ -z "$extra" ] || { echo "unexpected at the top:$extra"; false; }
}

@test "layout: every folder is on the map in docs/architecture.md" {
	local d bad=0
	for d in $(git ls-files | grep / | xargs -n1 dirname | sort -u); do
		case $d in .ci|tests/*|bench/*|xml/*) continue ;; esac
		grep -q "\`$d/\`" docs/architecture.md ||
			{ echo "$d/ is not in docs/architecture.md"; bad=1; }
	done
	[ "$bad" -eq 0 ]
}

@test "layout: a build writes nothing beside the sources" {
	[ -d "${TM_BUILD:-$TOP/build}" ]
	run git status --porcelain --ignored=matching
	echo "$output"
	# Only the build directory may be untracked or ignored.
	! grep -Ev '^!! build/$|^!! build/' <<<"$output" | grep -E '^(\?\?|!!)'
}

@test "layout: bench/README.md carries the README's figures as they are now" {
	run bash scripts/bench-readme --check
	echo "$output"
	[ "$status" -eq 0 ]
}
