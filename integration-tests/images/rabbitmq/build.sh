#!/usr/bin/env bash
# RabbitMQ 4.0 on a Debian trixie root filesystem made by debootstrap from the machine's Debian
# mirror (no image registry needed), configured like the official image where the harness relies
# on it (guest may log in from outside the container, logs on the console, conf.d/ read).
# Called by src/images.ts with ENGINE (podman or docker) and TAG set; needs root (debootstrap).
set -euo pipefail
: "${ENGINE:?}" "${TAG:?}"
here=$(cd "$(dirname "$0")" && pwd)
suite=trixie
expected=4.0.5
# the mirror of the host's own Debian sources (deb822 or one-line format), else deb.debian.org
mirror=${DEBIAN_MIRROR:-$(grep -h -m1 -E '^(URIs:|deb) ' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null |
  grep -o -m1 'https\?://[^ ]*/debian\b' | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d)
cleanup() {
  # debootstrap mounts proc/sys inside the root: never delete through a mount
  { findmnt -rn -o TARGET | grep "^$root/" | sort -r | while read -r m; do umount -l "$m"; done; } || true
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
echo "debootstrap $suite from $mirror"
# downloaded packages are kept outside the clone: a rebuild downloads nothing it has
cache=${DEBOOTSTRAP_CACHE:-/var/cache/carrier-images/debootstrap-$suite}
mkdir -p "$cache"
debootstrap --variant=minbase --cache-dir="$cache" --include=rabbitmq-server "$suite" "$root" "$mirror" >"$root.log" 2>&1 ||
  { tail -30 "$root.log"; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
version=$(chroot "$root" dpkg-query -W -f '${Version}' rabbitmq-server)
case "$version" in
  "$expected"*) echo "rabbitmq-server $version, erlang $(chroot "$root" dpkg-query -W -f '${Version}' erlang-base)" ;;
  *) echo "trixie carries rabbitmq-server $version, not $expected: update images/rabbitmq" >&2; exit 1 ;;
esac
install -d -o root -g root "$root/etc/rabbitmq/conf.d"
cp "$here/rabbitmq.conf" "$root/etc/rabbitmq/rabbitmq.conf"
echo '[].' >"$root/etc/rabbitmq/enabled_plugins"
# what a container never needs
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/log/*.log
rm -rf "$root"/var/lib/rabbitmq/mnesia "$root"/var/lib/rabbitmq/.erlang.cookie
tar --numeric-owner -C "$root" -c . | "$ENGINE" import \
  --change 'USER rabbitmq' \
  --change 'ENV HOME=/var/lib/rabbitmq' \
  --change 'ENV RABBITMQ_LOGS=-' \
  --change 'WORKDIR /var/lib/rabbitmq' \
  --change 'EXPOSE 5672' \
  --change 'EXPOSE 5671' \
  --change 'EXPOSE 15672' \
  --change 'EXPOSE 15671' \
  --change 'CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]' \
  - "$TAG" >/dev/null
