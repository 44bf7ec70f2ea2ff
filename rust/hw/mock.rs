// SPDX-License-Identifier: GPL-2.0

//! The mock IOMMU of the test interface: a page table in plain Rust.
//!
//! It follows upstream iommufd's mock (`iommufd_test.h`): aperture
//! [`MOCK_APERTURE_START`, `MOCK_APERTURE_LAST`] and 2 KiB IOPTEs, smaller than the CPU
//! page, so the IOAS's alignment rules are exercised. The table is a two-level radix tree
//! like real hardware's: a directory of leaves of 512 entries, a leaf allocated when the
//! first entry in its 1 MiB is mapped. An entry holds the physical address of a 2 KiB
//! block and its permissions; translations are real, so the test ops can check that an IOVA
//! reaches the page the process mapped.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

pub(crate) mod nested;

use super::{HwDomain, PROT_READ, PROT_WRITE};
use crate::{
    ffi::{self, PinnedRun},
    uapi::iova::Span,
};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

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
/// Entry bit: present.
const PTE_VALID: u64 = 1;
/// Entry bit: readable.
const PTE_READ: u64 = 2;
/// Entry bit: writable.
const PTE_WRITE: u64 = 4;
/// The physical address bits of an entry.
const PTE_ADDR: u64 = !(MOCK_PAGE_SIZE - 1);

/// The radix table.
///
/// # Invariants
///
/// `dir.len() == DIR`; `mapped` is the number of valid entries.
struct Table {
    dir: KVec<Option<KBox<[u64; LEAF]>>>,
    mapped: u64,
    /// Counts the unmaps that removed an entry: a nested domain's translation cache
    /// filled at an older generation may hold what the parent no longer maps.
    generation: u64,
}

impl Table {
    fn entry(&self, n: usize) -> Option<u64> {
        let leaf = self.dir.get(n / LEAF)?.as_ref()?;
        let e = leaf[n % LEAF];
        (e & PTE_VALID != 0).then_some(e)
    }

    fn set(&mut self, n: usize, value: u64) -> Result {
        let slot = self.dir.get_mut(n / LEAF).ok_or(EINVAL)?;
        let leaf = match slot {
            Some(leaf) => leaf,
            None => slot.insert(KBox::new([0u64; LEAF], GFP_KERNEL)?),
        };
        let old = core::mem::replace(&mut leaf[n % LEAF], value);
        // INVARIANT: count the change of the valid bit.
        if old & PTE_VALID == 0 && value & PTE_VALID != 0 {
            self.mapped += 1;
        } else if old & PTE_VALID != 0 && value & PTE_VALID == 0 {
            self.mapped -= 1;
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
                table <- new_mutex!(Table { dir, mapped: 0, generation: 0 }),
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
            let need = if write { PTE_WRITE } else { PTE_READ };
            if e & need == 0 {
                return Err(EPERM);
            }
            let off = cur % MOCK_PAGE_SIZE;
            let len = ((MOCK_PAGE_SIZE - off) as usize).min(buf.len() - done);
            let phys = (e & PTE_ADDR) + off;
            let chunk = &mut buf[done..done + len];
            // The entry maps a pinned page (the IOAS maps only pinned pages and unpins
            // only after clearing the entry, which our lock prevents meanwhile).
            ffi::copy_pinned_phys(phys, chunk, write)?;
            done += len;
        }
        Ok(())
    }

    /// The number of unmaps so far that removed something (see [`Table`]).
    pub(crate) fn generation(&self) -> u64 {
        self.table.lock().generation
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
        let phys = run.phys();
        let (first, n) = self.check(iova, run.len())?;
        if phys % MOCK_PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let mut bits = PTE_VALID;
        if prot & PROT_READ != 0 {
            bits |= PTE_READ;
        }
        if prot & PROT_WRITE != 0 {
            bits |= PTE_WRITE;
        }
        let mut t = self.table.lock();
        if (first..first + n).any(|k| t.entry(k).is_some()) {
            return Err(EEXIST);
        }
        for k in 0..n {
            if let Err(e) = t.set(first + k, (phys + k as u64 * MOCK_PAGE_SIZE) | bits) {
                for j in 0..k {
                    let _ = t.set(first + j, 0);
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
                let _ = t.set(k, 0);
                unmapped += MOCK_PAGE_SIZE;
            }
        }
        if unmapped != 0 {
            // The nested domains' caches see the change at their next lookup.
            t.generation += 1;
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
        Some((e & PTE_ADDR) + iova % MOCK_PAGE_SIZE)
    }
}
