// SPDX-License-Identifier: GPL-2.0
/*
 * Pinning and accounting through /dev/ioasid, with the module's mock IOMMU (test
 * interface, selftest=1): pages are pinned once for all domains and accesses, charged to
 * RLIMIT_MEMLOCK and VmPin, released on unmap, fd close, process exit; an over-limit map
 * changes nothing; IOMMU_IOAS_CHANGE_PROCESS moves the charge.
 */
#include <linux/capability.h>
#include <pthread.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define NPAGES 16

static long psz;

static long vm_pinned(void)
{
	return proc_status_kb(getpid(), "VmPin");
}

/* Drops CAP_IPC_LOCK from the effective set, so RLIMIT_MEMLOCK applies. */
static int drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	return syscall(SYS_capset, &hdr, data);
}

FIXTURE(pin)
{
	int fd;
	__u32 ioas;
	__u32 stdev, hwpt;
	char *buf;
	long pinned0;
};

FIXTURE_VARIANT(pin)
{
	/* Attach a mock device (and so a mock domain) before mapping. */
	bool domain;
};

FIXTURE_VARIANT_ADD(pin, domain)
{
	.domain = true,
};

FIXTURE_VARIANT_ADD(pin, no_domain)
{
	.domain = false,
};

FIXTURE_SETUP(pin)
{
	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	psz = sysconf(_SC_PAGESIZE);
	self->fd = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	if (variant->domain)
		ASSERT_EQ(0, test_mock_domain(self->fd, self->ioas, &self->stdev, &self->hwpt));
	self->buf = mmap(NULL, NPAGES * psz, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0x5a, NPAGES * psz);
	self->pinned0 = vm_pinned();
	ASSERT_LE(0, self->pinned0);
}

FIXTURE_TEARDOWN(pin)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, NPAGES * psz);
}

/* With a domain, mapping pins and charges every page once; unmapping releases them. */
TEST_F(pin, map_pins_only_with_a_domain_and_unmap_releases)
{
	__u64 iova = 0;
	long want = variant->domain ? NPAGES * psz / 1024 : 0;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, NPAGES * psz, &iova, RW));
	EXPECT_EQ(self->pinned0 + want, vm_pinned());
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, variant->domain));
	if (variant->domain) {
		EXPECT_LE(MOCK_APERTURE_START, iova);
		/* The mock's page table translates each IOVA to the page behind the address. */
		EXPECT_EQ(0, test_check_map(self->fd, self->hwpt, iova, self->buf, NPAGES * psz));
	}
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, NPAGES * psz, NULL));
	EXPECT_EQ(self->pinned0, vm_pinned());
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 0));
	if (variant->domain) {
		errno = 0;
		EXPECT_EQ(-1, test_check_map(self->fd, self->hwpt, iova, self->buf, psz));
		EXPECT_EQ(EINVAL, errno);
	}
}

/* Attaching the first domain pins what is mapped; detaching the last releases it. */
TEST_F(pin, attach_pins_existing_areas_and_detach_unpins)
{
	__u64 iova = MOCK_APERTURE_START;
	__u32 stdev, hwpt;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, NPAGES * psz, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	ASSERT_EQ(0, test_mock_domain(self->fd, self->ioas, &stdev, &hwpt));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 1));
	EXPECT_EQ(0, test_check_map(self->fd, hwpt, iova, self->buf, NPAGES * psz));
	/* The IOAS is in use by the HWPT: it cannot be destroyed. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_DESTROY,
			    &(struct iommu_destroy){ .size = 8, .id = self->ioas }));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &(struct iommu_destroy){ .size = 8, .id = stdev }));
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_DESTROY, &(struct iommu_destroy){ .size = 8, .id = hwpt }));
	if (variant->domain) {
		/* The IOAS's automatic HWPT was reused, and the fixture's device still uses it. */
		EXPECT_EQ(self->hwpt, hwpt);
		EXPECT_EQ(EBUSY, errno);
	} else {
		/* The automatic HWPT went with its last device. */
		EXPECT_EQ(ENOENT, errno);
	}
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, variant->domain));
	EXPECT_EQ(self->pinned0 + (variant->domain ? NPAGES * psz / 1024 : 0), vm_pinned());
}

