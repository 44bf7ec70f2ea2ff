/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the ioasid kselftests. */
#ifndef IOASID_UTILS_H
#define IOASID_UTILS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <linux/types.h>
#include <linux/ioasid.h>
#include <unistd.h>

#define IOASID_DEV "/dev/ioasid"

/*
 * Time limits. The harness gives each test 30 s. The tests run in TCG guests with a debug
 * kernel (KASAN, lockdep, kmemleak), and must hold on a machine 3x slower than the one
 * they were measured on (run_tests.sh prints "# time: TEST SECONDS" after each; measured
 * on 2 host cores shared by four TCG guests): a test whose measured time, times 3, passes
 * 30 s does less work where its amount is arbitrary, or says its own limit
 * (TEST_F_TIMEOUT) where the amount is the point. The figures are in the comments of
 * those tests; every other test took under 8 s.
 *
 * The stress tests run for STRESS_SECONDS of wall time whatever the machine's speed, then
 * wait for their threads' last round: 10.3 to 17.3 s, so their limit is STRESS_TIMEOUT.
 */
#define STRESS_SECONDS 10
#define STRESS_TIMEOUT 60

/* Expects the call to fail (-1) with errno want (kselftest_harness.h must be included). */
#define EXPECT_ERRNO(want, call)                        \
	do {                                            \
		errno = 0;                              \
		EXPECT_EQ(-1, (call));                  \
		EXPECT_EQ(want, errno);                 \
	} while (0)
/* EXPECT_ERRNO for one row of a table-driven test: a failure names the row. */
#define EXPECT_ERRNO_CASE(want, call, what)                                      \
	do {                                                                     \
		int __ret, __err;                                                \
		errno = 0;                                                       \
		__ret = (call);                                                  \
		__err = errno;                                                   \
		if (__ret != -1 || __err != (want))                              \
			TH_LOG("%s: returned %d, errno %d", what, __ret, __err); \
		EXPECT_EQ(-1, __ret);                                            \
		EXPECT_EQ(want, __err);                                          \
	} while (0)
#define PCI_ANY 0xffffffffu
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

/* Reads a small sysfs file into buf; returns its length or -1. */
static inline int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* Returns the kernel log (malloc'd, NUL-terminated) or NULL. */
static inline char *read_kernel_log(void)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	int n;

	if (size <= 0)
		return NULL;
	buf = calloc(1, size + 1);
	if (!buf)
		return NULL;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

/* Occurrences of needle in the kernel log, -1 when it cannot be read. */
static inline int count_in_kernel_log(const char *needle)
{
	char *log = read_kernel_log(), *p;
	int n = 0;

	if (!log)
		return -1;
	for (p = log; (p = strstr(p, needle)); p++)
		n++;
	free(log);
	return n;
}

/*
 * Calls fn(bdf) for each PCI device with the given vendor and device ID; returns how
 * many there were.
 */
static inline int for_each_pci_device(unsigned int vendor, unsigned int device,
				      void (*fn)(const char *bdf, void *arg), void *arg)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int count = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[512], buf[32];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (vendor != PCI_ANY &&
		    (read_file(path, buf, sizeof(buf)) < 0 || strtoul(buf, NULL, 0) != vendor))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		if (device != PCI_ANY &&
		    (read_file(path, buf, sizeof(buf)) < 0 || strtoul(buf, NULL, 0) != device))
			continue;
		if (fn)
			fn(e->d_name, arg);
		count++;
	}
	closedir(d);
	return count;
}

/*
 * IOMMU_TEST_CMD, with the layout of struct iommu_test_cmd of upstream's iommufd_test.h
 * (72 bytes, `last` at offset 64) and its op numbers; only the members the ioasid tests
 * use are named.
 */
