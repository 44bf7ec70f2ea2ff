// SPDX-License-Identifier: GPL-2.0
/*
 * vIOMMUs and vDEVICEs on the module's mock IOMMU (test interface, selftest=1), with
 * upstream iommufd's selftest types (IOMMU_VIOMMU_TYPE_SELFTEST,
 * IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, the per-device mock cache):
 * - IOMMU_VIOMMU_ALLOC and IOMMU_VDEVICE_ALLOC and every refusal, each leaving nothing
 *   behind (the next object ID is unchanged);
 * - virt_id unique per vIOMMU, one vDEVICE per device;
 * - destroy order: parent, vIOMMU, nested HWPT EBUSY while used;
 * - nested HWPTs on a vIOMMU: attach only with a vDEVICE, mock DMA through them, their
 *   mock IOTLB;
 * - IOMMU_HWPT_INVALIDATE on a vIOMMU, proven by IOMMU_TEST_OP_DEV_CHECK_CACHE;
 * - the mock vIOMMU's mmap region: its contents, the exact offset and length, the mapping
 *   flags, each mapping (split, forked) holding the vIOMMU, the mapping outliving the file;
 * - IOMMU_HW_QUEUE_ALLOC of the mock vIOMMU and every refusal, each leaving nothing
 *   pinned; the queue's memory pinned until it goes (unmap EBUSY); index order and
 *   destroy order; closing the file with queues;
 * - the tombstone a vDEVICE leaves when its device goes first;
 * - closing the file with all of it releases everything.
 * Written against the uAPI documentation in include/uapi/linux/ioasid.h.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"
#include "ioasid_edu_utils.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define IOVA (MOCK_APERTURE_START + (1UL << 20))
#define BUF_PAGES 4
#define VIRT_ID 0x99

/* A new mock device attached to IOAS ioas; its test object and device IDs. */
static int mock_device(int fd, __u32 ioas, __u32 *stdev, __u32 *idev)
{
	struct ioasid_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = ioas };
	int rc = test_cmd(fd, &md);

	if (!rc) {
		*stdev = md.mock_domain.out_stdev_id;
		*idev = md.mock_domain.out_idev_id;
	}
	return rc;
}

/* Every cache entry of mock device dev holds value. */
static int dev_cache_all(int fd, __u32 dev, __u32 value)
{
	return check_all(fd, dev, MOCK_DEV_CACHE_NUM, value, check_dev_cache);
}

FIXTURE(viommu)
{
	int fd;
	long psz;
	char *buf;
	__u32 ioas, stdev, auto_hwpt, idev;
	__u32 parent;	/* a NEST_PARENT HWPT on ioas */
	__u32 plain;	/* a HWPT on ioas without NEST_PARENT */
	__u32 viommu;	/* a selftest vIOMMU on parent */
	__u32 nested;	/* a selftest nested HWPT on viommu */
};

FIXTURE_SETUP(viommu)
{
	__u64 iova = IOVA;

	self->fd = -1;
	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	self->psz = sysconf(_SC_PAGESIZE);
	self->fd = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->buf = mmap(NULL, BUF_PAGES * self->psz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0x5a, BUF_PAGES * self->psz);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, BUF_PAGES * self->psz, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	ASSERT_EQ(0, mock_nest_setup(self->fd, self->ioas, &self->stdev, &self->auto_hwpt,
				     &self->idev, &self->parent, &self->plain));
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev, self->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
				  NULL, 0, &self->viommu));
	ASSERT_EQ(0, nested_alloc(self->fd, self->idev, self->viommu, IOMMU_TEST_IOTLB_DEFAULT,
				  &self->nested));
}

FIXTURE_TEARDOWN(viommu)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, BUF_PAGES * self->psz);
}

TEST_F(viommu, alloc_refusals_are_exact_and_leave_nothing_behind)
{
	struct iommu_viommu_selftest data = { .in_data = 1 };
	char long_data[sizeof(data) + 8] = { 0 };
	const struct {
		const char *what;
		int err;
		__u32 flags, type, dev, hwpt, len;
		void *data;
	} cases[] = {
		{ "unknown flags", EOPNOTSUPP, 1, IOMMU_VIOMMU_TYPE_SELFTEST, self->idev, self->parent, 0, NULL },
		{ "type DEFAULT", EOPNOTSUPP, 0, IOMMU_VIOMMU_TYPE_DEFAULT, self->idev, self->parent, 0, NULL },
		{ "unknown type", EOPNOTSUPP, 0, 0xdead, self->idev, self->parent, 0, NULL },
		{ "ARM_SMMUV3 on the mock", EOPNOTSUPP, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, self->idev,
		  self->parent, 0, NULL },
		{ "no device 0", ENOENT, 0, IOMMU_VIOMMU_TYPE_SELFTEST, 0, self->parent, 0, NULL },
		{ "an IOAS as the device", ENOENT, 0, IOMMU_VIOMMU_TYPE_SELFTEST, self->ioas,
		  self->parent, 0, NULL },
		{ "no HWPT 0", ENOENT, 0, IOMMU_VIOMMU_TYPE_SELFTEST, self->idev, 0, 0, NULL },
		{ "an IOAS as the HWPT", ENOENT, 0, IOMMU_VIOMMU_TYPE_SELFTEST, self->idev,
		  self->ioas, 0, NULL },
		{ "a nested HWPT", ENOENT, 0, IOMMU_VIOMMU_TYPE_SELFTEST, self->idev, self->nested, 0, NULL },
		{ "a vIOMMU as the HWPT", ENOENT, 0, IOMMU_VIOMMU_TYPE_SELFTEST, self->idev,
		  self->viommu, 0, NULL },
		{ "not a NEST_PARENT", EINVAL, 0, IOMMU_VIOMMU_TYPE_SELFTEST, self->idev,
		  self->plain, 0, NULL },
		{ "an automatic HWPT", EINVAL, 0, IOMMU_VIOMMU_TYPE_SELFTEST, self->idev,
		  self->auto_hwpt, 0, NULL },
		{ "data shorter than its first version", EINVAL, 0, IOMMU_VIOMMU_TYPE_SELFTEST,
		  self->idev, self->parent, 4, &data },
		{ "data longer than the structure", EINVAL, 0, IOMMU_VIOMMU_TYPE_SELFTEST,
		  self->idev, self->parent, sizeof(long_data), long_data },
		{ "data not readable", EFAULT, 0, IOMMU_VIOMMU_TYPE_SELFTEST, self->idev,
		  self->parent, sizeof(data), NULL },
	};
	__u32 before = next_object_id(self->fd), out;

	ASSERT_NE(0, before);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = 0;
		EXPECT_ERRNO_CASE(cases[i].err,
				  viommu_alloc_flags(self->fd, cases[i].flags, cases[i].dev,
						     cases[i].hwpt, cases[i].type, cases[i].data,
						     cases[i].len, &out),
				  cases[i].what);
		EXPECT_EQ(0, out);
	}
	EXPECT_EQ(before, next_object_id(self->fd));
	/* The refusals counted nothing: with its vIOMMU gone, the parent goes too. */
	ASSERT_EQ(0, destroy(self->fd, self->nested));
	ASSERT_EQ(0, destroy(self->fd, self->viommu));
	ASSERT_EQ(0, destroy(self->fd, self->parent));
}

