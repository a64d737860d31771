#!/usr/bin/env bash
# Makes sure a headless-capable Chromium is installed, for the test that
# renders the API reference page (/docs). On Debian/Ubuntu as root it
# installs the distribution's `chromium` package; elsewhere it says what to
# install and fails.
set -euo pipefail

for b in chromium chromium-browser; do
	if command -v "$b" >/dev/null 2>&1; then exit 0; fi
done

if [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null; then
	echo "chromium not found; installing the chromium package with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends chromium >/dev/null
	if command -v chromium >/dev/null 2>&1; then exit 0; fi
fi

cat >&2 <<'MSG'
Chromium was not found. Install it, for example:
  Debian/Ubuntu: sudo apt-get install chromium
  macOS:         brew install --cask chromium
MSG
exit 1
