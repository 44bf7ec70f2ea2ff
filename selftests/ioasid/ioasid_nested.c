// SPDX-License-Identifier: GPL-2.0
/*
 * Nested HWPTs on the module's mock IOMMU (test interface, selftest=1), with upstream
 * iommufd's selftest data types (IOMMU_HWPT_DATA_SELFTEST, a 4-entry mock IOTLB;
 * IOMMU_HWPT_INVALIDATE_DATA_SELFTEST):
 * - IOMMU_HWPT_ALLOC on a NEST_PARENT HWPT and every refusal, each leaving nothing behind;
 * - the parent is EBUSY while a nested HWPT uses it;
 * - IOMMU_HWPT_INVALIDATE: bounds, types and flags, entries handled in order up to the
 *   first failing one, the count written back;
 * - mock DMA through a nested HWPT (stage 1 is the identity for this type, stage 2 the
 *   parent), and devices replacing between nested and paging HWPTs with DMA running;
 * - closing the file with nested HWPTs attached releases every pin;
 * - ioasid's own IOASID_HWPT_DATA_MOCK_S1: mock DMA walks the user's stage-1 table through
 *   stage 2 (reach, faults and read-only at either stage), keeps a stale translation until
 *   IOMMU_HWPT_INVALIDATE, and forgets it when the parent unmaps anything.
 * Written against the uAPI documentation in include/uapi/linux/ioasid.h.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define IOVA (MOCK_APERTURE_START + (1UL << 20))
#define BUF_PAGES 8

/* Every IOTLB entry of `hwpt` holds `value`. */
static int iotlb_all(int fd, __u32 hwpt, __u32 value)
{
	return check_all(fd, hwpt, MOCK_NESTED_DOMAIN_IOTLB_NUM, value, check_iotlb);
}

FIXTURE(nested)
{
	int fd;
	long psz;
	char *buf;
	__u32 ioas, stdev, auto_hwpt, idev;
	__u32 parent;	/* a NEST_PARENT HWPT on ioas */
	__u32 plain;	/* a HWPT on ioas without NEST_PARENT */
};

FIXTURE_SETUP(nested)
{
	__u64 iova;

	self->fd = -1;
	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	self->psz = sysconf(_SC_PAGESIZE);
	self->fd = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->buf = mmap(NULL, BUF_PAGES * self->psz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0, BUF_PAGES * self->psz);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	/* One area per page: a test can unmap any one of them. */
	for (int i = 0; i < BUF_PAGES; i++) {
		iova = IOVA + i * self->psz;
		ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf + i * self->psz, self->psz,
				      &iova, RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	}
	ASSERT_EQ(0, mock_nest_setup(self->fd, self->ioas, &self->stdev, &self->auto_hwpt,
				     &self->idev, &self->parent, &self->plain));
}

FIXTURE_TEARDOWN(nested)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, BUF_PAGES * self->psz);
}

