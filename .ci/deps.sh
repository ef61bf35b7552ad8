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
# The room firmware links C libraries through cgo: codecs (libvpx, Opus), echo cancellation
# (speexdsp), ALSA. pkg-config finds them.
have pkg-config || need_pkgs+=(pkg-config)
have gcc || need_pkgs+=(gcc libc6-dev)
for lib in libvpx-dev libopus-dev libspeexdsp-dev libasound2-dev; do
  dpkg -s "$lib:$(dpkg --print-architecture)" >/dev/null 2>&1 || need_pkgs+=("$lib") # :arch: arm64 copies exist too
done
dpkg -s "libx264-dev:$(dpkg --print-architecture)" >/dev/null 2>&1 || need_pkgs+=(libx264-dev) # H.264 encoder (firmware/media)
# The hardware-in-the-loop tests and the image: QEMU (TCG), mmdebstrap, filesystem and
# partition tools, and what builds the out-of-tree gpio-sim module.
have qemu-system-x86_64 || need_pkgs+=(qemu-system-x86)
have qemu-img || need_pkgs+=(qemu-utils)
have mmdebstrap || need_pkgs+=(mmdebstrap)
have cpio || need_pkgs+=(cpio)
have xz || need_pkgs+=(xz-utils)
have zstd || need_pkgs+=(zstd)
have mkfs.ext4 || need_pkgs+=(e2fsprogs)
have mkfs.vfat || need_pkgs+=(dosfstools)
have mcopy || need_pkgs+=(mtools)
have sfdisk || need_pkgs+=(fdisk)
have make || need_pkgs+=(make)
have bc || need_pkgs+=(bc)
have flex || need_pkgs+=(flex)
have bison || need_pkgs+=(bison)
dpkg -s libelf-dev >/dev/null 2>&1 || need_pkgs+=(libelf-dev)
# The appliance image boots under QEMU with UEFI firmware (systemd-boot), as the pc board does.
[ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || need_pkgs+=(ovmf)
# The Secured option's acceptance test captures the router's media on loopback (tshark).
have tshark || need_pkgs+=(tshark)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "deps: installing ${need_pkgs[*]} (apt)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# go4vl (the V4L2 camera driver) needs kernel UAPI headers >= 6.4; bookworm's linux-libc-dev is
# 6.1. bookworm-backports carries a newer one (headers only: the running kernel is untouched).
hdr=$(dpkg-query -W -f='${Version}' linux-libc-dev 2>/dev/null || echo 0)
if dpkg --compare-versions "$hdr" lt 6.4; then
  if [ "$(. /etc/os-release; echo "$VERSION_CODENAME")" = bookworm ]; then
    echo "deps: installing linux-libc-dev from bookworm-backports (kernel headers >= 6.4 for go4vl)"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $sudo_cmd tee /etc/apt/sources.list.d/stoa-backports.list >/dev/null
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends -t bookworm-backports linux-libc-dev >/dev/null
  fi
fi

export PATH=/usr/local/go/bin:$PATH
if ! have go; then
  echo "deps: Go is missing: install Go 1.26 to /usr/local/go (https://go.dev/dl/)" >&2
  exit 1
fi
go mod download
echo "deps: ok ($(go version | cut -d' ' -f3), $(chromium --version 2>/dev/null | head -1))"

# The Raspberry Pi images (make image BOARD=rpi4|rpi5) are arm64: mmdebstrap runs the arm64
# maintainer scripts through qemu-user-static (binfmt_misc), and roomd is cross-compiled with
# cgo against arm64 codec archives (multiarch) and kernel headers >= 6.4 (go4vl).
arm_pkgs=()
have qemu-aarch64-static || arm_pkgs+=(qemu-user-static)
have update-binfmts || arm_pkgs+=(binfmt-support)
have arch-test || arm_pkgs+=(arch-test)
have aarch64-linux-gnu-gcc || arm_pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
have qemu-system-aarch64 || arm_pkgs+=(qemu-system-arm) # TestRPiImageBoots: the arm64 image under -M virt
for lib in libvpx-dev libopus-dev libspeexdsp-dev libx264-dev; do
  dpkg -s "$lib:arm64" >/dev/null 2>&1 || arm_pkgs+=("$lib:arm64")
done
# No linux-libc-dev:arm64: bookworm's (6.1, per-architecture) would replace the 6.12 one from
# backports, which is architecture all, carries every arch's asm/ headers and serves the cross
# build (rootfs/image/cross.go); apt would then remove libc6-dev and build-essential.
if [ ${#arm_pkgs[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "deps: installing the arm64 cross build (${arm_pkgs[*]})"
  dpkg --print-foreign-architectures | grep -qx arm64 || $sudo_cmd dpkg --add-architecture arm64
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${arm_pkgs[@]}" >/dev/null
fi
# binfmt_misc: arm64 programs run through qemu-aarch64 (the F flag keeps it usable in chroots).
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  mountpoint -q /proc/sys/fs/binfmt_misc || $sudo_cmd mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  $sudo_cmd update-binfmts --enable qemu-aarch64
fi
