// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO type1 compatibility on /dev/ioasid: IOMMU_VFIO_IOAS chooses the IOAS, and the VFIO
 * container ioctls of <linux/vfio.h> work on it as iommufd answers them on /dev/iommu.
 *
 * - compat: the rules (errno of every refusal, argsz at every size, type1 v1 cuts
 *   mappings and v2 refuses), without a device, then with the mock IOMMU (selftest=1);
 * - type1_edu: a program written as a type1 user would, with a real edu device attached
 *   to the compatibility IOAS (IOASID_DEVICE_ATTACH): DMA through the emulated IOMMU,
 *   unmap, and the IOMMU faults the DMA after it.
 */
#include <stddef.h>
#include <sys/mman.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"
#include "ioasid_edu_utils.h"

#define PAGE 4096UL
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

#ifdef __x86_64__
#define FAULT_LOG "DMAR: [DMA Write"
#else
#define FAULT_LOG "arm-smmu-v3"
#endif

#define NEED_SELFTEST()								\
	do {									\
		if (!getenv("IOASID_SELFTEST"))					\
			SKIP(return, "ioasid.ko was not loaded with selftest=1");	\
	} while (0)

static void *alloc_pages(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * A DMA from the edu device's buffer to an unmapped IOVA: whether the IOMMU reported the
 * fault in the kernel log. The kernel rate-limits those reports (10 in 5 s), so the DMA is
 * tried again for up to 7 s; the caller checks that memory kept its bytes.
 */
static bool dma_faults(volatile uint8_t *bar, __u64 iova)
{
	int before = count_in_kernel_log(FAULT_LOG), i;

	for (i = 0; i < 8; i++) {
		if (edu_dma(bar, iova, 0, PAGE, true))
			return false;
		if (count_in_kernel_log(FAULT_LOG) > before)
			return true;
		sleep(1);
	}
	return false;
}

static int map_dma(int fd, void *va, __u64 iova, __u64 size, __u32 flags)
{
	struct vfio_iommu_type1_dma_map cmd = {
		.argsz = sizeof(cmd), .flags = flags, .vaddr = (uintptr_t)va, .iova = iova,
		.size = size,
	};

	return ioctl(fd, VFIO_IOMMU_MAP_DMA, &cmd);
}

/* VFIO_IOMMU_UNMAP_DMA; *unmapped gets the size it reports, also on error. */
static int unmap_dma(int fd, __u64 iova, __u64 size, __u32 flags, __u64 *unmapped)
{
	struct vfio_iommu_type1_dma_unmap cmd = {
		.argsz = sizeof(cmd), .flags = flags, .iova = iova, .size = size,
	};
	int rc = ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &cmd);

	if (unmapped)
		*unmapped = cmd.size;
	return rc;
}

FIXTURE(compat)
{
	int fd;
	__u32 ioas;
	uint8_t *buf; /* 8 pages */
};

FIXTURE_SETUP(compat)
{
	self->fd = open(IOASID_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	self->buf = alloc_pages(8 * PAGE);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(compat)
{
	munmap(self->buf, 8 * PAGE);
	close(self->fd);
}

TEST_F(compat, vfio_ioas_gets_sets_and_clears)
{
	struct iommu_vfio_ioas cmd = { .size = sizeof(cmd), .op = IOMMU_VFIO_IOAS_GET };
	__u32 id = 0, other;

	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	id = 9999;
	EXPECT_ERRNO(ENOENT, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas));
	id = 0;
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_EQ(self->ioas, id);
	/* SET again switches; CLEAR forgets without destroying. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &other));
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &other));
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_EQ(other, id);
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_CLEAR, NULL));
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_EQ(0, destroy(self->fd, other));
	/* __reserved, then op, as iommufd checks them; size below the struct is EINVAL. */
	cmd.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_VFIO_IOAS, &cmd));
	cmd.__reserved = 0;
	cmd.op = 3;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_VFIO_IOAS, &cmd));
	cmd.size = 11;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_VFIO_IOAS, &cmd));
}