TEST_F(nested, alloc_refusals_are_exact_and_leave_nothing_behind)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	char long_data[sizeof(data) + 1] = { 0 };
	__u32 nested, inner;
	const struct {
		const char *what;
		int err;
		__u32 flags, dev, pt, type, len;
		const void *data;
	} cases[] = {
		{ "data with type NONE", EINVAL, 0, self->idev, self->parent, 0, sizeof(data), &data },
		{ "unknown data type", EOPNOTSUPP, 0, self->idev, self->parent,
		  IOMMU_HWPT_DATA_SELFTEST + 1, sizeof(data), &data },
		{ "data shorter than its first version", EINVAL, 0, self->idev, self->parent,
		  IOMMU_HWPT_DATA_SELFTEST, 3, &data },
		{ "data longer than the structure", EINVAL, 0, self->idev, self->parent,
		  IOMMU_HWPT_DATA_SELFTEST, sizeof(long_data), long_data },
		{ "NULL data", EFAULT, 0, self->idev, self->parent, IOMMU_HWPT_DATA_SELFTEST,
		  sizeof(data), NULL },
		{ "NEST_PARENT on a nested HWPT", EOPNOTSUPP, IOMMU_HWPT_ALLOC_NEST_PARENT,
		  self->idev, self->parent, IOMMU_HWPT_DATA_SELFTEST, sizeof(data), &data },
		{ "DIRTY_TRACKING on a nested HWPT", EOPNOTSUPP, IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		  self->idev, self->parent, IOMMU_HWPT_DATA_SELFTEST, sizeof(data), &data },
		{ "fault queue 0, which does not exist", ENOENT, IOMMU_HWPT_FAULT_ID_VALID,
		  self->idev, self->parent, IOMMU_HWPT_DATA_SELFTEST, sizeof(data), &data },
		{ "a parent without NEST_PARENT", EINVAL, 0, self->idev, self->plain,
		  IOMMU_HWPT_DATA_SELFTEST, sizeof(data), &data },
		{ "an automatic parent", EINVAL, 0, self->idev, self->auto_hwpt,
		  IOMMU_HWPT_DATA_SELFTEST, sizeof(data), &data },
		{ "no such parent", EINVAL, 0, self->idev, 0xffffff, IOMMU_HWPT_DATA_SELFTEST,
		  sizeof(data), &data },
		{ "a device that is not one", ENOENT, 0, self->ioas, self->parent,
		  IOMMU_HWPT_DATA_SELFTEST, sizeof(data), &data },
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		nested = 0;
		EXPECT_EQ(-1, hwpt_alloc(self->fd, cases[i].flags, cases[i].dev, cases[i].pt,
					 cases[i].type, cases[i].data, cases[i].len, &nested))
			TH_LOG("%s", cases[i].what);
		EXPECT_EQ(cases[i].err, errno) TH_LOG("%s", cases[i].what);
		EXPECT_EQ(0, nested);
	}
	/* Nested on nested. */
	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, 1, &nested));
	EXPECT_ERRNO(EINVAL, nested_alloc(self->fd, self->idev, nested, 1, &inner));
	ASSERT_EQ(0, destroy(self->fd, nested));
	/* No refusal left a child counted in the parent, nor anything in the plain HWPT. */
	EXPECT_EQ(0, destroy(self->fd, self->parent));
	EXPECT_EQ(0, destroy(self->fd, self->plain));
}

TEST_F(nested, parent_is_busy_while_a_nested_hwpt_uses_it)
{
	__u32 a, b;

	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, 1, &a));
	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, 2, &b));
	EXPECT_NE(a, b);
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->parent));
	ASSERT_EQ(0, destroy(self->fd, a));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->parent));
	ASSERT_EQ(0, destroy(self->fd, b));
	EXPECT_EQ(0, destroy(self->fd, self->parent));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, a));
}

TEST_F(nested, iotlb_starts_at_the_given_value_and_invalidation_clears_it)
{
	struct iommu_hwpt_invalidate_selftest inv[2] = {};
	__u32 a, b, num;

	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, IOMMU_TEST_IOTLB_DEFAULT,
				  &a));
	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, 0x1234, &b));
	EXPECT_EQ(0, iotlb_all(self->fd, a, IOMMU_TEST_IOTLB_DEFAULT));
	EXPECT_EQ(0, iotlb_all(self->fd, b, 0x1234));
	/* The check itself can fail. */
	EXPECT_ERRNO(EINVAL, check_iotlb(self->fd, a, 0, 0x1234));
	EXPECT_ERRNO(EINVAL, check_iotlb(self->fd, a, MOCK_NESTED_DOMAIN_IOTLB_NUM, 0));
	EXPECT_ERRNO(ENOENT, check_iotlb(self->fd, self->parent, 0, 0));

	/* An empty array only probes the type. */
	num = 0;
	EXPECT_EQ(0, invalidate(self->fd, a, inv, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
				sizeof(inv[0]), &num));
	EXPECT_EQ(0, num);
	EXPECT_EQ(0, iotlb_all(self->fd, a, IOMMU_TEST_IOTLB_DEFAULT));

	/* Entries 1 and 3 of a; b untouched. */
	inv[0].iotlb_id = 1;
	inv[1].iotlb_id = 3;
	num = 2;
	ASSERT_EQ(0, invalidate(self->fd, a, inv, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
				sizeof(inv[0]), &num));
	EXPECT_EQ(2, num);
	EXPECT_EQ(0, check_iotlb(self->fd, a, 0, IOMMU_TEST_IOTLB_DEFAULT));
	EXPECT_EQ(0, check_iotlb(self->fd, a, 1, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, a, 2, IOMMU_TEST_IOTLB_DEFAULT));
	EXPECT_EQ(0, check_iotlb(self->fd, a, 3, 0));
	EXPECT_EQ(0, iotlb_all(self->fd, b, 0x1234));

	/* FLAG_ALL ignores the ID. */
	inv[0].flags = IOMMU_TEST_INVALIDATE_FLAG_ALL;
	inv[0].iotlb_id = 1000;
	num = 1;
	ASSERT_EQ(0, invalidate(self->fd, b, inv, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
				sizeof(inv[0]), &num));
	EXPECT_EQ(1, num);
	EXPECT_EQ(0, iotlb_all(self->fd, b, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, a, 0, IOMMU_TEST_IOTLB_DEFAULT));
}

