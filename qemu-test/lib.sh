# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the ioasid build and test scripts. Source it; do not run it.
#
# Everything that is built (the Debian root with the toolchain, the kernel trees, the
# initramfs pieces) lives under $IOASID_CACHE, outside the repository, keyed by what went
# into it, so that a second run with the same inputs rebuilds nothing.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IOASID_CACHE=${IOASID_CACHE:-$HOME/.cache/ioasid}
mkdir -p "$IOASID_CACHE"
IOASID_CACHE=$(cd "$IOASID_CACHE" && pwd)
export IOASID_CACHE REPO

# Output directory for test logs and artifacts of this checkout (ignored by git).
OUT=${IOASID_OUT:-$REPO/out}
mkdir -p "$OUT"
export OUT

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	printf 'ERROR: %s\n' "$*" >&2
	exit 1
}

# Short stable hash of stdin.
hash_stdin() { sha256sum | cut -c1-16; }

host_arch() {
	case "$(uname -m)" in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	*) die "unsupported host architecture $(uname -m)" ;;
	esac
}

# The Debian root is keyed by the toolchain script (package list, pins, suites).
root_key() { cat "$REPO/qemu-test/toolchain.sh" | hash_stdin; }
root_dir() { echo "$IOASID_CACHE/roots/trixie-$(host_arch)-$(root_key)"; }

# Runs a command inside the Debian root in a private mount namespace: /proc, /sys, /dev,
# a private /tmp, the cache and the repository are visible at the same absolute paths as
# outside, so build directories are never restored at a different path.
in_root() {
	local root
	root=$(root_dir)
	[ -f "$root/.complete" ] || die "toolchain root missing: run qemu-test/toolchain.sh"
	unshare -m --propagation private -- /bin/bash -c '
		set -e
		r=$1; shift
		mount --rbind /dev "$r/dev"
		mount -t proc proc "$r/proc"
		mount --rbind /sys "$r/sys"
		mount -t tmpfs tmpfs "$r/tmp"
		# After the tmpfs, so paths under /tmp get their mount points too.
		mkdir -p "$r$IOASID_CACHE" "$r$REPO" "$r$OUT"
		mount --bind "$IOASID_CACHE" "$r$IOASID_CACHE"
		mount --bind "$REPO" "$r$REPO"
		mount --bind "$OUT" "$r$OUT"
		exec chroot "$r" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
			HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
			IOASID_CACHE="$IOASID_CACHE" REPO="$REPO" OUT="$OUT" \
			CCACHE_DIR="$IOASID_CACHE/ccache" "$@"
	' in_root "$root" "$@"
}

# The versions recorded when the root was made (one "package version" per line).
toolchain_versions() { cat "$(root_dir)/.versions"; }