TEST_F(viommu, data_is_copied_like_hwpt_data_and_looped_back)
{
	struct iommu_viommu_selftest data = {
		.in_data = 0xbeef, .out_mmap_offset = 7, .out_mmap_length = 7,
	};
	__u32 v1, v2;

	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev, self->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
				  &data, sizeof(data), &v1));
	EXPECT_EQ(0xbeef, data.out_data);
	/* The mmap region: two pages at a page-aligned offset past the first page. */
	EXPECT_EQ(2 * self->psz, data.out_mmap_length);
	EXPECT_LE(self->psz, data.out_mmap_offset);
	EXPECT_EQ(0, data.out_mmap_offset % self->psz);
	/* The first version (in_data, out_data) is enough, and nothing past it is written. */
	memset(&data, 0, sizeof(data));
	data.in_data = 0x1234;
	data.out_mmap_length = 7;
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev, self->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
				  &data, 8, &v2));
	EXPECT_EQ(0x1234, data.out_data);
	EXPECT_EQ(7, data.out_mmap_length);
	EXPECT_NE(v1, v2);
	ASSERT_EQ(0, destroy(self->fd, v1));
	ASSERT_EQ(0, destroy(self->fd, v2));
}

/* A vIOMMU with data (in_data) and its mmap region. */
static int viommu_with_region(int fd, __u32 idev, __u32 parent, __u32 in_data,
			      struct iommu_viommu_selftest *data, __u32 *out)
{
	*data = (struct iommu_viommu_selftest){ .in_data = in_data };
	return viommu_alloc(fd, idev, parent, IOMMU_VIOMMU_TYPE_SELFTEST, data, sizeof(*data),
			    out);
}

/* mmap of the /dev/ioasid file; 0 or -1 with errno, the mapping in *out. */
static int map_region(int fd, size_t len, int prot, int flags, __u64 offset, void **out)
{
	void *p = mmap(NULL, len, prot, flags, fd, offset);

	if (p == MAP_FAILED)
		return -1;
	*out = p;
	return 0;
}

TEST_F(viommu, mmap_region_holds_in_data_and_is_shared)
{
	struct iommu_viommu_selftest data, data2;
	__u32 v, v2, *page, *page2, *again;
	size_t len;

	ASSERT_EQ(0, viommu_with_region(self->fd, self->idev, self->parent, 0xbeef, &data, &v));
	ASSERT_EQ(0, viommu_with_region(self->fd, self->idev, self->parent, 0xcafe, &data2, &v2));
	len = data.out_mmap_length;
	EXPECT_NE(data.out_mmap_offset, data2.out_mmap_offset);
	ASSERT_EQ(0, map_region(self->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED,
				data.out_mmap_offset, (void **)&page));
	ASSERT_EQ(0, map_region(self->fd, len, PROT_READ, MAP_SHARED, data2.out_mmap_offset,
				(void **)&page2));
	/* Each region starts with its own in_data; the rest is zero. */
	EXPECT_EQ(0xbeef, page[0]);
	EXPECT_EQ(0xcafe, page2[0]);
	for (size_t i = 1; i < len / sizeof(__u32); i++)
		if (page[i] || page2[i]) {
			TH_LOG("word %zu is not zero", i);
			EXPECT_EQ(0, page[i]);
			EXPECT_EQ(0, page2[i]);
			break;
		}
	/* One region, however many mappings: a write shows through another mapping. */
	page[1] = 0x1234;
	page[len / sizeof(__u32) - 1] = 0x5678;
	ASSERT_EQ(0, map_region(self->fd, len, PROT_READ, MAP_SHARED, data.out_mmap_offset,
				(void **)&again));
	EXPECT_EQ(0xbeef, again[0]);
	EXPECT_EQ(0x1234, again[1]);
	EXPECT_EQ(0x5678, again[len / sizeof(__u32) - 1]);
	EXPECT_EQ(0, page2[1]);
	ASSERT_EQ(0, munmap(again, len));
	ASSERT_EQ(0, munmap(page, len));
	ASSERT_EQ(0, munmap(page2, len));
	ASSERT_EQ(0, destroy(self->fd, v));
	ASSERT_EQ(0, destroy(self->fd, v2));
}

TEST_F(viommu, mmap_refusals_are_exact_and_count_nothing)
{
	struct iommu_viommu_selftest data, gone;
	__u32 v, v_gone;
	__u64 off;
	size_t len;
	void *p;

	ASSERT_EQ(0, viommu_with_region(self->fd, self->idev, self->parent, 1, &data, &v));
	ASSERT_EQ(0, viommu_with_region(self->fd, self->idev, self->parent, 2, &gone, &v_gone));
	ASSERT_EQ(0, destroy(self->fd, v_gone));
	off = data.out_mmap_offset;
	len = data.out_mmap_length;
	{
		const struct {
			const char *what;
			int err;
			size_t len;
			int prot, flags;
			__u64 off;
		} cases[] = {
			{ "offset one page in", ENXIO, len, PROT_READ, MAP_SHARED, off + self->psz },
			{ "offset past the region", ENXIO, len, PROT_READ, MAP_SHARED,
			  off + 2 * self->psz },
			{ "half the length", ENXIO, len / 2, PROT_READ, MAP_SHARED, off },
			{ "twice the length", ENXIO, len * 2, PROT_READ, MAP_SHARED, off },
			{ "offset 0", ENXIO, len, PROT_READ, MAP_SHARED, 0 },
			{ "a destroyed vIOMMU's region", ENXIO, gone.out_mmap_length, PROT_READ,
			  MAP_SHARED, gone.out_mmap_offset },
			{ "a private mapping", EINVAL, len, PROT_READ, MAP_PRIVATE, off },
			{ "an executable mapping", EPERM, len, PROT_READ | PROT_EXEC, MAP_SHARED,
			  off },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			p = NULL;
			EXPECT_ERRNO_CASE(cases[i].err,
					  map_region(self->fd, cases[i].len, cases[i].prot,
						     cases[i].flags, cases[i].off, &p),
					  cases[i].what);
			if (p)
				munmap(p, cases[i].len);
		}
	}
	/* No refusal counted a mapping: the vIOMMU goes. */
	ASSERT_EQ(0, destroy(self->fd, v));
}

