// SPDX-License-Identifier: GPL-2.0

//! The memory behind IOAS areas.
//!
//! A [`Pages`] describes one range of memory that a process handed to `/dev/ioasid` with
//! `IOMMU_IOAS_MAP`: where it comes from and whether DMA may write it. Areas refer to a
//! slice of a `Pages` by byte offset and length; `IOMMU_IOAS_COPY` makes new areas that
//! share the same `Pages`, so the memory is described, and later pinned, once however
//! many areas and address spaces use it.
//!
//! # Storage and pinning
//!
//! Pages are pinned only while something needs their physical addresses: the IOMMU
//! domains of an IOAS (one pin for all of them, taken when the area is mapped into the
//! first domain) or an in-kernel access. Each page of a `Pages` has a count of such users;
//! the page is pinned when its count leaves zero and unpinned when it returns there, so a
//! page is pinned once however many areas, address spaces, domains and accesses use it.
//! Every pin is charged to the mapping process ([`ffi::Process`]: `RLIMIT_MEMLOCK` per user
//! or per mm, and `VmPin`) before the call that took it returns, and uncharged when it is
//! released. A failed pin leaves every count, pin and charge as it was.
//!
//! Callers (the IOAS) unmap a range from every domain and flush before they drop its
//! users here, so a page is never unpinned while a domain still translates to it.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::{
    error::refuse,
    ffi::{self, PageBatch, PinnedPage, Process},
};
use kernel::{
    alloc::KVVec,
    fs::File,
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
};

/// The CPU page size.
pub(crate) const PAGE_SIZE: u64 = kernel::page::PAGE_SIZE as u64;

/// Where the memory of a [`Pages`] comes from.
pub(crate) enum Source {
    /// Anonymous or file-backed memory of the calling process, from this page-aligned
    /// user address.
    User {
        /// The page-aligned start address.
        base: u64,
    },
    /// A file (memfd: shmem or hugetlbfs), from this page-aligned offset. The reference
    /// keeps the file open while any area maps it.
    File {
        /// The file.
        file: ARef<File>,
        /// The page-aligned start offset in the file.
        base: u64,
    },
}

/// Largest number of bytes of page pointers one pinning call may use
/// (`IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT` lowers it to exercise the batching).
pub(crate) static BATCH_MEMORY_LIMIT: Atomic<u32> = Atomic::new(65536);

/// Most pages one area may pin: its slots stay within one allocation of `INT_MAX` bytes.
const MAX_SLOTS: usize = i32::MAX as usize / size_of::<Slot>();

/// One page of a [`Pages`]: its pin, and how many users it has.
struct Slot {
    page: Option<PinnedPage>,
    users: u32,
}

/// The pinned pages of a [`Pages`] and who uses them.
///
/// # Invariants
///
/// `slots` is empty or `npages` long (one allocation for the pins and their counts);
/// `slots[i].page` is `Some` iff `slots[i].users > 0`; `npinned` is the number of `Some`s,
/// all of them charged to `process`, and also to `moving_to` while that is set.
struct PinState {
    /// The process that mapped the memory (changed by `IOMMU_IOAS_CHANGE_PROCESS`).
    process: Arc<Process>,
    /// The process a prepared `IOMMU_IOAS_CHANGE_PROCESS` moves the charge to, until it
    /// commits or aborts.
    moving_to: Option<Arc<Process>>,
    slots: KVVec<Slot>,
    npinned: usize,
}

impl Drop for PinState {
    fn drop(&mut self) {
        // Every user unpins before the memory goes away; if one did not, the pins are
        // still released (by `PinnedPage`'s drop) and uncharged here, and it is reported.
        if self.npinned != 0 {
            kernel::warn_on!(true);
            self.process.uncharge(self.npinned);
            if let Some(new) = &self.moving_to {
                new.uncharge(self.npinned);
            }
        }
    }
}