/* Two domains, and a copy into a second IOAS with its own domain: still one pin. */
TEST_F(pin, domains_and_copies_share_one_pin)
{
	__u64 iova = MOCK_APERTURE_START, dst = MOCK_APERTURE_START;
	__u32 ioas2, hwpt2, hwpt3;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, NPAGES * psz, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	ASSERT_EQ(0, test_mock_domain(self->fd, self->ioas, NULL, &hwpt2));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, test_mock_domain(self->fd, ioas2, NULL, &hwpt3));
	ASSERT_EQ(0, ioas_copy(self->fd, ioas2, self->ioas, iova, NPAGES * psz, &dst,
			       RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 1));
	EXPECT_EQ(self->pinned0 + NPAGES * psz / 1024, vm_pinned());
	EXPECT_EQ(0, test_check_map(self->fd, hwpt2, iova, self->buf, NPAGES * psz));
	EXPECT_EQ(0, test_check_map(self->fd, hwpt3, dst, self->buf, NPAGES * psz));
	/* Unmapping the source keeps the copy's pages pinned and mapped. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, NPAGES * psz, NULL));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 1));
	EXPECT_EQ(0, test_check_map(self->fd, hwpt3, dst, self->buf, NPAGES * psz));
	ASSERT_EQ(0, ioas_unmap(self->fd, ioas2, dst, NPAGES * psz, NULL));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 0));
	EXPECT_EQ(self->pinned0, vm_pinned());
}

/* Over RLIMIT_MEMLOCK: ENOMEM, and nothing pinned or charged stays behind. */
TEST_F(pin, rlimit_memlock_exceeded_is_enomem_and_changes_nothing)
{
	struct rlimit lim = { .rlim_cur = 4 * psz, .rlim_max = 4 * psz };
	__u64 iova = MOCK_APERTURE_START;
	__u32 stdev;
	int fd2;

	/* Each test runs in its own process: the limit and the capability stay here. */
	ASSERT_EQ(0, drop_cap_ipc_lock());
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &lim));
	/* A new file: the fixture's was opened before the capability was dropped, but the
	 * mode is chosen at map time anyway. */
	fd2 = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ioas_alloc(fd2, &self->ioas));
	if (variant->domain) {
		ASSERT_EQ(0, test_mock_domain(fd2, self->ioas, &stdev, NULL));
		errno = 0;
		EXPECT_EQ(-1, ioas_map(fd2, self->ioas, self->buf, 8 * psz, &iova, RW));
		EXPECT_EQ(ENOMEM, errno);
		EXPECT_EQ(self->pinned0, vm_pinned());
		EXPECT_EQ(0, test_check_refs(fd2, self->buf, NPAGES * psz, 0));
		ASSERT_EQ(0, ioas_map(fd2, self->ioas, self->buf, 4 * psz, &iova, RW));
		EXPECT_EQ(self->pinned0 + 4 * psz / 1024, vm_pinned());
		errno = 0;
		iova = 0;
		EXPECT_EQ(-1, ioas_map(fd2, self->ioas, self->buf + 4 * psz, psz, &iova, RW));
		EXPECT_EQ(ENOMEM, errno);
		EXPECT_EQ(0, test_check_refs(fd2, self->buf + 4 * psz, psz, 0));
	} else {
		/* Without a domain the map pins nothing; attaching the domain must fail. */
		ASSERT_EQ(0, ioas_map(fd2, self->ioas, self->buf, 8 * psz, &iova,
				      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
		errno = 0;
		EXPECT_EQ(-1, test_mock_domain(fd2, self->ioas, &stdev, NULL));
		EXPECT_EQ(ENOMEM, errno);
		EXPECT_EQ(self->pinned0, vm_pinned());
		EXPECT_EQ(0, test_check_refs(fd2, self->buf, NPAGES * psz, 0));
	}
	close(fd2);
	EXPECT_EQ(self->pinned0, vm_pinned());
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 0));
}

