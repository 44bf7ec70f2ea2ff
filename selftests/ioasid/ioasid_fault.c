// SPDX-License-Identifier: GPL-2.0
/*
 * I/O page faults delivered to userspace (IOMMU_FAULT_QUEUE_ALLOC), on the module's mock
 * IOMMU (test interface, selftest=1):
 * - the fault queue's allocation, object and file rules (flags, size, close-on-exec, EBUSY
 *   while its file is open or a HWPT uses it);
 * - IOMMU_HWPT_ALLOC with IOMMU_HWPT_FAULT_ID_VALID (paging and nested), and its refusal
 *   for real devices;
 * - IOMMU_TEST_OP_TRIGGER_IOPF: reads of whole groups, cookies, responses, poll, and
 *   every errno of read() and write();
 * - nothing waits forever: closing the file, destroying the HWPT, and the requester's
 *   own timeout complete outstanding groups with failure;
 * - demand paging: mock DMA on an IOPF-capable HWPT that hits an unmapped IOVA raises a
 *   page request and waits; a handler thread maps the page and answers SUCCESS and the
 *   DMA completes with the right bytes, INVALID makes it fail;
 * - vEVENTQs (IOMMU_VEVENTQ_ALLOC, the same event-queue machinery): allocation rules,
 *   events read whole and in sequence, overflow lost visibly (LOST_EVENTS, sequence gaps),
 *   IOMMU_TEST_OP_TRIGGER_VEVENT's errors.
 * Written against the uAPI documentation in include/uapi/linux/ioasid.h.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"
#include "ioasid_edu_utils.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define IOVA (MOCK_APERTURE_START + (1UL << 20))
#define BUF_PAGES 4
#define IOMMU_TEST_OP_TRIGGER_IOPF 15

/* IOMMU_FAULT_QUEUE_ALLOC with `flags`. */
static int fault_alloc(int fd, __u32 flags, __u32 *id, int *qfd)
{
	struct iommu_fault_alloc cmd = { .size = sizeof(cmd), .flags = flags };
	int rc = ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd);

	if (!rc) {
		*id = cmd.out_fault_id;
		*qfd = cmd.out_fault_fd;
	}
	return rc;
}

/* IOMMU_HWPT_ALLOC with FAULT_ID_VALID and fault_id (and `flags`). */
static int hwpt_alloc_iopf(int fd, __u32 flags, __u32 dev_id, __u32 pt_id, __u32 fault_id,
			   bool nested, __u32 *out)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags | IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.fault_id = fault_id,
		.data_type = nested ? IOMMU_HWPT_DATA_SELFTEST : 0,
		.data_len = nested ? sizeof(data) : 0,
		.data_uptr = nested ? (uintptr_t)&data : 0,
	};
	int rc = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);

	if (!rc && out)
		*out = cmd.out_hwpt_id;
	return rc;
}

/* IOMMU_TEST_OP_TRIGGER_IOPF: device dev_id raises a page request. */
static int trigger_iopf(int fd, __u32 dev_id, __u32 pasid, __u32 grpid, __u32 perm, __u64 addr)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_TRIGGER_IOPF };
	/* trigger_iopf: { dev_id, pasid, grpid, perm; __u64 addr } at the start of the union. */
	__u32 w[4] = { dev_id, pasid, grpid, perm };

	memcpy(cmd.union_bytes, w, sizeof(w));
	memcpy(cmd.union_bytes + 16, &addr, 8);
	return test_cmd(fd, &cmd);
}

/* Whether poll() on the queue's file reports `events` right now. */
static short poll_now(int qfd)
{
	struct pollfd p = { .fd = qfd, .events = POLLIN | POLLRDNORM | POLLOUT };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

static ssize_t respond(int qfd, __u32 cookie, __u32 code)
{
	struct iommu_hwpt_page_response r = { .cookie = cookie, .code = code };

	return write(qfd, &r, sizeof(r));
}

FIXTURE(fault)
{
	int fd;
	long psz;
	char *buf;
	__u32 ioas, stdev, auto_hwpt, idev, parent, plain;
	__u32 fault_id;
	int qfd;
};

FIXTURE_SETUP(fault)
{
	self->fd = -1;
	self->qfd = -1;
	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	self->psz = sysconf(_SC_PAGESIZE);
	self->fd = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->buf = mmap(NULL, BUF_PAGES * self->psz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0, BUF_PAGES * self->psz);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	ASSERT_EQ(0, mock_nest_setup(self->fd, self->ioas, &self->stdev, &self->auto_hwpt,
				     &self->idev, &self->parent, &self->plain));
	ASSERT_EQ(0, fault_alloc(self->fd, 0, &self->fault_id, &self->qfd));
}

FIXTURE_TEARDOWN(fault)
{
	if (self->qfd >= 0)
		close(self->qfd);
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(fault, alloc_rules)
{
	struct iommu_fault_alloc cmd = { .size = 8 };
	__u32 id;
	int qfd;

	ASSERT_NE(0, self->fault_id);
	ASSERT_LT(2, self->qfd);
	/* The descriptor is close-on-exec, as iommufd's. */
	ASSERT_EQ(FD_CLOEXEC, fcntl(self->qfd, F_GETFD) & FD_CLOEXEC);
	EXPECT_ERRNO(EOPNOTSUPP, fault_alloc(self->fd, 1, &id, &qfd));
	EXPECT_ERRNO(EOPNOTSUPP, fault_alloc(self->fd, 1U << 31, &id, &qfd));
	/* Shorter than out_fault_fd's end. */
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd));
	/* A failed allocation used no ID. */
	ASSERT_EQ(0, fault_alloc(self->fd, 0, &id, &qfd));
	ASSERT_EQ(self->fault_id + 1, id);
	/* Nothing to read yet; always writable. */
	ASSERT_EQ(POLLOUT, poll_now(qfd));
	close(qfd);
	ASSERT_EQ(0, destroy(self->fd, id));
}