TEST_F(compat, destroying_the_compat_ioas_clears_it)
{
	__u32 id = 0;

	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas));
	ASSERT_EQ(0, map_dma(self->fd, self->buf, 0x100000, PAGE, RW));
	/* Being the compatibility IOAS is no reference: it can be destroyed. */
	ASSERT_EQ(0, destroy(self->fd, self->ioas));
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_ERRNO(ENODEV, map_dma(self->fd, self->buf, 0x100000, PAGE, RW));
	/* A new IOAS taking the same ID does not become the compatibility IOAS. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(self->ioas, id);
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
}

/* Every VFIO ioctl's answer without a compatibility IOAS. */
TEST_F(compat, without_a_compat_ioas)
{
	static const struct {
		unsigned long ext;
		int ret; /* -1: ENODEV */
	} extensions[] = {
		{ VFIO_TYPE1_IOMMU, 1 }, { VFIO_TYPE1v2_IOMMU, 1 }, { VFIO_UNMAP_ALL, 1 },
		{ VFIO_DMA_CC_IOMMU, -1 }, { VFIO_NOIOMMU_IOMMU, 0 },
		{ 6 /* the retired type1 nesting */, 0 }, { VFIO_UPDATE_VADDR, 0 }, { 0, 0 },
		{ 12345, 0 },
	};
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	unsigned int i;

	EXPECT_EQ(VFIO_API_VERSION, ioctl(self->fd, VFIO_GET_API_VERSION));
	for (i = 0; i < ARRAY_SIZE(extensions); i++) {
		if (extensions[i].ret < 0)
			EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_CHECK_EXTENSION, extensions[i].ext));
		else
			EXPECT_EQ(extensions[i].ret,
				  ioctl(self->fd, VFIO_CHECK_EXTENSION, extensions[i].ext))
				TH_LOG("extension %lu", extensions[i].ext);
	}
	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU));
	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_IOMMU_GET_INFO, &info));
	EXPECT_ERRNO(ENODEV, map_dma(self->fd, self->buf, 0x100000, PAGE, RW));
	EXPECT_ERRNO(ENODEV, unmap_dma(self->fd, 0x100000, PAGE, 0, NULL));
	/* The dirty-page ioctl is not iommufd's either: no such ioctl. */
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, VFIO_IOMMU_DIRTY_PAGES, self->buf));
	/* Neither are the group and device ioctls. */
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, VFIO_GROUP_GET_STATUS, self->buf));
}

/* argsz: below the mandatory part is EINVAL, beyond it anything goes (no E2BIG). */
TEST_F(compat, argsz_and_flags_rules)
{
	static const struct {
		unsigned long cmd;
		__u32 argsz, flags;
		int err;
	} rules[] = {
		{ VFIO_IOMMU_MAP_DMA, 1, RW, EINVAL },
		{ VFIO_IOMMU_MAP_DMA, sizeof(struct vfio_iommu_type1_dma_map) - 1, RW, EINVAL },
		{ VFIO_IOMMU_MAP_DMA, sizeof(struct vfio_iommu_type1_dma_map), 1u << 31, EINVAL },
		{ VFIO_IOMMU_MAP_DMA, sizeof(struct vfio_iommu_type1_dma_map),
		  RW | VFIO_DMA_MAP_FLAG_VADDR, EINVAL },
		{ VFIO_IOMMU_UNMAP_DMA, 1, 0, EINVAL },
		{ VFIO_IOMMU_UNMAP_DMA, sizeof(struct vfio_iommu_type1_dma_unmap), 1u << 31, EINVAL },
		{ VFIO_IOMMU_UNMAP_DMA, sizeof(struct vfio_iommu_type1_dma_unmap),
		  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, EINVAL },
		{ VFIO_IOMMU_UNMAP_DMA, sizeof(struct vfio_iommu_type1_dma_unmap),
		  VFIO_DMA_UNMAP_FLAG_VADDR, EINVAL },
		{ VFIO_IOMMU_GET_INFO, offsetof(struct vfio_iommu_type1_info, iova_pgsizes), 0,
		  EINVAL },
		/* Past the structure: ignored, whatever the bytes. */
		{ VFIO_IOMMU_MAP_DMA, 4096, RW, 0 },
		{ VFIO_IOMMU_UNMAP_DMA, 4096, 0, 0 },
	};
	__u64 arg[512];
	unsigned int i;

	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas));
	for (i = 0; i < ARRAY_SIZE(rules); i++) {
		memset(arg, 0x5a, sizeof(arg));
		if (rules[i].cmd == VFIO_IOMMU_MAP_DMA)
			*(struct vfio_iommu_type1_dma_map *)arg = (struct vfio_iommu_type1_dma_map){
				.vaddr = (uintptr_t)self->buf, .iova = 0x100000, .size = PAGE };
		else if (rules[i].cmd == VFIO_IOMMU_UNMAP_DMA)
			*(struct vfio_iommu_type1_dma_unmap *)arg = (struct vfio_iommu_type1_dma_unmap){
				.iova = 0x100000, .size = PAGE };
		memcpy(arg, &rules[i].argsz, 4);
		memcpy((char *)arg + 4, &rules[i].flags, 4);
		errno = 0;
		EXPECT_EQ(rules[i].err ? -1 : 0, ioctl(self->fd, rules[i].cmd, arg))
			TH_LOG("rule %u", i);
		EXPECT_EQ(rules[i].err, errno) TH_LOG("rule %u", i);
	}
	/* The unmap of rule 10 took the map of rule 9 and said so; past it nothing changed. */
	EXPECT_EQ(PAGE, arg[2]);
	EXPECT_EQ(0x5a5a5a5a5a5a5a5aULL, arg[3]);
}