#define IOMMU_TEST_CMD _IO(';', 0x80 + 32)
enum {
	IOMMU_TEST_OP_ADD_RESERVED = 1,
	IOMMU_TEST_OP_MOCK_DOMAIN,
	IOMMU_TEST_OP_MD_CHECK_MAP,
	IOMMU_TEST_OP_MD_CHECK_REFS,
	IOMMU_TEST_OP_CREATE_ACCESS,
	IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
	IOMMU_TEST_OP_ACCESS_PAGES,
	IOMMU_TEST_OP_ACCESS_RW,
	IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
	IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
	IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
	IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
	IOMMU_TEST_OP_DIRTY,
	IOMMU_TEST_OP_PASID_ATTACH = 18,
	IOMMU_TEST_OP_PASID_REPLACE,
	IOMMU_TEST_OP_PASID_DETACH,
	IOMMU_TEST_OP_PASID_CHECK_HWPT,
};
/* ioasid's own test op (outside upstream's numbers): DMA by a mock device. */
#define IOASID_TEST_OP_MOCK_DMA 0x10000
#define IOASID_MOCK_DMA_WRITE 1
/* IOASID_TEST_OP_MOCK_DMA flag: the DMA is tagged with mock_dma.pasid. */
#define IOASID_MOCK_DMA_PASID 2
/* The mock IOMMU's aperture (upstream's MOCK_APERTURE_START/LAST). */
#define MOCK_APERTURE_START (1ULL << 24)
#define MOCK_APERTURE_LAST ((1ULL << 31) - 1)
#define MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES 1
#define MOCK_FLAGS_ACCESS_WRITE 1
#define MOCK_ACCESS_RW_WRITE 1
#define MOCK_FLAGS_DEVICE_NO_DIRTY 1
#define MOCK_FLAGS_DEVICE_PASID 4
#define MOCK_PASID_WIDTH 20
/* The page-table formats of upstream's mock HWPT data (struct iommu_hwpt_selftest). */
#define MOCK_IOMMUPT_DEFAULT 0
#define MOCK_IOMMUPT_HUGE 1
#define MOCK_HUGE_PAGE_SIZE (512 * 2048)

struct ioasid_test_cmd {
	__u32 size;
	__u32 op;
	__u32 id;
	__u32 __reserved;
	union {
		struct {
			__aligned_u64 start;
			__aligned_u64 length;
		} add_reserved;
		struct {
			__u32 out_stdev_id;
			__u32 out_hwpt_id;
			__u32 out_idev_id;
		} mock_domain;
		struct {
			__u32 out_stdev_id;
			__u32 out_hwpt_id;
			__u32 out_idev_id;
			__u32 dev_flags;
		} mock_domain_flags;
		struct {
			__u32 pt_id;
		} mock_domain_replace;
		struct {
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
		} check_map;
		struct {
			__aligned_u64 length;
			__aligned_u64 uptr;
			__u32 refs;
		} check_refs;
		struct {
			__u32 out_access_fd;
			__u32 flags;
		} create_access;
		struct {
			__u32 access_pages_id;
		} destroy_access_pages;
		struct {
			__u32 flags;
			__u32 out_access_pages_id;
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
		} access_pages;
		struct {
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
			__u32 flags;
		} access_rw;
		struct {
			__u32 flags;
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 page_size;
			__aligned_u64 uptr;
			__aligned_u64 out_nr_dirty;
		} dirty;
		struct {
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
			__u32 flags;
			__u32 pasid;
		} mock_dma;
		struct {
			__u32 pasid;
			__u32 pt_id;
		} pasid_attach;
		struct {
			__u32 pasid;
			__u32 hwpt_id;
		} pasid_check;
		__u8 union_bytes[48];
	};
	__u32 last;
	__u32 padding;
};

static inline int test_cmd(int fd, struct ioasid_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(fd, IOMMU_TEST_CMD, cmd);
}

static inline int test_add_reserved(int fd, __u32 ioas, __u64 start, __u64 length)
{
	struct ioasid_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ADD_RESERVED,
		.id = ioas,
		.add_reserved = { .start = start, .length = length },
	};

	return test_cmd(fd, &cmd);
}

/* A mock device attached to pt_id (an IOAS or a HWPT); returns 0 or -1 with errno. */
static inline int test_mock_domain(int fd, __u32 pt_id, __u32 *stdev, __u32 *hwpt)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = pt_id };
	int rc = test_cmd(fd, &cmd);

	if (!rc && stdev)
		*stdev = cmd.mock_domain.out_stdev_id;
	if (!rc && hwpt)
		*hwpt = cmd.mock_domain.out_hwpt_id;
	return rc;
}

