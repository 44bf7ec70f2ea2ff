// SPDX-License-Identifier: GPL-2.0
/*
 * Which IOPTE sizes the IOMMU gets for ioasid's mappings, seen from the (emulated)
 * hardware: run by qemu-test/iopte with QEMU tracing the IOMMU's page walks. Each DMA of
 * an edu device goes to an IOVA no DMA touched before (so the IOMMU walks the page table
 * for it) and is announced first with a line
 *
 *   IOPTE-EXPECT iova=0x... size=2M|4K
 *
 * that the host matches with the walk in QEMU's trace. The IOAS of 2 MiB pages with
 * IOMMU_OPTION_HUGE_PAGES on must give 2 MiB IOPTEs; small pages, and the same 2 MiB
 * pages in an IOAS with the option off, 4 KiB ones. Exit status 0 when every DMA moved
 * the right bytes (the sizes are the host's to judge).
 */
#include <sys/mman.h>

#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"
#include "ioasid_edu_utils.h"

#define PAGE 4096UL
#define HUGE (2UL << 20)
#define HUGE_IOVA 0x40000000ULL
#define SMALL_IOVA 0x48000000ULL
#define SPLIT_IOVA 0x50000000ULL

static int failed;

static void check(bool ok, const char *what)
{
	printf("IOPTE-STEP %s %s\n", ok ? "ok" : "FAILED", what);
	if (!ok)
		failed = 1;
}

/* A DMA of one page from the device buffer (loaded with v) to iova, which is mem. */
static void probe(volatile uint8_t *bar, uint64_t iova, uint8_t *mem, int v, const char *size)
{
	printf("IOPTE-EXPECT iova=%#llx size=%s\n", (unsigned long long)iova, size);
	fflush(stdout);
	memset(mem, 0, PAGE);
	check(!edu_dma(bar, iova, 0, PAGE, true) && all_bytes(mem, v, PAGE), "DMA reached memory");
}

static int map(int fd, __u32 ioas, void *va, size_t len, __u64 iova)
{
	return ioas_map(fd, ioas, va, len, &iova,
			IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				IOMMU_IOAS_MAP_WRITEABLE);
}

int main(void)
{
	struct iommu_option off = {
		.size = sizeof(off), .option_id = IOMMU_OPTION_HUGE_PAGES,
		.op = IOMMU_OPTION_OP_SET, .val64 = 0,
	};
	struct edus e = { .n = 0 };
	__u32 dev_id, ioas, ioas2;
	volatile uint8_t *bar;
	uint8_t *huge, *small;
	int fd, dev_fd;

	for_each_pci_device(EDU_VENDOR, EDU_DEVICE, collect_edu, &e);
	if (e.n < 1 || bind_ioasid_pci(e.bdf[0])) {
		printf("IOPTE-STEP FAILED no edu device to bind\n");
		return 1;
	}
	write_str("/proc/sys/vm/nr_hugepages", "4");
	huge = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	small = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (huge == MAP_FAILED || small == MAP_FAILED) {
		printf("IOPTE-STEP FAILED no 2 MiB pages\n");
		return 1;
	}
	fd = open(IOASID_DEV, O_RDWR | O_CLOEXEC);
	dev_fd = open_node(e.bdf[0]);
	bar = map_bar0(e.bdf[0]);
	if (fd < 0 || dev_fd < 0 || !bar || device_bind(fd, dev_fd, &dev_id) ||
	    edu_bus_master(e.bdf[0]) || ioas_alloc(fd, &ioas) || ioas_alloc(fd, &ioas2)) {
		printf("IOPTE-STEP FAILED set-up: %s\n", strerror(errno));
		return 1;
	}
	/* IOAS 1, huge pages on (the default): 4 MiB of 2 MiB pages and 64 KiB of 4 KiB. */
	check(!map(fd, ioas, huge, 2 * HUGE, HUGE_IOVA), "map 2 MiB pages");
	check(!map(fd, ioas, small, 16 * PAGE, SMALL_IOVA), "map 4 KiB pages");
	check(!device_attach(fd, dev_id, ioas, NULL), "attach to IOAS 1");
	check(!edu_fill(bar, small, SMALL_IOVA, 0x5c, PAGE), "load the device buffer");
	printf("IOPTE-EXPECT iova=%#llx size=4K\n", SMALL_IOVA);
	probe(bar, HUGE_IOVA + 3 * PAGE, huge + 3 * PAGE, 0x5c, "2M");
	probe(bar, HUGE_IOVA + HUGE + 5 * PAGE, huge + HUGE + 5 * PAGE, 0x5c, "2M");
	probe(bar, SMALL_IOVA + 2 * PAGE, small + 2 * PAGE, 0x5c, "4K");
	/* IOAS 2, huge pages off: the same 2 MiB pages, mapped page by page. */
	off.object_id = ioas2;
	check(!ioctl(fd, IOMMU_OPTION, &off), "IOMMU_OPTION_HUGE_PAGES off on IOAS 2");
	check(!map(fd, ioas2, huge, 2 * HUGE, SPLIT_IOVA), "map the 2 MiB pages in IOAS 2");
	check(!device_attach(fd, dev_id, ioas2, NULL), "replace: IOAS 2");
	probe(bar, SPLIT_IOVA + 7 * PAGE, huge + 7 * PAGE, 0x5c, "4K");
	probe(bar, SPLIT_IOVA + HUGE + PAGE, huge + HUGE + PAGE, 0x5c, "4K");
	close(dev_fd);
	close(fd);
	unbind_ioasid_pci(e.bdf[0]);
	munmap(huge, 2 * HUGE);
	write_str("/proc/sys/vm/nr_hugepages", "0");
	printf("IOPTE-DONE %s\n", failed ? "failed" : "ok");
	return failed;
}
