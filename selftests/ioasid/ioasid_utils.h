/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the ioasid kselftests. */
#ifndef IOASID_UTILS_H
#define IOASID_UTILS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <linux/types.h>
#include <unistd.h>

#define IOASID_DEV "/dev/ioasid"
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
 * (72 bytes, `last` at offset 64); only the members ioasid implements are named.
 */
#define IOMMU_TEST_CMD _IO(';', 0x80 + 32)
#define IOMMU_TEST_OP_ADD_RESERVED 1

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
		__u8 union_bytes[48];
	};
	__u32 last;
	__u32 padding;
};

static inline int test_add_reserved(int fd, __u32 ioas, __u64 start, __u64 length)
{
	struct ioasid_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ADD_RESERVED,
		.id = ioas,
		.add_reserved = { .start = start, .length = length },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

#endif
