// SPDX-License-Identifier: GPL-2.0
/*
 * Real devices through /dev/ioasid only: QEMU's edu device (1234:11e8) bound to
 * ioasid-pci, translated by the emulated VT-d (x86_64) or SMMUv3 (arm64), driven through
 * BAR0 (sysfs resource0) with bus mastering turned on in config space after each bind
 * (a bound device starts stopped, and is stopped again when its binding ends).
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"
#include "ioasid_edu_utils.h"

#define IOVA 0x100000ULL
#define PAGE 4096UL
#define HUGE (2UL << 20)

#ifdef __x86_64__
#define HW_INFO_TYPE IOMMU_HW_INFO_TYPE_INTEL_VTD
#define FAULT_LOG "DMAR: [DMA Write"
#else
#define HW_INFO_TYPE IOMMU_HW_INFO_TYPE_ARM_SMMUV3
#define FAULT_LOG "arm-smmu-v3"
#endif

static void *alloc_pages(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

FIXTURE(edu)
{
	char bdf[256];
	char bdf2[256];
	int fd;
	int dev_fd;
	__u32 dev_id;
	__u32 ioas;
	volatile uint8_t *bar;
	uint8_t *buf; /* 4 pages: mapped at IOVA for most tests */
};

FIXTURE_SETUP(edu)
{
	struct edus e = { .n = 0 };

	for_each_pci_device(EDU_VENDOR, EDU_DEVICE, collect_edu, &e);
	if (e.n < 1)
		SKIP(return, "no edu device in this machine");
	snprintf(self->bdf, sizeof(self->bdf), "%s", e.bdf[0]);
	snprintf(self->bdf2, sizeof(self->bdf2), "%s", e.n > 1 ? e.bdf[1] : "");
	ASSERT_EQ(0, edu_open(self->bdf, &self->fd, &self->dev_fd, &self->bar));
	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd, &self->dev_id));
	/* Bound, the device is stopped: its user turns bus mastering on. */
	ASSERT_EQ(0, edu_bus_master(self->bdf));
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	self->buf = alloc_pages(4 * PAGE);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(edu)
{
	edu_release(self->bdf, self->fd, self->dev_fd, self->bar);
}

/* A new IOAS with the 4 pages at mem mapped read/write at IOVA. */
static int ioas_with_pages(int fd, void *mem, __u32 *ioas)
{
	__u64 iova = IOVA;

	if (ioas_alloc(fd, ioas))
		return -1;
	return ioas_map(fd, *ioas, mem, 4 * PAGE, &iova,
			IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				IOMMU_IOAS_MAP_WRITEABLE);
}

/* Maps self->buf (4 pages, read/write) at IOVA in self->ioas and attaches the device. */
static int map_and_attach(FIXTURE_DATA(edu) *self, __u32 *hwpt)
{
	__u64 iova = IOVA;

	if (ioas_map(self->fd, self->ioas, self->buf, 4 * PAGE, &iova,
		     IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			     IOMMU_IOAS_MAP_WRITEABLE))
		return -1;
	return device_attach(self->fd, self->dev_id, self->ioas, hwpt);
}

/* Whether the device's PCI COMMAND register has bus mastering on. */
static bool bus_master_on(const char *bdf)
{
	int command = pci_command(bdf);

	return command >= 0 && (command & PCI_CMD_MASTER);
}

/* The physical address of the page at p (root reads it in /proc/self/pagemap), 0 if unknown. */
static uint64_t phys_addr(void *p)
{
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &entry, 8, (uintptr_t)p / PAGE * 8) != 8)
		entry = 0;
	close(fd);
	if (!(entry >> 63)) /* not present */
		return 0;
	return (entry & ((1ULL << 55) - 1)) * PAGE;
}

/*
 * Whether the device's IOMMU group lets its DMA through untranslated when no user owns it
 * (an identity default domain: iommu=pt), where a device left running writes physical
 * memory.
 */
static bool default_domain_is_identity(const char *bdf)
{
	char path[512], type[64];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group/type", bdf);
	return read_file(path, type, sizeof(type)) > 0 && !strcmp(type, "identity\n");
}

/*
 * A page of its own that a released device must not reach, at its physical address *pa:
 * filled with 0x11, locked in memory. NULL when that address cannot be known.
 */
static uint8_t *victim_page(uint64_t *pa)
{
	uint8_t *page = alloc_pages(PAGE);

	if (!page)
		return NULL;
	memset(page, 0x11, PAGE);
	if (mlock(page, PAGE))
		return NULL;
	*pa = phys_addr(page);
	return *pa ? page : NULL;
}

/* A device comes out of IOASID_DEVICE_BIND stopped: bus mastering off until its user says. */
TEST_F(edu, bind_turns_bus_mastering_off)
{
	/* The fixture bound the device and turned bus mastering on. */
	ASSERT_TRUE(bus_master_on(self->bdf));
	ASSERT_EQ(0, destroy(self->fd, self->dev_id));
	/* Left on by whoever had it before: the next binding turns it off. */
	ASSERT_EQ(0, edu_bus_master(self->bdf));
	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd, &self->dev_id));
	EXPECT_FALSE(bus_master_on(self->bdf));
	/* Memory space stays on: the user reaches BAR0 as before. */
	EXPECT_TRUE(pci_command(self->bdf) & PCI_CMD_MEMORY);
}

/*
 * However a binding ends, the device is stopped before its DMA ownership goes back:
 * IOMMU_DESTROY of the device, close of the device file (revocation), close of the
 * /dev/ioasid file, the driver's unbind (removal).
 */
