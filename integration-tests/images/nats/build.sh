#!/usr/bin/env bash
# A scratch image holding only nats-server (the binary the harness installs, pinned by
# src/install.ts) and, for a dynamically linked build, the shared libraries ldd names.
# Called by src/images.ts with ENGINE (podman or docker), TAG and NATS_SERVER set.
set -euo pipefail
: "${ENGINE:?}" "${TAG:?}" "${NATS_SERVER:?}"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/tmp" "$root/data"
chmod 1777 "$root/tmp" "$root/data"
cp "$NATS_SERVER" "$root/nats-server"
for lib in $(ldd "$NATS_SERVER" 2>/dev/null | grep -o '/[^ )]*' || true); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# the official image's ports; `-sd /data` keeps JetStream out of /tmp
tar --numeric-owner -C "$root" -c . | "$ENGINE" import \
  --change 'ENTRYPOINT ["/nats-server"]' \
  --change 'CMD ["--jetstream", "--store_dir", "/data"]' \
  --change 'EXPOSE 4222' \
  --change 'EXPOSE 6222' \
  --change 'EXPOSE 8222' \
  - "$TAG" >/dev/null