TEST_F(viommu, each_mapping_of_the_region_holds_the_viommu)
{
	struct iommu_viommu_selftest data;
	char *a, *b;
	size_t len;
	__u32 v;
	pid_t child;
	int status, pipefd[2];
	char c;

	ASSERT_EQ(0, viommu_with_region(self->fd, self->idev, self->parent, 7, &data, &v));
	len = data.out_mmap_length;
	ASSERT_EQ(0, map_region(self->fd, len, PROT_READ, MAP_SHARED, data.out_mmap_offset,
				(void **)&a));
	ASSERT_EQ(0, map_region(self->fd, len, PROT_READ, MAP_SHARED, data.out_mmap_offset,
				(void **)&b));
	/* The owner of a mapped region is busy, as in iommufd. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, v));
	ASSERT_EQ(0, munmap(a, len));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, v));
	/* A partial munmap splits the mapping: what is left still holds the vIOMMU. */
	ASSERT_EQ(0, munmap(b + self->psz, self->psz));
	EXPECT_EQ(7, *(__u32 *)b);
	EXPECT_ERRNO(EBUSY, destroy(self->fd, v));
	/* A forked child's copy holds it too, until the child exits. */
	ASSERT_EQ(0, pipe(pipefd));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		close(pipefd[1]);
		/* Waits for the parent, then reads its copy of the mapping. */
		if (read(pipefd[0], &c, 1) != 1)
			_exit(2);
		_exit(*(__u32 *)b == 7 ? 0 : 1);
	}
	close(pipefd[0]);
	ASSERT_EQ(0, munmap(b, self->psz));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, v));
	ASSERT_EQ(1, write(pipefd[1], "x", 1));
	close(pipefd[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, destroy(self->fd, v));
}

TEST_F(viommu, the_mapping_outlives_the_file)
{
	struct iommu_viommu_selftest data;
	__u32 v, *page;
	int fd2;

	ASSERT_EQ(0, viommu_with_region(self->fd, self->idev, self->parent, 0xfeed, &data, &v));
	ASSERT_EQ(0, map_region(self->fd, data.out_mmap_length, PROT_READ | PROT_WRITE,
				MAP_SHARED, data.out_mmap_offset, (void **)&page));
	/* The mapping holds the file: closing it releases nothing yet. */
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0xfeed, page[0]);
	page[2] = 3;
	EXPECT_EQ(3, page[2]);
	/* The last munmap releases the context; the pages pinned for its IOAS are let go. */
	ASSERT_EQ(0, munmap(page, data.out_mmap_length));
	fd2 = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, test_check_refs(fd2, self->buf, BUF_PAGES * self->psz, 0));
	close(fd2);
}

/* Queue memory: QPAGES pages mapped one per area (so each can be unmapped alone) at QIOVA. */
#define QIOVA (MOCK_APERTURE_START + (16UL << 20))
#define QPAGES 4

static int map_queue_pages(int fd, __u32 ioas, char *buf, long psz, __u32 flags)
{
	for (int i = 0; i < QPAGES; i++) {
		__u64 iova = QIOVA + i * psz;

		if (ioas_map(fd, ioas, buf + i * psz, psz, &iova,
			     flags | IOMMU_IOAS_MAP_FIXED_IOVA))
			return -1;
	}
	return 0;
}

/* The pages of QIOVA that can be unmapped now (a bitmask); maps them back. */
static unsigned int unmappable_pages(int fd, __u32 ioas, char *buf, long psz)
{
	unsigned int mask = 0;

	for (int i = 0; i < QPAGES; i++) {
		__u64 iova = QIOVA + i * psz;

		if (ioas_unmap(fd, ioas, iova, psz, NULL))
			continue;
		mask |= 1u << i;
		if (ioas_map(fd, ioas, buf + i * psz, psz, &iova,
			     RW | IOMMU_IOAS_MAP_FIXED_IOVA))
			return ~0u;
	}
	return mask;
}

#define ALL_PAGES ((1u << QPAGES) - 1)

TEST_F(viommu, hw_queue_refusals_are_exact_and_pin_nothing)
{
	char *q = mmap(NULL, QPAGES * self->psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__u64 iova = QIOVA;
	__u32 before, out;
	long pinned0;

	ASSERT_NE(MAP_FAILED, q);
	memset(q, 1, QPAGES * self->psz);
	ASSERT_EQ(0, map_queue_pages(self->fd, self->ioas, q, self->psz, RW));
	/* One more page, the same user page as QIOVA's: not contiguous with it. */
	iova = QIOVA + QPAGES * self->psz;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, q, self->psz, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	{
		const __u64 last_page = QIOVA + (QPAGES - 1) * self->psz;
		const struct {
			const char *what;
			int err;
			__u32 flags, viommu, type, index;
			__u64 iova, len;
		} cases[] = {
			{ "unknown flags", EOPNOTSUPP, 1, self->viommu, IOMMU_HW_QUEUE_TYPE_SELFTEST,
			  0, QIOVA, self->psz },
			{ "type DEFAULT", EOPNOTSUPP, 0, self->viommu, IOMMU_HW_QUEUE_TYPE_DEFAULT, 0,
			  QIOVA, self->psz },
			{ "zero length", EINVAL, 0, self->viommu, IOMMU_HW_QUEUE_TYPE_SELFTEST, 0,
			  QIOVA, 0 },
			{ "past 2^64", EOVERFLOW, 0, self->viommu, IOMMU_HW_QUEUE_TYPE_SELFTEST, 0,
			  ~0ULL, self->psz },
			{ "no vIOMMU 0", ENOENT, 0, 0, IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, QIOVA,
			  self->psz },
			{ "an IOAS as the vIOMMU", ENOENT, 0, self->ioas,
			  IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, QIOVA, self->psz },
			{ "a nested HWPT as the vIOMMU", ENOENT, 0, self->nested,
			  IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, QIOVA, self->psz },
			{ "a type the mock has not", EOPNOTSUPP, 0, self->viommu, 1, 0, QIOVA,
			  self->psz },
			{ "whole pages past 2^64", ERANGE, 0, self->viommu,
			  IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, 0x10, ~0ULL - 0xf },
			{ "not mapped", ENOENT, 0, self->viommu, IOMMU_HW_QUEUE_TYPE_SELFTEST, 0,
			  QIOVA - self->psz, self->psz },
			{ "partly mapped", ENOENT, 0, self->viommu, IOMMU_HW_QUEUE_TYPE_SELFTEST, 0,
			  QIOVA - 8, 16 },
			{ "index 1 before 0", EIO, 0, self->viommu, IOMMU_HW_QUEUE_TYPE_SELFTEST, 1,
			  QIOVA, self->psz },
			{ "index MAX", EINVAL, 0, self->viommu, IOMMU_HW_QUEUE_TYPE_SELFTEST,
			  IOMMU_TEST_HW_QUEUE_MAX, QIOVA, self->psz },
			{ "index 2^32-1", EINVAL, 0, self->viommu, IOMMU_HW_QUEUE_TYPE_SELFTEST,
			  ~0u, QIOVA, self->psz },
			{ "not physically contiguous", EFAULT, 0, self->viommu,
			  IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, last_page + self->psz / 2, self->psz },
		};

		before = next_object_id(self->fd);
		pinned0 = proc_status_kb(getpid(), "VmPin");
		ASSERT_LE(0, pinned0);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			out = 0;
			EXPECT_ERRNO_CASE(cases[i].err,
					  hw_queue_alloc_flags(self->fd, cases[i].flags,
							       cases[i].viommu, cases[i].type,
							       cases[i].index, cases[i].iova,
							       cases[i].len, &out),
					  cases[i].what);
			EXPECT_EQ(0, out);
		}
	}
	EXPECT_EQ(before, next_object_id(self->fd));
	EXPECT_EQ(pinned0, proc_status_kb(getpid(), "VmPin"));
	/* Nothing stayed pinned: every page unmaps, and the vIOMMU goes. */
	EXPECT_EQ(ALL_PAGES, unmappable_pages(self->fd, self->ioas, q, self->psz));
	ASSERT_EQ(0, destroy(self->fd, self->nested));
	ASSERT_EQ(0, destroy(self->fd, self->viommu));
	munmap(q, QPAGES * self->psz);
}

