// SPDX-License-Identifier: GPL-2.0
/*
 * I/O address spaces through /dev/ioasid: the object table (IOMMU_DESTROY), IOAS_ALLOC,
 * IOVA_RANGES, ALLOW_IOVAS, MAP, UNMAP and OPTION, with iommufd's size rules and errno
 * values. Written against the uAPI documentation in include/uapi/linux/ioasid.h.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/ioasid.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"

#define MiB (1UL << 20)
#define GiB (1UL << 30)
#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

static long page_size;

static int option(int fd, __u32 option_id, __u16 op, __u32 object, __u64 *val)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = option_id,
		.op = op,
		.object_id = object,
		.val64 = *val,
	};
	int ret = ioctl(fd, IOMMU_OPTION, &cmd);

	if (!ret)
		*val = cmd.val64;
	return ret;
}

static int allow(int fd, __u32 ioas, const struct iommu_iova_range *r, __u32 n)
{
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas,
		.num_iovas = n,
		.allowed_iovas = (uintptr_t)r,
	};

	return ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd);
}

FIXTURE(ioas) {
	int fd;
	__u32 ioas_id;
	void *buf;
	size_t buf_size;
};

FIXTURE_SETUP(ioas)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->fd = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	self->buf_size = 16 * page_size;
	self->buf = mmap(NULL, self->buf_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(ioas)
{
	munmap(self->buf, self->buf_size);
	close(self->fd);
}

/* --- the object table --------------------------------------------------------------- */

TEST_F(ioas, alloc_gives_distinct_nonzero_ids)
{
	__u32 a, b;

	ASSERT_NE(0, self->ioas_id);
	ASSERT_EQ(0, ioas_alloc(self->fd, &a));
	ASSERT_EQ(0, ioas_alloc(self->fd, &b));
	EXPECT_NE(a, b);
	EXPECT_NE(self->ioas_id, a);
	EXPECT_NE(0, a);
}

TEST_F(ioas, alloc_with_flags_is_eopnotsupp_and_writes_nothing)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd), .flags = 1, .out_ioas_id = 0xdead };

	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOC, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(0xdead, cmd.out_ioas_id);
}

TEST_F(ioas, destroy_then_destroy_again_is_enoent)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = self->ioas_id };
	__u64 iova = 0;

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &d));
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_DESTROY, &d));
	EXPECT_EQ(ENOENT, errno);
	/* The ID no longer names an IOAS. */
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova, RW));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(ioas, destroy_unknown_ids_is_enoent)
{
	const __u32 ids[] = { 0, self->ioas_id + 1, 0x7fffffff, 0xffffffff };
	unsigned int i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct iommu_destroy d = { .size = sizeof(d), .id = ids[i] };

		EXPECT_EQ(-1, ioctl(self->fd, IOMMU_DESTROY, &d));
		EXPECT_EQ(ENOENT, errno);
	}
}

TEST_F(ioas, destroy_with_live_mappings_releases_them)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = self->ioas_id };
	__u64 iova = 0;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->buf_size, &iova, RW));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &d));
}

TEST(ids_are_per_file)
{
	int a = open(IOASID_DEV, O_RDWR), b = open(IOASID_DEV, O_RDWR);
	struct iommu_destroy d = { .size = sizeof(d) };
	__u32 id;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, ioas_alloc(a, &id));
	d.id = id;
	EXPECT_EQ(-1, ioctl(b, IOMMU_DESTROY, &d));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(0, ioctl(a, IOMMU_DESTROY, &d));
	close(a);
	close(b);
}

/*
 * 200 IOASes, past the object table's first level (64). 500 took 1.6 to 1.7 s on arm64
 * and 13.1 s on x86_64 while kmemleak's first scan ran; 2000 took 11.9 s on x86_64.
 */
TEST(many_objects_then_close)
{
	int fd = open(IOASID_DEV, O_RDWR);
	__u32 id;
	int i;

	ASSERT_LE(0, fd);
	for (i = 0; i < 200; i++)
		ASSERT_EQ(0, ioas_alloc(fd, &id));
	/* Closing the file releases them all (kmemleak checks at the end of the run). */
	ASSERT_EQ(0, close(fd));
}

/* --- size rules, on every ioctl ------------------------------------------------------ */

