// SPDX-License-Identifier: GPL-2.0

//! In-kernel accesses to an IOAS: how an emulated device reaches the memory a process
//! mapped, without an IOMMU.
//!
//! An [`Access`] is attached to one IOAS. It can pin a range of IOVAs (getting the pages,
//! each pinned once however many users it has) and must release those pins when the IOAS
//! tells it the range is being unmapped ([`Access::notify_unmap`]); or it can copy bytes
//! to or from an IOVA range ([`Access::rw`]), pinning only for the copy. The test interface
//! exposes accesses as files (`IOMMU_TEST_OP_CREATE_ACCESS`), as upstream iommufd's does;
//! closing the file releases everything.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::{
    error::refuse,
    ffi::PinnedPage,
    iopt::{AccessPin, Ioas},
    uapi::iova::Span,
};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// One pinned range of an access.
struct Item {
    id: u32,
    range: Span,
    pins: KVec<AccessPin>,
}

/// The fields of [`Access`] under its lock.
struct AccessInner {
    /// The IOAS, `None` once the access is closed.
    ioas: Option<Arc<Ioas>>,
    /// The pinned ranges.
    items: KVec<Item>,
    /// The next item ID.
    next_id: u32,
}

/// An in-kernel user of an IOAS.
#[pin_data]
pub(crate) struct Access {
    /// Whether this access may pin pages (`MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES`);
    /// one that may not only copies.
    needs_pin: bool,
    /// Protects the IOAS reference and the items. Taken before the IOAS's lock.
    #[pin]
    inner: Mutex<AccessInner>,
}

impl Access {
    /// A new access attached to `ioas`.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn new(ioas: Arc<Ioas>, needs_pin: bool) -> Result<Arc<Access>> {
        let own = ioas.clone();
        let access = Arc::pin_init(
            pin_init!(Access {
                needs_pin,
                inner <- new_mutex!(AccessInner {
                    ioas: Some(own),
                    items: KVec::new(),
                    next_id: 0,
                }),
            }),
            GFP_KERNEL,
        )?;
        ioas.add_access(access.clone())?;
        Ok(access)
    }

    /// Pins `range` (`write`: for writing) and gives each page, in order, to `pages_out`;
    /// returns the ID of the pinned range.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` for an access that does not pin, `EINVAL` when closed, `ENOENT` for
    /// unmapped IOVAs, `EPERM`, pinning errors, and what `pages_out` returns. Nothing stays
    /// pinned on error.
    pub(crate) fn pin(
        &self,
        range: Span,
        write: bool,
        mut pages_out: impl FnMut(&PinnedPage) -> Result,
    ) -> Result<u32> {
        if !self.needs_pin {
            return refuse!(
                EOPNOTSUPP,
                "access: pinning needs an access created to pin\n"
            );
        }
        let mut inner = self.inner.lock();
        let ioas = inner.ioas.clone().ok_or(EINVAL)?;
        inner.items.reserve(1, GFP_KERNEL)?;
        let pins = ioas.access_pin(range, write, |p, _, _| pages_out(p))?;
        let id = inner.next_id;
        inner.next_id = inner.next_id.wrapping_add(1);
        // Within the capacity reserved above.
        if let Err(e) = inner.items.push(Item { id, range, pins }, GFP_KERNEL) {
            return Err(e.into());
        }
        Ok(id)
    }

    /// Releases pinned range `id`.
    ///
    /// # Errors
    ///
    /// `ENOENT` for an unknown ID.
    pub(crate) fn unpin(&self, id: u32) -> Result {
        let mut inner = self.inner.lock();
        let Some(pos) = inner.items.iter().position(|i| i.id == id) else {
            return refuse!(ENOENT, "access: no pinned range {}\n", id);
        };
        let item = inner.items.remove(pos).map_err(|_| ENOENT)?;
        if let Some(ioas) = inner.ioas.as_ref() {
            ioas.access_unpin(item.pins);
        }
        Ok(())
    }

    /// The unmap notification: releases every pinned range that intersects `range` of
    /// `ioas` (the IOAS is about to unmap it).
    pub(crate) fn notify_unmap(&self, ioas: &Ioas, range: Span) {
        let mut inner = self.inner.lock();
        let Some(own) = inner.ioas.clone() else {
            return;
        };
        if !core::ptr::eq(&*own, ioas) {
            return;
        }
        let mut k = 0;
        while k < inner.items.len() {
            if inner.items[k].range.intersects(&range) {
                if let Ok(item) = inner.items.remove(k) {
                    own.access_unpin(item.pins);
                }
            } else {
                k += 1;
            }
        }
    }

    /// Copies between `buf` and the IOVAs at `iova` (`write`: into the memory).
    ///
    /// # Errors
    ///
    /// `EINVAL` when closed, otherwise as [`Ioas::access_rw`].
    pub(crate) fn rw(&self, iova: u64, buf: &mut [u8], write: bool) -> Result {
        let ioas = self.inner.lock().ioas.clone().ok_or(EINVAL)?;
        ioas.access_rw(iova, buf, write)
    }

    /// Moves the access to `new`, releasing all its pins first.
    ///
    /// # Errors
    ///
    /// `EINVAL` when closed, `ENOMEM`.
    pub(crate) fn replace_ioas(self: &Arc<Self>, new: Arc<Ioas>) -> Result {
        let mut inner = self.inner.lock();
        let old = inner.ioas.clone().ok_or(EINVAL)?;
        if Arc::ptr_eq(&old, &new) {
            return Ok(());
        }
        new.add_access(self.clone())?;
        for item in inner.items.drain_all() {
            old.access_unpin(item.pins);
        }
        inner.ioas = Some(new);
        drop(inner);
        old.remove_access(self);
        Ok(())
    }

    /// Releases everything and detaches (the access file was closed).
    pub(crate) fn close(&self) {
        let mut inner = self.inner.lock();
        let Some(ioas) = inner.ioas.take() else {
            return;
        };
        for item in inner.items.drain_all() {
            ioas.access_unpin(item.pins);
        }
        drop(inner);
        ioas.remove_access(self);
    }
}
