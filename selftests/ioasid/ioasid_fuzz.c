// SPDX-License-Identifier: GPL-2.0
/*
 * A stateful ioctl fuzzer of /dev/ioasid (first version): random but mostly valid
 * sequences over the IOAS, HWPT, mock-device (IOMMU_TEST_CMD) and access ioctls, by several
 * threads on two files at once.
 *
 * Each run (one seed) opens two /dev/ioasid files and starts THREADS threads. A thread
 * draws operations from its own generator (seeded from the run's seed and its index) and
 * remembers what they made: IOAS, HWPT and mock device IDs, mappings (IOAS, IOVA,
 * length), access files and their pinned ranges. Most arguments are valid ones from that
 * state; some are stale (destroyed), foreign (the other file's), of the wrong kind or
 * random; sizes, flags and reserved bytes are sometimes random, user pointers sometimes
 * NULL, unmapped or read-only, and one operation replaces a range other threads map from
 * with new pages (munmap under their ioctls).
 *
 * What counts as a failure:
 *  - an ioctl fails with an errno that no refusal documents (a leaked kernel-internal
 *    code, for example);
 *  - after the run (every file closed): the process's VmPin or VmLck not back to its
 *    baseline, or a page of the memory the run mapped still pinned
 *    (IOMMU_TEST_OP_MD_CHECK_REFS through a new file).
 * Kernel splats (KASAN, lockdep, kmemleak, WARN) fail the guest run (qemu-test/run).
 *
 * Reproducible: every run prints its seed; with one thread (-t 1) a seed replays exactly,
 * with several each thread's sequence does (their interleaving does not). A failure prints
 * the seed and the last operations of every thread, in the order they were issued.
 *
 * Usage: ioasid_fuzz [-s SEED] [-n RUNS] [-o OPS] [-t THREADS] [-T SECONDS]
 *   RUNS runs of OPS operations (per run, over all threads) from SEED, SEED+1, ...;
 *   with -T, new seeds until SECONDS have passed (at least one run).
 * Prints "FUZZ-RUN seed=S ops=N result=ok|FAIL" per run and, at the end,
 * "FUZZ-RESULT ops=N seeds=N failures=N". Exit status 0 without failures, 4 (kselftest
 * SKIP) without the test interface (the module loaded without selftest=1).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ioasid_utils.h"

#define PAGE 4096UL
#define MEM_PAGES 64		/* the memory the runs map from */
#define CHURN_PAGES 16		/* part of it that is replaced under the ioctls */
#define MAX_THREADS 16
#define NFILES 2
#define POOL 32			/* IDs remembered per kind and file */
#define LOG_LEN 48		/* operations kept per thread for a failure's report */

enum kind { K_IOAS, K_HWPT, K_STDEV, K_IDEV, K_NKINDS };
static const char *const kind_name[K_NKINDS] = { "ioas", "hwpt", "stdev", "idev" };

struct mapping {
	uint32_t ioas;
	uint64_t iova;
	uint64_t len;
};

struct access {
	int fd;			/* the access file, -1 when free */
	uint32_t pages[4];	/* access_pages IDs (0: none) */
};

/* What one file's operations made; guarded by state_lock. */
struct file_state {
	int fd;
	uint32_t ids[K_NKINDS][POOL];
	uint32_t nids[K_NKINDS];
	uint32_t stale[POOL];	/* destroyed IDs of any kind */
	uint32_t nstale;
	struct mapping maps[POOL];
	uint32_t nmaps;
	struct access acc[8];
};

static struct file_state files[NFILES];
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *mem;		/* MEM_PAGES pages, the last CHURN_PAGES replaced at times */
static uint8_t *ro;		/* a read-only page */
static uint8_t *hole;		/* a page no access reaches (PROT_NONE, kept mapped) */
static int memfd;		/* MEM_PAGES pages, for IOMMU_IOAS_MAP_FILE */
static atomic_ulong seq;	/* operation numbers, across threads */
static atomic_int failed;

struct op_log {
	unsigned long seq;
	char text[160];
};

struct thread {
	pthread_t th;
	int index;
	uint64_t rng;
	unsigned long ops;
	struct op_log log[LOG_LEN];
	unsigned long nlog;
};

static struct thread threads[MAX_THREADS];
static int nthreads = 4;

/* xorshift64*: the sequence of one thread. */
static uint64_t rnd(struct thread *t)
{
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return t->rng * 0x2545F4914F6CDD1DULL;
}

static uint32_t below(struct thread *t, uint32_t n)
{
	return n ? rnd(t) % n : 0;
}

/* True one time in n. */
static bool one_in(struct thread *t, uint32_t n)
{
	return below(t, n) == 0;
}

static void note(struct thread *t, const char *fmt, ...)
{
	struct op_log *l = &t->log[t->nlog++ % LOG_LEN];
	va_list ap;

	l->seq = atomic_fetch_add(&seq, 1);
	va_start(ap, fmt);
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	va_end(ap);
}