struct sized_cmd {
	unsigned long nr;
	size_t size;
};

static const struct sized_cmd sized_cmds[] = {
	{ IOMMU_DESTROY, sizeof(struct iommu_destroy) },
	{ IOMMU_IOAS_ALLOC, sizeof(struct iommu_ioas_alloc) },
	{ IOMMU_IOAS_ALLOW_IOVAS, sizeof(struct iommu_ioas_allow_iovas) },
	{ IOMMU_IOAS_COPY, sizeof(struct iommu_ioas_copy) },
	{ IOMMU_IOAS_IOVA_RANGES, sizeof(struct iommu_ioas_iova_ranges) },
	{ IOMMU_IOAS_MAP, sizeof(struct iommu_ioas_map) },
	{ IOMMU_IOAS_UNMAP, sizeof(struct iommu_ioas_unmap) },
	{ IOMMU_OPTION, sizeof(struct iommu_option) },
	{ IOMMU_IOAS_MAP_FILE, sizeof(struct iommu_ioas_map_file) },
	{ IOMMU_HWPT_INVALIDATE, sizeof(struct iommu_hwpt_invalidate) },
};

TEST_F(ioas, size_below_minimum_is_einval_on_every_ioctl)
{
	unsigned int i;

	for (i = 0; i < sizeof(sized_cmds) / sizeof(sized_cmds[0]); i++) {
		__u32 buf[64] = { 0 };

		buf[0] = sized_cmds[i].size - 4;
		EXPECT_EQ(-1, ioctl(self->fd, sized_cmds[i].nr, buf));
		EXPECT_EQ(EINVAL, errno) TH_LOG("ioctl %#lx", sized_cmds[i].nr);
		buf[0] = 0;
		EXPECT_EQ(-1, ioctl(self->fd, sized_cmds[i].nr, buf));
		EXPECT_EQ(EINVAL, errno) TH_LOG("ioctl %#lx", sized_cmds[i].nr);
	}
}

TEST_F(ioas, nonzero_bytes_past_the_struct_are_e2big_on_every_ioctl)
{
	unsigned int i;

	for (i = 0; i < sizeof(sized_cmds) / sizeof(sized_cmds[0]); i++) {
		__u8 buf[512] = { 0 };

		*(__u32 *)buf = sized_cmds[i].size + 8;
		buf[sized_cmds[i].size + 7] = 1;
		EXPECT_EQ(-1, ioctl(self->fd, sized_cmds[i].nr, buf));
		EXPECT_EQ(E2BIG, errno) TH_LOG("ioctl %#lx", sized_cmds[i].nr);
		/* Far past the struct too (the check reads all of it). */
		*(__u32 *)buf = 400;
		buf[sized_cmds[i].size + 7] = 0;
		buf[399] = 0x80;
		EXPECT_EQ(-1, ioctl(self->fd, sized_cmds[i].nr, buf));
		EXPECT_EQ(E2BIG, errno) TH_LOG("ioctl %#lx", sized_cmds[i].nr);
	}
}

TEST_F(ioas, larger_struct_with_zero_tail_works_and_output_stays_inside_size)
{
	struct {
		struct iommu_ioas_alloc cmd;
		__u8 tail[64];
		__u32 canary;
	} big;

	memset(&big, 0, sizeof(big));
	big.cmd.size = sizeof(big.cmd) + sizeof(big.tail);
	big.canary = 0xc0ffee;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &big));
	EXPECT_NE(0, big.cmd.out_ioas_id);
	EXPECT_EQ(0xc0ffee, big.canary);
}

TEST_F(ioas, bad_argument_pointer_is_efault)
{
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOC, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

/* --- IOVA ranges and allowed ranges -------------------------------------------------- */

TEST_F(ioas, fresh_ioas_has_the_whole_64bit_space)
{
	struct iommu_iova_range r[2] = { 0 };
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = self->ioas_id,
		.num_iovas = 2,
		.allowed_iovas = (uintptr_t)r,
	};

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	EXPECT_EQ(1, cmd.num_iovas);
	EXPECT_EQ(0, r[0].start);
	EXPECT_EQ(UINT64_MAX, r[0].last);
	EXPECT_EQ(1, cmd.out_iova_alignment);
}