/* A mock device made with MOCK_FLAGS_DEVICE_* dev_flags, attached to pt_id. */
static inline int test_mock_domain_flags(int fd, __u32 pt_id, __u32 dev_flags, __u32 *stdev,
					 __u32 *hwpt, __u32 *idev)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, .id = pt_id };
	int rc;

	cmd.mock_domain_flags.dev_flags = dev_flags;
	rc = test_cmd(fd, &cmd);
	if (!rc && stdev)
		*stdev = cmd.mock_domain_flags.out_stdev_id;
	if (!rc && hwpt)
		*hwpt = cmd.mock_domain_flags.out_hwpt_id;
	if (!rc && idev)
		*idev = cmd.mock_domain_flags.out_idev_id;
	return rc;
}

/* IOMMU_HWPT_SET_DIRTY_TRACKING. */
static inline int set_dirty_tracking(int fd, __u32 hwpt, bool on)
{
	struct iommu_hwpt_set_dirty_tracking cmd = {
		.size = sizeof(cmd),
		.flags = on ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
		.hwpt_id = hwpt,
	};

	return ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd);
}

/* IOMMU_HWPT_GET_DIRTY_BITMAP into the bitmap at `bits`. */
static inline int get_dirty_bitmap(int fd, __u32 hwpt, __u64 iova, __u64 length, __u64 page_size,
				   void *bits, __u32 flags)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt,
		.flags = flags,
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.data = (uintptr_t)bits,
	};

	return ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd);
}

/* IOMMU_DESTROY. */
static inline int destroy(int fd, __u32 id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(fd, IOMMU_DESTROY, &cmd);
}

/*
 * The ID the next object gets (IDs are the lowest free ones), found by making and
 * destroying an IOAS; 0 on error. A call that left an object (or a reserved ID) behind
 * changes it.
 */
static inline __u32 next_object_id(int fd)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };

	if (ioctl(fd, IOMMU_IOAS_ALLOC, &cmd) || destroy(fd, cmd.out_ioas_id))
		return 0;
	return cmd.out_ioas_id;
}

/*
 * IOMMU_VFIO_IOAS: op GET (the ID into *ioas), SET (*ioas becomes the IOAS of the VFIO
 * compatibility ioctls) or CLEAR.
 */
static inline int vfio_ioas(int fd, __u16 op, __u32 *ioas)
{
	struct iommu_vfio_ioas cmd = { .size = sizeof(cmd), .op = op, .ioas_id = ioas ? *ioas : 0 };
	int rc = ioctl(fd, IOMMU_VFIO_IOAS, &cmd);

	if (!rc && ioas && op == IOMMU_VFIO_IOAS_GET)
		*ioas = cmd.ioas_id;
	return rc;
}

/* IOMMU_HWPT_ALLOC, with driver data when data_type is not 0. */
static inline int hwpt_alloc(int fd, __u32 flags, __u32 dev_id, __u32 pt_id, __u32 data_type,
			     const void *data, __u32 data_len, __u32 *out)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.data_type = data_type,
		.data_len = data_len,
		.data_uptr = (uintptr_t)data,
	};
	int rc = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);

	if (!rc && out)
		*out = cmd.out_hwpt_id;
	return rc;
}

/* Moves mock device stdev to IOAS or HWPT pt_id. */
static inline int test_mock_domain_replace(int fd, __u32 stdev, __u32 pt_id)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, .id = stdev };

	cmd.mock_domain_replace.pt_id = pt_id;
	return test_cmd(fd, &cmd);
}

/* Mock device dev reads (or writes) len bytes at iova through its domain. */
static inline int test_mock_dma(int fd, __u32 dev, __u64 iova, void *buf, size_t len,
				bool write)
{
	struct ioasid_test_cmd cmd = {
		.op = IOASID_TEST_OP_MOCK_DMA,
		.id = dev,
		.access_rw = { .iova = iova, .length = len, .uptr = (uintptr_t)buf,
			       .flags = write ? IOASID_MOCK_DMA_WRITE : 0 },
	};

	return test_cmd(fd, &cmd);
}