/* Per-mm mode (IOMMU_OPTION_RLIMIT_MODE=1) charges VmLck as well. */
TEST_F(pin, rlimit_mode_mm_charges_vmlck)
{
	struct iommu_option opt = {
		.size = sizeof(opt),
		.option_id = IOMMU_OPTION_RLIMIT_MODE,
		.op = IOMMU_OPTION_OP_SET,
		.val64 = 1,
	};
	long lck0 = proc_status_kb(getpid(), "VmLck");
	__u64 iova = 0;
	__u32 ioas;
	int fd2 = open(IOASID_DEV, O_RDWR);

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ioctl(fd2, IOMMU_OPTION, &opt));
	ASSERT_EQ(0, ioas_alloc(fd2, &ioas));
	ASSERT_EQ(0, test_mock_domain(fd2, ioas, NULL, NULL));
	ASSERT_EQ(0, ioas_map(fd2, ioas, self->buf, NPAGES * psz, &iova, RW));
	EXPECT_EQ(lck0 + NPAGES * psz / 1024, proc_status_kb(getpid(), "VmLck"));
	EXPECT_EQ(self->pinned0 + NPAGES * psz / 1024, vm_pinned());
	close(fd2);
	EXPECT_EQ(lck0, proc_status_kb(getpid(), "VmLck"));
	EXPECT_EQ(self->pinned0, vm_pinned());
}

/* Closing the file with live mappings releases every pin and charge. */
TEST_F(pin, close_with_live_mappings_releases_everything)
{
	__u64 iova = 0;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, NPAGES * psz, &iova, RW));
	close(self->fd);
	self->fd = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 0));
	EXPECT_EQ(self->pinned0, vm_pinned());
}

/* A process that exits with live mappings leaves no pins on (shared) memory. */
TEST_F(pin, exit_with_live_mappings_leaves_no_pins)
{
	int pipefd[2];
	pid_t child;
	char c;
	int status;

	ASSERT_EQ(0, pipe(pipefd));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		__u64 iova = 0;
		__u32 ioas;
		int fd = open(IOASID_DEV, O_RDWR);

		if (fd < 0 || ioas_alloc(fd, &ioas) || test_mock_domain(fd, ioas, NULL, NULL) ||
		    ioas_map(fd, ioas, self->buf, NPAGES * psz, &iova, RW) ||
		    test_check_refs(fd, self->buf, NPAGES * psz, 1))
			_exit(1);
		c = 'm';
		if (write(pipefd[1], &c, 1) != 1)
			_exit(2);
		_exit(0); /* no close, no unmap */
	}
	close(pipefd[1]);
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 0));
	close(pipefd[0]);
}

/* A forked child shares the file: its exit changes nothing, the parent's unmap does. */
TEST_F(pin, fork_child_exit_keeps_the_parents_pins)
{
	__u64 iova = 0;
	pid_t child;
	int status;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, NPAGES * psz, &iova, RW));
	child = fork();
	ASSERT_LE(0, child);
	if (!child)
		_exit(0);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, variant->domain));
	EXPECT_EQ(self->pinned0 + (variant->domain ? NPAGES * psz / 1024 : 0), vm_pinned());
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, NPAGES * psz, NULL));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 0));
	EXPECT_EQ(self->pinned0, vm_pinned());
}