TEST_F(ioas, iova_ranges_two_call_protocol_is_emsgsize)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = self->ioas_id,
		.num_iovas = 0,
	};

	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(1, cmd.num_iovas);
}

TEST_F(ioas, iova_ranges_errors)
{
	struct iommu_iova_range r;
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = self->ioas_id,
		.num_iovas = 1,
		.__reserved = 1,
		.allowed_iovas = (uintptr_t)&r,
	};

	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	cmd.__reserved = 0;
	cmd.ioas_id = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	EXPECT_EQ(ENOENT, errno);
	cmd.ioas_id = self->ioas_id;
	cmd.allowed_iovas = 8;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(ioas, allow_iovas_rejects_empty_and_overlapping_ranges)
{
	struct iommu_iova_range empty = { .start = 0x10000, .last = 0x10000 };
	struct iommu_iova_range overlap[2] = {
		{ .start = 0x10000, .last = 0x1ffff },
		{ .start = 0x1f000, .last = 0x2ffff },
	};
	struct iommu_ioas_allow_iovas cmd = { .size = sizeof(cmd), .ioas_id = self->ioas_id,
					      .__reserved = 1 };

	EXPECT_EQ(-1, allow(self->fd, self->ioas_id, &empty, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, allow(self->fd, self->ioas_id, overlap, 2));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, allow(self->fd, 0, overlap, 1));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, allow(self->fd, self->ioas_id, (void *)8, 1));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(ioas, automatic_iova_stays_in_allowed_ranges)
{
	struct iommu_iova_range r[2] = {
		{ .start = 0x40000000, .last = 0x40000000 + 4 * page_size - 1 },
		{ .start = 0x80000000, .last = 0x8fffffff },
	};
	__u64 iova;
	int i;

	ASSERT_EQ(0, allow(self->fd, self->ioas_id, r, 2));
	for (i = 0; i < 8; i++) {
		iova = 0;
		ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova, RW));
		EXPECT_TRUE((iova >= r[0].start && iova + page_size - 1 <= r[0].last) ||
			    (iova >= r[1].start && iova + page_size - 1 <= r[1].last))
			TH_LOG("iova %#llx", (unsigned long long)iova);
	}
	/* Too large for any allowed range (nothing is pinned without a domain). */
	iova = 0;
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, 512 * MiB, &iova, RW));
	EXPECT_EQ(ENOSPC, errno);
	/* 16 pages fit in the second range; they do not fit the first, now full. */
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->buf_size, &iova, RW));
	EXPECT_LE(r[1].start, iova);
	/* Fixed mappings are not bound by the allowed list. */
	iova = 0x1000000;
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	/* An empty list allows everything again. */
	ASSERT_EQ(0, allow(self->fd, self->ioas_id, NULL, 0));
	iova = 0;
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova, RW));
	EXPECT_GT(r[0].start, iova);
}

TEST_F(ioas, automatic_iova_fails_with_enospc_when_nothing_fits)
{
	struct iommu_iova_range r = { .start = 0x100000, .last = 0x100000 + page_size - 1 };
	__u64 iova = 0;

	ASSERT_EQ(0, allow(self->fd, self->ioas_id, &r, 1));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova, RW));
	EXPECT_EQ(r.start, iova);
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova, RW));
	EXPECT_EQ(ENOSPC, errno);
}

/* --- reserved ranges (added through IOMMU_TEST_CMD, as a device's would be) ---------- */

#define NEED_SELFTEST()								\
	do {									\
		if (!getenv("IOASID_SELFTEST"))					\
			SKIP(return, "ioasid.ko was not loaded with selftest=1");	\
	} while (0)

TEST_F(ioas, reserved_ranges_leave_iova_ranges)
{
	struct iommu_iova_range r[3] = { 0 };
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd), .ioas_id = self->ioas_id, .num_iovas = 3,
		.allowed_iovas = (uintptr_t)r,
	};

	NEED_SELFTEST();
	ASSERT_EQ(0, test_add_reserved(self->fd, self->ioas_id, 0x100000, 0x100000));
	ASSERT_EQ(0, test_add_reserved(self->fd, self->ioas_id, UINT64_MAX - 0xffff, 0x10000));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	ASSERT_EQ(2, cmd.num_iovas);
	EXPECT_EQ(0, r[0].start);
	EXPECT_EQ(0xfffff, r[0].last);
	EXPECT_EQ(0x200000, r[1].start);
	EXPECT_EQ(UINT64_MAX - 0x10000, r[1].last);
}

