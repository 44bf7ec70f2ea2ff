// SPDX-License-Identifier: GPL-2.0
/*
 * C shim of ioasid, linked into the same module as the Rust crate. See ioasid_shim.h;
 * rust/ffi/mod.rs declares these functions and holds the SAFETY contracts.
 *
 * Why C (Linux 7.3): the Rust abstractions have no long-term pinning of user or memfd
 * memory (kernel::mm has mm and VMA access, kernel::page owned pages only: nothing of
 * pin_user_pages*(), memfd_pin_folios() or unpin_user_pages_dirty_lock()), no locked-memory
 * accounting (user_struct's locked_vm, RLIMIT_MEMLOCK, __account_locked_vm(), the mm's
 * pinned_vm), no anonymous-inode files with file operations of their own, and no walk of
 * a bus's devices; much of it is static inline (page_to_phys(), mmgrab(), get_uid(),
 * task_rlimit(), ...), which bindgen cannot call and an out-of-tree module cannot add
 * helpers for. The shim makes those calls and nothing more: which accounting mode
 * applies, and when to charge, is decided in Rust.
 */
#include <linux/anon_inodes.h>
#include <linux/device.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/hugetlb.h>
#include <linux/iommu.h>
#include <linux/memfd.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/user.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>

#include "ioasid_shim.h"

static int ioasid_shim_count_one(struct device *dev, void *data)
{
	unsigned int *count = data;

	if (device_iommu_mapped(dev))
		(*count)++;
	return 0;
}

unsigned int ioasid_shim_count_iommu_pci_devices(void)
{
	unsigned int count = 0;

	bus_for_each_dev(&pci_bus_type, NULL, &count, ioasid_shim_count_one);
	return count;
}

struct ioasid_source {
	struct mm_struct *mm;
	struct task_struct *task;
	struct user_struct *user;
	int mode;
};

static struct ioasid_source *source_current(int mode)
{
	struct ioasid_source *src = kzalloc(sizeof(*src), GFP_KERNEL_ACCOUNT);

	if (!src || !current->mm) {
		kfree(src);
		return NULL;
	}
	src->mm = current->mm;
	mmgrab(src->mm);
	src->task = current->group_leader;
	get_task_struct(src->task);
	src->user = get_uid(current_user());
	src->mode = mode;
	return src;
}

struct ioasid_source *ioasid_shim_source_new(int mode)
{
	return source_current(mode);
}

bool ioasid_shim_source_is_current(const struct ioasid_source *src)
{
	return src->mm == current->mm && src->task == current->group_leader &&
	       src->user == current_user();
}

int ioasid_shim_source_mode(const struct ioasid_source *src)
{
	return src->mode;
}

struct ioasid_source *ioasid_shim_source_clone_current(const struct ioasid_source *like)
{
	return source_current(like->mode);
}

void ioasid_shim_source_free(struct ioasid_source *src)
{
	free_uid(src->user);
	put_task_struct(src->task);
	mmdrop(src->mm);
	kfree(src);
}

static int update_mm_locked_vm(struct ioasid_source *src, unsigned long npages, bool inc)
{
	int rc;

	if (!mmget_not_zero(src->mm))
		return inc ? -EFAULT : 0;
	mmap_write_lock(src->mm);
	rc = __account_locked_vm(src->mm, npages, inc, src->task, false);
	mmap_write_unlock(src->mm);
	mmput(src->mm);
	return rc;
}

int ioasid_shim_source_charge(struct ioasid_source *src, unsigned long npages)
{
	unsigned long limit, cur;
	int rc;

	switch (src->mode) {
	case IOASID_ACCOUNT_USER:
		limit = task_rlimit(src->task, RLIMIT_MEMLOCK) >> PAGE_SHIFT;
		cur = atomic_long_read(&src->user->locked_vm);
		do {
			if (cur + npages > limit || cur + npages < cur)
				return -ENOMEM;
		} while (!atomic_long_try_cmpxchg(&src->user->locked_vm, &cur, cur + npages));
		break;
	case IOASID_ACCOUNT_MM:
		rc = update_mm_locked_vm(src, npages, true);
		if (rc)
			return rc;
		break;
	}
	atomic64_add(npages, &src->mm->pinned_vm);
	return 0;
}

