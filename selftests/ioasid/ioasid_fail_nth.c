// SPDX-License-Identifier: GPL-2.0
/*
 * Every allocation failure of every IOAS ioctl, one at a time: with fault injection
 * (failslab and fail_page_alloc through /proc/thread-self/fail-nth) the Nth allocation of
 * the call fails, for N = 1, 2, ... until the call no longer reaches an Nth one. Each
 * failing call must return ENOMEM and leave the IOAS exactly as it was; the runner's
 * kmemleak scan at the end of the guest run catches anything a failure path leaked.
 */
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/ioasid.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_edu_utils.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

/*
 * Calls that reach an IOMMU driver may turn an allocation failure into another errno
 * (the driver's choice); for them only "failed and changed nothing" is checked.
 */
static bool any_errno;

/* Makes sleeping (GFP_KERNEL) allocations eligible, as the upstream fail_nth test does. */
static int setup_fault_injection(void)
{
	static const char *const knobs[][2] = {
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/failslab/verbose", "0" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (write_str(knobs[i][0], knobs[i][1]))
			return -1;
	return 0;
}

/*
 * The calling thread's fail-nth file, opened once before any fault is armed: opening it
 * while armed would itself allocate and consume the fault. Reading and writing it does
 * not allocate.
 */
static int nth_fd = -1;

static int open_fail_nth(void)
{
	if (nth_fd < 0)
		nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	return nth_fd;
}

/* Arms the Nth fault of the calling thread's next calls. */
static int fail_nth(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth_fd, buf, len, 0) == len ? 0 : -1;
}

/* Whether the armed fault fired (the counter reads 0 once it did), and disarms it. */
static int fail_nth_fired(void)
{
	char buf[16] = { 0 };
	int fired;

	if (pread(nth_fd, buf, sizeof(buf) - 1, 0) <= 0)
		return -1;
	fired = atoi(buf) == 0;
	if (pwrite(nth_fd, "0", 1, 0) != 1)
		return -1;
	return fired;
}

static __u64 unmap_all(int fd, __u32 ioas)
{
	struct iommu_ioas_unmap cmd = { .size = sizeof(cmd), .ioas_id = ioas, .length = UINT64_MAX };

	if (ioctl(fd, IOMMU_IOAS_UNMAP, &cmd))
		return UINT64_MAX;
	return cmd.length;
}

FIXTURE(fail_nth) {
	int fd;
	__u32 ioas;
	void *buf;
	long page;
};

FIXTURE_SETUP(fail_nth)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	if (open_fail_nth() < 0 || setup_fault_injection())
		SKIP(return, "no fault injection in this kernel");
	self->page = sysconf(_SC_PAGESIZE);
	self->fd = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &alloc));
	self->ioas = alloc.out_ioas_id;
	self->buf = mmap(NULL, 4 * self->page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(fail_nth)
{
	close(self->fd);
}

/*
 * Runs `call` with the Nth allocation failing for N = 1, 2, ...; `call` returns the ioctl's
 * result, `check(ok)` verifies the state after it and undoes a success. Returns how many
 * failure points were exercised.
 */
#define FOR_EACH_FAILURE(call, check)						\
	({									\
		unsigned int __n, __points = 0;					\
		for (__n = 1; __n < 100; __n++) {				\
			int __ret, __fired;					\
										\
			ASSERT_EQ(0, fail_nth(__n));				\
			__ret = (call);						\
			__fired = fail_nth_fired();				\
			ASSERT_LE(0, __fired);					\
			if (__ret && !any_errno) {				\
				ASSERT_EQ(ENOMEM, errno) TH_LOG("fault %u", __n); \
			}							\
			check(__ret == 0);					\
			if (!__fired)						\
				break;						\
			__points++;						\
		}								\
		ASSERT_GT(100, __n);						\
		__points;							\
	})

TEST_F(fail_nth, ioas_alloc)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	unsigned int points;

#define CHECK_ALLOC(ok)								\
	do {									\
		if (ok) {							\
			struct iommu_destroy d = { .size = sizeof(d), .id = cmd.out_ioas_id }; \
			ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &d));	\
		}								\
	} while (0)
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_IOAS_ALLOC, &cmd), CHECK_ALLOC);
	TH_LOG("%u allocation points", points);
	EXPECT_LE(1, points);
}

TEST_F(fail_nth, ioas_map_leaves_nothing_mapped_on_failure)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd), .flags = RW, .ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf, .length = 4 * self->page,
	};
	unsigned int points;

#define CHECK_MAP(ok) ASSERT_EQ((ok) ? 4 * (__u64)self->page : 0, unmap_all(self->fd, self->ioas))
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_IOAS_MAP, &cmd), CHECK_MAP);
	TH_LOG("%u allocation points", points);
	EXPECT_LE(2, points);
}

TEST_F(fail_nth, ioas_map_file_leaves_nothing_mapped_on_failure)
{
	int mfd = memfd_create("ioasid", 0);
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd), .flags = RW, .ioas_id = self->ioas, .fd = mfd,
		.length = 4 * self->page,
	};
	unsigned int points;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 4 * self->page));
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd), CHECK_MAP);
	TH_LOG("%u allocation points", points);
	EXPECT_LE(2, points);
	close(mfd);
}

/* With a (mock) domain, a failed map leaves no page pinned and nothing charged. */
TEST_F(fail_nth, ioas_map_with_a_domain_leaves_nothing_pinned_on_failure)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd), .flags = RW, .ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf, .length = 4 * self->page,
	};
	long pinned0 = proc_status_kb(getpid(), "VmPin");
	unsigned int points;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	ASSERT_EQ(0, test_mock_domain(self->fd, self->ioas, NULL, NULL));
	memset(self->buf, 1, 4 * self->page);