/* Errnos that ioasid's refusals use (include/uapi/linux/ioasid.h). */
static bool documented_errno(int e)
{
	switch (e) {
	case EPERM: case ENOENT: case EBADF: case ENOMEM: case EFAULT: case EBUSY:
	case EEXIST: case ENODEV: case EINVAL: case ENOSPC: case ERANGE: case ENOTTY:
	case E2BIG: case EOVERFLOW: case EOPNOTSUPP: case EADDRINUSE: case EMSGSIZE:
	case ENXIO: case EAGAIN: case EMFILE: case EBADE: case EBADFD: /* test interface: EBADE (access_pages check), EBADFD (not an access file) */
		return true;
	}
	return false;
}

static void fail(struct thread *t, const char *what)
{
	fprintf(stderr, "FUZZ-FAIL thread %d: %s\n", t ? t->index : -1, what);
	atomic_store(&failed, 1);
}

/*
 * Issues ioctl nr on fd with arg (len bytes), logs it (with a summary) and checks the
 * errno. The call goes through a copy in a buffer larger than any size it may get (so
 * that a size above len reads trailing bytes of that buffer, zero or not, never the
 * caller's stack), copied back after. Sometimes the pointer is a bad one, the size field
 * random, or a bit of the structure flipped: not when the structure points at memory the
 * kernel writes, which a flipped length would overrun, or maps memory that DMA then
 * writes (outputs), where a flipped address could be the fuzzer's own stack.
 */
static int fuzz_ioctl(struct thread *t, int fd, unsigned long nr, void *arg, size_t len,
		      bool outputs, const char *name, const char *summary)
{
	uint64_t buf[64] = { 0 };	/* 512 bytes, aligned */
	void *p = buf;
	int ret, err;

	memcpy(buf, arg, len);
	if (one_in(t, 64)) {
		void *bad[] = { NULL, hole, ro, (void *)-4096L };

		p = bad[below(t, 4)];
	} else if (one_in(t, 24)) {
		/* A size from 0 to len + 64, with random trailing bytes at times. */
		uint32_t size = below(t, len + 65);

		if (size > len && one_in(t, 3))
			((uint8_t *)buf)[len + below(t, size - len)] = 1 + below(t, 255);
		memcpy(buf, &size, sizeof(size));
	} else if (!outputs && one_in(t, 24) && len > 4) {
		((uint8_t *)buf)[4 + below(t, len - 4)] ^= 1 << below(t, 8);
	}
	ret = ioctl(fd, nr, p);
	err = errno;
	memcpy(arg, buf, len);
	note(t, "fd%d %s %s%s -> %d %s", fd, name, summary, p != buf ? " (bad arg ptr)" : "",
	     ret, ret < 0 ? strerror(err) : "");
	if (ret < 0 && !documented_errno(err)) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s: undocumented errno %d", name, err);
		fail(t, msg);
	}
	errno = err;
	return ret;
}

/* --- the state ------------------------------------------------------------------------- */

static void remember(struct file_state *f, enum kind k, uint32_t id)
{
	pthread_mutex_lock(&state_lock);
	if (f->nids[k] < POOL)
		f->ids[k][f->nids[k]++] = id;
	else
		f->ids[k][id % POOL] = id;
	pthread_mutex_unlock(&state_lock);
}

static void forget_id(struct file_state *f, uint32_t id)
{
	int k;

	pthread_mutex_lock(&state_lock);
	for (k = 0; k < K_NKINDS; k++)
		for (uint32_t i = 0; i < f->nids[k]; i++)
			if (f->ids[k][i] == id)
				f->ids[k][i] = f->ids[k][--f->nids[k]];
	f->stale[f->nstale++ % POOL] = id;
	pthread_mutex_unlock(&state_lock);
}

/*
 * An ID of kind k for file f: a remembered one mostly; sometimes a stale one, one of
 * another kind, the other file's, or a random value.
 */
static uint32_t pick(struct thread *t, struct file_state *f, enum kind k)
{
	struct file_state *other = &files[(f - files + 1) % NFILES];
	uint32_t id = 0, r = below(t, 100);

	pthread_mutex_lock(&state_lock);
	if (r < 82 && f->nids[k])
		id = f->ids[k][below(t, f->nids[k])];
	else if (r < 88 && f->nstale)
		id = f->stale[below(t, f->nstale < POOL ? f->nstale : POOL)];
	else if (r < 93) {
		enum kind o = below(t, K_NKINDS);

		if (f->nids[o])
			id = f->ids[o][below(t, f->nids[o])];
	} else if (r < 96 && other->nids[k]) {
		id = other->ids[k][below(t, other->nids[k])];
	} else {
		uint32_t odd[] = { 0, 1, 0xffffffff, 0x80000000 };

		id = one_in(t, 2) ? odd[below(t, 4)] : below(t, 64);
	}
	pthread_mutex_unlock(&state_lock);
	return id;
}

