#!/usr/bin/env bash
# Install what the test suites need, when it is missing.  One line per
# command: "command package".  Suites add their lines to tests/deps.list.
set -euo pipefail
here=$(dirname "$0")
missing=()
while read -r cmd pkg; do
	case "$cmd" in ''|'#'*) continue ;; esac
	command -v "$cmd" >/dev/null 2>&1 || [ -e "$cmd" ] || missing+=("$pkg")
done <"$here/deps.list"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "tests/deps.sh: missing packages: ${missing[*]}; run 'make check' as root or apt-get install them" >&2
	exit 1
fi
echo "tests/deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
