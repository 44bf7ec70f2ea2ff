// SPDX-License-Identifier: GPL-2.0

//! The I/O address space (IOAS) object.
//!
//! An IOAS maps IOVA ranges ("areas") to ranges of the calling process's memory. This
//! module owns the IOVA bookkeeping: the areas, the allowed list (`IOMMU_IOAS_ALLOW_IOVAS`)
//! and the reserved ranges (added by devices and domains), and places new areas with the
//! pure-logic allocator of [`crate::iova`].
//!
//! # Theory of operation
//!
//! Areas live in a red-black tree keyed by their *last* IOVA. Areas never overlap, so the
//! tree is also sorted by first IOVA, and the first area that can intersect `[a, b]` is the
//! first one whose last IOVA is `>= a` (a lower-bound lookup); it intersects iff it starts
//! at or before `b`. Walking on is another lower-bound lookup from its last IOVA + 1,
//! `O(log n)` a step.
//!
//! Pages are pinned only when something needs them. While at least one domain is attached,
//! every area holds one pin user on its pages for all the domains ("domain pin") and is
//! mapped into each of them; an IOAS without domains pins nothing for its areas. In-kernel
//! accesses ([`crate::access`]) pin the ranges they ask for and count themselves in the
//! areas they use; unmapping such an area first tells those accesses to let go.
//!
//! Order of teardown, always: remove the IOPTEs from every domain (which flushes), then
//! drop the pins. Order of locks: an access's lock, then the IOAS's, then a `Pages`'.
//!
//! What this module must never do: unmap part of an area (unmap removes areas whole or
//! refuses), or leave the tree changed when an ioctl fails before its first removal.

// Safe Rust only: `unsafe` lives in the FFI layer (`ffi`, `ffi_iommu`).
#![deny(unsafe_code)]

use crate::{
    access::Access,
    context::Context,
    dispatch::Ucmd,
    domain::{Domain, HwDomain, PROT_READ, PROT_WRITE},
    ffi, ioasid_dbg,
    iova::{self, IovaError, MergeSorted, Span},
    object::Object,
    pages::{Pages, Slice, PAGE_SIZE},
    uapi::*,
};
use kernel::{
    fs::File,
    new_mutex,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::aref::ARef,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    uaccess::{UserPtr, UserSlice},
};

/// The largest alignment the allocator follows from a user address: the PMD huge page
/// size, so transparent huge pages can become huge IOPTEs.
const HUGE_SIZE: u64 = PAGE_SIZE * 512;

/// One mapping: an IOVA range backed by a slice of a [`Pages`].
///
/// # Invariants
///
/// `slice.length == span.last - span.start + 1` (areas never span the whole 64-bit space:
/// their length is a `usize`).
pub(crate) struct Area {
    span: Span,
    /// The memory behind the span.
    slice: Slice,
    /// `IOMMU_IOAS_MAP_READABLE`/`WRITEABLE` as given.
    prot: u32,
    /// Whether the area holds the domain pin on its pages (iff the IOAS has domains).
    domain_pinned: bool,
    /// Number of access pins inside this area (unmap waits for them to go).
    accesses: u32,
}

impl Area {
    /// Pages `first..=last` of the slice's memory.
    fn page_range(&self) -> (usize, usize) {
        let pages = &self.slice.pages;
        (
            pages.index_of(self.slice.start_byte),
            pages.index_of(self.slice.start_byte + self.slice.length - 1),
        )
    }

    /// The domain permissions.
    fn domain_prot(&self) -> u32 {
        let mut prot = 0;
        if self.prot & IOMMU_IOAS_MAP_READABLE != 0 {
            prot |= PROT_READ;
        }
        if self.prot & IOMMU_IOAS_MAP_WRITEABLE != 0 {
            prot |= PROT_WRITE;
        }
        prot
    }

    /// Maps the area into `domain`; the pages must be pinned. With `huge`, physically
    /// contiguous runs go to the domain in one call (so it may use huge IOPTEs); without,
    /// page by page (`IOMMU_OPTION_HUGE_PAGES` off: the domain gets only page-sized
    /// IOPTEs). Nothing stays mapped on error.
    fn map_into(&self, domain: &dyn HwDomain, huge: bool) -> Result {
        let pages = &self.slice.pages;
        let (first, last) = self.page_range();
        let prot = self.domain_prot();
        // Contiguous physical runs become one map call.
        let mut run: Option<(u64, u64, u64)> = None; // (iova, phys, len)
        let mut done = 0u64; // bytes of the area mapped so far
        let mut byte = self.slice.start_byte;
        let end = self.slice.start_byte + self.slice.length;
        let result = pages.with_pinned(first, last, |_, page| {
            let off = pages.offset_in_page(byte);
            let len = (PAGE_SIZE - off).min(end - byte);
            let phys = page.phys() + off;
            let iova = self.span.start + (byte - self.slice.start_byte);
            byte += len;
            match &mut run {
                Some((ri, rp, rl)) if huge && *rp + *rl == phys && *ri + *rl == iova => *rl += len,
                _ => {
                    if let Some((ri, rp, rl)) = run.take() {
                        domain.map(ri, rp, rl, prot)?;
                        done += rl;
                    }
                    run = Some((iova, phys, len));
                }
            }
            Ok(())
        });
        let result = result.and_then(|()| match run.take() {
            Some((ri, rp, rl)) => domain.map(ri, rp, rl, prot).map(|()| done += rl),
            None => Ok(()),
        });
        if let Err(e) = result {
            if done > 0 {
                domain.unmap(self.span.start, done);
            }
            ioasid_dbg!(
                "map: area [{:#x}, {:#x}] into a domain: {:?}\n",
                self.span.start,
                self.span.last,
                e
            );
            return Err(e);
        }
        Ok(())
    }

    /// Removes the area from `domain` (flushed when this returns).
    fn unmap_from(&self, domain: &dyn HwDomain) {
        domain.unmap(self.span.start, self.span.last - self.span.start + 1);
    }

