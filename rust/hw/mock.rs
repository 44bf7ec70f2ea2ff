// SPDX-License-Identifier: GPL-2.0

//! The mock IOMMU of the test interface: a page table in plain Rust.
//!
//! It follows upstream iommufd's mock (`iommufd_test.h`): aperture
//! [`MOCK_APERTURE_START`, `MOCK_APERTURE_LAST`] and 2 KiB IOPTEs, smaller than the CPU
//! page, so the IOAS's alignment rules are exercised. The table is a two-level radix tree
//! like real hardware's: a directory of leaves of 512 entries, a leaf allocated when the
//! first entry in its 1 MiB is mapped. An entry holds the physical address of a 2 KiB
//! block (a [`PinnedPhys`]: only pinned memory can be in the table) and its permissions;
//! translations are real, so the test ops can check that an IOVA reaches the page the
//! process mapped.
//!
//! # IOPTE sizes and dirty tracking
//!
//! Each entry also records the size of the IOPTE it belongs to, as hardware with several
//! page sizes would have it: [`HwDomain::map`] picks, at each position, the largest size of
//! the domain's [`MockFormat`] that the IOVA, the physical address and the remaining length
//! allow (the default format has 2 KiB and 4 KiB IOPTEs; `MOCK_IOMMUPT_HUGE` has 4 KiB and
//! 1 MiB ones, as upstream's mock). A domain allocated with
//! `IOMMU_HWPT_ALLOC_DIRTY_TRACKING` keeps a dirty bit per IOPTE: while tracking is on, a
//! mock DMA write sets it (a read does not), as does the test op `IOMMU_TEST_OP_DIRTY`;
//! reading the dirty state reports each dirty IOPTE whole, so a dirty 1 MiB IOPTE shows as
//! every page of it in a 4 KiB bitmap.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

pub(crate) mod nested;

use super::{HwDomain, PROT_READ, PROT_WRITE};
use crate::{
    ffi::{self, PinnedPhys, PinnedRun},
    uapi::iova::Span,
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
};

/// First IOVA of the mock aperture.
pub(crate) const MOCK_APERTURE_START: u64 = 1 << 24;
/// Last IOVA of the mock aperture.
pub(crate) const MOCK_APERTURE_LAST: u64 = (1 << 31) - 1;
/// The mock's IOPTE size.
pub(crate) const MOCK_PAGE_SIZE: u64 = 2048;
/// The mock's huge IOPTE size (`MOCK_HUGE_PAGE_SIZE`).
pub(crate) const MOCK_HUGE_PAGE_SIZE: u64 = 512 * MOCK_PAGE_SIZE;
const MOCK_PAGE_SHIFT: u32 = MOCK_PAGE_SIZE.trailing_zeros();

/// The page-table format of a mock domain (`pagetable_type` of `struct
/// iommu_hwpt_selftest`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MockFormat {
    /// `MOCK_IOMMUPT_DEFAULT`: 2 KiB and 4 KiB IOPTEs.
    Default,
    /// `MOCK_IOMMUPT_HUGE`: 4 KiB and 1 MiB IOPTEs.
    Huge,
}

impl MockFormat {
    /// The IOPTE sizes, as a bitmap of powers of two.
    fn page_sizes(self) -> u64 {
        match self {
            MockFormat::Default => MOCK_PAGE_SIZE | (2 * MOCK_PAGE_SIZE),
            MockFormat::Huge => (2 * MOCK_PAGE_SIZE) | MOCK_HUGE_PAGE_SIZE,
        }
    }
}

/// Entries per leaf.
const LEAF: usize = 512;
/// Leaves in the directory: the aperture's top divided by what a leaf covers.
const DIR: usize = ((MOCK_APERTURE_LAST + 1) / (MOCK_PAGE_SIZE * LEAF as u64)) as usize;
/// An entry: the 2 KiB block it maps, whether DMA may read and write it, the IOPTE it is
/// part of (the `2^shift` bytes around it, all of whose entries say the same) and that
/// IOPTE's dirty bit.
#[derive(Clone, Copy)]
struct Pte {
    block: PinnedPhys,
    read: bool,
    write: bool,
    shift: u8,
    dirty: bool,
}

