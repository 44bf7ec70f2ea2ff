// SPDX-License-Identifier: GPL-2.0

//! The FFI layer: the only place where ioasid calls C directly.
//!
//! Everything above this module is safe Rust. Each function here wraps one C function of
//! the shim (`rust/ffi/shim/ioasid_shim.c`) or of the kernel that `kernel::bindings` does not
//! cover, and states the contract that makes the call sound.

pub(crate) mod eventq;
pub(crate) mod iommu;
pub(crate) mod mmap;
pub(crate) mod pasid;

use crate::objects::access::Access;
use core::ptr::NonNull;
use kernel::{
    ffi::{c_long, c_ulong, c_void},
    fs::{File, LocalFile},
    prelude::*,
    sync::{aref::ARef, Arc, ArcBorrow},
};

mod raw {
    use kernel::ffi::c_uint;

    extern "C" {
        pub(super) fn ioasid_shim_count_iommu_pci_devices() -> c_uint;
    }
}

/// Returns how many PCI devices are currently translated by an IOMMU.
///
/// The answer is a snapshot: devices can be added or removed right after it is taken.
pub(crate) fn count_iommu_pci_devices() -> u32 {
    // SAFETY: The shim function takes no arguments, walks the PCI bus with the driver
    // core's own iteration (which holds references on each device while visiting it) and
    // may be called from any sleepable context, which module init is.
    unsafe { raw::ioasid_shim_count_iommu_pci_devices() }
}

/// Whether the calling task has `CAP_SYS_RESOURCE` in the initial user namespace (which
/// `IOMMU_OPTION_RLIMIT_MODE` requires, as in iommufd).
pub(crate) fn capable_sys_resource() -> bool {
    // SAFETY: `capable` only reads the current task's credentials and may be called from
    // any process context, which an ioctl is.
    unsafe { kernel::bindings::capable(kernel::bindings::CAP_SYS_RESOURCE as i32) }
}

/// Takes a reference to the file behind descriptor `fd` of the calling process, for
/// `IOMMU_IOAS_MAP_FILE`.
///
/// # Errors
///
/// `EBADF` if `fd` is not an open file descriptor.
pub(crate) fn fget(fd: i32) -> Result<ARef<File>> {
    // A negative descriptor becomes a huge one, which no process has open.
    let local = LocalFile::fget(fd as u32).map_err(|_| EBADF)?;
    // SAFETY: This is only called from ioctl handlers of `/dev/ioasid`. An ioctl does not
    // take `fdget_pos` on any file, so the current thread has no active `fdget_pos` call.
    Ok(unsafe { LocalFile::assume_no_fdget_pos(local) })
}

/// Marks the kernel as having run test-only code (`TAINT_TEST`), as loading the module
/// with `selftest=1` does.
pub(crate) fn taint_test() {
    // SAFETY: `add_taint` only sets a bit in the global taint mask and may be called from
    // any context; `LOCKDEP_STILL_OK` because nothing about locking went wrong.
    unsafe {
        kernel::bindings::add_taint(
            kernel::bindings::TAINT_TEST,
            kernel::bindings::lockdep_ok_LOCKDEP_STILL_OK,
        )
    };
}

/// Marks the kernel as running with a user-requested unsafe setting (`TAINT_USER`), as
/// binding a device without isolated MSIs does.
pub(crate) fn taint_user() {
    // SAFETY: As in `taint_test`.
    unsafe {
        kernel::bindings::add_taint(
            kernel::bindings::TAINT_USER,
            kernel::bindings::lockdep_ok_LOCKDEP_STILL_OK,
        )
    };
}

mod shim {
    use kernel::ffi::{c_int, c_long, c_ulong, c_void};

    /// Opaque `struct ioasid_source` of the shim.
    #[repr(C)]
    pub(super) struct IoasidSource {
        _private: [u8; 0],
    }