TEST_F(nested, invalidate_refusals_write_back_zero_and_change_nothing)
{
	struct iommu_hwpt_invalidate_selftest inv[2] = {};
	struct iommu_hwpt_invalidate_selftest bad_flags = { .flags = 0x2 };
	struct iommu_hwpt_invalidate_selftest bad_id = { .iotlb_id = MOCK_NESTED_DOMAIN_IOTLB_NUM };
	__u32 a, num;
	const __u32 T = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;

	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, IOMMU_TEST_IOTLB_DEFAULT,
				  &a));
	const struct {
		const char *what;
		int err;
		__u32 hwpt;
		const void *entries;
		__u32 type, len, num;
	} cases[] = {
		{ "NULL entries", EINVAL, a, NULL, T, sizeof(inv[0]), 1 },
		{ "entry_len 0", EINVAL, a, inv, T, 0, 1 },
		{ "entry_len above a page", EINVAL, a, inv, T, self->psz + 1, 1 },
		{ "entry_num above 2^19", EINVAL, a, inv, T, sizeof(inv[0]), (1U << 19) + 1 },
		{ "another entry type", EINVAL, a, inv, T + 1, sizeof(inv[0]), 1 },
		{ "another entry type, no entry", EINVAL, a, inv, T + 1, sizeof(inv[0]), 0 },
		{ "entry shorter than the structure", EINVAL, a, inv, T, 1, 1 },
		{ "entry longer than the structure", EINVAL, a, inv, T, sizeof(inv[0]) + 1, 1 },
		{ "unknown flags", EOPNOTSUPP, a, &bad_flags, T, sizeof(inv[0]), 1 },
		{ "IOTLB entry beyond the IOTLB", EINVAL, a, &bad_id, T, sizeof(inv[0]), 1 },
		{ "a paging HWPT", EINVAL, self->parent, inv, T, sizeof(inv[0]), 1 },
		{ "an IOAS", EINVAL, self->ioas, inv, T, sizeof(inv[0]), 1 },
		{ "no such object", ENOENT, 0xffffff, inv, T, sizeof(inv[0]), 1 },
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		num = cases[i].num;
		EXPECT_EQ(-1, invalidate(self->fd, cases[i].hwpt, cases[i].entries, cases[i].type,
					 cases[i].len, &num))
			TH_LOG("%s", cases[i].what);
		EXPECT_EQ(cases[i].err, errno) TH_LOG("%s", cases[i].what);
		EXPECT_EQ(0, num) TH_LOG("%s", cases[i].what);
		EXPECT_EQ(0, iotlb_all(self->fd, a, IOMMU_TEST_IOTLB_DEFAULT))
			TH_LOG("%s", cases[i].what);
	}

	/* A non-zero reserved field. */
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd), .hwpt_id = a, .data_uptr = (uintptr_t)inv, .data_type = T,
		.entry_len = sizeof(inv[0]), .entry_num = 1, .__reserved = 1,
	};
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_INVALIDATE, &cmd));
	EXPECT_EQ(0, cmd.entry_num);
	EXPECT_EQ(0, iotlb_all(self->fd, a, IOMMU_TEST_IOTLB_DEFAULT));
}