TEST_F(fault, destroy_is_ebusy_while_the_file_is_open)
{
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->fault_id));
	close(self->qfd);
	self->qfd = -1;
	ASSERT_EQ(0, destroy(self->fd, self->fault_id));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, self->fault_id));
}

TEST_F(fault, hwpt_alloc_with_a_fault_queue)
{
	__u32 paging, nested, id;

	EXPECT_ERRNO(ENOENT, hwpt_alloc_iopf(self->fd, 0, self->idev, self->ioas, 0xffffff,
					     false, &id));
	/* An object of another kind is no fault queue. */
	EXPECT_ERRNO(ENOENT, hwpt_alloc_iopf(self->fd, 0, self->idev, self->ioas, self->ioas,
					     false, &id));
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_iopf(self->fd, 1U << 31, self->idev, self->parent,
						 self->fault_id, true, &id));
	/* A nest parent takes no faults: refused before the queue is even looked up. */
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_iopf(self->fd, IOMMU_HWPT_ALLOC_NEST_PARENT,
						 self->idev, self->ioas, 0xffffff, false, &id));
	ASSERT_EQ(0, hwpt_alloc_iopf(self->fd, 0, self->idev, self->ioas, self->fault_id, false,
				     &paging));
	ASSERT_EQ(0, hwpt_alloc_iopf(self->fd, 0, self->idev, self->parent, self->fault_id, true,
				     &nested));
	/* The HWPTs hold the queue, also once its file is closed. */
	close(self->qfd);
	self->qfd = -1;
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->fault_id));
	ASSERT_EQ(0, destroy(self->fd, paging));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->fault_id));
	ASSERT_EQ(0, destroy(self->fd, nested));
	ASSERT_EQ(0, destroy(self->fd, self->fault_id));
}

/* The fixture's device attached to a new IOPF-capable HWPT (nested or paging). */
static __u32 attach_iopf(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			 bool nested)
{
	__u32 hwpt;

	ASSERT_EQ(0, hwpt_alloc_iopf(self->fd, 0, self->idev, nested ? self->parent : self->ioas,
				     self->fault_id, nested, &hwpt));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, hwpt));
	return hwpt;
}

