/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Devices and real IOMMU domains: the ioasid-pci driver and thin wrappers of the IOMMU core
 * (rust/ffi/iommu.rs declares them and holds the SAFETY contracts).
 *
 * A struct ioasid_pci_dev is one device bound to ioasid-pci, with its node
 * /dev/ioasid-devices/<BDF> (mode 0600: the file permission is the right to bind it).
 * It is reference counted: the driver holds one until remove(), every open file of the
 * node one, and whoever got one from ioasid_shim_pci_get() one until
 * ioasid_shim_pci_put(). A binding is identified by a token (never 0) that
 * ioasid_shim_pci_claim() hands out; it ends when the holder unbinds, when the device
 * file it came through is released, or when the device is removed, whichever is first.
 * Once ended, attach returns -ENODEV and detach/unbind do nothing.
 */
#ifndef IOASID_PCI_H
#define IOASID_PCI_H

#include <linux/types.h>

struct device;
struct file;
struct iommu_domain;
struct ioasid_pci_dev;

int ioasid_shim_pci_register(void);
void ioasid_shim_pci_unregister(void);

/*
 * The device behind descriptor fd (-EBADF; -EINVAL if it is not a device node of
 * ioasid-pci), with a reference, and the file with one (drop it with
 * ioasid_shim_file_put() once the binding is claimed or refused).
 */
struct ioasid_pci_dev *ioasid_shim_pci_get(int fd, struct file **filep);
void ioasid_shim_file_put(struct file *file);
void ioasid_shim_pci_put(struct ioasid_pci_dev *idev);
struct device *ioasid_shim_pci_device(struct ioasid_pci_dev *idev);
const char *ioasid_shim_pci_name(struct ioasid_pci_dev *idev);

/* The bind checks, each a plain query. */
bool ioasid_shim_pci_has_iommu(struct ioasid_pci_dev *idev);
bool ioasid_shim_pci_cache_coherent(struct ioasid_pci_dev *idev);
bool ioasid_shim_pci_isolated_msi(struct ioasid_pci_dev *idev);
bool ioasid_shim_pci_dirty_capable(struct ioasid_pci_dev *idev);
/* Identifies the device's IOMMU group (its address, only to compare). */
unsigned long ioasid_shim_pci_group_key(struct ioasid_pci_dev *idev);

/*
 * Claims DMA ownership of the device's group for owner and records the binding made
 * through file: -ENODEV after removal, -EBUSY if bound already, else the result of
 * iommu_device_claim_dma_owner() (-EPERM: another owner, a kernel driver, has the group).
 */
int ioasid_shim_pci_claim(struct ioasid_pci_dev *idev, struct file *file, void *owner,
			  u64 *binding);
/* Ends binding (detach, release DMA ownership) if it is still the current one. */
void ioasid_shim_pci_unbind(struct ioasid_pci_dev *idev, u64 binding);
/*
 * Attaches the device to domain. The bound devices of a group share one domain: the
 * first one attaches the group; another one joins if domain is the group's (-EINVAL
 * otherwise); an attached one replaces the group's domain in one step, for all of them.
 */
int ioasid_shim_pci_attach(struct ioasid_pci_dev *idev, u64 binding,
			   struct iommu_domain *domain);
/* Takes the device out of the group's attachment; the last one out detaches the group. */
void ioasid_shim_pci_detach(struct ioasid_pci_dev *idev, u64 binding);
bool ioasid_shim_pci_is_live(struct ioasid_pci_dev *idev, u64 binding);

/* Reserved regions of dev: fills up to max entries, returns how many there are. */
struct ioasid_resv {
	u64 start;
	u64 last;
	u32 type;	/* enum iommu_resv_type */
	u32 pad;
};
int ioasid_shim_resv_regions(struct device *dev, struct ioasid_resv *out, int max);

/* A paging domain for dev (iommu_paging_domain_alloc_flags): 0 or -errno. */
int ioasid_shim_domain_alloc(struct device *dev, u32 flags, struct iommu_domain **out);
/* Software MSI through the domain at IOVA base (iommu_get_msi_cookie), as VFIO type1. */
int ioasid_shim_domain_msi_cookie(struct iommu_domain *domain, u64 base);
void ioasid_shim_domain_info(const struct iommu_domain *domain, u64 *aperture_start,
			     u64 *aperture_end, u64 *pgsize_bitmap);

/*
 * The IOMMU driver's information about dev: *type in (wanted type, 0 for the default) and
 * out, *data (kfree() it; NULL when the driver has none) and *len, the capabilities
 * (IOMMU_HW_CAP_*) and the PASID width.
 */
int ioasid_shim_hw_info(struct device *dev, u32 *type, void **data, u32 *len, u64 *caps,
			u8 *max_pasid_log2);

#endif
