// SPDX-License-Identifier: GPL-2.0

//! ioasid's own stage-1 page-table format for the mock IOMMU's nested HWPTs
//! (`IOASID_HWPT_DATA_MOCK_S1`, documented in `include/uapi/linux/ioasid.h`), and the
//! translation cache (IOTLB) the mock keeps for it.
//!
//! The user builds the table in its own memory, mapped in the parent's IOAS: every address
//! in it is an IOVA of that IOAS (a guest-physical address, for a VMM), which the parent's
//! domain (stage 2) translates. Two levels of 512 64-bit entries, 4 KiB pages, a 1 GiB
//! input space: bits 29-21 of the IOVA index the level-1 table at `root`, bits 20-12 the
//! level-2 table a level-1 entry points to, whose entry points to the page. An entry is
//! `address | WRITE | READ | VALID`; the access needs the permission at both levels.
//!
//! This is pure logic: it depends only on `core`, is compiled into the module and is
//! unit-tested on the host (`tests/host`).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

/// `IOASID_HWPT_DATA_MOCK_S1`: the nested HWPT data type of this format.
pub(crate) const IOASID_HWPT_DATA_MOCK_S1: u32 = 0x10000;
/// `IOASID_HWPT_INVALIDATE_DATA_MOCK_S1`: its invalidation entry type.
pub(crate) const IOASID_HWPT_INVALIDATE_DATA_MOCK_S1: u32 = 0x10000;
/// `IOASID_MOCK_S1_INVALIDATE_ALL`: invalidate every cached translation.
pub(crate) const INVALIDATE_ALL: u32 = 1 << 0;

/// Stage-1 page size; tables are one page.
pub(crate) const PAGE_SIZE: u64 = 4096;
/// Entries per table.
const ENTRIES: u64 = 512;
/// The stage-1 input space: `[0, INPUT_LIMIT)`.
pub(crate) const INPUT_LIMIT: u64 = 1 << 30;
/// Entry bit: present.
pub(crate) const VALID: u64 = 1 << 0;
/// Entry bit: DMA may read.
pub(crate) const READ: u64 = 1 << 1;
/// Entry bit: DMA may write.
pub(crate) const WRITE: u64 = 1 << 2;
/// The address bits of an entry.
const ADDR: u64 = !(PAGE_SIZE - 1);
/// Cached translations per nested HWPT.
pub(crate) const CACHE_ENTRIES: usize = 8;

/// Why a configuration, translation or invalidation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum S1Error {
    /// A bad argument (`EINVAL`).
    Inval,
    /// Flags or reserved bits this format does not know (`EOPNOTSUPP`).
    NotSupported,
    /// Beyond the input space or a non-present entry: a stage-1 fault (`EFAULT`).
    Fault,
    /// The entries do not allow the access (`EPERM`).
    Permission,
}

/// Checks `struct ioasid_hwpt_mock_s1`: the root table is page-aligned, flags and the
/// reserved field are zero.
pub(crate) const fn check_config(root: u64, flags: u32, reserved: u32) -> Result<(), S1Error> {
    if flags != 0 || reserved != 0 {
        return Err(S1Error::NotSupported);
    }
    if !root.is_multiple_of(PAGE_SIZE) {
        return Err(S1Error::Inval);
    }
    Ok(())
}

/// Where the entry for `iova` is in the table at `table` (`level` 1 or 2).
///
/// # Errors
///
/// [`S1Error::Fault`] for an IOVA beyond the input space.
pub(crate) const fn entry_addr(table: u64, iova: u64, level: u32) -> Result<u64, S1Error> {
    if iova >= INPUT_LIMIT {
        return Err(S1Error::Fault);
    }
    let shift = if level == 1 { 21 } else { 12 };
    Ok(table + ((iova >> shift) % ENTRIES) * 8)
}

/// The address and `READ | WRITE` bits of a present entry (`None`: not present).
pub(crate) const fn decode(entry: u64) -> Option<(u64, u64)> {
    if entry & VALID == 0 {
        return None;
    }
    Some((entry & ADDR, entry & (READ | WRITE)))
}

/// Whether permission bits `perms` allow the access.
pub(crate) const fn allows(perms: u64, write: bool) -> bool {
    perms & if write { WRITE } else { READ } != 0
}