/* CHANGE_PROCESS: only file mappings; the charge moves to the caller. */
TEST_F(pin, change_process_moves_the_charge)
{
	struct iommu_ioas_change_process cmd = { .size = sizeof(cmd) };
	long want = variant->domain ? NPAGES * psz / 1024 : 0;
	int mfd = memfd_create("pin", 0);
	pid_t parent = getpid(), child;
	__u64 iova = 0;
	int status;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, NPAGES * psz));
	/* A user-memory mapping belongs to this process: refused. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, psz, &iova, RW));
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, psz, NULL));
	iova = 0;
	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas, mfd, 0, NPAGES * psz, &iova, RW));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd));
	EXPECT_EQ(self->pinned0 + want, vm_pinned());
	/* Reserved field. */
	cmd.__reserved = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	cmd.__reserved = 0;

	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		long before = proc_status_kb(getpid(), "VmPin");

		if (ioctl(self->fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd))
			_exit(1);
		if (proc_status_kb(getpid(), "VmPin") != before + want)
			_exit(2);
		if (proc_status_kb(parent, "VmPin") != self->pinned0)
			_exit(3);
		/* Give it back before exiting. */
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(self->pinned0, vm_pinned());
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd));
	EXPECT_EQ(self->pinned0 + want, vm_pinned());
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(self->pinned0, vm_pinned());
	close(mfd);
}

/*
 * CHANGE_PROCESS to a process whose RLIMIT_MEMLOCK cannot take the pins: ENOMEM, and
 * nothing moved (both processes' VmPin as before, the pages still pinned once). The
 * memory is mapped without CAP_IPC_LOCK: pins taken with it are not charged to anyone,
 * so moving them charges nobody either (as iommufd).
 */
TEST_F(pin, change_process_over_the_new_limit_is_enomem_and_moves_nothing)
{
	struct iommu_ioas_change_process cmd = { .size = sizeof(cmd) };
	long want = variant->domain ? NPAGES * psz / 1024 : 0;
	int mfd = memfd_create("pin", 0);
	pid_t child;
	__u64 iova = 0;
	int status;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, NPAGES * psz));
	/* Each test runs in its own process: the capability stays dropped here. */
	ASSERT_EQ(0, drop_cap_ipc_lock());
	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas, mfd, 0, NPAGES * psz, &iova, RW));
	EXPECT_EQ(self->pinned0 + want, vm_pinned());
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct rlimit lim = { .rlim_cur = psz, .rlim_max = psz };
		long before = proc_status_kb(getpid(), "VmPin");
		int rc;

		if (drop_cap_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &lim))
			_exit(10);
		rc = ioctl(self->fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd);
		if (variant->domain && (rc != -1 || errno != ENOMEM))
			_exit(1);
		/* Nothing pinned: nothing to charge, so the move succeeds at any limit. */
		if (!variant->domain && rc)
			_exit(2);
		if (proc_status_kb(getpid(), "VmPin") != before)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The charge stayed here, the pages pinned once (refs count 4 KiB pages: memfd). */
	EXPECT_EQ(self->pinned0 + want, vm_pinned());
	/* Still movable back and forth: the failed move left no prepared state behind. */
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd));
	EXPECT_EQ(self->pinned0 + want, vm_pinned());
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, NPAGES * psz, NULL));
	EXPECT_EQ(self->pinned0, vm_pinned());
	close(mfd);
}

static int create_access(int fd, __u32 ioas, __u32 flags)
{
	struct ioasid_test_cmd cmd = {
		.op = IOMMU_TEST_OP_CREATE_ACCESS,
		.id = ioas,
		.create_access = { .flags = flags },
	};

	return test_cmd(fd, &cmd) ? -1 : (int)cmd.create_access.out_access_fd;
}