#define CHECK_MAP_PINNED(ok)							\
	do {									\
		CHECK_MAP(ok);							\
		ASSERT_EQ(0, test_check_refs(self->fd, self->buf, 4 * self->page, 0)); \
		ASSERT_EQ(pinned0, proc_status_kb(getpid(), "VmPin"));		\
	} while (0)
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_IOAS_MAP, &cmd), CHECK_MAP_PINNED);
	TH_LOG("%u allocation points", points);
	EXPECT_LE(3, points);
}

/*
 * Makes the fixture's IOAS, with a mock domain attached, the VFIO compatibility IOAS of
 * type1 flavour `type`, and fills the buffer (so it can be pinned).
 */
static int vfio_compat_on_mock(FIXTURE_DATA(fail_nth) *self, unsigned long type)
{
	if (test_mock_domain(self->fd, self->ioas, NULL, NULL) ||
	    vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas))
		return -1;
	memset(self->buf, 1, 4 * self->page);
	return ioctl(self->fd, VFIO_SET_IOMMU, type);
}

/*
 * VFIO_IOMMU_MAP_DMA on the compatibility IOAS (with a mock domain) is the same engine's
 * map: a failure leaves nothing mapped, pinned or charged (CHECK_MAP_PINNED above).
 */
TEST_F(fail_nth, vfio_compat_map_leaves_nothing_mapped_or_pinned_on_failure)
{
	struct vfio_iommu_type1_dma_map cmd = {
		.argsz = sizeof(cmd), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)self->buf, .iova = MOCK_APERTURE_START,
		.size = 4 * self->page,
	};
	long pinned0 = proc_status_kb(getpid(), "VmPin");
	unsigned int points;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	ASSERT_EQ(0, vfio_compat_on_mock(self, VFIO_TYPE1v2_IOMMU));
	points = FOR_EACH_FAILURE(ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &cmd), CHECK_MAP_PINNED);
	TH_LOG("%u allocation points", points);
	EXPECT_LE(3, points);
}

/*
 * A type1 (v1) unmap that cuts a mapping: on failure the mapping stays whole and
 * mapped; on success exactly the page asked for is gone.
 */
TEST_F(fail_nth, vfio_compat_type1_cut_keeps_the_mapping_on_failure)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)self->buf, .iova = MOCK_APERTURE_START,
		.size = 4 * self->page,
	};
	struct vfio_iommu_type1_dma_unmap cmd = {
		.argsz = sizeof(cmd), .iova = MOCK_APERTURE_START + self->page,
		.size = self->page,
	};
	unsigned int points;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	ASSERT_EQ(0, vfio_compat_on_mock(self, VFIO_TYPE1_IOMMU));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &map));
#define CHECK_CUT(ok)								\
	do {									\
		ASSERT_EQ(0, test_check_refs(self->fd, self->buf + self->page,	\
					     self->page, (ok) ? 0 : 1));	\
		ASSERT_EQ((ok) ? 3 * (__u64)self->page : 4 * (__u64)self->page, \
			  unmap_all(self->fd, self->ioas));			\
		ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &map));	\
		cmd.size = self->page;						\
	} while (0)
	points = FOR_EACH_FAILURE(ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &cmd), CHECK_CUT);
	TH_LOG("%u allocation points", points);
	EXPECT_LE(1, points);
}

/* A failed attach of the first domain leaves the mapped pages unpinned and no HWPT. */
TEST_F(fail_nth, mock_domain_attach_leaves_nothing_on_failure)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map), .flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA, .ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf, .length = 4 * self->page,
		.iova = MOCK_APERTURE_START, /* inside the mock domain's aperture */
	};
	long pinned0 = proc_status_kb(getpid(), "VmPin");
	__u32 stdev = 0;
	unsigned int points;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	memset(self->buf, 1, 4 * self->page);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));
#define CHECK_ATTACH(ok)							\
	do {									\
		if (ok) {							\
			struct iommu_destroy d = { .size = sizeof(d), .id = stdev }; \
			ASSERT_EQ(0, test_check_refs(self->fd, self->buf, 4 * self->page, 1)); \
			ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &d));	\
		}								\
		ASSERT_EQ(0, test_check_refs(self->fd, self->buf, 4 * self->page, 0)); \
		ASSERT_EQ(pinned0, proc_status_kb(getpid(), "VmPin"));		\
	} while (0)
	points = FOR_EACH_FAILURE(test_mock_domain(self->fd, self->ioas, &stdev, NULL),
				  CHECK_ATTACH);
	TH_LOG("%u allocation points", points);
	EXPECT_LE(3, points);
	/* No failed attach left a HWPT or device holding the IOAS. */
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY,
			   &(struct iommu_destroy){ .size = 8, .id = self->ioas }));
}

/*
 * A real device (edu through VT-d or SMMUv3): a failed bind leaves the device free, a
 * failed attach of the IOAS's first domain leaves nothing pinned, no HWPT and the device
 * detached.
 */
TEST_F(fail_nth, device_bind_and_attach_leave_nothing_on_failure)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map), .flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA, .ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf, .length = 4 * self->page, .iova = 1 << 20,
	};
	long pinned0 = proc_status_kb(getpid(), "VmPin");
	struct edus e = { .n = 0 };
	unsigned int points;
	__u32 dev_id = 0;
	int dev_fd;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	for_each_pci_device(EDU_VENDOR, EDU_DEVICE, collect_edu, &e);
	if (e.n < 1)
		SKIP(return, "no edu device in this machine");
	ASSERT_EQ(0, bind_ioasid_pci(e.bdf[0]));
	dev_fd = open_node(e.bdf[0]);
	ASSERT_LE(0, dev_fd);
	any_errno = true;