    extern "C" {
        pub(super) fn ioasid_shim_source_new(mode: c_int) -> *mut IoasidSource;
        pub(super) fn ioasid_shim_source_clone_current(
            like: *const IoasidSource,
        ) -> *mut IoasidSource;
        pub(super) fn ioasid_shim_source_free(src: *mut IoasidSource);
        pub(super) fn ioasid_shim_source_is_current(src: *const IoasidSource) -> bool;
        pub(super) fn ioasid_shim_source_mode(src: *const IoasidSource) -> c_int;
        pub(super) fn ioasid_shim_source_charge(src: *mut IoasidSource, npages: c_ulong) -> c_int;
        pub(super) fn ioasid_shim_source_uncharge(src: *mut IoasidSource, npages: c_ulong);
        pub(super) fn ioasid_shim_pin_user(
            src: *mut IoasidSource,
            uaddr: c_ulong,
            npages: c_ulong,
            write: bool,
            pages: *mut *mut c_void,
        ) -> c_long;
        pub(super) fn ioasid_shim_file_pinnable(file: *mut c_void) -> bool;
        pub(super) fn ioasid_shim_pin_file(
            file: *mut c_void,
            start: u64,
            npages: c_ulong,
            pages: *mut *mut c_void,
        ) -> c_long;
        pub(super) fn ioasid_shim_unpin(pages: *mut *mut c_void, npages: c_ulong, dirty: bool);
        pub(super) fn ioasid_shim_page_phys(page: *mut c_void) -> u64;
        pub(super) fn ioasid_shim_page_copy(
            page: *mut c_void,
            offset: usize,
            buf: *mut c_void,
            len: usize,
            to_page: bool,
        );
        pub(super) fn ioasid_shim_phys_copy(
            phys: u64,
            buf: *mut c_void,
            len: usize,
            to_mem: bool,
        ) -> c_int;
        pub(super) fn ioasid_shim_user_page_phys(uaddr: c_ulong, phys: *mut u64) -> c_int;
        pub(super) fn ioasid_shim_user_page_pins(uaddr: c_ulong) -> c_long;
        pub(super) fn ioasid_shim_access_file_new(
            priv_: *mut c_void,
            filep: *mut *mut c_void,
        ) -> c_int;
        pub(super) fn ioasid_shim_access_install(fd: c_int, file: *mut c_void);
        pub(super) fn ioasid_shim_access_abort(fd: c_int, file: *mut c_void);
        pub(super) fn ioasid_shim_access_priv(file: *mut c_void) -> *mut c_void;
    }
}

/// Converts a negative errno returned by C into an [`Error`], a non-negative count into
/// `usize`.
fn count_or_errno(rc: c_long) -> Result<usize> {
    if rc < 0 {
        Err(Error::from_errno(rc as i32))
    } else {
        Ok(rc as usize)
    }
}

/// How the pins of a process are charged: the shim's `IOASID_ACCOUNT_*` (`ioasid_shim.h`).
mod account {
    use kernel::ffi::c_int;

    /// Not charged.
    pub(super) const NONE: c_int = 0;
    /// To the user's `RLIMIT_MEMLOCK` (`user->locked_vm`), as iommufd's default.
    pub(super) const USER: c_int = 1;
    /// To the process's `RLIMIT_MEMLOCK` (`mm->locked_vm`), as VFIO type1.
    pub(super) const MM: c_int = 2;
}

/// How the calling process's pins are charged: per mm in the context's mm mode, per user
/// otherwise, where `CAP_IPC_LOCK` lifts the limit (as in iommufd).
fn account_mode(mm_mode: bool) -> c_int {
    if mm_mode {
        return account::MM;
    }
    // SAFETY: `capable` only reads the current task's credentials and may be called from
    // any process context, which an ioctl is.
    if unsafe { kernel::bindings::capable(kernel::bindings::CAP_IPC_LOCK as i32) } {
        account::NONE
    } else {
        account::USER
    }
}

/// The process whose memory is pinned and to which the pins are charged: its mm, thread
/// group leader and user (references held), and the accounting mode.
///
/// # Invariants
///
/// `ptr` is a valid `struct ioasid_source` made by the shim and owned by this object.
pub(crate) struct Process {
    ptr: NonNull<shim::IoasidSource>,
}

