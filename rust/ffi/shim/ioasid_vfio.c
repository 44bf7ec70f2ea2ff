// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of ioasid's VFIO backend: the struct vfio_iommu_driver_ops that makes ioasid
 * an IOMMU driver of VFIO containers, with Rust callbacks (rust/ffi/iommu/vfio.rs), and
 * two IOMMU-group helpers. See ioasid_vfio.h.
 *
 * Why C (Linux 7.3): struct vfio_iommu_driver_ops and vfio_register_iommu_driver() are
 * declared only in VFIO's private drivers/vfio/vfio.h, which bindgen does not see, and
 * there is no Rust abstraction of VFIO or of IOMMU groups. The layout is written here as
 * struct ioasid_vfio_iommu_ops, field for field; when the kernel source tree is at hand
 * (Kbuild then defines IOASID_VFIO_PRIV and puts drivers/vfio on the include path) the
 * private header is included as well and every field's offset and type, the structure's
 * size and the group-type numbers are checked against it at compile time, so a change of
 * VFIO's private ABI fails the build instead of the kernel. A headers-only build (a
 * distribution's headers package has no drivers/vfio) relies on the hand-written layout.
 *
 * The group helpers: a domain must be allocated for a device of the group
 * (iommu_paging_domain_alloc_flags() takes a device, VFIO hands us a group) and the
 * group's reserved regions come as a C list of kmalloc()ed struct iommu_resv_region.
 */
#include <linux/err.h>
#include <linux/iommu.h>
#include <linux/kconfig.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "ioasid_pci.h"
#include "ioasid_vfio.h"

#if IS_ENABLED(CONFIG_VFIO_CONTAINER)

struct vfio_iommu_driver_ops;
struct vfio_device;
int vfio_register_iommu_driver(const struct vfio_iommu_driver_ops *ops);
void vfio_unregister_iommu_driver(const struct vfio_iommu_driver_ops *ops);

/* struct vfio_iommu_driver_ops of drivers/vfio/vfio.h (Linux 7.3), field for field. */
struct ioasid_vfio_iommu_ops {
	char *name;
	struct module *owner;
	void *(*open)(unsigned long arg);
	void (*release)(void *iommu_data);
	long (*ioctl)(void *iommu_data, unsigned int cmd, unsigned long arg);
	int (*attach_group)(void *iommu_data, struct iommu_group *group, int type);
	void (*detach_group)(void *iommu_data, struct iommu_group *group);
	int (*pin_pages)(void *iommu_data, struct iommu_group *group, dma_addr_t user_iova,
			 int npage, int prot, struct page **pages);
	void (*unpin_pages)(void *iommu_data, dma_addr_t user_iova, int npage);
	void (*register_device)(void *iommu_data, struct vfio_device *vdev);
	void (*unregister_device)(void *iommu_data, struct vfio_device *vdev);
	int (*dma_rw)(void *iommu_data, dma_addr_t user_iova, void *data, size_t count,
		      bool write);
	struct iommu_domain *(*group_iommu_domain)(void *iommu_data, struct iommu_group *group);
};

#ifdef IOASID_VFIO_PRIV
#include <vfio.h>

