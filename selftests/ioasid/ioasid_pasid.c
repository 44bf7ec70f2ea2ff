// SPDX-License-Identifier: GPL-2.0
/*
 * PASIDs on the module's mock IOMMU (test interface, selftest=1):
 * - attach, replace and detach of a mock device's PASIDs, through upstream's test ops
 *   (IOMMU_TEST_OP_PASID_*) and through ioasid's own IOASID_DEVICE_ATTACH/DETACH with
 *   IOASID_DEVICE_PASID, with every rule and errno (PASID-compatible HWPTs, the RID's
 *   HWPT, the device's PASID count, EBUSY/EINVAL of the test ops, a failed replace keeps
 *   the old HWPT);
 * - mock DMA tagged with a PASID is translated by that PASID's domain: two PASIDs of one
 *   device reach different memory at the same IOVA, a detached PASID faults while the RID
 *   still works;
 * - IOASID_PASID_ALLOC/FREE: lowest free PASID of a range, ENOSPC, EINVAL ranges, the
 *   per-file quota (EDQUOT), EBUSY while attached, IOMMU_DESTROY and close free it, and a
 *   PASID another file allocated cannot be attached (EPERM).
 * PASIDs of real devices: ioasid_device.c (QEMU emulates none with a PASID capability).
 * Written against the uAPI documentation in include/uapi/linux/ioasid.h.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"
#include "ioasid_edu_utils.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define IOVA (MOCK_APERTURE_START + (1UL << 20))
#define PSZ 4096UL
#define NBUF 3

FIXTURE(pasid)
{
	int fd;
	/* Three IOASes, each mapping its own page at IOVA. */
	__u32 ioas[NBUF];
	char *buf[NBUF];
	/* A PASID-compatible paging HWPT on each IOAS, and one without the flag on ioas[0]. */
	__u32 hwpt[NBUF], plain;
	/* A PASID-capable mock device (RID on hwpt[0]) and one without PASIDs. */
	__u32 stdev, idev, nopasid_stdev, nopasid_idev;
};

FIXTURE_SETUP(pasid)
{
	self->fd = -1;
	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	self->fd = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
	for (int i = 0; i < NBUF; i++) {
		__u64 iova = IOVA;

		self->buf[i] = mmap(NULL, PSZ, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, self->buf[i]);
		memset(self->buf[i], 'a' + i, PSZ);
		ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas[i]));
		ASSERT_EQ(0, ioas_map(self->fd, self->ioas[i], self->buf[i], PSZ, &iova,
				      IOMMU_IOAS_MAP_FIXED_IOVA | RW));
	}
	ASSERT_EQ(0, test_mock_domain_flags(self->fd, self->ioas[0], MOCK_FLAGS_DEVICE_PASID,
					    &self->stdev, NULL, &self->idev));
	ASSERT_EQ(0, test_mock_domain_flags(self->fd, self->ioas[0], 0, &self->nopasid_stdev,
					    NULL, &self->nopasid_idev));
	for (int i = 0; i < NBUF; i++)
		ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_PASID, self->idev,
					self->ioas[i], 0, NULL, 0, &self->hwpt[i]));
	ASSERT_EQ(0, hwpt_alloc(self->fd, 0, self->idev, self->ioas[0], 0, NULL, 0, &self->plain));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->hwpt[0]));
}

FIXTURE_TEARDOWN(pasid)
{
	if (self->fd >= 0)
		close(self->fd);
}

#define ATTACH(pasid, pt) \
	test_pasid_attach_op(self->fd, IOMMU_TEST_OP_PASID_ATTACH, self->stdev, pasid, pt)
#define REPLACE(pasid, pt) \
	test_pasid_attach_op(self->fd, IOMMU_TEST_OP_PASID_REPLACE, self->stdev, pasid, pt)
#define CHECK(pasid, pt) test_pasid_check(self->fd, self->stdev, pasid, pt)

/* The first byte the device reads at IOVA, through PASID pasid (0: the RID). */
static int dma_byte(int fd, __u32 dev, __u32 pasid)
{
	char b = 0;
	int rc = pasid ? test_mock_dma_pasid(fd, dev, pasid, IOVA, &b, 1, false) :
			 test_mock_dma(fd, dev, IOVA, &b, 1, false);

	return rc ? -errno : b;
}

TEST_F(pasid, hw_info_reports_the_pasid_width)
{
	struct iommu_hw_info info = { .size = sizeof(info), .dev_id = self->idev };

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
	EXPECT_EQ(MOCK_PASID_WIDTH, info.out_max_pasid_log2);
	info.dev_id = self->nopasid_idev;
	info.data_len = 0;	/* written back with the data's length */
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
	EXPECT_EQ(0, info.out_max_pasid_log2);
}