/* Mock device dev reads (or writes) len bytes at iova, tagged with PASID pasid. */
static inline int test_mock_dma_pasid(int fd, __u32 dev, __u32 pasid, __u64 iova, void *buf,
				      size_t len, bool write)
{
	struct ioasid_test_cmd cmd = {
		.op = IOASID_TEST_OP_MOCK_DMA,
		.id = dev,
		.mock_dma = { .iova = iova, .length = len, .uptr = (uintptr_t)buf,
			      .flags = IOASID_MOCK_DMA_PASID | (write ? IOASID_MOCK_DMA_WRITE : 0),
			      .pasid = pasid },
	};

	return test_cmd(fd, &cmd);
}

/* Upstream's PASID test ops (op is IOMMU_TEST_OP_PASID_ATTACH or _REPLACE). */
static inline int test_pasid_attach_op(int fd, __u32 op, __u32 stdev, __u32 pasid, __u32 pt_id)
{
	struct ioasid_test_cmd cmd = { .op = op, .id = stdev };

	cmd.pasid_attach.pasid = pasid;
	cmd.pasid_attach.pt_id = pt_id;
	return test_cmd(fd, &cmd);
}

static inline int test_pasid_detach(int fd, __u32 stdev, __u32 pasid)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_PASID_DETACH, .id = stdev };

	cmd.pasid_attach.pasid = pasid;
	return test_cmd(fd, &cmd);
}

/* PASID pasid of mock device stdev is attached to hwpt (0: detached). */
static inline int test_pasid_check(int fd, __u32 stdev, __u32 pasid, __u32 hwpt)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_PASID_CHECK_HWPT, .id = stdev };

	cmd.pasid_check.pasid = pasid;
	cmd.pasid_check.hwpt_id = hwpt;
	return test_cmd(fd, &cmd);
}

/* IOASID_DEVICE_ATTACH/DETACH of PASID pasid; *pt_id is updated to the HWPT. */
static inline int device_attach_pasid(int fd, __u32 dev_id, __u32 pasid, __u32 *pt_id)
{
	struct ioasid_device_attach cmd = {
		.size = sizeof(cmd), .flags = IOASID_DEVICE_PASID, .dev_id = dev_id,
		.pt_id = *pt_id, .pasid = pasid,
	};
	int rc = ioctl(fd, IOASID_DEVICE_ATTACH, &cmd);

	if (!rc)
		*pt_id = cmd.pt_id;
	return rc;
}

static inline int device_detach_pasid(int fd, __u32 dev_id, __u32 pasid)
{
	struct ioasid_device_detach cmd = {
		.size = sizeof(cmd), .flags = IOASID_DEVICE_PASID, .dev_id = dev_id, .pasid = pasid,
	};

	return ioctl(fd, IOASID_DEVICE_DETACH, &cmd);
}

/* IOASID_PASID_ALLOC from dev_id's space within [min, max]; the PASID and its object ID. */
static inline int pasid_alloc(int fd, __u32 dev_id, __u32 min, __u32 max, __u32 *pasid,
			      __u32 *id)
{
	struct ioasid_pasid_alloc cmd = {
		.size = sizeof(cmd), .dev_id = dev_id, .min_pasid = min, .max_pasid = max,
	};
	int rc = ioctl(fd, IOASID_PASID_ALLOC, &cmd);

	if (!rc && pasid)
		*pasid = cmd.out_pasid;
	if (!rc && id)
		*id = cmd.out_id;
	return rc;
}

static inline int pasid_free(int fd, __u32 dev_id, __u32 pasid)
{
	struct ioasid_pasid_free cmd = { .size = sizeof(cmd), .dev_id = dev_id, .pasid = pasid };

	return ioctl(fd, IOASID_PASID_FREE, &cmd);
}

/* Every page of [ptr, ptr + len) has `refs` pins (FOLL_PIN count). */
static inline int test_check_refs(int fd, void *ptr, size_t len, unsigned int refs)
{
	struct ioasid_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MD_CHECK_REFS,
		.check_refs = { .length = len, .uptr = (uintptr_t)ptr, .refs = refs },
	};

	return test_cmd(fd, &cmd);
}

/* The mock domain of hwpt translates [iova, iova + len) to the memory at ptr. */
static inline int test_check_map(int fd, __u32 hwpt, __u64 iova, void *ptr, size_t len)
{
	struct ioasid_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.id = hwpt,
		.check_map = { .iova = iova, .length = len, .uptr = (uintptr_t)ptr },
	};

	return test_cmd(fd, &cmd);
}