TEST_F(ioas, reserved_ranges_refuse_fixed_maps_and_are_skipped_by_the_allocator)
{
	__u64 iova = 0x180000;

	NEED_SELFTEST();
	ASSERT_EQ(0, test_add_reserved(self->fd, self->ioas_id, page_size, 0x1000000 - page_size));
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova,
			       RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(EINVAL, errno);
	iova = 0;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova, RW));
	EXPECT_LE(0x1000000, iova);
}

TEST_F(ioas, reserving_over_mappings_or_allowed_ranges_is_eaddrinuse)
{
	struct iommu_iova_range allowed = { .start = 0x800000, .last = 0x8fffff };
	__u64 iova = 0x400000;

	NEED_SELFTEST();
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(-1, test_add_reserved(self->fd, self->ioas_id, 0x3ff000, 0x2000));
	EXPECT_EQ(EADDRINUSE, errno);
	ASSERT_EQ(0, allow(self->fd, self->ioas_id, &allowed, 1));
	EXPECT_EQ(-1, test_add_reserved(self->fd, self->ioas_id, 0x8ff000, 0x2000));
	EXPECT_EQ(EADDRINUSE, errno);
	/* And the other way round: an allowed range over a reserved one. */
	ASSERT_EQ(0, test_add_reserved(self->fd, self->ioas_id, 0xa00000, 0x1000));
	allowed.start = 0x900000;
	allowed.last = 0xafffff;
	EXPECT_EQ(-1, allow(self->fd, self->ioas_id, &allowed, 1));
	EXPECT_EQ(EADDRINUSE, errno);
}

TEST_F(ioas, test_cmd_argument_errors)
{
	struct ioasid_test_cmd cmd = { .size = sizeof(cmd), .op = 999, .id = self->ioas_id };

	NEED_SELFTEST();
	EXPECT_EQ(-1, test_add_reserved(self->fd, self->ioas_id, 0x1000, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, test_add_reserved(self->fd, self->ioas_id, UINT64_MAX, 2));
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_EQ(-1, test_add_reserved(self->fd, 0, 0x1000, 0x1000));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_TEST_CMD, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	cmd.size = 64;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_TEST_CMD, &cmd));
	EXPECT_EQ(EINVAL, errno);
}

/* --- MAP ------------------------------------------------------------------------------ */

TEST_F(ioas, map_argument_errors)
{
	__u64 iova = 0;
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = RW,
		.ioas_id = self->ioas_id,
		.__reserved = 1,
		.user_va = (uintptr_t)self->buf,
		.length = page_size,
	};

	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova, RW | 1 << 3));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, 0, &iova, RW));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, UINT64_MAX, &iova, RW));
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, (void *)UINTPTR_MAX - 0xfff, 0x2000,
			       &iova, RW));
	EXPECT_EQ(EOVERFLOW, errno);
	iova = UINT64_MAX;
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova,
			       RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(EOVERFLOW, errno);
	iova = UINT64_MAX - page_size + 2;
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova,
			       RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(EOVERFLOW, errno);
	iova = 0;
	EXPECT_EQ(-1, ioas_map(self->fd, 0, self->buf, page_size, &iova, RW));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(ioas, map_fixed_places_it_there_and_overlap_is_eexist)
{
	__u64 iova = 0x100000;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, 4 * page_size, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(0x100000, iova);
	/* Same start, a later page, one byte of overlap at the end. */
	iova = 0x100000;
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova,
			       RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(EEXIST, errno);
	iova = 0x100000 + 3 * page_size;
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova,
			       RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(EEXIST, errno);
	iova = 0x100000 - page_size;
	EXPECT_EQ(-1, ioas_map(self->fd, self->ioas_id, self->buf, 2 * page_size, &iova,
			       RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(EEXIST, errno);
	/* Right next to it is free. */
	iova = 0x100000 + 4 * page_size;
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	/* The last page of the 64-bit space can be mapped. */
	iova = UINT64_MAX - page_size + 1;
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
}

TEST_F(ioas, map_automatic_iova_is_nonzero_distinct_and_follows_the_user_alignment)
{
	__u64 a = 0, b = 0, c = 0;
	void *huge;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &a, RW));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &b, RW));
	EXPECT_NE(0, a);
	EXPECT_NE(a, b);
	EXPECT_EQ(0, a % page_size);
	/* A 2 MiB-aligned buffer of 4 MiB gets a 2 MiB-aligned IOVA. */
	huge = mmap(NULL, 6 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, huge);
	huge = (void *)(((uintptr_t)huge + 2 * MiB - 1) & ~(2 * MiB - 1));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, huge, 4 * MiB, &c, RW));
	EXPECT_EQ(0, c % (2 * MiB));
	/* A sub-page user address keeps its offset within the page. */
	c = 0;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, (char *)self->buf + 0x123, 0x100, &c,
			      IOMMU_IOAS_MAP_READABLE));
	EXPECT_EQ(0x123, c % page_size);
}