static bool pick_mapping(struct thread *t, struct file_state *f, struct mapping *m)
{
	bool found = false;

	pthread_mutex_lock(&state_lock);
	if (f->nmaps) {
		*m = f->maps[below(t, f->nmaps)];
		found = true;
	}
	pthread_mutex_unlock(&state_lock);
	return found;
}

static void remember_mapping(struct file_state *f, uint32_t ioas, uint64_t iova, uint64_t len)
{
	pthread_mutex_lock(&state_lock);
	f->maps[f->nmaps < POOL ? f->nmaps++ : iova / PAGE % POOL] =
		(struct mapping){ ioas, iova, len };
	pthread_mutex_unlock(&state_lock);
}

/* A user range of the run's memory (page aligned mostly), or a bad one. */
static void user_range(struct thread *t, __u64 *va, __u64 *len)
{
	uint32_t first = below(t, MEM_PAGES), n = 1 + below(t, MEM_PAGES - first);

	*va = (uintptr_t)mem + first * PAGE;
	*len = n * PAGE;
	if (one_in(t, 16))
		*va += below(t, PAGE);
	if (one_in(t, 16))
		*len = below(t, 4) ? below(t, 3 * PAGE) : ~0ULL - below(t, PAGE);
	if (one_in(t, 32)) {
		uint64_t bad[] = { 0, (uintptr_t)hole, (uintptr_t)ro, ~0ULL - PAGE + 1 };

		*va = bad[below(t, 4)];
	}
}

/* An IOVA: inside the mock aperture mostly, anywhere sometimes. */
static uint64_t some_iova(struct thread *t)
{
	if (one_in(t, 10))
		return rnd(t) & ~(one_in(t, 2) ? 0ULL : PAGE - 1);
	return MOCK_APERTURE_START + (uint64_t)below(t, 4096) * PAGE;
}

/* --- the operations -------------------------------------------------------------------- */

static void op_ioas_alloc(struct thread *t, struct file_state *f)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };

	if (one_in(t, 16))
		a.flags = 1 << below(t, 32);
	if (!fuzz_ioctl(t, f->fd, IOMMU_IOAS_ALLOC, &a, sizeof(a), false, "ioas_alloc", "") &&
	    a.size == sizeof(a))
		remember(f, K_IOAS, a.out_ioas_id);
}

static void op_destroy(struct thread *t, struct file_state *f)
{
	enum kind k = below(t, K_NKINDS);
	struct iommu_destroy d = { .size = sizeof(d), .id = pick(t, f, k) };
	char s[32];

	snprintf(s, sizeof(s), "id=%u (a %s)", d.id, kind_name[k]);
	if (!fuzz_ioctl(t, f->fd, IOMMU_DESTROY, &d, sizeof(d), false, "destroy", s))
		forget_id(f, d.id);
}

static void op_map(struct thread *t, struct file_state *f)
{
	struct iommu_ioas_map m = { .size = sizeof(m), .ioas_id = pick(t, f, K_IOAS) };
	char s[128];

	user_range(t, &m.user_va, &m.length);
	m.flags = IOMMU_IOAS_MAP_READABLE | (one_in(t, 4) ? 0 : IOMMU_IOAS_MAP_WRITEABLE);
	if (one_in(t, 2)) {
		m.flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
		m.iova = some_iova(t);
	}
	if (one_in(t, 20))
		m.flags = rnd(t);
	if (one_in(t, 32))
		m.__reserved = 1;
	snprintf(s, sizeof(s), "ioas=%u flags=%#x va=%#llx len=%#llx iova=%#llx", m.ioas_id,
		 m.flags, (unsigned long long)m.user_va, (unsigned long long)m.length,
		 (unsigned long long)m.iova);
	if (!fuzz_ioctl(t, f->fd, IOMMU_IOAS_MAP, &m, sizeof(m), true, "ioas_map", s))
		remember_mapping(f, m.ioas_id, m.iova, m.length);
}

static void op_map_file(struct thread *t, struct file_state *f)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m), .ioas_id = pick(t, f, K_IOAS), .fd = memfd,
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
	};
	uint32_t first = below(t, MEM_PAGES);
	char s[128];

	m.start = first * PAGE + (one_in(t, 16) ? below(t, PAGE) : 0);
	m.length = (1 + below(t, MEM_PAGES - first)) * PAGE;
	if (one_in(t, 16))
		m.fd = one_in(t, 2) ? -1 : f->fd;
	if (one_in(t, 2)) {
		m.flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
		m.iova = some_iova(t);
	}
	snprintf(s, sizeof(s), "ioas=%u fd=%d start=%#llx len=%#llx iova=%#llx", m.ioas_id, m.fd,
		 (unsigned long long)m.start, (unsigned long long)m.length,
		 (unsigned long long)m.iova);
	if (!fuzz_ioctl(t, f->fd, IOMMU_IOAS_MAP_FILE, &m, sizeof(m), false, "ioas_map_file", s))
		remember_mapping(f, m.ioas_id, m.iova, m.length);
}

