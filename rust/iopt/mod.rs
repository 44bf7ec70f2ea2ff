// SPDX-License-Identifier: GPL-2.0

//! The I/O page table engine: what an I/O address space (IOAS) is made of.
//!
//! An IOAS maps IOVA ranges ("areas") to ranges of the calling process's memory. This
//! module owns the IOVA bookkeeping: the areas, the allowed list (`IOMMU_IOAS_ALLOW_IOVAS`)
//! and the reserved ranges (added by devices and domains), and places new areas with the
//! pure-logic allocator of [`crate::uapi::iova`].
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
//! accesses ([`crate::objects::access`]) pin the ranges they ask for and count themselves in the
//! areas they use; unmapping such an area first tells those accesses to let go.
//!
//! Order of teardown, always: remove the IOPTEs from every domain (which flushes), then
//! drop the pins. Order of locks: an access's lock, then the IOAS's, then a `Pages`'.
//!
//! What this module must never do: unmap part of an area (unmap removes areas whole or
//! refuses; VFIO type1 v1 compatibility first cuts areas in two, [`cut`], where no IOPTE
//! and no pinned page spans the cut), or leave the tree changed when an ioctl fails before
//! its first removal.
//!
//! The engine is split like upstream's `io_pagetable.c`: this file keeps the IOVA
//! bookkeeping (map, copy, unmap, reservations), [`area`] the areas and how they enter and
//! leave domains, [`attach`] the domains and in-kernel accesses attached to an IOAS,
//! [`dirty`] the dirty tracking of the domains, and [`pages`] the memory behind areas.
//! The ioctl handlers are in `crate::objects::ioas`.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

mod area;
mod attach;
mod cut;
mod dirty;
pub(crate) mod pages;

use crate::{
    error::refuse,
    ffi,
    hw::Domain,
    objects::access::Access,
    uapi::iova::{self, MergeSorted, Span},
    uapi::*,
};
use area::{Area, HUGE_SIZE};
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
};
use pages::{Pages, Slice, PAGE_SIZE};

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
            return refuse!(
                EADDRINUSE,
                "allow_iovas: [{:#x}, {:#x}] intersects a reserved range\n",
                a.start,
                a.last
            );
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
        self.check_length(length)?;
        let pages = Pages::new_user(
            user_va,
            length,
            prot & IOMMU_IOAS_MAP_WRITEABLE != 0,
            process,
        )
        .or_else(|e| {
            refuse!(
                e,
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
        self.check_length(length)?;
        let pages = Pages::new_file(
            file,
            start,
            length,
            prot & IOMMU_IOAS_MAP_WRITEABLE != 0,
            process,
        )
        .or_else(|e| {
            refuse!(
                e,
                "map_file: file range {:#x}+{:#x} refused: {:?}\n",
                start,
                length,
                e
            )
        })?;
        self.map_pages(pages, length, fixed_iova, prot)
    }

    /// Refuses a length that the IOAS's current alignment rules out, before anything is
    /// allocated for the mapping: under the debug kernels an allocation costs more than
    /// the rest of a refused map (upstream's `ioas_iova_alloc` makes thousands). The
    /// alignment can change before the mapping takes the lock; [`Ioas::map_slices`]
    /// checks again under it.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a length of 0 or one not aligned to the IOAS's alignment.
    fn check_length(&self, length: u64) -> Result {
        let align = self.inner.lock().iova_alignment;
        if length == 0 || length & (align - 1) != 0 {
            return refuse!(
                EINVAL,
                "map: length {:#x} is not {:#x}-aligned\n",
                length,
                align
            );
        }
        Ok(())
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
            return refuse!(
                EPERM,
                "map: write access to memory that was mapped read-only\n"
            );
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
            return refuse!(
                EINVAL,
                "map: length {:#x} is not {:#x}-aligned\n",
                length,
                align
            );
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
        .or_else(|e| {
            refuse!(
                e,
                "map: no IOVA for {:#x} bytes (fixed {:?}): {:?}\n",
                length,
                fixed_iova,
                e
            )
        })?;

        // Every area's page offset must follow the alignment too (domains map whole
        // IOPTEs).
        if slices
            .iter()
            .any(|s| s.pages.offset_in_page(s.start_byte) & (align - 1) != 0)
        {
            return refuse!(EINVAL, "map: memory offset is not {:#x}-aligned\n", align);
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
            return refuse!(
                ENOENT,
                "copy: [{:#x}, {:#x}] is not fully mapped\n",
                range.start,
                range.last
            );
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
    /// `ENOENT` as above; `EBUSY` when an in-kernel access keeps its pins.
    pub(crate) fn unmap(&self, range: Span) -> Result<u64> {
        let (unmapped, result) = self.unmap_partial(range);
        result.map(|()| unmapped)
    }

    /// [`Ioas::unmap`], also telling how many bytes it unmapped before an error (VFIO's
    /// unmap reports them with its error).
    pub(crate) fn unmap_partial(&self, range: Span) -> (u64, Result) {
        if let Err(e) = self.release_accesses(range) {
            return (0, Err(e));
        }
        let mut unmapped = 0u64;
        let mut inner = self.inner.lock();
        let result = loop {
            let Some(span) = areas_in(&inner.areas, range).next() else {
                break Ok(());
            };
            if !range.contains(&span) {
                break refuse!(
                    ENOENT,
                    "unmap: [{:#x}, {:#x}] cuts the area [{:#x}, {:#x}]\n",
                    range.start,
                    range.last,
                    span.start,
                    span.last
                );
            }
            if inner.areas.get(&span.last).is_some_and(|a| a.accesses > 0) {
                // An access pinned it again since `release_accesses`.
                break refuse!(
                    EBUSY,
                    "unmap: [{:#x}, {:#x}] is pinned by an access\n",
                    span.start,
                    span.last
                );
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
        (unmapped, result)
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
            return refuse!(
                EADDRINUSE,
                "reserve: [{:#x}, {:#x}] is mapped or allowed\n",
                span.start,
                span.last
            );
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
}

impl Ioas {
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
                return refuse!(
                    EINVAL,
                    "change_process: the area at {:#x} maps user memory\n",
                    span.start
                );
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
            return refuse!(
                EINVAL,
                "option: huge pages cannot be turned off while domains map areas\n"
            );
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
            return refuse!(
                EADDRINUSE,
                "alignment: area [{:#x}, {:#x}] is not {:#x}-aligned\n",
                span.start,
                span.last,
                align
            );
        }
        Ok(())
    }
}