TEST_F(fault, trigger_read_respond)
{
	struct iommu_hwpt_pgfault f;
	__u32 hwpt = attach_iopf(_metadata, self, true);

	ASSERT_EQ(POLLOUT, poll_now(self->qfd));
	ASSERT_EQ(0, trigger_iopf(self->fd, self->idev, 0x1, 0x2,
				  IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE, 0xdeadb000));
	ASSERT_EQ(POLLIN | POLLRDNORM | POLLOUT, poll_now(self->qfd));
	ASSERT_EQ(sizeof(f), read(self->qfd, &f, sizeof(f)));
	ASSERT_EQ(IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE, f.flags);
	ASSERT_EQ(self->idev, f.dev_id);
	ASSERT_EQ(0x1, f.pasid);
	ASSERT_EQ(0x2, f.grpid);
	ASSERT_EQ(IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE, f.perm);
	ASSERT_EQ(0xdeadb000, f.addr);
	ASSERT_EQ(0, f.length);
	ASSERT_NE(0, f.cookie);
	/* Read: no longer queued, so not readable, and nothing more to read. */
	ASSERT_EQ(POLLOUT, poll_now(self->qfd));
	ASSERT_EQ(0, read(self->qfd, &f, sizeof(f)));
	/* The HWPT is in use; the queue too. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, hwpt));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->fault_id));
	/* An unknown code changes nothing; the right answer completes the group once. */
	EXPECT_ERRNO(EINVAL, respond(self->qfd, f.cookie, 2));
	ASSERT_EQ(8, respond(self->qfd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_ERRNO(EINVAL, respond(self->qfd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_ERRNO(EINVAL, respond(self->qfd, f.cookie + 1, IOMMUFD_PAGE_RESP_INVALID));

	/* Without a PASID; and nothing reaches the queue from a HWPT without one. */
	ASSERT_EQ(0, trigger_iopf(self->fd, self->idev, 0, 0x3, IOMMU_PGFAULT_PERM_READ, 0x1000));
	ASSERT_EQ(sizeof(f), read(self->qfd, &f, sizeof(f)));
	ASSERT_EQ(IOMMU_PGFAULT_FLAGS_LAST_PAGE, f.flags);
	ASSERT_EQ(8, respond(self->qfd, f.cookie, IOMMUFD_PAGE_RESP_INVALID));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->ioas));
	ASSERT_EQ(0, trigger_iopf(self->fd, self->idev, 0, 0x3, IOMMU_PGFAULT_PERM_READ, 0x1000));
	ASSERT_EQ(POLLOUT, poll_now(self->qfd));
	/* TRIGGER_IOPF takes a device object: ENOENT for another kind. */
	EXPECT_ERRNO(ENOENT, trigger_iopf(self->fd, self->ioas, 0, 0, 0, 0));
	ASSERT_EQ(0, destroy(self->fd, hwpt));
}

TEST_F(fault, read_returns_whole_groups_in_order)
{
	struct iommu_hwpt_pgfault f[3], g[2];
	struct iommu_hwpt_page_response r[3];
	void *none = mmap(NULL, self->psz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	attach_iopf(_metadata, self, false);
	/* A PASID's request finds no handler on a paging HWPT of the RID: dropped. */
	ASSERT_EQ(0, trigger_iopf(self->fd, self->idev, 5, 9, IOMMU_PGFAULT_PERM_READ, 0x9000));
	ASSERT_EQ(POLLOUT, poll_now(self->qfd));
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, trigger_iopf(self->fd, self->idev, 0, i, IOMMU_PGFAULT_PERM_READ,
					  0x10000 * (i + 1)));
	/* Not a whole number of records, or not at position 0: ESPIPE. */
	EXPECT_ERRNO(ESPIPE, read(self->qfd, f, sizeof(f[0]) - 1));
	EXPECT_ERRNO(ESPIPE, pread(self->qfd, f, sizeof(f[0]), sizeof(f[0])));
	/* No room for the first group. */
	EXPECT_ERRNO(EINVAL, read(self->qfd, f, 0));
	/* Room for two: the two oldest. */
	ASSERT_EQ(2 * sizeof(f[0]), read(self->qfd, f, 2 * sizeof(f[0])));
	ASSERT_EQ(0x10000, f[0].addr);
	ASSERT_EQ(0x20000, f[1].addr);
	ASSERT_EQ(sizeof(g[0]), read(self->qfd, g, sizeof(g)));
	f[2] = g[0];
	ASSERT_EQ(0x30000, f[2].addr);
	ASSERT_NE(f[0].cookie, f[1].cookie);
	ASSERT_NE(f[1].cookie, f[2].cookie);

	/* Writes: whole records at position 0, taken in order up to the first bad one. */
	EXPECT_ERRNO(ESPIPE, write(self->qfd, r, sizeof(r[0]) - 1));
	r[0] = (struct iommu_hwpt_page_response){ f[0].cookie, IOMMUFD_PAGE_RESP_SUCCESS };
	EXPECT_ERRNO(ESPIPE, pwrite(self->qfd, r, sizeof(r[0]), 8));
	r[1] = (struct iommu_hwpt_page_response){ 0xbad, IOMMUFD_PAGE_RESP_SUCCESS };
	r[2] = (struct iommu_hwpt_page_response){ f[1].cookie, IOMMUFD_PAGE_RESP_SUCCESS };
	ASSERT_EQ(sizeof(r[0]), write(self->qfd, r, sizeof(r)));
	/* r[0] was taken, r[2] was not. */
	EXPECT_ERRNO(EINVAL, write(self->qfd, &r[0], sizeof(r[0])));
	r[0] = (struct iommu_hwpt_page_response){ f[2].cookie, IOMMUFD_PAGE_RESP_INVALID };
	ASSERT_EQ(2 * sizeof(r[0]), write(self->qfd, &r[0], sizeof(r[0])) +
					    write(self->qfd, &r[2], sizeof(r[0])));
	/* A user buffer the kernel cannot write: EFAULT, and the group stays queued. */
	ASSERT_EQ(0, trigger_iopf(self->fd, self->idev, 0, 7, IOMMU_PGFAULT_PERM_READ, 0x40000));
	ASSERT_NE(MAP_FAILED, none);
	EXPECT_ERRNO(EFAULT, read(self->qfd, none, sizeof(f[0])));
	munmap(none, self->psz);
	ASSERT_EQ(sizeof(f[0]), read(self->qfd, f, sizeof(f[0])));
	ASSERT_EQ(7, f[0].grpid);
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->ioas));
}