/* An access pins a range once; unmapping tells it to let go first. */
TEST_F(pin, access_pins_and_unmap_releases_them)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_ACCESS_PAGES };
	__u64 iova = 0;
	int afd;

	afd = create_access(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, NPAGES * psz, &iova, RW));
	cmd.id = afd;
	cmd.access_pages.iova = iova + psz;
	cmd.access_pages.length = 2 * psz;
	cmd.access_pages.uptr = (uintptr_t)self->buf + psz;
	cmd.access_pages.flags = MOCK_FLAGS_ACCESS_WRITE;
	ASSERT_EQ(0, test_cmd(self->fd, &cmd));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf + psz, 2 * psz, 1));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf + 3 * psz, psz, variant->domain));
	/* An IOAS with an access cannot be destroyed. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_DESTROY,
			    &(struct iommu_destroy){ .size = 8, .id = self->ioas }));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, NPAGES * psz, NULL));
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 0));
	EXPECT_EQ(self->pinned0, vm_pinned());
	/* The unmap released the pinned range: its ID is gone. */
	cmd.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES;
	cmd.destroy_access_pages.access_pages_id = cmd.access_pages.out_access_pages_id;
	errno = 0;
	EXPECT_EQ(-1, test_cmd(self->fd, &cmd));
	EXPECT_EQ(ENOENT, errno);
	/* Pinning an unmapped range is ENOENT. */
	cmd.op = IOMMU_TEST_OP_ACCESS_PAGES;
	cmd.access_pages.iova = iova;
	cmd.access_pages.length = psz;
	cmd.access_pages.uptr = 0;
	errno = 0;
	EXPECT_EQ(-1, test_cmd(self->fd, &cmd));
	EXPECT_EQ(ENOENT, errno);
	close(afd);
}

/*
 * An area too large to pin (1 TiB: more pages than one allocation can track) is refused
 * with ENOMEM when something pins it, without a kernel warning (the stateful fuzzer found
 * the allocation warning on arm64); nothing stays pinned.
 */
TEST_F(pin, pinning_a_huge_area_is_enomem_without_a_warning)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_ACCESS_PAGES };
	__u64 iova = 0;
	int afd;

	if (variant->domain) {
		/* Mapping it pins it: refused (no IOVA in the mock aperture, or ENOMEM). */
		errno = 0;
		EXPECT_EQ(-1, ioas_map(self->fd, self->ioas, self->buf, 1ULL << 40, &iova, RW));
		EXPECT_TRUE(errno == ENOSPC || errno == ENOMEM) TH_LOG("errno %d", errno);
		EXPECT_EQ(self->pinned0, vm_pinned());
		return;
	}
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, 1ULL << 40, &iova, RW));
	afd = create_access(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	ASSERT_LE(0, afd);
	cmd.id = afd;
	cmd.access_pages.iova = iova;
	cmd.access_pages.length = psz;
	errno = 0;
	EXPECT_EQ(-1, test_cmd(self->fd, &cmd));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, psz, 0));
	EXPECT_EQ(self->pinned0, vm_pinned());
	close(afd);
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, 1ULL << 40, NULL));
}

