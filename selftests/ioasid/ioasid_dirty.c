// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking on the module's mock IOMMU (test interface, selftest=1), as a VMM uses it
 * to migrate a VM with a device: IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
 * IOMMU_HWPT_SET_DIRTY_TRACKING and IOMMU_HWPT_GET_DIRTY_BITMAP, with the dirty bits set
 * by the mock device's own DMA writes (IOASID_TEST_OP_MOCK_DMA), not by a test op:
 * - a pre-copy loop finds exactly the pages written in each round, reads mark nothing,
 *   NO_CLEAR keeps the state, tracking off records nothing, turning it on starts clean;
 * - a dirty IOPTE shows whole at the requested granularity (a 4 KiB IOPTE is two bits at
 *   2 KiB; a 1 MiB IOPTE of a MOCK_IOMMUPT_HUGE HWPT is 256 bits at 4 KiB);
 * - bitmaps at any byte address, bits ORed into what the bitmap holds;
 * - every refusal of the two ioctls, and devices that cannot track dirty pages.
 * Written against the uAPI documentation in include/uapi/linux/ioasid.h.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"
#include "ioasid_edu_utils.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define IOVA (MOCK_APERTURE_START + (1UL << 20))
#define PAGES 64
#define PSZ 4096UL

/* Bit `i` of a little-endian byte bitmap. */
static bool bit(const unsigned char *map, unsigned long i)
{
	return map[i / 8] & (1 << (i % 8));
}

/* The indexes of the set bits of map[0..nbits), as a string ("3 5 17"). */
static const char *bits_of(const unsigned char *map, unsigned long nbits)
{
	static char out[1024];
	size_t n = 0;

	out[0] = 0;
	for (unsigned long i = 0; i < nbits && n < sizeof(out) - 16; i++)
		if (bit(map, i))
			n += snprintf(out + n, sizeof(out) - n, "%s%lu", n ? " " : "", i);
	return out;
}

FIXTURE(dirty)
{
	int fd;
	char *buf;
	__u32 ioas, stdev, idev, hwpt;
};

FIXTURE_SETUP(dirty)
{
	__u64 iova = IOVA;

	self->fd = -1;
	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	self->fd = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->buf = mmap(NULL, PAGES * PSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0, PAGES * PSZ);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, PAGES * PSZ, &iova,
			      IOMMU_IOAS_MAP_FIXED_IOVA | RW));
	/* A mock device on the IOAS, then moved to a HWPT that tracks dirty pages. */
	ASSERT_EQ(0, test_mock_domain_flags(self->fd, self->ioas, 0, &self->stdev, NULL,
					    &self->idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, self->idev, self->ioas,
				0, NULL, 0, &self->hwpt));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->hwpt));
}

FIXTURE_TEARDOWN(dirty)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* The device writes one byte into each page of `pages` (-1 ends the list). */
static int dma_write(int fd, __u32 dev, const int *pages)
{
	char b = 0x5a;

	for (; *pages >= 0; pages++)
		if (test_mock_dma(fd, dev, IOVA + *pages * PSZ + 100, &b, 1, true))
			return -1;
	return 0;
}

/* The dirty pages of the whole mapping at 4 KiB, as a string; `flags` as the ioctl's. */
static const char *read_dirty(int fd, __u32 hwpt, __u32 flags)
{
	unsigned char map[PAGES / 8] = { 0 };

	if (get_dirty_bitmap(fd, hwpt, IOVA, PAGES * PSZ, PSZ, map, flags))
		return strerror(errno);
	return bits_of(map, PAGES);
}

