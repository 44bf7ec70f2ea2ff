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

/* The last component of a symlink's target (an IOMMU group's number, ...) into buf. */
static inline int sysfs_link_name(const char *path, char *buf, size_t len)
{
	char target[512];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *slash;

	if (n < 0)
		return -1;
	target[n] = 0;
	slash = strrchr(target, '/');
	snprintf(buf, len, "%s", slash ? slash + 1 : target);
	return 0;
}

/* The IOMMU group of a PCI device: its number, -1 without one. */
static inline int iommu_group_of(const char *bdf)
{
	char path[512], name[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	if (sysfs_link_name(path, name, sizeof(name)))
		return -1;
	return atoi(name);
}

/* The vfio cdev of a device bound to vfio-pci (/dev/vfio/devices/vfioN), opened. */
static inline int open_vfio_cdev(const char *bdf)
{
	char path[1024], name[256];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(path);
	if (!d)
		return -1;
	name[0] = 0;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "vfio", 4))
			snprintf(name, sizeof(name), "%s", e->d_name);
	closedir(d);
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	return open(path, O_RDWR | O_CLOEXEC);
}

/* Number of devices in the IOMMU group of a PCI device. */
static inline int iommu_group_size(const char *bdf)
{
	char path[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group/devices", bdf);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * The edu devices: up to two alone in their IOMMU group (bdf, n counts all such), and up
 * to two that share one group (shared, nshared), sorted by name.
 */
struct edus {
	char bdf[2][256];
	int n;
	char shared[2][256];
	int nshared;
};

/* Keeps the two lowest names of a list, in order. */
static inline void edus_add(char (*list)[256], int *n, const char *bdf)
{
	int slot = *n < 2 ? *n : 1;

	(*n)++;
	if (*n > 2 && strcmp(bdf, list[1]) >= 0)
		return;
	snprintf(list[slot], sizeof(list[0]), "%s", bdf);
	if (slot == 1 && strcmp(list[0], list[1]) > 0) {
		char tmp[256];

		memcpy(tmp, list[0], sizeof(tmp));
		memcpy(list[0], list[1], sizeof(tmp));
		memcpy(list[1], tmp, sizeof(tmp));
	}
}

static inline void collect_edu(const char *bdf, void *arg)
{
	struct edus *e = arg;

	if (iommu_group_size(bdf) == 1)
		edus_add(e->bdf, &e->n, bdf);
	else if (e->nshared == 0 || iommu_group_of(e->shared[0]) == iommu_group_of(bdf))
		edus_add(e->shared, &e->nshared, bdf);
}

/* Hands the device to driver drv by driver_override, as an administrator would. */
static inline int bind_pci_driver(const char *bdf, const char *drv)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	write_str(path, bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (write_str(path, drv))
		return -1;
	write_str("/sys/bus/pci/drivers_probe", bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/%s", drv, bdf);
	return access(path, F_OK);
}

/* Hands the device to ioasid-pci (as for vfio-pci); 0 once its node exists. */
static inline int bind_ioasid_pci(const char *bdf)
{
	char node[512];

	if (bind_pci_driver(bdf, "ioasid-pci"))
		return -1;
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

#define PCI_CMD_MEMORY 0x2
#define PCI_CMD_MASTER 0x4

/* The device's PCI COMMAND register (config space through sysfs), -1 if unreadable. */
static inline int pci_command(const char *bdf)
{
	char path[512];
	uint16_t command;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (pread(fd, &command, 2, 4) != 2)
		command = 0xffff;
	close(fd);
	return command == 0xffff ? -1 : command;
}

/* Sets bits of the device's PCI COMMAND register, as a user's config space write does. */
static inline int pci_command_set(const char *bdf, uint16_t bits)
{
	char path[512];
	uint16_t command;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	if (pread(fd, &command, 2, 4) != 2)
		command = 0;
	command |= bits;
	if (pwrite(fd, &command, 2, 4) != 2)
		ret = -1;
	close(fd);
	return ret;
}

/*
 * Turns bus mastering (and memory space) on: a device comes out of IOASID_DEVICE_BIND
 * stopped (bus mastering off, reset where it can be), and its user turns it on to DMA.
 */
static inline int edu_bus_master(const char *bdf)
{
	return pci_command_set(bdf, PCI_CMD_MEMORY | PCI_CMD_MASTER);
}

/*
 * BAR0 of the device, mapped through sysfs, with memory space and bus mastering turned
 * on (bind turns bus mastering off again: edu_bus_master() after IOASID_DEVICE_BIND).
 */
static inline volatile uint8_t *map_bar0(const char *bdf)
{
	char path[512];
	void *bar;
	int fd;

	if (edu_bus_master(bdf))
		return NULL;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		return NULL;
	bar = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return bar == MAP_FAILED ? NULL : bar;
}

/*
 * What an edu test fixture holds: the device bound to ioasid-pci, a /dev/ioasid file, the
 * device's node and its BAR0. 0, or -1 with what was taken so far in the outputs (for
 * edu_release()).
 */
static inline int edu_open(const char *bdf, int *fd, int *dev_fd, volatile uint8_t **bar)
{
	if (bind_ioasid_pci(bdf))
		return -1;
	*fd = open(IOASID_DEV, O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return -1;
	*dev_fd = open_node(bdf);
	if (*dev_fd < 0)
		return -1;
	*bar = map_bar0(bdf);
	return *bar ? 0 : -1;
}

/* Releases what edu_open() took (any of it; bdf empty: nothing was bound). */
static inline void edu_release(const char *bdf, int fd, int dev_fd, volatile uint8_t *bar)
{
	if (bar)
		munmap((void *)bar, 1 << 20);
	if (fd > 0)
		close(fd);
	if (dev_fd > 0)
		close(dev_fd);
	if (bdf[0])
		unbind_ioasid_pci(bdf);
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