/* A mock DMA run by a thread, so the test can handle its page requests. */
struct dma_job {
	int fd;
	__u32 dev;
	__u64 iova;
	void *buf;
	size_t len;
	bool write;
	/* The PASID the DMA is tagged with (0: none, the RID's). */
	__u32 pasid;
	int rc, err;
	double seconds;
	pthread_t thread;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *dma_thread(void *arg)
{
	struct dma_job *j = arg;
	double t0 = now();

	j->rc = j->pasid ? test_mock_dma_pasid(j->fd, j->dev, j->pasid, j->iova, j->buf, j->len,
					       j->write) :
			   test_mock_dma(j->fd, j->dev, j->iova, j->buf, j->len, j->write);
	j->err = errno;
	j->seconds = now() - t0;
	return NULL;
}

static int dma_start(struct dma_job *j)
{
	return pthread_create(&j->thread, NULL, dma_thread, j);
}

/* Waits (at most 10 s) for a group on the queue and reads it into f (room for n). */
static ssize_t read_group(int qfd, struct iommu_hwpt_pgfault *f, size_t n)
{
	struct pollfd p = { .fd = qfd, .events = POLLIN };

	if (poll(&p, 1, 10000) != 1)
		return -1;
	return read(qfd, f, n * sizeof(*f));
}

TEST_F(fault, demand_paging_maps_the_page_and_the_dma_completes)
{
	char *data = self->buf, out[64], in[64];
	struct iommu_hwpt_pgfault f;
	struct dma_job j = { .fd = self->fd, .dev = self->stdev, .iova = IOVA + 0x100,
			     .buf = in, .len = sizeof(in) };
	__u64 iova = IOVA;

	attach_iopf(_metadata, self, false);
	for (int i = 0; i < (int)sizeof(out); i++)
		data[0x100 + i] = (char)(0x5a ^ i);
	/* The IOVA is not mapped: the DMA raises a page request and waits. */
	ASSERT_EQ(0, dma_start(&j));
	ASSERT_EQ(sizeof(f), read_group(self->qfd, &f, 1));
	ASSERT_EQ(IOMMU_PGFAULT_FLAGS_LAST_PAGE, f.flags);
	ASSERT_EQ(self->idev, f.dev_id);
	ASSERT_EQ(IOVA, f.addr);
	ASSERT_EQ(IOMMU_PGFAULT_PERM_READ, f.perm);
	/* The handler maps the page and answers SUCCESS: the DMA reads the right bytes. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, self->psz, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	ASSERT_EQ(8, respond(self->qfd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	ASSERT_EQ(0, j.rc);
	for (int i = 0; i < (int)sizeof(in); i++)
		ASSERT_EQ((char)(0x5a ^ i), in[i]);

	/* A write to the next, unmapped page: mapped by the handler, written by the DMA. */
	memset(out, 0xc3, sizeof(out));
	j = (struct dma_job){ .fd = self->fd, .dev = self->stdev, .iova = IOVA + self->psz,
			      .buf = out, .len = sizeof(out), .write = true };
	ASSERT_EQ(0, dma_start(&j));
	ASSERT_EQ(sizeof(f), read_group(self->qfd, &f, 1));
	ASSERT_EQ(IOVA + self->psz, f.addr);
	ASSERT_EQ(IOMMU_PGFAULT_PERM_WRITE, f.perm);
	iova = IOVA + self->psz;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf + self->psz, self->psz, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	ASSERT_EQ(8, respond(self->qfd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	ASSERT_EQ(0, j.rc);
	ASSERT_EQ(0, memcmp(self->buf + self->psz, out, sizeof(out)));
	/* Mapped now: no page request. */
	ASSERT_EQ(0, test_mock_dma(self->fd, self->stdev, IOVA, in, sizeof(in), false));
	ASSERT_EQ(POLLOUT, poll_now(self->qfd));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->ioas));
}

/*
 * A PASID attached to an IOPF-capable HWPT: its page requests (TRIGGER_IOPF and its own
 * DMA's) reach that HWPT's queue tagged with the PASID, as the IOMMU core routes them;
 * other PASIDs' requests are dropped (the RID's HWPT is a paging one); detaching the
 * PASID fails the requests it left.
 */
TEST_F(fault, a_pasids_page_requests_go_to_its_own_hwpt)
{
	__u32 ioas2, ioas3, stdev2, idev2, rid_hwpt, iopf;
	struct iommu_hwpt_pgfault f;
	char in[32];
	struct dma_job j = { .fd = self->fd, .iova = IOVA + 0x40, .buf = in, .len = sizeof(in),
			     .pasid = 7 };
	__u64 iova = IOVA;

	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas3));
	ASSERT_EQ(0, test_mock_domain_flags(self->fd, ioas2, MOCK_FLAGS_DEVICE_PASID, &stdev2, NULL,
					    &idev2));
	ASSERT_EQ(0, hwpt_alloc(self->fd, IOMMU_HWPT_ALLOC_PASID, idev2, ioas2, 0, NULL, 0,
				&rid_hwpt));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, stdev2, rid_hwpt));
	ASSERT_EQ(0, hwpt_alloc_iopf(self->fd, IOMMU_HWPT_ALLOC_PASID, idev2, ioas3,
				     self->fault_id, false, &iopf));
	ASSERT_EQ(0, test_pasid_attach_op(self->fd, IOMMU_TEST_OP_PASID_ATTACH, stdev2, 7, iopf));

	ASSERT_EQ(0, trigger_iopf(self->fd, idev2, 7, 3, IOMMU_PGFAULT_PERM_READ, 0x5000));
	ASSERT_EQ(sizeof(f), read_group(self->qfd, &f, 1));
	EXPECT_EQ(IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE, f.flags);
	EXPECT_EQ(7, f.pasid);
	EXPECT_EQ(idev2, f.dev_id);
	ASSERT_EQ(8, respond(self->qfd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	/* Another PASID, and the RID, reach no IOPF-capable HWPT: dropped. */
	ASSERT_EQ(0, trigger_iopf(self->fd, idev2, 8, 3, IOMMU_PGFAULT_PERM_READ, 0x5000));
	ASSERT_EQ(0, trigger_iopf(self->fd, idev2, 0, 3, IOMMU_PGFAULT_PERM_READ, 0x5000));
	EXPECT_EQ(POLLOUT, poll_now(self->qfd));

	/* The PASID's own DMA: a request tagged with it; mapped by the handler, it completes. */
	memset(self->buf, 0x3c, self->psz);
	j.dev = stdev2;
	ASSERT_EQ(0, dma_start(&j));
	ASSERT_EQ(sizeof(f), read_group(self->qfd, &f, 1));
	EXPECT_EQ(IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE, f.flags);
	EXPECT_EQ(7, f.pasid);
	EXPECT_EQ(IOVA, f.addr);
	ASSERT_EQ(0, ioas_map(self->fd, ioas3, self->buf, self->psz, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	ASSERT_EQ(8, respond(self->qfd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	ASSERT_EQ(0, j.rc);
	for (int i = 0; i < (int)sizeof(in); i++)
		ASSERT_EQ(0x3c, in[i]);

	/* A request left outstanding fails when the PASID is detached. */
	j = (struct dma_job){ .fd = self->fd, .dev = stdev2, .iova = IOVA + self->psz, .buf = in,
			      .len = sizeof(in), .pasid = 7 };
	ASSERT_EQ(0, dma_start(&j));
	ASSERT_EQ(sizeof(f), read_group(self->qfd, &f, 1));
	ASSERT_EQ(0, test_pasid_detach(self->fd, stdev2, 7));
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	EXPECT_EQ(-1, j.rc);
	EXPECT_EQ(EFAULT, j.err);
	EXPECT_LT(j.seconds, 4.0);
	ASSERT_EQ(0, destroy(self->fd, stdev2));
	ASSERT_EQ(0, destroy(self->fd, iopf));
}

TEST_F(fault, demand_paging_invalid_fails_the_dma)
{
	struct iommu_hwpt_pgfault f;
	char in[16];
	struct dma_job j = { .fd = self->fd, .dev = self->stdev, .iova = IOVA, .buf = in,
			     .len = sizeof(in) };

	attach_iopf(_metadata, self, true);
	ASSERT_EQ(0, dma_start(&j));
	ASSERT_EQ(sizeof(f), read_group(self->qfd, &f, 1));
	ASSERT_EQ(8, respond(self->qfd, f.cookie, IOMMUFD_PAGE_RESP_INVALID));
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	ASSERT_EQ(-1, j.rc);
	ASSERT_EQ(EFAULT, j.err);
	/* SUCCESS without mapping: the retried access faults again, EFAULT. */
	j = (struct dma_job){ .fd = self->fd, .dev = self->stdev, .iova = IOVA, .buf = in,
			      .len = sizeof(in) };
	ASSERT_EQ(0, dma_start(&j));
	ASSERT_EQ(sizeof(f), read_group(self->qfd, &f, 1));
	ASSERT_EQ(8, respond(self->qfd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	ASSERT_EQ(-1, j.rc);
	ASSERT_EQ(EFAULT, j.err);
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->ioas));
}

TEST_F(fault, a_dma_over_two_missing_pages_raises_one_group)
{
	struct iommu_hwpt_pgfault f[2];
	char *in = malloc(2 * self->psz);
	struct dma_job j = { .fd = self->fd, .dev = self->stdev, .iova = IOVA, .buf = in,
			     .len = 2 * self->psz };
	__u64 iova = IOVA;

	ASSERT_NE(NULL, in);
	attach_iopf(_metadata, self, false);
	memset(self->buf, 0x77, 2 * self->psz);
	ASSERT_EQ(0, dma_start(&j));
	/* Room for one record is no room for the group. */
	ASSERT_EQ(-1, read_group(self->qfd, f, 1));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(sizeof(f), read(self->qfd, f, sizeof(f)));
	ASSERT_EQ(0, f[0].flags);
	ASSERT_EQ(IOMMU_PGFAULT_FLAGS_LAST_PAGE, f[1].flags);
	ASSERT_EQ(f[0].cookie, f[1].cookie);
	ASSERT_EQ(f[0].grpid, f[1].grpid);
	ASSERT_EQ(IOVA, f[0].addr);
	ASSERT_EQ(IOVA + self->psz, f[1].addr);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, self->buf, 2 * self->psz, &iova,
			      RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	ASSERT_EQ(8, respond(self->qfd, f[0].cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	ASSERT_EQ(0, j.rc);
	for (long i = 0; i < 2 * self->psz; i++)
		ASSERT_EQ(0x77, in[i]);
	free(in);
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->ioas));
}

TEST_F(fault, closing_the_file_fails_outstanding_groups)
{
	struct iommu_hwpt_pgfault f;
	char in[16];
	struct dma_job j = { .fd = self->fd, .dev = self->stdev, .iova = IOVA, .buf = in,
			     .len = sizeof(in) };

	attach_iopf(_metadata, self, false);
	/* Read (outstanding), then the file goes: the DMA fails at once, not at its timeout. */
	ASSERT_EQ(0, dma_start(&j));
	ASSERT_EQ(sizeof(f), read_group(self->qfd, &f, 1));
	close(self->qfd);
	self->qfd = -1;
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	ASSERT_EQ(-1, j.rc);
	ASSERT_EQ(EFAULT, j.err);
	ASSERT_GT(4.0, j.seconds);
	/* Later requests fail at once: nobody can answer them. */
	ASSERT_EQ(-1, test_mock_dma(self->fd, self->stdev, IOVA, in, sizeof(in), false));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->ioas));
}

TEST_F(fault, destroying_the_hwpt_fails_its_groups)
{
	struct iommu_hwpt_pgfault f;
	__u32 hwpt = attach_iopf(_metadata, self, true);

	ASSERT_EQ(0, trigger_iopf(self->fd, self->idev, 0, 1, IOMMU_PGFAULT_PERM_READ, 0x1000));
	ASSERT_EQ(0, trigger_iopf(self->fd, self->idev, 0, 2, IOMMU_PGFAULT_PERM_READ, 0x2000));
	ASSERT_EQ(sizeof(f), read(self->qfd, &f, sizeof(f)));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->ioas));
	ASSERT_EQ(0, destroy(self->fd, hwpt));
	/* The outstanding group was failed (its cookie is gone), the queued one too. */
	EXPECT_ERRNO(EINVAL, respond(self->qfd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	ASSERT_EQ(0, read(self->qfd, &f, sizeof(f)));
	ASSERT_EQ(POLLOUT, poll_now(self->qfd));
}

TEST_F(fault, an_unanswered_request_times_out)
{
	struct iommu_hwpt_pgfault f;
	char in[16];
	struct dma_job j = { .fd = self->fd, .dev = self->stdev, .iova = IOVA, .buf = in,
			     .len = sizeof(in) };

	attach_iopf(_metadata, self, false);
	ASSERT_EQ(0, dma_start(&j));
	ASSERT_EQ(sizeof(f), read_group(self->qfd, &f, 1));
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	ASSERT_EQ(-1, j.rc);
	ASSERT_EQ(ETIMEDOUT, j.err);
	ASSERT_LT(4.0, j.seconds);
	/* The requester withdrew its group: a late answer names nothing. */
	EXPECT_ERRNO(EINVAL, respond(self->qfd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	ASSERT_EQ(0, test_mock_domain_replace(self->fd, self->stdev, self->ioas));
}

TEST_F(fault, the_file_outlives_the_context)
{
	struct iommu_hwpt_pgfault f;

	attach_iopf(_metadata, self, false);
	ASSERT_EQ(0, trigger_iopf(self->fd, self->idev, 0, 1, IOMMU_PGFAULT_PERM_READ, 0x1000));
	/* Closing /dev/ioasid destroys the queue object and fails its groups. */
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, read(self->qfd, &f, sizeof(f)));
	ASSERT_EQ(POLLOUT, poll_now(self->qfd));
}

/* Whether PCI device bdf has PCIe extended capability `id` (read from its config space). */
static int has_ext_cap(const char *bdf, unsigned int id)
{
	unsigned char cfg[4096];
	char path[320];
	unsigned int off = 0x100, hops = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = pread(fd, cfg, sizeof(cfg), 0);
	close(fd);
	if (n < 0x104)
		return 0; /* no extended configuration space: no PRI */
	while (off >= 0x100 && off + 4 <= (unsigned int)n && hops++ < 64) {
		__u32 hdr;

		memcpy(&hdr, cfg + off, 4);
		if (hdr == 0 || hdr == 0xffffffff)
			return 0;
		if ((hdr & 0xffff) == id)
			return 1;
		off = hdr >> 20;
	}
	return 0;
}

#define PCI_EXT_CAP_ID_PRI 0x13

/*
 * A real device (edu, behind the emulated VT-d or SMMUv3): ioasid takes page requests
 * from the mock IOMMU only, so an IOPF-capable HWPT for it is refused with EOPNOTSUPP;
 * what the device reports says why, and nothing is left behind.
 */
TEST(a_real_device_gets_no_iopf_capable_hwpt)
{
	struct edus e = { .n = 0 };
	struct iommu_hwpt_alloc cmd = { .size = sizeof(cmd), .flags = IOMMU_HWPT_FAULT_ID_VALID };
	volatile uint8_t *bar = NULL;
	int fd = -1, dev_fd = -1, qfd, pri;
	__u32 dev_id, ioas, fault, hwpt;

	for_each_pci_device(EDU_VENDOR, EDU_DEVICE, collect_edu, &e);
	if (e.n < 1)
		SKIP(return, "no edu device in this machine");
	ASSERT_EQ(0, edu_open(e.bdf[0], &fd, &dev_fd, &bar));
	ASSERT_EQ(0, device_bind(fd, dev_fd, &dev_id));
	ASSERT_EQ(0, ioas_alloc(fd, &ioas));
	ASSERT_EQ(0, fault_alloc(fd, 0, &fault, &qfd));
	pri = has_ext_cap(e.bdf[0], PCI_EXT_CAP_ID_PRI);
	ASSERT_LE(0, pri);
	TH_LOG("%s: %s", e.bdf[0],
	       pri ? "has PRI, but ioasid takes no page requests of real IOMMU drivers" :
		     "no PRI capability: the device cannot make page requests");
	cmd.dev_id = dev_id;
	cmd.pt_id = ioas;
	cmd.fault_id = fault;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(fd, IOMMU_HWPT_ALLOC, &cmd));
	/* The same without the flag works: the refusal is about page requests only. */
	ASSERT_EQ(0, hwpt_alloc(fd, 0, dev_id, ioas, 0, NULL, 0, &hwpt));
	ASSERT_EQ(0, destroy(fd, hwpt));
	/* Nothing holds the queue. */
	close(qfd);
	ASSERT_EQ(0, destroy(fd, fault));
	edu_release(e.bdf[0], fd, dev_fd, bar);
}

#define IOMMU_TEST_OP_TRIGGER_VEVENT 17
#define IOMMU_VEVENTQ_TYPE_SELFTEST 0xbeefbeef

static int veventq_alloc(int fd, __u32 flags, __u32 viommu, __u32 type, __u32 depth,
			 __u32 *id, int *qfd)
{
	struct iommu_veventq_alloc cmd = {
		.size = sizeof(cmd), .flags = flags, .viommu_id = viommu, .type = type,
		.veventq_depth = depth,
	};
	int rc = ioctl(fd, IOMMU_VEVENTQ_ALLOC, &cmd);

	if (!rc) {
		*id = cmd.out_veventq_id;
		*qfd = cmd.out_veventq_fd;
	}
	return rc;
}

static int trigger_vevent(int fd, __u32 dev_id)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_TRIGGER_VEVENT };

	memcpy(cmd.union_bytes, &dev_id, 4);
	return test_cmd(fd, &cmd);
}

/* One event of upstream's mock: a header and the virtual ID. */
struct mock_vevent {
	struct iommufd_vevent_header hdr;
	__u32 virt_id;
};

FIXTURE(veventq)
{
	int fd;
	__u32 ioas, stdev, auto_hwpt, idev, parent, plain, viommu, vdev;
};

FIXTURE_SETUP(veventq)
{
	self->fd = -1;
	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	self->fd = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	ASSERT_EQ(0, mock_nest_setup(self->fd, self->ioas, &self->stdev, &self->auto_hwpt,
				     &self->idev, &self->parent, &self->plain));
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev, self->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
				  NULL, 0, &self->viommu));
}