/// One cached translation: the stage-1 page of an IOVA, the page it maps to, the
/// permissions of both levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cached {
    /// The IOVA's stage-1 page (aligned).
    pub(crate) page: u64,
    /// The page it translates to (an IOVA of the parent's IOAS).
    pub(crate) target: u64,
    /// `READ | WRITE` of both levels, ANDed.
    pub(crate) perms: u64,
}

/// A nested HWPT's translation cache, as an IOTLB: filled by table walks, used until the
/// user invalidates (so a table changed without invalidation keeps its old translation),
/// and emptied when the parent's domain changes: every entry was found through the
/// parent's mappings of the tables, so a parent whose `generation` moved (an unmap) makes
/// all of them suspect.
///
/// # Invariants
///
/// `next < CACHE_ENTRIES`; no two entries have the same page.
#[derive(Debug)]
pub(crate) struct Cache {
    entries: [Option<Cached>; CACHE_ENTRIES],
    /// The slot the next fill replaces (round robin).
    next: usize,
    /// The parent's generation the entries were filled at.
    generation: u64,
}

impl Cache {
    /// An empty cache.
    pub(crate) const fn new() -> Self {
        // INVARIANT: empty, `next` in range.
        Self {
            entries: [None; CACHE_ENTRIES],
            next: 0,
            generation: 0,
        }
    }

    /// The cached translation of `iova`'s page, if any; first empties the cache if the
    /// parent's `generation` is not the one it was filled at.
    pub(crate) fn lookup(&mut self, iova: u64, generation: u64) -> Option<Cached> {
        self.follow(generation);
        let page = iova & ADDR;
        self.entries
            .iter()
            .flatten()
            .find(|c| c.page == page)
            .copied()
    }

    /// Caches `c`, found by a walk at the parent's `generation`.
    pub(crate) fn insert(&mut self, c: Cached, generation: u64) {
        self.follow(generation);
        // INVARIANT: an entry for the same page is replaced in place.
        if let Some(slot) = self
            .entries
            .iter_mut()
            .find(|e| e.is_some_and(|e| e.page == c.page))
        {
            *slot = Some(c);
            return;
        }
        self.entries[self.next] = Some(c);
        self.next = (self.next + 1) % CACHE_ENTRIES;
    }

    /// Empties the cache if the parent's `generation` moved since it was filled.
    fn follow(&mut self, generation: u64) {
        if generation != self.generation {
            self.invalidate_all();
            self.generation = generation;
        }
    }

    /// Drops every translation of an IOVA in `[first, last]`.
    pub(crate) fn invalidate(&mut self, first: u64, last: u64) {
        for e in self.entries.iter_mut() {
            if e.is_some_and(|c| c.page + (PAGE_SIZE - 1) >= first && c.page <= last) {
                *e = None;
            }
        }
    }

    /// Drops every translation.
    pub(crate) fn invalidate_all(&mut self) {
        self.entries = [None; CACHE_ENTRIES];
    }

    /// How many translations are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.iter().flatten().count()
    }
}

/// What one `struct ioasid_hwpt_invalidate_mock_s1` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalidation {
    /// Every translation.
    All,
    /// The translations of IOVAs in `[first, last]`.
    Range { first: u64, last: u64 },
}

