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
//! Pages are pinned only when something needs them: a domain or an in-kernel user of the
//! IOAS (both arrive with later features). Until then an area records its slice of a
//! [`Pages`] (where the memory comes from) and the permissions; an IOAS with no such user
//! pins nothing and charges nothing.
//!
//! What this module must never do: unmap part of an area (unmap removes areas whole or
//! refuses), or leave the tree changed when an ioctl fails before its first removal.

use crate::{
    context::Context,
    dispatch::Ucmd,
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
}

impl Area {
    /// The memory and permissions, for the pinning users (domains, accesses) to come.
    #[expect(
        dead_code,
        reason = "read by the pinning users (domains, accesses) to come"
    )]
    pub(crate) fn source(&self) -> (&Slice, u32) {
        (&self.slice, self.prot)
    }
}

/// The fields of [`Ioas`] protected by its mutex.
struct IoasInner {
    /// The areas, keyed by last IOVA (see the theory of operation).
    areas: RBTree<u64, Area>,
    /// The allowed ranges, sorted and disjoint; empty means everything is allowed.
    allowed: KVec<Span>,
    /// Reserved ranges, sorted by start (they may overlap: several owners).
    reserved: KVec<Span>,
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
fn reserved_in(reserved: &[Span], within: Span) -> impl Iterator<Item = Span> + '_ {
    reserved
        .iter()
        .copied()
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
    /// Protects the IOVA bookkeeping; never held across pinning user memory.
    #[pin]
    inner: Mutex<IoasInner>,
    /// Number of other objects that depend on this IOAS (`IOMMU_DESTROY` gives `EBUSY`
    /// while non-zero). Atomic because the object table reads it under its spinlock.
    users: Atomic<u32>,
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
                    iova_alignment: 1,
                    huge_pages: true,
                }),
                users: Atomic::new(0),
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
        for hole in iova::Holes::new(all, inner.reserved.iter().copied()) {
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
    ) -> Result<u64> {
        let pages = Pages::new_user(user_va, length, prot & IOMMU_IOAS_MAP_WRITEABLE != 0)
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
    ) -> Result<u64> {
        let pages = Pages::new_file(file, start, length, prot & IOMMU_IOAS_MAP_WRITEABLE != 0)
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

        let mut iova = span.start;
        for slice in slices {
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
            let area = Area {
                span: area_span,
                slice: slice.clone(),
                prot,
            };
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
            // No pages are pinned yet: dropping the area and its reference to the memory is
            // all there is to undo.
            drop(inner.areas.remove(&span.last));
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
        let at = inner.reserved.partition_point(|r| r.start <= span.start);
        inner
            .reserved
            .insert_within_capacity(at, span)
            .or_else(|_| {
                inner.reserved.reserve(1, GFP_KERNEL)?;
                inner
                    .reserved
                    .insert_within_capacity(at, span)
                    .map_err(|_| ENOMEM)
            })?;
        Ok(())
    }

    /// Whether contiguous pages may become huge IOPTEs.
    pub(crate) fn huge_pages(&self) -> bool {
        self.inner.lock().huge_pages
    }

    /// Enables or disables huge IOPTEs.
    pub(crate) fn set_huge_pages(&self, on: bool) {
        self.inner.lock().huge_pages = on;
    }
}

// The ioctl handlers of the IOAS (see `include/uapi/linux/ioasid.h` for their contract).

/// `IOMMU_IOAS_ALLOC`.
pub(crate) fn ioctl_alloc(ctx: &Context, ucmd: &mut Ucmd) -> Result {
    let mut cmd = IommuIoasAlloc::read(ucmd.bytes());
    if cmd.flags != 0 {
        ioasid_dbg!("ioas_alloc: unknown flags {:#x}\n", cmd.flags);
        return Err(EOPNOTSUPP);
    }
    let id = ctx.objects().insert(Object::Ioas(Ioas::new()?))?;
    ucmd.created(id);
    cmd.out_ioas_id = id;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_IOAS_IOVA_RANGES`.
pub(crate) fn ioctl_iova_ranges(ctx: &Context, ucmd: &mut Ucmd) -> Result {
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
pub(crate) fn ioctl_allow_iovas(ctx: &Context, ucmd: &mut Ucmd) -> Result {
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
pub(crate) fn ioctl_map(ctx: &Context, ucmd: &mut Ucmd) -> Result {
    let mut cmd = IommuIoasMap::read(ucmd.bytes());
    let (fixed, prot) = map_args(
        "map",
        cmd.flags,
        cmd.reserved,
        &[cmd.iova, cmd.length],
        cmd.iova,
    )?;
    let ioas = ctx.objects().get_ioas(cmd.ioas_id)?;
    cmd.iova = ioas.map_user(cmd.user_va, cmd.length, fixed, prot)?;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_IOAS_MAP_FILE`.
pub(crate) fn ioctl_map_file(ctx: &Context, ucmd: &mut Ucmd) -> Result {
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
    cmd.iova = ioas.map_file(file, cmd.start, cmd.length, fixed, prot)?;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_IOAS_COPY`.
pub(crate) fn ioctl_copy(ctx: &Context, ucmd: &mut Ucmd) -> Result {
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
pub(crate) fn ioctl_unmap(ctx: &Context, ucmd: &mut Ucmd) -> Result {
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

/// `IOMMU_OPTION` for `IOMMU_OPTION_HUGE_PAGES` (the per-IOAS option).
pub(crate) fn option_huge_pages(ctx: &Context, cmd: &mut IommuOption) -> Result {
    let ioas = ctx.objects().get_ioas(cmd.object_id)?;
    match cmd.op {
        IOMMU_OPTION_OP_GET => {
            cmd.val64 = u64::from(ioas.huge_pages());
            Ok(())
        }
        IOMMU_OPTION_OP_SET if cmd.val64 <= 1 => {
            ioas.set_huge_pages(cmd.val64 == 1);
            Ok(())
        }
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