static void op_unmap(struct thread *t, struct file_state *f)
{
	struct iommu_ioas_unmap u = { .size = sizeof(u) };
	struct mapping m;
	char s[96];

	if (pick_mapping(t, f, &m) && !one_in(t, 5)) {
		u.ioas_id = m.ioas;
		u.iova = m.iova;
		u.length = m.len;
		if (one_in(t, 6))	/* cut through it */
			u.length = (1 + below(t, 4)) * PAGE;
	} else {
		u.ioas_id = pick(t, f, K_IOAS);
		u.iova = one_in(t, 2) ? 0 : some_iova(t);
		u.length = one_in(t, 2) ? ~0ULL : (uint64_t)below(t, 64) * PAGE;
	}
	snprintf(s, sizeof(s), "ioas=%u iova=%#llx len=%#llx", u.ioas_id,
		 (unsigned long long)u.iova, (unsigned long long)u.length);
	fuzz_ioctl(t, f->fd, IOMMU_IOAS_UNMAP, &u, sizeof(u), false, "ioas_unmap", s);
}

static void op_copy(struct thread *t, struct file_state *f)
{
	struct iommu_ioas_copy c = {
		.size = sizeof(c),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.dst_ioas_id = pick(t, f, K_IOAS),
	};
	struct mapping m;
	char s[128];

	if (!pick_mapping(t, f, &m))
		m = (struct mapping){ pick(t, f, K_IOAS), some_iova(t), PAGE };
	c.src_ioas_id = m.ioas;
	c.src_iova = m.iova;
	c.length = one_in(t, 4) ? PAGE : m.len;
	if (one_in(t, 2)) {
		c.flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
		c.dst_iova = some_iova(t);
	}
	snprintf(s, sizeof(s), "dst=%u src=%u src_iova=%#llx len=%#llx dst_iova=%#llx",
		 c.dst_ioas_id, c.src_ioas_id, (unsigned long long)c.src_iova,
		 (unsigned long long)c.length, (unsigned long long)c.dst_iova);
	if (!fuzz_ioctl(t, f->fd, IOMMU_IOAS_COPY, &c, sizeof(c), false, "ioas_copy", s))
		remember_mapping(f, c.dst_ioas_id, c.dst_iova, c.length);
}

static void op_iova_ranges(struct thread *t, struct file_state *f)
{
	struct iommu_iova_range r[4];
	struct iommu_ioas_iova_ranges q = {
		.size = sizeof(q), .ioas_id = pick(t, f, K_IOAS), .num_iovas = below(t, 5),
		.allowed_iovas = (uintptr_t)r,
	};

	if (one_in(t, 16))
		q.allowed_iovas = (uintptr_t)(one_in(t, 2) ? ro : hole);
	fuzz_ioctl(t, f->fd, IOMMU_IOAS_IOVA_RANGES, &q, sizeof(q), true, "iova_ranges", "");
}

static void op_allow_iovas(struct thread *t, struct file_state *f)
{
	struct iommu_iova_range r[2] = {
		{ MOCK_APERTURE_START, MOCK_APERTURE_START + 2048 * PAGE - 1 },
		{ MOCK_APERTURE_START + 4096 * PAGE, MOCK_APERTURE_LAST },
	};
	struct iommu_ioas_allow_iovas a = {
		.size = sizeof(a), .ioas_id = pick(t, f, K_IOAS), .num_iovas = below(t, 3),
		.allowed_iovas = (uintptr_t)r,
	};

	if (one_in(t, 4))
		r[below(t, 2)].last = rnd(t);
	fuzz_ioctl(t, f->fd, IOMMU_IOAS_ALLOW_IOVAS, &a, sizeof(a), false, "allow_iovas", "");
}

static void op_option(struct thread *t, struct file_state *f)
{
	struct iommu_option o = {
		.size = sizeof(o), .option_id = below(t, 3), .op = below(t, 3),
		.val64 = below(t, 3),
	};

	/* RLIMIT_MODE is global (object 0) and needs CAP_SYS_RESOURCE: leave it alone. */
	if (o.option_id == IOMMU_OPTION_RLIMIT_MODE && o.op == IOMMU_OPTION_OP_SET)
		o.op = IOMMU_OPTION_OP_GET;
	o.object_id = o.option_id == IOMMU_OPTION_HUGE_PAGES ? pick(t, f, K_IOAS) : 0;
	fuzz_ioctl(t, f->fd, IOMMU_OPTION, &o, sizeof(o), false, "option", "");
}