// SAFETY: The shim's source is only read after creation, except its counters, which are
// atomics of the kernel (`user->locked_vm`, `mm->pinned_vm`) or updated under the mm's
// lock; it can be used and freed from any thread.
unsafe impl Send for Process {}
// SAFETY: As above, shared use only touches atomics or lock-protected counters.
unsafe impl Sync for Process {}

impl Process {
    /// The calling process, charging per user (`mm_mode == false`, or nothing with
    /// `CAP_IPC_LOCK`) or per mm.
    ///
    /// # Errors
    ///
    /// `ENOMEM`, or `EINVAL` from a task without an mm.
    pub(crate) fn current(mm_mode: bool) -> Result<Self> {
        let mode = account_mode(mm_mode);
        // SAFETY: Called from an ioctl: process context, `current` is valid.
        let ptr = unsafe { shim::ioasid_shim_source_new(mode) };
        // INVARIANT: non-null results are new sources owned by us.
        NonNull::new(ptr).map(|ptr| Self { ptr }).ok_or(ENOMEM)
    }

    /// Whether this is the calling process (same mm, thread group and user) and would be
    /// made with the same accounting mode now (`CAP_IPC_LOCK` can change).
    pub(crate) fn is_current(&self, mm_mode: bool) -> bool {
        // SAFETY: `self.ptr` is valid (type invariant); process context.
        let same = unsafe { shim::ioasid_shim_source_is_current(self.ptr.as_ptr()) };
        // Only for the same process: `capable` may log and marks the task.
        // SAFETY: `self.ptr` is valid (type invariant).
        same && unsafe { shim::ioasid_shim_source_mode(self.ptr.as_ptr()) } == account_mode(mm_mode)
    }

    /// The calling process, with the accounting mode of `self`.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn current_like(&self) -> Result<Self> {
        // SAFETY: `self.ptr` is valid by the type invariant; process context.
        let ptr = unsafe { shim::ioasid_shim_source_clone_current(self.ptr.as_ptr()) };
        // INVARIANT: as in `current`.
        NonNull::new(ptr).map(|ptr| Self { ptr }).ok_or(ENOMEM)
    }

    /// Charges `npages` pinned pages: `RLIMIT_MEMLOCK` (per user or per mm), `VmPin`.
    ///
    /// # Errors
    ///
    /// `ENOMEM` over the limit; `EFAULT` if the process's mm is gone (mm mode).
    pub(crate) fn charge(&self, npages: usize) -> Result {
        // SAFETY: `self.ptr` is valid by the type invariant; may sleep (ioctl context).
        let rc = unsafe { shim::ioasid_shim_source_charge(self.ptr.as_ptr(), npages as c_ulong) };
        count_or_errno(rc as c_long).map(|_| ())
    }

    /// Undoes [`Process::charge`] of `npages` pages. (Uncharging more than was charged
    /// would only skew the counters, which are plain numbers, not touch other memory.)
    pub(crate) fn uncharge(&self, npages: usize) {
        // SAFETY: `self.ptr` is valid (type invariant); the shim only subtracts from
        // counters of the mm and user it holds references to.
        unsafe { shim::ioasid_shim_source_uncharge(self.ptr.as_ptr(), npages as c_ulong) };
    }

    /// Pins `out.len()` pages of this process's memory at page-aligned `uaddr`
    /// (`FOLL_LONGTERM`, `FOLL_WRITE` if `write`); returns how many were pinned (from the
    /// front of `out`, fewer than asked when the rest is not mapped).
    ///
    /// # Errors
    ///
    /// The errno of the pinning.
    pub(crate) fn pin(&self, uaddr: u64, write: bool, out: &mut PageBatch) -> Result<usize> {
        let n = out.room();
        // SAFETY: `self.ptr` is valid; `out.ptrs` has room for `n` page pointers and
        // `out.len == 0` (checked by `room`), so every pointer written is taken over below.
        let rc = unsafe {
            shim::ioasid_shim_pin_user(
                self.ptr.as_ptr(),
                uaddr as c_ulong,
                n as c_ulong,
                write,
                out.ptrs.as_mut_ptr().cast(),
            )
        };
        let pinned = count_or_errno(rc)?;
        out.len = pinned.min(n);
        Ok(out.len)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own the source; nothing uses it after this.
        unsafe { shim::ioasid_shim_source_free(self.ptr.as_ptr()) };
    }
}