/* After a failed bind the device must be free: binding it again works. */
#define CHECK_BIND(ok)								\
	do {									\
		if (!(ok))							\
			ASSERT_EQ(0, device_bind(self->fd, dev_fd, &dev_id))	\
				TH_LOG("after fault %u: %d", __n, errno);	\
		ASSERT_EQ(0, destroy(self->fd, dev_id));			\
	} while (0)
	points = FOR_EACH_FAILURE(device_bind(self->fd, dev_fd, &dev_id), CHECK_BIND);
	TH_LOG("bind: %u allocation points", points);
	EXPECT_LE(2, points);
	ASSERT_EQ(0, device_bind(self->fd, dev_fd, &dev_id));
	memset(self->buf, 1, 4 * self->page);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));
#define CHECK_DEV_ATTACH(ok)							\
	do {									\
		if (ok) {							\
			ASSERT_EQ(0, test_check_refs(self->fd, self->buf, 4 * self->page, 1)); \
			ASSERT_EQ(0, device_detach(self->fd, dev_id));		\
		} else {							\
			ASSERT_EQ(-1, device_detach(self->fd, dev_id));		\
		}								\
		ASSERT_EQ(0, test_check_refs(self->fd, self->buf, 4 * self->page, 0)); \
		ASSERT_EQ(pinned0, proc_status_kb(getpid(), "VmPin"));		\
	} while (0)
	points = FOR_EACH_FAILURE(device_attach(self->fd, dev_id, self->ioas, NULL),
				  CHECK_DEV_ATTACH);
	any_errno = false;
	TH_LOG("attach: %u allocation points", points);
	EXPECT_LE(3, points);
	/* No failed attach left a HWPT holding the IOAS. */
	ASSERT_EQ(0, destroy(self->fd, self->ioas));
	ASSERT_EQ(0, destroy(self->fd, dev_id));
	close(dev_fd);
	unbind_ioasid_pci(e.bdf[0]);
}

/*
 * Two devices of one IOMMU group: a failed bind of the second leaves it free, a failed
 * join of the group's HWPT leaves it detached and the first device as it was, a failed
 * replace through one device leaves the whole group on its HWPT.
 */
TEST_F(fail_nth, group_bind_join_and_replace_leave_the_group_as_it_was)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map), .flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA, .ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf, .length = 4 * self->page, .iova = 1 << 20,
	};
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct edus e = { .n = 0 };
	__u32 dev[2] = { 0, 0 }, hwpt = 0, again = 0;
	unsigned int points;
	int dev_fd[2], i;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	for_each_pci_device(EDU_VENDOR, EDU_DEVICE, collect_edu, &e);
	if (e.nshared < 2)
		SKIP(return, "no two edu devices in one IOMMU group");
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, bind_ioasid_pci(e.shared[i]));
		dev_fd[i] = open_node(e.shared[i]);
		ASSERT_LE(0, dev_fd[i]);
	}
	memset(self->buf, 1, 4 * self->page);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));
	ASSERT_EQ(0, device_bind(self->fd, dev_fd[0], &dev[0]));
	ASSERT_EQ(0, device_attach(self->fd, dev[0], self->ioas, &hwpt));
	any_errno = true;
#define CHECK_GROUP_BIND(ok)							\
	do {									\
		if (!(ok))							\
			ASSERT_EQ(0, device_bind(self->fd, dev_fd[1], &dev[1])); \
		ASSERT_EQ(0, destroy(self->fd, dev[1]));			\
	} while (0)
	points = FOR_EACH_FAILURE(device_bind(self->fd, dev_fd[1], &dev[1]), CHECK_GROUP_BIND);
	TH_LOG("bind into the group: %u allocation points", points);
	EXPECT_LE(2, points);
	ASSERT_EQ(0, device_bind(self->fd, dev_fd[1], &dev[1]));
#define CHECK_JOIN(ok)								\
	do {									\
		ASSERT_EQ((ok) ? 0 : -1, device_detach(self->fd, dev[1]));	\
		ASSERT_EQ(0, device_attach(self->fd, dev[0], self->ioas, &again)); \
		ASSERT_EQ(hwpt, again);						\
		ASSERT_EQ(0, test_check_refs(self->fd, self->buf, 4 * self->page, 1)); \
	} while (0)
	points = FOR_EACH_FAILURE(device_attach(self->fd, dev[1], self->ioas, NULL), CHECK_JOIN);
	TH_LOG("join: %u allocation points", points);
	EXPECT_LE(1, points);
	ASSERT_EQ(0, device_attach(self->fd, dev[1], self->ioas, NULL));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &alloc));
	map.ioas_id = alloc.out_ioas_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));
#define CHECK_MOVE(ok)								\
	do {									\
		if (ok) {							\
			ASSERT_EQ(0, device_attach(self->fd, dev[0], self->ioas, &hwpt)); \
		}								\
		ASSERT_EQ(0, device_attach(self->fd, dev[1], self->ioas, &again)); \
		ASSERT_EQ(hwpt, again);						\
		ASSERT_EQ(0, test_check_refs(self->fd, self->buf, 4 * self->page, 1)); \
	} while (0)
	points = FOR_EACH_FAILURE(device_attach(self->fd, dev[0], alloc.out_ioas_id, NULL),
				  CHECK_MOVE);
	any_errno = false;
	TH_LOG("replace of the group: %u allocation points", points);
	EXPECT_LE(3, points);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, destroy(self->fd, dev[i]));
		close(dev_fd[i]);
		unbind_ioasid_pci(e.shared[i]);
	}
	/* No failure left a HWPT holding either IOAS. */
	ASSERT_EQ(0, destroy(self->fd, alloc.out_ioas_id));
	ASSERT_EQ(0, destroy(self->fd, self->ioas));
}

TEST_F(fail_nth, ioas_copy_leaves_the_destination_unchanged_on_failure)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	__u64 a = 0x100000, b = 0x100000 + 2 * self->page;
	struct iommu_ioas_map map = {
		.size = sizeof(map), .flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA, .ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf, .length = 2 * self->page,
	};
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd), .flags = RW, .src_ioas_id = self->ioas,
		.length = 4 * self->page, .src_iova = a,
	};
	unsigned int points;

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &alloc));
	cmd.dst_ioas_id = alloc.out_ioas_id;
	/* Two source areas, so the copy needs several slices and tree nodes. */
	map.iova = a;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));
	map.iova = b;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));