TEST_F(dirty, pre_copy_rounds_find_exactly_the_pages_the_device_wrote)
{
	const int round1[] = { 0, 5, 17, 63, -1 }, round2[] = { 3, 5, -1 };
	char in[64];

	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt, true));
	EXPECT_STREQ("", read_dirty(self->fd, self->hwpt, 0));

	/* Round 1: writes to four pages; reads of others mark nothing. */
	ASSERT_EQ(0, dma_write(self->fd, self->stdev, round1));
	ASSERT_EQ(0, test_mock_dma(self->fd, self->stdev, IOVA + 1 * PSZ, in, sizeof(in), false));
	ASSERT_EQ(0, test_mock_dma(self->fd, self->stdev, IOVA + 40 * PSZ, in, sizeof(in), false));
	EXPECT_STREQ("0 5 17 63", read_dirty(self->fd, self->hwpt, 0));
	/* Read and cleared: nothing until the device writes again. */
	EXPECT_STREQ("", read_dirty(self->fd, self->hwpt, 0));

	/* Round 2: NO_CLEAR keeps the state for the next read. */
	ASSERT_EQ(0, dma_write(self->fd, self->stdev, round2));
	EXPECT_STREQ("3 5", read_dirty(self->fd, self->hwpt, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	EXPECT_STREQ("3 5", read_dirty(self->fd, self->hwpt, 0));
	EXPECT_STREQ("", read_dirty(self->fd, self->hwpt, 0));
	/* The writes went to memory. */
	EXPECT_EQ(0x5a, self->buf[5 * PSZ + 100]);
}

TEST_F(dirty, tracking_off_records_nothing_and_on_starts_clean)
{
	const int p2[] = { 2, -1 }, p7[] = { 7, -1 }, p9[] = { 9, -1 };

	/* Off (as allocated): a write is not recorded. */
	ASSERT_EQ(0, dma_write(self->fd, self->stdev, p2));
	EXPECT_STREQ("", read_dirty(self->fd, self->hwpt, 0));
	/* A bit set while on and still unread when tracking goes off and on again is gone. */
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt, true));
	ASSERT_EQ(0, dma_write(self->fd, self->stdev, p7));
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt, false));
	ASSERT_EQ(0, dma_write(self->fd, self->stdev, p9));
	EXPECT_STREQ("7", read_dirty(self->fd, self->hwpt, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt, true));
	/* Enabling twice is no error, and clears nothing new. */
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt, true));
	EXPECT_STREQ("", read_dirty(self->fd, self->hwpt, 0));
	ASSERT_EQ(0, dma_write(self->fd, self->stdev, p9));
	EXPECT_STREQ("9", read_dirty(self->fd, self->hwpt, 0));
}

TEST_F(dirty, an_iopte_is_reported_whole_at_a_finer_granularity)
{
	const int p6[] = { 6, -1 };
	unsigned char map[2 * PAGES / 8] = { 0 };

	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt, true));
	ASSERT_EQ(0, dma_write(self->fd, self->stdev, p6));
	/* The mapping's IOPTEs are 4 KiB: one byte written dirties both 2 KiB halves. */
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt, IOVA, PAGES * PSZ, 2048, map, 0));
	EXPECT_STREQ("12 13", bits_of(map, 2 * PAGES));
	/* At 8 KiB, page 6 is in bit 3; a range that starts at page 4 puts it in bit 1. */
	ASSERT_EQ(0, dma_write(self->fd, self->stdev, p6));
	memset(map, 0, sizeof(map));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt, IOVA + 4 * PSZ, 8 * PSZ, 2 * PSZ, map,
				      0));
	EXPECT_STREQ("1", bits_of(map, 4));
}

TEST_F(dirty, bitmaps_at_any_byte_address_are_ored_into)
{
	const int pages[] = { 0, 9, 62, -1 };
	unsigned char raw[PAGES / 8 + 16];

	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt, true));
	for (int at = 1; at < 8; at += 3) {
		unsigned char *map = raw + at;

		memset(raw, 0, sizeof(raw));
		map[0] = 0x80;		/* bit 7: not dirty, must stay */
		map[7] = 0x01;		/* bit 56 */
		raw[at - 1] = 0xee;	/* before the bitmap: untouched */
		map[PAGES / 8] = 0x77;	/* after it: untouched */
		ASSERT_EQ(0, dma_write(self->fd, self->stdev, pages));
		ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt, IOVA, PAGES * PSZ, PSZ, map, 0));
		EXPECT_STREQ("0 7 9 56 62", bits_of(map, PAGES));
		EXPECT_EQ(0xee, raw[at - 1]);
		EXPECT_EQ(0x77, map[PAGES / 8]);
	}
}