/// Whether [`pin_file`] can pin pages of `file`: a memfd (shmem) or hugetlbfs file.
pub(crate) fn file_pinnable(file: &File) -> bool {
    // SAFETY: `file` is a valid file (the caller holds a reference).
    unsafe { shim::ioasid_shim_file_pinnable(file.as_ptr().cast()) }
}

/// Pins `out.room()` pages of the memfd `file` from the page-aligned byte `start`, one pin
/// per page.
///
/// # Errors
///
/// `EINVAL` for a file that is not a memfd, the errno of the pinning otherwise.
pub(crate) fn pin_file(file: &File, start: u64, out: &mut PageBatch) -> Result<usize> {
    let n = out.room();
    // SAFETY: `file` is a valid file (we hold a reference); `out` has room for `n` pointers.
    let rc = unsafe {
        shim::ioasid_shim_pin_file(
            file.as_ptr().cast(),
            start,
            n as c_ulong,
            out.ptrs.as_mut_ptr().cast(),
        )
    };
    let pinned = count_or_errno(rc)?;
    out.len = pinned.min(n);
    Ok(out.len)
}

/// A pinned page: one pin reference (`FOLL_PIN`) that this value owns.
///
/// # Invariants
///
/// `0` is a valid `struct page` on which this value holds one pin.
pub(crate) struct PinnedPage(NonNull<kernel::bindings::page>);

// SAFETY: A pin is not tied to a thread; `struct page` is shared kernel memory.
unsafe impl Send for PinnedPage {}
// SAFETY: `&PinnedPage` only reads the page's physical address or copies to/from it.
unsafe impl Sync for PinnedPage {}

impl PinnedPage {
    /// The page's physical address.
    pub(crate) fn phys(&self) -> u64 {
        // SAFETY: The page is valid (type invariant).
        unsafe { shim::ioasid_shim_page_phys(self.0.as_ptr().cast()) }
    }

    /// Copies `buf.len()` bytes from the page at `offset` into `buf`.
    pub(crate) fn read(&self, offset: usize, buf: &mut [u8]) {
        // SAFETY: `buf` is writable for its whole length.
        unsafe { self.copy(offset, buf.as_mut_ptr(), buf.len(), false) }
    }

    /// Copies `buf` into the page at `offset`.
    pub(crate) fn write(&self, offset: usize, buf: &[u8]) {
        // SAFETY: In this direction the shim only reads `buf`, valid for its length.
        unsafe { self.copy(offset, buf.as_ptr().cast_mut(), buf.len(), true) }
    }

    /// Copies up to `len` bytes between the page at `offset` and `buf` (`to_page`: into
    /// the page), never past the page's end.
    ///
    /// # Safety
    ///
    /// `buf` is valid for `len` bytes: writable when `!to_page`, readable otherwise.
    unsafe fn copy(&self, offset: usize, buf: *mut u8, len: usize, to_page: bool) {
        let len = len.min(kernel::page::PAGE_SIZE.saturating_sub(offset));
        // SAFETY: The page is valid and pinned (type invariant); `offset + len <=
        // PAGE_SIZE`; the caller guarantees `buf` for `len` bytes in this direction.
        unsafe {
            shim::ioasid_shim_page_copy(self.0.as_ptr().cast(), offset, buf.cast(), len, to_page)
        };
    }
}

