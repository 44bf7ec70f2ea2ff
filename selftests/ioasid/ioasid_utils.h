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
};
/* ioasid's own test op (outside upstream's numbers): DMA by a mock device. */
#define IOASID_TEST_OP_MOCK_DMA 0x10000
#define IOASID_MOCK_DMA_WRITE 1
/* The mock IOMMU's aperture (upstream's MOCK_APERTURE_START/LAST). */
#define MOCK_APERTURE_START (1ULL << 24)
#define MOCK_APERTURE_LAST ((1ULL << 31) - 1)
#define MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES 1
#define MOCK_FLAGS_ACCESS_WRITE 1
#define MOCK_ACCESS_RW_WRITE 1

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

/* IOMMU_DESTROY. */
static inline int destroy(int fd, __u32 id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(fd, IOMMU_DESTROY, &cmd);
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