TEST_F(compat, map_and_unmap_as_type1v2)
{
	__u64 unmapped;

	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, map_dma(self->fd, self->buf, 0x100000, 2 * PAGE, RW));
	ASSERT_EQ(0, map_dma(self->fd, self->buf + 2 * PAGE, 0x102000, 2 * PAGE, RW));
	/* Over an existing mapping, at a fixed IOVA always. */
	EXPECT_ERRNO(EEXIST, map_dma(self->fd, self->buf, 0x101000, PAGE, RW));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, self->buf, 0x200000, 0, RW));
	/* v2 never cuts a mapping: ENOENT, and size says what went before the cut. */
	EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, 0x101000, PAGE, 0, &unmapped));
	EXPECT_EQ(0, unmapped);
	EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, 0x100000, 3 * PAGE, 0, &unmapped));
	EXPECT_EQ(2 * PAGE, unmapped);
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, 0x100000, 0, 0, &unmapped));
	/* A range past 2^64: EOVERFLOW, with size 0 written back (as iommufd). */
	EXPECT_ERRNO(EOVERFLOW, unmap_dma(self->fd, UINT64_MAX, 2, 0, &unmapped));
	EXPECT_EQ(0, unmapped);
	/* One engine: IOMMU_IOAS_UNMAP sees the same mappings, and the same refusal. */
	EXPECT_ERRNO(ENOENT, ioas_unmap(self->fd, self->ioas, 0x100000, 2 * PAGE, NULL));
	EXPECT_ERRNO(ENOENT, ioas_unmap(self->fd, self->ioas, 0x102000, PAGE, NULL));
	ASSERT_EQ(0, unmap_dma(self->fd, 0x100000, 4 * PAGE, 0, &unmapped));
	EXPECT_EQ(2 * PAGE, unmapped);
	/* Unmapping nothing is a success that unmapped nothing. */
	ASSERT_EQ(0, unmap_dma(self->fd, 0x100000, 4 * PAGE, 0, &unmapped));
	EXPECT_EQ(0, unmapped);
	/* UNMAP_ALL wants iova and size 0. */
	ASSERT_EQ(0, map_dma(self->fd, self->buf, 0x100000, 8 * PAGE, RW));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, 0x100000, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	ASSERT_EQ(0, unmap_dma(self->fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	EXPECT_EQ(8 * PAGE, unmapped);
}

TEST_F(compat, type1_v1_unmap_cuts_mappings)
{
	struct iommu_option opt = {
		.size = sizeof(opt), .option_id = IOMMU_OPTION_HUGE_PAGES,
		.op = IOMMU_OPTION_OP_GET, .object_id = self->ioas,
	};
	__u64 unmapped;

	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	/* Type1 turned huge IOPTEs off: mappings are CPU-page aligned now. */
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_OPTION, &opt));
	EXPECT_EQ(0, opt.val64);
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, self->buf, 0x100800, PAGE, RW));
	ASSERT_EQ(0, map_dma(self->fd, self->buf, 0x100000, 8 * PAGE, RW));
	/* A hole in the middle, then the pieces one by one, in any order. */
	ASSERT_EQ(0, unmap_dma(self->fd, 0x103000, 2 * PAGE, 0, &unmapped));
	EXPECT_EQ(2 * PAGE, unmapped);
	ASSERT_EQ(0, unmap_dma(self->fd, 0x101000, PAGE, 0, &unmapped));
	EXPECT_EQ(PAGE, unmapped);
	/* Across a hole: both sides are cut. */
	ASSERT_EQ(0, unmap_dma(self->fd, 0x102000, 5 * PAGE, 0, &unmapped));
	EXPECT_EQ(3 * PAGE, unmapped);
	/* Not on a page: refused, nothing unmapped. */
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, 0x100800, PAGE, 0, &unmapped));
	/* What is left: pages 0 and 7, each an area of its own for IOMMU_IOAS_UNMAP. */
	EXPECT_ERRNO(ENOENT, ioas_unmap(self->fd, self->ioas, 0x101000, 6 * PAGE, NULL));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, 0x100000, PAGE, &unmapped));
	EXPECT_EQ(PAGE, unmapped);
	ASSERT_EQ(0, unmap_dma(self->fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	EXPECT_EQ(PAGE, unmapped);
	/* Type1 v2 afterwards does not turn huge IOPTEs back on (as iommufd). */
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_OPTION, &opt));
	EXPECT_EQ(0, opt.val64);
}