TEST_F(pasid, test_ops_follow_upstreams_rules)
{
	__u32 nested, parent;
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };

	/* Detaching a PASID that is not attached succeeds, as upstream's op. */
	EXPECT_EQ(0, test_pasid_detach(self->fd, self->stdev, 100));
	/* Only HWPTs allocated with IOMMU_HWPT_ALLOC_PASID; an IOAS is not one. */
	EXPECT_ERRNO(EINVAL, ATTACH(100, self->plain));
	EXPECT_ERRNO(EINVAL, ATTACH(100, self->ioas[1]));
	EXPECT_EQ(0, CHECK(100, 0));
	/* PASID 0 is the RID's; the device has 2^20 PASIDs. */
	EXPECT_ERRNO(EINVAL, ATTACH(0, self->hwpt[1]));
	EXPECT_ERRNO(EINVAL, ATTACH(1 << MOCK_PASID_WIDTH, self->hwpt[1]));
	EXPECT_ERRNO(ENOENT, ATTACH(100, 9999));
	/* A device without PASIDs has none to attach. */
	EXPECT_ERRNO(EINVAL, test_pasid_attach_op(self->fd, IOMMU_TEST_OP_PASID_ATTACH,
						  self->nopasid_stdev, 100, self->hwpt[1]));
	/* Attach, then attach again is EBUSY; replace is the way. */
	ASSERT_EQ(0, ATTACH(100, self->hwpt[1]));
	EXPECT_EQ(0, CHECK(100, self->hwpt[1]));
	EXPECT_ERRNO(EINVAL, CHECK(100, self->hwpt[2]));
	EXPECT_ERRNO(EINVAL, CHECK(100, 0));
	EXPECT_ERRNO(EBUSY, ATTACH(100, self->hwpt[2]));
	EXPECT_EQ(0, REPLACE(100, self->hwpt[2]));
	EXPECT_EQ(0, CHECK(100, self->hwpt[2]));
	/* Replace of a detached PASID, or with an IOAS, is EINVAL and changes nothing. */
	EXPECT_ERRNO(EINVAL, REPLACE(200, self->hwpt[2]));
	EXPECT_EQ(0, CHECK(200, 0));
	EXPECT_ERRNO(EINVAL, REPLACE(100, self->ioas[1]));
	EXPECT_EQ(0, CHECK(100, self->hwpt[2]));
	/* While a PASID is attached the RID needs a PASID-compatible HWPT. */
	EXPECT_ERRNO(EINVAL, test_mock_domain_replace(self->fd, self->stdev, self->plain));
	EXPECT_ERRNO(EINVAL, test_mock_domain_replace(self->fd, self->stdev, self->ioas[0]));
	EXPECT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->hwpt[1]));
	/* A HWPT in use by a PASID cannot be destroyed. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->hwpt[2]));
	EXPECT_EQ(0, test_pasid_detach(self->fd, self->stdev, 100));
	EXPECT_EQ(0, CHECK(100, 0));
	/* With no PASID attached the RID may go anywhere, but then no PASID can attach. */
	EXPECT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->plain));
	EXPECT_ERRNO(EINVAL, ATTACH(100, self->hwpt[1]));
	EXPECT_EQ(0, CHECK(100, 0));
	EXPECT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->hwpt[0]));

	/* Nested HWPTs allocated with IOMMU_HWPT_ALLOC_PASID serve PASIDs too. */
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_NEST_PARENT, self->idev, self->ioas[1],
				0, NULL, 0, &parent));
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_PASID, self->idev, parent,
				IOMMU_HWPT_DATA_SELFTEST, &data, sizeof(data), &nested));
	EXPECT_EQ(0, ATTACH(300, nested));
	EXPECT_EQ(0, CHECK(300, nested));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, nested));
	EXPECT_EQ(0, test_pasid_detach(self->fd, self->stdev, 300));
	EXPECT_EQ(0, destroy(self->fd, nested));
	EXPECT_EQ(0, destroy(self->fd, parent));
}