static void op_hwpt_alloc(struct thread *t, struct file_state *f)
{
	struct iommu_hwpt_alloc h = {
		.size = sizeof(h), .dev_id = pick(t, f, K_IDEV),
		.pt_id = pick(t, f, one_in(t, 4) ? K_HWPT : K_IOAS),
	};
	char s[64];

	if (one_in(t, 3))
		h.flags = 1 << below(t, 4);
	snprintf(s, sizeof(s), "dev=%u pt=%u flags=%#x", h.dev_id, h.pt_id, h.flags);
	if (!fuzz_ioctl(t, f->fd, IOMMU_HWPT_ALLOC, &h, sizeof(h), false, "hwpt_alloc", s))
		remember(f, K_HWPT, h.out_hwpt_id);
}

static void op_dirty(struct thread *t, struct file_state *f)
{
	uint64_t bitmap[8] = { 0 };

	if (one_in(t, 2)) {
		struct iommu_hwpt_set_dirty_tracking d = {
			.size = sizeof(d), .hwpt_id = pick(t, f, K_HWPT), .flags = below(t, 2),
		};

		fuzz_ioctl(t, f->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &d, sizeof(d), false, "set_dirty", "");
	} else {
		struct iommu_hwpt_get_dirty_bitmap g = {
			.size = sizeof(g), .hwpt_id = pick(t, f, K_HWPT), .flags = below(t, 2),
			.iova = some_iova(t), .length = (1 + below(t, 256)) * PAGE,
			.page_size = PAGE << below(t, 2), .data = (uintptr_t)bitmap,
		};

		if (one_in(t, 16))
			g.data = (uintptr_t)(one_in(t, 2) ? ro : hole);
		fuzz_ioctl(t, f->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g, sizeof(g), true, "get_dirty", "");
	}
}

static void op_hw_info(struct thread *t, struct file_state *f)
{
	uint8_t data[64];
	struct iommu_hw_info h = {
		.size = sizeof(h), .dev_id = pick(t, f, K_IDEV), .data_len = below(t, 65),
		.data_uptr = (uintptr_t)data,
	};

	fuzz_ioctl(t, f->fd, IOMMU_GET_HW_INFO, &h, sizeof(h), true, "hw_info", "");
}

static void op_vfio_ioas(struct thread *t, struct file_state *f)
{
	struct iommu_vfio_ioas v = {
		.size = sizeof(v), .ioas_id = pick(t, f, K_IOAS), .op = below(t, 4),
	};

	fuzz_ioctl(t, f->fd, IOMMU_VFIO_IOAS, &v, sizeof(v), false, "vfio_ioas", "");
}

/* IOMMU_TEST_CMD; outputs: it writes memory at c's pointer (access_rw, mock_dma). */
static int test_op(struct thread *t, struct file_state *f, struct ioasid_test_cmd *c,
		   bool outputs, const char *name, const char *s)
{
	c->size = sizeof(*c);
	return fuzz_ioctl(t, f->fd, IOMMU_TEST_CMD, c, sizeof(*c), outputs, name, s);
}

static void op_mock_domain(struct thread *t, struct file_state *f)
{
	struct ioasid_test_cmd c = {
		.op = one_in(t, 4) ? IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS : IOMMU_TEST_OP_MOCK_DOMAIN,
		.id = pick(t, f, one_in(t, 4) ? K_HWPT : K_IOAS),
	};
	char s[32];

	if (c.op == IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS)
		c.mock_domain_flags.dev_flags = below(t, 4);
	snprintf(s, sizeof(s), "pt=%u", c.id);
	if (!test_op(t, f, &c, false, "mock_domain", s)) {
		remember(f, K_STDEV, c.mock_domain.out_stdev_id);
		remember(f, K_HWPT, c.mock_domain.out_hwpt_id);
		remember(f, K_IDEV, c.mock_domain.out_idev_id);
	}
}

static void op_mock_replace(struct thread *t, struct file_state *f)
{
	struct ioasid_test_cmd c = {
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, .id = pick(t, f, K_STDEV),
	};
	char s[48];

	c.mock_domain_replace.pt_id = pick(t, f, one_in(t, 2) ? K_HWPT : K_IOAS);
	snprintf(s, sizeof(s), "stdev=%u pt=%u", c.id, c.mock_domain_replace.pt_id);
	if (!test_op(t, f, &c, false, "mock_replace", s) && c.mock_domain_replace.pt_id)
		remember(f, K_HWPT, c.mock_domain_replace.pt_id);
}

static void op_mock_dma(struct thread *t, struct file_state *f)
{
	uint8_t buf[256];
	struct ioasid_test_cmd c = { .op = IOASID_TEST_OP_MOCK_DMA, .id = pick(t, f, K_STDEV) };
	struct mapping m;
	char s[64];

	if (!pick_mapping(t, f, &m))
		m = (struct mapping){ 0, some_iova(t), PAGE };
	c.access_rw.iova = m.iova + below(t, m.len ? m.len : 1);
	c.access_rw.length = 1 + below(t, sizeof(buf));
	c.access_rw.uptr = (uintptr_t)buf;
	c.access_rw.flags = below(t, 2);
	snprintf(s, sizeof(s), "dev=%u iova=%#llx len=%llu", c.id,
		 (unsigned long long)c.access_rw.iova, (unsigned long long)c.access_rw.length);
	test_op(t, f, &c, true, "mock_dma", s);
}