/// Checks one invalidation entry: `INVALIDATE_ALL` (address and length ignored) or a
/// non-empty range that does not wrap.
///
/// # Errors
///
/// [`S1Error::NotSupported`] for unknown flags or a non-zero reserved field,
/// [`S1Error::Inval`] for an empty or wrapping range.
pub(crate) const fn invalidation(
    iova: u64,
    length: u64,
    flags: u32,
    reserved: u32,
) -> Result<Invalidation, S1Error> {
    if flags & !INVALIDATE_ALL != 0 || reserved != 0 {
        return Err(S1Error::NotSupported);
    }
    if flags & INVALIDATE_ALL != 0 {
        return Ok(Invalidation::All);
    }
    if length == 0 {
        return Err(S1Error::Inval);
    }
    match iova.checked_add(length - 1) {
        Some(last) => Ok(Invalidation::Range { first: iova, last }),
        None => Err(S1Error::Inval),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_needs_an_aligned_root_and_no_flags() {
        assert_eq!(check_config(0x20_0000, 0, 0), Ok(()));
        assert_eq!(check_config(0x20_0008, 0, 0), Err(S1Error::Inval));
        assert_eq!(check_config(0x20_0000, 1, 0), Err(S1Error::NotSupported));
        assert_eq!(check_config(0x20_0000, 0, 1), Err(S1Error::NotSupported));
    }

    #[test]
    fn entry_addresses_index_both_levels() {
        let iova = (3 << 21) | (5 << 12) | 0x123;
        assert_eq!(entry_addr(0x1000, iova, 1), Ok(0x1000 + 3 * 8));
        assert_eq!(entry_addr(0x8000, iova, 2), Ok(0x8000 + 5 * 8));
        assert_eq!(entry_addr(0x1000, INPUT_LIMIT - 1, 1), Ok(0x1000 + 511 * 8));
        assert_eq!(entry_addr(0x1000, INPUT_LIMIT, 1), Err(S1Error::Fault));
        assert_eq!(entry_addr(0x1000, u64::MAX, 2), Err(S1Error::Fault));
    }

    #[test]
    fn entries_decode_to_address_and_permissions() {
        assert_eq!(decode(0x5000 | READ), None);
        assert_eq!(decode(0x5000 | VALID | READ), Some((0x5000, READ)));
        assert_eq!(
            decode(0x5000 | VALID | READ | WRITE | 0x8),
            Some((0x5000, READ | WRITE))
        );
        assert!(allows(READ, false) && !allows(READ, true));
        assert!(allows(WRITE, true) && !allows(WRITE, false));
    }

    fn c(page: u64, target: u64) -> Cached {
        Cached {
            page,
            target,
            perms: READ,
        }
    }

    #[test]
    fn the_cache_keeps_a_translation_until_invalidated() {
        let mut cache = Cache::new();
        assert_eq!(cache.lookup(0x3000, 0), None);
        cache.insert(c(0x3000, 0xa000), 0);
        assert_eq!(cache.lookup(0x3fff, 0), Some(c(0x3000, 0xa000)));
        // A range that misses it keeps it; one that touches its page drops it.
        cache.invalidate(0x4000, 0x4fff);
        assert_eq!(cache.len(), 1);
        cache.invalidate(0x3ff0, 0x3ff0);
        assert_eq!(cache.lookup(0x3000, 0), None);
        cache.insert(c(0x3000, 0xb000), 0);
        cache.insert(c(0x3000, 0xc000), 0);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.lookup(0x3000, 0), Some(c(0x3000, 0xc000)));
        cache.invalidate_all();
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_parent_change_empties_the_cache() {
        let mut cache = Cache::new();
        cache.insert(c(0x3000, 0xa000), 7);
        assert_eq!(cache.lookup(0x3000, 7), Some(c(0x3000, 0xa000)));
        assert_eq!(cache.lookup(0x3000, 8), None);
        assert_eq!(cache.len(), 0);
        // A walk that started before the change fills for the new generation only.
        cache.insert(c(0x3000, 0xa000), 8);
        cache.insert(c(0x4000, 0xb000), 9);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_cache_is_bounded_and_replaces_round_robin() {
        let mut cache = Cache::new();
        for i in 0..CACHE_ENTRIES as u64 + 2 {
            cache.insert(c(i * PAGE_SIZE, 0x10_0000 + i * PAGE_SIZE), 0);
        }
        assert_eq!(cache.len(), CACHE_ENTRIES);
        assert_eq!(cache.lookup(0, 0), None);
        assert_eq!(cache.lookup(PAGE_SIZE, 0), None);
        assert!(cache.lookup(2 * PAGE_SIZE, 0).is_some());
    }

    #[test]
    fn invalidation_entries_are_all_or_a_nonempty_range() {
        assert_eq!(invalidation(0, 0, INVALIDATE_ALL, 0), Ok(Invalidation::All));
        assert_eq!(
            invalidation(0x1000, 0x2000, 0, 0),
            Ok(Invalidation::Range {
                first: 0x1000,
                last: 0x2fff
            })
        );
        assert_eq!(invalidation(0x1000, 0, 0, 0), Err(S1Error::Inval));
        assert_eq!(invalidation(u64::MAX, 2, 0, 0), Err(S1Error::Inval));
        assert_eq!(invalidation(0, 1, 2, 0), Err(S1Error::NotSupported));
        assert_eq!(invalidation(0, 1, 0, 1), Err(S1Error::NotSupported));
    }
}