/// A range of memory handed to `/dev/ioasid`, shared by the areas that map it.
///
/// # Invariants
///
/// The described range (`offset`, and the length its creator checked) does not wrap and
/// its length fits `usize` with room for page rounding; `npages` pages cover it.
#[pin_data]
pub(crate) struct Pages {
    source: Source,
    /// Byte offset of the first mapped byte from the start of the first page.
    offset: u64,
    /// Number of pages from the first to the last mapped byte.
    npages: usize,
    /// Whether DMA may write this memory (areas asking for write access need it).
    writable: bool,
    /// Pins, their users and the accounting. Taken after the IOAS's and an access's
    /// locks (lock order: the crate documentation); held across pinning (the mm fault
    /// path never takes it).
    #[pin]
    pins: Mutex<PinState>,
}

impl Pages {
    /// Describes `length` bytes of the calling process's memory at `user_va`.
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if the range wraps, `EINVAL` for a zero or too large length, `ENOMEM`.
    pub(crate) fn new_user(
        user_va: u64,
        length: u64,
        writable: bool,
        process: Arc<Process>,
    ) -> Result<Arc<Pages>> {
        if user_va.checked_add(length).is_none() {
            return Err(EOVERFLOW);
        }
        let offset = user_va % PAGE_SIZE;
        Self::new(
            Source::User {
                base: user_va - offset,
            },
            offset,
            length,
            writable,
            process,
        )
    }

    /// Describes `length` bytes of `file` from byte `start`.
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if the range wraps, `EINVAL` for a zero or too large length, `ENOMEM`.
    pub(crate) fn new_file(
        file: ARef<File>,
        start: u64,
        length: u64,
        writable: bool,
        process: Arc<Process>,
    ) -> Result<Arc<Pages>> {
        if length == 0 {
            return Err(EINVAL);
        }
        if start.checked_add(length - 1).is_none() {
            return Err(EOVERFLOW);
        }
        let offset = start % PAGE_SIZE;
        Self::new(
            Source::File {
                file,
                base: start - offset,
            },
            offset,
            length,
            writable,
            process,
        )
    }

    fn new(
        source: Source,
        offset: u64,
        length: u64,
        writable: bool,
        process: Arc<Process>,
    ) -> Result<Arc<Pages>> {
        // The iommu API takes `size_t` lengths; keep the page rounding from overflowing.
        if length == 0 || length > (usize::MAX as u64) - PAGE_SIZE {
            return Err(EINVAL);
        }
        let npages = (offset + length).div_ceil(PAGE_SIZE) as usize;
        // INVARIANT: checked above and by the callers (no wrap); nothing pinned yet.
        Arc::pin_init(
            pin_init!(Pages {
                source,
                offset,
                npages,
                writable,
                pins <- new_mutex!(PinState {
                    process,
                    moving_to: None,
                    slots: KVVec::new(),
                    npinned: 0,
                }),
            }),
            GFP_KERNEL,
        )
    }

    /// The address a slice starting `start_byte` bytes into this memory would have in its
    /// source (the user address for user memory), which the IOVA allocator aligns to.
    pub(crate) fn source_addr(&self, start_byte: u64) -> u64 {
        match self.source {
            Source::User { base } | Source::File { base, .. } => base + self.offset + start_byte,
        }
    }

    /// Whether DMA may write this memory.
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// Whether this memory comes from a file (`IOMMU_IOAS_MAP_FILE`).
    pub(crate) fn is_file(&self) -> bool {
        matches!(self.source, Source::File { .. })
    }

    /// The index of the page holding byte `byte` (counted from the first mapped byte).
    pub(crate) fn index_of(&self, byte: u64) -> usize {
        ((self.offset + byte) / PAGE_SIZE) as usize
    }

    /// Offset of byte `byte` inside its page.
    pub(crate) fn offset_in_page(&self, byte: u64) -> u64 {
        (self.offset + byte) % PAGE_SIZE
    }

