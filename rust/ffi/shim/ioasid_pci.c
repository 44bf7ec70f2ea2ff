// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of ioasid's device support: the ioasid-pci driver, one device node per bound
 * device, and thin wrappers of the IOMMU core for real domains. See ioasid_pci.h.
 *
 * The hardware state of a device (its DMA ownership, and the domain its group is attached
 * to, shared with the group's other bound devices) lives here, under the device's lock, so that whoever gets there first (an unbind from
 * the Rust side, the close of the device file the binding came through, or the removal
 * of the device) takes it down exactly once and the others find nothing left to do.
 * Policy (which checks, in which order, what to log) stays in Rust.
 */
#include <linux/device.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommu.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/pci-ats.h>
#include <linux/slab.h>

#include "ioasid_pci.h"

/*
 * Exported to the IOMMUFD_INTERNAL namespace but declared only in the private
 * drivers/iommu/iommu-priv.h: the group attach with a handle, which is what allows a
 * domain replacement in one step (iommu_attach_group() refuses an attached group).
 */
MODULE_IMPORT_NS("IOMMUFD_INTERNAL");
int iommu_attach_group_handle(struct iommu_domain *domain, struct iommu_group *group,
			      struct iommu_attach_handle *handle);
void iommu_detach_group_handle(struct iommu_domain *domain, struct iommu_group *group);
int iommu_replace_group_handle(struct iommu_group *group, struct iommu_domain *new_domain,
			       struct iommu_attach_handle *handle);

/*
 * The bound devices of one IOMMU group share its translation: the IOMMU attaches a group
 * as a whole. The group is attached when the first of its bound devices attaches,
 * replaced as a whole, and detached when the last attached one detaches or loses its
 * binding. Every bound device of a group has the same DMA owner (the IOMMU core refuses a
 * second one), so there is one entry per iommu_group, alive while a device is bound.
 */
struct ioasid_pci_group {
	struct list_head node;		/* in ioasid_pci_groups */
	struct iommu_group *group;	/* iommu_group_get(), put when the entry goes */
	unsigned int bound;		/* devices of the group with a binding */
	unsigned int attached;		/* of those, the attached ones */
	struct iommu_domain *domain;	/* the group's domain while attached > 0 */
	struct iommu_attach_handle handle;
};

/*
 * Protects ioasid_pci_groups, every entry, and DMA ownership changes (so that a group's
 * entry and its ownership come and go together). Taken inside a device's lock, before
 * the IOMMU group's mutex.
 */
static DEFINE_MUTEX(ioasid_pci_groups_lock);
static LIST_HEAD(ioasid_pci_groups);

struct ioasid_pci_dev {
	struct kref kref;
	struct pci_dev *pdev;		/* pci_dev_get(), put with the last reference */
	struct miscdevice misc;		/* the node, registered from probe to remove */
	bool misc_registered;
	char name[48];			/* ioasid-<BDF>, the misc class device */
	char nodename[64];		/* ioasid-devices/<BDF> */
	/* Protects everything below. Taken before ioasid_pci_groups_lock. */
	struct mutex lock;
	bool removed;			/* remove() ran: no new binding, no attach */
	const struct file *bound_file;	/* the device file of the binding, NULL if unbound */
	u64 binding;			/* token of the current binding, 0 if unbound */
	u64 generation;			/* last token handed out */
	struct ioasid_pci_group *grp;	/* the group's entry while bound, else NULL */
	bool attached;			/* counted in grp->attached */
};

static void ioasid_pci_dev_free(struct kref *kref)
{
	struct ioasid_pci_dev *idev = container_of(kref, struct ioasid_pci_dev, kref);

	pci_dev_put(idev->pdev);
	mutex_destroy(&idev->lock);
	kfree(idev);
}

void ioasid_shim_pci_put(struct ioasid_pci_dev *idev)
{
	kref_put(&idev->kref, ioasid_pci_dev_free);
}

/* Takes the device out of its group's attachment; the last one out detaches the group.
 * Caller holds idev->lock and ioasid_pci_groups_lock. */
static void ioasid_pci_detach_locked(struct ioasid_pci_dev *idev)
{
	struct ioasid_pci_group *grp = idev->grp;

	if (!idev->attached)
		return;
	idev->attached = false;
	if (!--grp->attached) {
		iommu_detach_group_handle(grp->domain, grp->group);
		grp->domain = NULL;
	}
}

/* Ends the binding: the device leaves the group's attachment and gives its DMA ownership
 * back; once the last bound device of the group has, the group can no longer reach memory
 * through any domain of the context. Caller holds idev->lock. */
static void ioasid_pci_revoke_locked(struct ioasid_pci_dev *idev)
{
	struct ioasid_pci_group *grp = idev->grp;

	if (!grp)
		return;
	mutex_lock(&ioasid_pci_groups_lock);
	ioasid_pci_detach_locked(idev);
	iommu_device_release_dma_owner(&idev->pdev->dev);
	if (!--grp->bound) {
		list_del(&grp->node);
		iommu_group_put(grp->group);
		kfree(grp);
	}
	mutex_unlock(&ioasid_pci_groups_lock);
	idev->grp = NULL;
	idev->bound_file = NULL;
	idev->binding = 0;
}

static int ioasid_pci_open(struct inode *inode, struct file *file)
{
	/* misc_open() stored the miscdevice. */
	struct ioasid_pci_dev *idev =
		container_of(file->private_data, struct ioasid_pci_dev, misc);

	kref_get(&idev->kref);
	file->private_data = idev;
	return 0;
}

static int ioasid_pci_release(struct inode *inode, struct file *file)
{
	struct ioasid_pci_dev *idev = file->private_data;

	mutex_lock(&idev->lock);
	if (idev->bound_file == file) {
		pci_dbg(idev->pdev, "ioasid: device file closed, unbinding\n");
		ioasid_pci_revoke_locked(idev);
	}
	mutex_unlock(&idev->lock);
	ioasid_shim_pci_put(idev);
	return 0;
}

static const struct file_operations ioasid_pci_fops = {
	.owner = THIS_MODULE,
	.open = ioasid_pci_open,
	.release = ioasid_pci_release,
	.llseek = noop_llseek,
};

static int ioasid_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct ioasid_pci_dev *idev;
	int ret;

	if (pdev->hdr_type != PCI_HEADER_TYPE_NORMAL) {
		pci_dbg(pdev, "ioasid: not a normal (type 0) function\n");
		return -EINVAL;
	}
	idev = kzalloc(sizeof(*idev), GFP_KERNEL);
	if (!idev)
		return -ENOMEM;
	kref_init(&idev->kref);
	mutex_init(&idev->lock);
	idev->pdev = pci_dev_get(pdev);
	snprintf(idev->name, sizeof(idev->name), "ioasid-%s", pci_name(pdev));
	snprintf(idev->nodename, sizeof(idev->nodename), "ioasid-devices/%s", pci_name(pdev));
	idev->misc.minor = MISC_DYNAMIC_MINOR;
	idev->misc.name = idev->name;
	idev->misc.nodename = idev->nodename;
	idev->misc.fops = &ioasid_pci_fops;
	idev->misc.parent = &pdev->dev;
	idev->misc.mode = 0600;
	pci_set_drvdata(pdev, idev);
	ret = misc_register(&idev->misc);
	if (ret) {
		pci_set_drvdata(pdev, NULL);
		ioasid_shim_pci_put(idev);
		return ret;
	}
	idev->misc_registered = true;
	pci_dbg(pdev, "ioasid: bound, node /dev/%s\n", idev->nodename);
	return 0;
}

