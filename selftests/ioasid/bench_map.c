// SPDX-License-Identifier: GPL-2.0
/*
 * Map/unmap benchmark (not a test): maps and unmaps 1 GiB in 4 KiB and in 2 MiB chunks,
 * and a single page in a loop, through the iommufd-compatible ioctls of the node given on
 * the command line (/dev/ioasid or /dev/iommu), and prints one BENCH line per case:
 *
 *   BENCH node=/dev/ioasid domain=none case=4k-chunks ops=524288 seconds=... ops_per_s=... gib_per_s=...
 *
 * Usage: bench_map NODE [SIZE [domain | edu BDF | type1 BDF]]
 * (SIZE in GiB, or MiB with an M suffix)
 * With "domain", a mock device is attached first (IOMMU_TEST_CMD MOCK_DOMAIN, which both
 * nodes implement with the same ABI: upstream's CONFIG_IOMMUFD_TEST mock and ioasid's with
 * selftest=1), so every map pins, charges and fills an IOMMU page table, and every unmap
 * clears it and unpins; the lines then say domain=mock.
 * With "edu BDF", the real PCI device BDF is attached (domain=real): for /dev/ioasid it
 * must be bound to ioasid-pci (IOASID_DEVICE_BIND/ATTACH); for /dev/iommu to vfio-pci
 * (VFIO_DEVICE_BIND_IOMMUFD/ATTACH_IOMMUFD_PT on its /dev/vfio/devices node).
 * With "type1 BDF" (NODE is then only a label), the device bound to vfio-pci is put in a
 * VFIO type1 container and the same maps go through VFIO_IOMMU_MAP_DMA/UNMAP_DMA.
 * qemu-test/bench runs it against both nodes in one boot and prints the ratios.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/ioasid.h>
#include <linux/vfio.h>

#include "ioasid_edu_utils.h"

#define MiB (1UL << 20)
#define GiB (1UL << 30)

static const char *node;
static const char *domain = "none";
/* Where the chunks are mapped: inside the mock aperture with a domain. */
static __u64 base_iova = 1ULL << 32;
/* A VFIO type1 container instead of an IOAS (type1 mode). */
static int container = -1;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_map %s: %s: %s\n", node, what, strerror(errno));
	exit(1);
}

static void map(int fd, __u32 ioas, void *va, __u64 len, __u64 iova)
{
	struct vfio_iommu_type1_dma_map vmap = {
		.argsz = sizeof(vmap), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)va, .iova = iova, .size = len,
	};
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};

	if (container >= 0) {
		if (ioctl(container, VFIO_IOMMU_MAP_DMA, &vmap))
			die("VFIO_IOMMU_MAP_DMA");
		return;
	}
	if (ioctl(fd, IOMMU_IOAS_MAP, &cmd))
		die("IOMMU_IOAS_MAP");
}

static void unmap(int fd, __u32 ioas, __u64 len, __u64 iova)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd), .ioas_id = ioas, .iova = iova, .length = len,
	};
	struct vfio_iommu_type1_dma_unmap vunmap = {
		.argsz = sizeof(vunmap), .iova = iova, .size = len,
	};

	if (container >= 0) {
		if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &vunmap) || vunmap.size != len)
			die("VFIO_IOMMU_UNMAP_DMA");
		return;
	}
	if (ioctl(fd, IOMMU_IOAS_UNMAP, &cmd) || cmd.length != len)
		die("IOMMU_IOAS_UNMAP");
}

static void report(const char *name, unsigned long ops, unsigned long bytes, double secs)
{
	printf("BENCH node=%s domain=%s case=%s ops=%lu seconds=%.3f ops_per_s=%.0f gib_per_s=%.3f\n",
	       node, domain, name, ops, secs, ops / secs, bytes / secs / GiB);
	fflush(stdout);
}

/* Maps [0, total) in chunks at fixed IOVAs, then unmaps every chunk exactly. */
static void chunks(int fd, __u32 ioas, char *buf, unsigned long total, unsigned long chunk,
		   const char *name)
{
	const __u64 base = base_iova;
	unsigned long off;
	double t = now();

	for (off = 0; off < total; off += chunk)
		map(fd, ioas, buf + off, chunk, base + off);
	for (off = 0; off < total; off += chunk)
		unmap(fd, ioas, chunk, base + off);
	report(name, 2 * (total / chunk), 2 * total, now() - t);
}

