/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C half of ioasid's FFI layer: wrappers of static inline functions and of helpers
 * Rust cannot call through kernel::bindings (memory pinning and accounting, anonymous
 * files). Each is a thin wrapper with no policy of its own; rust/ffi/mod.rs declares them
 * and holds the SAFETY contracts. Why these are in C in Linux 7.3: see the opening
 * comment of ioasid_shim.c.
 */
#ifndef IOASID_SHIM_H
#define IOASID_SHIM_H

#include <linux/types.h>

struct file;
struct page;
struct ioasid_source;

/* Number of PCI devices that are translated by an IOMMU (device_iommu_mapped()). */
unsigned int ioasid_shim_count_iommu_pci_devices(void);

/*
 * The process that pins memory: its mm (mmgrab), thread group leader and user, and how
 * pins are charged (IOASID_ACCOUNT_*, chosen by the caller; rust/ffi/mod.rs mirrors the
 * values). Made for the current task; NULL on ENOMEM.
 */
#define IOASID_ACCOUNT_NONE 0
#define IOASID_ACCOUNT_USER 1
#define IOASID_ACCOUNT_MM 2
struct ioasid_source *ioasid_shim_source_new(int mode);
struct ioasid_source *ioasid_shim_source_clone_current(const struct ioasid_source *like);
void ioasid_shim_source_free(struct ioasid_source *src);
/* Whether src is the current process (same mm, thread group leader and user). */
bool ioasid_shim_source_is_current(const struct ioasid_source *src);
int ioasid_shim_source_mode(const struct ioasid_source *src);
/* Charges/uncharges npages pinned pages (RLIMIT_MEMLOCK, VmPin, VmLck in mm mode). */
int ioasid_shim_source_charge(struct ioasid_source *src, unsigned long npages);
void ioasid_shim_source_uncharge(struct ioasid_source *src, unsigned long npages);

/* Pins npages pages of src's memory at uaddr (FOLL_LONGTERM). Returns pages pinned or -errno. */
long ioasid_shim_pin_user(struct ioasid_source *src, unsigned long uaddr,
			  unsigned long npages, bool write, struct page **pages);
/*
 * Whether memfd_pin_folios() can pin file's pages: a shmem (memfd) or hugetlbfs file
 * (shmem_file() and is_file_hugepages() are static inline).
 */
bool ioasid_shim_file_pinnable(struct file *file);
/* Pins npages pages of the memfd from byte start (page aligned), one pin per page. */
long ioasid_shim_pin_file(struct file *file, u64 start, unsigned long npages,
			  struct page **pages);
void ioasid_shim_unpin(struct page **pages, unsigned long npages, bool dirty);
u64 ioasid_shim_page_phys(struct page *page);
/* Copies between a page and a kernel buffer; to_page selects the direction. */
void ioasid_shim_page_copy(struct page *page, size_t offset, void *buf, size_t len,
			   bool to_page);

/*
 * Copies len bytes between buf and the RAM page at phys (to_mem: into it), not crossing a
 * page; -EFAULT if phys is not RAM. The caller keeps the page pinned.
 */
int ioasid_shim_phys_copy(u64 phys, void *buf, size_t len, bool to_mem);

/* For the test ops: the page behind a user address of the current process. */
int ioasid_shim_user_page_phys(unsigned long uaddr, u64 *phys);
/* Pin count of that page (page_ref_count / GUP_PIN_COUNTING_BIAS), -1 for compound pages. */
long ioasid_shim_user_page_pins(unsigned long uaddr);

/*
 * Anonymous "access" files of the test interface. ioasid_shim_access_file_new() makes the
 * file (private_data = priv) and reserves a descriptor; ioasid_shim_access_install()
 * publishes it, ioasid_shim_access_abort() undoes both. When the file's last reference
 * goes, ioasid_access_release(priv) (Rust) runs.
 */
int ioasid_shim_access_file_new(void *priv, struct file **filep);
void ioasid_shim_access_install(int fd, struct file *file);
void ioasid_shim_access_abort(int fd, struct file *file);
void *ioasid_shim_access_priv(struct file *file);
void ioasid_access_release(void *priv);

/*
 * Event queue files: ioasid_shim_eventq_file_new() makes one of `kind` (private_data =
 * priv) and reserves a descriptor, published or undone with ioasid_shim_access_install()
 * and ioasid_shim_access_abort() (plain fd_install() and put_unused_fd() + fput()).
 * Reads, writes, polls and the release go to Rust (rust/ffi/eventq.rs mirrors the kinds).
 */
#define IOASID_EVENTQ_FAULT 0
#define IOASID_EVENTQ_VEVENT 1
struct poll_table_struct;
int ioasid_shim_eventq_file_new(int kind, void *priv, struct file **filep);
ssize_t ioasid_eventq_read(int kind, void *priv, char __user *buf, size_t count, loff_t pos);
ssize_t ioasid_eventq_write(int kind, void *priv, const char __user *buf, size_t count,
			    loff_t pos);
__poll_t ioasid_eventq_poll(int kind, void *priv, struct file *file,
			    struct poll_table_struct *wait);
void ioasid_eventq_release(int kind, void *priv);

#endif
