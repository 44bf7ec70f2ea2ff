#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds (once) the Linux 7.3 test kernel for one architecture from Debian's
# linux-source-7.3 with the toolchain root, and prints the build directory.
#
# The kernel is cached under $IOASID_CACHE/kernels/<arch>-<key>, where <key> hashes the
# kernel source version, the toolchain versions, the config fragments and the build recipe
# (RECIPE below; bump it when a change here changes what gets built): a second run with
# the same inputs rebuilds nothing. The build directory holds the image, Module.symvers
# and the Rust metadata that ioasid.ko is compiled against.
#
# Usage: qemu-test/kernel.sh <x86_64|arm64> [--print-dir]
#        qemu-test/kernel.sh --source     (unpacks the kernel source if needed, prints it)
source "$(dirname "$0")/lib.sh"

ARCH_NAME=${1:-}
case "$ARCH_NAME" in
--source) KARCH= IMAGE= ;;
x86_64) KARCH=x86 IMAGE=arch/x86/boot/bzImage ;;
arm64) KARCH=arm64 IMAGE=arch/arm64/boot/Image ;;
*) die "usage: $0 <x86_64|arm64> [--print-dir]" ;;
esac

"$REPO/qemu-test/toolchain.sh"
ROOT=$(root_dir)
CFG="$REPO/qemu-test/config"
FRAGMENTS=("$CFG/common.config" "$CFG/debug.config")
[ "$ARCH_NAME" = --source ] || FRAGMENTS+=("$CFG/$ARCH_NAME.config")

# The make invocation and the steps below; changing either must change RECIPE.
RECIPE="tinyconfig+merge_config+olddefconfig; LLVM=-22; make all; v1"

SRCVER=$(sed -n 's/^linux-source-7.3 //p' "$ROOT/.versions" | tr -c 'A-Za-z0-9.+\n-' '_')
[ -n "$SRCVER" ] || die "linux-source-7.3 version unknown"
SRC="$IOASID_CACHE/src/linux-$SRCVER"

KEY=$({
	echo "$SRCVER"
	toolchain_versions
	echo "$RECIPE"
	cat "${FRAGMENTS[@]}"
} | hash_stdin)
DIR="$IOASID_CACHE/kernels/$ARCH_NAME-$KEY"
BUILD="$DIR/build"

# The kernel source, unpacked once per source version.
if [ ! -f "$SRC/.complete" ]; then
	log "unpacking linux-source-7.3 ($SRCVER) into $SRC"
	rm -rf "$SRC"
	mkdir -p "$SRC"
	in_root tar -C "$SRC" --strip-components=1 -xf /usr/src/linux-source-7.3.tar.xz ||
		die "could not unpack the kernel source; retry"
	touch "$SRC/.complete"
fi

if [ "$ARCH_NAME" = --source ]; then
	echo "$SRC"
	exit 0
fi
if [ "${2:-}" = --print-dir ]; then
	echo "$BUILD"
	exit 0
fi
if [ -f "$DIR/.complete" ]; then
	log "kernel $ARCH_NAME cached: $BUILD"
	echo "$BUILD"
	exit 0
fi

MAKE=(make -C "$SRC" O="$BUILD" ARCH="$KARCH" LLVM=-22 CC="ccache clang-22" HOSTCC=clang-22)
klog="$OUT/kernel-$ARCH_NAME.log"
mkdir -p "$BUILD" "$IOASID_CACHE/ccache"

# The resolved .config is kept with the fragments' hash, so an interrupted build resumes
# without running the configuration (and its rustc/bindgen probes) again.
if [ "$(cat "$DIR/.config-key" 2>/dev/null)" != "$KEY" ]; then
	log "configuring the $ARCH_NAME kernel (tinyconfig + ${FRAGMENTS[*]##*/})"
	{
		in_root "${MAKE[@]}" tinyconfig &&
			in_root "$SRC/scripts/kconfig/merge_config.sh" -m -O "$BUILD" "$BUILD/.config" "${FRAGMENTS[@]}" &&
			in_root "${MAKE[@]}" olddefconfig
	} >"$klog" 2>&1 || {
		tail -n 30 "$klog" >&2
		die "kernel configuration failed (log: $klog)"
	}

	# Every option a fragment asks for must be in the final .config.
	missing=$(cat "${FRAGMENTS[@]}" | grep -E '^CONFIG_[A-Za-z0-9_]+=' | sort -u | while read -r want; do
		grep -qxF "$want" "$BUILD/.config" || echo "  $want (got: $(grep -E "^(# )?${want%%=*}[= ]" "$BUILD/.config" || echo absent))"
	done)
	missing+=$'\n'$(cat "${FRAGMENTS[@]}" | sed -n 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1/p' | sort -u | while read -r off; do
		! grep -qE "^$off=" "$BUILD/.config" || echo "  # $off is not set (got: $(grep -E "^$off=" "$BUILD/.config"))"
	done)
	missing=$(echo "$missing" | sed '/^$/d')
	if [ -n "$missing" ]; then
		printf 'options requested by the fragments but missing from %s/.config:\n%s\n' "$BUILD" "$missing" >&2
		die "kernel configuration for $ARCH_NAME is incomplete"
	fi
	echo "$KEY" >"$DIR/.config-key"
fi

log "building the $ARCH_NAME kernel in $BUILD (about 15 minutes on 2 cores; log: $klog)"
start=$SECONDS
in_root "${MAKE[@]}" -j"$(nproc)" all >>"$klog" 2>&1 || {
	grep -E 'error|Error' "$klog" | tail -n 20 >&2
	die "kernel build failed (log: $klog); rerun qemu-test/kernel.sh $ARCH_NAME to resume"
}
[ -f "$BUILD/$IMAGE" ] && [ -f "$BUILD/Module.symvers" ] || die "kernel build produced no $IMAGE or Module.symvers"
ln -sfn "$IMAGE" "$BUILD/ioasid-image"
log "kernel $ARCH_NAME built in $((SECONDS - start)) s"
touch "$DIR/.complete"
echo "$BUILD"