TEST_F(edu, every_end_of_a_binding_turns_bus_mastering_off)
{
	char path[512];
	__u32 id;
	int fd2;

	ASSERT_EQ(0, map_and_attach(self, NULL));
	ASSERT_TRUE(bus_master_on(self->bdf));
	ASSERT_EQ(0, destroy(self->fd, self->dev_id));
	EXPECT_FALSE(bus_master_on(self->bdf));

	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd, &self->dev_id));
	ASSERT_EQ(0, edu_bus_master(self->bdf));
	close(self->dev_fd);
	self->dev_fd = -1;
	EXPECT_FALSE(bus_master_on(self->bdf));
	ASSERT_EQ(0, destroy(self->fd, self->dev_id));

	self->dev_fd = open_node(self->bdf);
	ASSERT_LE(0, self->dev_fd);
	fd2 = open(IOASID_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, device_bind(fd2, self->dev_fd, &id));
	ASSERT_EQ(0, edu_bus_master(self->bdf));
	close(fd2);
	EXPECT_FALSE(bus_master_on(self->bdf));

	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd, &self->dev_id));
	ASSERT_EQ(0, edu_bus_master(self->bdf));
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/ioasid-pci/unbind");
	ASSERT_EQ(0, write_str(path, self->bdf));
	EXPECT_FALSE(bus_master_on(self->bdf));
	EXPECT_EQ(0, destroy(self->fd, self->dev_id));
	ASSERT_EQ(0, bind_ioasid_pci(self->bdf));
}

/*
 * With an identity default domain (iommu=pt), a device left running after its binding
 * writes physical memory directly. Closing the /dev/ioasid file stops it: a DMA then
 * programmed to the physical address of a page leaves the page alone. The control, bus
 * mastering turned on by hand, shows that the same DMA would land (so the test can fail).
 */
TEST_F(edu, closed_file_leaves_the_device_unable_to_write_memory)
{
	uint64_t pa;
	uint8_t *page;

	if (!default_domain_is_identity(self->bdf)) {
		/* The iommu=pt boot of qemu-test/test-all says so: there this must not skip. */
		ASSERT_EQ(NULL, getenv("IOASID_EXPECT_IDENTITY"));
		SKIP(return, "the default domain translates (boot with iommu=pt)");
	}
	page = victim_page(&pa);
	ASSERT_NE(NULL, page);
	ASSERT_EQ(0, map_and_attach(self, NULL));
	ASSERT_EQ(0, edu_fill(self->bar, self->buf, IOVA, 0xa5, PAGE));
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, edu_dma(self->bar, pa, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(page, 0x11, PAGE));
	/* The control. */
	ASSERT_EQ(0, edu_bus_master(self->bdf));
	ASSERT_EQ(0, edu_dma(self->bar, pa, 0, PAGE, true));
	EXPECT_FALSE(all_bytes(page, 0x11, PAGE));
	munmap(page, PAGE);
}

/* As closed_file_leaves_the_device_unable_to_write_memory, with the owner killed. */
TEST_F(edu, killed_owner_leaves_the_device_unable_to_write_memory)
{
	int pipefd[2], status;
	uint64_t pa;
	uint8_t *page;
	pid_t pid;
	char c;

	if (!default_domain_is_identity(self->bdf)) {
		/* The iommu=pt boot of qemu-test/test-all says so: there this must not skip. */
		ASSERT_EQ(NULL, getenv("IOASID_EXPECT_IDENTITY"));
		SKIP(return, "the default domain translates (boot with iommu=pt)");
	}
	page = victim_page(&pa);
	ASSERT_NE(NULL, page);
	/* The child binds on its own: give the device up here first. */
	ASSERT_EQ(0, destroy(self->fd, self->dev_id));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd = open(IOASID_DEV, O_RDWR), dfd = open_node(self->bdf);
		__u32 dev, ioas;
		__u64 iova = IOVA;

		if (fd < 0 || dfd < 0 || device_bind(fd, dfd, &dev) || ioas_alloc(fd, &ioas) ||
		    ioas_map(fd, ioas, self->buf, 4 * PAGE, &iova,
			     IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				     IOMMU_IOAS_MAP_WRITEABLE) ||
		    device_attach(fd, dev, ioas, NULL) || edu_bus_master(self->bdf) ||
		    edu_fill(self->bar, self->buf, IOVA, 0xa6, PAGE))
			_exit(1);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	close(pipefd[0]);
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, edu_dma(self->bar, pa, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(page, 0x11, PAGE));
	/* The control. */
	ASSERT_EQ(0, edu_bus_master(self->bdf));
	ASSERT_EQ(0, edu_dma(self->bar, pa, 0, PAGE, true));
	EXPECT_FALSE(all_bytes(page, 0x11, PAGE));
	munmap(page, PAGE);
}

TEST_F(edu, bind_checks_and_errors)
{
	struct ioasid_device_bind cmd = { .size = sizeof(cmd), .flags = 1, .dev_fd = self->dev_fd };
	int other, null_fd, dev_fd2;
	__u32 id;

	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOASID_DEVICE_BIND, &cmd));
	EXPECT_ERRNO(EBADF, device_bind(self->fd, 1000, &id));
	null_fd = open("/dev/null", O_RDWR);
	EXPECT_ERRNO(EINVAL, device_bind(self->fd, null_fd, &id));
	close(null_fd);
	/* Bound already: in this file and in another one, through any open of the node. */
	EXPECT_ERRNO(EBUSY, device_bind(self->fd, self->dev_fd, &id));
	other = open(IOASID_DEV, O_RDWR);
	dev_fd2 = open_node(self->bdf);
	ASSERT_LE(0, dev_fd2);
	EXPECT_ERRNO(EBUSY, device_bind(other, dev_fd2, &id));
	/* dev_id is not an IOAS, an IOAS is not a device. */
	EXPECT_ERRNO(ENOENT, device_attach(self->fd, self->ioas, self->ioas, NULL));
	EXPECT_ERRNO(EINVAL, device_attach(self->fd, self->dev_id, self->dev_id, NULL));
	EXPECT_ERRNO(ENOENT, device_attach(self->fd, self->dev_id, 9999, NULL));
	EXPECT_ERRNO(EINVAL, device_detach(self->fd, self->dev_id));
	/* Unbinding by IOMMU_DESTROY frees the device for the other file. */
	ASSERT_EQ(0, destroy(self->fd, self->dev_id));
	ASSERT_EQ(0, device_bind(other, dev_fd2, &id));
	close(other);
	close(dev_fd2);
	/* The other file's close ended its binding: this one can bind again. */
	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd, &self->dev_id));
}

/*
 * PASIDs of a real device: refused with EOPNOTSUPP when the device or its IOMMU reports no
 * PASIDs (IOMMU_GET_HW_INFO's out_max_pasid_log2 of 0), as for every device QEMU emulates.
 */