FIXTURE_TEARDOWN(veventq)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(veventq, alloc_rules)
{
	struct iommu_veventq_alloc reserved = {
		.size = sizeof(reserved), .viommu_id = self->viommu,
		.type = IOMMU_VEVENTQ_TYPE_SELFTEST, .veventq_depth = 2, .__reserved = 1,
	};
	__u32 id, id2;
	int qfd, qfd2;

	EXPECT_ERRNO(EOPNOTSUPP, veventq_alloc(self->fd, 1, self->viommu,
					       IOMMU_VEVENTQ_TYPE_SELFTEST, 2, &id, &qfd));
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_VEVENTQ_ALLOC, &reserved));
	EXPECT_ERRNO(EOPNOTSUPP, veventq_alloc(self->fd, 0, self->viommu,
					       IOMMU_VEVENTQ_TYPE_DEFAULT, 2, &id, &qfd));
	EXPECT_ERRNO(EINVAL, veventq_alloc(self->fd, 0, self->viommu,
					   IOMMU_VEVENTQ_TYPE_SELFTEST, 0, &id, &qfd));
	EXPECT_ERRNO(EINVAL, veventq_alloc(self->fd, 0, self->viommu,
					   IOMMU_VEVENTQ_TYPE_SELFTEST, (1U << 19) + 1, &id, &qfd));
	EXPECT_ERRNO(ENOENT, veventq_alloc(self->fd, 0, self->ioas, IOMMU_VEVENTQ_TYPE_SELFTEST,
					   2, &id, &qfd));
	ASSERT_EQ(0, veventq_alloc(self->fd, 0, self->viommu, IOMMU_VEVENTQ_TYPE_SELFTEST,
				   1U << 19, &id, &qfd));
	ASSERT_EQ(FD_CLOEXEC, fcntl(qfd, F_GETFD) & FD_CLOEXEC);
	/* One per type. */
	EXPECT_ERRNO(EEXIST, veventq_alloc(self->fd, 0, self->viommu,
					   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, &id2, &qfd2));
	ASSERT_EQ(0, veventq_alloc(self->fd, 0, self->viommu, 7, 2, &id2, &qfd2));
	/* Held: the vIOMMU by the vEVENTQs, each vEVENTQ by its open file. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->viommu));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, id));
	/* Nothing to read, nothing to write. */
	ASSERT_EQ(0, poll_now(qfd) & POLLIN);
	EXPECT_ERRNO(EINVAL, write(qfd, &id, 4));
	close(qfd);
	close(qfd2);
	ASSERT_EQ(0, destroy(self->fd, id));
	ASSERT_EQ(0, destroy(self->fd, id2));
	ASSERT_EQ(0, destroy(self->fd, self->viommu));
}

