// SPDX-License-Identifier: GPL-2.0
/*
 * C shim of ioasid, linked into the same module as the Rust crate. See ioasid_shim.h.
 */
#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/pci.h>

#include "ioasid_shim.h"

static int ioasid_shim_count_one(struct device *dev, void *data)
{
	unsigned int *count = data;

	if (device_iommu_mapped(dev))
		(*count)++;
	return 0;
}

unsigned int ioasid_shim_count_iommu_pci_devices(void)
{
	unsigned int count = 0;

	bus_for_each_dev(&pci_bus_type, NULL, &count, ioasid_shim_count_one);
	return count;
}
