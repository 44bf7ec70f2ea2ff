// SPDX-License-Identifier: GPL-2.0

//! Cutting an area in two, for VFIO type1 (v1) compatibility: there an unmap may take any
//! part of a mapping, so the compatibility layer first cuts the areas at the ends of the
//! range (iommufd's `iopt_cut_iova`), then unmaps the areas inside it as usual.
//!
//! A cut changes only the bookkeeping: both parts keep the memory, the permissions, the
//! pins and the IOPTEs of the area. That is sound only where no IOPTE spans the cut and no
//! page is pinned for both parts, which is what the refusals below make sure of: with
//! domains, huge IOPTEs must be off (type1 v1 turns them off before anything is mapped)
//! and the cut must lie on the IOAS's alignment, at least the CPU page then; an area an
//! in-kernel access pins is not cut (the access's pins name the area).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{areas_in, pages::Slice, Area, Ioas, IoasInner};
use crate::{error::refuse, uapi::iova::Span};
use kernel::{prelude::*, rbtree::RBTreeNodeReservation};

impl Ioas {
    /// Cuts the area holding each IOVA of `iovas` in two, so that the IOVA becomes the last
    /// of the first part; an IOVA where nothing is mapped, or that is already the last of
    /// its area, needs no cut. Stops at the first refusal: the cuts made before it stay
    /// (they change no mapping).
    ///
    /// # Errors
    ///
    /// `EINVAL` when the cut is not on the IOAS's alignment (in IOVA or in memory), when
    /// domains map the area while huge IOPTEs are allowed, or when an in-kernel access
    /// pins it; `ENOMEM`.
    pub(crate) fn cut(&self, iovas: &[u64]) -> Result {
        // The new nodes are allocated before the lock, one per IOVA.
        let mut nodes = KVec::with_capacity(iovas.len(), GFP_KERNEL)?;
        for _ in iovas {
            nodes.push(RBTreeNodeReservation::new(GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mut inner = self.inner.lock();
        for &iova in iovas {
            let point = Span {
                start: iova,
                last: iova,
            };
            let Some(span) = areas_in(&inner.areas, point).next() else {
                continue;
            };
            let Some((head, tail)) = span.split_after(iova) else {
                continue;
            };
            Self::check_cut(&inner, span, tail.start)?;
            let (Some(node), Some(area)) = (nodes.pop(), inner.areas.get_mut(&span.last)) else {
                break;
            };
            // INVARIANT: each part's slice length is its span's length.
            let head_len = head.last - head.start + 1;
            let first = Area {
                span: head,
                slice: Slice {
                    pages: area.slice.pages.clone(),
                    start_byte: area.slice.start_byte,
                    length: head_len,
                },
                prot: area.prot,
                domain_pinned: area.domain_pinned,
                accesses: 0,
            };
            // The second part keeps the node: its key, the last IOVA, does not change.
            area.span = tail;
            area.slice.start_byte += head_len;
            area.slice.length -= head_len;
            inner.areas.insert(node.into_node(head.last, first));
        }
        Ok(())
    }

    /// Whether the area `span` may be cut before `at` (see [`Ioas::cut`]).
    fn check_cut(inner: &IoasInner, span: Span, at: u64) -> Result {
        let Some(area) = inner.areas.get(&span.last) else {
            return Ok(());
        };
        let mask = inner.iova_alignment - 1;
        let offset = area
            .slice
            .pages
            .offset_in_page(area.slice.start_byte + (at - span.start));
        if area.accesses > 0 {
            return refuse!(
                EINVAL,
                "cut: [{:#x}, {:#x}] is pinned by an access\n",
                span.start,
                span.last
            );
        }
        if area.domain_pinned && inner.huge_pages {
            return refuse!(
                EINVAL,
                "cut: [{:#x}, {:#x}] may be mapped with huge IOPTEs\n",
                span.start,
                span.last
            );
        }
        // With domains the parts must not share a page either (each holds its pins).
        if at & mask != 0 || offset & mask != 0 || (area.domain_pinned && offset != 0) {
            return refuse!(
                EINVAL,
                "cut: {:#x} is not {:#x}-aligned in [{:#x}, {:#x}]\n",
                at,
                inner.iova_alignment,
                span.start,
                span.last
            );
        }
        Ok(())
    }
}