TEST_F(edu, pasids_refused_without_pasid_support)
{
	struct iommu_hw_info info = { .size = sizeof(info), .dev_id = self->dev_id };
	struct ioasid_device_attach cmd = {
		.size = sizeof(cmd), .flags = IOASID_DEVICE_PASID, .dev_id = self->dev_id,
		.pt_id = self->ioas, .pasid = 1,
	};
	struct ioasid_device_detach det = {
		.size = sizeof(det), .flags = IOASID_DEVICE_PASID, .dev_id = self->dev_id,
		.pasid = 1,
	};
	struct ioasid_pasid_alloc alloc = { .size = sizeof(alloc), .dev_id = self->dev_id };

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
	if (info.out_max_pasid_log2)
		SKIP(return, "the device has %u-bit PASIDs", info.out_max_pasid_log2);
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOASID_DEVICE_ATTACH, &cmd));
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOASID_DEVICE_DETACH, &det));
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOASID_PASID_ALLOC, &alloc));
	/* The RID is unaffected. */
	EXPECT_EQ(0, device_attach(self->fd, self->dev_id, self->ioas, NULL));
}

TEST_F(edu, get_hw_info_returns_the_drivers_registers)
{
	__u32 data[16];
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd), .dev_id = self->dev_id, .data_len = sizeof(data),
		.data_uptr = (uintptr_t)data,
	};
#ifdef __x86_64__
	struct iommu_hw_info_vtd *vtd = (void *)data;
#else
	struct iommu_hw_info_arm_smmuv3 *smmu = (void *)data;
#endif

	memset(data, 0xff, sizeof(data));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));
	EXPECT_EQ(HW_INFO_TYPE, cmd.out_data_type);
#ifdef __x86_64__
	EXPECT_EQ(sizeof(*vtd), cmd.data_len);
	EXPECT_NE(0, vtd->cap_reg);
	/* QEMU's scalable mode: ECAP.SMTS (bit 43) */
	EXPECT_NE(0, vtd->ecap_reg & (1ULL << 43));
#else
	EXPECT_EQ(sizeof(*smmu), cmd.data_len);
	/* IDR0: stage 1 and stage 2 (stage=nested) */
	EXPECT_EQ(3, smmu->idr[0] & 3);
#endif
	/* The rest of the buffer is zeroed. */
	EXPECT_EQ(0, data[15]);
	/* A type the driver does not have. */
	cmd.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
	cmd.in_data_type = HW_INFO_TYPE == 1 ? 2 : 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));
	cmd.in_data_type = HW_INFO_TYPE;
	EXPECT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));
}

TEST_F(edu, dma_both_ways_through_the_iommu)
{
	__u32 hwpt;
	int i;

	ASSERT_EQ(0, map_and_attach(self, &hwpt));
	EXPECT_NE(self->ioas, hwpt);
	/* memory -> device: a pattern, then device -> memory into another page. */
	for (i = 0; i < (int)PAGE; i++)
		self->buf[i] = (uint8_t)(i * 7 + 3);
	memset(self->buf + PAGE, 0, 3 * PAGE);
	ASSERT_EQ(0, edu_dma(self->bar, IOVA, 0, PAGE, false));
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + 2 * PAGE, 0, PAGE, true));
	EXPECT_EQ(0, memcmp(self->buf, self->buf + 2 * PAGE, PAGE));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0, PAGE));
	/* A DMA that crosses a page boundary at an unaligned IOVA. */
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE + 2048, 0, PAGE, true));
	EXPECT_EQ(0, memcmp(self->buf, self->buf + PAGE + 2048, PAGE));
	/* The automatic HWPT is busy while attached, and the IOAS with it. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, hwpt));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->ioas));
	ASSERT_EQ(0, device_detach(self->fd, self->dev_id));
	/* The automatic HWPT went with its last device. */
	EXPECT_ERRNO(ENOENT, destroy(self->fd, hwpt));
	EXPECT_EQ(0, destroy(self->fd, self->ioas));
}

TEST_F(edu, unmapped_iova_faults_and_leaves_memory_alone)
{
	int faults;

	ASSERT_EQ(0, map_and_attach(self, NULL));
	ASSERT_EQ(0, edu_fill(self->bar, self->buf, IOVA, 0x5a, PAGE));
	memset(self->buf + PAGE, 0x11, PAGE);
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	ASSERT_TRUE(all_bytes(self->buf + PAGE, 0x5a, PAGE));
	/* Unmap, then DMA to the old IOVA: the IOMMU faults, the page keeps its bytes. */
	memset(self->buf + PAGE, 0x11, PAGE);
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, IOVA, 4 * PAGE, NULL));
	faults = count_in_kernel_log(FAULT_LOG);
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x11, PAGE));
	EXPECT_LT(faults, count_in_kernel_log(FAULT_LOG));
	/* Detached: DMA is blocked too. */
	ASSERT_EQ(0, device_detach(self->fd, self->dev_id));
	EXPECT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x11, PAGE));
}

TEST_F(edu, replace_switches_between_two_ioas_at_the_same_iova)
{
	uint8_t *other = alloc_pages(4 * PAGE);
	struct iommu_hwpt_alloc alloc = { .size = sizeof(alloc), .dev_id = self->dev_id };
	__u32 ioas2, hwpt1, hwpt2, again;

	ASSERT_NE(NULL, other);
	ASSERT_EQ(0, ioas_with_pages(self->fd, other, &ioas2));
	ASSERT_EQ(0, map_and_attach(self, &hwpt1));
	memset(self->buf, 0x21, PAGE);
	memset(other, 0x42, PAGE);
	memset(self->buf + PAGE, 0, PAGE);
	memset(other + PAGE, 0, PAGE);
	/* Through IOAS 1: reads self->buf, writes self->buf. */
	ASSERT_EQ(0, edu_dma(self->bar, IOVA, 0, PAGE, false));
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x21, PAGE));
	EXPECT_TRUE(all_bytes(other + PAGE, 0, PAGE));
	/* Replace while attached: the same IOVAs now reach the other memory. */
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id, ioas2, &hwpt2));
	EXPECT_NE(hwpt1, hwpt2);
	/* IOAS 1's automatic HWPT went with the replace. */
	EXPECT_ERRNO(ENOENT, destroy(self->fd, hwpt1));
	ASSERT_EQ(0, edu_dma(self->bar, IOVA, 0, PAGE, false));
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(other + PAGE, 0x42, PAGE));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x21, PAGE));
	/* Back to IOAS 1, through an explicit HWPT this time. */
	alloc.pt_id = self->ioas;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id, alloc.out_hwpt_id, &again));
	EXPECT_EQ(alloc.out_hwpt_id, again);
	memset(self->buf + PAGE, 0, PAGE);
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x42, PAGE));
	/* Attached: the explicit HWPT is busy; detached, it can go. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, alloc.out_hwpt_id));
	ASSERT_EQ(0, device_detach(self->fd, self->dev_id));
	EXPECT_EQ(0, destroy(self->fd, alloc.out_hwpt_id));
	munmap(other, 4 * PAGE);
}

TEST_F(edu, reserved_regions_leave_the_iova_ranges)
{
	struct iommu_iova_range ranges[16];
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd), .num_iovas = 16, .allowed_iovas = (uintptr_t)ranges,
	};
#ifdef __x86_64__
	const __u64 msi = 0xfee00000ULL; /* the interrupt range, IOMMU_RESV_MSI */