TEST_F(nested, invalidate_stops_at_the_first_failing_entry)
{
	struct iommu_hwpt_invalidate_selftest inv[3] = {
		{ .iotlb_id = 0 },
		{ .iotlb_id = 2 },
		{ .flags = 0x80, .iotlb_id = 3 },
	};
	__u32 a, num = 3;

	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, IOMMU_TEST_IOTLB_DEFAULT,
				  &a));
	EXPECT_ERRNO(EOPNOTSUPP, invalidate(self->fd, a, inv, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
					    sizeof(inv[0]), &num));
	EXPECT_EQ(2, num);
	EXPECT_EQ(0, check_iotlb(self->fd, a, 0, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, a, 1, IOMMU_TEST_IOTLB_DEFAULT));
	EXPECT_EQ(0, check_iotlb(self->fd, a, 2, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, a, 3, IOMMU_TEST_IOTLB_DEFAULT));

	/* An entry ID out of range stops it the same way. */
	inv[0].iotlb_id = 1;
	inv[1].iotlb_id = MOCK_NESTED_DOMAIN_IOTLB_NUM;
	num = 3;
	EXPECT_ERRNO(EINVAL, invalidate(self->fd, a, inv, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
					sizeof(inv[0]), &num));
	EXPECT_EQ(1, num);
	EXPECT_EQ(0, check_iotlb(self->fd, a, 1, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, a, 3, IOMMU_TEST_IOTLB_DEFAULT));
}

TEST_F(nested, mock_dma_goes_through_the_nested_hwpt_and_its_parent)
{
	char pattern[64], back[64];
	__u32 a;

	for (unsigned int i = 0; i < sizeof(pattern); i++)
		pattern[i] = (char)(i * 7 + 1);
	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, 1, &a));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, a));
	/* A device on it makes it busy. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, a));
	ASSERT_EQ(0, test_mock_dma(self->fd, self->stdev, IOVA + self->psz + 8, pattern,
			      sizeof(pattern), true));
	EXPECT_EQ(0, memcmp(self->buf + self->psz + 8, pattern, sizeof(pattern)));
	memset(back, 0, sizeof(back));
	ASSERT_EQ(0, test_mock_dma(self->fd, self->stdev, IOVA + self->psz + 8, back, sizeof(back),
			      false));
	EXPECT_EQ(0, memcmp(back, pattern, sizeof(back)));
	/* What stage 2 does not map faults, and an unmap in the parent's IOAS is seen at once. */
	EXPECT_ERRNO(EFAULT, test_mock_dma(self->fd, self->stdev, IOVA + BUF_PAGES * self->psz, back,
				      8, false));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, IOVA, BUF_PAGES * self->psz, NULL));
	EXPECT_ERRNO(EFAULT, test_mock_dma(self->fd, self->stdev, IOVA + self->psz, back, 8, false));
	/* Back to a paging HWPT: the nested one can go. */
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->parent));
	EXPECT_EQ(0, destroy(self->fd, a));
}

struct dma_loop {
	int fd;
	__u32 stdev;
	__u64 iova;
	atomic_bool done;
	atomic_long ok, faults;
};

static void *dma_loop(void *arg)
{
	struct dma_loop *l = arg;
	char b[32];

	while (!atomic_load(&l->done)) {
		if (test_mock_dma(l->fd, l->stdev, l->iova, b, sizeof(b), false))
			atomic_fetch_add(&l->faults, 1);
		else
			atomic_fetch_add(&l->ok, 1);
	}
	return NULL;
}

/* Replace moves the device between HWPTs that all translate IOVA: no DMA ever faults. */
TEST_F_TIMEOUT(nested, replace_between_nested_and_paging_never_leaves_dma_untranslated, 120)
{
	struct dma_loop l = { .fd = self->fd, .stdev = self->stdev, .iova = IOVA };
	pthread_t t;
	__u32 n[2];
	int rounds = 100;

	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, 1, &n[0]));
	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, 2, &n[1]));
	ASSERT_EQ(0, pthread_create(&t, NULL, dma_loop, &l));
	for (int i = 0; i < rounds; i++) {
		__u32 targets[] = { n[0], self->parent, n[1], self->plain, self->ioas };

		ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, targets[i % 5]))
			TH_LOG("round %d", i);
	}
	atomic_store(&l.done, true);
	pthread_join(t, NULL);
	TH_LOG("%ld DMAs during %d replaces", atomic_load(&l.ok), rounds);
	EXPECT_EQ(0, atomic_load(&l.faults));
	EXPECT_LT(0, atomic_load(&l.ok));
}

