// SPDX-License-Identifier: GPL-2.0

//! The areas of an IOAS: one IOVA range each, backed by a slice of a [`Pages`](super::pages::Pages), and how
//! an area enters and leaves the IOAS's domains (pinning with the first domain, unpinning
//! after the last one let go).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::pages::{Slice, PAGE_SIZE};
use crate::error::refuse;
use crate::ffi::PinnedRun;
use crate::{
    hw::{Domain, HwDomain, PROT_READ, PROT_WRITE},
    uapi::iova::Span,
    uapi::*,
};
use kernel::prelude::*;

/// The largest alignment the allocator follows from a user address: the PMD huge page
/// size, so transparent huge pages can become huge IOPTEs.
pub(super) const HUGE_SIZE: u64 = PAGE_SIZE * 512;

/// One mapping: an IOVA range backed by a slice of a [`Pages`](super::pages::Pages).
///
/// # Invariants
///
/// `slice.length == span.last - span.start + 1` (areas never span the whole 64-bit space:
/// their length is a `usize`).
pub(crate) struct Area {
    pub(super) span: Span,
    /// The memory behind the span.
    pub(super) slice: Slice,
    /// `IOMMU_IOAS_MAP_READABLE`/`WRITEABLE` as given.
    pub(super) prot: u32,
    /// Whether the area holds the domain pin on its pages (iff the IOAS has domains).
    pub(super) domain_pinned: bool,
    /// Number of access pins inside this area (unmap waits for them to go).
    pub(super) accesses: u32,
}

impl Area {
    /// Pages `first..=last` of the slice's memory.
    pub(super) fn page_range(&self) -> (usize, usize) {
        let pages = &self.slice.pages;
        (
            pages.index_of(self.slice.start_byte),
            pages.index_of(self.slice.start_byte + self.slice.length - 1),
        )
    }

    /// The domain permissions.
    pub(super) fn domain_prot(&self) -> u32 {
        let mut prot = 0;
        if self.prot & IOMMU_IOAS_MAP_READABLE != 0 {
            prot |= PROT_READ;
        }
        if self.prot & IOMMU_IOAS_MAP_WRITEABLE != 0 {
            prot |= PROT_WRITE;
        }
        prot
    }

    /// Maps the area into `domain`, from its pinned pages (`EINVAL` if they are not
    /// pinned: only pinned memory can be mapped, [`PinnedRun`]). With `huge`, physically
    /// contiguous runs go to the domain in one call (so it may use huge IOPTEs); without,
    /// page by page (`IOMMU_OPTION_HUGE_PAGES` off: the domain gets only page-sized
    /// IOPTEs). Nothing stays mapped on error.
    pub(super) fn map_into(&self, domain: &dyn HwDomain, huge: bool) -> Result {
        let pages = &self.slice.pages;
        let (first, last) = self.page_range();
        let prot = self.domain_prot();
        // Contiguous physical runs become one map call; the IOVAs of an area are
        // contiguous, so a run's IOVA is where the last one ended.
        let mut done = 0u64; // bytes of the area mapped so far
        let mut byte = self.slice.start_byte;
        let end = self.slice.start_byte + self.slice.length;
        let result = pages.with_pinned_runs(first, last, |pinned| {
            let mut run: Option<PinnedRun<'_>> = None;
            for page in pinned {
                let off = pages.offset_in_page(byte);
                let len = (PAGE_SIZE - off).min(end - byte);
                byte += len;
                let next = page.run(off, len);
                if let Some(r) = run.as_mut() {
                    if huge && r.extend(&next) {
                        continue;
                    }
                }
                if let Some(r) = run.replace(next) {
                    domain.map(self.span.start + done, &r, prot)?;
                    done += r.len();
                }
            }
            match run {
                Some(r) => domain
                    .map(self.span.start + done, &r, prot)
                    .map(|()| done += r.len()),
                None => Ok(()),
            }
        });
        if let Err(e) = result {
            if done > 0 {
                domain.unmap(self.span.start, done);
            }
            return refuse!(
                e,
                "map: area [{:#x}, {:#x}] into a domain: {:?}\n",
                self.span.start,
                self.span.last,
                e
            );
        }
        Ok(())
    }

    /// Removes the area from `domain` (flushed when this returns).
    pub(super) fn unmap_from(&self, domain: &dyn HwDomain) {
        domain.unmap(self.span.start, self.span.last - self.span.start + 1);
    }

    /// Pins the pages for the domains and maps the area into every domain of `domains`
    /// (`huge` as for [`Area::map_into`]). Nothing stays pinned or mapped on error.
    pub(super) fn fill(&mut self, domains: &[Domain], huge: bool) -> Result {
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
    pub(super) fn unfill(&mut self, domains: &[Domain]) {
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
