#!/usr/bin/env bash
# Kafka (KRaft, one broker+controller node) on a headless JRE in a Debian trixie root filesystem
# made by debootstrap (no image registry needed), with the Maven Central jars the harness resolves
# (`npm run brokers:install`: integration-tests/.brokers/kafka/libs, src/install.ts). start.sh
# formats the storage and starts the node like src/local.ts's prepareKafka; it listens on and
# advertises KAFKA_PORT (src/containers.ts maps the same port on the host, so that the advertised
# address is the one clients reach). Called by src/images.ts with ENGINE, TAG and KAFKA_STAMP set.
set -euo pipefail
: "${ENGINE:?}" "${TAG:?}" "${KAFKA_STAMP:?}"
here=$(cd "$(dirname "$0")" && pwd)
libs=$(dirname "$KAFKA_STAMP")/libs
suite=trixie
mirror=${DEBIAN_MIRROR:-$(grep -h -m1 -E '^(URIs:|deb) ' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null |
  grep -o -m1 'https\?://[^ ]*/debian\b' | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d)
cleanup() {
  { findmnt -rn -o TARGET | grep "^$root/" | sort -r | while read -r m; do umount -l "$m"; done; } || true
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
echo "debootstrap $suite from $mirror (openjdk-21-jre-headless)"
cache=${DEBOOTSTRAP_CACHE:-/var/cache/carrier-images/debootstrap-$suite}
mkdir -p "$cache"
debootstrap --variant=minbase --cache-dir="$cache" --include=openjdk-21-jre-headless "$suite" "$root" "$mirror" >"$root.log" 2>&1 ||
  { tail -30 "$root.log"; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
echo "openjdk $(chroot "$root" dpkg-query -W -f '${Version}' openjdk-21-jre-headless), jars from $libs ($(ls "$libs" | grep -m1 '^kafka_2.13-'))"
install -d "$root/opt/kafka/libs"
cp "$libs"/*.jar "$root/opt/kafka/libs/"
install -m 0755 "$here/start.sh" "$root/opt/kafka/start.sh"
chroot "$root" useradd --system --home-dir /var/lib/kafka --create-home kafka
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/log/*.log
tar --numeric-owner -C "$root" -c . | "$ENGINE" import \
  --change 'USER kafka' \
  --change 'WORKDIR /var/lib/kafka' \
  --change 'ENV KAFKA_PORT=9092' \
  --change 'ENV KAFKA_ADVERTISED_HOST=127.0.0.1' \
  --change 'CMD ["/opt/kafka/start.sh"]' \
  - "$TAG" >/dev/null