TEST_F(veventq, events_are_read_whole_and_in_sequence)
{
	struct mock_vevent ev[3];
	__u32 id;
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, 0, self->viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 4,
				   &id, &qfd));
	/* A device without a vDEVICE reports nothing. */
	EXPECT_ERRNO(ENOENT, trigger_vevent(self->fd, self->idev));
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, 0x99, &self->vdev));
	EXPECT_ERRNO(EINVAL, read(qfd, ev, 0));
	ASSERT_EQ(0, read(qfd, ev, sizeof(ev)));
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev));
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev));
	ASSERT_EQ(POLLIN | POLLRDNORM, poll_now(qfd) & (POLLIN | POLLRDNORM));
	EXPECT_ERRNO(EINVAL, read(qfd, ev, sizeof(ev[0].hdr) - 1));
	/* The header fits, the event does not. */
	EXPECT_ERRNO(EINVAL, read(qfd, ev, sizeof(ev[0].hdr)));
	EXPECT_ERRNO(ESPIPE, pread(qfd, ev, sizeof(ev), 4));
	/* Room for one and a half: one. */
	ASSERT_EQ(sizeof(ev[0]), read(qfd, ev, sizeof(ev[0]) + 4));
	ASSERT_EQ(0, ev[0].hdr.flags);
	ASSERT_EQ(0, ev[0].hdr.sequence);
	ASSERT_EQ(0x99, ev[0].virt_id);
	ASSERT_EQ(sizeof(ev[0]), read(qfd, ev, sizeof(ev)));
	ASSERT_EQ(1, ev[0].hdr.sequence);
	ASSERT_EQ(0, poll_now(qfd) & POLLIN);
	close(qfd);
	ASSERT_EQ(0, destroy(self->fd, id));
	/* Without a vEVENTQ of the type. */
	EXPECT_ERRNO(EOPNOTSUPP, trigger_vevent(self->fd, self->idev));
}

