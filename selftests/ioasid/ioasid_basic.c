// SPDX-License-Identifier: GPL-2.0
/*
 * Basic behaviour of /dev/ioasid: the device node, opening and closing it, the ioctl
 * number space, and the IOMMU the guest runs with.
 */
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/ioasid.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"

#define MISC_MAJOR 10

FIXTURE(ioasid) {
	int fd;
};

FIXTURE_SETUP(ioasid)
{
	self->fd = open(IOASID_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(ioasid)
{
	close(self->fd);
}

TEST(device_node_is_a_misc_char_device)
{
	struct stat st;
	char buf[32];
	unsigned int major, minor;

	ASSERT_EQ(0, stat(IOASID_DEV, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(MISC_MAJOR, major(st.st_rdev));
	/* sysfs agrees with the node. */
	ASSERT_LT(0, read_file("/sys/class/misc/ioasid/dev", buf, sizeof(buf)));
	ASSERT_EQ(2, sscanf(buf, "%u:%u", &major, &minor));
	ASSERT_EQ(major, major(st.st_rdev));
	ASSERT_EQ(minor, minor(st.st_rdev));
}

TEST(open_and_close_many_times)
{
	int first = open(IOASID_DEV, O_RDWR);
	int i;

	ASSERT_LE(0, first);
	close(first);
	for (i = 0; i < 10000; i++) {
		int fd = open(IOASID_DEV, O_RDWR);

		ASSERT_EQ(first, fd);	/* the lowest free fd again: nothing leaked */
		ASSERT_EQ(0, close(fd));
	}
}

TEST(many_open_files_at_once)
{
	enum { N = 256 };
	int fds[N], i;

	for (i = 0; i < N; i++) {
		fds[i] = open(IOASID_DEV, O_RDWR);
		ASSERT_LE(0, fds[i]);
	}
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, close(fds[i]));
}

TEST(open_read_only_is_allowed)
{
	/* As /dev/iommu: the file mode of the node, not the open mode, decides access. */
	int fd = open(IOASID_DEV, O_RDONLY);

	ASSERT_LE(0, fd);
	close(fd);
}

TEST_F(ioasid, unknown_ioctl_is_enotty)
{
	/* Numbers outside what ioasid implements, and malformed commands near ours. */
	const unsigned long cmds[] = {
		_IO(IOMMUFD_TYPE, 0xff),
		_IO(IOMMUFD_TYPE, 0x00),
		_IO(IOMMUFD_TYPE, 0x7f),
		_IO(IOMMUFD_TYPE, 0x9f),
		_IO(IOMMUFD_TYPE, IOASID_CMD_BASE + 0x1f),
		_IOR(IOMMUFD_TYPE, IOMMUFD_CMD_BASE, __u32),
		_IOW(IOMMUFD_TYPE, IOMMUFD_CMD_BASE, __u64),
		_IOWR(IOMMUFD_TYPE, IOASID_CMD_BASE, __u32),
		_IO('x', IOMMUFD_CMD_BASE),
		_IO(';' + 1, IOMMUFD_CMD_BASE),
	};
	__u32 arg[16] = { sizeof(arg) };
	unsigned int i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], arg)) {
			TH_LOG("cmd %#lx", cmds[i]);
		}
		EXPECT_EQ(ENOTTY, errno) {
			TH_LOG("cmd %#lx", cmds[i]);
		}
	}
}

TEST_F(ioasid, unknown_ioctl_with_bad_pointer_is_still_enotty)
{
	/* The number is checked before the argument is read. */
	EXPECT_EQ(-1, ioctl(self->fd, _IO(IOMMUFD_TYPE, 0xff), (void *)8));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(ioasid, refused_ioctl_logs_its_reason_with_debug_on)
{
	char *log, expect[64];

	if (!getenv("IOASID_DEBUG"))
		SKIP(return, "ioasid.ko was not loaded with debug=1");
	snprintf(expect, sizeof(expect), "ioctl %#x: not an ioasid ioctl",
		 (unsigned int)_IO(IOMMUFD_TYPE, 0xfe));
	EXPECT_EQ(-1, ioctl(self->fd, _IO(IOMMUFD_TYPE, 0xfe), NULL));
	EXPECT_EQ(ENOTTY, errno);
	log = read_kernel_log();
	ASSERT_NE(NULL, log);
	EXPECT_NE(NULL, strstr(log, expect));
	free(log);
}

static void count_in_group(const char *bdf, void *arg)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	if (stat(path, &st) == 0)
		(*(int *)arg)++;
}

TEST(edu_devices_are_in_iommu_groups)
{
	int grouped = 0, n;
	DIR *d;
	struct dirent *e;
	int iommus = 0;

	/* qemu-test/run gives each guest four (two of them share a group). */
	n = for_each_pci_device(EDU_VENDOR, EDU_DEVICE, count_in_group, &grouped);
	ASSERT_LE(2, n);
	ASSERT_EQ(n, grouped);

	d = opendir("/sys/class/iommu");
	ASSERT_NE(NULL, d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			iommus++;
	closedir(d);
	ASSERT_LE(1, iommus);
}

TEST(iommu_is_enabled_in_the_kernel_log)
{
	char *log = read_kernel_log();

	ASSERT_NE(NULL, log);
#if defined(__x86_64__)
	EXPECT_NE(NULL, strstr(log, "DMAR: Intel(R) Virtualization Technology for Directed I/O"));
	EXPECT_NE(NULL, strstr(log, "DMAR-IR: Enabled IRQ remapping"));
#elif defined(__aarch64__)
	EXPECT_NE(NULL, strstr(log, "arm-smmu-v3"));
	EXPECT_NE(NULL, strstr(log, "oas 44-bit"));
#endif
	free(log);
}

TEST(module_counts_the_same_iommu_devices_as_sysfs)
{
	/* The module's C shim counts PCI devices behind an IOMMU when it registers. */
	char *log = read_kernel_log(), *p, *last = NULL;
	int grouped = 0, reported = -1;

	ASSERT_NE(NULL, log);
	for (p = log; (p = strstr(p, "/dev/ioasid registered; ")); p++)
		last = p;
	ASSERT_NE(NULL, last);
	ASSERT_EQ(1, sscanf(last, "/dev/ioasid registered; %d PCI devices", &reported));
	for_each_pci_device(PCI_ANY, PCI_ANY, count_in_group, &grouped);
	EXPECT_EQ(grouped, reported);
	EXPECT_LE(2, reported);
	free(log);
}

TEST_HARNESS_MAIN