/// Physically contiguous bytes of pinned memory, borrowed from the [`PinnedPage`]s that
/// hold the pins: the only way code outside this layer can name physical memory for a
/// domain to translate to ([`crate::hw::HwDomain::map`]), so safe code can never map
/// memory it does not hold pinned.
///
/// What the borrow cannot express, the IOAS keeps as its invariant: the range is unmapped
/// from every domain (and flushed) before the pins go (`crate::iopt`'s theory of
/// operation).
///
/// # Invariants
///
/// `[phys, phys + len)` lies in pages pinned for at least `'a`.
pub(crate) struct PinnedRun<'a> {
    phys: u64,
    len: u64,
    _pins: core::marker::PhantomData<&'a PinnedPage>,
}

impl PinnedPage {
    /// `len` bytes of this page from `offset` (clamped to the page's end).
    pub(crate) fn run(&self, offset: u64, len: u64) -> PinnedRun<'_> {
        let page_size = kernel::page::PAGE_SIZE as u64;
        let offset = offset.min(page_size);
        // INVARIANT: inside this page, pinned while it is borrowed.
        PinnedRun {
            phys: self.phys() + offset,
            len: len.min(page_size - offset),
            _pins: core::marker::PhantomData,
        }
    }
}

impl<'a> PinnedRun<'a> {
    /// The first physical address.
    pub(crate) fn phys(&self) -> u64 {
        self.phys
    }

    /// The length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends `next` if it continues this run physically; returns whether it did.
    pub(crate) fn extend(&mut self, next: &PinnedRun<'a>) -> bool {
        if self.phys.checked_add(self.len) != Some(next.phys) {
            return false;
        }
        // INVARIANT: both parts are pinned for `'a`.
        self.len += next.len;
        true
    }
}

/// The physical address of a byte of pinned memory, as a software IOMMU's page table (the
/// mock's, [`crate::hw::mock`]) keeps it: made only from a [`PinnedRun`]
/// ([`PinnedRun::phys_at`]), so safe code cannot name any other memory for
/// [`copy_pinned_phys`] to touch.
///
/// Like an IOPTE of real hardware it outlives the borrow it was made from: what keeps its
/// page pinned afterwards is the IOAS's invariant (the range is unmapped from every domain
/// before its pins go, see [`PinnedRun`]), and a software domain drops its copy of the
/// address when the range is unmapped from it.
///
/// # Invariants
///
/// `0` lies in a page that was pinned when this value was made.
#[derive(Clone, Copy)]
pub(crate) struct PinnedPhys(u64);

impl PinnedRun<'_> {
    /// The address of byte `offset` of the run, if the run has it.
    pub(crate) fn phys_at(&self, offset: u64) -> Option<PinnedPhys> {
        // INVARIANT: inside the run, so inside a pinned page.
        (offset < self.len).then(|| PinnedPhys(self.phys + offset))
    }
}

impl PinnedPhys {
    /// The physical address.
    pub(crate) fn addr(self) -> u64 {
        self.0
    }

    /// The address `offset` bytes further, if it is in the same CPU page (pinned with it:
    /// pins are of whole pages).
    pub(crate) fn add_in_page(self, offset: u64) -> Option<PinnedPhys> {
        let page_size = kernel::page::PAGE_SIZE as u64;
        let room = page_size - self.0 % page_size;
        // INVARIANT: in the same page as `self.0`.
        (offset < room).then(|| PinnedPhys(self.0 + offset))
    }
}

impl Drop for PinnedPage {
    fn drop(&mut self) {
        let mut ptr = self.0.as_ptr().cast::<c_void>();
        // SAFETY: We own one pin on the page (type invariant), released exactly here.
        unsafe { shim::ioasid_shim_unpin(&mut ptr, 1, false) };
    }
}

/// Number of page pointers a [`PageBatch`] on the stack holds.
pub(crate) const BATCH: usize = 64;

/// A small array of pinned pages, filled by the pinning functions and emptied by
/// [`PageBatch::take`] or [`PageBatch::unpin`].
///
/// # Invariants
///
/// `ptrs[..len]` are valid pages, each with one pin owned by the batch.
pub(crate) struct PageBatch {
    ptrs: [Option<NonNull<kernel::bindings::page>>; BATCH],
    len: usize,
    /// How many pages the next fill may pin (at most `BATCH`).
    limit: usize,
}

