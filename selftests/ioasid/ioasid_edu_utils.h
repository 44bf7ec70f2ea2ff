/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU's edu device (1234:11e8) driven from userspace through /dev/ioasid: binding it to
 * ioasid-pci, its BAR0 through sysfs, and its DMA engine, which copies between its 4 KiB
 * buffer (device address 0x40000) and an IOVA. Shared by ioasid_device and ioasid_demo.
 */
#ifndef IOASID_EDU_UTILS_H
#define IOASID_EDU_UTILS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/ioasid.h>

#include "ioasid_utils.h"

#define EDU_BUF 0x40000ULL
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_RUN 1
#define EDU_CMD_TO_RAM 2


static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

struct edus {
	char bdf[2][256];
	int n;
};

static inline void collect_edu(const char *bdf, void *arg)
{
	struct edus *e = arg;

	if (e->n < 2)
		snprintf(e->bdf[e->n], sizeof(e->bdf[0]), "%s", bdf);
	e->n++;
}

/* Hands the device to ioasid-pci (driver_override, as for vfio-pci); 0 on success. */
static inline int bind_ioasid_pci(const char *bdf)
{
	char path[512], node[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	write_str(path, bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (write_str(path, "ioasid-pci"))
		return -1;
	write_str("/sys/bus/pci/drivers_probe", bdf);
	snprintf(node, sizeof(node), "/dev/ioasid-devices/%s", bdf);
	return access(node, F_OK);
}

static inline void unbind_ioasid_pci(const char *bdf)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	write_str(path, bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	write_str(path, "\n");
}

static inline int open_node(const char *bdf)
{
	char node[512];

	snprintf(node, sizeof(node), "/dev/ioasid-devices/%s", bdf);
	return open(node, O_RDWR | O_CLOEXEC);
}

static inline int device_bind(int fd, int dev_fd, __u32 *dev_id)
{
	struct ioasid_device_bind cmd = { .size = sizeof(cmd), .dev_fd = dev_fd };
	int ret = ioctl(fd, IOASID_DEVICE_BIND, &cmd);

	if (!ret)
		*dev_id = cmd.out_dev_id;
	return ret;
}

static inline int device_attach(int fd, __u32 dev_id, __u32 pt_id, __u32 *hwpt_id)
{
	struct ioasid_device_attach cmd = {
		.size = sizeof(cmd), .dev_id = dev_id, .pt_id = pt_id,
	};
	int ret = ioctl(fd, IOASID_DEVICE_ATTACH, &cmd);

	if (!ret && hwpt_id)
		*hwpt_id = cmd.pt_id;
	return ret;
}

static inline int device_detach(int fd, __u32 dev_id)
{
	struct ioasid_device_detach cmd = { .size = sizeof(cmd), .dev_id = dev_id };

	return ioctl(fd, IOASID_DEVICE_DETACH, &cmd);
}

static inline int destroy(int fd, __u32 id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(fd, IOMMU_DESTROY, &cmd);
}

/* BAR0 of the device, mapped through sysfs, with bus mastering turned on. */
static inline volatile uint8_t *map_bar0(const char *bdf)
{
	char path[512];
	uint16_t command;
	void *bar;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return NULL;
	if (pread(fd, &command, 2, 4) != 2)
		command = 0;
	command |= 0x6; /* memory space, bus master */
	if (pwrite(fd, &command, 2, 4) != 2) {
		close(fd);
		return NULL;
	}
	close(fd);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		return NULL;
	bar = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return bar == MAP_FAILED ? NULL : bar;
}

static inline void wr64(volatile uint8_t *bar, unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(bar + off) = v;
}

static inline uint64_t rd64(volatile uint8_t *bar, unsigned int off)
{
	return *(volatile uint64_t *)(bar + off);
}

/*
 * One DMA of the edu engine: to_ram copies its buffer (at offset boff) to iova, otherwise
 * iova to its buffer. Waits for the engine (about 100 ms of virtual time); -1 on timeout.
 */
static inline int edu_dma(volatile uint8_t *bar, uint64_t iova, uint32_t boff, uint32_t len,
		   bool to_ram)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };
	int i;

	wr64(bar, EDU_DMA_SRC, to_ram ? EDU_BUF + boff : iova);
	wr64(bar, EDU_DMA_DST, to_ram ? iova : EDU_BUF + boff);
	wr64(bar, EDU_DMA_CNT, len);
	wr64(bar, EDU_DMA_CMD, EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0));
	for (i = 0; i < 1000; i++) {
		if (!(rd64(bar, EDU_DMA_CMD) & EDU_CMD_RUN))
			return 0;
		nanosleep(&t, NULL);
	}
	return -1;
}

/* Loads the device buffer with len bytes of value v (DMA from a scratch page at iova). */
static inline int edu_fill(volatile uint8_t *bar, uint8_t *scratch, uint64_t iova, int v, uint32_t len)
{
	memset(scratch, v, len);
	return edu_dma(bar, iova, 0, len, false);
}

/* Whether all len bytes at p are v (what a DMA did or did not write). */
static inline bool all_bytes(const uint8_t *p, int v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (uint8_t)v)
			return false;
	return true;
}

#endif