/*
 * Nested HWPTs and vIOMMUs of the mock IOMMU, with upstream's test types (from
 * drivers/iommu/iommufd/iommufd_test.h, not uAPI).
 */
#define IOMMU_HWPT_DATA_SELFTEST 0xdead
#define IOMMU_TEST_IOTLB_DEFAULT 0xbadbeef
#define IOMMU_HWPT_INVALIDATE_DATA_SELFTEST 0xdeadbeef
#define IOMMU_TEST_INVALIDATE_FLAG_ALL (1 << 0)
#define IOMMU_TEST_OP_MD_CHECK_IOTLB 14
#define IOMMU_TEST_OP_DEV_CHECK_CACHE 16
#define MOCK_NESTED_DOMAIN_IOTLB_NUM 4
#define IOMMU_VIOMMU_TYPE_SELFTEST 0xdeadbeef
/* iommufd's vIOMMU types of real IOMMUs; ioasid's header leaves them out until it drives them. */
#define IOMMU_VIOMMU_TYPE_DEFAULT 0
#define IOMMU_VIOMMU_TYPE_ARM_SMMUV3 1
#define IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV 2
/*
 * iommufd's nested-domain data types of real IOMMUs: ioasid hands them to the driver's
 * domain_alloc_nested but cannot attach what it makes yet, so its header leaves them out.
 */
#define IOMMU_HWPT_DATA_VTD_S1 1
#define IOMMU_HWPT_DATA_ARM_SMMUV3 2
#define IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST 0xdeadbeef
#define MOCK_DEV_CACHE_NUM 4
#define IOMMU_TEST_DEV_CACHE_DEFAULT 0xbaddad

struct iommu_hwpt_selftest {
	__u32 iotlb;
	__u32 pagetable_type;
};

struct iommu_hwpt_invalidate_selftest {
	__u32 flags;
	__u32 iotlb_id;
};

struct iommu_viommu_selftest {
	__u32 in_data;
	__u32 out_data;
	__aligned_u64 out_mmap_offset;
	__aligned_u64 out_mmap_length;
};

struct iommu_viommu_invalidate_selftest {
	__u32 flags;
	__u32 vdev_id;
	__u32 cache_id;
};

/* A nested HWPT on `parent` (a HWPT or a vIOMMU) whose mock IOTLB starts at `iotlb`. */
static inline int nested_alloc(int fd, __u32 dev_id, __u32 parent, __u32 iotlb, __u32 *out)
{
	struct iommu_hwpt_selftest data = { .iotlb = iotlb };

	return hwpt_alloc(fd, 0, dev_id, parent, IOMMU_HWPT_DATA_SELFTEST, &data, sizeof(data),
			  out);
}

/*
 * IOMMU_HWPT_INVALIDATE of a nested HWPT or a vIOMMU; *num goes in as the entry count and
 * comes back as the count done.
 */
static inline int invalidate(int fd, __u32 hwpt, const void *entries, __u32 type, __u32 len,
			     __u32 *num)
{
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt,
		.data_uptr = (uintptr_t)entries,
		.data_type = type,
		.entry_len = len,
		.entry_num = *num,
	};
	int rc = ioctl(fd, IOMMU_HWPT_INVALIDATE, &cmd);

	*num = cmd.entry_num;
	return rc;
}

/* Entry `entry` of mock nested HWPT `hwpt`'s IOTLB holds `value`. */
static inline int check_iotlb(int fd, __u32 hwpt, __u32 entry, __u32 value)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_MD_CHECK_IOTLB, .id = hwpt };

	/* check_iotlb: { __u32 id; __u32 iotlb; } at the start of the union. */
	memcpy(cmd.union_bytes, &entry, 4);
	memcpy(cmd.union_bytes + 4, &value, 4);
	return test_cmd(fd, &cmd);
}

/* Every entry 0..n-1 passes check(fd, id, entry, value) (check_iotlb, check_dev_cache). */
static inline int check_all(int fd, __u32 id, __u32 n, __u32 value,
			    int (*check)(int fd, __u32 id, __u32 entry, __u32 value))
{
	for (__u32 i = 0; i < n; i++)
		if (check(fd, id, i, value))
			return -1;
	return 0;
}