TEST_F(viommu, hw_queue_memory_is_pinned_until_the_queue_goes)
{
	char *q = mmap(NULL, QPAGES * self->psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__u32 q0, q1;
	long pinned0;

	ASSERT_NE(MAP_FAILED, q);
	memset(q, 1, QPAGES * self->psz);
	/* Read-only memory will do: the hardware only reads the queue. */
	ASSERT_EQ(0, map_queue_pages(self->fd, self->ioas, q, self->psz,
				     IOMMU_IOAS_MAP_READABLE));
	pinned0 = proc_status_kb(getpid(), "VmPin");
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu, 0, QIOVA + self->psz, self->psz,
				    &q0));
	/* Pinned once, already counted by the mapping: the accounting is unchanged. */
	EXPECT_EQ(pinned0, proc_status_kb(getpid(), "VmPin"));
	/* Unaligned, inside a page: that page. */
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu, 1, QIOVA + 2 * self->psz + 8, 16,
				    &q1));
	EXPECT_NE(q0, q1);
	EXPECT_ERRNO(EBUSY, ioas_unmap(self->fd, self->ioas, QIOVA + self->psz, self->psz, NULL));
	/* Pages 0 and 3 are free. */
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas, QIOVA, self->psz, NULL));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas, QIOVA + 3 * self->psz, self->psz, NULL));
	EXPECT_ERRNO(EBUSY, ioas_unmap(self->fd, self->ioas, QIOVA + 2 * self->psz, self->psz,
				       NULL));
	/* A range over the queue's pages stops at the first pinned one. */
	EXPECT_ERRNO(EBUSY, ioas_unmap(self->fd, self->ioas, QIOVA, QPAGES * self->psz, NULL));
	ASSERT_EQ(0, destroy(self->fd, q1));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas, QIOVA + 2 * self->psz, self->psz, NULL));
	EXPECT_ERRNO(EBUSY, ioas_unmap(self->fd, self->ioas, QIOVA + self->psz, self->psz, NULL));
	ASSERT_EQ(0, destroy(self->fd, q0));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas, QIOVA + self->psz, self->psz, NULL));
	EXPECT_EQ(pinned0 - 4 * self->psz / 1024, proc_status_kb(getpid(), "VmPin"));
	munmap(q, QPAGES * self->psz);
}

TEST_F(viommu, hw_queues_go_up_from_index_0_and_down_from_the_last)
{
	char *q = mmap(NULL, QPAGES * self->psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__u32 v, q0, q1, q1b, dup;

	ASSERT_NE(MAP_FAILED, q);
	memset(q, 1, QPAGES * self->psz);
	ASSERT_EQ(0, map_queue_pages(self->fd, self->ioas, q, self->psz, RW));
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev, self->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
				  NULL, 0, &v));
	ASSERT_EQ(0, hw_queue_alloc(self->fd, v, 0, QIOVA, self->psz, &q0));
	/* Indexes are per vIOMMU: the fixture's vIOMMU has no queue 0. */
	EXPECT_ERRNO(EIO, hw_queue_alloc(self->fd, self->viommu, 1, QIOVA, self->psz, &dup));
	EXPECT_ERRNO(EEXIST, hw_queue_alloc(self->fd, v, 0, QIOVA + self->psz, self->psz, &dup));
	/* Half a page, unaligned; the same memory as queue 0 is fine. */
	ASSERT_EQ(0, hw_queue_alloc(self->fd, v, 1, QIOVA + self->psz / 2, self->psz / 2, &q1));
	EXPECT_ERRNO(EEXIST, hw_queue_alloc(self->fd, v, 1, QIOVA, self->psz, &dup));
	/* Queue 0 is held by queue 1, the vIOMMU by both, the parent by the vIOMMU. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, q0));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, v));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->parent));
	ASSERT_EQ(0, destroy(self->fd, q1));
	/* Index 1 is free again. */
	ASSERT_EQ(0, hw_queue_alloc(self->fd, v, 1, QIOVA + 2 * self->psz, self->psz, &q1b));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, q0));
	ASSERT_EQ(0, destroy(self->fd, q1b));
	ASSERT_EQ(0, destroy(self->fd, q0));
	/* With queue 0 gone, index 1 needs it again. */
	EXPECT_ERRNO(EIO, hw_queue_alloc(self->fd, v, 1, QIOVA, self->psz, &dup));
	ASSERT_EQ(0, destroy(self->fd, v));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, q0));
	EXPECT_EQ(ALL_PAGES, unmappable_pages(self->fd, self->ioas, q, self->psz));
	munmap(q, QPAGES * self->psz);
}