/* Reads the whole reply of VFIO_IOMMU_GET_INFO at every argsz. */
TEST_F(compat, get_info_respects_argsz_at_every_size)
{
	struct iommu_iova_range ranges[8];
	struct iommu_ioas_iova_ranges rcmd = {
		.size = sizeof(rcmd), .ioas_id = self->ioas, .num_iovas = 8,
		.allowed_iovas = (uintptr_t)ranges,
	};
	uint8_t buf[512];
	struct vfio_iommu_type1_info *info = (void *)buf;
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info_cap_iova_range *cap;
	__u32 total, argsz, i;

	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &rcmd));
	*info = (struct vfio_iommu_type1_info){ .argsz = sizeof(*info) };
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_GET_INFO, info));
	total = info->argsz;
	ASSERT_EQ(sizeof(*info) + 16 + sizeof(*cap) + rcmd.num_iovas * 16, total);
	for (argsz = offsetof(struct vfio_iommu_type1_info, cap_offset); argsz <= total + 8;
	     argsz++) {
		memset(buf, 0xaa, sizeof(buf));
		info->argsz = argsz;
		ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_GET_INFO, buf));
		for (i = argsz; i < sizeof(buf); i++)
			ASSERT_EQ(0xaa, buf[i]) TH_LOG("argsz %u wrote byte %u", argsz, i);
		EXPECT_EQ(total, info->argsz);
		EXPECT_EQ(VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS, info->flags);
		/* The page sizes: the CPU page and up, without a domain. */
		EXPECT_EQ(~(__u64)(PAGE - 1), info->iova_pgsizes);
		if (argsz >= sizeof(*info))
			EXPECT_EQ(argsz >= total ? sizeof(*info) : 0, info->cap_offset);
	}
	/* The chain: DMA avail, then the IOVA ranges of IOMMU_IOAS_IOVA_RANGES. */
	avail = (void *)(buf + info->cap_offset);
	EXPECT_EQ(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, avail->header.id);
	EXPECT_EQ(1, avail->header.version);
	EXPECT_EQ(UINT32_MAX, avail->avail);
	ASSERT_EQ(sizeof(*info) + 16, avail->header.next);
	cap = (void *)(buf + avail->header.next);
	EXPECT_EQ(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, cap->header.id);
	EXPECT_EQ(1, cap->header.version);
	EXPECT_EQ(0, cap->header.next);
	ASSERT_EQ(rcmd.num_iovas, cap->nr_iovas);
	for (i = 0; i < cap->nr_iovas; i++) {
		EXPECT_EQ(ranges[i].start, cap->iova_ranges[i].start);
		EXPECT_EQ(ranges[i].last, cap->iova_ranges[i].end);
	}
}