#else
	const __u64 msi = 0x08000000ULL; /* the software MSI window, IOMMU_RESV_SW_MSI */
#endif
	__u64 iova = msi;
	bool covered = false;
	__u32 i;

	cmd.ioas_id = self->ioas;
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id, self->ioas, NULL));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	for (i = 0; i < cmd.num_iovas; i++)
		if (ranges[i].start <= msi && msi <= ranges[i].last)
			covered = true;
	EXPECT_FALSE(covered);
	EXPECT_LT(1, cmd.num_iovas);
	/* Mapping there is refused. */
	EXPECT_NE(0, ioas_map(self->fd, self->ioas, self->buf, PAGE, &iova,
			      IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE));
	/* Detached, the range is usable again. */
	ASSERT_EQ(0, device_detach(self->fd, self->dev_id));
	iova = msi;
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, PAGE, &iova,
			      IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE));
	/* Now the device's reserved regions collide with that mapping. */
	EXPECT_ERRNO(EADDRINUSE, device_attach(self->fd, self->dev_id, self->ioas, NULL));
}

TEST_F(edu, dirty_tracking_of_a_real_iommu_is_refused)
{
	struct iommu_hw_info info = { .size = sizeof(info), .dev_id = self->dev_id };
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc), .flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		.dev_id = self->dev_id, .pt_id = self->ioas,
	};

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
	/*
	 * ioasid drives the dirty tracking of its mock IOMMU only, so it never advertises the
	 * capability for a real device, and iommufd's rule (no capability: EOPNOTSUPP) refuses.
	 */
	EXPECT_EQ(0, info.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING);
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc));
	alloc.flags = 0;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc));
	EXPECT_EQ(0, destroy(self->fd, alloc.out_hwpt_id));
}

TEST_F(edu, nest_parent_is_the_drivers_choice)
{
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc), .flags = 1 /* IOMMU_HWPT_ALLOC_NEST_PARENT */,
		.dev_id = self->dev_id, .pt_id = self->ioas,
	};
	int ret = ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc);
	__u64 iova = IOVA;

#ifdef __x86_64__
	/* QEMU's VT-d has no nesting (ECAP.NEST): the driver refuses. */
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EOPNOTSUPP, errno);
#else
	/* SMMUv3 with stage=nested accepts a stage-2 nesting parent, and DMA works through it. */
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, 4 * PAGE, &iova,
			      IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				      IOMMU_IOAS_MAP_WRITEABLE));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id, alloc.out_hwpt_id, NULL));
	ASSERT_EQ(0, edu_fill(self->bar, self->buf, IOVA, 0x77, PAGE));
	memset(self->buf + PAGE, 0, PAGE);
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x77, PAGE));
	/*
	 * A nested HWPT straight on it: the SMMUv3 driver builds nested domains only through
	 * a vIOMMU (it has no domain_alloc_nested), and ioasid has no nested domains of real
	 * IOMMUs yet: EOPNOTSUPP either way, and the parent stays usable.
	 */
	__u64 ste[2] = { 0 };
	struct iommu_hwpt_alloc nested = {
		.size = sizeof(nested), .dev_id = self->dev_id, .pt_id = alloc.out_hwpt_id,
		.data_type = 2 /* IOMMU_HWPT_DATA_ARM_SMMUV3 */, .data_len = sizeof(ste),
		.data_uptr = (uintptr_t)ste,
	};

	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_ALLOC, &nested));
	memset(self->buf + PAGE, 0, PAGE);
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x77, PAGE));
#endif
	(void)iova;
}

/*
 * Nesting on a real IOMMU follows what IOMMU_GET_HW_INFO says the hardware can do, and
 * each refusal is the driver's errno (ioasid's own for what it does not drive yet):
 * - VT-d: a nest parent needs scalable mode (ECAP.SMTS, bit 43) and ECAP.NEST (bit 26),
 *   else the driver refuses IOMMU_HWPT_ALLOC_NEST_PARENT (EOPNOTSUPP). With them, a
 *   nested HWPT with IOMMU_HWPT_DATA_VTD_S1 goes to the driver's domain_alloc_nested,
 *   which makes a domain; ioasid cannot attach it yet, frees it and says EOPNOTSUPP.
 * - SMMUv3: a nest parent needs stage 1 and stage 2 (IDR0.S1P, IDR0.S2P: bits 1, 0).
 *   The driver has no domain_alloc_nested (its nested domains are made on a vIOMMU), so
 *   a nested HWPT with IOMMU_HWPT_DATA_ARM_SMMUV3 on the parent is EOPNOTSUPP.
 * - IOMMU_VIOMMU_TYPE_ARM_SMMUV3: EOPNOTSUPP from ioasid whatever the bits (the driver's
 *   viommu_init works on iommufd's own objects); logged: whether the driver would have
 *   accepted it (IDR3.FWB, bit 8; CANWBS comes from firmware, not from the IDRs).
 * Nothing is left behind (the next object ID is unchanged), and the device still attaches
 * and does DMA correctly.
 */
