/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Devices and real IOMMU domains: the ioasid-pci driver and thin wrappers of the IOMMU core
 * (rust/ffi/iommu.rs declares them and holds the SAFETY contracts). Why these are in C in
 * Linux 7.3: see the opening comment of ioasid_pci.c.
 *
 * A struct ioasid_pci_dev is one device bound to ioasid-pci, with its node
 * /dev/ioasid-devices/<BDF> (mode 0600: the file permission is the right to bind it).
 * It is reference counted: the driver holds one until remove(), every open file of the
 * node one, and whoever got one from ioasid_shim_pci_get() or ioasid_shim_pci_hold() one
 * until ioasid_shim_pci_put(). A binding is identified by a token (never 0) that
 * ioasid_shim_pci_claim() hands out, with a reference to the Rust group of the device
 * that the record holds. It ends when the holder forgets it, when the device file it came
 * through is released, or when the device is removed, whichever is first; in the two
 * latter cases the shim gives the group's reference to ioasid_pci_revoked() (Rust), which
 * takes the device out of its group's attachment and releases its DMA ownership.
 */
#ifndef IOASID_PCI_H
#define IOASID_PCI_H

#include <linux/types.h>

struct device;
struct file;
struct iommu_attach_handle;
struct iommu_domain;
struct iommu_group;
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
/* One more reference to idev, for a caller that has one already. */
void ioasid_shim_pci_hold(struct ioasid_pci_dev *idev);
void ioasid_shim_pci_put(struct ioasid_pci_dev *idev);
struct device *ioasid_shim_pci_device(struct ioasid_pci_dev *idev);
const char *ioasid_shim_pci_name(struct ioasid_pci_dev *idev);
/* Whether an IOMMU translates the device (the static inline device_iommu_mapped()). */
bool ioasid_shim_pci_has_iommu(struct ioasid_pci_dev *idev);

/*
 * Claims DMA ownership of the device's group for owner and records the binding made
 * through file, holding group (the Rust group's reference, handed over on success only):
 * -ENODEV after removal, -EBUSY if bound already, else the result of
 * iommu_device_claim_dma_owner() (-EPERM: another owner, a kernel driver, has the group).
 * A claimed device is stopped: bus mastering off, its function reset where it can be.
 * Sleeps, with the caller's locks held (it never waits for the device lock).
 */
int ioasid_shim_pci_claim(struct ioasid_pci_dev *idev, struct file *file, void *owner,
			  void *group, u64 *binding);
/*
 * Ends the record of binding if it is still the current one and returns the group's
 * reference it held (NULL if the binding was revoked: the revoker has it).
 */
void *ioasid_shim_pci_forget(struct ioasid_pci_dev *idev, u64 binding);
/*
 * iommu_device_release_dma_owner() of a claimed device that the driver still has, after
 * stopping it as the claim did (so that nothing the user left running DMAs through the
 * kernel's domain: with an identity domain, iommu=pt, to physical memory). Sleeps.
 */
void ioasid_shim_pci_release_dma(struct ioasid_pci_dev *idev);
/* Whether binding is still the current one (not revoked or forgotten, no removal). */
bool ioasid_shim_pci_is_live(struct ioasid_pci_dev *idev, u64 binding);
/*
 * Rust: binding of idev was revoked (file released, device removed); takes over group,
 * the reference the record held. On return the device is out of its group's attachment
 * and its DMA ownership released. Sleeps; called with no lock of the shim held.
 */
void ioasid_pci_revoked(void *group, struct ioasid_pci_dev *idev, u64 binding);

/*
 * The group calls of the IOMMU core with an attach handle (iommu-priv.h): attach a group
 * that is attached to no domain of ours, replace its domain in one step, detach it from
 * domain (back to the blocking domain of DMA ownership). handle stays valid while the
 * group is attached with it.
 */
int ioasid_shim_group_attach(struct iommu_group *group, struct iommu_domain *domain,
			     struct iommu_attach_handle *handle);
int ioasid_shim_group_replace(struct iommu_group *group, struct iommu_domain *domain,
			      struct iommu_attach_handle *handle);
void ioasid_shim_group_detach(struct iommu_group *group, struct iommu_domain *domain);

/* Reserved regions of dev: fills up to max entries, returns how many there are. */
struct ioasid_resv {
	u64 start;
	u64 last;
	u32 type;	/* enum iommu_resv_type */
	u32 pad;
};
int ioasid_shim_resv_regions(struct device *dev, struct ioasid_resv *out, int max);

/*
 * The IOMMU driver's information about dev: *type in (wanted type, 0 for the default) and
 * out, *data (kfree() it; NULL when the driver has none) and *len; and what its
 * capabilities are made of (in Rust): the number of PASIDs the IOMMU gives the device,
 * and, when that is not 0, its PCI PASID control register (pci_pasid_status(), negative
 * when it has none; -1 when not read).
 */
int ioasid_shim_hw_info(struct device *dev, u32 *type, void **data, u32 *len, u32 *max_pasids,
			int *pasid_ctrl);

/* Whether the device's IOMMU driver has a domain_alloc_nested op. */
bool ioasid_shim_has_domain_alloc_nested(struct device *dev);
/*
 * The driver's domain_alloc_nested(dev, parent, flags, {type, uptr, len}): 0 with the new
 * nested domain in *out (its owner set to the driver), or the driver's negative errno
 * (-EOPNOTSUPP when it has no such op).
 */
int ioasid_shim_domain_alloc_nested(struct device *dev, struct iommu_domain *parent, u32 flags,
				    u32 type, u64 uptr, u32 len, struct iommu_domain **out);

#endif