/*
 * A queue over several pages needs them physically contiguous: inside a 2 MiB huge page
 * it is accepted (and pins all of them), across into a page mapped next to it it is not.
 */
TEST_F(viommu, a_hw_queue_over_pages_needs_them_physically_contiguous)
{
	const unsigned long huge = 2UL << 20;
	const __u64 base = MOCK_APERTURE_START + (32UL << 20);
	char nr[32], *mem, *q;
	__u64 iova = base;
	__u32 q0, dup;

	write_str("/proc/sys/vm/nr_hugepages", "1");
	if (read_file("/proc/sys/vm/nr_hugepages", nr, sizeof(nr)) < 0 || atoi(nr) < 1)
		SKIP(return, "no 2 MiB huge page in the guest");
	mem = mmap(NULL, huge, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		write_str("/proc/sys/vm/nr_hugepages", "0");
		SKIP(return, "no 2 MiB huge page in the guest");
	}
	q = mmap(NULL, self->psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, q);
	memset(q, 1, self->psz);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, mem, huge, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	iova = base + huge;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, q, self->psz, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	/* The last huge-page byte and the next page's first: not contiguous. */
	EXPECT_ERRNO(EFAULT, hw_queue_alloc(self->fd, self->viommu, 0, base + huge - 8, 16, &dup));
	/* Three and a half pages, unaligned, inside the huge page: four pages pinned. */
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu, 0, base + self->psz / 2,
				    3 * self->psz + self->psz / 2, &q0));
	EXPECT_ERRNO(EBUSY, ioas_unmap(self->fd, self->ioas, base, huge, NULL));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas, base + huge, self->psz, NULL));
	ASSERT_EQ(0, destroy(self->fd, q0));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas, base, huge, NULL));
	munmap(q, self->psz);
	munmap(mem, huge);
	write_str("/proc/sys/vm/nr_hugepages", "0");
}

/*
 * A reply that cannot be written (read-only memory) fails the ioctl with EFAULT after the
 * object was built: it is torn down, so no ID, no region and no pin is left.
 */
TEST_F(viommu, an_unwritable_reply_leaves_no_viommu_region_or_queue)
{
	char *ro = mmap(NULL, self->psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	char *q = mmap(NULL, QPAGES * self->psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iommu_viommu_selftest *data = (void *)ro;
	struct iommu_hw_queue_alloc *cmd = (void *)(ro + 64);
	__u32 before, out = 0;
	long pinned0;

	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_NE(MAP_FAILED, q);
	memset(q, 1, QPAGES * self->psz);
	ASSERT_EQ(0, map_queue_pages(self->fd, self->ioas, q, self->psz, RW));
	*data = (struct iommu_viommu_selftest){ .in_data = 9 };
	*cmd = (struct iommu_hw_queue_alloc){
		.size = sizeof(*cmd), .viommu_id = self->viommu,
		.type = IOMMU_HW_QUEUE_TYPE_SELFTEST, .nesting_parent_iova = QIOVA,
		.length = self->psz,
	};
	ASSERT_EQ(0, mprotect(ro, self->psz, PROT_READ));
	before = next_object_id(self->fd);
	pinned0 = proc_status_kb(getpid(), "VmPin");
	/* The vIOMMU's data (with the region's offset) cannot be written back. */
	EXPECT_ERRNO(EFAULT, viommu_alloc(self->fd, self->idev, self->parent,
					  IOMMU_VIOMMU_TYPE_SELFTEST, data, sizeof(*data), &out));
	EXPECT_EQ(0, out);
	/* The queue's ID cannot be written back. */
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_HW_QUEUE_ALLOC, cmd));
	EXPECT_EQ(before, next_object_id(self->fd));
	EXPECT_EQ(pinned0, proc_status_kb(getpid(), "VmPin"));
	/* No queue 0 was left registered or pinning: it can be allocated, then all unmaps. */
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu, 0, QIOVA, self->psz, &out));
	ASSERT_EQ(0, destroy(self->fd, out));
	EXPECT_EQ(ALL_PAGES, unmappable_pages(self->fd, self->ioas, q, self->psz));
	/* Nothing counted on the parent or the vIOMMU either. */
	ASSERT_EQ(0, destroy(self->fd, self->nested));
	ASSERT_EQ(0, destroy(self->fd, self->viommu));
	ASSERT_EQ(0, destroy(self->fd, self->parent));
	munmap(q, QPAGES * self->psz);
	munmap(ro, self->psz);
}

TEST_F(viommu, closing_the_file_with_hw_queues_unpins_their_memory)
{
	char *q = mmap(NULL, QPAGES * self->psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__u32 q0, q1;
	int fd2;

	ASSERT_NE(MAP_FAILED, q);
	memset(q, 1, QPAGES * self->psz);
	ASSERT_EQ(0, map_queue_pages(self->fd, self->ioas, q, self->psz, RW));
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu, 0, QIOVA, self->psz, &q0));
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu, 1, QIOVA + self->psz, self->psz, &q1));
	ASSERT_EQ(0, test_check_refs(self->fd, q, QPAGES * self->psz, 1));
	fd2 = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, fd2);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, test_check_refs(fd2, q, QPAGES * self->psz, 0));
	close(fd2);
	munmap(q, QPAGES * self->psz);
}

TEST_F(viommu, vdevice_refusals_are_exact_and_leave_nothing_behind)
{
	__u32 stdev2 = 0, idev2 = 0, viommu2 = 0, vdev = 0, out, before;
	struct {
		const char *what;
		int err;
		__u32 *viommu, *dev;
		__u64 virt_id;
	} cases[] = {
		/* IDs by address: most exist only once the setup below ran. */
		{ "no vIOMMU 0", ENOENT, &out, &idev2, 1 },
		{ "a HWPT as the vIOMMU", ENOENT, &self->parent, &idev2, 1 },
		{ "a vDEVICE as the vIOMMU", ENOENT, &vdev, &idev2, 1 },
		{ "no device 0", ENOENT, &self->viommu, &out, 1 },
		{ "an IOAS as the device", ENOENT, &self->viommu, &self->ioas, 1 },
		{ "virt_id taken on this vIOMMU", EEXIST, &self->viommu, &idev2, VIRT_ID },
		{ "the device has a vDEVICE", EEXIST, &self->viommu, &self->idev, 1 },
		{ "the device has one on another vIOMMU", EEXIST, &viommu2, &self->idev, 1 },
	};

	ASSERT_EQ(0, mock_device(self->fd, self->ioas, &stdev2, &idev2));
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev, self->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
				  NULL, 0, &viommu2));
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, VIRT_ID, &vdev));
	before = next_object_id(self->fd);
	ASSERT_NE(0, before);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = 0;
		EXPECT_ERRNO_CASE(cases[i].err, vdevice_alloc(self->fd, *cases[i].viommu,
							      *cases[i].dev, cases[i].virt_id,
							      &out), cases[i].what);
		EXPECT_EQ(0, out);
	}
	EXPECT_EQ(before, next_object_id(self->fd));
	/* The refusals left the vDEVICE as it was, and counted nothing in either vIOMMU. */
	ASSERT_EQ(0, destroy(self->fd, viommu2));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->viommu));
	ASSERT_EQ(0, destroy(self->fd, vdev));
	ASSERT_EQ(0, destroy(self->fd, self->nested));
	ASSERT_EQ(0, destroy(self->fd, self->viommu));
}