impl PageBatch {
    /// An empty batch that pins at most `limit` pages at a time (1 to [`BATCH`]).
    pub(crate) fn new(limit: usize) -> Self {
        // INVARIANT: empty.
        Self {
            ptrs: [None; BATCH],
            len: 0,
            limit: limit.clamp(1, BATCH),
        }
    }

    /// How many pages a fill may add: the limit, or 0 if the batch is not empty.
    fn room(&self) -> usize {
        if self.len == 0 {
            self.limit
        } else {
            0
        }
    }

    /// Moves the pinned pages out, in order.
    pub(crate) fn take(&mut self) -> impl Iterator<Item = PinnedPage> + '_ {
        let len = core::mem::take(&mut self.len);
        self.ptrs[..len].iter_mut().filter_map(|p| {
            // INVARIANT: each pin moves to exactly one `PinnedPage`.
            p.take().map(PinnedPage)
        })
    }
}

impl Drop for PageBatch {
    fn drop(&mut self) {
        for page in self.take() {
            drop(page);
        }
    }
}

/// Unpins `pages` (marking them dirty if `dirty`), several at a time.
pub(crate) fn unpin_pages(pages: impl IntoIterator<Item = PinnedPage>, dirty: bool) {
    let mut ptrs = [core::ptr::null_mut::<kernel::bindings::page>(); BATCH];
    let mut n = 0;
    let flush = |ptrs: &mut [*mut kernel::bindings::page; BATCH], n: &mut usize| {
        if *n > 0 {
            // SAFETY: `ptrs[..n]` are pages whose pins we own (moved out of `PinnedPage`s
            // with `forget` below); each is released once here.
            unsafe { shim::ioasid_shim_unpin(ptrs.as_mut_ptr().cast(), *n as c_ulong, dirty) };
            *n = 0;
        }
    };
    for page in pages {
        ptrs[n] = page.0.as_ptr();
        core::mem::forget(page);
        n += 1;
        if n == BATCH {
            flush(&mut ptrs, &mut n);
        }
    }
    flush(&mut ptrs, &mut n);
}

/// The physical address behind user address `uaddr` of the calling process (test ops).
///
/// # Errors
///
/// `EFAULT` or the errno of `get_user_pages_fast`.
pub(crate) fn user_phys(uaddr: u64) -> Result<u64> {
    let mut phys = 0u64;
    // SAFETY: `phys` is writable; process context.
    let rc = unsafe { shim::ioasid_shim_user_page_phys(uaddr as c_ulong, &mut phys) };
    count_or_errno(rc as c_long).map(|_| phys)
}

/// The `FOLL_PIN` count of the page at `uaddr` of the calling process, `None` for a
/// compound page (test ops).
///
/// # Errors
///
/// `EFAULT` or the errno of `get_user_pages_fast`.
pub(crate) fn user_page_pins(uaddr: u64) -> Result<Option<u64>> {
    // SAFETY: Process context.
    let rc = unsafe { shim::ioasid_shim_user_page_pins(uaddr as c_ulong) };
    if rc == -1 {
        return Ok(None);
    }
    count_or_errno(rc).map(|n| Some(n as u64))
}

/// A new access file whose descriptor is reserved but not yet visible to the process.
///
/// # Invariants
///
/// `fd` is a reserved descriptor and `file` a file of the shim's access type whose
/// `private_data` owns one reference to an [`Access`].
pub(crate) struct NewAccessFile {
    fd: i32,
    file: NonNull<kernel::bindings::file>,
}

