// SPDX-License-Identifier: GPL-2.0
/*
 * Object lifetimes in /dev/ioasid's object table, with the module's mock IOMMU (test
 * interface, selftest=1):
 * - IOMMU_DESTROY gives EBUSY while another ioctl uses the object: an IOAS cannot go away
 *   between the lookup of a concurrent IOMMU_HWPT_ALLOC (or attach) and the HWPT that then
 *   depends on it, so a HWPT never outlives its IOAS's ID;
 * - an object becomes visible only once its reply reached the caller: when the reply
 *   cannot be written (EFAULT), no other thread ever saw the object, and everything it
 *   held (a mock device's attachment and automatic HWPT) is released.
 * Sized for TCG: a bounded number of rounds, each a few dozen ioctls.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "ioasid_utils.h"
#include "ioasid_ioas_utils.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define ROUNDS 200
#define USERS 3

static int iova_ranges_ok(int fd, __u32 ioas)
{
	struct iommu_ioas_iova_ranges cmd = { .size = sizeof(cmd), .ioas_id = ioas };

	/* No room for ranges: EMSGSIZE says the IOAS exists, ENOENT that it does not. */
	return ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &cmd) == 0 || errno == EMSGSIZE;
}

/* A mock device attached to pt_id; its test object and device IDs. */
static int mock_device(int fd, __u32 pt_id, __u32 *stdev, __u32 *idev)
{
	struct ioasid_test_cmd cmd = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = pt_id };
	int rc = test_cmd(fd, &cmd);

	if (!rc) {
		*stdev = cmd.mock_domain.out_stdev_id;
		*idev = cmd.mock_domain.out_idev_id;
	}
	return rc;
}

struct race {
	int fd;
	__u32 idev;		/* a mock device, for HWPT_ALLOC */
	__u32 src_ioas;		/* holds `buf`, the source of copies */
	__u64 src_iova;
	char *buf;
	long psz;
	_Atomic __u32 victim;	/* the IOAS being created and destroyed, 0 between rounds */
	atomic_bool done;
	/* What the users saw, checked by the test. */
	atomic_long hwpts, lost, maps, copies, replaces;
};

/*
 * A user of the victim IOAS: every operation that succeeded made something depend on it
 * or live in it; a HWPT on it must find it still there (DESTROY of the IOAS waits for the
 * HWPT to go: EBUSY).
 */
struct user {
	struct race *r;
	__u32 stdev;		/* this user's mock device, replaced onto the victim and back */
};

static void *user_thread(void *arg)
{
	struct user *u = arg;
	struct race *r = u->r;

	while (!atomic_load(&r->done)) {
		__u32 ioas = atomic_load(&r->victim), hwpt;
		__u64 iova = 0;

		if (!ioas)
			continue;
		if (!hwpt_alloc(r->fd, 0, r->idev, ioas, 0, NULL, 0, &hwpt)) {
			atomic_fetch_add(&r->hwpts, 1);
			/* The HWPT depends on the IOAS: it must exist and refuse DESTROY. */
			if (!iova_ranges_ok(r->fd, ioas) || !destroy(r->fd, ioas) || errno != EBUSY)
				atomic_fetch_add(&r->lost, 1);
			/* Another user's mock device may be attached to it for a moment. */
			while (destroy(r->fd, hwpt) && errno == EBUSY)
				sched_yield();
		}
		if (!ioas_map(r->fd, ioas, r->buf, r->psz, &iova, RW)) {
			atomic_fetch_add(&r->maps, 1);
			ioas_unmap(r->fd, ioas, iova, r->psz, NULL);
		}
		iova = 0;
		if (!ioas_copy(r->fd, ioas, r->src_ioas, r->src_iova, r->psz, &iova, RW))
			atomic_fetch_add(&r->copies, 1);
		{
			struct ioasid_test_cmd cmd = {
				.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
				.id = u->stdev,
				.mock_domain_replace = { .pt_id = ioas },
			};

			if (!test_cmd(r->fd, &cmd)) {
				atomic_fetch_add(&r->replaces, 1);
				/*
				 * Attached to an automatic HWPT of the victim (or, when the
				 * ID was reused meanwhile, to the HWPT that now has it):
				 * what it names is in use and must refuse DESTROY.
				 */
				if (!destroy(r->fd, ioas) || errno != EBUSY)
					atomic_fetch_add(&r->lost, 1);
				cmd.mock_domain_replace.pt_id = r->src_ioas;
				test_cmd(r->fd, &cmd);
			}
		}
	}
	return NULL;
}

FIXTURE(objects)
{
	int fd;
	long psz;
};