static void ioasid_pci_remove(struct pci_dev *pdev)
{
	struct ioasid_pci_dev *idev = pci_get_drvdata(pdev);

	/* No new opens; files already open keep idev alive through their reference. */
	misc_deregister(&idev->misc);
	mutex_lock(&idev->lock);
	idev->removed = true;
	if (idev->bound_file)
		pci_info(pdev, "ioasid: removed while bound: DMA revoked\n");
	ioasid_pci_revoke_locked(idev);
	mutex_unlock(&idev->lock);
	pci_set_drvdata(pdev, NULL);
	ioasid_shim_pci_put(idev);
}

/* Bound only through driver_override, like vfio-pci: no ID table entries. */
static const struct pci_device_id ioasid_pci_ids[] = { {} };

static struct pci_driver ioasid_pci_driver = {
	.name = "ioasid-pci",
	.id_table = ioasid_pci_ids,
	.probe = ioasid_pci_probe,
	.remove = ioasid_pci_remove,
	/* Userspace owns the DMA of the device's group through iommu_device_claim_dma_owner. */
	.driver_managed_dma = true,
};

int ioasid_shim_pci_register(void)
{
	return pci_register_driver(&ioasid_pci_driver);
}

void ioasid_shim_pci_unregister(void)
{
	pci_unregister_driver(&ioasid_pci_driver);
}