TEST_F(viommu, virt_id_is_unique_per_viommu_only)
{
	__u32 stdev2, idev2, stdev3, idev3, viommu2, vdev1, vdev2, vdev3;

	ASSERT_EQ(0, mock_device(self->fd, self->ioas, &stdev2, &idev2));
	ASSERT_EQ(0, mock_device(self->fd, self->ioas, &stdev3, &idev3));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev2, self->parent, IOMMU_VIOMMU_TYPE_SELFTEST, NULL,
				  0, &viommu2));
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, VIRT_ID, &vdev1));
	/* The same virt_id on another vIOMMU is another namespace. */
	ASSERT_EQ(0, vdevice_alloc(self->fd, viommu2, idev2, VIRT_ID, &vdev2));
	/* Once destroyed, the device and its virt_id can have a new vDEVICE. */
	ASSERT_EQ(0, destroy(self->fd, vdev1));
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, VIRT_ID, &vdev3));
	/* virt_id is 64 bits wide. */
	ASSERT_EQ(0, destroy(self->fd, vdev3));
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, 1ULL << 40, &vdev3));
	EXPECT_ERRNO(EEXIST, vdevice_alloc(self->fd, self->viommu, idev3, 1ULL << 40, NULL));
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, idev3, (1ULL << 40) + 1, NULL));
}

TEST_F(viommu, destroy_order_is_enforced_with_ebusy)
{
	__u32 vdev;

	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, VIRT_ID, &vdev));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->nested));
	/* Each object is held by the next one. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->parent));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->viommu));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->nested));
	/* Undone in order, each step frees the next. */
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->ioas));
	ASSERT_EQ(0, destroy(self->fd, self->nested));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->viommu));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->parent));
	ASSERT_EQ(0, destroy(self->fd, vdev));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->parent));
	ASSERT_EQ(0, destroy(self->fd, self->viommu));
	ASSERT_EQ(0, destroy(self->fd, self->parent));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, self->viommu));
}

TEST_F(viommu, nested_hwpt_alloc_on_a_viommu_follows_the_nested_rules)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct ioasid_hwpt_mock_s1 s1 = { .root = IOVA };
	char long_data[sizeof(data) + 1] = { 0 };
	const struct {
		const char *what;
		int err;
		__u32 flags, type, len;
		const void *data;
	} cases[] = {
		{ "NEST_PARENT", EOPNOTSUPP, IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_DATA_SELFTEST,
		  sizeof(data), &data },
		{ "DIRTY_TRACKING", EOPNOTSUPP, IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		  IOMMU_HWPT_DATA_SELFTEST, sizeof(data), &data },
		{ "FAULT_ID_VALID, fault queue 0", ENOENT, IOMMU_HWPT_FAULT_ID_VALID,
		  IOMMU_HWPT_DATA_SELFTEST,
		  sizeof(data), &data },
		{ "type NONE with data", EINVAL, 0, 0, sizeof(data), &data },
		{ "unknown type", EOPNOTSUPP, 0, 0xbad, sizeof(data), &data },
		{ "short data", EINVAL, 0, IOMMU_HWPT_DATA_SELFTEST, 2, &data },
		{ "long data", EINVAL, 0, IOMMU_HWPT_DATA_SELFTEST, sizeof(long_data), long_data },
		{ "unreadable data", EFAULT, 0, IOMMU_HWPT_DATA_SELFTEST, sizeof(data), NULL },
	};
	__u32 before = next_object_id(self->fd), out;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = 0;
		EXPECT_ERRNO_CASE(cases[i].err, hwpt_alloc(self->fd, cases[i].flags, self->idev,
						      self->viommu, cases[i].type, cases[i].data,
						      cases[i].len, &out), cases[i].what);
		EXPECT_EQ(0, out);
	}
	/* Nested on a nested HWPT on a vIOMMU: the parent is nested. */
	EXPECT_ERRNO(EINVAL, nested_alloc(self->fd, self->idev, self->nested, 1, NULL));
	EXPECT_EQ(before, next_object_id(self->fd));
	/* With PASID, and with ioasid's own stage-1 type, a vIOMMU is a parent as a HWPT is. */
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_PASID, self->idev, self->viommu,
				IOMMU_HWPT_DATA_SELFTEST, &data, sizeof(data), &out));
	ASSERT_EQ(0, destroy(self->fd, out));
	ASSERT_EQ(0, hwpt_alloc(self->fd, 0, self->idev, self->viommu, IOASID_HWPT_DATA_MOCK_S1,
				&s1, sizeof(s1), &out));
	ASSERT_EQ(0, destroy(self->fd, out));
	/* Nothing of this is left counted in the vIOMMU. */
	ASSERT_EQ(0, destroy(self->fd, self->nested));
	ASSERT_EQ(0, destroy(self->fd, self->viommu));
}

