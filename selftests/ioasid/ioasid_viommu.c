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
 * - the tombstone a vDEVICE leaves when its device goes first;
 * - closing the file with all of it releases everything.
 * Written against the uAPI documentation in include/uapi/linux/ioasid.h.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"

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
	/* ioasid has no mmap region yet: its length says so. */
	EXPECT_EQ(0, data.out_mmap_offset);
	EXPECT_EQ(0, data.out_mmap_length);
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