void ioasid_shim_source_uncharge(struct ioasid_source *src, unsigned long npages)
{
	switch (src->mode) {
	case IOASID_ACCOUNT_USER:
		atomic_long_sub(npages, &src->user->locked_vm);
		break;
	case IOASID_ACCOUNT_MM:
		update_mm_locked_vm(src, npages, false);
		break;
	}
	atomic64_sub(npages, &src->mm->pinned_vm);
}

long ioasid_shim_pin_user(struct ioasid_source *src, unsigned long uaddr,
			  unsigned long npages, bool write, struct page **pages)
{
	unsigned int flags = FOLL_LONGTERM | (write ? FOLL_WRITE : 0);
	long rc;

	if (current->mm == src->mm)
		return pin_user_pages_fast(uaddr, npages, flags, pages);
	/* Another process (a child after fork, or a kernel thread) fills a domain. */
	if (!mmget_not_zero(src->mm))
		return -EFAULT;
	mmap_read_lock(src->mm);
	rc = pin_user_pages_remote(src->mm, uaddr, npages, flags, pages, NULL);
	mmap_read_unlock(src->mm);
	mmput(src->mm);
	return rc;
}

bool ioasid_shim_file_pinnable(struct file *file)
{
	/* What memfd_pin_folios() pins: shmem (memfd) and hugetlbfs files. */
	return shmem_file(file) || is_file_hugepages(file);
}

long ioasid_shim_pin_file(struct file *file, u64 start, unsigned long npages,
			  struct page **pages)
{
	unsigned long done = 0, i;
	struct folio **folios;
	pgoff_t offset;
	long nr;

	if (npages > UINT_MAX)
		return -EINVAL;
	folios = kvmalloc_array(npages, sizeof(*folios), GFP_KERNEL_ACCOUNT);
	if (!folios)
		return -ENOMEM;
	nr = memfd_pin_folios(file, start, start + npages * PAGE_SIZE - 1, folios, npages,
			      &offset);
	if (nr < 0)
		goto out;
	for (i = 0; i < nr; i++) {
		struct folio *folio = folios[i];
		unsigned long first = i ? 0 : offset >> PAGE_SHIFT;
		unsigned long n = min(folio_nr_pages(folio) - first, npages - done);
		unsigned long j;

		/* memfd_pin_folios() pins each folio once: one pin per page instead. */
		if (n > 1 && folio_add_pins(folio, n - 1)) {
			unpin_folios(folios + i, nr - i);
			ioasid_shim_unpin(pages, done, false);
			nr = -EINVAL;
			goto out;
		}
		for (j = 0; j < n; j++)
			pages[done++] = folio_page(folio, first + j);
	}
	nr = done;
out:
	kvfree(folios);
	return nr;
}

void ioasid_shim_unpin(struct page **pages, unsigned long npages, bool dirty)
{
	unpin_user_pages_dirty_lock(pages, npages, dirty);
}

u64 ioasid_shim_page_phys(struct page *page)
{
	return page_to_phys(page);
}

void ioasid_shim_page_copy(struct page *page, size_t offset, void *buf, size_t len,
			   bool to_page)
{
	void *va = kmap_local_page(page);

	if (to_page)
		memcpy(va + offset, buf, len);
	else
		memcpy(buf, va + offset, len);
	kunmap_local(va);
}

int ioasid_shim_phys_copy(u64 phys, void *buf, size_t len, bool to_mem)
{
	unsigned long pfn = PHYS_PFN(phys);

	if (!pfn_valid(pfn) || offset_in_page(phys) + len > PAGE_SIZE)
		return -EFAULT;
	ioasid_shim_page_copy(pfn_to_page(pfn), offset_in_page(phys), buf, len, to_mem);
	return 0;
}

/* The page at user address uaddr of the current process, with a reference (put_page()). */
static int user_page_get(unsigned long uaddr, struct page **page)
{
	long rc = get_user_pages_fast(uaddr & PAGE_MASK, 1, 0, page);

	if (rc < 0)
		return rc;
	return rc == 1 ? 0 : -EFAULT;
}

int ioasid_shim_user_page_phys(unsigned long uaddr, u64 *phys)
{
	struct page *page;
	int rc = user_page_get(uaddr, &page);

	if (rc)
		return rc;
	*phys = page_to_phys(page) + (uaddr & ~PAGE_MASK);
	put_page(page);
	return 0;
}

long ioasid_shim_user_page_pins(unsigned long uaddr)
{
	struct page *page;
	long pins;
	int rc = user_page_get(uaddr, &page);

	if (rc)
		return rc;
	/* GUP_PIN_COUNTING_BIAS is unsigned: keep the -1 of compound pages a long -1. */
	pins = PageCompound(page) ? -1L : (long)(page_ref_count(page) / GUP_PIN_COUNTING_BIAS);
	put_page(page);
	return pins;
}