TEST_F(ioas, map_and_unmap_one_gib)
{
	__u64 iova = 0, unmapped = 0;
	void *mem = mmap(NULL, GiB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, mem, GiB, &iova, RW));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, GiB, &unmapped));
	EXPECT_EQ(GiB, unmapped);
	munmap(mem, GiB);
}

/* --- MAP_FILE ------------------------------------------------------------------------- */


TEST_F(ioas, map_file_of_a_memfd_keeps_the_file_after_close)
{
	int mfd = memfd_create("ioasid", 0);
	__u64 iova = 0, unmapped = 0, copy = 0;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 4 * page_size));
	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, mfd, page_size, 2 * page_size, &iova,
				   RW));
	EXPECT_NE(0, iova);
	/* The mapping holds its own reference to the file. */
	ASSERT_EQ(0, close(mfd));
	ASSERT_EQ(0, ioas_copy(self->fd, self->ioas_id, self->ioas_id, iova, 2 * page_size, &copy,
			       RW));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, 2 * page_size, &unmapped));
	EXPECT_EQ(2 * page_size, unmapped);
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, copy, 2 * page_size, &unmapped));
}

/*
 * Only files whose pages can be pinned (memfd, hugetlbfs) are mapped, checked at once:
 * found by ioasid_fuzz (seed 1, one thread, 2437 operations), a mapping of the /dev/ioasid
 * file itself was accepted (pages are pinned lazily), and the file then held its own
 * context after close, with every pin of its IOASes (VmPin, kmemleak).
 */
TEST_F(ioas, map_file_of_a_file_that_cannot_be_pinned_is_einval)
{
	int fds[2], fd2 = open(IOASID_DEV, O_RDWR);
	__u64 iova = 0;
	__u32 ioas2;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, pipe(fds));
	EXPECT_ERRNO(EINVAL, ioas_map_file(self->fd, self->ioas_id, self->fd, 0, page_size,
					   &iova, RW));
	EXPECT_ERRNO(EINVAL, ioas_map_file(self->fd, self->ioas_id, fds[0], 0, page_size, &iova,
					   RW));
	/* Another file's: refused as well (it would hold that file, and that file this one). */
	ASSERT_EQ(0, ioas_alloc(fd2, &ioas2));
	EXPECT_ERRNO(EINVAL, ioas_map_file(fd2, ioas2, self->fd, 0, page_size, &iova, RW));
	close(fd2);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(ioas, map_file_iova_follows_the_file_offset_alignment)
{
	int mfd = memfd_create("ioasid", 0);
	__u64 iova = 0;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 8 * MiB));
	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, mfd, 2 * MiB, 4 * MiB, &iova, RW));
	EXPECT_EQ(0, iova % (2 * MiB));
	close(mfd);
}

TEST_F(ioas, map_file_of_a_hugetlbfs_memfd)
{
	int mfd = memfd_create("ioasid-huge", MFD_HUGETLB);
	__u64 iova = 0, unmapped = 0;

	if (mfd < 0)
		SKIP(return, "no hugetlbfs memfd: %s", strerror(errno));
	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, mfd, 0, 2 * MiB, &iova, RW));
	EXPECT_EQ(0, iova % (2 * MiB));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, 2 * MiB, &unmapped));
	EXPECT_EQ(2 * MiB, unmapped);
	close(mfd);
}

