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

/// Entries per leaf.
const LEAF: usize = 512;
/// Leaves in the directory: the aperture's top divided by what a leaf covers.
const DIR: usize = ((MOCK_APERTURE_LAST + 1) / (MOCK_PAGE_SIZE * LEAF as u64)) as usize;
/// An entry: the 2 KiB block it maps, and whether DMA may read and write it.
#[derive(Clone, Copy)]
struct Pte {
    block: PinnedPhys,
    read: bool,
    write: bool,
}

/// The radix table.
///
/// # Invariants
///
/// `dir.len() == DIR`, every leaf has `LEAF` entries; `mapped` is the number of entries
/// that are `Some`.
struct Table {
    dir: KVec<Option<KVec<Option<Pte>>>>,
    mapped: u64,
}

impl Table {
    fn entry(&self, n: usize) -> Option<Pte> {
        let leaf = self.dir.get(n / LEAF)?.as_ref()?;
        *leaf.get(n % LEAF)?
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
    /// The page table; a mutex because mapping may allocate a leaf.
    #[pin]
    table: Mutex<Table>,
    /// Counts the unmaps that removed an entry, raised under `table`'s lock before it is
    /// released: a nested domain's translation cache filled at an older generation may
    /// hold what this domain no longer maps. Read without the lock (a DMA that races an
    /// unmap may see either value, as hardware would).
    generation: Atomic<u64>,
}

impl MockDomain {
    /// A new, empty domain.
    pub(crate) fn new() -> Result<Arc<Self>> {
        let mut dir = KVec::with_capacity(DIR, GFP_KERNEL)?;
        for _ in 0..DIR {
            dir.push(None, GFP_KERNEL)?;
        }
        // INVARIANT: `DIR` empty leaves, nothing mapped.
        Arc::pin_init(
            pin_init!(Self {
                table <- new_mutex!(Table { dir, mapped: 0 }),
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
        let t = self.table.lock();
        let mut done = 0usize;
        while done < buf.len() {
            let cur = iova.checked_add(done as u64).ok_or(EFAULT)?;
            if !(MOCK_APERTURE_START..=MOCK_APERTURE_LAST).contains(&cur) {
                return Err(EFAULT);
            }
            let e = t.entry((cur / MOCK_PAGE_SIZE) as usize).ok_or(EFAULT)?;
            if !(if write { e.write } else { e.read }) {
                return Err(EPERM);
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

    /// The number of unmaps so far that removed something (see `generation`).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    fn check(&self, iova: u64, len: u64) -> Result<(usize, usize)> {
        let aligned = |v: u64| v % MOCK_PAGE_SIZE == 0;
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
        MOCK_PAGE_SIZE
    }

    fn map(&self, iova: u64, run: &PinnedRun<'_>, prot: u32) -> Result {
        let (first, n) = self.check(iova, run.len())?;
        if run.phys() % MOCK_PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let pte = |k: usize| -> Result<Pte> {
            Ok(Pte {
                block: run.phys_at(k as u64 * MOCK_PAGE_SIZE).ok_or(EINVAL)?,
                read: prot & PROT_READ != 0,
                write: prot & PROT_WRITE != 0,
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
}