static int ioasid_access_fops_release(struct inode *inode, struct file *file)
{
	ioasid_access_release(file->private_data);
	return 0;
}

static const struct file_operations ioasid_access_fops = {
	.owner = THIS_MODULE,
	.release = ioasid_access_fops_release,
};

int ioasid_shim_access_file_new(void *priv, struct file **filep)
{
	struct file *file;
	int fd = get_unused_fd_flags(O_CLOEXEC);

	if (fd < 0)
		return fd;
	file = anon_inode_getfile("[ioasid_access]", &ioasid_access_fops, priv, O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	*filep = file;
	return fd;
}

void ioasid_shim_access_install(int fd, struct file *file)
{
	fd_install(fd, file);
}

void ioasid_shim_access_abort(int fd, struct file *file)
{
	put_unused_fd(fd);
	fput(file);
}

void *ioasid_shim_access_priv(struct file *file)
{
	return file->f_op == &ioasid_access_fops ? file->private_data : NULL;
}

/*
 * Event queue files (IOASID_EVENTQ_FAULT: fault queues, IOASID_EVENTQ_VEVENT: vEVENTQs):
 * every operation is Rust's (rust/ffi/eventq.rs), on the queue the file's private data
 * points to; the file position is passed as it is (the queues take position 0 only, as
 * iommufd's). A vEVENTQ has no write(): EINVAL, as iommufd's.
 */
static ssize_t ioasid_fault_fops_read(struct file *file, char __user *buf, size_t count,
				      loff_t *ppos)
{
	return ioasid_eventq_read(IOASID_EVENTQ_FAULT, file->private_data, buf, count, *ppos);
}

static ssize_t ioasid_fault_fops_write(struct file *file, const char __user *buf,
				       size_t count, loff_t *ppos)
{
	return ioasid_eventq_write(IOASID_EVENTQ_FAULT, file->private_data, buf, count, *ppos);
}

static __poll_t ioasid_fault_fops_poll(struct file *file, struct poll_table_struct *wait)
{
	return ioasid_eventq_poll(IOASID_EVENTQ_FAULT, file->private_data, file, wait);
}

static int ioasid_fault_fops_release(struct inode *inode, struct file *file)
{
	ioasid_eventq_release(IOASID_EVENTQ_FAULT, file->private_data);
	return 0;
}

static const struct file_operations ioasid_fault_fops = {
	.owner = THIS_MODULE,
	.read = ioasid_fault_fops_read,
	.write = ioasid_fault_fops_write,
	.poll = ioasid_fault_fops_poll,
	.release = ioasid_fault_fops_release,
	.llseek = noop_llseek,
};

static ssize_t ioasid_vevent_fops_read(struct file *file, char __user *buf, size_t count,
				       loff_t *ppos)
{
	return ioasid_eventq_read(IOASID_EVENTQ_VEVENT, file->private_data, buf, count, *ppos);
}

static __poll_t ioasid_vevent_fops_poll(struct file *file, struct poll_table_struct *wait)
{
	return ioasid_eventq_poll(IOASID_EVENTQ_VEVENT, file->private_data, file, wait);
}

static int ioasid_vevent_fops_release(struct inode *inode, struct file *file)
{
	ioasid_eventq_release(IOASID_EVENTQ_VEVENT, file->private_data);
	return 0;
}

static const struct file_operations ioasid_vevent_fops = {
	.owner = THIS_MODULE,
	.read = ioasid_vevent_fops_read,
	.poll = ioasid_vevent_fops_poll,
	.release = ioasid_vevent_fops_release,
	.llseek = noop_llseek,
};

int ioasid_shim_eventq_file_new(int kind, void *priv, struct file **filep)
{
	const struct file_operations *fops;
	const char *name;
	struct file *file;
	int fd;

	switch (kind) {
	case IOASID_EVENTQ_FAULT:
		fops = &ioasid_fault_fops;
		name = "[ioasid-pgfault]";
		break;
	case IOASID_EVENTQ_VEVENT:
		fops = &ioasid_vevent_fops;
		name = "[ioasid-viommu-event]";
		break;
	default:
		return -EINVAL;
	}
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = anon_inode_getfile(name, fops, priv, O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	*filep = file;
	return fd;
}
