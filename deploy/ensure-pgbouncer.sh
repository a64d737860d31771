#!/usr/bin/env bash
# Makes sure the pgbouncer binary is installed, for the tests that run the
# services through a transaction-mode pooler (pkg/pgbouncer). On
# Debian/Ubuntu as root it installs the distribution's `pgbouncer` package
# (1.18 on Debian 12); elsewhere it says what to install and fails.
set -euo pipefail

found() { command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; }

if found; then exit 0; fi

if [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null; then
	echo "pgbouncer not found; installing the pgbouncer package with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null
	# Debian's package may start a pgbouncer service of its own; the tests
	# never use it (theirs listen on a Unix socket in their own directory).
	if found; then exit 0; fi
fi

cat >&2 <<'MSG'
pgbouncer was not found. Install PgBouncer 1.18 or newer, for example:
  Debian/Ubuntu: sudo apt-get install pgbouncer
  macOS:         brew install pgbouncer
MSG
exit 1