TEST_F(viommu, attach_to_a_nested_hwpt_needs_a_vdevice_there)
{
	struct iommu_hwpt_invalidate_selftest inv = { .iotlb_id = 2 };
	__u32 vdev, stdev2, hwpt, viommu2, vdev2, num = 1;
	char back[64];

	/* Without a vDEVICE on the vIOMMU: ENOENT, the device stays where it was. */
	EXPECT_ERRNO(ENOENT, test_mock_domain_replace(self->fd, self->stdev, self->nested));
	EXPECT_ERRNO(ENOENT, test_mock_domain(self->fd, self->nested, &stdev2, &hwpt));
	/* A vDEVICE on another vIOMMU does not count. */
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev, self->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
				  NULL, 0, &viommu2));
	ASSERT_EQ(0, vdevice_alloc(self->fd, viommu2, self->idev, VIRT_ID, &vdev2));
	EXPECT_ERRNO(ENOENT, test_mock_domain_replace(self->fd, self->stdev, self->nested));
	ASSERT_EQ(0, destroy(self->fd, vdev2));
	ASSERT_EQ(0, destroy(self->fd, viommu2));
	ASSERT_EQ(0, test_mock_dma(self->fd, self->stdev, IOVA, back, sizeof(back), false));

	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, VIRT_ID, &vdev));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->nested));
	/* Mock DMA goes through the nested HWPT (identity stage 1) and the parent. */
	memset(back, 0, sizeof(back));
	ASSERT_EQ(0, test_mock_dma(self->fd, self->stdev, IOVA + self->psz, back, sizeof(back),
				   false));
	for (size_t i = 0; i < sizeof(back); i++)
		ASSERT_EQ(0x5a, back[i]);
	memset(back, 0x3c, sizeof(back));
	ASSERT_EQ(0, test_mock_dma(self->fd, self->stdev, IOVA + 8, back, sizeof(back), true));
	EXPECT_EQ(0x3c, self->buf[8]);
	EXPECT_EQ(0x5a, self->buf[7]);
	EXPECT_ERRNO(EFAULT, test_mock_dma(self->fd, self->stdev, IOVA + BUF_PAGES * self->psz,
					   back, 8, false));
	/* Its mock IOTLB and the HWPT invalidation of a nested HWPT work as on a HWPT. */
	EXPECT_EQ(0, check_iotlb(self->fd, self->nested, 2, IOMMU_TEST_IOTLB_DEFAULT));
	ASSERT_EQ(0, invalidate(self->fd, self->nested, &inv, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
				sizeof(inv), &num));
	EXPECT_EQ(1, num);
	EXPECT_EQ(0, check_iotlb(self->fd, self->nested, 2, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, self->nested, 1, IOMMU_TEST_IOTLB_DEFAULT));
	/* The vDEVICE may go while the device is attached (as upstream); re-attach needs it. */
	ASSERT_EQ(0, destroy(self->fd, vdev));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->ioas));
	EXPECT_ERRNO(ENOENT, test_mock_domain_replace(self->fd, self->stdev, self->nested));
}

TEST_F(viommu, invalidation_clears_the_cache_of_the_device_named_by_virt_id)
{
	struct iommu_viommu_invalidate_selftest inv[2] = { 0 };
	__u32 stdev2, idev2, vdev, vdev2, num;

	ASSERT_EQ(0, mock_device(self->fd, self->ioas, &stdev2, &idev2));
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, VIRT_ID, &vdev));
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, idev2, VIRT_ID + 1, &vdev2));
	ASSERT_EQ(0, dev_cache_all(self->fd, self->idev, IOMMU_TEST_DEV_CACHE_DEFAULT));

	/* Entry 0 of the first device, entry 3 of the second, in one call. */
	inv[0] = (struct iommu_viommu_invalidate_selftest){ .vdev_id = VIRT_ID, .cache_id = 0 };
	inv[1] = (struct iommu_viommu_invalidate_selftest){ .vdev_id = VIRT_ID + 1,
							     .cache_id = 3 };
	num = 2;
	ASSERT_EQ(0, invalidate(self->fd, self->viommu, inv, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
				sizeof(inv[0]), &num));
	EXPECT_EQ(2, num);
	EXPECT_EQ(0, check_dev_cache(self->fd, self->idev, 0, 0));
	EXPECT_EQ(0, check_dev_cache(self->fd, self->idev, 3, IOMMU_TEST_DEV_CACHE_DEFAULT));
	EXPECT_EQ(0, check_dev_cache(self->fd, idev2, 0, IOMMU_TEST_DEV_CACHE_DEFAULT));
	EXPECT_EQ(0, check_dev_cache(self->fd, idev2, 3, 0));
	/* The test object names the same device. */
	EXPECT_EQ(0, check_dev_cache(self->fd, self->stdev, 0, 0));

	/* The first entry is handled, the second fails: 1 done, the first's effect stays. */
	inv[0] = (struct iommu_viommu_invalidate_selftest){ .vdev_id = VIRT_ID, .cache_id = 1 };
	inv[1] = (struct iommu_viommu_invalidate_selftest){ .flags = 2, .vdev_id = VIRT_ID };
	num = 2;
	EXPECT_ERRNO(EOPNOTSUPP, invalidate(self->fd, self->viommu, inv,
					    IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, sizeof(inv[0]),
					    &num));
	EXPECT_EQ(1, num);
	EXPECT_EQ(0, check_dev_cache(self->fd, self->idev, 1, 0));
	EXPECT_EQ(0, check_dev_cache(self->fd, self->idev, 2, IOMMU_TEST_DEV_CACHE_DEFAULT));

	/* FLAG_ALL clears every entry of the device named, only that one. */
	inv[0] = (struct iommu_viommu_invalidate_selftest){
		.flags = IOMMU_TEST_INVALIDATE_FLAG_ALL, .vdev_id = VIRT_ID + 1 };
	num = 1;
	ASSERT_EQ(0, invalidate(self->fd, self->viommu, inv, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
				sizeof(inv[0]), &num));
	EXPECT_EQ(1, num);
	EXPECT_EQ(0, dev_cache_all(self->fd, idev2, 0));
	EXPECT_EQ(0, check_dev_cache(self->fd, self->idev, 2, IOMMU_TEST_DEV_CACHE_DEFAULT));
	/* A destroyed vDEVICE's virt_id names nothing any more. */
	ASSERT_EQ(0, destroy(self->fd, vdev));
	inv[0] = (struct iommu_viommu_invalidate_selftest){ .vdev_id = VIRT_ID, .cache_id = 2 };
	num = 1;
	EXPECT_ERRNO(EINVAL, invalidate(self->fd, self->viommu, inv,
					IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, sizeof(inv[0]),
					&num));
	EXPECT_EQ(0, num);
	EXPECT_EQ(0, check_dev_cache(self->fd, self->idev, 2, IOMMU_TEST_DEV_CACHE_DEFAULT));
	/* DEV_CHECK_CACHE itself: EINVAL for a wrong value or an entry beyond the cache. */
	EXPECT_ERRNO(EINVAL, check_dev_cache(self->fd, self->idev, 2, 0));
	EXPECT_ERRNO(EINVAL, check_dev_cache(self->fd, self->idev, MOCK_DEV_CACHE_NUM, 0));
}