TEST_F(pasid, failed_replace_keeps_the_old_hwpt)
{
	/* Upstream's mock fails the second attach of PASID 1024 (its ENOMEM case). */
	ASSERT_EQ(0, ATTACH(1024, self->hwpt[1]));
	EXPECT_ERRNO(ENOMEM, REPLACE(1024, self->hwpt[2]));
	EXPECT_EQ(0, CHECK(1024, self->hwpt[1]));
	EXPECT_EQ('b', dma_byte(self->fd, self->stdev, 1024));
	/* The third succeeds. */
	EXPECT_EQ(0, REPLACE(1024, self->hwpt[2]));
	EXPECT_EQ('c', dma_byte(self->fd, self->stdev, 1024));
	EXPECT_EQ(0, test_pasid_detach(self->fd, self->stdev, 1024));
}

TEST_F(pasid, dma_is_translated_by_the_pasids_domain)
{
	char w = 'Z', r = 0;

	ASSERT_EQ(0, ATTACH(5, self->hwpt[1]));
	ASSERT_EQ(0, ATTACH(9, self->hwpt[2]));
	/* One IOVA, three address spaces: the RID's, PASID 5's and PASID 9's. */
	EXPECT_EQ('a', dma_byte(self->fd, self->stdev, 0));
	EXPECT_EQ('b', dma_byte(self->fd, self->stdev, 5));
	EXPECT_EQ('c', dma_byte(self->fd, self->stdev, 9));
	/* A write through PASID 5 lands in its IOAS's memory only. */
	ASSERT_EQ(0, test_mock_dma_pasid(self->fd, self->stdev, 5, IOVA + 10, &w, 1, true));
	EXPECT_EQ('Z', self->buf[1][10]);
	EXPECT_EQ('a', self->buf[0][10]);
	EXPECT_EQ('c', self->buf[2][10]);
	/* A PASID never attached, and one detached, fault; the RID and PASID 9 still work. */
	EXPECT_ERRNO(ENXIO, test_mock_dma_pasid(self->fd, self->stdev, 6, IOVA, &r, 1, false));
	ASSERT_EQ(0, test_pasid_detach(self->fd, self->stdev, 5));
	EXPECT_EQ(-ENXIO, dma_byte(self->fd, self->stdev, 5));
	EXPECT_EQ('a', dma_byte(self->fd, self->stdev, 0));
	EXPECT_EQ('c', dma_byte(self->fd, self->stdev, 9));
	/* Replacing PASID 9's HWPT moves its DMA in one step. */
	ASSERT_EQ(0, REPLACE(9, self->hwpt[1]));
	EXPECT_EQ('b', dma_byte(self->fd, self->stdev, 9));
	/* Unmapping the IOVA from the PASID's IOAS makes its DMA fault. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas[1], IOVA, PSZ, NULL));
	EXPECT_ERRNO(EFAULT, test_mock_dma_pasid(self->fd, self->stdev, 9, IOVA, &r, 1, false));
	EXPECT_EQ('a', dma_byte(self->fd, self->stdev, 0));
}

TEST_F(pasid, ioasid_device_attach_attaches_or_replaces)
{
	__u32 pt, auto_pt;

	/* Attach, then attach elsewhere: a replace in one step. */
	pt = self->hwpt[1];
	ASSERT_EQ(0, device_attach_pasid(self->fd, self->idev, 7, &pt));
	EXPECT_EQ(self->hwpt[1], pt);
	EXPECT_EQ('b', dma_byte(self->fd, self->stdev, 7));
	pt = self->hwpt[2];
	ASSERT_EQ(0, device_attach_pasid(self->fd, self->idev, 7, &pt));
	EXPECT_EQ(0, CHECK(7, self->hwpt[2]));
	EXPECT_EQ('c', dma_byte(self->fd, self->stdev, 7));
	/* An IOAS gets a PASID-compatible automatic HWPT, destroyed with its last user. */
	auto_pt = self->ioas[1];
	ASSERT_EQ(0, device_attach_pasid(self->fd, self->idev, 8, &auto_pt));
	EXPECT_NE(self->ioas[1], auto_pt);
	EXPECT_EQ(0, CHECK(8, auto_pt));
	EXPECT_EQ('b', dma_byte(self->fd, self->stdev, 8));
	/* ...which the RID may use too, as it is PASID-compatible. */
	EXPECT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, auto_pt));
	EXPECT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->hwpt[0]));
	EXPECT_EQ(0, device_detach_pasid(self->fd, self->idev, 8));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, auto_pt));
	/* The same rules as the test ops. */
	pt = self->plain;
	EXPECT_ERRNO(EINVAL, device_attach_pasid(self->fd, self->idev, 7, &pt));
	EXPECT_EQ(0, CHECK(7, self->hwpt[2]));
	pt = self->hwpt[1];
	EXPECT_ERRNO(EINVAL, device_attach_pasid(self->fd, self->idev, 0, &pt));
	/* Detach, then detach again: EINVAL. */
	EXPECT_EQ(0, device_detach_pasid(self->fd, self->idev, 7));
	EXPECT_EQ(0, CHECK(7, 0));
	EXPECT_ERRNO(EINVAL, device_detach_pasid(self->fd, self->idev, 7));
	/* A device without PASID support: EOPNOTSUPP. */
	pt = self->hwpt[1];
	EXPECT_ERRNO(EOPNOTSUPP, device_attach_pasid(self->fd, self->nopasid_idev, 7, &pt));
	/* Unknown flags and reserved bytes. */
	{
		struct ioasid_device_attach cmd = {
			.size = sizeof(cmd), .flags = 1 << 5, .dev_id = self->idev,
			.pt_id = self->hwpt[1], .pasid = 7,
		};

		EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOASID_DEVICE_ATTACH, &cmd));
		cmd.flags = IOASID_DEVICE_PASID;
		cmd.__reserved = 1;
		EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOASID_DEVICE_ATTACH, &cmd));
	}
	/* The RID through IOASID_DEVICE_ATTACH/DETACH: detach, DMA faults, attach again. */
	EXPECT_EQ(0, device_detach(self->fd, self->idev));
	EXPECT_EQ(-ENXIO, dma_byte(self->fd, self->stdev, 0));
	EXPECT_ERRNO(EINVAL, device_detach(self->fd, self->idev));
	pt = self->hwpt[2];
	EXPECT_EQ(0, device_attach(self->fd, self->idev, self->hwpt[2], &pt));
	EXPECT_EQ('c', dma_byte(self->fd, self->stdev, 0));
}