/* An access file of f (creating one on an IOAS), or -1. */
static void op_access(struct thread *t, struct file_state *f)
{
	struct access *a = &f->acc[below(t, 8)];
	struct ioasid_test_cmd c = { 0 };
	struct mapping m;
	char s[96];
	int afd;

	pthread_mutex_lock(&state_lock);
	afd = a->fd;
	pthread_mutex_unlock(&state_lock);
	if (afd < 0) {
		c.op = IOMMU_TEST_OP_CREATE_ACCESS;
		c.id = pick(t, f, K_IOAS);
		c.create_access.flags = below(t, 3);
		snprintf(s, sizeof(s), "ioas=%u", c.id);
		if (!test_op(t, f, &c, false, "create_access", s)) {
			pthread_mutex_lock(&state_lock);
			if (a->fd < 0)
				a->fd = c.create_access.out_access_fd;
			else
				close(c.create_access.out_access_fd);
			pthread_mutex_unlock(&state_lock);
		}
		return;
	}
	if (!pick_mapping(t, f, &m))
		m = (struct mapping){ 0, some_iova(t), PAGE };
	switch (below(t, 5)) {
	case 0: {
		uint32_t slot = below(t, 4);

		c.op = IOMMU_TEST_OP_ACCESS_PAGES;
		c.id = afd;
		c.access_pages.flags = below(t, 2);
		c.access_pages.iova = m.iova + (one_in(t, 4) ? below(t, m.len ? m.len : 1) : 0);
		c.access_pages.length = one_in(t, 3) ? m.len : (1 + below(t, 4)) * PAGE;
		c.access_pages.uptr = (uintptr_t)mem;
		snprintf(s, sizeof(s), "afd=%d iova=%#llx len=%#llx", afd,
			 (unsigned long long)c.access_pages.iova,
			 (unsigned long long)c.access_pages.length);
		if (!test_op(t, f, &c, false, "access_pages", s)) {
			uint32_t old;

			pthread_mutex_lock(&state_lock);
			old = a->pages[slot];
			a->pages[slot] = c.access_pages.out_access_pages_id;
			pthread_mutex_unlock(&state_lock);
			if (old) {
				/* Unpin what the slot held (or it stays until the access closes). */
				struct ioasid_test_cmd d = { .op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
							     .id = afd };

				d.destroy_access_pages.access_pages_id = old;
				test_op(t, f, &d, false, "destroy_access_pages", "");
			}
		}
		break;
	}
	case 1: {
		uint8_t buf[512];

		c.op = IOMMU_TEST_OP_ACCESS_RW;
		c.id = afd;
		c.access_rw.iova = m.iova + below(t, m.len ? m.len : 1);
		c.access_rw.length = 1 + below(t, sizeof(buf));
		c.access_rw.uptr = (uintptr_t)buf;
		c.access_rw.flags = below(t, 2) | (one_in(t, 4) ? 4 : 0);
		snprintf(s, sizeof(s), "afd=%d iova=%#llx len=%llu", afd,
			 (unsigned long long)c.access_rw.iova,
			 (unsigned long long)c.access_rw.length);
		test_op(t, f, &c, true, "access_rw", s);
		break;
	}
	case 2: {
		uint32_t slot = below(t, 4), id;

		pthread_mutex_lock(&state_lock);
		id = a->pages[slot];
		a->pages[slot] = 0;
		pthread_mutex_unlock(&state_lock);
		c.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES;
		c.id = afd;
		c.destroy_access_pages.access_pages_id = one_in(t, 8) ? below(t, 16) : id;
		test_op(t, f, &c, false, "destroy_access_pages", "");
		break;
	}
	case 3:
		c.op = IOMMU_TEST_OP_ACCESS_REPLACE_IOAS;
		c.id = afd;
		*(uint32_t *)c.union_bytes = pick(t, f, K_IOAS);
		snprintf(s, sizeof(s), "afd=%d ioas=%u", afd, *(uint32_t *)c.union_bytes);
		test_op(t, f, &c, false, "access_replace_ioas", s);
		break;
	default:
		/* Closing the access file releases what it pinned. */
		pthread_mutex_lock(&state_lock);
		if (a->fd == afd) {
			a->fd = -1;
			memset(a->pages, 0, sizeof(a->pages));
			pthread_mutex_unlock(&state_lock);
			note(t, "close access fd %d", afd);
			close(afd);
		} else {
			pthread_mutex_unlock(&state_lock);
		}
	}
}