#define CHECK_COPY(ok) \
	ASSERT_EQ((ok) ? 4 * (__u64)self->page : 0, unmap_all(self->fd, alloc.out_ioas_id))
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_IOAS_COPY, &cmd), CHECK_COPY);
	TH_LOG("%u allocation points", points);
	EXPECT_LE(3, points);
	/* The source is untouched. */
	EXPECT_EQ(4 * (__u64)self->page, unmap_all(self->fd, self->ioas));
}

TEST_F(fail_nth, allow_iovas_keeps_the_old_list_on_failure)
{
	struct iommu_iova_range r[3] = {
		{ .start = 0x100000, .last = 0x1fffff },
		{ .start = 0x400000, .last = 0x4fffff },
		{ .start = 0x800000, .last = 0x8fffff },
	};
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd), .ioas_id = self->ioas, .num_iovas = 3,
		.allowed_iovas = (uintptr_t)r,
	};
	struct iommu_ioas_map map = {
		.size = sizeof(map), .flags = RW, .ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf, .length = self->page,
	};
	unsigned int points;

	/*
	 * After a failure the IOAS still allows everything, so an automatic mapping lands
	 * below the first range; after a success it lands in it.
	 */
#define CHECK_ALLOW(ok)								\
	do {									\
		struct iommu_ioas_allow_iovas none = { .size = sizeof(none),	\
						       .ioas_id = self->ioas };	\
		map.iova = 0;							\
		ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));		\
		if (ok) {							\
			ASSERT_EQ(0x100000, map.iova);				\
		} else {							\
			ASSERT_GT(0x100000, map.iova);				\
		}								\
		ASSERT_EQ((__u64)self->page, unmap_all(self->fd, self->ioas));	\
		ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOW_IOVAS, &none));	\
	} while (0)
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd), CHECK_ALLOW);
	TH_LOG("%u allocation points", points);
	EXPECT_LE(1, points);
}

/*
 * After an IOMMU_HWPT_ALLOC under fault injection (`alloc`, in the caller): the new HWPT is
 * destroyed if it was made, and every page of self->buf has one pin left with VmPin at
 * `pinned0`, so a failure left nothing behind.
 */
#define CHECK_NO_NEW_HWPT(ok)								\
	do {									\
		if (ok) {								\
			ASSERT_EQ(0, destroy(self->fd, alloc.out_hwpt_id));	\
		}									\
		ASSERT_EQ(0, test_check_refs(self->fd, self->buf, 4 * self->page, 1)); \
		ASSERT_EQ(pinned0, proc_status_kb(getpid(), "VmPin"));		\
	} while (0)

/*
 * Nested HWPTs on the mock IOMMU: a failed IOMMU_HWPT_ALLOC of a nested HWPT (either data
 * type) leaves no HWPT, nothing counted in the parent and the pins as they were; an
 * IOMMU_HWPT_INVALIDATE allocates nothing, so armed faults never reach it.
 */
TEST_F(fail_nth, nested_hwpt_alloc_and_invalidate_leave_nothing_on_failure)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map), .flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA, .ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf, .length = 4 * self->page,
		.iova = MOCK_APERTURE_START,
	};
	struct ioasid_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = self->ioas };
	struct { __u32 iotlb, pagetable_type; } selftest_data = { .iotlb = 7 };
	struct ioasid_hwpt_mock_s1 s1_data = { .root = MOCK_APERTURE_START };
	struct iommu_hwpt_alloc alloc = { .size = sizeof(alloc) };
	struct { __u32 flags, iotlb_id; } inv[2] = { { 0, 1 }, { 1, 0 } };
	struct iommu_hwpt_invalidate invalidate = {
		.size = sizeof(invalidate), .data_uptr = (uintptr_t)inv,
		.data_type = 0xdeadbeef /* IOMMU_HWPT_INVALIDATE_DATA_SELFTEST */,
		.entry_len = sizeof(inv[0]),
	};
	long pinned0;
	__u32 parent;
	unsigned int points;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	memset(self->buf, 1, 4 * self->page);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));
	ASSERT_EQ(0, test_cmd(self->fd, &md));
	alloc.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
	alloc.dev_id = md.mock_domain.out_idev_id;
	alloc.pt_id = self->ioas;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc));
	parent = alloc.out_hwpt_id;
	pinned0 = proc_status_kb(getpid(), "VmPin");
	alloc.flags = 0;
	alloc.pt_id = parent;
	alloc.data_type = 0xdead; /* IOMMU_HWPT_DATA_SELFTEST */
	alloc.data_len = sizeof(selftest_data);
	alloc.data_uptr = (uintptr_t)&selftest_data;
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc), CHECK_NO_NEW_HWPT);
	TH_LOG("selftest type: %u allocation points", points);
	EXPECT_LE(2, points);
	alloc.data_type = IOASID_HWPT_DATA_MOCK_S1;
	alloc.data_len = sizeof(s1_data);
	alloc.data_uptr = (uintptr_t)&s1_data;
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc), CHECK_NO_NEW_HWPT);
	TH_LOG("mock stage-1 type: %u allocation points", points);
	EXPECT_LE(2, points);

	alloc.data_type = 0xdead;
	alloc.data_len = sizeof(selftest_data);
	alloc.data_uptr = (uintptr_t)&selftest_data;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc));
	invalidate.hwpt_id = alloc.out_hwpt_id;
#define CHECK_INVALIDATE(ok)							\
	do {									\
		ASSERT_TRUE(ok);							\
		ASSERT_EQ(2, invalidate.entry_num);					\
	} while (0)
	points = FOR_EACH_FAILURE((invalidate.entry_num = 2,
				   ioctl(self->fd, IOMMU_HWPT_INVALIDATE, &invalidate)),
				  CHECK_INVALIDATE);
	EXPECT_EQ(0, points);
	ASSERT_EQ(0, destroy(self->fd, alloc.out_hwpt_id));
	/* No failed allocation left a nested HWPT counted in the parent. */
	ASSERT_EQ(0, destroy(self->fd, parent));
}