    /// Pins the pages for the domains and maps the area into every domain of `domains`
    /// (`huge` as for [`Area::map_into`]). Nothing stays pinned or mapped on error.
    fn fill(&mut self, domains: &[Domain], huge: bool) -> Result {
        let (first, last) = self.page_range();
        self.slice.pages.pin(first, last)?;
        for (k, d) in domains.iter().enumerate() {
            if let Err(e) = self.map_into(d.hw(), huge) {
                for done in &domains[..k] {
                    self.unmap_from(done.hw());
                }
                self.slice.pages.unpin(first, last);
                return Err(e);
            }
        }
        self.domain_pinned = true;
        Ok(())
    }

    /// Undoes [`Area::fill`]: out of every domain first, then unpinned.
    fn unfill(&mut self, domains: &[Domain]) {
        if !self.domain_pinned {
            return;
        }
        for d in domains {
            self.unmap_from(d.hw());
        }
        let (first, last) = self.page_range();
        self.slice.pages.unpin(first, last);
        self.domain_pinned = false;
    }
}

/// A reserved IOVA range and who reserved it.
#[derive(Clone, Copy)]
struct Reserved {
    span: Span,
    /// 0 for the test interface's reservations (permanent), a domain's tag otherwise.
    owner: usize,
}

/// Pages an access pinned in one area.
pub(crate) struct AccessPin {
    pages: Arc<Pages>,
    first: usize,
    last: usize,
    /// The area's key (last IOVA), whose access count this piece holds.
    area_key: u64,
}

/// The fields of [`Ioas`] protected by its mutex.
struct IoasInner {
    /// The areas, keyed by last IOVA (see the theory of operation).
    areas: RBTree<u64, Area>,
    /// The allowed ranges, sorted and disjoint; empty means everything is allowed.
    allowed: KVec<Span>,
    /// Reserved ranges, sorted by start (they may overlap: several owners).
    reserved: KVec<Reserved>,
    /// The attached domains; all of them map every area.
    domains: KVec<Domain>,
    /// The in-kernel accesses attached to this IOAS (told before their pages are unmapped).
    accesses: KVec<Arc<Access>>,
    /// IDs of the automatic HWPTs on this IOAS (reused by the next attach).
    auto_hwpts: KVec<u32>,
    /// Alignment every area's IOVA and length must have (1 until a domain raises it).
    iova_alignment: u64,
    /// Whether contiguous pages may be combined into huge IOPTEs.
    huge_pages: bool,
}

/// Iterates the areas that intersect `within`, in IOVA order.
fn areas_in(areas: &RBTree<u64, Area>, within: Span) -> impl Iterator<Item = Span> + '_ {
    let mut next = Some(within.start);
    core::iter::from_fn(move || {
        let key = next.take()?;
        let cursor = areas.cursor_lower_bound(&key)?;
        let span = cursor.current().1.span;
        if span.start > within.last {
            return None;
        }
        next = span.last.checked_add(1);
        Some(span)
    })
}

/// The reserved ranges that intersect `within` (sorted by start).
fn reserved_in(reserved: &[Reserved], within: Span) -> impl Iterator<Item = Span> + '_ {
    reserved
        .iter()
        .map(|r| r.span)
        .filter(move |r| r.intersects(&within))
}

fn iova_errno(e: IovaError) -> Error {
    match e {
        IovaError::Inval => EINVAL,
        IovaError::Overflow => EOVERFLOW,
        IovaError::Exist => EEXIST,
        IovaError::NoSpace => ENOSPC,
    }
}

/// An I/O address space.
#[pin_data]
pub(crate) struct Ioas {
    /// Protects the IOVA bookkeeping; held across pinning and domain mapping (lock
    /// order: the crate documentation).
    #[pin]
    inner: Mutex<IoasInner>,
    /// Number of other objects that depend on this IOAS (`IOMMU_DESTROY` gives `EBUSY`
    /// while non-zero). Atomic because the object table reads it under its spinlock.
    users: Atomic<u32>,
    /// Sum of the areas' access pins (changed under `inner`; read without it by unmap to
    /// skip the access notification when no access pinned anything).
    access_pins: Atomic<u32>,
}