/* ACCESS_RW reads and writes the process's memory through IOVAs, across pages. */
TEST_F(pin, access_rw_reads_and_writes_the_memory)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_ACCESS_RW };
	char out[64], in[64];
	__u64 iova = 0;
	int afd = create_access(self->fd, self->ioas, 0);

	ASSERT_LE(0, afd);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, NPAGES * psz, &iova, RW));
	memset(in, 0xa5, sizeof(in));
	cmd.id = afd;
	cmd.access_rw.iova = iova + psz - 32; /* straddles a page boundary */
	cmd.access_rw.length = sizeof(in);
	cmd.access_rw.uptr = (uintptr_t)in;
	cmd.access_rw.flags = MOCK_ACCESS_RW_WRITE;
	ASSERT_EQ(0, test_cmd(self->fd, &cmd));
	EXPECT_EQ(0, memcmp(self->buf + psz - 32, in, sizeof(in)));
	self->buf[psz] = 0x11;
	cmd.access_rw.uptr = (uintptr_t)out;
	cmd.access_rw.flags = 0;
	ASSERT_EQ(0, test_cmd(self->fd, &cmd));
	EXPECT_EQ(0x11, out[32]);
	EXPECT_EQ((char)0xa5, out[0]);
	/* Nothing stays pinned after a copy. */
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, variant->domain));
	/* An access that does not pin cannot ACCESS_PAGES. */
	cmd.op = IOMMU_TEST_OP_ACCESS_PAGES;
	cmd.access_pages.flags = 0;
	cmd.access_pages.iova = iova;
	cmd.access_pages.length = psz;
	cmd.access_pages.uptr = 0;
	errno = 0;
	EXPECT_EQ(-1, test_cmd(self->fd, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(afd);
}

/*
 * A mock device's DMA goes through its domain's page table: it reaches the mapped memory,
 * faults once unmapped (memory untouched), honours read-only IOPTEs, and follows a
 * replacement to another address space with other memory at the same IOVA.
 */
TEST_F(pin, mock_dma_goes_through_the_domain)
{
	const __u64 iova = MOCK_APERTURE_START + 0x100000;
	char *other = mmap(NULL, NPAGES * psz, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char pattern[5000], back[5000];
	__u64 at = iova;
	__u32 dev, ioas2;
	struct ioasid_test_cmd replace = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };

	ASSERT_NE(MAP_FAILED, other);
	memset(other, 0x77, NPAGES * psz);
	ASSERT_EQ(0, test_mock_domain(self->fd, self->ioas, &dev, NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, NPAGES * psz, &at,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (char)(i * 7 + 1);
	/* Device to memory, across a page boundary, then memory to device. */
	ASSERT_EQ(0, test_mock_dma(self->fd, dev, iova + 100, pattern, sizeof(pattern), true));
	EXPECT_EQ(0, memcmp(self->buf + 100, pattern, sizeof(pattern)));
	EXPECT_EQ(0x5a, self->buf[99]);
	self->buf[100] = 0x42;
	ASSERT_EQ(0, test_mock_dma(self->fd, dev, iova + 100, back, sizeof(back), false));
	EXPECT_EQ(0x42, back[0]);
	EXPECT_EQ(0, memcmp(back + 1, pattern + 1, sizeof(pattern) - 1));

	/* A second IOAS maps other memory at the same IOVA: replacing follows it. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	at = iova;
	ASSERT_EQ(0, ioas_map(self->fd, ioas2, other, NPAGES * psz, &at,
			      IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA));
	replace.id = dev;
	replace.mock_domain_replace.pt_id = ioas2;
	ASSERT_EQ(0, test_cmd(self->fd, &replace));
	ASSERT_EQ(0, test_mock_dma(self->fd, dev, iova, back, 16, false));
	EXPECT_EQ(0x77, back[0]);
	/* That mapping is read-only: a DMA write is refused and changes nothing. */
	errno = 0;
	EXPECT_EQ(-1, test_mock_dma(self->fd, dev, iova, pattern, 16, true));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0x77, other[0]);
	/* And back. */
	replace.mock_domain_replace.pt_id = self->ioas;
	ASSERT_EQ(0, test_cmd(self->fd, &replace));
	ASSERT_EQ(0, test_mock_dma(self->fd, dev, iova + 100, back, 1, false));
	EXPECT_EQ(0x42, back[0]);

	/* Unmapped: the DMA faults and the old memory is not modified. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, NPAGES * psz, NULL));
	errno = 0;
	EXPECT_EQ(-1, test_mock_dma(self->fd, dev, iova + 100, pattern + 1, 16, true));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0x42, self->buf[100]);
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 0));
	munmap(other, NPAGES * psz);
}

/* GET_HW_INFO on a mock device: the mock IOMMU's data, truncated and zero-extended. */
TEST_F(pin, get_hw_info_reports_the_mock_iommu)
{
	struct ioasid_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = self->ioas };
	__u32 data[4] = { 1, 2, 3, 4 };
	struct iommu_hw_info info = {
		.size = sizeof(info),
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)data,
	};

	ASSERT_EQ(0, test_cmd(self->fd, &md));
	info.dev_id = md.mock_domain.out_idev_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
	EXPECT_EQ(0xfeedbeef, info.out_data_type);
	EXPECT_EQ(8, info.data_len);
	EXPECT_EQ(0, data[0]);
	EXPECT_EQ(0xdeadbeef, data[1]);
	EXPECT_EQ(0, data[2]); /* the rest of the buffer is zeroed */
	EXPECT_EQ(0, data[3]);
	EXPECT_EQ(0, info.out_max_pasid_log2);
	/* The mock IOMMU tracks dirty pages for devices made without MOCK_FLAGS_DEVICE_NO_DIRTY. */
	EXPECT_EQ(IOMMU_HW_CAP_DIRTY_TRACKING, info.out_capabilities);
	/* Only 4 bytes of room: the flags only, data_len still says 8. */
	data[1] = 7;
	info.data_len = 4;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
	EXPECT_EQ(7, data[1]);
	EXPECT_EQ(8, info.data_len);
	/* Another type than the IOMMU's, unknown flags, a mock device object, no device. */
	info.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
	info.in_data_type = 0xfeedbeef + 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
	EXPECT_EQ(EOPNOTSUPP, errno);
	info.flags = 2;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
	EXPECT_EQ(EOPNOTSUPP, errno);
	info.flags = 0;
	info.dev_id = md.mock_domain.out_stdev_id;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_GET_HW_INFO, &info));
	EXPECT_EQ(ENOENT, errno);
	/* The device ID belongs to the mock device object: it cannot be destroyed alone. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_DESTROY,
			    &(struct iommu_destroy){ .size = 8, .id = md.mock_domain.out_idev_id }));
	EXPECT_EQ(EBUSY, errno);
}

struct stress {
	int fd, afd;
	__u32 ioas, dev;
	char *buf;
	long psz;
	int thread;
	time_t end;
	long ops, errors;
};

/*
 * One thread: map its own page of the buffer at its own IOVA, DMA to it through the mock
 * device, pin it through the shared access, then unmap (which must first make the access
 * let go), over and over.
 */