/*
 * Dirty tracking on the mock IOMMU: a failed IOMMU_HWPT_ALLOC with DIRTY_TRACKING (either
 * page-table format) leaves no HWPT, no mapping in a new domain and the pins as they were;
 * switching tracking and reading the bitmap allocate nothing.
 */
TEST_F(fail_nth, dirty_tracking_hwpt_alloc_and_bitmap_read_leave_nothing_on_failure)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map), .flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA, .ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf, .length = 4 * self->page,
		.iova = MOCK_APERTURE_START,
	};
	struct iommu_hwpt_selftest huge = { .pagetable_type = MOCK_IOMMUPT_HUGE };
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc), .flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		.pt_id = self->ioas,
	};
	unsigned char bits[8] = { 0 };
	__u32 stdev, idev, hwpt;
	unsigned int points;
	long pinned0;
	char b = 1;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));
	ASSERT_EQ(0, test_mock_domain_flags(self->fd, self->ioas, 0, &stdev, NULL, &idev));
	alloc.dev_id = idev;
	pinned0 = proc_status_kb(getpid(), "VmPin");
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc), CHECK_NO_NEW_HWPT);
	TH_LOG("default format: %u allocation points", points);
	EXPECT_LE(2, points);
	alloc.data_type = IOMMU_HWPT_DATA_SELFTEST;
	alloc.data_len = sizeof(huge);
	alloc.data_uptr = (uintptr_t)&huge;
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc), CHECK_NO_NEW_HWPT);
	TH_LOG("huge format: %u allocation points", points);
	EXPECT_LE(2, points);

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc));
	hwpt = alloc.out_hwpt_id;
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, stdev, hwpt));
#define CHECK_ALLOCATES_NOTHING(ok) ASSERT_TRUE(ok)
	points = FOR_EACH_FAILURE(set_dirty_tracking(self->fd, hwpt, true),
				  CHECK_ALLOCATES_NOTHING);
	EXPECT_EQ(0, points);
	ASSERT_EQ(0, test_mock_dma(self->fd, stdev, MOCK_APERTURE_START + self->page, &b, 1, true));
	points = FOR_EACH_FAILURE(get_dirty_bitmap(self->fd, hwpt, MOCK_APERTURE_START,
						   4 * self->page, self->page, bits,
						   IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR),
				  CHECK_ALLOCATES_NOTHING);
	EXPECT_EQ(0, points);
	EXPECT_EQ(2, bits[0]);
	ASSERT_EQ(0, destroy(self->fd, stdev));
	ASSERT_EQ(0, destroy(self->fd, hwpt));
}

/*
 * vIOMMUs on the mock IOMMU: each allocation of IOMMU_VIOMMU_ALLOC, IOMMU_VDEVICE_ALLOC,
 * IOMMU_HWPT_ALLOC of a nested HWPT on a vIOMMU and IOMMU_HWPT_INVALIDATE on a vIOMMU
 * failed in turn leaves no object (the next ID is unchanged), nothing counted (everything
 * is destroyed in order at the end), no device cache cleared and the pins as they were.
 */
TEST_F(fail_nth, viommu_vdevice_and_nested_on_viommu_leave_nothing_on_failure)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map), .flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA, .ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf, .length = 4 * self->page,
		.iova = MOCK_APERTURE_START,
	};
	struct ioasid_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = self->ioas };
	struct iommu_viommu_selftest data = { .in_data = 3 };
	struct iommu_viommu_invalidate_selftest inv = { .vdev_id = 0x99 };
	__u32 idev, parent, viommu, vdev, nested, out, num, next;
	long pinned0;
	unsigned int points;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));
	ASSERT_EQ(0, test_cmd(self->fd, &md));
	idev = md.mock_domain.out_idev_id;
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_NEST_PARENT, idev, self->ioas, 0, NULL,
				0, &parent));
	pinned0 = proc_status_kb(getpid(), "VmPin");
	next = next_object_id(self->fd);
	ASSERT_NE(0, next);
	/* After each call: no object left unless it succeeded (then destroyed), pins alike. */
#define CHECK_NOTHING_LEFT(ok)								\
	do {										\
		if (ok) {								\
			ASSERT_EQ(0, destroy(self->fd, out));				\
		}									\
		ASSERT_EQ(next, next_object_id(self->fd));				\
		ASSERT_EQ(0, test_check_refs(self->fd, self->buf, 4 * self->page, 1)); \
		ASSERT_EQ(pinned0, proc_status_kb(getpid(), "VmPin"));		\
	} while (0)
	points = FOR_EACH_FAILURE(viommu_alloc(self->fd, idev, parent, IOMMU_VIOMMU_TYPE_SELFTEST,
					       &data, sizeof(data), &out),
				  CHECK_NOTHING_LEFT);
	TH_LOG("VIOMMU_ALLOC: %u allocation points", points);
	EXPECT_LE(1, points);

	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent, IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0,
				  &viommu));
	next = next_object_id(self->fd);
	points = FOR_EACH_FAILURE(vdevice_alloc(self->fd, viommu, idev, 0x99, &out),
				  CHECK_NOTHING_LEFT);
	TH_LOG("VDEVICE_ALLOC: %u allocation points", points);
	EXPECT_LE(2, points);
	points = FOR_EACH_FAILURE(nested_alloc(self->fd, idev, viommu, 7, &out),
				  CHECK_NOTHING_LEFT);
	TH_LOG("nested HWPT on a vIOMMU: %u allocation points", points);
	EXPECT_LE(2, points);

	ASSERT_EQ(0, vdevice_alloc(self->fd, viommu, idev, 0x99, &vdev));
	ASSERT_EQ(0, nested_alloc(self->fd, idev, viommu, 7, &nested));