impl NewAccessFile {
    /// Makes the file for `access` (it owns one reference from now on).
    ///
    /// # Errors
    ///
    /// `EMFILE`, `ENOMEM`.
    pub(crate) fn new(access: Arc<Access>) -> Result<Self> {
        let raw = Arc::into_raw(access);
        let mut file = core::ptr::null_mut::<c_void>();
        // SAFETY: `raw` comes from `Arc::into_raw`; on success the file owns it and gives
        // it back through `ioasid_access_release`; `file` is writable.
        let fd = unsafe { shim::ioasid_shim_access_file_new(raw.cast_mut().cast(), &mut file) };
        match NonNull::new(file.cast::<kernel::bindings::file>()) {
            // INVARIANT: the shim reserved `fd` and made `file` with `raw` as private data.
            Some(file) if fd >= 0 => Ok(Self { fd, file }),
            _ => {
                // SAFETY: The shim failed and did not keep `raw`: take the reference back.
                drop(unsafe { Arc::from_raw(raw) });
                Err(Error::from_errno(if fd < 0 {
                    fd
                } else {
                    -(ENOMEM.to_errno())
                }))
            }
        }
    }

    /// The descriptor the process will see.
    pub(crate) fn fd(&self) -> i32 {
        self.fd
    }

    /// Makes the descriptor visible to the process.
    pub(crate) fn install(self) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: By the type invariant `fd` is reserved and `file` is ours to install.
        unsafe { shim::ioasid_shim_access_install(this.fd, this.file.as_ptr().cast()) };
    }
}

impl Drop for NewAccessFile {
    fn drop(&mut self) {
        // SAFETY: Not installed: release the descriptor and our file reference (its release
        // then drops the access reference).
        unsafe { shim::ioasid_shim_access_abort(self.fd, self.file.as_ptr().cast()) };
    }
}

/// The access behind descriptor `fd` of the calling process.
///
/// # Errors
///
/// `EBADFD` if `fd` is not an access file (as iommufd's test interface).
pub(crate) fn access_from_fd(fd: u32) -> Result<Arc<Access>> {
    let file = fget(fd as i32).map_err(|_| EBADFD)?;
    // SAFETY: `file` is valid while we hold the reference.
    let raw = unsafe { shim::ioasid_shim_access_priv(file.as_ptr().cast()) };
    if raw.is_null() {
        return Err(EBADFD);
    }
    // SAFETY: The file is an access file, so `raw` came from `Arc::into_raw` and the file
    // (which we hold open) still owns that reference: borrowing and cloning it is sound.
    let access: Arc<Access> = unsafe { ArcBorrow::from_raw(raw.cast::<Access>()) }.into();
    drop(file);
    Ok(access)
}

/// Called by the shim when an access file's last reference goes.
///
/// # Safety
///
/// `raw` is the private data of an access file: a pointer from `Arc::<Access>::into_raw`
/// whose reference the file owned; called once per file.
#[no_mangle]
pub(crate) unsafe extern "C" fn ioasid_access_release(raw: *mut kernel::ffi::c_void) {
    // SAFETY: By the function's contract we take back the file's reference, once.
    let access = unsafe { Arc::<Access>::from_raw(raw.cast::<Access>()) };
    access.close();
}

/// Copies between `buf` and the pinned memory at `at` (`to_mem`: into memory), up to the
/// end of `at`'s page: the mock IOMMU's DMA, through the addresses its page table holds.
///
/// # Errors
///
/// `EFAULT` if the memory is not RAM (which a pinned page always is; refused rather than
/// touched).
pub(crate) fn copy_pinned_phys(at: PinnedPhys, buf: &mut [u8], to_mem: bool) -> Result {
    let page_size = kernel::page::PAGE_SIZE as u64;
    let phys = at.addr();
    let off = phys % page_size;
    let len = (buf.len() as u64).min(page_size - off) as usize;
    // SAFETY: `[phys, phys + len)` lies in one page, which is pinned (`PinnedPhys`'s
    // invariant, and the IOAS keeps it pinned while a domain maps it); the shim checks
    // `pfn_valid` before touching it; `buf` is valid for `len` bytes in the direction used.
    let rc = unsafe { shim::ioasid_shim_phys_copy(phys, buf.as_mut_ptr().cast(), len, to_mem) };
    count_or_errno(rc as c_long).map(|_| ())
}