TEST_F(pasid, alloc_and_free)
{
	__u32 p[3], id[3], pt;

	/* The lowest free PASID of a range; ENOSPC once it is full. */
	ASSERT_EQ(0, pasid_alloc(self->fd, self->idev, 40, 41, &p[0], &id[0]));
	ASSERT_EQ(0, pasid_alloc(self->fd, self->idev, 40, 41, &p[1], &id[1]));
	EXPECT_EQ(40, p[0]);
	EXPECT_EQ(41, p[1]);
	EXPECT_NE(id[0], id[1]);
	EXPECT_ERRNO(ENOSPC, pasid_alloc(self->fd, self->idev, 40, 41, NULL, NULL));
	/* Ranges: PASID 0, empty, beyond the device's 2^20. */
	EXPECT_ERRNO(EINVAL, pasid_alloc(self->fd, self->idev, 0, 5, NULL, NULL));
	EXPECT_ERRNO(EINVAL, pasid_alloc(self->fd, self->idev, 6, 5, NULL, NULL));
	EXPECT_ERRNO(EINVAL, pasid_alloc(self->fd, self->idev, 1, 1 << MOCK_PASID_WIDTH, NULL,
					 NULL));
	/* A device without PASIDs, unknown flags. */
	EXPECT_ERRNO(EOPNOTSUPP, pasid_alloc(self->fd, self->nopasid_idev, 0, 0, NULL, NULL));
	{
		struct ioasid_pasid_alloc cmd = { .size = sizeof(cmd), .flags = 1,
						  .dev_id = self->idev };

		EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOASID_PASID_ALLOC, &cmd));
		cmd.flags = 0;
		cmd.__reserved = 1;
		EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOASID_PASID_ALLOC, &cmd));
	}
	/* Attached, it cannot be freed; detached, FREE and IOMMU_DESTROY free it. */
	pt = self->hwpt[1];
	ASSERT_EQ(0, device_attach_pasid(self->fd, self->idev, p[0], &pt));
	EXPECT_EQ('b', dma_byte(self->fd, self->stdev, p[0]));
	EXPECT_ERRNO(EBUSY, pasid_free(self->fd, self->idev, p[0]));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, id[0]));
	ASSERT_EQ(0, device_detach_pasid(self->fd, self->idev, p[0]));
	EXPECT_EQ(0, pasid_free(self->fd, self->idev, p[0]));
	EXPECT_ERRNO(ENOENT, pasid_free(self->fd, self->idev, p[0]));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, id[0]));
	EXPECT_EQ(0, destroy(self->fd, id[1]));
	EXPECT_ERRNO(ENOENT, pasid_free(self->fd, self->idev, p[1]));
	/* Both are free again. */
	ASSERT_EQ(0, pasid_alloc(self->fd, self->idev, 40, 41, &p[2], &id[2]));
	EXPECT_EQ(40, p[2]);
	/* A PASID the user picked is not allocated: FREE knows nothing of it. */
	EXPECT_ERRNO(ENOENT, pasid_free(self->fd, self->idev, 42));
}