#define CHECK_VIOMMU_INVALIDATE(ok)							\
	do {										\
		ASSERT_EQ((ok) ? 1 : 0, num);						\
		ASSERT_EQ(0, check_dev_cache(self->fd, idev, 0,			\
					     (ok) ? 0 : IOMMU_TEST_DEV_CACHE_DEFAULT));	\
	} while (0)
	points = FOR_EACH_FAILURE((num = 1, invalidate(self->fd, viommu, &inv,
						       IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
						       sizeof(inv), &num)),
				  CHECK_VIOMMU_INVALIDATE);
	TH_LOG("vIOMMU invalidation: %u allocation points", points);
	EXPECT_LE(1, points);
	/* Nothing counted by a failure: each object goes as soon as its users did. */
	ASSERT_EQ(0, destroy(self->fd, nested));
	ASSERT_EQ(0, destroy(self->fd, vdev));
	ASSERT_EQ(0, destroy(self->fd, viommu));
	ASSERT_EQ(0, destroy(self->fd, parent));
}

/* Unmaps the two pages at iova (one area) and maps them back from buf: 0, or -1. */
static int unmap_and_remap(int fd, __u32 ioas, void *buf, long page, __u64 iova)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap), .ioas_id = ioas, .iova = iova, .length = 2 * page,
	};
	struct iommu_ioas_map map = {
		.size = sizeof(map), .flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA, .ioas_id = ioas,
		.user_va = (uintptr_t)buf, .length = 2 * page, .iova = iova,
	};

	if (ioctl(fd, IOMMU_IOAS_UNMAP, &unmap))
		return -1;
	return ioctl(fd, IOMMU_IOAS_MAP, &map);
}

/*
 * HW queues of a mock vIOMMU: each allocation of IOMMU_HW_QUEUE_ALLOC failed in turn, for
 * queue 0 and for queue 1 (which holds queue 0), leaves no object (the next ID is
 * unchanged), nothing pinned (the queue's memory unmaps), the pin accounting as it was,
 * and nothing counted (queue 0 and the vIOMMU go at the end).
 */
TEST_F(fail_nth, hw_queue_alloc_leaves_nothing_pinned_on_failure)
{
	struct ioasid_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = self->ioas };
	struct iommu_viommu_selftest data = { .in_data = 5 };
	const __u64 area[2] = { MOCK_APERTURE_START, MOCK_APERTURE_START + 2 * self->page };
	__u32 idev, parent, viommu, q0, out, next, index;
	long pinned0;
	unsigned int points;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	memset(self->buf, 1, 4 * self->page);
	/* Two areas of two pages: queue 0 in the first, queue 1 in the second. */
	for (int i = 0; i < 2; i++) {
		struct iommu_ioas_map map = {
			.size = sizeof(map), .flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA,
			.ioas_id = self->ioas, .user_va = (uintptr_t)self->buf + 2 * i * self->page,
			.length = 2 * self->page, .iova = area[i],
		};

		ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));
	}
	ASSERT_EQ(0, test_cmd(self->fd, &md));
	idev = md.mock_domain.out_idev_id;
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_NEST_PARENT, idev, self->ioas, 0, NULL,
				0, &parent));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent, IOMMU_VIOMMU_TYPE_SELFTEST, &data,
				  sizeof(data), &viommu));
	pinned0 = proc_status_kb(getpid(), "VmPin");
#define CHECK_QUEUE_NOTHING_LEFT(ok)							\
	do {										\
		if (ok) {								\
			ASSERT_EQ(0, destroy(self->fd, out));				\
		}									\
		ASSERT_EQ(next, next_object_id(self->fd));				\
		ASSERT_EQ(pinned0, proc_status_kb(getpid(), "VmPin"));		\
		ASSERT_EQ(0, unmap_and_remap(self->fd, self->ioas,			\
					     (char *)self->buf + 2 * index * self->page, \
					     self->page, area[index]));		\
	} while (0)
	for (index = 0; index < 2; index++) {
		next = next_object_id(self->fd);
		ASSERT_NE(0, next);
		points = FOR_EACH_FAILURE(hw_queue_alloc(self->fd, viommu, index,
							 area[index] + 8, 64, &out),
					  CHECK_QUEUE_NOTHING_LEFT);
		TH_LOG("HW_QUEUE_ALLOC of queue %u: %u allocation points", index, points);
		EXPECT_LE(1, points);
		if (index == 0)
			ASSERT_EQ(0, hw_queue_alloc(self->fd, viommu, 0, area[0] + 8, 64, &q0));
	}
	/* Nothing counted by a failure: queue 0, then the vIOMMU, go at once. */
	ASSERT_EQ(0, destroy(self->fd, q0));
	ASSERT_EQ(0, destroy(self->fd, viommu));
	ASSERT_EQ(0, destroy(self->fd, parent));
}

/*
 * PASIDs of a mock device: a failed IOASID_PASID_ALLOC leaves the PASID free; a failed
 * PASID attach to an IOAS (a new automatic HWPT) leaves the PASID detached and nothing
 * pinned beyond the RID's domain; a failed replace keeps the old HWPT.
 */
TEST_F(fail_nth, pasid_alloc_attach_and_replace_leave_nothing_on_failure)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map), .flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA, .ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf, .length = 4 * self->page,
		.iova = MOCK_APERTURE_START,
	};
	__u32 stdev, idev, rid_hwpt, other, pt = 0, p = 0;
	long pinned0;
	unsigned int points;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP, &map));
	ASSERT_EQ(0, test_mock_domain_flags(self->fd, self->ioas, MOCK_FLAGS_DEVICE_PASID, &stdev,
					    NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_PASID, idev, self->ioas, 0, NULL, 0,
				&rid_hwpt));
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_PASID, idev, self->ioas, 0, NULL, 0,
				&other));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, stdev, rid_hwpt));
	pinned0 = proc_status_kb(getpid(), "VmPin");

