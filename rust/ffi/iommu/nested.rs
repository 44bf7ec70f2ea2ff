// SPDX-License-Identifier: GPL-2.0

//! The FFI layer, nested domains of real IOMMU drivers: the driver's own
//! `domain_alloc_nested` op, reached through the shim (`dev_iommu_ops()` is declared only
//! in the IOMMU core's private header, and `struct iommu_user_data` holds a `__user`
//! pointer that only C builds).
//!
//! Nothing here decides whether a nested HWPT may be made: [`crate::objects::hwpt`] checks
//! the parent and the flags, and this hands the user's data to the driver unchanged.

use super::{check, IommuDomain, PciDev};
use core::ptr::NonNull;
use kernel::{bindings, prelude::*};

mod raw {
    use super::super::raw::{device, iommu_domain};
    use kernel::ffi::c_int;

    extern "C" {
        pub(super) fn ioasid_shim_has_domain_alloc_nested(dev: *mut device) -> bool;
        pub(super) fn ioasid_shim_domain_alloc_nested(
            dev: *mut device,
            parent: *mut iommu_domain,
            flags: u32,
            kind: u32,
            uptr: u64,
            len: u32,
            out: *mut *mut iommu_domain,
        ) -> c_int;
    }
}

/// A nested `iommu_domain` made by an IOMMU driver's `domain_alloc_nested`.
///
/// # Invariants
///
/// `self.0` is a domain the driver returned to ioasid, attached to nothing, and freed only
/// by `Drop`.
pub(crate) struct NestedIommuDomain(NonNull<bindings::iommu_domain>);

impl Drop for NestedIommuDomain {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own the domain and nothing is attached to it.
        unsafe { bindings::iommu_domain_free(self.0.as_ptr()) }
    }
}

impl PciDev {
    /// Whether the device's IOMMU driver has a `domain_alloc_nested` op.
    pub(crate) fn has_domain_alloc_nested(&self) -> bool {
        // SAFETY: The device is live and has an IOMMU (bound devices were checked).
        unsafe { raw::ioasid_shim_has_domain_alloc_nested(self.device()) }
    }

    /// A nested domain on `parent` from the device's IOMMU driver: its
    /// `domain_alloc_nested(dev, parent, flags, {kind, uptr, len})`, which copies the data
    /// from the caller's memory at `uptr` itself.
    ///
    /// # Errors
    ///
    /// The driver's refusal; `EOPNOTSUPP` when it has no such op.
    pub(crate) fn alloc_nested_domain(
        &self,
        parent: &IommuDomain,
        flags: u32,
        kind: u32,
        uptr: u64,
        len: u32,
    ) -> Result<NestedIommuDomain> {
        let mut out: *mut super::raw::iommu_domain = core::ptr::null_mut();
        // `uptr` is only read by the driver's `copy_from_user`, in the caller's ioctl.
        // SAFETY: The device is live with an IOMMU; `parent` is a live domain ioasid owns
        // (referenced across the call); `out` is valid; the driver checks `uptr`.
        check(unsafe {
            raw::ioasid_shim_domain_alloc_nested(
                self.device(),
                parent.as_raw(),
                flags,
                kind,
                uptr,
                len,
                &mut out,
            )
        })?;
        // INVARIANT: a new domain from the driver, owned by us and attached to nothing.
        Ok(NestedIommuDomain(NonNull::new(out.cast()).ok_or(ENOMEM)?))
    }
}