TEST_F(dirty, every_refusal_has_its_errno)
{
	unsigned char map[PAGES / 8];
	struct iommu_hwpt_set_dirty_tracking set = {
		.size = sizeof(set), .flags = 2, .hwpt_id = self->hwpt,
	};
	struct iommu_hwpt_get_dirty_bitmap get = {
		.size = sizeof(get), .hwpt_id = self->hwpt, .flags = 2, .iova = IOVA,
		.length = PSZ, .page_size = PSZ, .data = (uintptr_t)map,
	};
	const int p0[] = { 0, -1 };
	__u32 plain;

	/* A HWPT without dirty tracking, on the same IOAS. */
	ASSERT_EQ(0, hwpt_alloc(self->fd, 0, self->idev, self->ioas, 0, NULL, 0, &plain));

	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &set));
	EXPECT_ERRNO(ENOENT, set_dirty_tracking(self->fd, self->ioas, true));
	EXPECT_ERRNO(ENOENT, set_dirty_tracking(self->fd, 9999, true));
	EXPECT_ERRNO(EOPNOTSUPP, set_dirty_tracking(self->fd, plain, true));

	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get));
	get.flags = 0;
	get.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get));
	EXPECT_ERRNO(ENOENT, get_dirty_bitmap(self->fd, self->ioas, IOVA, PSZ, PSZ, map, 0));
	EXPECT_ERRNO(EOPNOTSUPP, get_dirty_bitmap(self->fd, plain, IOVA, PSZ, PSZ, map, 0));
	EXPECT_ERRNO(EINVAL, get_dirty_bitmap(self->fd, self->hwpt, IOVA, 0, PSZ, map, 0));
	EXPECT_ERRNO(EINVAL, get_dirty_bitmap(self->fd, self->hwpt, IOVA, PSZ, 0, map, 0));
	EXPECT_ERRNO(EINVAL, get_dirty_bitmap(self->fd, self->hwpt, IOVA, 3 * PSZ, 3 * PSZ, map, 0));
	EXPECT_ERRNO(EINVAL, get_dirty_bitmap(self->fd, self->hwpt, IOVA + PSZ, 2 * PSZ, 2 * PSZ,
					      map, 0));
	/* Misaligned for the IOAS (2 KiB with the mock's domains). */
	EXPECT_ERRNO(EINVAL, get_dirty_bitmap(self->fd, self->hwpt, IOVA + 1024, 1024, 1024, map,
					      0));
	/* Beyond the mapping, and before it. */
	EXPECT_ERRNO(EINVAL, get_dirty_bitmap(self->fd, self->hwpt, IOVA, (PAGES + 1) * PSZ, PSZ,
					      map, 0));
	EXPECT_ERRNO(EINVAL, get_dirty_bitmap(self->fd, self->hwpt, IOVA - PSZ, 2 * PSZ, PSZ, map,
					      0));
	EXPECT_ERRNO(EOVERFLOW, get_dirty_bitmap(self->fd, self->hwpt, -PSZ, 2 * PSZ, PSZ, map, 0));
	/* A bitmap that cannot be written: the dirty page is reported as EFAULT. */
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt, true));
	ASSERT_EQ(0, dma_write(self->fd, self->stdev, p0));
	EXPECT_ERRNO(EFAULT, get_dirty_bitmap(self->fd, self->hwpt, IOVA, PSZ, PSZ, NULL, 0));
	EXPECT_EQ(0, destroy(self->fd, plain));
}

