#!/usr/bin/env bash
# Installs the Debian packages of deploy/apt-packages.txt (or of the list named by $1) that are missing:
# the PC/SC chain and pyscard's build deps; apt-packages-test.txt: Chromium and a CJK font for the browser tests.
set -euo pipefail
cd "$(dirname "$0")"
missing=()
while read -r pkg; do
  [ -z "$pkg" ] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "${1:-apt-packages.txt}"
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[install] Debian packages missing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