static void op_add_reserved(struct thread *t, struct file_state *f)
{
	struct ioasid_test_cmd c = { .op = IOMMU_TEST_OP_ADD_RESERVED, .id = pick(t, f, K_IOAS) };

	c.add_reserved.start = some_iova(t);
	c.add_reserved.length = (uint64_t)below(t, 8) * PAGE;
	test_op(t, f, &c, false, "add_reserved", "");
}

/* New pages under the churn range, while other threads may be mapping it. */
static void op_churn(struct thread *t, struct file_state *f)
{
	uint8_t *churn = mem + (MEM_PAGES - CHURN_PAGES) * PAGE;
	void *p;

	note(t, "churn: munmap and map again the last %d pages", CHURN_PAGES);
	munmap(churn, CHURN_PAGES * PAGE);
	p = mmap(churn, CHURN_PAGES * PAGE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p != churn)
		fail(t, "churn: mmap MAP_FIXED failed");
}

static void op_unknown(struct thread *t, struct file_state *f)
{
	uint8_t arg[128] = { 0 };
	unsigned long nr = _IO(IOMMUFD_TYPE, 0x80 + below(t, 0x60));

	*(uint32_t *)arg = below(t, sizeof(arg));
	for (unsigned int i = 4; i < sizeof(arg); i++)
		if (one_in(t, 8))
			arg[i] = rnd(t);
	fuzz_ioctl(t, f->fd, nr, arg, sizeof(arg), false, "raw", "");
}

struct op {
	void (*fn)(struct thread *t, struct file_state *f);
	unsigned int weight;
};

static const struct op ops[] = {
	{ op_ioas_alloc, 6 }, { op_destroy, 5 }, { op_map, 12 }, { op_map_file, 3 },
	{ op_unmap, 8 }, { op_copy, 5 }, { op_iova_ranges, 2 }, { op_allow_iovas, 1 },
	{ op_option, 2 }, { op_hwpt_alloc, 4 }, { op_dirty, 2 }, { op_hw_info, 1 },
	{ op_vfio_ioas, 1 }, { op_mock_domain, 6 }, { op_mock_replace, 3 },
	{ op_mock_dma, 4 }, { op_access, 8 }, { op_add_reserved, 1 },
	{ op_churn, 1 }, { op_unknown, 1 },
};

static unsigned long ops_per_thread;

static void *thread_main(void *arg)
{
	struct thread *t = arg;
	unsigned int total = 0, i, w;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		total += ops[i].weight;
	for (t->ops = 0; t->ops < ops_per_thread && !atomic_load(&failed); t->ops++) {
		struct file_state *f = &files[one_in(t, 4) ? 1 : 0];

		w = below(t, total);
		for (i = 0; w >= ops[i].weight; i++)
			w -= ops[i].weight;
		ops[i].fn(t, f);
	}
	return NULL;
}

/* The last operations of every thread, in the order they were issued. */
static void print_log(void)
{
	unsigned long printed = 0, next;

	fprintf(stderr, "FUZZ-LOG the last operations (seq thread: operation):\n");
	for (;;) {
		struct op_log *best = NULL;
		int who = -1;

		next = ~0UL;
		for (int i = 0; i < nthreads; i++) {
			struct thread *t = &threads[i];
			unsigned long n = t->nlog < LOG_LEN ? t->nlog : LOG_LEN;

			for (unsigned long j = 0; j < n; j++) {
				struct op_log *l = &t->log[j];

				if (l->seq >= printed && l->seq < next) {
					next = l->seq;
					best = l;
					who = i;
				}
			}
		}
		if (!best)
			break;
		fprintf(stderr, "FUZZ-LOG %lu t%d: %s\n", best->seq, who, best->text);
		printed = next + 1;
	}
}

/* Marks in open[] the descriptors the process has open (below 1024). */
static void open_fds(bool *open)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");

	memset(open, 0, 1024);
	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] != '.' && fd >= 0 && fd < 1024 && fd != dirfd(d))
			open[fd] = true;
	}
	closedir(d);
}

static long status_kb(const char *field)
{
	return proc_status_kb(getpid(), field);
}