struct ioasid_pci_dev *ioasid_shim_pci_get(int fd, struct file **filep)
{
	struct ioasid_pci_dev *idev;
	struct file *file = fget(fd);

	if (!file)
		return ERR_PTR(-EBADF);
	if (file->f_op != &ioasid_pci_fops) {
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	idev = file->private_data;
	kref_get(&idev->kref);
	/* The caller keeps the file until the binding is recorded, then fput()s it. */
	*filep = file;
	return idev;
}

void ioasid_shim_file_put(struct file *file)
{
	fput(file);
}

struct device *ioasid_shim_pci_device(struct ioasid_pci_dev *idev)
{
	return &idev->pdev->dev;
}

const char *ioasid_shim_pci_name(struct ioasid_pci_dev *idev)
{
	return pci_name(idev->pdev);
}

bool ioasid_shim_pci_has_iommu(struct ioasid_pci_dev *idev)
{
	return device_iommu_mapped(&idev->pdev->dev);
}

bool ioasid_shim_pci_cache_coherent(struct ioasid_pci_dev *idev)
{
	return device_iommu_capable(&idev->pdev->dev, IOMMU_CAP_CACHE_COHERENCY);
}

bool ioasid_shim_pci_isolated_msi(struct ioasid_pci_dev *idev)
{
	return iommu_group_has_isolated_msi(idev->pdev->dev.iommu_group);
}

bool ioasid_shim_pci_dirty_capable(struct ioasid_pci_dev *idev)
{
	return device_iommu_capable(&idev->pdev->dev, IOMMU_CAP_DIRTY_TRACKING);
}

unsigned long ioasid_shim_pci_group_key(struct ioasid_pci_dev *idev)
{
	return (unsigned long)idev->pdev->dev.iommu_group;
}

/* The entry of group, or a new one (not yet listed); caller holds ioasid_pci_groups_lock. */
static struct ioasid_pci_group *ioasid_pci_group_get(struct iommu_group *group)
{
	struct ioasid_pci_group *grp;

	list_for_each_entry(grp, &ioasid_pci_groups, node)
		if (grp->group == group)
			return grp;
	grp = kzalloc(sizeof(*grp), GFP_KERNEL);
	if (!grp)
		return NULL;
	INIT_LIST_HEAD(&grp->node);
	return grp;
}

int ioasid_shim_pci_claim(struct ioasid_pci_dev *idev, struct file *file, void *owner,
			  u64 *binding)
{
	struct ioasid_pci_group *grp;
	int ret;

	mutex_lock(&idev->lock);
	if (idev->removed) {
		ret = -ENODEV;
		goto out;
	}
	if (idev->bound_file) {
		ret = -EBUSY;
		goto out;
	}
	mutex_lock(&ioasid_pci_groups_lock);
	grp = ioasid_pci_group_get(idev->pdev->dev.iommu_group);
	if (!grp) {
		ret = -ENOMEM;
		goto out_groups;
	}
	ret = iommu_device_claim_dma_owner(&idev->pdev->dev, owner);
	if (ret) {
		if (list_empty(&grp->node))
			kfree(grp);
		goto out_groups;
	}
	if (list_empty(&grp->node)) {
		grp->group = iommu_group_get(&idev->pdev->dev);
		list_add(&grp->node, &ioasid_pci_groups);
	}
	grp->bound++;
	idev->grp = grp;
	idev->bound_file = file;
	idev->binding = ++idev->generation;
	*binding = idev->binding;
out_groups:
	mutex_unlock(&ioasid_pci_groups_lock);
out:
	mutex_unlock(&idev->lock);
	return ret;
}

void ioasid_shim_pci_unbind(struct ioasid_pci_dev *idev, u64 binding)
{
	mutex_lock(&idev->lock);
	/* A revoked binding may have been followed by another context's: leave that one. */
	if (idev->binding == binding)
		ioasid_pci_revoke_locked(idev);
	mutex_unlock(&idev->lock);
}

int ioasid_shim_pci_attach(struct ioasid_pci_dev *idev, u64 binding,
			   struct iommu_domain *domain)
{
	struct ioasid_pci_group *grp;
	int ret = 0;