TEST_F(edu, nesting_follows_the_hw_info_bits)
{
	__u32 data[16] = { 0 };
	struct iommu_hw_info info = {
		.size = sizeof(info), .dev_id = self->dev_id, .data_len = sizeof(data),
		.data_uptr = (uintptr_t)data,
	};
	struct iommu_hwpt_alloc parent = {
		.size = sizeof(parent), .flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = self->dev_id, .pt_id = self->ioas,
	};
	struct iommu_hwpt_alloc nested = { .size = sizeof(nested), .dev_id = self->dev_id };
	__u32 next, plain, viommu = 0, hwpt;
	bool can_nest;
#ifdef __x86_64__
	struct iommu_hw_info_vtd *vtd = (void *)data;
	/* struct iommu_hwpt_vtd_s1: flags, pgtbl_addr, addr_width, __reserved */
	struct {
		__u64 flags, pgtbl_addr;
		__u32 addr_width, reserved;
	} s1 = { .addr_width = 48 };

	nested.data_type = IOMMU_HWPT_DATA_VTD_S1;
#else
	struct iommu_hw_info_arm_smmuv3 *smmu = (void *)data;
	/* struct iommu_hwpt_arm_smmuv3: the guest's STE */
	__u64 s1[2] = { 0 };

	nested.data_type = IOMMU_HWPT_DATA_ARM_SMMUV3;
#endif
	nested.data_len = sizeof(s1);
	nested.data_uptr = (uintptr_t)&s1;

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
#ifdef __x86_64__
	can_nest = (vtd->ecap_reg >> 43 & 1) && (vtd->ecap_reg >> 26 & 1);
	TH_LOG("VT-d ECAP %#llx: SMTS %d, NEST %d", (unsigned long long)vtd->ecap_reg,
	       (int)(vtd->ecap_reg >> 43 & 1), (int)(vtd->ecap_reg >> 26 & 1));
#else
	can_nest = (smmu->idr[0] & 3) == 3;
	TH_LOG("SMMUv3 IDR0 %#x (S1P %d, S2P %d), IDR3 %#x (FWB %d): the driver's viommu_init "
	       "would %s without CANWBS",
	       smmu->idr[0], smmu->idr[0] >> 1 & 1, smmu->idr[0] & 1, smmu->idr[3],
	       smmu->idr[3] >> 8 & 1, smmu->idr[3] & (1 << 8) ? "accept" : "refuse");
#endif
	next = next_object_id(self->fd);
	ASSERT_NE(0, next);

	/* A nested HWPT on a paging HWPT that is not a nest parent: EINVAL, as iommufd. */
	ASSERT_EQ(0, hwpt_alloc(self->fd, 0, self->dev_id, self->ioas, 0, NULL, 0, &plain));
	nested.pt_id = plain;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_ALLOC, &nested));
	EXPECT_EQ(0, destroy(self->fd, plain));
	EXPECT_EQ(next, next_object_id(self->fd));

	TH_LOG("%s", can_nest ? "nesting: NEST_PARENT, then a nested HWPT through the driver"
			      : "no nesting: NEST_PARENT must be refused");
	if (!can_nest) {
		EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_ALLOC, &parent));
	} else {
		ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &parent));
		nested.pt_id = parent.out_hwpt_id;
		EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_ALLOC, &nested));
		/* Flags a nested domain cannot have: EOPNOTSUPP before the driver. */
		nested.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
		EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_ALLOC, &nested));
		nested.flags = 0;
		/* Only the parent was made. */
		EXPECT_EQ(parent.out_hwpt_id + 1, next_object_id(self->fd));
	}
	/* A vIOMMU of the driver: refused by ioasid (see above), nothing counted. */
	EXPECT_ERRNO(EOPNOTSUPP, viommu_alloc(self->fd, self->dev_id,
					      can_nest ? parent.out_hwpt_id : self->ioas,
					      IOMMU_VIOMMU_TYPE_ARM_SMMUV3, NULL, 0, &viommu));
	EXPECT_EQ(0, viommu);
	if (can_nest)
		EXPECT_EQ(0, destroy(self->fd, parent.out_hwpt_id));
	EXPECT_EQ(next, next_object_id(self->fd));

	/* The device still attaches and its DMA lands where it should. */
	ASSERT_EQ(0, map_and_attach(self, &hwpt));
	memset(self->buf, 0x5a, PAGE);
	memset(self->buf + PAGE, 0, PAGE);
	ASSERT_EQ(0, edu_dma(self->bar, IOVA, 0, PAGE, false));
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x5a, PAGE));
}

/*
 * ioasid refuses the vIOMMU types of real IOMMU drivers for now (iommufd would hand them
 * to the driver's viommu_init; QEMU's SMMUv3 has neither S2FWB nor CANWBS, so its driver
 * would refuse too, and VT-d has no vIOMMU): EOPNOTSUPP for every type, on a nest parent
 * where the IOMMU has one, and nothing is left counted in it.
 */
TEST_F(edu, viommu_of_a_real_iommu_is_refused)
{
	const __u32 types[] = { IOMMU_VIOMMU_TYPE_ARM_SMMUV3, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV,
				IOMMU_VIOMMU_TYPE_SELFTEST };
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc), .flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = self->dev_id, .pt_id = self->ioas,
	};
	__u32 out = 0;

	/* VT-d refuses NEST_PARENT; the IOAS then stands for the HWPT (not looked at). */
	if (ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc))
		alloc.out_hwpt_id = self->ioas;
	for (unsigned int i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		EXPECT_ERRNO(EOPNOTSUPP, viommu_alloc(self->fd, self->dev_id, alloc.out_hwpt_id,
						      types[i], NULL, 0, &out));
	EXPECT_EQ(0, out);
	if (alloc.out_hwpt_id != self->ioas)
		EXPECT_EQ(0, destroy(self->fd, alloc.out_hwpt_id));
}

/*
 * With the test interface: a PCI device is not behind the mock vIOMMU's IOMMU, so it can
 * have no vDEVICE there and no nested HWPT on it (EINVAL, as iommufd), and nothing is left
 * counted in the vIOMMU.
 */
