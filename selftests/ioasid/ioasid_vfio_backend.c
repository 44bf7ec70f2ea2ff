// SPDX-License-Identifier: GPL-2.0
/*
 * ioasid as VFIO's IOMMU backend: QEMU's edu device (1234:11e8) bound to vfio-pci and
 * driven by a VFIO type1 program written against <linux/vfio.h> alone (group, container,
 * VFIO_SET_IOMMU, MAP_DMA, the device fd, BAR0 mmap and config space through VFIO), with
 * its container served by ioasid. Which driver served a container is not assumed but
 * checked: ioasid logs "VFIO container N served by ioasid" for each one it opens, and
 * VFIO_CHECK_EXTENSION(IOASID_VFIO_IOMMU) on a container is 1 only when ioasid serves it
 * (vfio_iommu_type1 answers 0 for a type it does not know).
 *
 * Each test reloads ioasid.ko ($IOASID_KO) with the variant's parameters: "type1"
 * (vfio_type1=1: ioasid answers VFIO_TYPE1v2_IOMMU, so the unmodified program gets it) and
 * "explicit" (no parameter: only IOASID_VFIO_IOMMU reaches ioasid), and reloads it with
 * the run's parameters at the end.
 */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_edu_utils.h"

#define IOVA 0x100000ULL
#define PAGE 4096UL
#define SERVED_LOG "served by ioasid"

/* ---- The type1 program: <linux/vfio.h> only. ---- */

struct type1 {
	int container;
	int group;
	int device;
	volatile uint8_t *bar;
	size_t bar_size;
};

/*
 * Opens the container and the group of bdf (IOMMU group groupno), sets IOMMU type type,
 * gets the device, maps its BAR0 and turns on memory space and bus mastering. 0, or the
 * number of the step that failed.
 */
static int type1_open(struct type1 *t, const char *bdf, int groupno, unsigned long type)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_region_info bar = { .argsz = sizeof(bar) };
	struct vfio_region_info config = { .argsz = sizeof(config) };
	char path[64];
	uint16_t command;
	void *p;

	t->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (t->container < 0)
		return 1;
	if (ioctl(t->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return 2;
	if (ioctl(t->container, VFIO_CHECK_EXTENSION, type) != 1)
		return 3;
	snprintf(path, sizeof(path), "/dev/vfio/%d", groupno);
	t->group = open(path, O_RDWR | O_CLOEXEC);
	if (t->group < 0)
		return 4;
	if (ioctl(t->group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return 5;
	if (ioctl(t->group, VFIO_GROUP_SET_CONTAINER, &t->container))
		return 6;
	if (ioctl(t->container, VFIO_SET_IOMMU, type))
		return 7;
	t->device = ioctl(t->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (t->device < 0)
		return 8;
	bar.index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(t->device, VFIO_DEVICE_GET_REGION_INFO, &bar) ||
	    !(bar.flags & VFIO_REGION_INFO_FLAG_MMAP))
		return 9;
	p = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, t->device, bar.offset);
	if (p == MAP_FAILED)
		return 10;
	t->bar = p;
	t->bar_size = bar.size;
	config.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(t->device, VFIO_DEVICE_GET_REGION_INFO, &config))
		return 11;
	if (pread(t->device, &command, 2, config.offset + 4) != 2)
		return 12;
	command |= 0x6; /* memory space, bus master */
	if (pwrite(t->device, &command, 2, config.offset + 4) != 2)
		return 13;
	return 0;
}

static void type1_close(struct type1 *t)
{
	if (t->bar)
		munmap((void *)t->bar, t->bar_size);
	if (t->device > 0)
		close(t->device);
	if (t->group > 0)
		close(t->group);
	if (t->container > 0)
		close(t->container);
	memset(t, 0, sizeof(*t));
}

static int map_dma(int container, void *vaddr, __u64 iova, __u64 size)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(container, VFIO_IOMMU_MAP_DMA, &map);
}

