#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs the ioasid kselftests in the guest (TAP output), in two passes over one boot.
#
#  1. The module as /init loaded it (qemu-test/run: debug=1 selftest=1, with the test
#     interface IOMMU_TEST_CMD and its mock IOMMU): the guest's environment checks, then
#     every suite, then the stateful fuzzer for a bounded time (IOASID_FUZZ_SECONDS, 40 by
#     default; a new seed each run, printed; qemu-test/fuzz runs it longer), the module
#     reload tests last.
#  2. The module as it ships: reloaded without parameters, IOASID_SELFTEST and
#     IOASID_DEBUG unset. ioasid_basic (IOMMU_TEST_CMD must be ENOTTY now), ioasid_ioas
#     (its tests of the test interface report SKIP), ioasid_device (real edu devices
#     behind the emulated IOMMU; nothing in it needs the mock) and ioasid_vfio_compat
#     (its mock tests report SKIP).
#
# After each test's result line, "# time: NAME SECONDS" says how long it took in the guest
# (/proc/uptime, 10 ms steps): the figures the tests' time limits are sized from.
# qemu-test/test-all sums the "# Totals:" lines of both passes. Exit status: 0 when every
# suite passed and the reload worked.
cd "$(dirname "$0")" || exit 1
rc=0

# Copies the TAP stream through, adding a "# time:" line after each result.
timed() {
	awk '
	function now(   line, f) {
		getline line < "/proc/uptime"
		close("/proc/uptime")
		split(line, f, " ")
		return f[1]
	}
	{ print; fflush() }
	/^# +RUN +/ { name = $3; t0 = now() }
	/^(not )?ok [0-9]+ / && name != "" {
		printf "# time: %s %.2f\n", name, now() - t0
		fflush()
		name = ""
	}'
}

run() {
	echo "# running $*"
	{
		"$@"
		echo $? >/tmp/run_tests.rc
	} 2>&1 | timed
	[ "$(cat /tmp/run_tests.rc)" = 0 ] || rc=1
}

for t in ./env_checks.sh ./ioasid_basic ./ioasid_ioas ./ioasid_objects ./ioasid_nested ./ioasid_viommu ./ioasid_pasid \
	./ioasid_fault ./ioasid_dirty ./ioasid_pin ./ioasid_device ./ioasid_vfio_compat \
	./ioasid_vfio_backend ./ioasid_fail_nth; do
	run "$t"
done
# Its FUZZ-RESULT line is counted by qemu-test/test-all (FUZZ arch=... line).
run ./ioasid_fuzz -s "$(date +%s)" -o 2000 -T "${IOASID_FUZZ_SECONDS:-40}"
run ./ioasid_module

echo "# the module as it ships: reloading ioasid.ko without parameters"
unset IOASID_SELFTEST IOASID_DEBUG
if { ! grep -q '^ioasid ' /proc/modules || rmmod ioasid; } &&
	insmod "${IOASID_KO:-/ioasid/ioasid.ko}"; then
	for t in ./ioasid_basic ./ioasid_ioas ./ioasid_device ./ioasid_vfio_compat; do
		run "$t"
	done
else
	# Counted as a failure; a reload that works is no test result of its own.
	echo "TAP version 13"
	echo "1..1"
	echo "not ok 1 reload ioasid.ko without parameters"
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	rc=1
fi
exit $rc
