#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Creates (once) the Debian trixie root that holds every tool ioasid is built and tested
# with: rustc + rust-src, bindgen, clang/lld/llvm 22, linux-source-7.3, QEMU 11 and the
# kernel build dependencies. Everything comes from Debian's archive; nothing from rustup.
#
# The root is cached under $IOASID_CACHE/roots/, keyed by a hash of this file, and is
# reused as long as this file does not change. The versions it got are recorded in
# <root>/.versions and printed by every test run.
#
# Usage: qemu-test/toolchain.sh [--print-root]
source "$(dirname "$0")/lib.sh"

# Packages taken from trixie-backports (the newest rustc/rust-src, linux-source-7.3 and
# QEMU 11, which needs the newer firmware), from sid (bindgen 0.72, which matches libclang
# 22) and from trixie for everything else. rustc and rust-src must be the same version.
BACKPORTS_PKGS="rustc rust-src rust-clippy libstd-rust-dev /^libstd-rust-1\..*/ cargo linux-source-7.3
	qemu-system-x86 qemu-system-arm qemu-system-data qemu-system-common qemu-system-gui
	qemu-utils seabios ipxe-qemu qemu-efi-aarch64 clang-22 lld-22 llvm-22 llvm-22-dev
	llvm-22-runtime llvm-22-linker-tools libllvm22 libclang-cpp22 libclang1-22
	libclang-common-22-dev libclang-22-dev clang-tools-22 llvm-22-tools"
SID_PKGS="bindgen"
PACKAGES="rustc rust-src rust-clippy libstd-rust-dev bindgen clang-22 lld-22 llvm-22 libclang-22-dev
	linux-source-7.3 qemu-system-x86 qemu-system-arm qemu-utils seabios ipxe-qemu
	busybox-static make gcc libc6-dev bc bison flex libelf-dev libssl-dev cpio kmod
	python3 xz-utils zstd ccache rsync file
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross libc6-dev-i386 lib32gcc-14-dev
	virtme-ng udev mount iproute2 procps kmod util-linux systemd-sysv"

ROOT=$(root_dir)
if [ "${1:-}" = --print-root ]; then
	echo "$ROOT"
	exit 0
fi
if [ -f "$ROOT/.complete" ]; then
	log "toolchain root ready: $ROOT"
	exit 0
fi

command -v mmdebstrap >/dev/null || {
	log "installing mmdebstrap on the host (apt-get)"
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap; } >"$OUT/host-apt.log" 2>&1 ||
		die "could not install mmdebstrap on the host (see $OUT/host-apt.log); retry: apt-get update && apt-get install mmdebstrap"
}

# The mirror is the one the host's apt already uses.
MIRROR=$({ grep -rhoE '^(URIs:|deb)[[:space:]]+https?://[^[:space:]]+/debian/?' \
	/etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true; } | awk '{print $2}' | head -n1)
[ -n "$MIRROR" ] || die "no Debian mirror found in the host's apt sources"

tmp="$ROOT.tmp"
rm -rf "$tmp"
mkdir -p "$(dirname "$ROOT")"
prefs=$(mktemp)
trap 'rm -f "$prefs"' EXIT
{
	echo "Package: *"
	echo "Pin: release n=sid"
	echo "Pin-Priority: 100"
	echo
	echo "Package: $(echo $BACKPORTS_PKGS)"
	echo "Pin: release n=trixie-backports"
	echo "Pin-Priority: 990"
	echo
	echo "Package: $(echo $SID_PKGS)"
	echo "Pin: release n=sid"
	echo "Pin-Priority: 990"
} >"$prefs"

log "creating the Debian trixie root in $ROOT (mirror $MIRROR; takes a few minutes)"
arches=$(host_arch)
hooks=()
if [ "$arches" = amd64 ]; then
	# The arm64 guest's initramfs needs an arm64 busybox: fetched as a .deb into /opt
	# (before mmdebstrap cleans the package lists) and unpacked when the initramfs is made.
	arches=amd64,arm64
	hooks+=(--customize-hook='chroot "$1" sh -c "cd /opt && apt-get download -q busybox-static:arm64"')
fi
if ! mmdebstrap --variant=apt --mode=root --architectures="$arches" \
	--aptopt='Acquire::Check-Valid-Until "false"' \
	--aptopt='APT::Install-Recommends "false"' \
	--setup-hook="mkdir -p \"\$1/etc/apt/preferences.d\" && cp $prefs \"\$1/etc/apt/preferences.d/ioasid\"" \
	"${hooks[@]}" \
	--include="$(echo $PACKAGES | tr ' ' ',')" \
	trixie "$tmp" \
	"deb $MIRROR trixie main" \
	"deb $MIRROR trixie-backports main" \
	"deb $MIRROR sid main" >"$OUT/mmdebstrap.log" 2>&1; then
	tail -n 30 "$OUT/mmdebstrap.log" >&2
	die "mmdebstrap failed (full log: $OUT/mmdebstrap.log); check the mirror and retry qemu-test/toolchain.sh"
fi

# Checks that the pins did what they say.
rv=$(chroot "$tmp" rustc -V | awk '{print $2}')
sv=$(chroot "$tmp" dpkg-query -W -f '${Version}' rust-src)
case "$sv" in "$rv"*) ;; *) die "rustc $rv and rust-src $sv differ" ;; esac
ls "$tmp"/usr/src/linux-source-7.3.tar.* >/dev/null 2>&1 || die "linux-source-7.3 tarball missing"

chroot "$tmp" dpkg-query -W -f '${Package} ${Version}\n' rustc rust-src bindgen clang-22 lld-22 \
	linux-source-7.3 qemu-system-x86 qemu-system-arm busybox-static gcc gcc-aarch64-linux-gnu >"$tmp/.versions"
# Tools that do not go into a kernel are recorded apart, so that adding one does not
# change the kernels' cache keys (which hash .versions).
chroot "$tmp" dpkg-query -W -f '${Package} ${Version}\n' rust-clippy >"$tmp/.versions-tools"
ls "$tmp"/opt/busybox-static_*arm64.deb >/dev/null 2>&1 || [ "$(host_arch)" != amd64 ] || die "busybox-static:arm64 missing"
# Roots made from an older version of this script are no longer used.
for old in "$(dirname "$ROOT")"/trixie-"$(host_arch)"-*; do
	[ "$old" = "$tmp" ] || rm -rf "$old"
done
mv "$tmp" "$ROOT"
touch "$ROOT/.complete"
log "toolchain root ready; versions:"
sed 's/^/  /' "$ROOT/.versions" >&2