#define CHECK_PASID_ALLOC(ok)							\
	do {									\
		if (ok) {							\
			ASSERT_EQ(77, p);					\
			ASSERT_EQ(0, pasid_free(self->fd, idev, p));		\
		}								\
		/* Free again: one allocation gets it, a second finds none. */	\
		ASSERT_EQ(0, pasid_alloc(self->fd, idev, 77, 77, &p, NULL));	\
		ASSERT_EQ(-1, pasid_alloc(self->fd, idev, 77, 77, NULL, NULL));	\
		ASSERT_EQ(0, pasid_free(self->fd, idev, 77));			\
	} while (0)
	points = FOR_EACH_FAILURE(pasid_alloc(self->fd, idev, 77, 77, &p, NULL),
				  CHECK_PASID_ALLOC);
	TH_LOG("alloc: %u allocation points", points);

#define CHECK_PASID_ATTACH(ok)							\
	do {									\
		if (ok) {							\
			ASSERT_EQ(0, test_pasid_check(self->fd, stdev, 9, pt));	\
			ASSERT_EQ(0, device_detach_pasid(self->fd, idev, 9));	\
		}								\
		ASSERT_EQ(0, test_pasid_check(self->fd, stdev, 9, 0));		\
		ASSERT_EQ(0, test_check_refs(self->fd, self->buf, 4 * self->page, 1)); \
		ASSERT_EQ(pinned0, proc_status_kb(getpid(), "VmPin"));		\
	} while (0)
	points = FOR_EACH_FAILURE((pt = self->ioas, device_attach_pasid(self->fd, idev, 9, &pt)),
				  CHECK_PASID_ATTACH);
	TH_LOG("attach: %u allocation points", points);
	EXPECT_LE(1, points);

	ASSERT_EQ(0, test_pasid_attach_op(self->fd, IOMMU_TEST_OP_PASID_ATTACH, stdev, 9, other));
#define CHECK_PASID_REPLACE(ok)							\
	do {									\
		ASSERT_EQ(0, test_pasid_check(self->fd, stdev, 9, (ok) ? pt : other)); \
		if (ok) {							\
			ASSERT_EQ(0, test_pasid_attach_op(self->fd, IOMMU_TEST_OP_PASID_REPLACE, \
							  stdev, 9, other));	\
		}								\
		ASSERT_EQ(0, test_check_refs(self->fd, self->buf, 4 * self->page, 1)); \
		ASSERT_EQ(pinned0, proc_status_kb(getpid(), "VmPin"));		\
	} while (0)
	points = FOR_EACH_FAILURE((pt = self->ioas, device_attach_pasid(self->fd, idev, 9, &pt)),
				  CHECK_PASID_REPLACE);
	TH_LOG("replace: %u allocation points", points);
	EXPECT_LE(1, points);
	ASSERT_EQ(0, test_pasid_detach(self->fd, stdev, 9));
	ASSERT_EQ(0, destroy(self->fd, other));
}

/*
 * Fault queues: a failed IOMMU_FAULT_QUEUE_ALLOC leaves no object and no descriptor; a
 * failed IOPF-capable IOMMU_HWPT_ALLOC leaves no HWPT and the queue unused (destroyable);
 * a page request whose delivery fails (TRIGGER_IOPF) is either refused or dropped as a
 * failed group, never half queued.
 */
TEST_F(fail_nth, fault_queue_alloc_and_delivery_leave_nothing_on_failure)
{
	struct ioasid_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = self->ioas };
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hwpt_pgfault f;
	struct iommu_hwpt_alloc ha = { .size = sizeof(ha), .flags = IOMMU_HWPT_FAULT_ID_VALID };
	struct ioasid_test_cmd trig = { .op = 15 /* IOMMU_TEST_OP_TRIGGER_IOPF */ };
	__u32 stdev, idev, fault, hwpt, next, w[4] = { 0, 0, 1, IOMMU_PGFAULT_PERM_READ };
	__u64 addr = 0x1000;
	unsigned int points;
	int qfd, fd0;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	ASSERT_EQ(0, test_cmd(self->fd, &md));
	stdev = md.mock_domain.out_stdev_id;
	idev = md.mock_domain.out_idev_id;
	next = next_object_id(self->fd);
	fd0 = dup(0);
	ASSERT_LE(0, fd0);
	close(fd0);
	/* No object and no descriptor left by a failure. */
#define CHECK_FAULT_ALLOC(ok)								\
	do {										\
		int __fd;								\
		if (ok) {								\
			close(fa.out_fault_fd);						\
			ASSERT_EQ(0, destroy(self->fd, fa.out_fault_id));		\
		}									\
		ASSERT_EQ(next, next_object_id(self->fd));				\
		__fd = dup(0);								\
		close(__fd);								\
		ASSERT_EQ(fd0, __fd);							\
	} while (0)
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &fa), CHECK_FAULT_ALLOC);
	TH_LOG("FAULT_QUEUE_ALLOC: %u allocation points", points);
	EXPECT_LE(2, points);

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &fa));
	fault = fa.out_fault_id;
	qfd = fa.out_fault_fd;
	ha.dev_id = idev;
	ha.pt_id = self->ioas;
	ha.fault_id = fault;
	next = next_object_id(self->fd);
	/* No HWPT left, and the queue not counted: it can go once its file is closed. */