TEST_F(ioas, map_file_argument_errors)
{
	int mfd = memfd_create("ioasid", 0);
	__u64 iova = 0;

	ASSERT_LE(0, mfd);
	EXPECT_EQ(-1, ioas_map_file(self->fd, self->ioas_id, -1, 0, page_size, &iova, RW));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ioas_map_file(self->fd, self->ioas_id, 1000, 0, page_size, &iova, RW));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ioas_map_file(self->fd, self->ioas_id, mfd, 0, page_size, &iova, RW | 1 << 4));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, ioas_map_file(self->fd, self->ioas_id, mfd, 0, page_size, &iova, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioas_map_file(self->fd, self->ioas_id, mfd, 0, 0, &iova, RW));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioas_map_file(self->fd, self->ioas_id, mfd, UINT64_MAX - 0xfff, 0x2000, &iova,
				    RW));
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_EQ(-1, ioas_map_file(self->fd, 0, mfd, 0, page_size, &iova, RW));
	EXPECT_EQ(ENOENT, errno);
	close(mfd);
}

/* --- UNMAP ---------------------------------------------------------------------------- */

TEST_F(ioas, unmap_exact_range_returns_its_length)
{
	__u64 iova = 0x200000, unmapped = 0;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, 2 * page_size, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, 2 * page_size, &unmapped));
	EXPECT_EQ(2 * page_size, unmapped);
	/* Nothing there any more. */
	EXPECT_EQ(-1, ioas_unmap(self->fd, self->ioas_id, iova, 2 * page_size, NULL));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(ioas, unmap_that_cuts_an_area_is_enoent_and_keeps_it)
{
	__u64 iova = 0x200000, unmapped = 0;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, 4 * page_size, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(-1, ioas_unmap(self->fd, self->ioas_id, iova, page_size, NULL));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, ioas_unmap(self->fd, self->ioas_id, iova + page_size, 4 * page_size, NULL));
	EXPECT_EQ(ENOENT, errno);
	/* Still mapped, whole. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, 4 * page_size, &unmapped));
	EXPECT_EQ(4 * page_size, unmapped);
}

TEST_F(ioas, unmap_a_superset_removes_every_area_inside)
{
	__u64 unmapped = 0, iova;
	int i;

	for (i = 0; i < 4; i++) {
		iova = 0x400000 + i * 2 * page_size;
		ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova,
				      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	}
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0x300000, 0x200000, &unmapped));
	EXPECT_EQ(4 * page_size, unmapped);
}

TEST_F(ioas, unmap_all_unmaps_everything_and_works_when_empty)
{
	__u64 unmapped = 1, iova = 0;

	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, &unmapped));
	EXPECT_EQ(0, unmapped);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, 3 * page_size, &iova, RW));
	iova = UINT64_MAX - page_size + 1;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, &unmapped));
	EXPECT_EQ(4 * page_size, unmapped);
	EXPECT_EQ(-1, ioas_unmap(self->fd, self->ioas_id, iova, page_size, NULL));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(ioas, unmap_argument_errors)
{
	EXPECT_EQ(-1, ioas_unmap(self->fd, self->ioas_id, 0x1000, 0, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioas_unmap(self->fd, self->ioas_id, UINT64_MAX - 0xfff, 0x2000, NULL));
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_EQ(-1, ioas_unmap(self->fd, self->ioas_id, 0x1000, UINT64_MAX, NULL));
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_EQ(-1, ioas_unmap(self->fd, 0, 0, UINT64_MAX, NULL));
	EXPECT_EQ(ENOENT, errno);
}

/* --- COPY ----------------------------------------------------------------------------- */

TEST_F(ioas, copy_then_unmapping_the_source_keeps_the_copy)
{
	__u64 src = 0, dst = 0, unmapped = 0;
	__u32 other;

	ASSERT_EQ(0, ioas_alloc(self->fd, &other));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->buf_size, &src, RW));
	ASSERT_EQ(0, ioas_copy(self->fd, other, self->ioas_id, src, self->buf_size, &dst, RW));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, &unmapped));
	EXPECT_EQ(self->buf_size, unmapped);
	ASSERT_EQ(0, ioas_unmap(self->fd, other, dst, self->buf_size, &unmapped));
	EXPECT_EQ(self->buf_size, unmapped);
}

