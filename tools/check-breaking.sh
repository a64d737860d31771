#!/usr/bin/env bash
# check-breaking.sh BUF BASELINE_FILE
#
# buf breaking for the API's history: every commit on main's first-parent
# line after the baseline commit (named in BASELINE_FILE) is compared with
# its parent, and the working tree with HEAD. The descriptor image that
# `make generate` commits (api/apidesc/todo.binpb, checked by
# check-generated) is what is compared, so old commits need no third-party
# protos to build. Commits up to the baseline predate the first release of
# v1, which changed in place.
set -euo pipefail
buf=$1
baseline=$(tr -d '[:space:]' <"$2")
image=api/apidesc/todo.binpb
config='{"version":"v2","breaking":{"use":["FILE"]}}'

# A shallow clone (as some CI systems make) lacks the history: deepen it if
# the remote allows, else check the commits that are there and say so.
if ! git cat-file -e "$baseline^{commit}" 2>/dev/null && [ "$(git rev-parse --is-shallow-repository)" = true ]; then
	git fetch --quiet --unshallow 2>/dev/null || true
fi
if git cat-file -e "$baseline^{commit}" 2>/dev/null; then
	if ! git merge-base --is-ancestor "$baseline" HEAD; then
		echo "breaking: baseline commit $baseline is not an ancestor of HEAD" >&2
		exit 1
	fi
	range="$baseline..HEAD"
else
	echo "breaking: baseline commit $baseline (from $2) is not in this shallow clone; checking only the commits it has" >&2
	range=HEAD
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# compare NAME NEW_IMAGE OLD_IMAGE
compare() {
	if cmp -s "$2" "$3"; then
		return 0
	fi
	echo "breaking: $1"
	"$buf" breaking "$2" --against "$3" --config "$config"
}

n=0
for c in $(git rev-list --first-parent --reverse "$range"); do
	git show "$c:$image" >"$tmp/new.binpb" 2>/dev/null || continue
	git show "$c^1:$image" >"$tmp/old.binpb" 2>/dev/null || continue
	compare "$(git log -1 --format='%h %s' "$c" | cut -c1-72)" "$tmp/new.binpb" "$tmp/old.binpb"
	n=$((n + 1))
done
git show "HEAD:$image" >"$tmp/head.binpb"
compare "working tree against HEAD" "$image" "$tmp/head.binpb"
echo "breaking: no breaking change in $range ($n commits compared)"
