#!/usr/bin/env bash
# Makes sure npm (with Node.js 18 or newer) is installed, for `make
# generate`, which vendors the pinned npm packages of tools/npm. On
# Debian/Ubuntu as root it installs the distribution's `npm` package;
# elsewhere it says what to install and fails.
set -euo pipefail

if command -v npm >/dev/null 2>&1; then exit 0; fi

if [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null; then
	echo "npm not found; installing the npm package with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends npm >/dev/null
	if command -v npm >/dev/null 2>&1; then exit 0; fi
fi

cat >&2 <<'MSG'
npm was not found. Install Node.js 18 or newer with npm, for example:
  Debian/Ubuntu: sudo apt-get install npm
  macOS:         brew install node
MSG
exit 1
