#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, postgres) are installed.
# On Debian/Ubuntu as root it installs the distribution's `postgresql`
# package; elsewhere it says what to install and fails.
set -euo pipefail

find_bindir() {
	if command -v pg_config >/dev/null 2>&1; then
		local d
		d="$(pg_config --bindir)"
		if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
	fi
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
		if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
	done
	return 1
}

if dir="$(find_bindir)"; then
	exit 0
fi

if [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null; then
	echo "PostgreSQL server binaries not found; installing the postgresql package with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >/dev/null
	# Debian's package starts a cluster of its own; the tests never use it.
	if dir="$(find_bindir)"; then exit 0; fi
fi

cat >&2 <<'MSG'
PostgreSQL server binaries (initdb, postgres) were not found.
Install PostgreSQL 15 or newer, for example:
  Debian/Ubuntu: sudo apt-get install postgresql
  macOS:         brew install postgresql@15
and make sure `pg_config --bindir` names the folder holding initdb.
MSG
exit 1