/// The radix table.
///
/// # Invariants
///
/// `dir.len() == DIR`, every leaf has `LEAF` entries; `mapped` is the number of entries
/// that are `Some`; the entries of one IOPTE agree on its size and dirty bit.
struct Table {
    dir: KVec<Option<KVec<Option<Pte>>>>,
    mapped: u64,
    /// Dirty tracking is on: DMA writes set dirty bits.
    tracking: bool,
}

impl Table {
    fn entry(&self, n: usize) -> Option<Pte> {
        let leaf = self.dir.get(n / LEAF)?.as_ref()?;
        *leaf.get(n % LEAF)?
    }

    /// The entries of the IOPTE that entry `n` (a present one, of `shift`) belongs to.
    fn iopte_of(n: usize, shift: u8) -> core::ops::Range<usize> {
        let count = 1usize << (u32::from(shift) - MOCK_PAGE_SHIFT);
        let first = n & !(count - 1);
        first..first + count
    }

    /// Sets the dirty bit of the IOPTE holding entry `n` to `dirty`.
    fn set_dirty(&mut self, n: usize, dirty: bool) {
        let Some(e) = self.entry(n) else {
            return;
        };
        for k in Self::iopte_of(n, e.shift) {
            let entry = self
                .dir
                .get_mut(k / LEAF)
                .and_then(Option::as_mut)
                .and_then(|leaf| leaf.get_mut(k % LEAF))
                .and_then(Option::as_mut);
            if let Some(entry) = entry {
                // INVARIANT: every entry of the IOPTE gets the same bit.
                entry.dirty = dirty;
            }
        }
    }

    fn set(&mut self, n: usize, value: Option<Pte>) -> Result {
        let slot = self.dir.get_mut(n / LEAF).ok_or(EINVAL)?;
        let leaf = match slot {
            Some(leaf) => leaf,
            None => slot.insert(KVec::from_elem(None, LEAF, GFP_KERNEL)?),
        };
        let entry = leaf.get_mut(n % LEAF).ok_or(EINVAL)?;
        let old = core::mem::replace(entry, value);
        // INVARIANT: count the change of presence.
        match (old.is_some(), value.is_some()) {
            (false, true) => self.mapped += 1,
            (true, false) => self.mapped -= 1,
            _ => {}
        }
        Ok(())
    }
}

/// A mock IOMMU domain.
#[pin_data]
pub(crate) struct MockDomain {
    /// The page-table format.
    format: MockFormat,
    /// Allocated with `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`: can track dirty IOPTEs.
    dirty_ops: bool,
    /// The page table and the tracking switch; a mutex because mapping may allocate a
    /// leaf.
    #[pin]
    table: Mutex<Table>,
    /// Counts the unmaps that removed an entry, raised under `table`'s lock before it is
    /// released: a nested domain's translation cache filled at an older generation may
    /// hold what this domain no longer maps. Read without the lock (a DMA that races an
    /// unmap may see either value, as hardware would).
    generation: Atomic<u64>,
}

