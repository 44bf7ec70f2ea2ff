// SPDX-License-Identifier: GPL-2.0
/*
 * The demo (qemu-test/demo): an edu device DMAs through the IOMMU into memory that this
 * process mapped with /dev/ioasid, then is refused once the mapping is gone. Prints each
 * step; exit status 0 only if every step did what it should.
 */
#include <sys/mman.h>

#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"
#include "ioasid_edu_utils.h"

#define IOVA 0x100000ULL
#define PAGE 4096UL

static int failed;

/* Evaluates ok once (it is often the ioctl itself), then prints the step. */
#define STEP(ok, ...)                                                   \
	do {                                                            \
		bool __ok = (ok);                                       \
		printf("  %s ", __ok ? "[ok]  " : "[FAIL]");            \
		printf(__VA_ARGS__);                                    \
		printf("\n");                                           \
		if (!__ok)                                              \
			failed = 1;                                     \
	} while (0)

int main(void)
{
	struct iommu_iova_range ranges[8];
	struct iommu_ioas_iova_ranges rcmd = {
		.size = sizeof(rcmd), .num_iovas = 8, .allowed_iovas = (uintptr_t)ranges,
	};
	__u32 info[16] = { 0 };
	struct iommu_hw_info hw = {
		.size = sizeof(hw), .data_len = sizeof(info), .data_uptr = (uintptr_t)info,
	};
	struct edus e = { .n = 0 };
	volatile uint8_t *bar;
	__u32 dev_id = 0, ioas = 0, hwpt = 0;
	__u64 iova = IOVA;
	uint8_t *buf;
	int fd, dev_fd, i;

	for_each_pci_device(EDU_VENDOR, EDU_DEVICE, collect_edu, &e);
	if (e.n < 1) {
		printf("no edu device\n");
		return 1;
	}
	printf("edu device %s\n", e.bdf[0]);
	STEP(!bind_ioasid_pci(e.bdf[0]), "bound to ioasid-pci: /dev/ioasid-devices/%s",
	     e.bdf[0]);
	fd = open(IOASID_DEV, O_RDWR);
	dev_fd = open_node(e.bdf[0]);
	STEP(fd >= 0 && dev_fd >= 0, "opened /dev/ioasid and the device node");
	if (fd < 0 || dev_fd < 0)
		return 1;
	STEP(!device_bind(fd, dev_fd, &dev_id), "IOASID_DEVICE_BIND: dev_id %u (DMA ownership "
	     "of its IOMMU group claimed)", dev_id);
	hw.dev_id = dev_id;
	if (!ioctl(fd, IOMMU_GET_HW_INFO, &hw))
		STEP(true, "IOMMU_GET_HW_INFO: type %u (%s), %u bytes, first words %#x %#x %#x %#x",
		     hw.out_data_type,
		     hw.out_data_type == 1 ? "Intel VT-d" : hw.out_data_type == 2 ? "Arm SMMUv3" : "?",
		     hw.data_len, info[0], info[1], info[2], info[3]);
	else
		STEP(false, "IOMMU_GET_HW_INFO: %s", strerror(errno));
	STEP(!ioas_alloc(fd, &ioas), "IOMMU_IOAS_ALLOC: IOAS %u", ioas);
	buf = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	STEP(!ioas_map(fd, ioas, buf, 4 * PAGE, &iova,
		       IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			       IOMMU_IOAS_MAP_WRITEABLE),
	     "IOMMU_IOAS_MAP: 16 KiB of this process at IOVA %#llx", (unsigned long long)iova);
	STEP(!device_attach(fd, dev_id, ioas, &hwpt),
	     "IOASID_DEVICE_ATTACH to the IOAS: automatic HWPT %u (a paging domain of the IOMMU "
	     "driver)", hwpt);
	rcmd.ioas_id = ioas;
	if (!ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &rcmd))
		for (i = 0; i < (int)rcmd.num_iovas && i < 8; i++)
			printf("         usable IOVA range [%#llx, %#llx]\n",
			       (unsigned long long)ranges[i].start,
			       (unsigned long long)ranges[i].last);
	bar = map_bar0(e.bdf[0]);
	STEP(bar != NULL, "BAR0 mapped through sysfs, bus mastering on");
	if (!bar)
		return 1;
	for (i = 0; i < (int)PAGE; i++)
		buf[i] = "ioasid: DMA through the IOMMU. "[i % 31];
	memset(buf + PAGE, 0, PAGE);
	STEP(!edu_dma(bar, IOVA, 0, PAGE, false), "edu DMA: IOVA %#llx -> device buffer (4 KiB)",
	     IOVA);
	STEP(!edu_dma(bar, IOVA + PAGE, 0, PAGE, true), "edu DMA: device buffer -> IOVA %#llx",
	     IOVA + PAGE);
	STEP(!memcmp(buf, buf + PAGE, PAGE), "the second page now holds: \"%.31s\"...",
	     (char *)buf + PAGE);
	STEP(!ioas_unmap(fd, ioas, IOVA, 4 * PAGE, NULL),
	     "IOMMU_IOAS_UNMAP: IOPTEs removed and IOTLB flushed, then pages unpinned");
	memset(buf + PAGE, 0x11, PAGE);
	edu_dma(bar, IOVA + PAGE, 0, PAGE, true);
	STEP(all_bytes(buf + PAGE, 0x11, PAGE),
	     "edu DMA to the unmapped IOVA: refused by the IOMMU (see the fault below), memory "
	     "untouched");
	close(dev_fd);
	close(fd);
	unbind_ioasid_pci(e.bdf[0]);
	printf("%s\n", failed ? "demo FAILED" : "demo passed");
	return failed;
}
