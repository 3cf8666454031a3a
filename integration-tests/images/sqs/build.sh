#!/usr/bin/env bash
# moto's server (SQS + SNS) from PyPI, the version pinned by brokers/sqs/requirements.txt (the
# harness's local SQS), in a venv on a Debian trixie root filesystem made by debootstrap (no image
# registry needed), started through brokers/sqs/moto_server.py (its receive race and FIFO deduplication fixed, as the local
# harness does). Serves on 4566 like LocalStack. Called by src/images.ts with ENGINE, TAG,
# SQS_REQUIREMENTS and MOTO_LAUNCHER set; needs root (debootstrap) and PyPI (pip, with the host's pip settings).
set -euo pipefail
: "${ENGINE:?}" "${TAG:?}" "${SQS_REQUIREMENTS:?}" "${MOTO_LAUNCHER:?}"
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
echo "debootstrap $suite from $mirror (python3-venv)"
cache=${DEBOOTSTRAP_CACHE:-/var/cache/carrier-images/debootstrap-$suite}
mkdir -p "$cache"
debootstrap --variant=minbase --cache-dir="$cache" --include=python3-venv,ca-certificates "$suite" "$root" "$mirror" >"$root.log" 2>&1 ||
  { tail -30 "$root.log"; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# pip inside the root: the host's name resolution and CA bundle (a proxy's CA, if any), its pip cache
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$root/tmp/host-ca.crt"
moto=$(grep -E '^moto\[server\]==' "$SQS_REQUIREMENTS")
chroot "$root" python3 -m venv /opt/moto
pipcache=${PIP_CACHE:-/var/cache/carrier-images/pip}
mkdir -p "$pipcache" "$root/root/.cache/pip"
mount --bind "$pipcache" "$root/root/.cache/pip"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root PIP_CERT=/tmp/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
  PIP_DEFAULT_TIMEOUT=180 ${HTTPS_PROXY:+HTTPS_PROXY=$HTTPS_PROXY} ${https_proxy:+https_proxy=$https_proxy} \
  chroot "$root" /opt/moto/bin/pip install --quiet "$moto"
umount "$root/root/.cache/pip"
cp "$MOTO_LAUNCHER" "$root/opt/moto/moto_server.py"
echo "moto $(chroot "$root" /opt/moto/bin/python -c 'import importlib.metadata as m; print(m.version("moto"))') on $(chroot "$root" python3 --version)"
rm -f "$root/tmp/host-ca.crt" "$root/etc/resolv.conf"
chroot "$root" useradd --system --home-dir /var/lib/moto --create-home moto
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/log/*.log
tar --numeric-owner -C "$root" -c . | "$ENGINE" import \
  --change 'USER moto' \
  --change 'WORKDIR /var/lib/moto' \
  --change 'ENV MOTO_ALLOW_NONEXISTENT_REGION=true' \
  --change 'ENV PYTHONUNBUFFERED=1' \
  --change 'EXPOSE 4566' \
  --change 'CMD ["/opt/moto/bin/python", "/opt/moto/moto_server.py", "-H", "0.0.0.0", "-p", "4566"]' \
  - "$TAG" >/dev/null
