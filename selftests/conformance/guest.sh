#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the test guest (busybox), started by qemu-test/conformance:
#
#   sh guest.sh PLAN
#
# PLAN has one line per upstream binary: `BINARY TIMEOUT [HARNESS ARGS...]`. Each binary
# runs twice: against /dev/iommu (target=iommufd, upstream iommufd with its mock), then in
# a private mount namespace where /dev/ioasid is bind-mounted over /dev/iommu
# (target=ioasid). Each run is bounded by `timeout TIMEOUT` (SIGKILL).
#
# The TAP output goes to a file and, as it comes, to the console (a crash or hang shows
# where it happened), between CONFORMANCE-BEGIN/-END lines; at the end the files are
# printed again, each line prefixed with `CONFORMANCE-TAP <binary> <target> `, with the
# console log level lowered so that no kernel message can land inside a line. The host
# parses only the prefixed copy. A test that hit the harness's 30 s limit against ioasid
# runs once more alone; its result is printed as `CONFORMANCE-RETRY <binary> <target> `.
# Exits 0 (the host judges the results).
case "$1" in /*) plan=$1 ;; *) plan=$PWD/$1 ;; esac
cd "$(dirname "$0")" || exit 1
res=/tmp/conformance
mkdir -p "$res"

# Upstream's hugepage variants (MAP_HUGETLB, up to 128 MiB per buffer in the dirty
# tracking tests) need reserved huge pages; the guest has 2 GiB.
echo 256 >/proc/sys/vm/nr_hugepages
echo "CONFORMANCE-INFO huge pages: $(cat /proc/sys/vm/nr_hugepages) of $(sed -n 's/^Hugepagesize: *//p' /proc/meminfo)"

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

while read -r bin tmo args; do
	case "$bin" in "" | "#"*) continue ;; esac
	for target in iommufd ioasid; do
		out="$res/$bin.$target"
		echo "CONFORMANCE-BEGIN $bin $target"
		t0=$(date +%s)
		# The output goes to a file, and a tail of it to the console: a test process that
		# outlives a killed harness cannot hold up a pipe.
		: >"$out"
		tail -f -n +1 "$out" &
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
		echo "CONFORMANCE-END $bin $target rc=$rc seconds=$secs"
		# Against ioasid, a test that hit the harness's 30 s limit runs once more alone
		# (TCG on a loaded host is slow); the host reports a pass on retry as such.
		if [ "$target" = ioasid ]; then
			awk '/^# +RUN / { t = $3 } /: Test terminated by timeout$/ { print t }' "$out" |
				head -n 10 >"$out.timeouts"
			while read -r t; do
				echo "CONFORMANCE-RETRY-BEGIN $bin $target $t"
				timeout -s KILL 120 unshare -m sh -c "$ns_cmd" ns "./$bin" -r "$t" </dev/null >"$out.one" 2>&1
				grep -E '^(not )?ok [0-9]+ ' "$out.one" >>"$out.retry"
				cat "$out.one"
			done <"$out.timeouts"
		fi
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
	[ ! -e "$f.retry" ] || sed "s/^/CONFORMANCE-RETRY $bin $target /" "$f.retry"
	echo "CONFORMANCE-RC $bin $target $(cat "$rcf")"
done
echo "$printk" >/proc/sys/kernel/printk
echo "CONFORMANCE-COMPLETE"
exit 0