/* Unmaps [iova, iova + size) (flags: VFIO_DMA_UNMAP_FLAG_*); *unmapped: bytes unmapped. */
static int unmap_dma(int container, __u64 iova, __u64 size, __u32 flags, __u64 *unmapped)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = flags,
		.iova = iova,
		.size = size,
	};
	int rc = ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap);

	if (unmapped)
		*unmapped = unmap.size;
	return rc;
}

/*
 * The container's GET_INFO: whether it has page sizes and an IOVA-range capability; with
 * hole, the first IOVA that is in no range (after the first one), 0 if none.
 */
static bool info_iova_ranges(int container, __u64 *hole)
{
	char buf[4096] = { 0 };
	struct vfio_iommu_type1_info *info = (void *)buf;
	struct vfio_info_cap_header *cap;
	__u32 next;

	info->argsz = sizeof(buf);
	if (ioctl(container, VFIO_IOMMU_GET_INFO, info))
		return false;
	if (!(info->flags & VFIO_IOMMU_INFO_PGSIZES) || !(info->iova_pgsizes & PAGE) ||
	    !(info->flags & VFIO_IOMMU_INFO_CAPS))
		return false;
	for (next = info->cap_offset; next && next + sizeof(*cap) <= sizeof(buf);
	     next = cap->next) {
		cap = (void *)(buf + next);
		if (cap->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			struct vfio_iommu_type1_info_cap_iova_range *r = (void *)cap;

			if (hole)
				*hole = r->nr_iovas > 1 ? r->iova_ranges[0].end + 1 : 0;
			return r->nr_iovas >= 1 && r->iova_ranges[0].start <= IOVA;
		}
	}
	return false;
}

/* ---- The module with the variant's parameters. ---- */

static int load_module(const char *params)
{
	const char *ko = getenv("IOASID_KO");
	int fd, ret;

	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, params, 0);
	close(fd);
	return ret;
}

static int unload_module(void)
{
	return syscall(SYS_delete_module, "ioasid", O_NONBLOCK);
}

/* The parameters the run loaded the module with. */
static const char *run_params(void)
{
	if (getenv("IOASID_SELFTEST"))
		return getenv("IOASID_DEBUG") ? "debug=1 selftest=1" : "selftest=1";
	return getenv("IOASID_DEBUG") ? "debug=1" : "";
}

static int reload_module(const char *extra)
{
	char params[128];

	snprintf(params, sizeof(params), "%s %s", run_params(), extra);
	if (access("/sys/module/ioasid", F_OK) == 0 && unload_module())
		return -1;
	return load_module(params);
}

static void *alloc_pages(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

FIXTURE(backend)
{
	char bdf[256];
	int groupno;
	struct type1 t;
	uint8_t *buf; /* 4 pages */
};

FIXTURE_VARIANT(backend)
{
	const char *params;
	/* The type the unmodified program asks for, and which ioasid serves. */
	unsigned long type;
};

FIXTURE_VARIANT_ADD(backend, type1)
{
	.params = "vfio_type1=1",
	.type = VFIO_TYPE1v2_IOMMU,
};

FIXTURE_VARIANT_ADD(backend, explicit)
{
	.params = "",
	.type = IOASID_VFIO_IOMMU,
};

FIXTURE_SETUP(backend)
{
	struct edus e = { .n = 0 };

	memset(&self->t, 0, sizeof(self->t));
	if (!getenv("IOASID_KO"))
		SKIP(return, "IOASID_KO is not set");
	if (access("/sys/bus/pci/drivers/vfio-pci", F_OK))
		SKIP(return, "no vfio-pci driver");
	for_each_pci_device(EDU_VENDOR, EDU_DEVICE, collect_edu, &e);
	if (e.n < 1)
		SKIP(return, "no edu device alone in its IOMMU group");
	snprintf(self->bdf, sizeof(self->bdf), "%s", e.bdf[0]);
	self->groupno = iommu_group_of(self->bdf);
	ASSERT_LE(0, self->groupno);
	ASSERT_EQ(0, reload_module(variant->params));
	ASSERT_EQ(0, bind_pci_driver(self->bdf, "vfio-pci"));
	self->buf = alloc_pages(4 * PAGE);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(backend)
{
	char path[512];

	type1_close(&self->t);
	if (self->bdf[0]) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", self->bdf);
		write_str(path, self->bdf);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
			 self->bdf);
		write_str(path, "\n");
	}
	if (getenv("IOASID_KO"))
		reload_module("");
}