/*
 * A mock device attached to IOAS ioas (its test object, automatic HWPT and device IDs),
 * and two HWPTs on ioas for it: a NEST_PARENT one and a plain one.
 */
static inline int mock_nest_setup(int fd, __u32 ioas, __u32 *stdev, __u32 *auto_hwpt,
				  __u32 *idev, __u32 *parent, __u32 *plain)
{
	struct ioasid_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = ioas };

	if (test_cmd(fd, &md))
		return -1;
	*stdev = md.mock_domain.out_stdev_id;
	*auto_hwpt = md.mock_domain.out_hwpt_id;
	*idev = md.mock_domain.out_idev_id;
	if (hwpt_alloc(fd, IOMMU_HWPT_ALLOC_NEST_PARENT, *idev, ioas, 0, NULL, 0, parent))
		return -1;
	return hwpt_alloc(fd, 0, *idev, ioas, 0, NULL, 0, plain);
}

/* Cache entry `entry` of mock device `dev` holds `value`. */
static inline int check_dev_cache(int fd, __u32 dev, __u32 entry, __u32 value)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_DEV_CHECK_CACHE, .id = dev };

	/* check_dev_cache: { __u32 id; __u32 cache; } at the start of the union. */
	memcpy(cmd.union_bytes, &entry, 4);
	memcpy(cmd.union_bytes + 4, &value, 4);
	return test_cmd(fd, &cmd);
}

/* IOMMU_VIOMMU_ALLOC with flags, and with data when len is not 0. */
static inline int viommu_alloc_flags(int fd, __u32 flags, __u32 dev_id, __u32 hwpt_id,
				     __u32 type, void *data, __u32 len, __u32 *out)
{
	struct iommu_viommu_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.type = type,
		.dev_id = dev_id,
		.hwpt_id = hwpt_id,
		.data_len = len,
		.data_uptr = (uintptr_t)data,
	};
	int rc = ioctl(fd, IOMMU_VIOMMU_ALLOC, &cmd);

	if (!rc && out)
		*out = cmd.out_viommu_id;
	return rc;
}

/* IOMMU_VIOMMU_ALLOC, with data when len is not 0. */
static inline int viommu_alloc(int fd, __u32 dev_id, __u32 hwpt_id, __u32 type, void *data,
			       __u32 len, __u32 *out)
{
	return viommu_alloc_flags(fd, 0, dev_id, hwpt_id, type, data, len, out);
}

/* IOMMU_VDEVICE_ALLOC. */
static inline int vdevice_alloc(int fd, __u32 viommu_id, __u32 dev_id, __u64 virt_id,
				__u32 *out)
{
	struct iommu_vdevice_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.dev_id = dev_id,
		.virt_id = virt_id,
	};
	int rc = ioctl(fd, IOMMU_VDEVICE_ALLOC, &cmd);

	if (!rc && out)
		*out = cmd.out_vdevice_id;
	return rc;
}

#define IOMMU_HW_QUEUE_TYPE_DEFAULT 0
#define IOMMU_HW_QUEUE_TYPE_SELFTEST 0xdeadbeef
#define IOMMU_TEST_HW_QUEUE_MAX 2

/* IOMMU_HW_QUEUE_ALLOC with flags. */
static inline int hw_queue_alloc_flags(int fd, __u32 flags, __u32 viommu_id, __u32 type,
				       __u32 index, __u64 iova, __u64 length, __u32 *out)
{
	struct iommu_hw_queue_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.viommu_id = viommu_id,
		.type = type,
		.index = index,
		.nesting_parent_iova = iova,
		.length = length,
	};
	int rc = ioctl(fd, IOMMU_HW_QUEUE_ALLOC, &cmd);

	if (!rc && out)
		*out = cmd.out_hw_queue_id;
	return rc;
}

/* IOMMU_HW_QUEUE_ALLOC of the mock vIOMMU's queue type. */
static inline int hw_queue_alloc(int fd, __u32 viommu_id, __u32 index, __u64 iova,
				 __u64 length, __u32 *out)
{
	return hw_queue_alloc_flags(fd, 0, viommu_id, IOMMU_HW_QUEUE_TYPE_SELFTEST, index, iova,
				    length, out);
}

/* The calling process's VmPin (or another field of /proc/<pid>/status) in kB, or -1. */
static inline long proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

#endif