	mutex_lock(&idev->lock);
	if (idev->removed || idev->binding != binding) {
		mutex_unlock(&idev->lock);
		return -ENODEV;
	}
	mutex_lock(&ioasid_pci_groups_lock);
	grp = idev->grp;
	if (!grp->attached) {
		ret = iommu_attach_group_handle(domain, grp->group, &grp->handle);
		if (!ret)
			grp->domain = domain;
	} else if (grp->domain != domain) {
		if (idev->attached)
			/* One switch of the group's translation: no window without one. */
			ret = iommu_replace_group_handle(grp->group, domain, &grp->handle);
		else
			/* The group's devices share one domain. */
			ret = -EINVAL;
		if (!ret)
			grp->domain = domain;
	}
	if (!ret && !idev->attached) {
		idev->attached = true;
		grp->attached++;
	}
	mutex_unlock(&ioasid_pci_groups_lock);
	mutex_unlock(&idev->lock);
	return ret;
}

void ioasid_shim_pci_detach(struct ioasid_pci_dev *idev, u64 binding)
{
	mutex_lock(&idev->lock);
	if (idev->binding == binding && idev->grp) {
		mutex_lock(&ioasid_pci_groups_lock);
		ioasid_pci_detach_locked(idev);
		mutex_unlock(&ioasid_pci_groups_lock);
	}
	mutex_unlock(&idev->lock);
}

bool ioasid_shim_pci_is_live(struct ioasid_pci_dev *idev, u64 binding)
{
	bool live;

	mutex_lock(&idev->lock);
	live = !idev->removed && idev->binding == binding;
	mutex_unlock(&idev->lock);
	return live;
}

int ioasid_shim_resv_regions(struct device *dev, struct ioasid_resv *out, int max)
{
	struct iommu_resv_region *r;
	LIST_HEAD(list);
	int n = 0;

	iommu_get_resv_regions(dev, &list);
	list_for_each_entry(r, &list, list) {
		if (n < max) {
			out[n].start = r->start;
			out[n].last = r->start + r->length - 1;
			out[n].type = r->type;
		}
		n++;
	}
	iommu_put_resv_regions(dev, &list);
	return n;
}

int ioasid_shim_domain_alloc(struct device *dev, u32 flags, struct iommu_domain **out)
{
	struct iommu_domain *domain = iommu_paging_domain_alloc_flags(dev, flags);

	if (IS_ERR(domain))
		return PTR_ERR(domain);
	*out = domain;
	return 0;
}

int ioasid_shim_domain_msi_cookie(struct iommu_domain *domain, u64 base)
{
	return iommu_get_msi_cookie(domain, base);
}

void ioasid_shim_domain_info(const struct iommu_domain *domain, u64 *aperture_start,
			     u64 *aperture_end, u64 *pgsize_bitmap)
{
	*aperture_start = domain->geometry.aperture_start;
	*aperture_end = domain->geometry.aperture_end;
	*pgsize_bitmap = domain->pgsize_bitmap;
}

int ioasid_shim_hw_info(struct device *dev, u32 *type, void **data, u32 *len, u64 *caps,
			u8 *max_pasid_log2)
{
	const struct iommu_ops *ops = dev->iommu->iommu_dev->ops;
	enum iommu_hw_info_type t = *type;
	unsigned int l = 0;
	void *d = NULL;

	if (ops->hw_info) {
		d = ops->hw_info(dev, &l, &t);
		if (IS_ERR(d))
			return PTR_ERR(d);
	} else {
		t = IOMMU_HW_INFO_TYPE_NONE;
	}
	*type = t;
	*data = d;
	*len = l;
	*caps = 0;
	if (device_iommu_capable(dev, IOMMU_CAP_DIRTY_TRACKING))
		*caps |= IOMMU_HW_CAP_DIRTY_TRACKING;
	if (!device_iommu_capable(dev, IOMMU_CAP_PCI_ATS_SUPPORTED))
		*caps |= IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED;
	*max_pasid_log2 = dev->iommu->max_pasids ? ilog2(dev->iommu->max_pasids) : 0;
	if (dev->iommu->max_pasids && dev_is_pci(dev)) {
		int ctrl = pci_pasid_status(to_pci_dev(dev));

		if (ctrl > 0 && (ctrl & PCI_PASID_CTRL_EXEC))
			*caps |= IOMMU_HW_CAP_PCI_PASID_EXEC;
		if (ctrl > 0 && (ctrl & PCI_PASID_CTRL_PRIV))
			*caps |= IOMMU_HW_CAP_PCI_PASID_PRIV;
	}
	return 0;
}
