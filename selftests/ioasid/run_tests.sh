#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs every ioasid kselftest in the guest (TAP output), in an order where the module
# reload tests come last. qemu-test/test-all reads the "# Totals:" line of each.
cd "$(dirname "$0")"
rc=0
for t in ./ioasid_basic ./ioasid_ioas ./ioasid_objects ./ioasid_pin ./ioasid_device ./ioasid_fail_nth ./harness_checks.sh ./ioasid_module; do
	[ -e "$t" ] || continue
	echo "# running $t"
	"$t" || rc=1
done
exit $rc