TEST_F(ioas, copy_takes_a_slice_of_an_area_and_spans_contiguous_areas)
{
	__u64 a = 0x100000, b = 0x100000 + 4 * page_size, dst = 0x900000, unmapped = 0;
	__u32 other;

	ASSERT_EQ(0, ioas_alloc(self->fd, &other));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, 4 * page_size, &a,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, (char *)self->buf + 4 * page_size,
			      4 * page_size, &b, RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	/* Pages 1-2 of the first area. */
	ASSERT_EQ(0, ioas_copy(self->fd, other, self->ioas_id, a + page_size, 2 * page_size,
			       &dst, RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(0x900000, dst);
	/* The last page of the first area and the first of the second: two new areas. */
	dst = 0xa00000;
	ASSERT_EQ(0, ioas_copy(self->fd, other, self->ioas_id, a + 3 * page_size, 2 * page_size,
			       &dst, RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	/* Each source area became its own destination area: they unmap one at a time. */
	ASSERT_EQ(0, ioas_unmap(self->fd, other, 0xa00000, page_size, &unmapped));
	EXPECT_EQ(page_size, unmapped);
	ASSERT_EQ(0, ioas_unmap(self->fd, other, 0xa00000 + page_size, page_size, &unmapped));
	EXPECT_EQ(page_size, unmapped);
	/* The two-page slice of the first area is one area: half of it is refused. */
	EXPECT_EQ(-1, ioas_unmap(self->fd, other, 0x900000, page_size, NULL));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, ioas_unmap(self->fd, other, 0x900000, 2 * page_size, &unmapped));
	EXPECT_EQ(2 * page_size, unmapped);
}

TEST_F(ioas, copy_into_the_same_ioas)
{
	__u64 src = 0, dst = 0;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &src, RW));
	ASSERT_EQ(0, ioas_copy(self->fd, self->ioas_id, self->ioas_id, src, page_size, &dst,
			       IOMMU_IOAS_MAP_READABLE));
	EXPECT_NE(src, dst);
	/* A fixed destination over an existing mapping is EEXIST. */
	EXPECT_EQ(-1, ioas_copy(self->fd, self->ioas_id, self->ioas_id, src, page_size, &src,
				RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(EEXIST, errno);
}

TEST_F(ioas, copy_of_unmapped_or_holed_ranges_is_enoent)
{
	__u64 a = 0x100000, b = 0x100000 + 2 * page_size, dst = 0;

	EXPECT_EQ(-1, ioas_copy(self->fd, self->ioas_id, self->ioas_id, a, page_size, &dst, RW));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &a,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &b,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	/* The page between the two areas is a hole. */
	EXPECT_EQ(-1, ioas_copy(self->fd, self->ioas_id, self->ioas_id, a, 3 * page_size, &dst,
				RW));
	EXPECT_EQ(ENOENT, errno);
	/* Running past the end of the last area. */
	EXPECT_EQ(-1, ioas_copy(self->fd, self->ioas_id, self->ioas_id, b, 2 * page_size, &dst,
				RW));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(ioas, copy_for_write_of_read_only_memory_is_eperm)
{
	__u64 src = 0, dst = 0;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &src,
			      IOMMU_IOAS_MAP_READABLE));
	EXPECT_EQ(-1, ioas_copy(self->fd, self->ioas_id, self->ioas_id, src, page_size, &dst, RW));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, ioas_copy(self->fd, self->ioas_id, self->ioas_id, src, page_size, &dst,
			       IOMMU_IOAS_MAP_READABLE));
}

TEST_F(ioas, copy_argument_errors)
{
	__u64 src = 0, dst = 0;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, page_size, &src, RW));
	EXPECT_EQ(-1, ioas_copy(self->fd, self->ioas_id, self->ioas_id, src, page_size, &dst,
				RW | 1 << 5));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, ioas_copy(self->fd, self->ioas_id, self->ioas_id, src, UINT64_MAX, &dst, RW));
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_EQ(-1, ioas_copy(self->fd, self->ioas_id, self->ioas_id, src, page_size, &dst, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioas_copy(self->fd, self->ioas_id, self->ioas_id, src, 0, &dst, RW));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioas_copy(self->fd, self->ioas_id, 0, src, page_size, &dst, RW));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, ioas_copy(self->fd, 0, self->ioas_id, src, page_size, &dst, RW));
	EXPECT_EQ(ENOENT, errno);
}