TEST_F(viommu, invalidation_refusals_are_exact_and_change_nothing)
{
	struct iommu_viommu_invalidate_selftest ok = { .vdev_id = VIRT_ID, .cache_id = 1 };
	struct {
		struct iommu_viommu_invalidate_selftest e;
		__u32 tail;
	} longer[2] = { { ok, 0 }, { ok, 1 } };
	struct iommu_viommu_invalidate_selftest bad_cache = { .vdev_id = VIRT_ID, .cache_id = 4 };
	struct iommu_viommu_invalidate_selftest bad_cache_all = {
		.flags = IOMMU_TEST_INVALIDATE_FLAG_ALL, .vdev_id = VIRT_ID, .cache_id = 4 };
	struct iommu_viommu_invalidate_selftest bad_vdev = { .vdev_id = VIRT_ID + 7 };
	struct iommu_viommu_invalidate_selftest bad_flags = { .flags = 1u << 31,
							      .vdev_id = VIRT_ID };
	const struct {
		const char *what;
		int err;
		__u32 id, type, len, num;
		const void *entries;
	} cases[] = {
		{ "unknown type", EINVAL, self->viommu, 0xdadbeef, sizeof(ok), 1, &ok },
		{ "unknown type, no entry", EINVAL, self->viommu, 0xdadbeef, sizeof(ok), 0, &ok },
		{ "entry_len 0", EINVAL, self->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, 0, 1,
		  &ok },
		{ "no array", EINVAL, self->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		  sizeof(ok), 1, NULL },
		{ "entry longer than a page", EINVAL, self->viommu,
		  IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, 4097, 1, &ok },
		{ "more than 2^19 entries", EINVAL, self->viommu,
		  IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, sizeof(ok), (1u << 19) + 1, &ok },
		{ "longer entry with a non-zero tail (checked before any is handled)", E2BIG,
		  self->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, sizeof(longer[0]), 2,
		  longer },
		{ "unreadable array", EFAULT, self->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		  sizeof(ok), 1, (void *)8 },
		{ "cache_id beyond the cache", EINVAL, self->viommu,
		  IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, sizeof(ok), 1, &bad_cache },
		{ "cache_id beyond the cache, with FLAG_ALL", EINVAL, self->viommu,
		  IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, sizeof(ok), 1, &bad_cache_all },
		{ "no such virt_id", EINVAL, self->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		  sizeof(ok), 1, &bad_vdev },
		{ "unknown flags", EOPNOTSUPP, self->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		  sizeof(ok), 1, &bad_flags },
		{ "a paging HWPT", EINVAL, self->parent, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		  sizeof(ok), 1, &ok },
		{ "an IOAS", EINVAL, self->ioas, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, sizeof(ok),
		  1, &ok },
		{ "no object", ENOENT, 0, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, sizeof(ok), 1,
		  &ok },
		{ "an unknown type on a nested HWPT", EINVAL, self->nested,
		  IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST + 1, sizeof(ok), 1, &ok },
	};
	__u32 vdev, num;

	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, VIRT_ID, &vdev));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		num = cases[i].num;
		EXPECT_ERRNO_CASE(cases[i].err, invalidate(self->fd, cases[i].id, cases[i].entries,
						      cases[i].type, cases[i].len, &num), cases[i].what);
		EXPECT_EQ(0, num) TH_LOG("%s", cases[i].what);
	}
	EXPECT_EQ(0, dev_cache_all(self->fd, self->idev, IOMMU_TEST_DEV_CACHE_DEFAULT));
	/* No entry probes the type. */
	num = 0;
	EXPECT_EQ(0, invalidate(self->fd, self->viommu, NULL, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
				0, &num));
	/* A shorter entry is zero-extended (cache_id 0), a longer one with a zero tail read. */
	num = 1;
	EXPECT_EQ(0, invalidate(self->fd, self->viommu, &ok, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
				8, &num));
	EXPECT_EQ(1, num);
	EXPECT_EQ(0, check_dev_cache(self->fd, self->idev, 0, 0));
	num = 1;
	EXPECT_EQ(0, invalidate(self->fd, self->viommu, longer,
				IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, sizeof(longer[0]), &num));
	EXPECT_EQ(1, num);
	EXPECT_EQ(0, check_dev_cache(self->fd, self->idev, 1, 0));
	EXPECT_EQ(0, check_dev_cache(self->fd, self->idev, 2, IOMMU_TEST_DEV_CACHE_DEFAULT));
}

TEST_F(viommu, unbinding_the_device_first_leaves_a_tombstone)
{
	__u32 vdev, stdev2, idev2, vdev2;

	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, VIRT_ID, &vdev));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->nested));
	/* Destroying the test object detaches and unbinds the device, and takes the vDEVICE. */
	ASSERT_EQ(0, destroy(self->fd, self->stdev));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, vdev));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, self->idev));
	/* The tombstone's ID is never reused; the device's IDs are. */
	ASSERT_EQ(0, mock_device(self->fd, self->ioas, &stdev2, &idev2));
	EXPECT_NE(vdev, stdev2);
	EXPECT_NE(vdev, idev2);
	/* The virt_id is free again, and the vIOMMU is not held by the vDEVICE any more. */
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, idev2, VIRT_ID, &vdev2));
	EXPECT_NE(vdev, vdev2);
	ASSERT_EQ(0, destroy(self->fd, vdev2));
	ASSERT_EQ(0, destroy(self->fd, self->nested));
	ASSERT_EQ(0, destroy(self->fd, self->viommu));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, vdev));
}

TEST_F(viommu, closing_the_file_releases_everything)
{
	__u32 vdev, stdev2, idev2, vdev2, viommu2, nested2;
	struct iommu_viommu_invalidate_selftest inv = { .vdev_id = VIRT_ID };
	__u32 num = 1;
	int fd2;

	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, VIRT_ID, &vdev));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->nested));
	ASSERT_EQ(0, invalidate(self->fd, self->viommu, &inv, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
				sizeof(inv), &num));
	/* A second set on a second vIOMMU, and a tombstone. */
	ASSERT_EQ(0, mock_device(self->fd, self->ioas, &stdev2, &idev2));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev2, self->parent, IOMMU_VIOMMU_TYPE_SELFTEST, NULL,
				  0, &viommu2));
	ASSERT_EQ(0, nested_alloc(self->fd, idev2, viommu2, 1, &nested2));
	ASSERT_EQ(0, vdevice_alloc(self->fd, viommu2, idev2, VIRT_ID, &vdev2));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, stdev2, nested2));
	ASSERT_EQ(0, test_check_refs(self->fd, self->buf, BUF_PAGES * self->psz, 1));
	ASSERT_EQ(0, destroy(self->fd, stdev2));
	/* Checked through another file, after the first one's release. */
	fd2 = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, fd2);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, test_check_refs(fd2, self->buf, BUF_PAGES * self->psz, 0));
	close(fd2);
}

TEST_HARNESS_MAIN
