/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ioasid as a VFIO IOMMU driver ("VFIO backend"): the registration of a struct
 * vfio_iommu_driver_ops whose callbacks are Rust functions (rust/ffi/iommu/vfio.rs holds
 * their SAFETY contracts), and the IOMMU-group helpers they need. Why C: see the opening
 * comment of ioasid_vfio.c.
 *
 * VFIO calls the callbacks with its container's group_lock held (write for open, release,
 * attach_group and detach_group; read for ioctl), after it claimed the group's DMA
 * ownership (iommu_group_claim_dma_owner(), for VFIO_IOMMU groups) and before it releases
 * it, and it holds a reference on this module while a container uses the driver.
 */
#ifndef IOASID_VFIO_H
#define IOASID_VFIO_H

#include <linux/types.h>

struct iommu_domain;
struct iommu_group;

/* The group types of VFIO's private enum vfio_group_type, as passed to Rust. */
#define IOASID_VFIO_GROUP_IOMMU 0
#define IOASID_VFIO_GROUP_EMULATED 1
#define IOASID_VFIO_GROUP_NOIOMMU 2

/* Registers the driver (0, or -EOPNOTSUPP without CONFIG_VFIO_CONTAINER). */
int ioasid_shim_vfio_register(void);
void ioasid_shim_vfio_unregister(void);

/*
 * A new paging domain for the group's IOMMU, allocated for its first device (with the
 * group's mutex held, so the device cannot go meanwhile): ERR_PTR(-ENODEV) without
 * devices, else as iommu_paging_domain_alloc_flags().
 */
struct iommu_domain *ioasid_shim_vfio_group_domain(struct iommu_group *group, u32 flags);

/*
 * The reserved regions of the group (iommu_get_group_resv_regions(): the union of its
 * devices'), in the layout of struct ioasid_resv (ioasid_pci.h): fills up to max entries,
 * returns how many there are or a negative errno.
 */
struct ioasid_resv;
int ioasid_shim_vfio_group_resv(struct iommu_group *group, struct ioasid_resv *out, int max);

/* The callbacks, in Rust. iommu_data is what ioasid_vfio_open() returned (NULL: none). */
void *ioasid_vfio_open(unsigned long type);
void ioasid_vfio_release(void *iommu_data);
long ioasid_vfio_ioctl(void *iommu_data, unsigned int cmd, unsigned long arg);
int ioasid_vfio_attach_group(void *iommu_data, struct iommu_group *group, int type);
void ioasid_vfio_detach_group(void *iommu_data, struct iommu_group *group);

#endif
