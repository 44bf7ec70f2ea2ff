// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of ioasid's device support: the ioasid-pci driver, one device node per bound
 * device, the record of a device's binding, and thin wrappers of the IOMMU core. See
 * ioasid_pci.h; rust/ffi/iommu.rs declares them and holds the SAFETY contracts.
 *
 * Why C (Linux 7.3): the Rust `pci::Driver` adapter (rust/kernel/pci.rs) fills in its
 * struct pci_driver itself and has no way to set driver_managed_dma, which a driver whose
 * devices' DMA belongs to userspace needs; the device nodes need a parent, a node name
 * (ioasid-devices/<BDF>) and mode 0600, and `kernel::miscdevice`'s MiscDeviceOptions has
 * only a `&'static` name, no parent, node name or mode. The attach-handle functions of the
 * IOMMU core (namespace IOMMUFD_INTERNAL) are declared only in the private
 * drivers/iommu/iommu-priv.h, which bindgen does not see, and there is no Rust abstraction
 * of IOMMU groups or DMA ownership (the claim is made here, under the device lock, so that
 * it and the record of the binding cannot be split by a removal). The rest are what
 * kernel::bindings cannot reach: device_iommu_mapped() is static inline, a device's
 * reserved regions come as a C list of struct iommu_resv_region, and the driver's
 * hw_info op is found through dev_iommu_ops() (iommu-priv.h) with the PASID control
 * register through pci_pasid_status() (linux/pci-ats.h is not in the bindings). The
 * driver's domain_alloc_nested op is found the same way, and struct iommu_user_data
 * (which holds a __user pointer) is built here: there is no Rust abstraction of either.
 *
 * A bound device is stopped at both ends of its binding, as vfio-pci does when its device
 * is opened and released: bus mastering off and a function reset where the device has
 * one, after the claim and before the DMA ownership goes back (ioasid_pci_stop()); there
 * is no Rust abstraction of either (kernel::pci has no set/clear_master or reset).
 *
 * What stays here is per device: whether it is bound, through which file, and the
 * reference to the Rust group that has to hear of the binding's end. The state of an
 * IOMMU group (its domain, its attach handle, which of its devices are bound and
 * attached) lives in Rust (PciGroup, rust/objects/pcidev/group.rs), one object per
 * context as iommufd's igroup; Rust decides which of the group calls below to make.
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
#include <linux/sched.h>
#include <linux/slab.h>

#include "ioasid_pci.h"

/*
 * Exported to the IOMMUFD_INTERNAL namespace but declared only in the private
 * drivers/iommu/iommu-priv.h: the group attach with a handle, which is what allows a
 * domain replacement in one step (iommu_attach_group() refuses an attached group). The
 * prototypes are written here as types; when the kernel source tree is at hand (Kbuild
 * then defines IOASID_IOMMU_PRIV), the private header is included instead and every
 * hand-written type is checked against its declaration at compile time.
 */
MODULE_IMPORT_NS("IOMMUFD_INTERNAL");
typedef int ioasid_attach_group_handle_t(struct iommu_domain *domain, struct iommu_group *group,
					 struct iommu_attach_handle *handle);
typedef void ioasid_detach_group_handle_t(struct iommu_domain *domain,
					  struct iommu_group *group);
typedef int ioasid_replace_group_handle_t(struct iommu_group *group,
					  struct iommu_domain *new_domain,
					  struct iommu_attach_handle *handle);
typedef const struct iommu_ops *ioasid_dev_iommu_ops_t(struct device *dev);

#ifdef IOASID_IOMMU_PRIV
#include <iommu-priv.h>