#define CHECK_IOPF_HWPT(ok)								\
	do {										\
		if (ok) {								\
			ASSERT_EQ(0, destroy(self->fd, ha.out_hwpt_id));		\
		}									\
		ASSERT_EQ(next, next_object_id(self->fd));				\
	} while (0)
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_HWPT_ALLOC, &ha), CHECK_IOPF_HWPT);
	TH_LOG("IOPF-capable HWPT_ALLOC: %u allocation points", points);
	EXPECT_LE(1, points);

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &ha));
	hwpt = ha.out_hwpt_id;
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, stdev, hwpt));
	/* trigger_iopf: { dev_id, pasid, grpid, perm; __u64 addr }. */
	w[0] = idev;
	memcpy(trig.union_bytes, w, sizeof(w));
	memcpy(trig.union_bytes + 16, &addr, 8);
	/* Delivered whole (read and answered here) or not at all. */
#define CHECK_DELIVERY(ok)								\
	do {										\
		ssize_t __n = read(qfd, &f, sizeof(f));				\
		if (!(ok)) {								\
			ASSERT_EQ(0, __n);						\
		} else if (__n == sizeof(f)) {						\
			struct iommu_hwpt_page_response __r = { f.cookie, 0 };	\
			ASSERT_EQ(sizeof(__r), write(qfd, &__r, sizeof(__r)));		\
		} else {								\
			ASSERT_EQ(0, __n);						\
		}									\
		ASSERT_EQ(0, read(qfd, &f, sizeof(f)));				\
	} while (0)
	points = FOR_EACH_FAILURE(test_cmd(self->fd, &trig), CHECK_DELIVERY);
	TH_LOG("TRIGGER_IOPF: %u allocation points", points);
	EXPECT_LE(1, points);

	ASSERT_EQ(0, test_mock_domain_replace(self->fd, stdev, self->ioas));
	ASSERT_EQ(0, destroy(self->fd, hwpt));
	close(qfd);
	ASSERT_EQ(0, destroy(self->fd, fault));
}

/*
 * vEVENTQs: a failed IOMMU_VEVENTQ_ALLOC leaves no object, no descriptor and the vIOMMU
 * unheld (a retry of the same type works, the vIOMMU can go); an event whose copy cannot
 * be allocated is lost visibly (a LOST_EVENTS header), never silently.
 */
TEST_F(fail_nth, veventq_alloc_and_events_leave_nothing_on_failure)
{
	struct ioasid_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = self->ioas };
	struct iommu_veventq_alloc va = { .size = sizeof(va), .type = 0xbeefbeef,
					  .veventq_depth = 4 };
	struct ioasid_test_cmd trig = { .op = 17 /* IOMMU_TEST_OP_TRIGGER_VEVENT */ };
	struct { struct iommufd_vevent_header hdr; __u32 virt_id; } ev;
	__u32 idev, parent, viommu, vdev, next;
	unsigned int points;
	int fd0;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	ASSERT_EQ(0, test_cmd(self->fd, &md));
	idev = md.mock_domain.out_idev_id;
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_NEST_PARENT, idev, self->ioas, 0, NULL,
				0, &parent));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent, IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0,
				  &viommu));
	ASSERT_EQ(0, vdevice_alloc(self->fd, viommu, idev, 0x99, &vdev));
	va.viommu_id = viommu;
	next = next_object_id(self->fd);
	fd0 = dup(0);
	ASSERT_LE(0, fd0);
	close(fd0);
#define CHECK_VEVENTQ_ALLOC(ok)								\
	do {										\
		int __fd;								\
		if (ok) {								\
			close(va.out_veventq_fd);					\
			ASSERT_EQ(0, destroy(self->fd, va.out_veventq_id));		\
		}									\
		ASSERT_EQ(next, next_object_id(self->fd));				\
		__fd = dup(0);								\
		close(__fd);								\
		ASSERT_EQ(fd0, __fd);							\
	} while (0)
	points = FOR_EACH_FAILURE(ioctl(self->fd, IOMMU_VEVENTQ_ALLOC, &va), CHECK_VEVENTQ_ALLOC);
	TH_LOG("VEVENTQ_ALLOC: %u allocation points", points);
	EXPECT_LE(2, points);

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VEVENTQ_ALLOC, &va));
	memcpy(trig.union_bytes, &idev, 4);
	/* Queued whole, or lost with a LOST_EVENTS header: read either, then nothing. */
#define CHECK_VEVENT(ok)								\
	do {										\
		ssize_t __n = read(va.out_veventq_fd, &ev, sizeof(ev));		\
		ASSERT_TRUE(ok);							\
		ASSERT_TRUE(__n == sizeof(ev) || (__n == sizeof(ev.hdr) &&		\
			    ev.hdr.flags == IOMMU_VEVENTQ_FLAG_LOST_EVENTS));		\
		ASSERT_EQ(0, read(va.out_veventq_fd, &ev, sizeof(ev)));		\
	} while (0)
	points = FOR_EACH_FAILURE(test_cmd(self->fd, &trig), CHECK_VEVENT);
	TH_LOG("TRIGGER_VEVENT: %u allocation points", points);
	EXPECT_LE(1, points);
	close(va.out_veventq_fd);
	ASSERT_EQ(0, destroy(self->fd, va.out_veventq_id));
	ASSERT_EQ(0, destroy(self->fd, vdev));
	ASSERT_EQ(0, destroy(self->fd, viommu));
	ASSERT_EQ(0, destroy(self->fd, parent));
}

TEST(open_fails_cleanly)
{
	unsigned int n, points = 0;

	if (open_fail_nth() < 0 || setup_fault_injection())
		SKIP(return, "no fault injection in this kernel");
	for (n = 1; n < 100; n++) {
		int fd, fired;

		ASSERT_EQ(0, fail_nth(n));
		fd = open(IOASID_DEV, O_RDWR);
		fired = fail_nth_fired();
		/* The VFS's own allocations may fail first; ours must give ENOMEM. */
		if (fd < 0) {
			ASSERT_TRUE(errno == ENOMEM || errno == ENFILE) TH_LOG("errno %d", errno);
		} else {
			close(fd);
		}
		if (!fired)
			break;
		points++;
	}
	TH_LOG("%u allocation points", points);
	EXPECT_LE(1, points);
}

TEST_HARNESS_MAIN