    /// Adds one user to pages `first..=last`, pinning and charging those that had none.
    ///
    /// # Errors
    ///
    /// `ENOMEM` (memory, or over `RLIMIT_MEMLOCK`), `EFAULT` (memory not mapped), or the
    /// errno of the pinning. Nothing changes on error.
    pub(crate) fn pin(&self, first: usize, last: usize) -> Result {
        if first > last || last >= self.npages {
            return Err(EINVAL);
        }
        let mut st = self.pins.lock();
        if st.slots.is_empty() {
            // One slot per page of the whole range, made at its first pin: refused without
            // a warning when the range is too large for one allocation (the kernel's
            // allocators warn above `INT_MAX` bytes, and pinning that much fails anyway).
            if self.npages > MAX_SLOTS {
                return refuse!(
                    ENOMEM,
                    "pin: an area of {} pages is too large to pin (at most {})\n",
                    self.npages,
                    MAX_SLOTS
                );
            }
            let mut slots =
                KVVec::with_capacity(self.npages, GFP_KERNEL | kernel::alloc::flags::__GFP_NOWARN)
                    .or_else(|e| {
                        refuse!(
                            e,
                            "pin: no memory to track the {} pages of an area\n",
                            self.npages
                        )
                    })?;
            for _ in 0..self.npages {
                slots.push(
                    Slot {
                        page: None,
                        users: 0,
                    },
                    GFP_KERNEL,
                )?;
            }
            // INVARIANT: `npages` long, no pins.
            st.slots = slots;
        }
        let mut index = first;
        let result = self.pin_locked(&mut st, &mut index, last);
        if result.is_err() && index > first {
            // `first..index` got their user: take it back.
            self.unpin_locked(&mut st, first, index - 1);
        }
        result
    }

    /// The body of [`Pages::pin`]: on return `*index` is the first page not handled.
    fn pin_locked(&self, st: &mut PinState, index: &mut usize, last: usize) -> Result {
        let limit = BATCH_MEMORY_LIMIT.load(Relaxed) as usize / size_of::<usize>();
        while *index <= last {
            let i = *index;
            if st.slots[i].users > 0 {
                // INVARIANT: one more user of an already pinned page.
                st.slots[i].users += 1;
                *index += 1;
                continue;
            }
            // A run of unpinned pages: pin a batch of it.
            let mut run = 1;
            while i + run <= last && run < limit.max(1) && st.slots[i + run].users == 0 {
                run += 1;
            }
            let mut batch = PageBatch::new(run);
            let addr_or_off = match self.source {
                Source::User { base } | Source::File { base, .. } => base + (i as u64) * PAGE_SIZE,
            };
            let got = match &self.source {
                Source::User { .. } => st.process.pin(addr_or_off, self.writable, &mut batch),
                Source::File { file, .. } => ffi::pin_file(file, addr_or_off, &mut batch),
            }
            .or_else(|e| refuse!(e, "pin: page {} of memory: {:?}\n", i, e))?;
            if got == 0 {
                return refuse!(EFAULT, "pin: page {} is not mapped\n", i);
            }
            if let Err(e) = st.process.charge(got) {
                return refuse!(e, "pin: {} pages over RLIMIT_MEMLOCK\n", got);
            }
            if let Some(new) = &st.moving_to {
                if let Err(e) = new.charge(got) {
                    st.process.uncharge(got);
                    return refuse!(e, "pin: {} pages over the new process's limit\n", got);
                }
            }
            for (k, page) in batch.take().enumerate() {
                // INVARIANT: a new pin with its first user, charged above.
                st.slots[i + k] = Slot {
                    page: Some(page),
                    users: 1,
                };
                st.npinned += 1;
            }
            *index = i + got;
        }
        Ok(())
    }

    /// Removes one user from pages `first..=last` (which must have one), unpinning and
    /// uncharging those that have no user left.
    pub(crate) fn unpin(&self, first: usize, last: usize) {
        let mut st = self.pins.lock();
        self.unpin_locked(&mut st, first, last);
    }

