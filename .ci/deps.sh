#!/usr/bin/env bash
# Installs what Stoa's build and tests need on a Debian machine, only when missing.
# Safe to run again and again: `make deps`, `make run` and `make test` all call it.
set -euo pipefail

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have chromium || need_pkgs+=(chromium)
have git || need_pkgs+=(git)
have openssl || need_pkgs+=(openssl)
have curl || need_pkgs+=(curl)
have ip || need_pkgs+=(iproute2)
have ffmpeg || need_pkgs+=(ffmpeg)
[ -e /usr/share/ca-certificates ] || need_pkgs+=(ca-certificates)
fonts=$(ls /usr/share/fonts 2>/dev/null | head -1 || true)
[ -n "$fonts" ] || need_pkgs+=(fonts-dejavu-core)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "deps: installing ${need_pkgs[*]} (apt)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

export PATH=/usr/local/go/bin:$PATH
if ! have go; then
  echo "deps: Go is missing: install Go 1.26 to /usr/local/go (https://go.dev/dl/)" >&2
  exit 1
fi
go mod download
echo "deps: ok ($(go version | cut -d' ' -f3), $(chromium --version 2>/dev/null | head -1))"