#define IOASID_CHECK_FIELD(f)								\
	_Static_assert(offsetof(struct ioasid_vfio_iommu_ops, f) ==			\
		       offsetof(struct vfio_iommu_driver_ops, f) &&			\
		       sizeof(((struct ioasid_vfio_iommu_ops *)0)->f) ==		\
		       sizeof(((struct vfio_iommu_driver_ops *)0)->f),			\
		       "vfio_iommu_driver_ops." #f " changed in drivers/vfio/vfio.h")
#define IOASID_CHECK_TYPE(f)								\
	_Static_assert(__builtin_types_compatible_p(					\
			       typeof(((struct ioasid_vfio_iommu_ops *)0)->f),		\
			       typeof(((struct vfio_iommu_driver_ops *)0)->f)),		\
		       "vfio_iommu_driver_ops." #f " changed type in drivers/vfio/vfio.h")
IOASID_CHECK_FIELD(name);
IOASID_CHECK_FIELD(owner);
IOASID_CHECK_FIELD(open);
IOASID_CHECK_FIELD(release);
IOASID_CHECK_FIELD(ioctl);
IOASID_CHECK_FIELD(attach_group);
IOASID_CHECK_FIELD(detach_group);
IOASID_CHECK_FIELD(pin_pages);
IOASID_CHECK_FIELD(unpin_pages);
IOASID_CHECK_FIELD(register_device);
IOASID_CHECK_FIELD(unregister_device);
IOASID_CHECK_FIELD(dma_rw);
IOASID_CHECK_FIELD(group_iommu_domain);
IOASID_CHECK_TYPE(open);
IOASID_CHECK_TYPE(release);
IOASID_CHECK_TYPE(ioctl);
IOASID_CHECK_TYPE(detach_group);
IOASID_CHECK_TYPE(pin_pages);
IOASID_CHECK_TYPE(dma_rw);
IOASID_CHECK_TYPE(group_iommu_domain);
/* attach_group's third parameter is enum vfio_group_type there, an int here. */
_Static_assert(sizeof(enum vfio_group_type) == sizeof(int), "enum vfio_group_type size");
_Static_assert(VFIO_IOMMU == IOASID_VFIO_GROUP_IOMMU &&
	       VFIO_EMULATED_IOMMU == IOASID_VFIO_GROUP_EMULATED &&
	       VFIO_NO_IOMMU == IOASID_VFIO_GROUP_NOIOMMU,
	       "enum vfio_group_type changed in drivers/vfio/vfio.h");
_Static_assert(sizeof(struct ioasid_vfio_iommu_ops) == sizeof(struct vfio_iommu_driver_ops),
	       "struct vfio_iommu_driver_ops changed in drivers/vfio/vfio.h");
#endif

/*
 * pin_pages, dma_rw and the device (un)registration are left NULL: VFIO then refuses
 * pin_pages and dma_rw (emulated/mdev devices), which ioasid does not serve yet.
 */
static const struct ioasid_vfio_iommu_ops ioasid_vfio_ops = {
	.name = "ioasid",
	.owner = THIS_MODULE,
	.open = ioasid_vfio_open,
	.release = ioasid_vfio_release,
	.ioctl = ioasid_vfio_ioctl,
	.attach_group = ioasid_vfio_attach_group,
	.detach_group = ioasid_vfio_detach_group,
};

int ioasid_shim_vfio_register(void)
{
	return vfio_register_iommu_driver((const struct vfio_iommu_driver_ops *)&ioasid_vfio_ops);
}

void ioasid_shim_vfio_unregister(void)
{
	vfio_unregister_iommu_driver((const struct vfio_iommu_driver_ops *)&ioasid_vfio_ops);
}

#else /* !CONFIG_VFIO_CONTAINER */

int ioasid_shim_vfio_register(void)
{
	return -EOPNOTSUPP;
}

void ioasid_shim_vfio_unregister(void)
{
}

#endif

struct ioasid_group_domain {
	u32 flags;
	struct iommu_domain *domain;
};

static int ioasid_group_domain_one(struct device *dev, void *data)
{
	struct ioasid_group_domain *gd = data;

	gd->domain = iommu_paging_domain_alloc_flags(dev, gd->flags);
	/* The first device decides. */
	return 1;
}

struct iommu_domain *ioasid_shim_vfio_group_domain(struct iommu_group *group, u32 flags)
{
	struct ioasid_group_domain gd = { .flags = flags, .domain = ERR_PTR(-ENODEV) };

	iommu_group_for_each_dev(group, &gd, ioasid_group_domain_one);
	return gd.domain;
}

int ioasid_shim_vfio_group_resv(struct iommu_group *group, struct ioasid_resv *out, int max)
{
	struct iommu_resv_region *r, *next;
	LIST_HEAD(list);
	int n = 0, rc;

	rc = iommu_get_group_resv_regions(group, &list);
	list_for_each_entry_safe(r, next, &list, list) {
		if (n < max) {
			out[n].start = r->start;
			out[n].last = r->start + r->length - 1;
			out[n].type = r->type;
			out[n].pad = 0;
		}
		n++;
		list_del(&r->list);
		kfree(r);
	}
	return rc < 0 ? rc : n;
}