TEST_F(nested, closing_the_file_with_nested_hwpts_attached_releases_every_pin)
{
	__u32 a, b;

	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, 1, &a));
	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->parent, 2, &b));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, a));
	ASSERT_EQ(0, test_check_refs(self->fd, self->buf, BUF_PAGES * self->psz, 1));
	/* Another file checks the pins: this one goes away with everything in it. */
	int other = open(IOASID_DEV, O_RDWR);

	ASSERT_LE(0, other);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, test_check_refs(other, self->buf, BUF_PAGES * self->psz, 0));
	close(other);
}

/* --- ioasid's own stage-1 format ------------------------------------------------------ */

/*
 * The fixture's buffer, mapped at IOVA (the "guest-physical" space of the parent's IOAS),
 * holds the stage-1 tables and the pages they map.
 */
enum { L1, L2, PAGE_A, PAGE_B, PAGE_C, SPARE };
/* A device IOVA: level-1 index 2, level-2 index 3. */
#define DEV_IOVA ((2UL << 21) | (3UL << 12))
#define S1_RW (IOASID_MOCK_S1_VALID | IOASID_MOCK_S1_READ | IOASID_MOCK_S1_WRITE)

static __u64 gpa(struct _test_data_nested *self, int page)
{
	return IOVA + (__u64)page * self->psz;
}

static __u64 *entry(struct _test_data_nested *self, int table, __u64 dev_iova)
{
	__u64 *t = (__u64 *)(self->buf + table * self->psz);

	return &t[(dev_iova >> (table == L1 ? 21 : 12)) & 511];
}

static int s1_alloc(int fd, __u32 dev_id, __u32 parent, __u64 root, __u32 *out)
{
	struct ioasid_hwpt_mock_s1 data = { .root = root };

	return hwpt_alloc(fd, 0, dev_id, parent, IOASID_HWPT_DATA_MOCK_S1, &data, sizeof(data),
			  out);
}

static int s1_invalidate(int fd, __u32 hwpt, __u64 iova, __u64 length, __u32 flags)
{
	struct ioasid_hwpt_invalidate_mock_s1 inv = { .iova = iova, .length = length,
						       .flags = flags };
	__u32 num = 1;

	return invalidate(fd, hwpt, &inv, IOASID_HWPT_INVALIDATE_DATA_MOCK_S1, sizeof(inv), &num);
}

/* The first byte mock DMA reads at dev_iova, or -errno. */
static int dma_byte(struct _test_data_nested *self, __u64 dev_iova)
{
	unsigned char b = 0;

	if (test_mock_dma(self->fd, self->stdev, dev_iova, &b, 1, false))
		return -errno;
	return b;
}

/* A nested HWPT with the fixture's tables, DEV_IOVA -> PAGE_A, the device attached. */
static __u32 s1_setup(struct __test_metadata *_metadata, struct _test_data_nested *self)
{
	__u32 hwpt = 0;

	memset(self->buf + PAGE_A * self->psz, 0xa1, self->psz);
	memset(self->buf + PAGE_B * self->psz, 0xb2, self->psz);
	memset(self->buf + PAGE_C * self->psz, 0xc3, self->psz);
	*entry(self, L1, DEV_IOVA) = gpa(self, L2) | S1_RW;
	*entry(self, L2, DEV_IOVA) = gpa(self, PAGE_A) | S1_RW;
	EXPECT_EQ(0, s1_alloc(self->fd, self->idev, self->parent, gpa(self, L1), &hwpt));
	EXPECT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, hwpt));
	return hwpt;
}