TEST_F(dirty, devices_that_cannot_track_dirty_pages)
{
	struct iommu_hw_info info = { .size = sizeof(info), .dev_id = self->idev };
	__u32 stdev, idev, ioas2, hwpt;

	/* The capability as GET_HW_INFO reports it. */
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
	EXPECT_EQ(IOMMU_HW_CAP_DIRTY_TRACKING, info.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING);
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, test_mock_domain_flags(self->fd, ioas2, MOCK_FLAGS_DEVICE_NO_DIRTY, &stdev,
					    NULL, &idev));
	info.dev_id = idev;
	info.data_len = 0;	/* written back with the data's length */
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
	EXPECT_EQ(0, info.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING);
	/* No dirty-tracking HWPT for it, and it cannot join one (as iommufd's enforce_dirty). */
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, idev, ioas2,
					    0, NULL, 0, &hwpt));
	EXPECT_ERRNO(EINVAL, test_mock_domain_replace(self->fd, stdev, self->hwpt));
	EXPECT_ERRNO(EINVAL, test_mock_domain_flags(self->fd, self->hwpt,
						    MOCK_FLAGS_DEVICE_NO_DIRTY, NULL, NULL, NULL));
	/* A plain attach to the same IOAS works, and nothing is left counted on the HWPT. */
	EXPECT_EQ(0, test_mock_domain_replace(self->fd, stdev, self->ioas));
	EXPECT_EQ(0, destroy(self->fd, stdev));
	EXPECT_EQ(0, destroy(self->fd, self->stdev));
	EXPECT_EQ(0, destroy(self->fd, self->hwpt));
}

/* A 2 MiB huge page behind a MOCK_IOMMUPT_HUGE HWPT: 1 MiB IOPTEs. */
TEST_F(dirty, a_huge_iopte_is_every_page_it_maps)
{
	struct iommu_hwpt_selftest data = { .pagetable_type = MOCK_IOMMUPT_HUGE };
	const unsigned long huge = 2UL << 20, base = MOCK_APERTURE_START + (16UL << 20);
	unsigned char map[512 / 8];
	__u32 ioas2, stdev, idev, hwpt;
	__u64 iova = base;
	char nr[32], b = 1;
	void *mem;

	write_str("/proc/sys/vm/nr_hugepages", "4");
	if (read_file("/proc/sys/vm/nr_hugepages", nr, sizeof(nr)) < 0 || atoi(nr) < 1)
		SKIP(return, "no 2 MiB huge page in the guest");
	mem = mmap(NULL, huge, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		write_str("/proc/sys/vm/nr_hugepages", "0");
		SKIP(return, "no 2 MiB huge page in the guest");
	}
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, ioas_map(self->fd, ioas2, mem, huge, &iova, IOMMU_IOAS_MAP_FIXED_IOVA | RW));
	ASSERT_EQ(0, test_mock_domain_flags(self->fd, ioas2, 0, &stdev, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, idev, ioas2,
				IOMMU_HWPT_DATA_SELFTEST, &data, sizeof(data), &hwpt));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, stdev, hwpt));
	ASSERT_EQ(0, set_dirty_tracking(self->fd, hwpt, true));
	/* One byte in the second MiB: its 256 pages, and none of the first MiB. */
	ASSERT_EQ(0, test_mock_dma(self->fd, stdev, base + MOCK_HUGE_PAGE_SIZE + 4000, &b, 1, true));
	memset(map, 0, sizeof(map));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, hwpt, base, huge, PSZ, map, 0));
	for (int i = 0; i < 512; i++)
		EXPECT_EQ(i >= 256, bit(map, i));
	/* Reading a part clears the whole IOPTE: the other part is clean after. */
	ASSERT_EQ(0, test_mock_dma(self->fd, stdev, base + 5, &b, 1, true));
	memset(map, 0, sizeof(map));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, hwpt, base, 64 * PSZ, PSZ, map, 0));
	EXPECT_STREQ(bits_of(map, 64), "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 "
		     "22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 "
		     "47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63");
	memset(map, 0, sizeof(map));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, hwpt, base, huge, PSZ, map, 0));
	EXPECT_STREQ("", bits_of(map, 512));
	EXPECT_EQ(0, destroy(self->fd, stdev));
	EXPECT_EQ(0, destroy(self->fd, hwpt));
	close(self->fd);
	self->fd = -1;
	munmap(mem, huge);
	write_str("/proc/sys/vm/nr_hugepages", "0");
}

TEST_HARNESS_MAIN