FIXTURE_SETUP(objects)
{
	if (!getenv("IOASID_SELFTEST"))
		SKIP(return, "needs the module loaded with selftest=1");
	self->psz = sysconf(_SC_PAGESIZE);
	self->fd = open(IOASID_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(objects)
{
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * Destroy races hwpt_alloc, attach (replace), map and copy on one IOAS: every DESTROY
 * either removes an unused IOAS or says EBUSY, and no HWPT or attachment ever finds its
 * IOAS gone. KASAN and kmemleak watch the teardown.
 */
TEST_F_TIMEOUT(objects, destroy_races_hwpt_alloc_attach_map_and_copy, 300)
{
	struct race r = { .fd = self->fd, .psz = self->psz };
	struct user users[USERS];
	pthread_t t[USERS];
	__u32 stdev, idev;
	long busy = 0;
	int i, round;

	r.buf = mmap(NULL, self->psz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r.buf);
	memset(r.buf, 0x5a, self->psz);
	ASSERT_EQ(0, ioas_alloc(self->fd, &r.src_ioas));
	ASSERT_EQ(0, mock_device(self->fd, r.src_ioas, &stdev, &r.idev));
	for (i = 0; i < USERS; i++) {
		users[i].r = &r;
		ASSERT_EQ(0, mock_device(self->fd, r.src_ioas, &users[i].stdev, &idev));
	}
	ASSERT_EQ(0, ioas_map(self->fd, r.src_ioas, r.buf, self->psz, &r.src_iova, RW));

	for (i = 0; i < USERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, user_thread, &users[i]));
	for (round = 0; round < ROUNDS; round++) {
		__u32 ioas;

		ASSERT_EQ(0, ioas_alloc(self->fd, &ioas));
		atomic_store(&r.victim, ioas);
		/* Let the users at it, then destroy it as soon as nothing uses it. */
		usleep(200);
		for (;;) {
			if (!destroy(self->fd, ioas))
				break;
			ASSERT_EQ(EBUSY, errno);
			busy++;
			/* Stop new users, so the IOAS drains. */
			atomic_store(&r.victim, 0);
			sched_yield();
		}
		atomic_store(&r.victim, 0);
		/* Gone for good: its ID answers ENOENT. */
		EXPECT_EQ(0, iova_ranges_ok(self->fd, ioas));
	}
	atomic_store(&r.done, true);
	for (i = 0; i < USERS; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));

	TH_LOG("%d rounds: %ld HWPTs, %ld maps, %ld copies, %ld replaces on the victim; %ld EBUSY",
	       ROUNDS, r.hwpts, r.maps, r.copies, r.replaces, busy);
	EXPECT_EQ(0, r.lost);
	/* The race was run, not just the rounds: users got in, and DESTROY met them. */
	EXPECT_LT(0, r.hwpts);
	EXPECT_LT(0, r.maps);
	EXPECT_LT(0, busy);
	/* Nothing is left pinned or attached: the source IOAS and devices go cleanly. */
	EXPECT_EQ(0, test_check_refs(self->fd, r.buf, self->psz, 1));
	EXPECT_EQ(0, destroy(self->fd, stdev));
	for (i = 0; i < USERS; i++)
		EXPECT_EQ(0, destroy(self->fd, users[i].stdev));
	EXPECT_EQ(0, destroy(self->fd, r.src_ioas));
	EXPECT_EQ(0, test_check_refs(self->fd, r.buf, self->psz, 0));
	munmap(r.buf, self->psz);
}

struct peek {
	int fd;
	atomic_bool done;
	atomic_long seen, looks;
};

/* Looks for objects at the lowest IDs, where the failed allocations would put theirs. */
static void *peek_thread(void *arg)
{
	struct peek *p = arg;

	while (!atomic_load(&p->done)) {
		__u32 id;

		for (id = 1; id <= 4; id++) {
			if (iova_ranges_ok(p->fd, id))
				atomic_fetch_add(&p->seen, 1);
			atomic_fetch_add(&p->looks, 1);
		}
	}
	return NULL;
}

/* The argument of an ioctl in memory the kernel can read but not write. */
static void *read_only_copy(const void *cmd, size_t len)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, cmd, len);
	if (mprotect(p, 4096, PROT_READ)) {
		munmap(p, 4096);
		return NULL;
	}
	return p;
}

/*
 * IOMMU_IOAS_ALLOC whose reply cannot be written: EFAULT, and the IOAS never existed:
 * another thread looking at the IDs it would have had never finds it, and its ID is free.
 */
TEST_F_TIMEOUT(objects, alloc_without_a_reply_is_never_visible, 120)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct peek p = { .fd = self->fd };
	void *ro = read_only_copy(&alloc, sizeof(alloc));
	pthread_t t;
	__u32 id;
	int i;

	ASSERT_NE(NULL, ro);
	ASSERT_EQ(0, pthread_create(&t, NULL, peek_thread, &p));
	for (i = 0; i < 2000; i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOC, ro));
		EXPECT_EQ(EFAULT, errno);
	}
	atomic_store(&p.done, true);
	ASSERT_EQ(0, pthread_join(t, NULL));
	TH_LOG("%ld looks at the IDs during 2000 failed allocations", p.looks);
	EXPECT_EQ(0, p.seen);
	EXPECT_LT(0, p.looks);
	/* No ID was used up: the next IOAS gets the first one. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(1, id);
	munmap(ro, 4096);
}

/*
 * A mock device whose reply cannot be written is unbound again: it leaves no attachment,
 * so the automatic HWPT it made goes, and the IOAS can be destroyed.
 */
TEST_F(objects, mock_device_without_a_reply_is_torn_down)
{
	struct ioasid_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
	};
	__u64 iova = MOCK_APERTURE_START;
	char *buf;
	void *ro;
	__u32 ioas, id;

	buf = mmap(NULL, self->psz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	memset(buf, 1, self->psz);
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas));
	/* Inside the mock's aperture, so a mock domain can be attached. */
	ASSERT_EQ(0, ioas_map(self->fd, ioas, buf, self->psz, &iova, RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	cmd.id = ioas;
	ro = read_only_copy(&cmd, sizeof(cmd));
	ASSERT_NE(NULL, ro);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_TEST_CMD, ro));
	EXPECT_EQ(EFAULT, errno);
	/* The domain that mapped buf is gone: nothing pins it. */
	EXPECT_EQ(0, test_check_refs(self->fd, buf, self->psz, 0));
	EXPECT_EQ(0, destroy(self->fd, ioas));
	/* Every ID it had is free again. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(1, id);
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(2, id);
	munmap(ro, 4096);
	munmap(buf, self->psz);
}

TEST_HARNESS_MAIN
