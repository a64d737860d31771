#!/usr/bin/env bash
# Lints every SQL migration with squawk (pinned in tools/npm):
#
#   tools/lint-migrations.sh SQUAWK FILE…
#
# goose runs each migration in a transaction unless the file says
# `-- +goose NO TRANSACTION`, so squawk is told so file by file
# (--assume-in-transaction), and a CREATE INDEX CONCURRENTLY in a
# transactional migration is an error while one in a NO TRANSACTION
# migration is what squawk asks for.
#
# A rule is disabled only for one statement, with `-- squawk-ignore RULE`
# on the line just above it, and that line must itself follow a comment
# saying why. File-wide disables (squawk-ignore-file) are refused.
set -euo pipefail

squawk=$1
shift
status=0
in_tx=()
no_tx=()
for f in "$@"; do
	if grep -q 'squawk-ignore-file' "$f"; then
		echo "$f: squawk-ignore-file disables a rule for a whole file; disable it per statement (-- squawk-ignore RULE) with a reason" >&2
		status=1
	fi
	# Every squawk-ignore line follows a comment line that gives the reason.
	if ! awk -v f="$f" '
		/^[ \t]*-- squawk-ignore / {
			if (prev !~ /^[ \t]*--/ || prev ~ /squawk-ignore/ || prev ~ /\+goose/) {
				printf "%s:%d: squawk-ignore without a reason on the line above\n", f, NR > "/dev/stderr"; bad = 1
			}
		}
		{ prev = $0 }
		END { exit bad }' "$f"; then
		status=1
	fi
	if grep -qE '^-- \+goose NO TRANSACTION' "$f"; then
		no_tx+=("$f")
	else
		in_tx+=("$f")
	fi
done
if [ ${#in_tx[@]} -gt 0 ]; then
	"$squawk" --pg-version=15 --assume-in-transaction "${in_tx[@]}" || status=1
fi
if [ ${#no_tx[@]} -gt 0 ]; then
	"$squawk" --pg-version=15 "${no_tx[@]}" || status=1
fi
if [ $status = 0 ]; then
	echo "squawk: $# migrations, no issues"
fi
exit $status