TEST_F(veventq, overflow_loses_events_visibly)
{
	struct mock_vevent ev[4];
	char buf[64];
	struct iommufd_vevent_header lost;
	__u32 id;
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, 0, self->viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 2,
				   &id, &qfd));
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, 0x88, &self->vdev));
	/* Three into a queue of two: the third is lost, and says so last. */
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, trigger_vevent(self->fd, self->idev));
	ASSERT_EQ(2 * sizeof(ev[0]) + sizeof(lost), read(qfd, buf, sizeof(buf)));
	memcpy(ev, buf, 2 * sizeof(ev[0]));
	memcpy(&lost, buf + 2 * sizeof(ev[0]), sizeof(lost));
	ASSERT_EQ(0, ev[0].hdr.sequence);
	ASSERT_EQ(1, ev[1].hdr.sequence);
	ASSERT_EQ(IOMMU_VEVENTQ_FLAG_LOST_EVENTS, lost.flags);
	ASSERT_EQ(2, lost.sequence);
	/* Read: gone. The next event follows the lost one. */
	ASSERT_EQ(0, read(qfd, buf, sizeof(buf)));
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev));
	ASSERT_EQ(sizeof(ev[0]), read(qfd, ev, sizeof(ev)));
	ASSERT_EQ(0, ev[0].hdr.flags);
	ASSERT_EQ(3, ev[0].hdr.sequence);
	/* Full again, two lost: a later event replaces the LOST header, the gap remains. */
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, trigger_vevent(self->fd, self->idev));
	ASSERT_EQ(sizeof(ev[0]), read(qfd, ev, sizeof(ev[0])));
	ASSERT_EQ(4, ev[0].hdr.sequence);
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev));
	ASSERT_EQ(2 * sizeof(ev[0]), read(qfd, ev, sizeof(ev)));
	ASSERT_EQ(5, ev[0].hdr.sequence);
	ASSERT_EQ(0, ev[1].hdr.flags);
	ASSERT_EQ(8, ev[1].hdr.sequence);
	close(qfd);
	ASSERT_EQ(0, destroy(self->fd, id));
}