TEST_F(nested, mock_s1_alloc_and_invalidate_refusals)
{
	struct ioasid_hwpt_mock_s1 data = { .root = gpa(self, L1) };
	struct iommu_hwpt_invalidate_selftest wrong = {};
	__u32 hwpt, num = 1;

	data.root += 8;
	EXPECT_ERRNO(EINVAL, hwpt_alloc(self->fd, 0, self->idev, self->parent,
					IOASID_HWPT_DATA_MOCK_S1, &data, sizeof(data), &hwpt));
	data.root = gpa(self, L1);
	EXPECT_ERRNO(EINVAL, hwpt_alloc(self->fd, 0, self->idev, self->parent,
					IOASID_HWPT_DATA_MOCK_S1, &data, 8, &hwpt));
	data.flags = 1;
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc(self->fd, 0, self->idev, self->parent,
					    IOASID_HWPT_DATA_MOCK_S1, &data, sizeof(data), &hwpt));
	data.flags = 0;
	data.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc(self->fd, 0, self->idev, self->parent,
					    IOASID_HWPT_DATA_MOCK_S1, &data, sizeof(data), &hwpt));
	/* Nothing was left counted in the parent. */
	EXPECT_EQ(0, destroy(self->fd, self->parent));
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_NEST_PARENT, self->idev, self->ioas, 0,
				NULL, 0, &self->parent));

	ASSERT_EQ(0, s1_alloc(self->fd, self->idev, self->parent, gpa(self, L1), &hwpt));
	EXPECT_ERRNO(EINVAL, invalidate(self->fd, hwpt, &wrong, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
					sizeof(wrong), &num));
	EXPECT_EQ(0, num);
	EXPECT_ERRNO(EINVAL, s1_invalidate(self->fd, hwpt, DEV_IOVA, 0, 0));
	EXPECT_ERRNO(EINVAL, s1_invalidate(self->fd, hwpt, ~0ULL, 2, 0));
	EXPECT_ERRNO(EOPNOTSUPP, s1_invalidate(self->fd, hwpt, DEV_IOVA, 1, 2));
	EXPECT_EQ(0, s1_invalidate(self->fd, hwpt, 0, 0, IOASID_MOCK_S1_INVALIDATE_ALL));
	/* This type has no selftest IOTLB. */
	EXPECT_ERRNO(EINVAL, check_iotlb(self->fd, hwpt, 0, 0));
}

TEST_F(nested, mock_s1_dma_walks_both_stages)
{
	unsigned char pattern[32], back[32];
	void *ro;
	__u64 ro_gpa = IOVA + 64 * self->psz;
	__u32 hwpt = s1_setup(_metadata, self);

	/* Reach: through both levels and stage 2, to PAGE_A. */
	EXPECT_EQ(0xa1, dma_byte(self, DEV_IOVA + 5));
	for (unsigned int i = 0; i < sizeof(pattern); i++)
		pattern[i] = i + 1;
	ASSERT_EQ(0, test_mock_dma(self->fd, self->stdev, DEV_IOVA + 100, pattern, sizeof(pattern),
			      true));
	EXPECT_EQ(0, memcmp(self->buf + PAGE_A * self->psz + 100, pattern, sizeof(pattern)));
	ASSERT_EQ(0, test_mock_dma(self->fd, self->stdev, DEV_IOVA + 100, back, sizeof(back), false));
	EXPECT_EQ(0, memcmp(back, pattern, sizeof(back)));

	/* Stage-1 faults: no level-2 entry, no level-1 entry, beyond the input space. */
	EXPECT_EQ(-EFAULT, dma_byte(self, DEV_IOVA + 4096));
	EXPECT_EQ(-EFAULT, dma_byte(self, DEV_IOVA + (1UL << 21)));
	EXPECT_EQ(-EFAULT, dma_byte(self, 1UL << 30));

	/* Read-only at stage 1 (either level). */
	*entry(self, L2, DEV_IOVA + 8192) = gpa(self, PAGE_C) | IOASID_MOCK_S1_VALID |
					     IOASID_MOCK_S1_READ;
	EXPECT_EQ(0xc3, dma_byte(self, DEV_IOVA + 8192));
	EXPECT_ERRNO(EPERM, test_mock_dma(self->fd, self->stdev, DEV_IOVA + 8192, pattern, 1, true));

	/* Stage-2 faults: a page, and a table, the parent does not map. */
	*entry(self, L2, DEV_IOVA + 3 * 4096) = (IOVA + 32 * self->psz) | S1_RW;
	EXPECT_EQ(-EFAULT, dma_byte(self, DEV_IOVA + 3 * 4096));
	*entry(self, L1, DEV_IOVA + (4UL << 21)) = (IOVA + 32 * self->psz) | S1_RW;
	EXPECT_EQ(-EFAULT, dma_byte(self, DEV_IOVA + (4UL << 21)));

	/* Read-only at stage 2: a page the IOAS maps without WRITEABLE. */
	ro = mmap(NULL, self->psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	memset(ro, 0x5e, self->psz);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, ro, self->psz, &ro_gpa,
			      IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA));
	*entry(self, L2, DEV_IOVA + 5 * 4096) = ro_gpa | S1_RW;
	EXPECT_EQ(0x5e, dma_byte(self, DEV_IOVA + 5 * 4096));
	EXPECT_ERRNO(EPERM, test_mock_dma(self->fd, self->stdev, DEV_IOVA + 5 * 4096, pattern, 1, true));
	EXPECT_EQ(0x5e, ((unsigned char *)ro)[0]);
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->ioas));
	EXPECT_EQ(0, destroy(self->fd, hwpt));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas, ro_gpa, self->psz, NULL));
	munmap(ro, self->psz);
}

