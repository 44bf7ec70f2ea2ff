#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest (see qemu-test/demo): what the IOMMU, the module and the device node
# look like, then DMA through the IOMMU. Every line it prints starts with "DEMO| ", which
# is how qemu-test/demo finds them among the console's; the kernel's own messages stay off
# the console meanwhile (console loglevel 1: they all remain in the kernel log, which the
# runner dumps and checks at the end).
echo 1 >/proc/sys/kernel/printk

demo() {
	echo
	echo "=== The IOMMU ==="
	dmesg | grep -E 'DMAR: (Intel|dmar[0-9]|IOMMU enabled)|DMAR-IR: Enabled|arm-smmu-v3.*(oas|features)' | sed 's/^\[[^]]*\] /  /'
	for i in /sys/class/iommu/*; do echo "  iommu: ${i##*/}"; done
	echo
	echo "=== PCI devices and their IOMMU groups ==="
	for d in /sys/bus/pci/devices/*; do
		g=$(readlink "$d/iommu_group" 2>/dev/null)
		printf '  %s %s:%s group %s\n' "${d##*/}" "$(cat "$d/vendor")" "$(cat "$d/device")" "${g##*/}"
	done | grep -v 'group $' || true
	echo
	echo "=== ioasid.ko, loaded as it ships (no parameters) ==="
	grep '^ioasid ' /proc/modules | sed 's/^/  /'
	dmesg | grep 'ioasid' | sed 's/^\[[^]]*\] /  /'
	echo
	echo "=== /dev/ioasid ==="
	ls -l /dev/ioasid | sed 's/^/  /'
	echo "  misc device number: $(cat /sys/class/misc/ioasid/dev)"
	echo
	echo "=== DMA through the IOMMU (selftests/ioasid/ioasid_demo.c) ==="
	n0=$(dmesg | wc -l)
	./selftests/ioasid_demo
	rc=$?
	echo
	echo "=== What the kernel logged meanwhile ==="
	dmesg | tail -n +$((n0 + 1)) | grep -E 'ioasid|DMAR: \[|arm-smmu-v3.*event:' | sed 's/^\[[^]]*\] /  /'
	return $rc
}

{
	demo
	echo $? >/tmp/demo.rc
} 2>&1 | sed 's/^/DEMO| /'
exit "$(cat /tmp/demo.rc)"