#define IOASID_CHECK_PROTO(func, type)						\
	_Static_assert(__builtin_types_compatible_p(typeof(func), type),	\
		       #func " changed in drivers/iommu/iommu-priv.h: update " #type)
IOASID_CHECK_PROTO(iommu_attach_group_handle, ioasid_attach_group_handle_t);
IOASID_CHECK_PROTO(iommu_detach_group_handle, ioasid_detach_group_handle_t);
IOASID_CHECK_PROTO(iommu_replace_group_handle, ioasid_replace_group_handle_t);
IOASID_CHECK_PROTO(dev_iommu_ops, ioasid_dev_iommu_ops_t);
#else
ioasid_attach_group_handle_t iommu_attach_group_handle;
ioasid_detach_group_handle_t iommu_detach_group_handle;
ioasid_replace_group_handle_t iommu_replace_group_handle;

/* As iommu-priv.h: the IOMMU driver's ops of a device that has an IOMMU. */
static inline const struct iommu_ops *dev_iommu_ops(struct device *dev)
{
	return dev->iommu->iommu_dev->ops;
}
#endif

struct ioasid_pci_dev {
	struct kref kref;
	struct pci_dev *pdev;		/* pci_dev_get(), put with the last reference */
	struct miscdevice misc;		/* the node, registered from probe to remove */
	bool misc_registered;
	char name[48];			/* ioasid-<BDF>, the misc class device */
	char nodename[64];		/* ioasid-devices/<BDF> */
	/*
	 * Held across a revocation (the binding taken out, then handed to Rust), so that
	 * remove() returns only once a revocation the device file's release started has
	 * given the DMA ownership back. Taken before the Rust group's lock; Rust never
	 * takes it.
	 */
	struct mutex revoke_lock;
	/*
	 * The thread in remove(), which holds the device lock (the driver core's), while it
	 * revokes; else NULL. Written by that thread only, read by ioasid_pci_stop() to
	 * compare with current: no lock.
	 */
	struct task_struct *remover;
	/*
	 * Protects everything below. Taken inside the Rust group's lock (claim), never held
	 * while calling Rust.
	 */
	struct mutex lock;
	bool removed;			/* remove() ran: no new binding */
	const struct file *bound_file;	/* the device file of the binding, NULL if unbound */
	u64 binding;			/* token of the current binding, 0 if unbound */
	u64 generation;			/* last token handed out */
	void *group;			/* the Rust group's reference while bound, else NULL */
};

/*
 * Stops the device: bus mastering off first (so that the state a reset saves and restores
 * has it off), then a reset of the function where it has a reset method (FLR, PM, ...,
 * whichever pci_reset_function() would use; -ENOTTY where there is none, as for QEMU's
 * edu). Called right after the DMA ownership is claimed and right before it goes back.
 *
 * The reset needs the device lock, which sits outside every lock of ioasid: the driver
 * core holds it around remove(), which then takes revoke_lock and the Rust group's lock,
 * and our callers hold the group's lock (and in the claim idev->lock). So the device
 * lock is never waited for here: remove()'s own thread resets under the lock it already
 * holds, every other caller only tries it (pci_try_reset_function(): -EAGAIN when it is
 * taken, by a removal in flight or a reset through sysfs); then bus mastering off alone
 * stops the device. Sleeps.
 */
static void ioasid_pci_stop(struct ioasid_pci_dev *idev)
{
	struct pci_dev *pdev = idev->pdev;
	int ret;

	pci_clear_master(pdev);
	if (READ_ONCE(idev->remover) == current)
		ret = pci_reset_function_locked(pdev);
	else
		ret = pci_try_reset_function(pdev);
	pci_dbg(pdev, "ioasid: stopped: bus mastering off, function reset: %d\n", ret);
}

static void ioasid_pci_dev_free(struct kref *kref)
{
	struct ioasid_pci_dev *idev = container_of(kref, struct ioasid_pci_dev, kref);

	pci_dev_put(idev->pdev);
	mutex_destroy(&idev->lock);
	mutex_destroy(&idev->revoke_lock);
	kfree(idev);
}

void ioasid_shim_pci_hold(struct ioasid_pci_dev *idev)
{
	kref_get(&idev->kref);
}

void ioasid_shim_pci_put(struct ioasid_pci_dev *idev)
{
	kref_put(&idev->kref, ioasid_pci_dev_free);
}

/*
 * Ends the record of the binding and returns the Rust group's reference (NULL when
 * unbound) and the binding's token. Caller holds idev->lock.
 */
static void *ioasid_pci_take_locked(struct ioasid_pci_dev *idev, u64 *binding)
{
	void *group = idev->group;

	*binding = idev->binding;
	idev->group = NULL;
	idev->bound_file = NULL;
	idev->binding = 0;
	return group;
}

/*
 * Revokes a binding taken out of its device: the Rust group takes the device out of the
 * group's attachment and releases its DMA ownership, unless the binding's holder did so
 * first; either way that has happened when this returns. Called with idev->revoke_lock
 * held and without idev->lock.
 */
static void ioasid_pci_revoke(struct ioasid_pci_dev *idev, void *group, u64 binding)
{
	if (group)
		ioasid_pci_revoked(group, idev, binding);
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
	void *group = NULL;
	u64 binding = 0;

	mutex_lock(&idev->revoke_lock);
	mutex_lock(&idev->lock);
	if (idev->bound_file == file) {
		pci_dbg(idev->pdev, "ioasid: device file closed, unbinding\n");
		group = ioasid_pci_take_locked(idev, &binding);
	}
	mutex_unlock(&idev->lock);
	ioasid_pci_revoke(idev, group, binding);
	mutex_unlock(&idev->revoke_lock);
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
	mutex_init(&idev->revoke_lock);
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
	void *group;
	u64 binding;

	/* No new opens; files already open keep idev alive through their reference. */
	misc_deregister(&idev->misc);
	/* After a revocation in flight: the DMA ownership is back before the driver goes. */
	mutex_lock(&idev->revoke_lock);
	mutex_lock(&idev->lock);
	idev->removed = true;
	if (idev->bound_file)
		pci_info(pdev, "ioasid: removed while bound: DMA revoked\n");
	group = ioasid_pci_take_locked(idev, &binding);
	mutex_unlock(&idev->lock);
	/* The driver core holds the device lock: the revocation's reset is made under it. */
	WRITE_ONCE(idev->remover, current);
	ioasid_pci_revoke(idev, group, binding);
	WRITE_ONCE(idev->remover, NULL);
	mutex_unlock(&idev->revoke_lock);
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

int ioasid_shim_pci_claim(struct ioasid_pci_dev *idev, struct file *file, void *owner,
			  void *group, u64 *binding)
{
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
	ret = iommu_device_claim_dma_owner(&idev->pdev->dev, owner);
	if (ret)
		goto out;
	/* Whatever the device's last user left running stops before the new one has it. */
	ioasid_pci_stop(idev);
	idev->group = group;
	idev->bound_file = file;
	idev->binding = ++idev->generation;
	*binding = idev->binding;
out:
	mutex_unlock(&idev->lock);
	return ret;
}

void *ioasid_shim_pci_forget(struct ioasid_pci_dev *idev, u64 binding)
{
	void *group = NULL;
	u64 taken;

	mutex_lock(&idev->lock);
	/* A revoked binding may have been followed by another one: leave that one. */
	if (idev->binding == binding)
		group = ioasid_pci_take_locked(idev, &taken);
	mutex_unlock(&idev->lock);
	return group;
}

void ioasid_shim_pci_release_dma(struct ioasid_pci_dev *idev)
{
	/* No DMA of the ended binding reaches the kernel's domain (identity with iommu=pt). */
	ioasid_pci_stop(idev);
	iommu_device_release_dma_owner(&idev->pdev->dev);
}

bool ioasid_shim_pci_is_live(struct ioasid_pci_dev *idev, u64 binding)
{
	bool live;

	mutex_lock(&idev->lock);
	live = !idev->removed && idev->binding == binding;
	mutex_unlock(&idev->lock);
	return live;
}

int ioasid_shim_group_attach(struct iommu_group *group, struct iommu_domain *domain,
			     struct iommu_attach_handle *handle)
{
	return iommu_attach_group_handle(domain, group, handle);
}

int ioasid_shim_group_replace(struct iommu_group *group, struct iommu_domain *domain,
			      struct iommu_attach_handle *handle)
{
	return iommu_replace_group_handle(group, domain, handle);
}

void ioasid_shim_group_detach(struct iommu_group *group, struct iommu_domain *domain)
{
	iommu_detach_group_handle(domain, group);
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

int ioasid_shim_hw_info(struct device *dev, u32 *type, void **data, u32 *len, u32 *max_pasids,
			int *pasid_ctrl)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);
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
	*max_pasids = dev->iommu->max_pasids;
	*pasid_ctrl = -1;
	if (*max_pasids && dev_is_pci(dev))
		*pasid_ctrl = pci_pasid_status(to_pci_dev(dev));
	return 0;
}

bool ioasid_shim_has_domain_alloc_nested(struct device *dev)
{
	return dev_iommu_ops(dev)->domain_alloc_nested != NULL;
}

int ioasid_shim_domain_alloc_nested(struct device *dev, struct iommu_domain *parent, u32 flags,
				    u32 type, u64 uptr, u32 len, struct iommu_domain **out)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);
	const struct iommu_user_data data = {
		.type = type, .uptr = u64_to_user_ptr(uptr), .len = len,
	};
	struct iommu_domain *d;

	if (!ops->domain_alloc_nested)
		return -EOPNOTSUPP;
	d = ops->domain_alloc_nested(dev, parent, flags, &data);
	if (IS_ERR(d))
		return PTR_ERR(d);
	if (!d)
		return -ENOMEM;
	d->owner = ops;
	*out = d;
	return 0;
}