/* With the mock IOMMU: what is mapped is what a device reaches, and pinned. */
TEST_F(compat, mock_domain_type1v2_dma_and_pins)
{
	uint8_t data[64];
	__u32 stdev;

	NEED_SELFTEST();
	ASSERT_EQ(0, test_mock_domain(self->fd, self->ioas, &stdev, NULL));
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(1, ioctl(self->fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU));
	/* Outside the mock's aperture: refused, nothing pinned. */
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, self->buf, 0x1000, PAGE, RW));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, 8 * PAGE, 0));
	/* Read-only: the device reads, cannot write. */
	memset(self->buf, 0x3c, PAGE);
	ASSERT_EQ(0, map_dma(self->fd, self->buf, MOCK_APERTURE_START, PAGE,
			     VFIO_DMA_MAP_FLAG_READ));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, PAGE, 1));
	ASSERT_EQ(0, test_mock_dma(self->fd, stdev, MOCK_APERTURE_START, data, sizeof(data), false));
	EXPECT_TRUE(all_bytes(data, 0x3c, sizeof(data)));
	EXPECT_ERRNO(EPERM, test_mock_dma(self->fd, stdev, MOCK_APERTURE_START, data,
					  sizeof(data), true));
	/* Unmapped: the device faults and the page is unpinned. */
	ASSERT_EQ(0, unmap_dma(self->fd, MOCK_APERTURE_START, PAGE, 0, NULL));
	EXPECT_ERRNO(EFAULT, test_mock_dma(self->fd, stdev, MOCK_APERTURE_START, data,
					   sizeof(data), false));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, PAGE, 0));
	/* Type1 (v1) cannot turn huge IOPTEs off once the domain maps something. */
	ASSERT_EQ(0, map_dma(self->fd, self->buf, MOCK_APERTURE_START, PAGE, RW));
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
}

TEST_F(compat, mock_domain_type1_cut_keeps_the_rest_mapped_and_pinned)
{
	uint8_t data[64];
	__u64 unmapped;
	__u32 stdev;
	int i;

	NEED_SELFTEST();
	ASSERT_EQ(0, test_mock_domain(self->fd, self->ioas, &stdev, NULL));
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	for (i = 0; i < 4; i++)
		memset(self->buf + i * PAGE, i + 1, PAGE);
	ASSERT_EQ(0, map_dma(self->fd, self->buf, MOCK_APERTURE_START, 4 * PAGE, RW));
	ASSERT_EQ(0, unmap_dma(self->fd, MOCK_APERTURE_START + PAGE, PAGE, 0, &unmapped));
	EXPECT_EQ(PAGE, unmapped);
	for (i = 0; i < 4; i++) {
		__u64 iova = MOCK_APERTURE_START + i * PAGE;

		if (i == 1) {
			EXPECT_ERRNO(EFAULT, test_mock_dma(self->fd, stdev, iova, data,
							   sizeof(data), false));
			EXPECT_EQ(0, test_check_refs(self->fd, self->buf + i * PAGE, PAGE, 0));
			continue;
		}
		ASSERT_EQ(0, test_mock_dma(self->fd, stdev, iova, data, sizeof(data), false));
		EXPECT_TRUE(all_bytes(data, i + 1, sizeof(data))) TH_LOG("page %d", i);
		EXPECT_EQ(0, test_check_refs(self->fd, self->buf + i * PAGE, PAGE, 1));
	}
	ASSERT_EQ(0, unmap_dma(self->fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	EXPECT_EQ(3 * PAGE, unmapped);
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, 4 * PAGE, 0));
}

/* A type1 user with a real device: the edu device attached to the compat IOAS. */
FIXTURE(type1_edu)
{
	char bdf[256];
	int fd;
	int dev_fd;
	__u32 dev_id;
	__u32 ioas;
	volatile uint8_t *bar;
	uint8_t *buf; /* 4 pages */
};

FIXTURE_VARIANT(type1_edu)
{
	unsigned long type;
};

FIXTURE_VARIANT_ADD(type1_edu, v2)
{
	.type = VFIO_TYPE1v2_IOMMU,
};

FIXTURE_VARIANT_ADD(type1_edu, v1)
{
	.type = VFIO_TYPE1_IOMMU,
};