TEST_F(edu, pci_device_cannot_use_a_mock_viommu)
{
	__u32 ioas2, stdev, auto_hwpt, idev, parent, plain, viommu, out = 0;

	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_nest_setup(self->fd, ioas2, &stdev, &auto_hwpt, &idev, &parent,
				     &plain));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent, IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0,
				  &viommu));
	EXPECT_ERRNO(EINVAL, vdevice_alloc(self->fd, viommu, self->dev_id, 1, &out));
	EXPECT_ERRNO(EINVAL, nested_alloc(self->fd, self->dev_id, viommu, 1, &out));
	EXPECT_EQ(0, out);
	EXPECT_EQ(0, destroy(self->fd, viommu));
}

/* 1 GiB is the point: 12.6 to 15.9 s on x86_64, 12.9 to 21.9 s on arm64, so 90 s. */
TEST_F_TIMEOUT(edu, one_gib_of_huge_pages, 90)
{
	const size_t len = 1UL << 30;
	const size_t offs[] = { 0, HUGE - 64, 257 * HUGE + 8192, len - PAGE };
	char nr[32];
	uint8_t *mem;
	__u64 iova = 1ULL << 32;
	size_t i;

	write_str("/proc/sys/vm/nr_hugepages", "600");
	if (read_file("/proc/sys/vm/nr_hugepages", nr, sizeof(nr)) < 0 || atoi(nr) < 512)
		SKIP(return, "not enough 2 MiB pages (%s)", nr);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, map_and_attach(self, NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, mem, len, &iova,
			      IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				      IOMMU_IOAS_MAP_WRITEABLE));
	ASSERT_EQ(0, edu_fill(self->bar, self->buf, IOVA, 0xc3, PAGE));
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		size_t n = offs[i] + PAGE > len ? len - offs[i] : PAGE;

		mem[offs[i]] = 0;
		ASSERT_EQ(0, edu_dma(self->bar, iova + offs[i], 0, n, true));
		EXPECT_TRUE(all_bytes(mem + offs[i], 0xc3, n));
	}
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, len, NULL));
	munmap(mem, len);
	write_str("/proc/sys/vm/nr_hugepages", "0");
}

TEST_F(edu, huge_pages_cannot_be_turned_off_under_a_mapped_domain)
{
	struct iommu_option opt = {
		.size = sizeof(opt), .option_id = IOMMU_OPTION_HUGE_PAGES,
		.op = IOMMU_OPTION_OP_SET, .object_id = self->ioas, .val64 = 0,
	};

	ASSERT_EQ(0, map_and_attach(self, NULL));
	/* The domain may hold huge IOPTEs already: refused, as iommufd does. */
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_OPTION, &opt));
	ASSERT_EQ(0, device_detach(self->fd, self->dev_id));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_OPTION, &opt));
	opt.op = IOMMU_OPTION_OP_GET;
	opt.val64 = 1;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_OPTION, &opt));
	EXPECT_EQ(0, opt.val64);
	/* Attached again, mapped page by page: DMA works as before. */
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id, self->ioas, NULL));
	ASSERT_EQ(0, edu_fill(self->bar, self->buf, IOVA, 0x3e, PAGE));
	memset(self->buf + PAGE, 0, PAGE);
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x3e, PAGE));
	/* Turning them on again is always allowed. */
	opt.op = IOMMU_OPTION_OP_SET;
	opt.val64 = 1;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_OPTION, &opt));
}

TEST_F(edu, closing_the_device_file_revokes_the_binding)
{
	ASSERT_EQ(0, map_and_attach(self, NULL));
	ASSERT_EQ(0, edu_fill(self->bar, self->buf, IOVA, 0x3c, PAGE));
	memset(self->buf + PAGE, 0, PAGE);
	close(self->dev_fd);
	self->dev_fd = -1;
	/* Detached and DMA ownership returned: the device reaches nothing of the IOAS. */
	EXPECT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0, PAGE));
	EXPECT_ERRNO(ENODEV, device_attach(self->fd, self->dev_id, self->ioas, NULL));
	/* The dead device still holds its HWPT until its ID is destroyed. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->ioas));
	EXPECT_EQ(0, destroy(self->fd, self->dev_id));
	EXPECT_EQ(0, destroy(self->fd, self->ioas));
	/* A new open binds again. */
	self->dev_fd = open_node(self->bdf);
	ASSERT_LE(0, self->dev_fd);
	EXPECT_EQ(0, device_bind(self->fd, self->dev_fd, &self->dev_id));
}

TEST_F(edu, driver_unbind_while_attached_revokes)
{
	char path[512];

	ASSERT_EQ(0, map_and_attach(self, NULL));
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/ioasid-pci/unbind");
	ASSERT_EQ(0, write_str(path, self->bdf));
	EXPECT_ERRNO(ENODEV, device_attach(self->fd, self->dev_id, self->ioas, NULL));
	EXPECT_EQ(0, destroy(self->fd, self->dev_id));
	ASSERT_EQ(0, bind_ioasid_pci(self->bdf));
}

TEST_F(edu, hot_unplug_while_attached_revokes)
{
	char path[512];

	ASSERT_EQ(0, map_and_attach(self, NULL));
	ASSERT_EQ(0, edu_fill(self->bar, self->buf, IOVA, 0x4d, PAGE));
	munmap((void *)self->bar, 1 << 20);
	self->bar = NULL;
	/* Removed from the bus (as by hot unplug) with the binding, the mapping and the
	 * device file all still there: the binding is revoked, nothing waits. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", self->bdf);
	ASSERT_EQ(0, write_str(path, "1"));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", self->bdf);
	EXPECT_NE(0, access(path, F_OK));
	EXPECT_ERRNO(ENODEV, device_attach(self->fd, self->dev_id, self->ioas, NULL));
	EXPECT_EQ(0, destroy(self->fd, self->dev_id));
	close(self->dev_fd);
	self->dev_fd = -1;
	/* Back on the bus, it is a new device: bound again, it DMAs as before. */
	ASSERT_EQ(0, write_str("/sys/bus/pci/rescan", "1"));
	ASSERT_EQ(0, access(path, F_OK));
	ASSERT_EQ(0, bind_ioasid_pci(self->bdf));
	self->dev_fd = open_node(self->bdf);
	ASSERT_LE(0, self->dev_fd);
	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd, &self->dev_id));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id, self->ioas, NULL));
	self->bar = map_bar0(self->bdf);
	ASSERT_NE(NULL, self->bar);
	ASSERT_EQ(0, edu_fill(self->bar, self->buf, IOVA, 0x4e, PAGE));
	memset(self->buf + PAGE, 0, PAGE);
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x4e, PAGE));
}

