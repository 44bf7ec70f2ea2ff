// SPDX-License-Identifier: GPL-2.0

//! Dirty tracking of an IOAS's domains (`IOMMU_HWPT_SET_DIRTY_TRACKING` and
//! `IOMMU_HWPT_GET_DIRTY_BITMAP`): the IOAS lock is held while a domain's dirty state is
//! switched or read, so no map or unmap changes the areas meanwhile.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{areas_in, Ioas, IoasInner};
use crate::{error::refuse, hw::Domain, uapi::iova::Span};
use kernel::prelude::*;

impl Ioas {
    /// The alignment every area has (the largest minimum IOPTE size of the domains, or the
    /// CPU page without huge pages).
    pub(crate) fn iova_alignment(&self) -> u64 {
        self.inner.lock().iova_alignment
    }

    /// Checks that areas cover `range` without a hole.
    ///
    /// # Errors
    ///
    /// `EINVAL` otherwise.
    pub(crate) fn check_mapped(&self, range: Span) -> Result {
        Self::check_mapped_locked(&self.inner.lock(), range)
    }

    fn check_mapped_locked(inner: &IoasInner, range: Span) -> Result {
        let mut next = Some(range.start);
        for span in areas_in(&inner.areas, range) {
            match next {
                Some(cur) if span.start <= cur => next = span.last.checked_add(1),
                _ => break,
            }
        }
        if matches!(next, Some(n) if n <= range.last) {
            return refuse!(
                EINVAL,
                "dirty bitmap: [{:#x}, {:#x}] is not fully mapped\n",
                range.start,
                range.last
            );
        }
        Ok(())
    }

    /// Turns dirty tracking of `domain` (one of this IOAS's) on, every dirty bit cleared
    /// first, or off.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` for a domain without dirty tracking.
    pub(crate) fn set_dirty_tracking(&self, domain: &Domain, enable: bool) -> Result {
        let _areas = self.inner.lock();
        domain.hw().set_dirty_tracking(enable)
    }

    /// Reads the dirty IOPTEs of `domain` (one of this IOAS's) in `range`, which areas must
    /// cover without a hole: `record(first, last)` gets each dirty IOPTE whole, in IOVA
    /// order, and its dirty bit is cleared unless `keep`.
    ///
    /// # Errors
    ///
    /// `EINVAL` if part of `range` is not mapped (nothing was read then); `EOPNOTSUPP` for
    /// a domain without dirty tracking.
    pub(crate) fn read_dirty(
        &self,
        domain: &Domain,
        range: Span,
        keep: bool,
        record: &mut dyn FnMut(u64, u64),
    ) -> Result {
        let inner = self.inner.lock();
        // A hole refuses the read before any bit is cleared.
        Self::check_mapped_locked(&inner, range)?;
        for span in areas_in(&inner.areas, range) {
            let piece = Span {
                start: span.start.max(range.start),
                last: span.last.min(range.last),
            };
            domain.hw().read_and_clear_dirty(piece, keep, record)?;
        }
        Ok(())
    }
}