impl Ioas {
    /// A new, empty IOAS that allows the whole IOVA space.
    pub(crate) fn new() -> Result<Arc<Ioas>> {
        Arc::pin_init(
            pin_init!(Ioas {
                inner <- new_mutex!(IoasInner {
                    areas: RBTree::new(),
                    allowed: KVec::new(),
                    reserved: KVec::new(),
                    domains: KVec::new(),
                    accesses: KVec::new(),
                    auto_hwpts: KVec::new(),
                    iova_alignment: 1,
                    huge_pages: true,
                }),
                users: Atomic::new(0),
                access_pins: Atomic::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// Number of other objects that depend on this IOAS.
    pub(crate) fn users(&self) -> u32 {
        self.users.load(Relaxed)
    }

    /// Reports the usable IOVA ranges, in order, to `emit`; returns the IOAS's alignment.
    ///
    /// # Errors
    ///
    /// Whatever `emit` returns.
    pub(crate) fn iova_ranges(&self, mut emit: impl FnMut(Span) -> Result) -> Result<u64> {
        let inner = self.inner.lock();
        let all = Span {
            start: 0,
            last: u64::MAX,
        };
        for hole in iova::Holes::new(all, inner.reserved.iter().map(|r| r.span)) {
            emit(hole)?;
        }
        Ok(inner.iova_alignment)
    }

    /// Replaces the allowed list with `allowed` (sorted and disjoint).
    ///
    /// # Errors
    ///
    /// `EADDRINUSE` if an allowed range intersects a reserved range; the list is unchanged.
    pub(crate) fn set_allowed(&self, allowed: KVec<Span>) -> Result {
        let mut inner = self.inner.lock();
        if let Some(a) = allowed
            .iter()
            .find(|a| reserved_in(&inner.reserved, **a).next().is_some())
        {
            ioasid_dbg!(
                "allow_iovas: [{:#x}, {:#x}] intersects a reserved range\n",
                a.start,
                a.last
            );
            return Err(EADDRINUSE);
        }
        let old = core::mem::replace(&mut inner.allowed, allowed);
        drop(inner);
        drop(old);
        Ok(())
    }

    /// Maps `length` bytes of user memory at `user_va`, at `fixed_iova` or at an IOVA the
    /// allocator chooses; returns the IOVA.
    ///
    /// # Errors
    ///
    /// As [`Pages::new_user`] and [`Ioas::map_slices`].
    pub(crate) fn map_user(
        &self,
        user_va: u64,
        length: u64,
        fixed_iova: Option<u64>,
        prot: u32,
        process: Arc<ffi::Process>,
    ) -> Result<u64> {
        let pages = Pages::new_user(
            user_va,
            length,
            prot & IOMMU_IOAS_MAP_WRITEABLE != 0,
            process,
        )
        .inspect_err(|e| {
            ioasid_dbg!(
                "map: user range {:#x}+{:#x} refused: {:?}\n",
                user_va,
                length,
                e
            )
        })?;
        self.map_pages(pages, length, fixed_iova, prot)
    }

    /// Maps `length` bytes of `file` from byte `start`, like [`Ioas::map_user`].
    ///
    /// # Errors
    ///
    /// As [`Pages::new_file`] and [`Ioas::map_slices`].
    pub(crate) fn map_file(
        &self,
        file: ARef<File>,
        start: u64,
        length: u64,
        fixed_iova: Option<u64>,
        prot: u32,
        process: Arc<ffi::Process>,
    ) -> Result<u64> {
        let pages = Pages::new_file(
            file,
            start,
            length,
            prot & IOMMU_IOAS_MAP_WRITEABLE != 0,
            process,
        )
        .inspect_err(|e| {
            ioasid_dbg!(
                "map_file: file range {:#x}+{:#x} refused: {:?}\n",
                start,
                length,
                e
            )
        })?;
        self.map_pages(pages, length, fixed_iova, prot)
    }

    /// Maps all `length` bytes of `pages` as one area.
    fn map_pages(
        &self,
        pages: Arc<Pages>,
        length: u64,
        fixed_iova: Option<u64>,
        prot: u32,
    ) -> Result<u64> {
        let slice = Slice {
            pages,
            start_byte: 0,
            length,
        };
        self.map_slices(core::slice::from_ref(&slice), length, fixed_iova, prot)
    }

    /// Maps `slices` (together `length` bytes) at consecutive IOVAs, at `fixed_iova` or
    /// where the allocator places them (aligned like the first slice's source address);
    /// returns the first IOVA.
    ///
    /// # Errors
    ///
    /// `EPERM` for write access to read-only memory; `EINVAL` for a length or IOVA not
    /// aligned to the IOAS's alignment, or a fixed range touching a reserved range;
    /// `EOVERFLOW`; `EEXIST` when a fixed range overlaps an area; `ENOSPC` when nothing
    /// fits; `ENOMEM`. On error nothing is mapped.
    pub(crate) fn map_slices(
        &self,
        slices: &[Slice],
        length: u64,
        fixed_iova: Option<u64>,
        prot: u32,
    ) -> Result<u64> {
        if prot & IOMMU_IOAS_MAP_WRITEABLE != 0 && slices.iter().any(|s| !s.pages.writable()) {
            ioasid_dbg!("map: write access to memory that was mapped read-only\n");
            return Err(EPERM);
        }
        let Some(first) = slices.first() else {
            return Err(EINVAL);
        };
        let addr = first.pages.source_addr(first.start_byte);
        // One tree node per slice, allocated before taking the lock so a failure leaves
        // nothing behind. The common case, one slice, needs no vector.
        let mut single = None;
        let mut many = KVec::new();
        if slices.len() == 1 {
            single = Some(RBTreeNodeReservation::new(GFP_KERNEL)?);
        } else {
            many.reserve(slices.len(), GFP_KERNEL)?;
            for _ in 0..slices.len() {
                many.push(RBTreeNodeReservation::new(GFP_KERNEL)?, GFP_KERNEL)?;
            }
        }
        let mut reservations = Iterator::chain(single.into_iter(), many);

        let mut inner = self.inner.lock();
        let align = inner.iova_alignment;
        if length == 0 || length & (align - 1) != 0 {
            ioasid_dbg!("map: length {:#x} is not {:#x}-aligned\n", length, align);
            return Err(EINVAL);
        }
        let span = match fixed_iova {
            Some(iova) => iova::check_fixed(
                iova,
                length,
                align,
                |s| reserved_in(&inner.reserved, s).next().is_some(),
                |s| areas_in(&inner.areas, s).next().is_some(),
            ),
            None => iova::alloc(
                inner.allowed.iter().copied(),
                |w| MergeSorted::new(reserved_in(&inner.reserved, w), areas_in(&inner.areas, w)),
                addr,
                length,
                PAGE_SIZE,
                HUGE_SIZE,
                align,
            )
            .and_then(|iova| Span::from_len(iova, length)),
        }
        .map_err(|e| {
            ioasid_dbg!(
                "map: no IOVA for {:#x} bytes (fixed {:?}): {:?}\n",
                length,
                fixed_iova,
                e
            );
            iova_errno(e)
        })?;

        // Every area's page offset must follow the alignment too (domains map whole
        // IOPTEs).
        if slices
            .iter()
            .any(|s| s.pages.offset_in_page(s.start_byte) & (align - 1) != 0)
        {
            ioasid_dbg!("map: memory offset is not {:#x}-aligned\n", align);
            return Err(EINVAL);
        }

        // Insert the areas one by one (with domains: pinned and mapped first); the lock is
        // held throughout, so nobody sees a partial result, and a failure removes the
        // areas inserted so far.
        let mut iova = span.start;
        for (k, slice) in slices.iter().enumerate() {
            let Some(reservation) = reservations.next() else {
                break;
            };
            // INVARIANT: the slices add up to `length`, so each area's span is its slice's
            // length, inside `span`.
            let area_span = Span {
                start: iova,
                last: iova + (slice.length - 1),
            };
            iova = iova.wrapping_add(slice.length);
            let mut area = Area {
                span: area_span,
                slice: slice.clone(),
                prot,
                domain_pinned: false,
                accesses: 0,
            };
            if !inner.domains.is_empty() {
                if let Err(e) = area.fill(&inner.domains, inner.huge_pages) {
                    let inner = &mut *inner;
                    let mut undo = span.start;
                    for done in &slices[..k] {
                        let last = undo + (done.length - 1);
                        if let Some(mut a) = inner.areas.remove(&last) {
                            a.unfill(&inner.domains);
                        }
                        undo = undo.wrapping_add(done.length);
                    }
                    return Err(e);
                }
            }
            inner
                .areas
                .insert(reservation.into_node(area_span.last, area));
        }
        Ok(span.start)
    }

    /// The memory behind `range`, which areas must cover without a hole (they may start
    /// before it and end after it: slices of them are taken), for `IOMMU_IOAS_COPY`.
    ///
    /// # Errors
    ///
    /// `ENOENT` when something in `range` is not mapped; `ENOMEM`.
    pub(crate) fn slices(&self, range: Span) -> Result<KVec<Slice>> {
        let mut out = KVec::new();
        let inner = self.inner.lock();
        let mut next = Some(range.start);
        for span in areas_in(&inner.areas, range) {
            let Some(cur) = next else { break };
            if span.start > cur {
                break;
            }
            let Some(area) = inner.areas.get(&span.last) else {
                break;
            };
            let last = span.last.min(range.last);
            out.push(
                Slice {
                    pages: area.slice.pages.clone(),
                    start_byte: area.slice.start_byte + (cur - span.start),
                    length: last - cur + 1,
                },
                GFP_KERNEL,
            )?;
            next = last.checked_add(1);
        }
        drop(inner);
        if matches!(next, Some(n) if n <= range.last) {
            ioasid_dbg!(
                "copy: [{:#x}, {:#x}] is not fully mapped\n",
                range.start,
                range.last
            );
            return Err(ENOENT);
        }
        Ok(out)
    }

    /// Unmaps the areas inside `range`, in IOVA order; returns the bytes unmapped.
    ///
    /// An area that `range` only partly covers stops the walk with `ENOENT`; the areas
    /// before it that lay inside `range` stay unmapped (as in iommufd). Unmapping nothing
    /// is not an error here: the caller decides.
    ///
    /// # Errors
    ///
    /// `ENOENT` as above.
    pub(crate) fn unmap(&self, range: Span) -> Result<u64> {
        self.release_accesses(range)?;
        let mut unmapped = 0u64;
        let mut inner = self.inner.lock();
        let result = loop {
            let Some(span) = areas_in(&inner.areas, range).next() else {
                break Ok(());
            };
            if !range.contains(&span) {
                ioasid_dbg!(
                    "unmap: [{:#x}, {:#x}] cuts the area [{:#x}, {:#x}]\n",
                    range.start,
                    range.last,
                    span.start,
                    span.last
                );
                break Err(ENOENT);
            }
            if inner.areas.get(&span.last).is_some_and(|a| a.accesses > 0) {
                // An access pinned it again since `release_accesses`.
                ioasid_dbg!(
                    "unmap: [{:#x}, {:#x}] is pinned by an access\n",
                    span.start,
                    span.last
                );
                break Err(EBUSY);
            }
            let inner = &mut *inner;
            if let Some(mut area) = inner.areas.remove(&span.last) {
                // Out of every domain (flushed), then unpinned.
                area.unfill(&inner.domains);
                drop(area);
            }
            // The full-space span's length does not fit: `wrapping_add` makes it 0, and
            // only "unmap all" can reach it.
            unmapped = unmapped.wrapping_add(span.last - span.start + 1);
        };
        drop(inner);
        result.map(|()| unmapped)
    }

    /// Reserves `span`: nothing can be mapped there and it is no longer reported by
    /// `IOMMU_IOAS_IOVA_RANGES`.
    ///
    /// # Errors
    ///
    /// `EADDRINUSE` if an area or an allowed range intersects `span`; `ENOMEM`.
    pub(crate) fn add_reserved(&self, span: Span) -> Result {
        let mut inner = self.inner.lock();
        Self::reserve_locked(&mut inner, span, 0)
    }

    /// Reserves every span of `spans` for `owner` (a device's reserved regions), all or
    /// nothing; [`Ioas::unreserve`] with the same owner removes them.
    ///
    /// # Errors
    ///
    /// `EADDRINUSE` if an area or an allowed range intersects one of them; `ENOMEM`.
    pub(crate) fn reserve(&self, owner: usize, spans: &[Span]) -> Result {
        let mut inner = self.inner.lock();
        for span in spans {
            if let Err(e) = Self::reserve_locked(&mut inner, *span, owner) {
                inner.reserved.retain(|r| r.owner != owner);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Removes the ranges `owner` reserved.
    pub(crate) fn unreserve(&self, owner: usize) {
        self.inner.lock().reserved.retain(|r| r.owner != owner);
    }

    fn reserve_locked(inner: &mut IoasInner, span: Span, owner: usize) -> Result {
        if areas_in(&inner.areas, span).next().is_some()
            || inner.allowed.iter().any(|a| a.intersects(&span))
        {
            ioasid_dbg!(
                "reserve: [{:#x}, {:#x}] is mapped or allowed\n",
                span.start,
                span.last
            );
            return Err(EADDRINUSE);
        }
        // Sorted by start.
        let at = inner
            .reserved
            .partition_point(|r| r.span.start <= span.start);
        let entry = Reserved { span, owner };
        inner
            .reserved
            .insert_within_capacity(at, entry)
            .or_else(|_| {
                inner.reserved.reserve(1, GFP_KERNEL)?;
                inner
                    .reserved
                    .insert_within_capacity(at, entry)
                    .map_err(|_| ENOMEM)
            })?;
        Ok(())
    }

    /// The alignment areas need: the largest minimum page size of the domains, and the
    /// CPU page size without huge pages (1 otherwise).
    fn alignment_of(domains: &[Domain], huge_pages: bool) -> u64 {
        let base = if huge_pages { 1 } else { PAGE_SIZE };
        domains
            .iter()
            .map(|d| d.hw().min_page_size())
            .fold(base, u64::max)
    }

    /// Attaches `domain`: reserves what is outside its aperture, raises the alignment to
    /// its page size, and maps every area into it (pinning the pages if it is the first
    /// domain).
    ///
    /// # Errors
    ///
    /// `EADDRINUSE` if an area or allowed range lies outside the aperture or is not
    /// aligned to the domain's page size; `EINVAL` for a page size above the CPU's;
    /// pinning and mapping errors. Nothing changes on error.
    pub(crate) fn add_domain(&self, domain: &Domain) -> Result {
        let hw = domain.hw();
        let align = hw.min_page_size();
        if align > PAGE_SIZE {
            ioasid_dbg!("attach: domain page size {:#x} is above PAGE_SIZE\n", align);
            return Err(EINVAL);
        }
        self.users.fetch_add(1, Relaxed);
        let mut inner = self.inner.lock();
        let result = Self::add_domain_locked(&mut inner, domain);
        drop(inner);
        if result.is_err() {
            self.users.fetch_sub(1, Relaxed);
        }
        result
    }

    fn add_domain_locked(inner: &mut IoasInner, domain: &Domain) -> Result {
        let hw = domain.hw();
        let align = hw.min_page_size().max(inner.iova_alignment);
        Self::check_alignment(inner, align)?;
        let all = Span {
            start: 0,
            last: u64::MAX,
        };
        inner.domains.reserve(1, GFP_KERNEL)?;
        // What the hardware cannot translate becomes reserved, owned by the domain.
        let aperture = hw.aperture();
        let tag = domain.owner_tag();
        let outside = iova::Holes::new(all, core::iter::once(aperture));
        let mut added = 0;
        let mut result = Ok(());
        for span in outside {
            result = Self::reserve_locked(inner, span, tag);
            if result.is_err() {
                ioasid_dbg!(
                    "attach: [{:#x}, {:#x}] outside the aperture is in use\n",
                    span.start,
                    span.last
                );
                break;
            }
            added += 1;
        }
        // Map every area; the first domain pins them.
        let first_domain = inner.domains.is_empty();
        let huge = inner.huge_pages;
        // Areas are walked in IOVA order: the first `filled` ones are in the domain.
        let mut filled = 0usize;
        if result.is_ok() {
            for area in inner.areas.values_mut() {
                let r = if first_domain {
                    area.fill(core::slice::from_ref(domain), huge)
                } else {
                    area.map_into(hw, huge)
                };
                if let Err(e) = r {
                    result = Err(e);
                    break;
                }
                filled += 1;
            }
        }
        if let Err(e) = result {
            for area in inner.areas.values_mut().take(filled) {
                if first_domain {
                    area.unfill(core::slice::from_ref(domain));
                } else {
                    area.unmap_from(hw);
                }
            }
            if added > 0 {
                inner.reserved.retain(|r| r.owner != tag);
            }
            return Err(e);
        }
        // Capacity reserved above.
        inner.domains.push(domain.clone(), GFP_KERNEL)?;
        inner.iova_alignment = align;
        Ok(())
    }

    /// Detaches `domain`: unmaps every area from it (flushed), drops the domain pins when
    /// it was the last domain, and removes its reserved ranges.
    pub(crate) fn remove_domain(&self, domain: &Domain) {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        let Some(pos) = inner.domains.iter().position(|d| d.same(domain)) else {
            return;
        };
        let last_domain = inner.domains.len() == 1;
        for area in inner.areas.values_mut() {
            if last_domain {
                area.unfill(core::slice::from_ref(domain));
            } else {
                area.unmap_from(domain.hw());
            }
        }
        let removed = inner.domains.remove(pos);
        let tag = domain.owner_tag();
        inner.reserved.retain(|r| r.owner != tag);
        inner.iova_alignment = Self::alignment_of(&inner.domains, inner.huge_pages);
        drop(removed);
        self.users.fetch_sub(1, Relaxed);
    }

    /// Records automatic HWPT `id` of this IOAS.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn remember_auto_hwpt(&self, id: u32) -> Result {
        Ok(self.inner.lock().auto_hwpts.push(id, GFP_KERNEL)?)
    }

    /// Forgets automatic HWPT `id` (removed from the table).
    pub(crate) fn forget_auto_hwpt(&self, id: u32) {
        self.inner.lock().auto_hwpts.retain(|h| *h != id);
    }

    /// The automatic HWPTs of this IOAS, by ID.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn auto_hwpts(&self) -> Result<KVec<u32>> {
        let inner = self.inner.lock();
        let mut out = KVec::with_capacity(inner.auto_hwpts.len(), GFP_KERNEL)?;
        for id in inner.auto_hwpts.iter() {
            out.push(*id, GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// Attaches an in-kernel access (it is told before its pins are unmapped).
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn add_access(&self, access: Arc<Access>) -> Result {
        let mut inner = self.inner.lock();
        inner.accesses.push(access, GFP_KERNEL)?;
        drop(inner);
        self.users.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Detaches an access (which holds no pins any more).
    pub(crate) fn remove_access(&self, access: &Access) {
        let mut inner = self.inner.lock();
        let Some(pos) = inner
            .accesses
            .iter()
            .position(|a| core::ptr::eq(&**a, access))
        else {
            return;
        };
        let removed = inner.accesses.remove(pos);
        drop(inner);
        drop(removed);
        self.users.fetch_sub(1, Relaxed);
    }

    /// Asks every access to release its pins inside `range` (their unmap notification),
    /// with the IOAS unlocked: accesses take their own lock, then ours.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    fn release_accesses(&self, range: Span) -> Result {
        // Most unmaps happen with no access pin anywhere: no need to look.
        if self.access_pins.load(Relaxed) == 0 {
            return Ok(());
        }
        let inner = self.inner.lock();
        let busy = areas_in(&inner.areas, range)
            .any(|s| inner.areas.get(&s.last).is_some_and(|a| a.accesses > 0));
        if !busy {
            return Ok(());
        }
        let mut accesses = KVec::with_capacity(inner.accesses.len(), GFP_KERNEL)?;
        for a in inner.accesses.iter() {
            accesses.push(a.clone(), GFP_KERNEL)?;
        }
        drop(inner);
        for a in accesses.iter() {
            a.notify_unmap(self, range);
        }
        Ok(())
    }

    /// Pins `[iova, iova + length)` for an access; `write` asks for write permission.
    /// Returns the pinned pieces and gives `pages_out` each page in order, with the offset
    /// and length of the range's bytes in it.
    ///
    /// # Errors
    ///
    /// `ENOENT` if the range is not fully mapped, `EPERM` for write access to a read-only
    /// area, pinning errors. Nothing stays pinned on error.
    pub(crate) fn access_pin(
        &self,
        range: Span,
        write: bool,
        mut pages_out: impl FnMut(&ffi::PinnedPage, usize, usize) -> Result,
    ) -> Result<KVec<AccessPin>> {
        let mut pins = KVec::new();
        let mut inner = self.inner.lock();
        let result = (|| {
            let mut next = Some(range.start);
            while let Some(cur) = next.filter(|&n| n <= range.last) {
                let Some(cursor) = inner.areas.cursor_lower_bound_mut(&cur) else {
                    return Err(ENOENT);
                };
                let (&key, area) = cursor.current();
                if area.span.start > cur {
                    return Err(ENOENT);
                }
                if write && area.prot & IOMMU_IOAS_MAP_WRITEABLE == 0 {
                    ioasid_dbg!(
                        "access: write to the read-only area at {:#x}\n",
                        area.span.start
                    );
                    return Err(EPERM);
                }
                let last = area.span.last.min(range.last);
                let pages = area.slice.pages.clone();
                let b0 = area.slice.start_byte + (cur - area.span.start);
                let b1 = area.slice.start_byte + (last - area.span.start);
                let (first_page, last_page) = (pages.index_of(b0), pages.index_of(b1));
                pins.reserve(1, GFP_KERNEL)?;
                pages.pin(first_page, last_page)?;
                let piece = AccessPin {
                    pages,
                    first: first_page,
                    last: last_page,
                    area_key: key,
                };
                let mut b = b0;
                let walked = piece.pages.with_pinned(first_page, last_page, |_, p| {
                    let off = piece.pages.offset_in_page(b);
                    let len = (PAGE_SIZE - off).min(b1 - b + 1);
                    b += len;
                    pages_out(p, off as usize, len as usize)
                });
                if let Err(e) = walked {
                    piece.pages.unpin(first_page, last_page);
                    return Err(e);
                }
                if let Some(area) = inner.areas.get_mut(&key) {
                    area.accesses += 1;
                    self.access_pins.fetch_add(1, Relaxed);
                }
                pins.push(piece, GFP_KERNEL)?;
                next = last.checked_add(1);
            }
            Ok(())
        })();
        if let Err(e) = result {
            self.access_unpin_locked(&mut inner, pins);
            return Err(e);
        }
        Ok(pins)
    }

    /// Releases what [`Ioas::access_pin`] pinned.
    pub(crate) fn access_unpin(&self, pins: KVec<AccessPin>) {
        let mut inner = self.inner.lock();
        self.access_unpin_locked(&mut inner, pins);
    }

    fn access_unpin_locked(&self, inner: &mut IoasInner, mut pins: KVec<AccessPin>) {
        for piece in pins.drain_all() {
            if let Some(area) = inner.areas.get_mut(&piece.area_key) {
                if area.accesses > 0 {
                    area.accesses -= 1;
                    self.access_pins.fetch_sub(1, Relaxed);
                }
            }
            piece.pages.unpin(piece.first, piece.last);
        }
    }

    /// Copies between `buf` and the memory mapped at `iova` (`write`: into the memory),
    /// pinning each page only for the copy.
    ///
    /// # Errors
    ///
    /// As [`Ioas::access_pin`].
    pub(crate) fn access_rw(&self, iova: u64, buf: &mut [u8], write: bool) -> Result {
        if buf.is_empty() {
            return Ok(());
        }
        let range = Span::from_len(iova, buf.len() as u64).map_err(iova_errno)?;
        let mut done = 0usize;
        let pins = self.access_pin(range, write, |page, offset, len| {
            let chunk = buf.get_mut(done..done + len).ok_or(EINVAL)?;
            if write {
                page.write(offset, chunk);
            } else {
                page.read(offset, chunk);
            }
            done += len;
            Ok(())
        })?;
        self.access_unpin(pins);
        Ok(())
    }

    /// Every distinct memory of this IOAS, for `IOMMU_IOAS_CHANGE_PROCESS`.
    ///
    /// # Errors
    ///
    /// `EINVAL` if some memory is not from a file (user addresses belong to one process),
    /// `ENOMEM`.
    pub(crate) fn all_pages(&self, out: &mut KVec<Arc<Pages>>) -> Result {
        let inner = self.inner.lock();
        let all = Span {
            start: 0,
            last: u64::MAX,
        };
        for span in areas_in(&inner.areas, all) {
            let Some(area) = inner.areas.get(&span.last) else {
                continue;
            };
            if !area.slice.pages.is_file() {
                ioasid_dbg!(
                    "change_process: the area at {:#x} maps user memory\n",
                    span.start
                );
                return Err(EINVAL);
            }
            if !out.iter().any(|p| Arc::ptr_eq(p, &area.slice.pages)) {
                out.push(area.slice.pages.clone(), GFP_KERNEL)?;
            }
        }
        Ok(())
    }

    /// Whether contiguous pages may become huge IOPTEs.
    pub(crate) fn huge_pages(&self) -> bool {
        self.inner.lock().huge_pages
    }

    /// Enables or disables huge IOPTEs. Without them every area must be CPU-page aligned
    /// (as in iommufd), so the alignment rises to `PAGE_SIZE`, and areas are mapped into
    /// domains page by page.
    ///
    /// # Errors
    ///
    /// `EINVAL` when disabling while domains have areas mapped (their IOPTEs may be huge
    /// already), `EADDRINUSE` if an existing area is not aligned to the new alignment.
    pub(crate) fn set_huge_pages(&self, on: bool) -> Result {
        let mut inner = self.inner.lock();
        if !on && inner.huge_pages && !inner.domains.is_empty() && !inner.areas.is_empty() {
            ioasid_dbg!("option: huge pages cannot be turned off while domains map areas\n");
            return Err(EINVAL);
        }
        let align = Self::alignment_of(&inner.domains, on);
        Self::check_alignment(&inner, align)?;
        inner.huge_pages = on;
        inner.iova_alignment = align;
        Ok(())
    }

    /// `EADDRINUSE` unless every area's IOVA, length and page offset are `align`-aligned.
    fn check_alignment(inner: &IoasInner, align: u64) -> Result {
        let mask = align - 1;
        let all = Span {
            start: 0,
            last: u64::MAX,
        };
        if let Some(span) = areas_in(&inner.areas, all).find(|s| {
            let a = inner.areas.get(&s.last);
            s.start & mask != 0
                || (s.last - s.start + 1) & mask != 0
                || a.is_some_and(|a| a.slice.pages.offset_in_page(a.slice.start_byte) & mask != 0)
        }) {
            ioasid_dbg!(
                "alignment: area [{:#x}, {:#x}] is not {:#x}-aligned\n",
                span.start,
                span.last,
                align
            );
            return Err(EADDRINUSE);
        }
        Ok(())
    }
}

// The ioctl handlers of the IOAS (see `include/uapi/linux/ioasid.h` for their contract).

/// `IOMMU_IOAS_ALLOC`.
pub(crate) fn ioctl_alloc<'a>(ctx: &'a Context, ucmd: &mut Ucmd<'a>) -> Result {
    let mut cmd = IommuIoasAlloc::read(ucmd.bytes());
    if cmd.flags != 0 {
        ioasid_dbg!("ioas_alloc: unknown flags {:#x}\n", cmd.flags);
        return Err(EOPNOTSUPP);
    }
    let new = ctx
        .objects()
        .reserve()?
        .prepare(Object::Ioas(Ioas::new()?))?;
    cmd.out_ioas_id = new.id();
    cmd.write(ucmd.bytes_mut());
    ucmd.on_reply(new)
}

/// `IOMMU_IOAS_IOVA_RANGES`.
pub(crate) fn ioctl_iova_ranges(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuIoasIovaRanges::read(ucmd.bytes());
    if cmd.reserved != 0 {
        ioasid_dbg!("iova_ranges: reserved field is {:#x}\n", cmd.reserved);
        return Err(EOPNOTSUPP);
    }
    let ioas = ctx.objects().get_ioas(cmd.ioas_id)?;
    let room = cmd.num_iovas;
    let mut out = user_array(cmd.allowed_iovas, room, IommuIovaRange::SIZE)?.writer();
    let mut count = 0u32;
    let mut buf = [0u8; IommuIovaRange::SIZE];
    cmd.out_iova_alignment = ioas.iova_ranges(|span| {
        if count < room {
            IommuIovaRange {
                start: span.start,
                last: span.last,
            }
            .write(&mut buf);
            out.write_slice(&buf)?;
        }
        count += 1;
        Ok(())
    })?;
    cmd.num_iovas = count;
    cmd.write(ucmd.bytes_mut());
    if count > room {
        ioasid_dbg!("iova_ranges: {} ranges, room for {}\n", count, room);
        ucmd.respond_with_error();
        return Err(EMSGSIZE);
    }
    Ok(())
}

/// `IOMMU_IOAS_ALLOW_IOVAS`.
pub(crate) fn ioctl_allow_iovas(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let cmd = IommuIoasAllowIovas::read(ucmd.bytes());
    if cmd.reserved != 0 {
        ioasid_dbg!("allow_iovas: reserved field is {:#x}\n", cmd.reserved);
        return Err(EOPNOTSUPP);
    }
    let ioas = ctx.objects().get_ioas(cmd.ioas_id)?;
    let mut input = user_array(cmd.allowed_iovas, cmd.num_iovas, IommuIovaRange::SIZE)?.reader();
    let mut allowed = KVec::new();
    let mut buf = [0u8; IommuIovaRange::SIZE];
    for _ in 0..cmd.num_iovas {
        input.read_slice(&mut buf)?;
        let r = IommuIovaRange::read(&buf);
        if r.start >= r.last {
            ioasid_dbg!("allow_iovas: empty range [{:#x}, {:#x}]\n", r.start, r.last);
            return Err(EINVAL);
        }
        allowed.push(
            Span {
                start: r.start,
                last: r.last,
            },
            GFP_KERNEL,
        )?;
    }
    allowed.sort_unstable_by_key(|s: &Span| s.start);
    if let Some(w) = allowed.windows(2).find(|w| w[0].intersects(&w[1])) {
        ioasid_dbg!(
            "allow_iovas: ranges at {:#x} and {:#x} overlap\n",
            w[0].start,
            w[1].start
        );
        return Err(EINVAL);
    }
    ioas.set_allowed(allowed)
}

/// `IOMMU_IOAS_MAP`.
pub(crate) fn ioctl_map(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuIoasMap::read(ucmd.bytes());
    let (fixed, prot) = map_args(
        "map",
        cmd.flags,
        cmd.reserved,
        &[cmd.iova, cmd.length],
        cmd.iova,
    )?;
    let ioas = ctx.objects().get_ioas(cmd.ioas_id)?;
    let process = ctx.process()?;
    cmd.iova = ioas.map_user(cmd.user_va, cmd.length, fixed, prot, process)?;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_IOAS_MAP_FILE`.
pub(crate) fn ioctl_map_file(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuIoasMapFile::read(ucmd.bytes());
    let (fixed, prot) = map_args("map_file", cmd.flags, 0, &[cmd.iova, cmd.length], cmd.iova)?;
    let ioas = ctx.objects().get_ioas(cmd.ioas_id)?;
    if cmd.length == 0 {
        ioasid_dbg!("map_file: zero length\n");
        return Err(EINVAL);
    }
    if cmd.start.checked_add(cmd.length - 1).is_none() {
        ioasid_dbg!(
            "map_file: file range {:#x}+{:#x} wraps\n",
            cmd.start,
            cmd.length
        );
        return Err(EOVERFLOW);
    }
    let file = ffi::fget(cmd.fd).inspect_err(|_| ioasid_dbg!("map_file: bad fd {}\n", cmd.fd))?;
    let process = ctx.process()?;
    cmd.iova = ioas.map_file(file, cmd.start, cmd.length, fixed, prot, process)?;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_IOAS_COPY`.
pub(crate) fn ioctl_copy(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuIoasCopy::read(ucmd.bytes());
    let (fixed, prot) = map_args(
        "copy",
        cmd.flags,
        0,
        &[cmd.length, cmd.src_iova, cmd.dst_iova],
        cmd.dst_iova,
    )?;
    let src = ctx.objects().get_ioas(cmd.src_ioas_id)?;
    let range = Span::from_len(cmd.src_iova, cmd.length).map_err(iova_errno)?;
    let slices = src.slices(range)?;
    drop(src);
    let dst = ctx.objects().get_ioas(cmd.dst_ioas_id)?;
    cmd.dst_iova = dst.map_slices(&slices, cmd.length, fixed, prot)?;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_IOAS_UNMAP`.
pub(crate) fn ioctl_unmap(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuIoasUnmap::read(ucmd.bytes());
    let ioas = ctx.objects().get_ioas(cmd.ioas_id)?;
    let unmapped = if cmd.iova == 0 && cmd.length == u64::MAX {
        ioas.unmap(Span {
            start: 0,
            last: u64::MAX,
        })?
    } else {
        if cmd.iova == u64::MAX || cmd.length == u64::MAX {
            ioasid_dbg!("unmap: iova or length is UINT64_MAX\n");
            return Err(EOVERFLOW);
        }
        let range = Span::from_len(cmd.iova, cmd.length).map_err(iova_errno)?;
        let unmapped = ioas.unmap(range)?;
        if unmapped == 0 {
            ioasid_dbg!(
                "unmap: nothing mapped in [{:#x}, {:#x}]\n",
                range.start,
                range.last
            );
            return Err(ENOENT);
        }
        unmapped
    };
    cmd.length = unmapped;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_IOAS_CHANGE_PROCESS`: charges every pinned page of every IOAS of the context to
/// the calling process instead of the one that mapped it. All or nothing: the new process
/// is charged for all of it first (`ENOMEM` over its limit, and nothing moved), and while
/// the move is prepared, pages pinned or unpinned meanwhile are charged to both processes
/// (see [`Pages::change_process_prepare`]), so the books stay exact without holding every
/// IOAS's lock at once. The move covers the memory mapped when the ioctl started.
pub(crate) fn ioctl_change_process(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let cmd = IommuIoasChangeProcess::read(ucmd.bytes());
    if cmd.reserved != 0 {
        ioasid_dbg!("change_process: reserved field is {:#x}\n", cmd.reserved);
        return Err(EOPNOTSUPP);
    }
    // One move at a time per context: a `Pages` has room for one prepared move.
    let _moving = ctx.change_process_lock().lock();
    let mut pages = KVec::new();
    for ioas in ctx.objects().all_ioas()?.iter() {
        ioas.all_pages(&mut pages)?;
    }
    let mut prepared = 0;
    let mut result = Ok(());
    for p in pages.iter() {
        result = p.change_process_prepare();
        if let Err(e) = result {
            ioasid_dbg!(
                "change_process: the new process cannot be charged: {:?}\n",
                e
            );
            break;
        }
        prepared += 1;
    }
    if result.is_err() {
        for p in pages.iter().take(prepared) {
            p.change_process_abort();
        }
        return result;
    }
    for p in pages.iter() {
        // The old process is dropped here, outside of the `Pages`' lock.
        drop(p.change_process_commit());
    }
    Ok(())
}

/// `IOMMU_OPTION` for `IOMMU_OPTION_HUGE_PAGES` (the per-IOAS option).
pub(crate) fn option_huge_pages(ctx: &Context, cmd: &mut IommuOption) -> Result {
    let ioas = ctx.objects().get_ioas(cmd.object_id)?;
    match cmd.op {
        IOMMU_OPTION_OP_GET => {
            cmd.val64 = u64::from(ioas.huge_pages());
            Ok(())
        }
        IOMMU_OPTION_OP_SET if cmd.val64 <= 1 => ioas.set_huge_pages(cmd.val64 == 1),
        IOMMU_OPTION_OP_SET => {
            ioasid_dbg!("option: huge pages value {} is not 0 or 1\n", cmd.val64);
            Err(EINVAL)
        }
        op => {
            ioasid_dbg!("option: unknown op {}\n", op);
            Err(EOPNOTSUPP)
        }
    }
}

/// [`check_map_args`] with a logged reason and the errno.
fn map_args(
    op: &str,
    flags: u32,
    reserved: u32,
    values: &[u64],
    fixed_iova: u64,
) -> Result<(Option<u64>, u32)> {
    check_map_args(flags, reserved, values, fixed_iova).map_err(|e| {
        ioasid_dbg!("{}: flags {:#x}: {:?}\n", op, flags, e);
        match e {
            MapArgError::NotSupported => EOPNOTSUPP,
            MapArgError::Overflow => EOVERFLOW,
            MapArgError::NoAccess => EINVAL,
        }
    })
}

/// The user array of `count` elements of `elem` bytes at `addr`.
fn user_array(addr: u64, count: u32, elem: usize) -> Result<UserSlice> {
    let len = (count as usize).checked_mul(elem).ok_or(EOVERFLOW)?;
    Ok(UserSlice::new(UserPtr::from_addr(addr as usize), len))
}
