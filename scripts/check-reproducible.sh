#!/usr/bin/env bash
# Builds each named function twice with the Lambda flags: once here, once
# from a copy of the tree at another path with an empty build cache, and
# fails unless the two bootstrap binaries are byte for byte the same.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: $0 FUNCTION..." >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-tags lambda.norpc -trimpath -buildvcs=false -ldflags='-s -w -buildid=')
export CGO_ENABLED=0 GOOS=linux GOARCH=arm64
mkdir -p "$work/copy"
git ls-files -z 2>/dev/null | xargs -0 -I{} cp --parents {} "$work/copy/" 2>/dev/null || cp -r . "$work/copy/"
for fn in "$@"; do
  go build "${flags[@]}" -o "$work/a-$fn" "./functions/$fn"
  (cd "$work/copy" && GOCACHE="$work/cache" go build "${flags[@]}" -o "$work/b-$fn" "./functions/$fn")
  a=$(sha256sum < "$work/a-$fn" | cut -c1-64)
  b=$(sha256sum < "$work/b-$fn" | cut -c1-64)
  if [ "$a" != "$b" ]; then
    echo "reproducible: $fn differs between builds: $a vs $b" >&2
    exit 1
  fi
  echo "reproducible: $fn bootstrap sha256 $a ($(stat -c %s "$work/a-$fn") bytes)"
done