/* Attaches the real device bdf to ioas through node fd (ioasid or iommufd+VFIO cdev). */
static void attach_real(int fd, __u32 ioas, const char *bdf)
{
	char path[512];
	int dev_fd;

	if (strstr(node, "ioasid")) {
		struct ioasid_device_bind bind = { .size = sizeof(bind) };
		struct ioasid_device_attach att = { .size = sizeof(att), .pt_id = ioas };

		snprintf(path, sizeof(path), "/dev/ioasid-devices/%s", bdf);
		bind.dev_fd = dev_fd = open(path, O_RDWR);
		if (dev_fd < 0)
			die(path);
		if (ioctl(fd, IOASID_DEVICE_BIND, &bind))
			die("IOASID_DEVICE_BIND");
		att.dev_id = bind.out_dev_id;
		if (ioctl(fd, IOASID_DEVICE_ATTACH, &att))
			die("IOASID_DEVICE_ATTACH");
	} else {
		struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = fd };
		struct vfio_device_attach_iommufd_pt att = { .argsz = sizeof(att), .pt_id = ioas };

		dev_fd = open_vfio_cdev(bdf);
		if (dev_fd < 0)
			die("open /dev/vfio/devices/vfioN");
		if (ioctl(dev_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
			die("VFIO_DEVICE_BIND_IOMMUFD");
		if (ioctl(dev_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &att))
			die("VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	}
	/* dev_fd stays open: closing it would unbind the device. */
}

/* Puts the device bdf (bound to vfio-pci) in a new VFIO type1 container. */
static void setup_type1(const char *bdf)
{
	char path[1024], group[512];
	int gfd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	if (sysfs_link_name(path, group, sizeof(group)))
		die("iommu_group");
	container = open("/dev/vfio/vfio", O_RDWR);
	snprintf(path, sizeof(path), "/dev/vfio/%s", group);
	gfd = open(path, O_RDWR);
	if (container < 0 || gfd < 0)
		die("open the VFIO container or group");
	if (ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &container))
		die("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		die("VFIO_SET_IOMMU");
}

int main(int argc, char **argv)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	unsigned long total, i, n = 100000;
	long page = sysconf(_SC_PAGESIZE);
	char *buf;
	double t;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: %s NODE [GiB]\n", argv[0]);
		return 2;
	}
	node = argv[1];
	if (argc > 2) {
		char *end;

		total = strtoul(argv[2], &end, 0);
		total *= (*end == 'M' || *end == 'm') ? MiB : GiB;
	} else {
		total = GiB;
	}
	if (argc > 4 && !strcmp(argv[3], "type1")) {
		/* No IOAS: the maps go to the VFIO container. */
		fd = -1;
	} else {
		fd = open(node, O_RDWR);
		if (fd < 0)
			die("open");
		if (ioctl(fd, IOMMU_IOAS_ALLOC, &alloc))
			die("IOMMU_IOAS_ALLOC");
	}
	if (argc > 3 && !strcmp(argv[3], "domain")) {
		/* struct iommu_test_cmd: size, op, id, __reserved, union (48 bytes), last. */
		__u32 cmd[18] = { sizeof(cmd), 2 /* IOMMU_TEST_OP_MOCK_DOMAIN */, alloc.out_ioas_id };

		if (ioctl(fd, _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32), cmd))
			die("IOMMU_TEST_OP_MOCK_DOMAIN");
		domain = "mock";
		n /= 10; /* every single-page op pins, maps, unmaps and unpins */
		base_iova = 1ULL << 24; /* MOCK_APERTURE_START */
	} else if (argc > 4 && !strcmp(argv[3], "edu")) {
		attach_real(fd, alloc.out_ioas_id, argv[4]);
		domain = "real";
		n /= 10;
	} else if (argc > 4 && !strcmp(argv[3], "type1")) {
		setup_type1(argv[4]);
		domain = "real";
		n /= 10;
	}

	/* 2 MiB-aligned, THP-eligible memory. */
	buf = mmap(NULL, total + 2 * MiB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	buf = (char *)(((uintptr_t)buf + 2 * MiB - 1) & ~(2 * MiB - 1));
	madvise(buf, total, MADV_HUGEPAGE);

	chunks(fd, alloc.out_ioas_id, buf, total, page, "4k-chunks");
	chunks(fd, alloc.out_ioas_id, buf, total, 2 * MiB, "2m-chunks");

	t = now();
	for (i = 0; i < n; i++) {
		map(fd, alloc.out_ioas_id, buf, page, base_iova);
		unmap(fd, alloc.out_ioas_id, page, base_iova);
	}
	report("single-page", 2 * n, 2 * n * page, now() - t);
	if (fd >= 0)
		close(fd);
	return 0;
}