impl MockDomain {
    /// A new, empty domain of the default format, without dirty tracking.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Self::with(MockFormat::Default, false)
    }

    /// A new, empty domain of `format`, able to track dirty IOPTEs if `dirty_ops`.
    pub(crate) fn with(format: MockFormat, dirty_ops: bool) -> Result<Arc<Self>> {
        let mut dir = KVec::with_capacity(DIR, GFP_KERNEL)?;
        for _ in 0..DIR {
            dir.push(None, GFP_KERNEL)?;
        }
        // INVARIANT: `DIR` empty leaves, nothing mapped.
        Arc::pin_init(
            pin_init!(Self {
                format,
                dirty_ops,
                table <- new_mutex!(Table {
                    dir,
                    mapped: 0,
                    tracking: false,
                }),
                generation: Atomic::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// A mock device's DMA: copies between `buf` and the memory that `iova` translates
    /// to (`write`: into memory), IOPTE by IOPTE, as hardware would.
    ///
    /// The table lock is held across the copy, so an unmap (which must clear the IOPTEs
    /// before the pages are unpinned) waits for it: the pages stay pinned while they are
    /// read or written.
    ///
    /// # Errors
    ///
    /// `EFAULT` (a DMA fault) at the first IOVA that is not mapped, `EPERM` at the first
    /// IOPTE without the needed permission; bytes before it have been copied.
    pub(crate) fn dma(&self, iova: u64, buf: &mut [u8], write: bool) -> Result {
        let mut t = self.table.lock();
        let mut done = 0usize;
        while done < buf.len() {
            let cur = iova.checked_add(done as u64).ok_or(EFAULT)?;
            if !(MOCK_APERTURE_START..=MOCK_APERTURE_LAST).contains(&cur) {
                return Err(EFAULT);
            }
            let n = (cur / MOCK_PAGE_SIZE) as usize;
            let e = t.entry(n).ok_or(EFAULT)?;
            if !(if write { e.write } else { e.read }) {
                return Err(EPERM);
            }
            if write && t.tracking && !e.dirty {
                t.set_dirty(n, true);
            }
            let off = cur % MOCK_PAGE_SIZE;
            let len = ((MOCK_PAGE_SIZE - off) as usize).min(buf.len() - done);
            // A block never crosses a CPU page (both are aligned powers of two).
            let at = e.block.add_in_page(off).ok_or(EFAULT)?;
            let chunk = &mut buf[done..done + len];
            // The entry maps a pinned page (the IOAS maps only pinned pages and unpins
            // only after clearing the entry, which our lock prevents meanwhile).
            ffi::copy_pinned_phys(at, chunk, write)?;
            done += len;
        }
        Ok(())
    }

    /// The physical address that `iova` translates to, if it is mapped (a HW queue's
    /// check of the address its memory was pinned at, as upstream's mock does).
    pub(crate) fn iova_to_phys(&self, iova: u64) -> Option<u64> {
        if !(MOCK_APERTURE_START..=MOCK_APERTURE_LAST).contains(&iova) {
            return None;
        }
        let t = self.table.lock();
        let e = t.entry((iova / MOCK_PAGE_SIZE) as usize)?;
        e.block.add_in_page(iova % MOCK_PAGE_SIZE).map(|p| p.addr())
    }

    /// The number of unmaps so far that removed something (see `generation`).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Whether dirty tracking is on.
    pub(crate) fn tracking(&self) -> bool {
        self.table.lock().tracking
    }

    /// Marks the IOPTE that maps `iova` dirty, as a DMA write would (the test op
    /// `IOMMU_TEST_OP_DIRTY`); an unmapped IOVA is left alone.
    ///
    /// # Errors
    ///
    /// `EINVAL` unless dirty tracking is on.
    pub(crate) fn set_dirty(&self, iova: u64) -> Result {
        let mut t = self.table.lock();
        if !t.tracking {
            return Err(EINVAL);
        }
        if (MOCK_APERTURE_START..=MOCK_APERTURE_LAST).contains(&iova) {
            t.set_dirty((iova / MOCK_PAGE_SIZE) as usize, true);
        }
        Ok(())
    }

    fn check(&self, iova: u64, len: u64) -> Result<(usize, usize)> {
        let min = self.min_page_size();
        let aligned = |v: u64| v % min == 0;
        let last = iova
            .checked_add(len.checked_sub(1).ok_or(EINVAL)?)
            .ok_or(EINVAL)?;
        if !aligned(iova)
            || !aligned(len)
            || iova < MOCK_APERTURE_START
            || last > MOCK_APERTURE_LAST
        {
            return Err(EINVAL);
        }
        Ok((
            (iova / MOCK_PAGE_SIZE) as usize,
            (len / MOCK_PAGE_SIZE) as usize,
        ))
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // Every IOAS unmaps its areas before it lets a domain go: a leftover IOPTE would
        // point at a page that may be unpinned already.
        kernel::warn_on!(self.mapped != 0);
    }
}

impl HwDomain for MockDomain {
    fn aperture(&self) -> Span {
        Span {
            start: MOCK_APERTURE_START,
            last: MOCK_APERTURE_LAST,
        }
    }

    fn min_page_size(&self) -> u64 {
        1 << self.format.page_sizes().trailing_zeros()
    }

    fn map(&self, iova: u64, run: &PinnedRun<'_>, prot: u32) -> Result {
        let (first, n) = self.check(iova, run.len())?;
        if run.phys() % self.min_page_size() != 0 {
            return Err(EINVAL);
        }
        // The IOPTE at byte `off` of the run: the largest size that the IOVA, the physical
        // address (the run is contiguous) and the bytes left allow.
        let sizes = self.format.page_sizes();
        let iopte_shift = |off: u64| -> u8 {
            let fits = |s: u64| {
                (iova + off) % s == 0 && (run.phys() + off) % s == 0 && off + s <= run.len()
            };
            // Only the format's sizes (two bits), smallest first: the last that fits wins.
            let mut best = MOCK_PAGE_SHIFT;
            let mut left = sizes;
            while left != 0 {
                let size = left & left.wrapping_neg();
                if fits(size) {
                    best = size.trailing_zeros();
                }
                left &= left - 1;
            }
            best as u8
        };
        let mut shift = 0u8;
        let mut iopte_end = 0u64;
        let mut pte = |k: usize| -> Result<Pte> {
            let off = k as u64 * MOCK_PAGE_SIZE;
            if off >= iopte_end {
                shift = iopte_shift(off);
                iopte_end = off + (1 << shift);
            }
            Ok(Pte {
                block: run.phys_at(off).ok_or(EINVAL)?,
                read: prot & PROT_READ != 0,
                write: prot & PROT_WRITE != 0,
                shift,
                dirty: false,
            })
        };
        let mut t = self.table.lock();
        if (first..first + n).any(|k| t.entry(k).is_some()) {
            return Err(EEXIST);
        }
        for k in 0..n {
            if let Err(e) = pte(k).and_then(|p| t.set(first + k, Some(p))) {
                for j in 0..k {
                    let _ = t.set(first + j, None);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn unmap(&self, iova: u64, len: u64) -> u64 {
        let Ok((first, n)) = self.check(iova, len) else {
            return 0;
        };
        let mut t = self.table.lock();
        let mut unmapped = 0;
        for k in first..first + n {
            if t.entry(k).is_some() {
                // Clearing an entry of an existing leaf does not allocate.
                let _ = t.set(k, None);
                unmapped += MOCK_PAGE_SIZE;
            }
        }
        if unmapped != 0 {
            // The nested domains' caches see the change at their next lookup.
            self.generation.fetch_add(1, Relaxed);
        }
        // A software table has no IOTLB of its own: the entries are gone when the lock
        // drops.
        unmapped
    }

    fn iova_to_phys(&self, iova: u64) -> Option<u64> {
        if !(MOCK_APERTURE_START..=MOCK_APERTURE_LAST).contains(&iova) {
            return None;
        }
        let e = self.table.lock().entry((iova / MOCK_PAGE_SIZE) as usize)?;
        Some(e.block.addr() + iova % MOCK_PAGE_SIZE)
    }

    fn dirty_ops(&self) -> bool {
        self.dirty_ops
    }

    fn set_dirty_tracking(&self, enable: bool) -> Result {
        if !self.dirty_ops {
            return Err(EOPNOTSUPP);
        }
        let mut t = self.table.lock();
        if enable && !t.tracking {
            // A clean start: no dirty bit from an earlier round.
            for leaf in t.dir.iter_mut().flatten() {
                for e in leaf.iter_mut().flatten() {
                    e.dirty = false;
                }
            }
        }
        t.tracking = enable;
        Ok(())
    }

    fn read_and_clear_dirty(
        &self,
        span: Span,
        keep: bool,
        record: &mut dyn FnMut(u64, u64),
    ) -> Result {
        if !self.dirty_ops {
            return Err(EOPNOTSUPP);
        }
        let mut t = self.table.lock();
        let lo = span.start.max(MOCK_APERTURE_START);
        let hi = span.last.min(MOCK_APERTURE_LAST);
        if lo > hi {
            return Ok(());
        }
        let (mut n, last) = (
            (lo / MOCK_PAGE_SIZE) as usize,
            (hi / MOCK_PAGE_SIZE) as usize,
        );
        while n <= last {
            let Some(e) = t.entry(n) else {
                n += 1;
                continue;
            };
            let iopte = Table::iopte_of(n, e.shift);
            if e.dirty {
                let start = iopte.start as u64 * MOCK_PAGE_SIZE;
                record(start, start + (1 << e.shift) - 1);
                if !keep {
                    t.set_dirty(n, false);
                }
            }
            n = iopte.end;
        }
        Ok(())
    }
}