TEST_F(nested, mock_s1_keeps_a_stale_translation_until_invalidated)
{
	__u32 hwpt = s1_setup(_metadata, self);

	EXPECT_EQ(0xa1, dma_byte(self, DEV_IOVA));
	/* The user points the entry elsewhere without telling the IOMMU: the cache wins. */
	*entry(self, L2, DEV_IOVA) = gpa(self, PAGE_B) | S1_RW;
	EXPECT_EQ(0xa1, dma_byte(self, DEV_IOVA));
	/* A range that misses the page changes nothing; one that touches it does. */
	ASSERT_EQ(0, s1_invalidate(self->fd, hwpt, DEV_IOVA + 4096, 4096, 0));
	EXPECT_EQ(0xa1, dma_byte(self, DEV_IOVA));
	ASSERT_EQ(0, s1_invalidate(self->fd, hwpt, DEV_IOVA + 4095, 1, 0));
	EXPECT_EQ(0xb2, dma_byte(self, DEV_IOVA));
	/* Invalidate-all. */
	*entry(self, L2, DEV_IOVA) = gpa(self, PAGE_C) | S1_RW;
	EXPECT_EQ(0xb2, dma_byte(self, DEV_IOVA));
	ASSERT_EQ(0, s1_invalidate(self->fd, hwpt, 0, 0, IOASID_MOCK_S1_INVALIDATE_ALL));
	EXPECT_EQ(0xc3, dma_byte(self, DEV_IOVA));
	/* A removed level-1 entry still translates until invalidated, then faults. */
	*entry(self, L1, DEV_IOVA) = 0;
	EXPECT_EQ(0xc3, dma_byte(self, DEV_IOVA));
	ASSERT_EQ(0, s1_invalidate(self->fd, hwpt, DEV_IOVA, 1, 0));
	EXPECT_EQ(-EFAULT, dma_byte(self, DEV_IOVA));
	/* Each nested HWPT has its own cache. */
	*entry(self, L1, DEV_IOVA) = gpa(self, L2) | S1_RW;
	EXPECT_EQ(0xc3, dma_byte(self, DEV_IOVA));
	__u32 other;

	ASSERT_EQ(0, s1_alloc(self->fd, self->idev, self->parent, gpa(self, L1), &other));
	*entry(self, L2, DEV_IOVA) = gpa(self, PAGE_A) | S1_RW;
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, other));
	EXPECT_EQ(0xa1, dma_byte(self, DEV_IOVA));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, hwpt));
	EXPECT_EQ(0xc3, dma_byte(self, DEV_IOVA));
}

TEST_F(nested, mock_s1_unmap_in_the_parent_empties_the_cache)
{
	s1_setup(_metadata, self);

	EXPECT_EQ(0xa1, dma_byte(self, DEV_IOVA));
	*entry(self, L2, DEV_IOVA) = gpa(self, PAGE_B) | S1_RW;
	EXPECT_EQ(0xa1, dma_byte(self, DEV_IOVA));
	/* An unmap of any page of the parent's IOAS: nothing cached survives it. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, gpa(self, SPARE), self->psz, NULL));
	EXPECT_EQ(0xb2, dma_byte(self, DEV_IOVA));
	/* And the page a cached translation leads to, once unmapped, faults at stage 2. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, gpa(self, PAGE_B), self->psz, NULL));
	EXPECT_EQ(-EFAULT, dma_byte(self, DEV_IOVA));
}

TEST_HARNESS_MAIN