static void *stress_thread(void *arg)
{
	struct stress *s = arg;
	const __u64 iova = MOCK_APERTURE_START + 0x100000ULL * s->thread;
	char *mine = s->buf + s->thread * s->psz;

	while (time(NULL) < s->end) {
		struct ioasid_test_cmd pin = {
			.op = IOMMU_TEST_OP_ACCESS_PAGES,
			.id = s->afd,
			.access_pages = { .iova = iova, .length = s->psz },
		};
		__u64 at = iova, unmapped = 0;
		char v = (char)(s->ops + s->thread), back = 0;

		if (ioas_map(s->fd, s->ioas, mine, s->psz, &at, RW | IOMMU_IOAS_MAP_FIXED_IOVA)) {
			s->errors++;
			continue;
		}
		if (test_mock_dma(s->fd, s->dev, iova + 8, &v, 1, true) ||
		    test_mock_dma(s->fd, s->dev, iova + 8, &back, 1, false) || back != v || mine[8] != v)
			s->errors++;
		if (test_cmd(s->fd, &pin))
			s->errors++;
		if (ioas_unmap(s->fd, s->ioas, iova, s->psz, &unmapped) || unmapped != s->psz)
			s->errors++;
		s->ops += 5;
	}
	return NULL;
}

/*
 * 8 threads on one IOAS with a domain and an access, STRESS_SECONDS: no error, nothing
 * left pinned.
 */
TEST_F_TIMEOUT(pin, concurrent_map_dma_pin_unmap_from_8_threads, STRESS_TIMEOUT)
{
	enum { N = 8 };
	struct stress s[N];
	pthread_t t[N];
	long ops = 0;
	__u32 dev;
	int i, afd;

	afd = create_access(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, test_mock_domain(self->fd, self->ioas, &dev, NULL));
	for (i = 0; i < N; i++) {
		s[i] = (struct stress){ .fd = self->fd, .afd = afd, .ioas = self->ioas, .dev = dev,
					.buf = self->buf, .psz = psz, .thread = i,
					.end = time(NULL) + STRESS_SECONDS };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, stress_thread, &s[i]));
	}
	for (i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, s[i].errors) TH_LOG("thread %d", i);
		ops += s[i].ops;
	}
	TH_LOG("%ld operations in %d s", ops, STRESS_SECONDS);
	EXPECT_EQ(0, test_check_refs(self->fd, self->buf, NPAGES * psz, 0));
	EXPECT_EQ(self->pinned0, vm_pinned());
	close(afd);
}

TEST_HARNESS_MAIN