FIXTURE_SETUP(type1_edu)
{
	struct edus e = { .n = 0 };

	for_each_pci_device(EDU_VENDOR, EDU_DEVICE, collect_edu, &e);
	if (e.n < 1)
		SKIP(return, "no edu device in this machine");
	snprintf(self->bdf, sizeof(self->bdf), "%s", e.bdf[0]);
	ASSERT_EQ(0, edu_open(self->bdf, &self->fd, &self->dev_fd, &self->bar));
	self->buf = alloc_pages(4 * PAGE);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(type1_edu)
{
	edu_release(self->bdf, self->fd, self->dev_fd, self->bar);
}

TEST_F(type1_edu, map_dma_unmap_and_fault)
{
	uint8_t infobuf[256];
	struct vfio_iommu_type1_info *info = (void *)infobuf;
	struct vfio_iommu_type1_info_cap_iova_range *cap;
	struct vfio_info_cap_header *h;
	__u64 iova = 0, unmapped;
	__u32 i;

	/* The "container": an IOAS for the VFIO ioctls, the device attached to it. */
	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd, &self->dev_id));
	ASSERT_EQ(0, edu_bus_master(self->bdf));
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id, self->ioas, NULL));

	/* What a type1 user does first. */
	ASSERT_EQ(VFIO_API_VERSION, ioctl(self->fd, VFIO_GET_API_VERSION));
	ASSERT_EQ(1, ioctl(self->fd, VFIO_CHECK_EXTENSION, variant->type));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, variant->type));
	EXPECT_EQ(1, ioctl(self->fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU));
	*info = (struct vfio_iommu_type1_info){ .argsz = sizeof(infobuf) };
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_GET_INFO, info));
	ASSERT_GE(sizeof(infobuf), info->argsz);
	ASSERT_NE(0, info->cap_offset);
	EXPECT_NE(0, info->iova_pgsizes & PAGE);
	EXPECT_EQ(0, info->iova_pgsizes & (PAGE - 1));
	/* The first usable range of at least 1 MiB above 1 MiB: where the buffer goes. */
	for (h = (void *)(infobuf + info->cap_offset);; h = (void *)(infobuf + h->next)) {
		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
			break;
		ASSERT_NE(0, h->next);
	}
	cap = (void *)h;
	for (i = 0; i < cap->nr_iovas && !iova; i++) {
		__u64 start = cap->iova_ranges[i].start < 0x100000 ? 0x100000 :
								     cap->iova_ranges[i].start;

		if (cap->iova_ranges[i].end >= start + 0x100000)
			iova = start;
	}
	ASSERT_NE(0, iova);

	/* Map, DMA both ways through the IOMMU. */
	ASSERT_EQ(0, map_dma(self->fd, self->buf, iova, 4 * PAGE, RW));
	for (i = 0; i < PAGE; i++)
		self->buf[i] = (uint8_t)(i * 5 + 1);
	memset(self->buf + PAGE, 0, 3 * PAGE);
	ASSERT_EQ(0, edu_dma(self->bar, iova, 0, PAGE, false));
	ASSERT_EQ(0, edu_dma(self->bar, iova + 3 * PAGE, 0, PAGE, true));
	EXPECT_EQ(0, memcmp(self->buf, self->buf + 3 * PAGE, PAGE));

	if (variant->type == VFIO_TYPE1_IOMMU) {
		/* v1: a page out of the middle; its neighbours stay reachable. */
		ASSERT_EQ(0, unmap_dma(self->fd, iova + PAGE, PAGE, 0, &unmapped));
		EXPECT_EQ(PAGE, unmapped);
		memset(self->buf + 2 * PAGE, 0x11, PAGE);
		ASSERT_EQ(0, edu_dma(self->bar, iova + 2 * PAGE, 0, PAGE, true));
		EXPECT_EQ(0, memcmp(self->buf, self->buf + 2 * PAGE, PAGE));
	} else {
		/* v2: the mapping is whole or nothing. */
		EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, iova + PAGE, PAGE, 0, &unmapped));
		ASSERT_EQ(0, unmap_dma(self->fd, iova, 4 * PAGE, 0, &unmapped));
		EXPECT_EQ(4 * PAGE, unmapped);
	}
	/* The unmapped page: the IOMMU faults the DMA, memory keeps its bytes. */
	memset(self->buf + PAGE, 0x22, PAGE);
	EXPECT_TRUE(dma_faults(self->bar, iova + PAGE));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x22, PAGE));

	ASSERT_EQ(0, unmap_dma(self->fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	ASSERT_EQ(0, device_detach(self->fd, self->dev_id));
}

TEST_HARNESS_MAIN