    fn unpin_locked(&self, st: &mut PinState, first: usize, last: usize) {
        let last = last.min(st.slots.len().saturating_sub(1));
        let mut released = 0usize;
        let PinState {
            slots,
            process,
            moving_to,
            npinned,
        } = st;
        let gone = slots
            .get_mut(first..=last)
            .into_iter()
            .flatten()
            .filter_map(|slot| {
                if slot.users == 0 {
                    // A caller bug: never go below zero.
                    return None;
                }
                slot.users -= 1;
                if slot.users == 0 {
                    released += 1;
                    slot.page.take()
                } else {
                    None
                }
            });
        ffi::unpin_pages(gone, self.writable);
        // INVARIANT: `released` pins gone, uncharged here.
        *npinned -= released;
        if released > 0 {
            process.uncharge(released);
            if let Some(new) = moving_to {
                new.uncharge(released);
            }
        }
    }

    /// Runs `f(index, page)` on pinned pages `first..=last` (each must have a user).
    ///
    /// # Errors
    ///
    /// `EINVAL` if a page is not pinned (a caller bug), or what `f` returns.
    pub(crate) fn with_pinned(
        &self,
        first: usize,
        last: usize,
        mut f: impl FnMut(usize, &PinnedPage) -> Result,
    ) -> Result {
        let st = self.pins.lock();
        for i in first..=last {
            let page = st
                .slots
                .get(i)
                .and_then(|s| s.page.as_ref())
                .ok_or(EINVAL)?;
            f(i, page)?;
        }
        Ok(())
    }

    /// Runs `f` on the pinned pages `first..=last` in order (each must have a user), all
    /// borrowed at once, so `f` can build [`crate::ffi::PinnedRun`]s across pages.
    ///
    /// # Errors
    ///
    /// `EINVAL` if a page is not pinned (a caller bug), or what `f` returns.
    pub(crate) fn with_pinned_runs(
        &self,
        first: usize,
        last: usize,
        f: impl for<'p> FnOnce(&mut dyn Iterator<Item = &'p PinnedPage>) -> Result,
    ) -> Result {
        let st = self.pins.lock();
        let Some(slots) = st.slots.get(first..=last) else {
            return Err(EINVAL);
        };
        if slots.iter().any(|s| s.page.is_none()) {
            return Err(EINVAL);
        }
        f(&mut slots.iter().filter_map(|s| s.page.as_ref()))
    }

    /// Prepares moving this memory's charge to the calling process
    /// (`IOMMU_IOAS_CHANGE_PROCESS`): charges it for every pin now, and for every pin
    /// taken until [`Pages::change_process_commit`] or [`Pages::change_process_abort`]
    /// (unpins uncharge both), so either ends with exact books.
    ///
    /// # Errors
    ///
    /// `ENOMEM` over the new process's limit (nothing changed), `EBUSY` if another move is
    /// prepared (callers serialize moves; this does not happen).
    pub(crate) fn change_process_prepare(&self) -> Result {
        let mut st = self.pins.lock();
        if st.moving_to.is_some() {
            return Err(EBUSY);
        }
        let new = Arc::new(st.process.current_like()?, GFP_KERNEL)?;
        new.charge(st.npinned)?;
        st.moving_to = Some(new);
        Ok(())
    }

    /// Completes a prepared move: the old process is uncharged and returned, for the
    /// caller to drop outside of any lock.
    pub(crate) fn change_process_commit(&self) -> Option<Arc<Process>> {
        let mut st = self.pins.lock();
        let new = st.moving_to.take()?;
        st.process.uncharge(st.npinned);
        Some(core::mem::replace(&mut st.process, new))
    }

    /// Undoes a prepared move: the new process is uncharged.
    pub(crate) fn change_process_abort(&self) {
        let mut st = self.pins.lock();
        if let Some(new) = st.moving_to.take() {
            new.uncharge(st.npinned);
            drop(st);
            drop(new);
        }
    }
}

/// A slice of a [`Pages`]: `length` bytes from `start_byte`.
#[derive(Clone)]
pub(crate) struct Slice {
    /// The memory.
    pub(crate) pages: Arc<Pages>,
    /// Offset into `pages`, in bytes from its first mapped byte.
    pub(crate) start_byte: u64,
    /// Length in bytes.
    pub(crate) length: u64,
}
