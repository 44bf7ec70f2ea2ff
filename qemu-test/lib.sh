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

# --- guest architectures ---------------------------------------------------------------
# The one table of what differs between the two guests. Sets KARCH (the kernel's ARCH),
# CROSS_CC (the root's C compiler for programs that run in the guest), DEFAULT_TIMEOUT
# (seconds a guest run may take unless told: the kselftest boot, both passes, took 457 s
# on x86_64 and 496 s on arm64 with four TCG guests on 2 host cores, and must hold on a
# machine 3x slower), KIMAGE (the kernel image in the build tree) and CONSOLE (the
# guest's serial console). Dies on any other name.
arch_vars() {
	case "${1:-}" in
	x86_64)
		KARCH=x86 CROSS_CC=gcc DEFAULT_TIMEOUT=1800
		KIMAGE=arch/x86/boot/bzImage CONSOLE=ttyS0
		;;
	arm64)
		KARCH=arm64 CROSS_CC=aarch64-linux-gnu-gcc DEFAULT_TIMEOUT=1800
		KIMAGE=arch/arm64/boot/Image CONSOLE=ttyAMA0
		;;
	*) die "the architecture must be x86_64 or arm64, not '${1:-}'" ;;
	esac
}
ARCHES_ALL=(x86_64 arm64)

# --- judging a guest run -----------------------------------------------------------------
# A kernel splat anywhere in a guest log fails the run. The one definition: guest_splats
# (qemu-test/run) greps with it, and qemu-test/conformance passes it to its Python judge,
# so it stays plain alternatives that grep -E and Python's re read alike.
SPLATS='BUG:|WARNING:|KASAN:|UBSAN:|Oops|Kernel panic|general protection fault|Unable to handle kernel|possible circular locking|inconsistent lock state|possible recursive locking|lock held when returning|suspicious RCU usage|unreferenced object|suspected memory leak|blocked for more than|corruption'

# Prints the splat lines of a guest log, each once; fails when there are none.
guest_splats() {
	local lines
	lines=$(grep -E "$SPLATS" "$1" 2>/dev/null) || return 1
	sort -u <<<"$lines"
}

# Sums the kselftest "# Totals:" lines of a TAP log and prints "passed failed skipped"
# (harness errors count as failed; "0 0 0" without a log).
ktap_totals() {
	sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\) xfail:[0-9]* xpass:[0-9]* skip:\([0-9]*\) error:\([0-9]*\).*/\1 \2 \3 \4/p' \
		"$1" 2>/dev/null | awk '{ p += $1; f += $2 + $4; s += $3 } END { print p+0, f+0, s+0 }'
}

# The stateful fuzzer's totals in a guest log: "ops seeds failures" from its FUZZ-RESULT
# lines (selftests/ioasid_fuzz.c), "0 0 0" without one.
fuzz_totals() {
	sed -n 's/^FUZZ-RESULT ops=\([0-9]*\) seeds=\([0-9]*\) failures=\([0-9]*\)$/\1 \2 \3/p' \
		"$1" 2>/dev/null | awk '{ o += $1; s += $2; f += $3 } END { print o+0, s+0, f+0 }'
}

# Runs a test command and counts its results: PARSER LOG prints "passed failed skipped"
# from what the command left in LOG (ktap_totals for kselftest TAP). Sets RUN_RC (the
# command's exit status) and RUN_P, RUN_F, RUN_S, and names each failing test ("not ok"
# lines of LOG) on stderr. A run that failed without a failing test (a splat, a hang, a
# build error, a guest that stopped early) counts as one failure, and so does a run in
# which nothing passed: a run that never got to its tests is not a success.
# Usage: run_counted WHAT LOG PARSER COMMAND [ARGS...]
run_counted() {
	local what=$1 log=$2 parser=$3
	shift 3
	set +e
	"$@"
	RUN_RC=$?
	set -e
	read -r RUN_P RUN_F RUN_S < <("$parser" "$log")
	grep -E '^not ok' "$log" 2>/dev/null | sed "s/^/  $what: /" >&2 || true
	if [ "$RUN_RC" -ne 0 ] && [ "$RUN_F" -eq 0 ]; then
		RUN_F=1
		echo "FAIL: $what failed (exit $RUN_RC) without a failing test; log: $log" >&2
	fi
	if [ "$RUN_P" -eq 0 ]; then
		RUN_F=$((RUN_F + 1))
		echo "FAIL: $what: no test passed; log: $log" >&2
	fi
}
