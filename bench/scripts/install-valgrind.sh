#!/bin/sh
# valgrind for the instructions-per-message figures (npm run bench:core): installed with apt-get
# when missing. Needs root (or passwordless sudo); otherwise says what to run and fails.
set -e
if command -v valgrind >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ]; then
  SUDO=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=sudo
else
  echo "valgrind is not installed and this user cannot install it: run as root: apt-get install -y valgrind" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "valgrind is not installed and there is no apt-get here: install valgrind with the system's package manager" >&2
  exit 1
fi
echo "installing valgrind (apt-get install -y valgrind)" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >&2
valgrind --version >&2