TEST_F(edu, another_user_cannot_open_the_node)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(open_node(self->bdf) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(edu, killed_process_releases_everything)
{
	uint8_t *shared = alloc_pages(4 * PAGE);
	int pipefd[2], status;
	__u32 id;
	pid_t pid;
	char c;

	ASSERT_NE(NULL, shared);
	/* The child binds on its own: give the device up here first. */
	ASSERT_EQ(0, destroy(self->fd, self->dev_id));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd = open(IOASID_DEV, O_RDWR), dfd = open_node(self->bdf);
		__u32 dev, ioas;
		__u64 iova = IOVA;

		if (fd < 0 || dfd < 0 || device_bind(fd, dfd, &dev) || ioas_alloc(fd, &ioas) ||
		    ioas_map(fd, ioas, shared, 4 * PAGE, &iova,
			     IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				     IOMMU_IOAS_MAP_WRITEABLE) ||
		    device_attach(fd, dev, ioas, NULL) || edu_bus_master(self->bdf))
			_exit(1);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	close(pipefd[0]);
	/* The child's mapping works... */
	memset(shared, 0x66, PAGE);
	memset(shared + PAGE, 0, PAGE);
	ASSERT_EQ(0, edu_dma(self->bar, IOVA, 0, PAGE, false));
	ASSERT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(shared + PAGE, 0x66, PAGE));
	EXPECT_LT(0, proc_status_kb(pid, "VmPin"));
	/* ...until it is killed: nothing reaches the pages any more, ownership is free. */
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_FALSE(bus_master_on(self->bdf));
	memset(shared + PAGE, 0, PAGE);
	EXPECT_EQ(0, edu_dma(self->bar, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(shared + PAGE, 0, PAGE));
	EXPECT_EQ(0, device_bind(self->fd, self->dev_fd, &id));
	munmap(shared, 4 * PAGE);
}

TEST_F(edu, second_device_gets_its_own_domain_or_shares_the_ioas)
{
	volatile uint8_t *bar2;
	__u32 dev2, hwpt1, hwpt2;
	int fd2;

	if (!self->bdf2[0])
		SKIP(return, "one edu device only");
	ASSERT_EQ(0, bind_ioasid_pci(self->bdf2));
	fd2 = open_node(self->bdf2);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, device_bind(self->fd, fd2, &dev2));
	bar2 = map_bar0(self->bdf2);
	ASSERT_NE(NULL, bar2);
	ASSERT_EQ(0, map_and_attach(self, &hwpt1));
	/* The same IOAS: the second device reuses the automatic HWPT (same IOMMU). */
	ASSERT_EQ(0, device_attach(self->fd, dev2, self->ioas, &hwpt2));
	EXPECT_EQ(hwpt1, hwpt2);
	ASSERT_EQ(0, edu_fill(bar2, self->buf, IOVA, 0x99, PAGE));
	memset(self->buf + PAGE, 0, PAGE);
	ASSERT_EQ(0, edu_dma(bar2, IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0x99, PAGE));
	/* The first device leaves; the HWPT stays for the second. */
	ASSERT_EQ(0, device_detach(self->fd, self->dev_id));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, hwpt1));
	munmap((void *)bar2, 1 << 20);
	close(fd2);
	unbind_ioasid_pci(self->bdf2);
}

/*
 * Two functions of one slot without ACS: the IOMMU cannot tell their DMA apart, so they
 * are one IOMMU group, owned, attached and replaced as a whole.
 */
FIXTURE(group)
{
	char bdf[2][256];
	int fd;
	int dev_fd[2];
	__u32 dev_id[2];
	__u32 ioas;
	volatile uint8_t *bar[2];
	uint8_t *buf; /* 4 pages at IOVA in self->ioas */
};

FIXTURE_SETUP(group)
{
	struct edus e = { .n = 0 };
	int i;

	for_each_pci_device(EDU_VENDOR, EDU_DEVICE, collect_edu, &e);
	if (e.nshared < 2)
		SKIP(return, "no two edu devices in one IOMMU group");
	self->fd = open(IOASID_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	for (i = 0; i < 2; i++) {
		snprintf(self->bdf[i], sizeof(self->bdf[i]), "%s", e.shared[i]);
		ASSERT_EQ(0, bind_ioasid_pci(self->bdf[i]));
		self->dev_fd[i] = open_node(self->bdf[i]);
		ASSERT_LE(0, self->dev_fd[i]);
		self->bar[i] = map_bar0(self->bdf[i]);
		ASSERT_NE(NULL, self->bar[i]);
	}
	ASSERT_EQ(iommu_group_of(self->bdf[0]), iommu_group_of(self->bdf[1]));
	self->buf = alloc_pages(4 * PAGE);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, ioas_with_pages(self->fd, self->buf, &self->ioas));
}

FIXTURE_TEARDOWN(group)
{
	int i;

	if (self->fd > 0)
		close(self->fd);
	for (i = 0; i < 2; i++) {
		if (self->bar[i])
			munmap((void *)self->bar[i], 1 << 20);
		if (self->dev_fd[i] > 0)
			close(self->dev_fd[i]);
		if (self->bdf[i][0])
			unbind_ioasid_pci(self->bdf[i]);
	}
}

/* DMA by device i from IOVA (the first page) into the second page: whether it got there. */
static bool group_dma_reaches(FIXTURE_DATA(group) *self, int i, int v)
{
	memset(self->buf, v, PAGE);
	memset(self->buf + PAGE, 0, PAGE);
	if (edu_bus_master(self->bdf[i]) || edu_dma(self->bar[i], IOVA, 0, PAGE, false) ||
	    edu_dma(self->bar[i], IOVA + PAGE, 0, PAGE, true))
		return false;
	return all_bytes(self->buf + PAGE, v, PAGE);
}