TEST_F(veventq, a_deep_queue_read_one_event_at_a_time_keeps_its_order)
{
	struct mock_vevent ev;
	__u32 id, seq = 0;
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, 0, self->viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 300,
				   &id, &qfd));
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, 0x66, &self->vdev));
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 200; i++)
			ASSERT_EQ(0, trigger_vevent(self->fd, self->idev));
		/* Read half, one at a time, then queue more behind the rest. */
		for (int i = 0; i < 100; i++) {
			ASSERT_EQ(sizeof(ev), read(qfd, &ev, sizeof(ev)));
			ASSERT_EQ(seq++, ev.hdr.sequence);
			ASSERT_EQ(0x66, ev.virt_id);
		}
	}
	/* 200 left, nothing lost. */
	for (int i = 0; i < 200; i++) {
		ASSERT_EQ(sizeof(ev), read(qfd, &ev, sizeof(ev)));
		ASSERT_EQ(0, ev.hdr.flags);
		ASSERT_EQ(seq++, ev.hdr.sequence);
	}
	ASSERT_EQ(0, read(qfd, &ev, sizeof(ev)));
	close(qfd);
	ASSERT_EQ(0, destroy(self->fd, id));
}

TEST_F(veventq, the_file_outlives_the_context)
{
	struct mock_vevent ev;
	__u32 id;
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, 0, self->viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 2,
				   &id, &qfd));
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu, self->idev, 0x77, &self->vdev));
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev));
	close(self->fd);
	self->fd = -1;
	/* What was queued stays readable; the vIOMMU went with the context's objects. */
	ASSERT_EQ(sizeof(ev), read(qfd, &ev, sizeof(ev)));
	ASSERT_EQ(0x77, ev.virt_id);
	close(qfd);
}

TEST_HARNESS_MAIN
