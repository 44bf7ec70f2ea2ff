#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the test guest (busybox), started by qemu-test/conformance:
#
#   sh guest.sh PLAN [TARGET...]
#
# PLAN has one line per upstream binary: `BINARY TIMEOUT [HARNESS ARGS...]`. Each binary
# runs once per TARGET (default: iommufd ioasid, in that order): against /dev/iommu
# (target=iommufd, upstream iommufd with its mock: the baseline), and in a private mount
# namespace where /dev/ioasid is bind-mounted over /dev/iommu (target=ioasid). The host
# leaves the baseline out when it has the baseline's result of this kernel cached. Each
# run is bounded by `timeout TIMEOUT` (SIGKILL).
#
# Per-test time limits: `time-limits` next to this script (`BINARY fixture.test SECONDS`
# per line) goes to the binary as CONFORMANCE_TIME_LIMITS, which time_limits.c (compiled
# around upstream's unchanged source) applies; other tests keep the harness's 30 s.
#
# The TAP output goes to a file and, as it comes, to the console (a crash or hang shows
# where it happened), between CONFORMANCE-BEGIN/-END lines; each line is also stamped
# with /proc/uptime, which gives each test's duration. At the end the files are printed
# again, each line prefixed with `CONFORMANCE-TAP <binary> <target> `, then one
# `CONFORMANCE-TIME <binary> <target> <seconds> <test>` per test and
# `CONFORMANCE-RC <binary> <target> <exit status> <seconds>`, with the console log level
# lowered so that no kernel message can land inside a line. The host
# (qemu-test/conformance_judge.py) parses only these prefixed copies.
# Exits 0 (the host judges the results).
case "$1" in /*) plan=$1 ;; *) plan=$PWD/$1 ;; esac
shift
targets=${*:-iommufd ioasid}
cd "$(dirname "$0")" || exit 1
here=$PWD
res=/tmp/conformance
mkdir -p "$res"

# Upstream's hugepage variants (MAP_HUGETLB, up to 128 MiB per buffer in the dirty
# tracking tests) need reserved huge pages; the guest has 2 GiB.
echo 256 >/proc/sys/vm/nr_hugepages
echo "CONFORMANCE-INFO huge pages: $(cat /proc/sys/vm/nr_hugepages) of $(sed -n 's/^Hugepagesize: *//p' /proc/meminfo)"
echo "CONFORMANCE-INFO targets: $targets"

devno() { stat -L -c '%t:%T' "$1" 2>/dev/null; }
[ -c /dev/iommu ] || echo "CONFORMANCE-ERROR no /dev/iommu (CONFIG_IOMMUFD?)"
[ -c /dev/ioasid ] || echo "CONFORMANCE-ERROR no /dev/ioasid (module not loaded?)"
# upstream iommufd_fail_nth wants debugfs for its fault injection; init mounts it.
iommu_dev=$(devno /dev/iommu)
ioasid_dev=$(devno /dev/ioasid)

# Bind-mounts /dev/ioasid over /dev/iommu in this (new) mount namespace, checks that it
# took, and runs the command. Started as `unshare -m sh -c "$ns_cmd" ns ARGS...`.
# shellcheck disable=SC2016 # expanded by the namespace's shell
ns_cmd='mount --bind /dev/ioasid /dev/iommu || exit 125
[ "$(stat -L -c %t:%T /dev/iommu)" = "$(stat -L -c %t:%T /dev/ioasid)" ] || {
	echo "CONFORMANCE-ERROR /dev/iommu is not /dev/ioasid after the bind mount"; exit 125; }
exec "$@"'

# The limits of one binary, as CONFORMANCE_TIME_LIMITS wants them.
limits_of() {
	[ -f "$here/time-limits" ] || return 0
	awk -v b="$1" '$1 == b && $2 !~ /^#/ { printf "%s%s=%s", sep, $2, $3; sep = " " }' \
		"$here/time-limits"
}

while read -r bin tmo args; do
	case "$bin" in "" | "#"*) continue ;; esac
	CONFORMANCE_TIME_LIMITS=$(limits_of "$bin")
	export CONFORMANCE_TIME_LIMITS
	for target in $targets; do
		out="$res/$bin.$target"
		echo "CONFORMANCE-BEGIN $bin $target"
		t0=$(date +%s)
		# The output goes to a file, and a tail of it to the console: a test process that
		# outlives a killed harness cannot hold up a pipe. The reader stamps each line.
		: >"$out"
		: >"$out.ts"
		rm -f "$out.fifo"
		mkfifo "$out.fifo"
		while IFS= read -r line; do
			read -r up _ </proc/uptime
			printf '%s\n' "$line"
			printf '%s %s\n' "$up" "$line" >>"$out.ts"
		done <"$out.fifo" &
		reader_pid=$!
		tail -f -n +1 "$out" >"$out.fifo" &
		tail_pid=$!
		# $args is split on purpose: harness filter options.
		# shellcheck disable=SC2086
		if [ "$target" = iommufd ]; then
			timeout -s KILL "$tmo" "./$bin" $args </dev/null >"$out" 2>&1
		else
			timeout -s KILL "$tmo" unshare -m sh -c "$ns_cmd" ns "./$bin" $args </dev/null >"$out" 2>&1
		fi
		rc=$?
		secs=$(($(date +%s) - t0))
		echo "$rc $secs" >"$out.rc"
		sleep 2
		kill "$tail_pid"
		wait "$tail_pid" 2>/dev/null
		wait "$reader_pid" 2>/dev/null
		rm -f "$out.fifo"
		echo "CONFORMANCE-END $bin $target rc=$rc seconds=$secs"
		# The namespace must not leak: /dev/iommu is still iommufd out here.
		[ "$(devno /dev/iommu)" = "$iommu_dev" ] ||
			echo "CONFORMANCE-ERROR /dev/iommu changed outside the namespace"
	done
done <"$plan"
[ "$iommu_dev" != "$ioasid_dev" ] || echo "CONFORMANCE-ERROR /dev/iommu and /dev/ioasid are the same device"

# The clean copy, with the console quiet (only emergency messages).
printk=$(cat /proc/sys/kernel/printk)
echo 1 >/proc/sys/kernel/printk
for rcf in "$res"/*.rc; do
	[ -e "$rcf" ] || continue
	f=${rcf%.rc}
	name=${f##*/}
	bin=${name%.*}
	target=${name##*.}
	sed "s/^/CONFORMANCE-TAP $bin $target /" "$f"
	# Each test's duration: from its RUN line to its result line (the stamps are taken
	# when the reader sees the line: tail -f polls once a second).
	awk -v p="CONFORMANCE-TIME $bin $target" '
		$2 == "#" && $3 == "RUN" { start[$4] = $1 }
		($2 == "ok" || ($2 == "not" && $3 == "ok")) {
			name = ($2 == "ok") ? $4 : $5
			if (name in start) printf "%s %.1f %s\n", p, $1 - start[name], name
		}' "$f.ts"
	echo "CONFORMANCE-RC $bin $target $(cat "$rcf")"
done
echo "$printk" >/proc/sys/kernel/printk
echo "CONFORMANCE-COMPLETE"
exit 0