TEST_F(group, both_functions_bind_to_one_context_and_share_one_hwpt)
{
	struct iommu_hwpt_alloc alloc = { .size = sizeof(alloc) };
	__u32 ioas2, hwpt, again;

	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd[0], &self->dev_id[0]));
	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd[1], &self->dev_id[1]));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id[0], self->ioas, &hwpt));
	/* The second function can only join the group's HWPT. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	EXPECT_ERRNO(EINVAL, device_attach(self->fd, self->dev_id[1], ioas2, NULL));
	alloc.dev_id = self->dev_id[0];
	alloc.pt_id = self->ioas;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &alloc));
	EXPECT_ERRNO(EINVAL, device_attach(self->fd, self->dev_id[1], alloc.out_hwpt_id, NULL));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id[1], self->ioas, &again));
	EXPECT_EQ(hwpt, again);
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id[1], hwpt, &again));
	EXPECT_EQ(hwpt, again);
	EXPECT_TRUE(group_dma_reaches(self, 0, 0x31));
	EXPECT_TRUE(group_dma_reaches(self, 1, 0x32));
	/* The group stays attached while one of its devices is. */
	ASSERT_EQ(0, device_detach(self->fd, self->dev_id[0]));
	EXPECT_ERRNO(EINVAL, device_detach(self->fd, self->dev_id[0]));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, hwpt));
	EXPECT_TRUE(group_dma_reaches(self, 1, 0x33));
	/* The last one out detaches the group: DMA is blocked, the automatic HWPT gone. */
	ASSERT_EQ(0, device_detach(self->fd, self->dev_id[1]));
	EXPECT_FALSE(group_dma_reaches(self, 1, 0x34));
	EXPECT_FALSE(group_dma_reaches(self, 0, 0x35));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, hwpt));
	EXPECT_EQ(0, destroy(self->fd, alloc.out_hwpt_id));
}

TEST_F(group, replace_through_one_device_moves_the_group)
{
	uint8_t *other = alloc_pages(4 * PAGE);
	__u32 ioas2, hwpt1, hwpt2, again;

	ASSERT_NE(NULL, other);
	ASSERT_EQ(0, ioas_with_pages(self->fd, other, &ioas2));
	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd[0], &self->dev_id[0]));
	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd[1], &self->dev_id[1]));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id[0], self->ioas, &hwpt1));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id[1], self->ioas, NULL));
	/* Device 0 moves to IOAS 2: device 1 follows (its DMA now reaches the other memory). */
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id[0], ioas2, &hwpt2));
	EXPECT_NE(hwpt1, hwpt2);
	EXPECT_ERRNO(ENOENT, destroy(self->fd, hwpt1));
	memset(other, 0x61, PAGE);
	memset(other + PAGE, 0, PAGE);
	memset(self->buf + PAGE, 0, PAGE);
	ASSERT_EQ(0, edu_bus_master(self->bdf[1]));
	ASSERT_EQ(0, edu_dma(self->bar[1], IOVA, 0, PAGE, false));
	ASSERT_EQ(0, edu_dma(self->bar[1], IOVA + PAGE, 0, PAGE, true));
	EXPECT_TRUE(all_bytes(other + PAGE, 0x61, PAGE));
	EXPECT_TRUE(all_bytes(self->buf + PAGE, 0, PAGE));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id[1], ioas2, &again));
	EXPECT_EQ(hwpt2, again);
	/* And back through device 1: device 0 follows. */
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id[1], self->ioas, &hwpt1));
	EXPECT_TRUE(group_dma_reaches(self, 0, 0x62));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, hwpt2));
	EXPECT_EQ(0, destroy(self->fd, ioas2));
	munmap(other, 4 * PAGE);
}

TEST_F(group, the_other_function_cannot_go_to_another_owner)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	int fd2, iommufd, vfio;

	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd[0], &self->dev_id[0]));
	/* Another /dev/ioasid context. */
	fd2 = open(IOASID_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	EXPECT_ERRNO(EPERM, device_bind(fd2, self->dev_fd[1], &self->dev_id[1]));
	/* iommufd through VFIO. */
	close(self->dev_fd[1]);
	self->dev_fd[1] = -1;
	ASSERT_EQ(0, bind_pci_driver(self->bdf[1], "vfio-pci"));
	vfio = open_vfio_cdev(self->bdf[1]);
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (vfio < 0 || iommufd < 0)
		SKIP(goto out, "no VFIO cdev or /dev/iommu");
	bind.iommufd = iommufd;
	EXPECT_ERRNO(EPERM, ioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	/* Once the context lets go of the group, iommufd can have it, and then we cannot. */
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, ioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	EXPECT_ERRNO(EPERM, device_bind(fd2, self->dev_fd[0], &self->dev_id[0]));
	close(vfio);
	vfio = -1;
	EXPECT_EQ(0, device_bind(fd2, self->dev_fd[0], &self->dev_id[0]));
out:
	if (vfio >= 0)
		close(vfio);
	if (iommufd >= 0)
		close(iommufd);
	close(fd2);
}

TEST_F(group, one_device_revoked_leaves_the_other_attached)
{
	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd[0], &self->dev_id[0]));
	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd[1], &self->dev_id[1]));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id[0], self->ioas, NULL));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id[1], self->ioas, NULL));
	/* Closing device 0's file ends its binding only. */
	close(self->dev_fd[0]);
	self->dev_fd[0] = -1;
	EXPECT_ERRNO(ENODEV, device_attach(self->fd, self->dev_id[0], self->ioas, NULL));
	EXPECT_TRUE(group_dma_reaches(self, 1, 0x71));
	EXPECT_EQ(0, destroy(self->fd, self->dev_id[0]));
	EXPECT_TRUE(group_dma_reaches(self, 1, 0x72));
	/* Device 0 can be bound again, into the same context (the group's owner). */
	self->dev_fd[0] = open_node(self->bdf[0]);
	ASSERT_LE(0, self->dev_fd[0]);
	ASSERT_EQ(0, device_bind(self->fd, self->dev_fd[0], &self->dev_id[0]));
	ASSERT_EQ(0, device_attach(self->fd, self->dev_id[0], self->ioas, NULL));
	EXPECT_TRUE(group_dma_reaches(self, 0, 0x73));
	/* Unbound from the context, the group blocks DMA again. */
	EXPECT_EQ(0, destroy(self->fd, self->dev_id[1]));
	EXPECT_EQ(0, destroy(self->fd, self->dev_id[0]));
	EXPECT_FALSE(group_dma_reaches(self, 0, 0x74));
	EXPECT_FALSE(group_dma_reaches(self, 1, 0x75));
}

TEST_HARNESS_MAIN