TEST_F(pasid, quota_per_file)
{
	/* The runner loads the module with the default quota. */
	const int quota = 64;
	__u32 last = 0;
	int got = 0;

	for (int i = 0; i < quota; i++) {
		if (pasid_alloc(self->fd, self->idev, 0, 0, &last, NULL))
			break;
		got++;
	}
	EXPECT_EQ(quota, got);
	EXPECT_ERRNO(EDQUOT, pasid_alloc(self->fd, self->idev, 0, 0, NULL, NULL));
	/* Freeing one makes room for one. */
	ASSERT_EQ(0, pasid_free(self->fd, self->idev, last));
	EXPECT_EQ(0, pasid_alloc(self->fd, self->idev, 0, 0, NULL, NULL));
	EXPECT_ERRNO(EDQUOT, pasid_alloc(self->fd, self->idev, 0, 0, NULL, NULL));
}

TEST_F(pasid, another_files_pasid_cannot_be_attached)
{
	__u32 mine, theirs, ostdev, oidev, ohwpt, oioas, pt;
	int other = open(IOASID_DEV, O_RDWR);

	ASSERT_LE(0, other);
	ASSERT_EQ(0, ioas_alloc(other, &oioas));
	ASSERT_EQ(0, test_mock_domain_flags(other, oioas, MOCK_FLAGS_DEVICE_PASID, &ostdev, NULL,
					    &oidev));
	ASSERT_EQ(0, hwpt_alloc(other, IOMMU_HWPT_ALLOC_PASID, oidev, oioas, 0, NULL, 0, &ohwpt));
	ASSERT_EQ(0, test_mock_domain_replace(other, ostdev, ohwpt));
	/* This file allocates a PASID: the other file's device cannot use it. */
	ASSERT_EQ(0, pasid_alloc(self->fd, self->idev, 500, 599, &mine, NULL));
	pt = ohwpt;
	EXPECT_ERRNO(EPERM, device_attach_pasid(other, oidev, mine, &pt));
	EXPECT_ERRNO(EPERM, test_pasid_attach_op(other, IOMMU_TEST_OP_PASID_ATTACH, ostdev, mine,
						 ohwpt));
	/* ...nor free it. */
	EXPECT_ERRNO(ENOENT, pasid_free(other, oidev, mine));
	/* A PASID nobody allocated is free for anyone to pick. */
	EXPECT_EQ(0, device_attach_pasid(other, oidev, 590, &pt));
	/* The other file's own allocation works for it, and not for this file. */
	ASSERT_EQ(0, pasid_alloc(other, oidev, 500, 599, &theirs, NULL));
	EXPECT_NE(mine, theirs);
	pt = ohwpt;
	EXPECT_EQ(0, device_attach_pasid(other, oidev, theirs, &pt));
	pt = self->hwpt[1];
	EXPECT_ERRNO(EPERM, device_attach_pasid(self->fd, self->idev, theirs, &pt));
	/* Once this file frees its PASID, the other can pick it. */
	ASSERT_EQ(0, pasid_free(self->fd, self->idev, mine));
	pt = ohwpt;
	EXPECT_EQ(0, device_attach_pasid(other, oidev, mine, &pt));
	/* Closing the other file frees its PASIDs (attached ones included). */
	close(other);
	pt = self->hwpt[1];
	EXPECT_EQ(0, device_attach_pasid(self->fd, self->idev, theirs, &pt));
	EXPECT_EQ('b', dma_byte(self->fd, self->stdev, theirs));
}

TEST_F(pasid, unbinding_detaches_every_pasid)
{
	__u32 p, id;

	ASSERT_EQ(0, pasid_alloc(self->fd, self->idev, 0, 0, &p, &id));
	ASSERT_EQ(0, ATTACH(p, self->hwpt[1]));
	ASSERT_EQ(0, ATTACH(p + 1, self->hwpt[2]));
	/* The HWPTs are in use until the device goes. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->hwpt[2]));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, id));
	ASSERT_EQ(0, destroy(self->fd, self->stdev));
	EXPECT_EQ(0, destroy(self->fd, self->hwpt[2]));
	EXPECT_EQ(0, destroy(self->fd, self->hwpt[1]));
	EXPECT_EQ(0, destroy(self->fd, id));
}

TEST_HARNESS_MAIN
