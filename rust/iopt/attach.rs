// SPDX-License-Identifier: GPL-2.0

//! What attaches to an IOAS: the domains of its HWPTs (each maps every area; the first
//! one pins them) and the in-kernel accesses (which pin what they ask for and are told
//! before an unmap takes it away).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{areas_in, pages::PAGE_SIZE, AccessPin, Area, Ioas, IoasInner};
use crate::{
    error::refuse,
    ffi,
    hw::Domain,
    objects::access::Access,
    uapi::iova::{self, Span},
    uapi::IOMMU_IOAS_MAP_WRITEABLE,
};
use kernel::{
    prelude::*,
    rbtree::RBTree,
    sync::{atomic::Relaxed, Arc},
};

/// The part of one area that an access to a range covers from IOVA `cur` on.
struct AccessPiece<'a> {
    /// The area holding `cur`.
    area: &'a Area,
    /// The piece's last IOVA (the area's or the range's last, whichever comes first).
    last: u64,
    /// The piece's first and last byte in the area's memory.
    b0: u64,
    b1: u64,
}

impl<'a> AccessPiece<'a> {
    /// The piece of `range` from `cur` in the area that holds `cur`.
    ///
    /// # Errors
    ///
    /// `ENOENT` if no area holds `cur`, `EPERM` for a write to a read-only area.
    fn at(areas: &'a RBTree<u64, Area>, cur: u64, range: Span, write: bool) -> Result<Self> {
        // Areas are keyed by their last IOVA: the first ending at or after `cur`.
        let key = areas.cursor_lower_bound(&cur).map(|c| *c.current().0);
        let area = key.and_then(|k| areas.get(&k));
        let Some(area) = area.filter(|a| a.span.start <= cur) else {
            return Err(ENOENT);
        };
        if write && area.prot & IOMMU_IOAS_MAP_WRITEABLE == 0 {
            return refuse!(
                EPERM,
                "access: write to the read-only area at {:#x}\n",
                area.span.start
            );
        }
        let last = area.span.last.min(range.last);
        Ok(Self {
            area,
            last,
            b0: area.slice.start_byte + (cur - area.span.start),
            b1: area.slice.start_byte + (last - area.span.start),
        })
    }
}

impl Ioas {
    /// The alignment areas need: the largest minimum page size of the domains, and the
    /// CPU page size without huge pages (1 otherwise).
    pub(super) fn alignment_of(domains: &[Domain], huge_pages: bool) -> u64 {
        let base = if huge_pages { 1 } else { PAGE_SIZE };
        domains
            .iter()
            .map(|d| d.hw().min_page_size())
            .fold(base, u64::max)
    }

    /// The IOPTE sizes every attached domain supports (the AND of their bitmaps, all ones
    /// without domains) and the IOAS's alignment, for `VFIO_IOMMU_GET_INFO`.
    pub(crate) fn page_sizes(&self) -> (u64, u64) {
        let inner = self.inner.lock();
        let sizes = inner
            .domains
            .iter()
            .fold(u64::MAX, |acc, d| acc & d.hw().page_sizes());
        (sizes, inner.iova_alignment)
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
            return refuse!(
                EINVAL,
                "attach: domain page size {:#x} is above PAGE_SIZE\n",
                align
            );
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
            result = Self::reserve_locked(inner, span, tag).or_else(|e| {
                refuse!(
                    e,
                    "attach: [{:#x}, {:#x}] outside the aperture is in use\n",
                    span.start,
                    span.last
                )
            });
            if result.is_err() {
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
    pub(super) fn release_accesses(&self, range: Span) -> Result {
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
                let piece = AccessPiece::at(&inner.areas, cur, range, write)?;
                let (key, last, b0, b1) = (piece.area.span.last, piece.last, piece.b0, piece.b1);
                let pages = piece.area.slice.pages.clone();
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
    /// pinning each page only for the copy. The IOAS lock is held throughout, so no unmap
    /// can come between the pin and the copy; nothing is allocated.
    ///
    /// # Errors
    ///
    /// `ENOENT` if the range is not fully mapped, `EPERM` for a write to a read-only area,
    /// pinning errors. Nothing stays pinned.
    pub(crate) fn access_rw(&self, iova: u64, buf: &mut [u8], write: bool) -> Result {
        if buf.is_empty() {
            return Ok(());
        }
        let range = Span::from_len(iova, buf.len() as u64)?;
        let inner = self.inner.lock();
        let mut done = 0usize;
        let mut next = Some(range.start);
        while let Some(cur) = next.filter(|&n| n <= range.last) {
            let AccessPiece { area, last, b0, b1 } =
                AccessPiece::at(&inner.areas, cur, range, write)?;
            let pages = &area.slice.pages;
            let (first_page, last_page) = (pages.index_of(b0), pages.index_of(b1));
            pages.pin(first_page, last_page)?;
            let mut b = b0;
            let copied = pages.with_pinned(first_page, last_page, |_, page| {
                let off = pages.offset_in_page(b);
                let len = (PAGE_SIZE - off).min(b1 - b + 1);
                let chunk = buf.get_mut(done..done + len as usize).ok_or(EINVAL)?;
                if write {
                    page.write(off as usize, chunk);
                } else {
                    page.read(off as usize, chunk);
                }
                b += len;
                done += len as usize;
                Ok(())
            });
            pages.unpin(first_page, last_page);
            copied?;
            next = last.checked_add(1);
        }
        Ok(())
    }
}