/* One run: two files, nthreads threads, ops operations; 0 when every invariant holds. */
static int run(uint64_t seed, unsigned long ops_total)
{
	long pin0 = status_kb("VmPin"), lck0 = status_kb("VmLck");
	struct ioasid_test_cmd refs = { .op = IOMMU_TEST_OP_MD_CHECK_REFS };
	bool before[1024], after[1024];
	int i, j, check;

	open_fds(before);
	atomic_store(&failed, 0);
	atomic_store(&seq, 0);
	memset(files, 0, sizeof(files));
	for (i = 0; i < NFILES; i++) {
		files[i].fd = open(IOASID_DEV, O_RDWR | O_CLOEXEC);
		if (files[i].fd < 0) {
			perror("open " IOASID_DEV);
			return -1;
		}
		for (j = 0; j < 8; j++)
			files[i].acc[j].fd = -1;
	}
	ops_per_thread = (ops_total + nthreads - 1) / nthreads;
	for (i = 0; i < nthreads; i++) {
		memset(&threads[i], 0, sizeof(threads[i]));
		threads[i].index = i;
		threads[i].rng = (seed + 1) * 0x9E3779B97F4A7C15ULL + i * 0xBF58476D1CE4E5B9ULL;
		if (!threads[i].rng)
			threads[i].rng = 1;
		pthread_create(&threads[i].th, NULL, thread_main, &threads[i]);
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i].th, NULL);
	/* Everything goes with the files: then nothing stays pinned or charged. */
	for (i = 0; i < NFILES; i++) {
		for (j = 0; j < 8; j++)
			if (files[i].acc[j].fd >= 0)
				close(files[i].acc[j].fd);
		close(files[i].fd);
	}
	/*
	 * And access files made by mutated calls (a flipped op number, a raw IOMMU_TEST_CMD),
	 * which the state does not know: each holds its IOAS, and so its pins.
	 */
	open_fds(after);
	for (i = 0; i < 1024; i++)
		if (after[i] && !before[i])
			close(i);
	if (status_kb("VmPin") != pin0 || status_kb("VmLck") != lck0) {
		fprintf(stderr, "FUZZ-FAIL VmPin %ld kB (was %ld), VmLck %ld kB (was %ld) after close\n",
			status_kb("VmPin"), pin0, status_kb("VmLck"), lck0);
		atomic_store(&failed, 1);
	}
	check = open(IOASID_DEV, O_RDWR | O_CLOEXEC);
	refs.check_refs.length = MEM_PAGES * PAGE;
	refs.check_refs.uptr = (uintptr_t)mem;
	refs.check_refs.refs = 0;
	if (check < 0 || test_cmd(check, &refs)) {
		fprintf(stderr, "FUZZ-FAIL pages of the run's memory still pinned after close: %s\n",
			strerror(errno));
		atomic_store(&failed, 1);
	}
	if (check >= 0)
		close(check);
	if (atomic_load(&failed)) {
		fprintf(stderr, "FUZZ-FAIL seed=%llu threads=%d ops=%lu\n", (unsigned long long)seed,
			nthreads, ops_total);
		print_log();
		return 1;
	}
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t seed = (uint64_t)time(NULL) ^ getpid();
	unsigned long runs = 1, ops_total = 2000, done = 0, nfail = 0, total_ops = 0;
	double seconds = 0, t0 = now();
	struct ioasid_test_cmd probe = { .op = IOMMU_TEST_OP_MD_CHECK_REFS };
	int opt, fd;

	while ((opt = getopt(argc, argv, "s:n:o:t:T:")) != -1) {
		switch (opt) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'n': runs = strtoul(optarg, NULL, 0); break;
		case 'o': ops_total = strtoul(optarg, NULL, 0); break;
		case 't': nthreads = atoi(optarg); break;
		case 'T': seconds = atof(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-s SEED] [-n RUNS] [-o OPS] [-t THREADS] [-T SECONDS]\n",
				argv[0]);
			return 2;
		}
	}
	if (nthreads < 1 || nthreads > MAX_THREADS)
		nthreads = 4;
	fd = open(IOASID_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("open " IOASID_DEV);
		return 1;
	}
	/* The fuzzer drives the test interface and checks pins through it. */
	probe.check_refs.length = PAGE;
	probe.check_refs.uptr = (uintptr_t)&probe;
	if (test_cmd(fd, &probe) && errno == ENOTTY) {
		printf("FUZZ-SKIP no test interface (load ioasid with selftest=1)\n");
		return 4;
	}
	close(fd);
	mem = mmap(NULL, MEM_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		   -1, 0);
	ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hole = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memfd = memfd_create("ioasid_fuzz", 0);
	if (mem == MAP_FAILED || ro == MAP_FAILED || hole == MAP_FAILED || memfd < 0 ||
	    ftruncate(memfd, MEM_PAGES * PAGE)) {
		perror("set-up");
		return 1;
	}
	memset(mem, 0x5a, MEM_PAGES * PAGE);
	for (;;) {
		double t = now();
		int r;

		printf("FUZZ-SEED seed=%llu threads=%d ops=%lu\n", (unsigned long long)seed,
		       nthreads, ops_total);
		fflush(stdout);
		r = run(seed, ops_total);
		if (r < 0)
			return 1;
		done++;
		nfail += r;
		for (int i = 0; i < nthreads; i++)
			total_ops += threads[i].ops;
		printf("FUZZ-RUN seed=%llu ops=%lu result=%s seconds=%.1f\n",
		       (unsigned long long)seed, ops_total, r ? "FAIL" : "ok", now() - t);
		fflush(stdout);
		seed++;
		if (seconds > 0 ? now() - t0 >= seconds : done >= runs)
			break;
	}
	printf("FUZZ-RESULT ops=%lu seeds=%lu failures=%lu\n", total_ops, done, nfail);
	return nfail ? 1 : 0;
}