/* --- OPTION --------------------------------------------------------------------------- */

TEST(option_rlimit_mode_is_per_file_and_fixed_once_objects_exist)
{
	int fd = open(IOASID_DEV, O_RDWR);
	__u64 val = 7;
	__u32 id;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, option(fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_GET, 0, &val));
	EXPECT_EQ(0, val);
	val = 1;
	ASSERT_EQ(0, option(fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, &val));
	val = 7;
	ASSERT_EQ(0, option(fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_GET, 0, &val));
	EXPECT_EQ(1, val);
	val = 2;
	EXPECT_EQ(-1, option(fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, &val));
	EXPECT_EQ(EINVAL, errno);
	val = 0;
	EXPECT_EQ(-1, option(fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 1, &val));
	EXPECT_EQ(EOPNOTSUPP, errno);
	ASSERT_EQ(0, ioas_alloc(fd, &id));
	EXPECT_EQ(-1, option(fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, &val));
	EXPECT_EQ(EBUSY, errno);
	close(fd);
}

TEST_F(ioas, option_huge_pages_get_and_set)
{
	__u64 val = 7;

	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET,
			    self->ioas_id, &val));
	EXPECT_EQ(1, val);
	val = 0;
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET,
			    self->ioas_id, &val));
	val = 7;
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET,
			    self->ioas_id, &val));
	EXPECT_EQ(0, val);
	val = 2;
	EXPECT_EQ(-1, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET,
			     self->ioas_id, &val));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, 0, &val));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(ioas, option_errors)
{
	struct iommu_option cmd = { .size = sizeof(cmd), .option_id = IOMMU_OPTION_RLIMIT_MODE,
				    .op = IOMMU_OPTION_OP_GET, .__reserved = 1 };
	__u64 val = 0;

	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_OPTION, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, option(self->fd, 99, IOMMU_OPTION_OP_GET, 0, &val));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, 2, 0, &val));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, option(self->fd, IOMMU_OPTION_HUGE_PAGES, 2, self->ioas_id, &val));
	EXPECT_EQ(EOPNOTSUPP, errno);
}

/* --- concurrency ------------------------------------------------------------------------ */

struct stress {
	int fd;
	__u32 ioas;
	void *buf;
	time_t end;
	int thread;
	long ops;
	int errors;
};

static void *stress_thread(void *arg)
{
	struct stress *s = arg;

	while (time(NULL) < s->end) {
		__u64 fixed = 0x10000000ULL * (s->thread + 1), iova = 0, unmapped = 0;

		/* Automatic and fixed mappings, unmapped exactly; each thread owns its fixed range. */
		if (ioas_map(s->fd, s->ioas, s->buf, page_size, &iova, RW) ||
		    ioas_map(s->fd, s->ioas, s->buf, 2 * page_size, &fixed,
			     RW | IOMMU_IOAS_MAP_FIXED_IOVA))
			s->errors++;
		if (ioas_unmap(s->fd, s->ioas, iova, page_size, &unmapped) || unmapped != page_size)
			s->errors++;
		if (ioas_unmap(s->fd, s->ioas, fixed, 2 * page_size, &unmapped) ||
		    unmapped != 2 * page_size)
			s->errors++;
		s->ops += 4;
	}
	return NULL;
}

TEST_F_TIMEOUT(ioas, concurrent_map_and_unmap_from_8_threads, STRESS_TIMEOUT)
{
	enum { N = 8 };
	struct stress s[N];
	pthread_t t[N];
	__u64 unmapped = 1;
	long ops = 0;
	int i;

	for (i = 0; i < N; i++) {
		s[i] = (struct stress){ .fd = self->fd, .ioas = self->ioas_id, .buf = self->buf,
					.end = time(NULL) + STRESS_SECONDS, .thread = i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, stress_thread, &s[i]));
	}
	for (i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, s[i].errors) TH_LOG("thread %d", i);
		ops += s[i].ops;
	}
	TH_LOG("%ld map/unmap operations in %d s", ops, STRESS_SECONDS);
	/* Everything was unmapped: the IOAS is empty again. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, &unmapped));
	EXPECT_EQ(0, unmapped);
}

TEST_HARNESS_MAIN
