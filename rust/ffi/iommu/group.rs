// SPDX-License-Identifier: GPL-2.0

//! The FFI layer, IOMMU groups: a reference to a group, and its attachment to a domain
//! with an attach handle (`iommu_attach_group_handle`, `iommu_replace_group_handle`,
//! `iommu_detach_group_handle` through the shim: they are declared only in the IOMMU
//! core's private header).
//!
//! Nothing here decides when to attach, replace or detach:
//! [`crate::objects::pcidev::PciGroup`] owns the group's state and makes these calls.

use super::{check, raw, DmaClaim, IommuDomain, PciDev};
use core::ptr::NonNull;
use kernel::{bindings, prelude::*, sync::Arc, types::Opaque};

/// A counted reference to an IOMMU group (`struct iommu_group`).
///
/// # Invariants
///
/// `self.0` is a live IOMMU group on which `self` owns one reference.
pub(crate) struct IommuGroup(NonNull<bindings::iommu_group>);

// SAFETY: An IOMMU group is a kobject with an atomic reference count, and every operation
// used here on it (attach, replace, detach) takes the group's own mutex, so it may be used
// and released from any thread.
unsafe impl Send for IommuGroup {}
// SAFETY: As above.
unsafe impl Sync for IommuGroup {}

impl Drop for IommuGroup {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `self` owns one reference.
        unsafe { bindings::iommu_group_put(self.0.as_ptr()) }
    }
}

impl IommuGroup {
    /// The IOMMU group of `dev`.
    ///
    /// # Errors
    ///
    /// `ENODEV` if no IOMMU translates the device (any more: it was removed).
    pub(crate) fn of(dev: &PciDev) -> Result<Self> {
        // SAFETY: By `PciDev`'s invariant the device is live; `iommu_group_get` takes a
        // reference on its group, or returns NULL when it has none.
        let group = unsafe { bindings::iommu_group_get(dev.device().cast()) };
        // INVARIANT: the reference is ours.
        NonNull::new(group).map(Self).ok_or(ENODEV)
    }

    pub(super) fn as_raw(&self) -> *mut raw::iommu_group {
        self.0.as_ptr().cast()
    }

    /// Identifies the group (its address, only to compare): equal for two references to
    /// one group, and not reused while a reference lives.
    pub(crate) fn key(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// Attaches the group, attached to no domain of ours, to `domain`
    /// (`iommu_attach_group_handle`); the group's devices translate through it until the
    /// result is dropped (detached) or moves them ([`GroupAttach::replace`]). The result
    /// holds a reference to the domain, so the domain lives while anything is attached to
    /// it.
    ///
    /// `claim` shows that the group's DMA ownership is ours, so no kernel driver's DMA is
    /// moved to our domain.
    ///
    /// # Errors
    ///
    /// `EPERM` if `claim` is of another group; `ENOMEM`; the IOMMU driver's refusal.
    pub(crate) fn attach(
        &self,
        claim: &DmaClaim,
        domain: &Arc<IommuDomain>,
    ) -> Result<GroupAttach> {
        if claim.group != self.key() {
            return Err(EPERM);
        }
        self.attach_owned(domain)
    }

    /// A counted reference to the group at `group`.
    ///
    /// # Safety
    ///
    /// `group` is a live IOMMU group for the duration of the call.
    pub(super) unsafe fn from_raw(group: *mut raw::iommu_group) -> Result<Self> {
        // SAFETY: By the function's contract the group is live: take one more reference.
        let group = unsafe { bindings::iommu_group_ref_get(group.cast()) };
        // INVARIANT: the new reference is ours.
        NonNull::new(group).map(Self).ok_or(EINVAL)
    }

    /// As [`IommuGroup::attach`], for a group whose DMA ownership the caller has shown to
    /// be held for ioasid in another way (by VFIO, for a container ioasid serves).
    pub(super) fn attach_owned(&self, domain: &Arc<IommuDomain>) -> Result<GroupAttach> {
        let handle = new_handle()?;
        // SAFETY: `iommu_group_ref_get` takes one more reference on the live group.
        let group = unsafe { bindings::iommu_group_ref_get(self.0.as_ptr()) };
        // INVARIANT: the new reference belongs to the `IommuGroup`.
        let group = IommuGroup(NonNull::new(group).ok_or(EINVAL)?);
        // SAFETY: The group and `domain` are live and the result holds a domain reference
        // while attached; `handle`, a new zeroed attach handle, stays boxed in the result.
        let rc = unsafe {
            raw::ioasid_shim_group_attach(group.as_raw(), domain.as_raw(), handle.get().cast())
        };
        check(rc)?;
        // INVARIANT: attached to `domain` with `handle`.
        Ok(GroupAttach {
            group,
            domain: domain.clone(),
            handle,
        })
    }
}

/// A new attach handle: zeroed, at a stable address (boxed) for as long as it lives.
fn new_handle() -> Result<KBox<Opaque<bindings::iommu_attach_handle>>> {
    Ok(KBox::new(Opaque::zeroed(), GFP_KERNEL)?)
}

/// An IOMMU group attached to a domain with an attach handle; dropping it detaches the
/// group (`iommu_detach_group_handle`: back to the blocking domain of DMA ownership).
///
/// # Invariants
///
/// `group` is attached to `domain` with `handle`, which stays at its address while it
/// is; the reference `domain` keeps the domain alive while it is.
pub(crate) struct GroupAttach {
    group: IommuGroup,
    domain: Arc<IommuDomain>,
    handle: KBox<Opaque<bindings::iommu_attach_handle>>,
}

// SAFETY: The attachment is a state of the IOMMU group, which is changed under the group's
// mutex from any thread; the handle is only read by the IOMMU core.
unsafe impl Send for GroupAttach {}
// SAFETY: `&GroupAttach` gives access to nothing but comparisons of the domain's address.
unsafe impl Sync for GroupAttach {}

impl GroupAttach {
    /// Whether the group is attached to `domain`.
    pub(crate) fn is_on(&self, domain: &IommuDomain) -> bool {
        core::ptr::eq(&*self.domain, domain)
    }

    /// Moves the group to `domain` in one step (`iommu_replace_group_handle`, with a new
    /// handle): there is no moment without a translation. The old domain's reference goes
    /// only once the group is off it.
    ///
    /// # Errors
    ///
    /// `ENOMEM`; the IOMMU driver's refusal (the group stays on its domain).
    pub(crate) fn replace(&mut self, domain: &Arc<IommuDomain>) -> Result {
        let handle = new_handle()?;
        // The new handle is kept below in place of the old one, which the core no longer
        // uses once the replacement succeeded (it stored the new one under its mutex).
        // SAFETY: The group is live and attached with our handle; `domain` is live and
        // kept so while attached by the reference stored below; the new handle is zeroed
        // and boxed.
        let rc = unsafe {
            raw::ioasid_shim_group_replace(
                self.group.as_raw(),
                domain.as_raw(),
                handle.get().cast(),
            )
        };
        check(rc)?;
        // INVARIANT: attached to `domain` with `handle` now; the old domain and handle go.
        self.domain = domain.clone();
        self.handle = handle;
        Ok(())
    }
}

impl Drop for GroupAttach {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the group is attached to the live `domain` with
        // our handle; after this, the core uses neither, and both go after (fields).
        unsafe { raw::ioasid_shim_group_detach(self.group.as_raw(), self.domain.as_raw()) }
    }
}