TEST_F(backend, type1_program_runs_on_ioasid)
{
	long locked_before = proc_status_kb(getpid(), "VmLck");
	int served = count_in_kernel_log(SERVED_LOG);
	__u64 unmapped;
	int i;

	ASSERT_EQ(0, type1_open(&self->t, self->bdf, self->groupno, variant->type));
	/* ioasid serves the container: its log and its extension say so. */
	EXPECT_EQ(served + 1, count_in_kernel_log(SERVED_LOG));
	EXPECT_EQ(1, ioctl(self->t.container, VFIO_CHECK_EXTENSION, IOASID_VFIO_IOMMU));
	EXPECT_EQ(1, ioctl(self->t.container, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL));
	EXPECT_TRUE(info_iova_ranges(self->t.container, NULL));

	ASSERT_EQ(0, map_dma(self->t.container, self->buf, IOVA, 4 * PAGE));
	/* Pinned and charged to the program's locked memory. */
	EXPECT_LE(locked_before + 16, proc_status_kb(getpid(), "VmLck"));
	/* memory -> device -> memory through the IOMMU. */
	for (i = 0; i < (int)PAGE; i++)
		self->buf[i] = (uint8_t)(i * 5 + 1);
	memset(self->buf + PAGE, 0, 3 * PAGE);
	ASSERT_EQ(0, edu_dma(self->t.bar, IOVA, 0, PAGE, false));
	ASSERT_EQ(0, edu_dma(self->t.bar, IOVA + 2 * PAGE, 0, PAGE, true));
	EXPECT_EQ(0, memcmp(self->buf, self->buf + 2 * PAGE, PAGE));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0, PAGE));

	/*
	 * Unmapped, the IOVA faults and the page keeps its bytes (the same DMA wrote it while
	 * mapped). The IOMMU's fault reports are no evidence here: the SMMUv3 driver rate-limits
	 * its event messages and QEMU's VT-d compresses repeated faults, so after the earlier
	 * suites' faults a new one may leave no line in the log.
	 */
	ASSERT_EQ(0, unmap_dma(self->t.container, IOVA, 4 * PAGE, 0, &unmapped));
	EXPECT_EQ(4 * PAGE, unmapped);
	memset(self->buf + PAGE, 0x11, PAGE);
	ASSERT_EQ(0, edu_dma(self->t.bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x11, PAGE));
	EXPECT_EQ(locked_before, proc_status_kb(getpid(), "VmLck"));

	/* VFIO_DMA_UNMAP_FLAG_ALL unmaps every mapping and says how much. */
	ASSERT_EQ(0, map_dma(self->t.container, self->buf, IOVA, PAGE));
	ASSERT_EQ(0, map_dma(self->t.container, self->buf + 2 * PAGE, IOVA + 8 * PAGE, 2 * PAGE));
	ASSERT_EQ(0, unmap_dma(self->t.container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	EXPECT_EQ(3 * PAGE, unmapped);

	/* Closing everything with memory mapped leaves nothing pinned or charged. */
	ASSERT_EQ(0, map_dma(self->t.container, self->buf, IOVA, 4 * PAGE));
	type1_close(&self->t);
	EXPECT_EQ(locked_before, proc_status_kb(getpid(), "VmLck"));
}

TEST_F(backend, type1_is_ioasids_only_with_the_parameter)
{
	int served = count_in_kernel_log(SERVED_LOG);

	if (variant->type != IOASID_VFIO_IOMMU)
		SKIP(return, "vfio_type1=1: ioasid serves type1");
	/* Without vfio_type1=1, a type1 program gets vfio_iommu_type1. */
	ASSERT_EQ(0, type1_open(&self->t, self->bdf, self->groupno, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(0, ioctl(self->t.container, VFIO_CHECK_EXTENSION, IOASID_VFIO_IOMMU));
	EXPECT_EQ(served, count_in_kernel_log(SERVED_LOG));
	ASSERT_EQ(0, map_dma(self->t.container, self->buf, IOVA, PAGE));
	memset(self->buf, 0x3c, PAGE);
	ASSERT_EQ(0, edu_dma(self->t.bar, IOVA, 0, PAGE, false));
	type1_close(&self->t);
}

TEST_F(backend, type1_v1_unmap_cuts_a_mapping)
{
	__u64 unmapped;

	if (variant->type != VFIO_TYPE1v2_IOMMU)
		SKIP(return, "needs vfio_type1=1");
	ASSERT_EQ(0, type1_open(&self->t, self->bdf, self->groupno, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(1, ioctl(self->t.container, VFIO_CHECK_EXTENSION, IOASID_VFIO_IOMMU));
	ASSERT_EQ(0, map_dma(self->t.container, self->buf, IOVA, 4 * PAGE));
	/* Type1 (v1) unmaps a page out of the middle of a mapping; the rest stays. */
	ASSERT_EQ(0, unmap_dma(self->t.container, IOVA + PAGE, PAGE, 0, &unmapped));
	EXPECT_EQ(PAGE, unmapped);
	memset(self->buf, 0x42, PAGE);
	memset(self->buf + 2 * PAGE, 0, PAGE);
	ASSERT_EQ(0, edu_dma(self->t.bar, IOVA, 0, PAGE, false));
	ASSERT_EQ(0, edu_dma(self->t.bar, IOVA + 2 * PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + 2 * PAGE, 0x42, PAGE));
	type1_close(&self->t);
}

TEST_F(backend, group_reserved_regions_are_holes_of_the_container)
{
	__u64 hole = 0;

	ASSERT_EQ(0, type1_open(&self->t, self->bdf, self->groupno, variant->type));
	/* The MSI window (VT-d's, or the SMMU's software one) leaves the IOVA ranges... */
	ASSERT_TRUE(info_iova_ranges(self->t.container, &hole));
	ASSERT_NE(0, hole);
	/* ...and cannot be mapped. */
	EXPECT_NE(0, map_dma(self->t.container, self->buf, hole, PAGE));
	EXPECT_EQ(0, map_dma(self->t.container, self->buf, IOVA, PAGE));
}

TEST_F(backend, closing_the_group_unpins_while_the_container_stays)
{
	long locked_before = proc_status_kb(getpid(), "VmLck");

	ASSERT_EQ(0, type1_open(&self->t, self->bdf, self->groupno, variant->type));
	ASSERT_EQ(0, map_dma(self->t.container, self->buf, IOVA, 4 * PAGE));
	EXPECT_LE(locked_before + 16, proc_status_kb(getpid(), "VmLck"));
	/* The device and the group go: the container loses its last group and its IOAS. */
	munmap((void *)self->t.bar, self->t.bar_size);
	self->t.bar = NULL;
	close(self->t.device);
	self->t.device = -1;
	close(self->t.group);
	self->t.group = -1;
	EXPECT_EQ(locked_before, proc_status_kb(getpid(), "VmLck"));
	/* Nothing of ioasid's is in use any more: the module may go. */
	EXPECT_EQ(0, unload_module());
}

TEST_F(backend, module_stays_while_a_container_uses_it)
{
	ASSERT_EQ(0, type1_open(&self->t, self->bdf, self->groupno, variant->type));
	ASSERT_EQ(0, map_dma(self->t.container, self->buf, IOVA, PAGE));
	EXPECT_NE(0, unload_module());
	EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);
	EXPECT_EQ(0, access("/sys/module/ioasid", F_OK));
	/* The group leaves the container: the driver is released, the module may go. */
	type1_close(&self->t);
	EXPECT_EQ(0, unload_module());
}

TEST_HARNESS_MAIN
