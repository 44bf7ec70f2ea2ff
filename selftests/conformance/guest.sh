#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the test guest (busybox), started by qemu-test/conformance:
#
#   sh guest.sh PLAN [--full-baseline]
#
# PLAN has one line per upstream binary: `BINARY TIMEOUT [HARNESS ARGS...]`. Each binary
# runs against /dev/ioasid first (target=ioasid: in a private mount namespace where
# /dev/ioasid is bind-mounted over /dev/iommu, with the plan's harness args), then
# against /dev/iommu (target=iommufd, upstream iommufd with its mock: the baseline) for
# only the tests that did not pass against ioasid (TAP `not ok` without a SKIP or XFAIL
# directive, a test that ran into its time limit included), each named with the
# harness's `-r fixture[.variant].test`, which then replace the plan's filters. A binary
# whose tests all passed (or were skipped) has no baseline run. Before the baseline run
# (or where it would be) the guest prints
#   CONFORMANCE-BASELINE <binary> <number of tests selected, 0: no baseline run>
# With --full-baseline the whole baseline runs, before ioasid, with the plan's args, and
# that line says `all`. Each run is bounded by `timeout TIMEOUT` (SIGKILL).
#
# Per-test time limits: `time-limits` next to this script (`BINARY fixture.test SECONDS`
# per line) goes to the binary as CONFORMANCE_TIME_LIMITS, which time_limits.c (compiled
# around upstream's unchanged source) applies; other tests keep the harness's 30 s.
#
# The TAP output goes to a file and, as it comes, to the console (a crash or hang shows
# where it happened), between CONFORMANCE-BEGIN <binary> <target> and CONFORMANCE-END
# <binary> <target> rc=N seconds=N lines; each line is also stamped with /proc/uptime,
# which gives each test's duration. At the end the files are printed again, each line
# prefixed with `CONFORMANCE-TAP <binary> <target> `, then one
# `CONFORMANCE-TIME <binary> <target> <seconds> <test>` per test and
# `CONFORMANCE-RC <binary> <target> <exit status> <seconds>` per run, and the
# CONFORMANCE-BASELINE line of each binary again, with the console log level lowered so
# that no kernel message can land inside a line; CONFORMANCE-COMPLETE ends it. The host
# (qemu-test/conformance_judge.py) judges from these copies, and from the console copy
# and the live lines only what the guest did not get to copy. CONFORMANCE-INFO lines are
# for people, CONFORMANCE-ERROR lines fail the run.
# Exits 0 (the host judges the results).
case "$1" in /*) plan=$1 ;; *) plan=$PWD/$1 ;; esac
full_baseline=0
[ "${2:-}" != --full-baseline ] || full_baseline=1
cd "$(dirname "$0")" || exit 1
here=$PWD
res=/tmp/conformance
mkdir -p "$res"

# Upstream's hugepage variants (MAP_HUGETLB, up to 128 MiB per buffer in the dirty
# tracking tests) need reserved huge pages; the guest has 2 GiB.
echo 256 >/proc/sys/vm/nr_hugepages
echo "CONFORMANCE-INFO huge pages: $(cat /proc/sys/vm/nr_hugepages) of $(sed -n 's/^Hugepagesize: *//p' /proc/meminfo)"
if [ $full_baseline -eq 1 ]; then
	echo "CONFORMANCE-INFO baseline: every test, before ioasid"
else
	echo "CONFORMANCE-INFO baseline: the tests that do not pass against ioasid, after it"
fi

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

# Runs BINARY against TARGET, bounded by TIMEOUT, with the harness options that follow.
run_one() { # binary target timeout [harness options...]
	r_bin=$1 r_target=$2 r_tmo=$3
	shift 3
	out="$res/$r_bin.$r_target"
	echo "CONFORMANCE-BEGIN $r_bin $r_target"
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
	if [ "$r_target" = iommufd ]; then
		timeout -s KILL "$r_tmo" "./$r_bin" "$@" </dev/null >"$out" 2>&1
	else
		timeout -s KILL "$r_tmo" unshare -m sh -c "$ns_cmd" ns "./$r_bin" "$@" </dev/null >"$out" 2>&1
	fi
	rc=$?
	secs=$(($(date +%s) - t0))
	echo "$rc $secs" >"$out.rc"
	sleep 2
	kill "$tail_pid"
	wait "$tail_pid" 2>/dev/null
	wait "$reader_pid" 2>/dev/null
	rm -f "$out.fifo"
	echo "CONFORMANCE-END $r_bin $r_target rc=$rc seconds=$secs"
	# The namespace must not leak: /dev/iommu is still iommufd out here.
	[ "$(devno /dev/iommu)" = "$iommu_dev" ] ||
		echo "CONFORMANCE-ERROR /dev/iommu changed outside the namespace"
}

# The tests of a TAP file that did not pass, as harness options: `-r NAME` each. A
# `not ok` line is a failure unless it carries a SKIP or XFAIL directive (TAP 14); the
# harness's own results never do, and its timeouts are `not ok` too.
not_passed() { # tap-file
	awk '$1 == "not" && $2 == "ok" && $3 ~ /^[0-9]+$/ && NF >= 4 &&
		tolower($0) !~ /#[ \t]*(skip|xfail)([^a-z0-9_]|$)/ { printf "-r %s\n", $4 }' "$1"
}

while read -r bin tmo args; do
	case "$bin" in "" | "#"*) continue ;; esac
	CONFORMANCE_TIME_LIMITS=$(limits_of "$bin")
	export CONFORMANCE_TIME_LIMITS
	# $args and $sel are split on purpose: harness filter options.
	# shellcheck disable=SC2086
	if [ $full_baseline -eq 1 ]; then
		echo all >"$res/$bin.baseline"
		echo "CONFORMANCE-BASELINE $bin all"
		run_one "$bin" iommufd "$tmo" $args
		run_one "$bin" ioasid "$tmo" $args
	else
		run_one "$bin" ioasid "$tmo" $args
		sel=$(not_passed "$res/$bin.ioasid")
		n=$(printf '%s' "$sel" | grep -c '^-r ')
		echo "$n" >"$res/$bin.baseline"
		echo "CONFORMANCE-BASELINE $bin $n"
		# The -r options replace the plan's filters: the harness takes the first option
		# that matches a test, so `-t basic -r NAME` would run every `basic` test as
		# well; with -r options alone the selection is exact.
		[ "$n" -eq 0 ] || run_one "$bin" iommufd "$tmo" $sel
	fi
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
for sf in "$res"/*.baseline; do
	[ -e "$sf" ] || continue
	bin=${sf##*/}
	echo "CONFORMANCE-BASELINE ${bin%.baseline} $(cat "$sf")"
done
echo "$printk" >/proc/sys/kernel/printk
echo "CONFORMANCE-COMPLETE"
exit 0
