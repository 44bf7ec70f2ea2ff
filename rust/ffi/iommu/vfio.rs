// SPDX-License-Identifier: GPL-2.0

//! The FFI layer, VFIO backend: the registration of ioasid as an IOMMU driver of VFIO
//! containers (`rust/ffi/shim/ioasid_vfio.c`), the callbacks VFIO makes, and what they
//! need of an IOMMU group (a domain for it, its reserved regions, an attachment while
//! VFIO owns its DMA).
//!
//! Nothing here decides anything: each callback turns its pointers into references and
//! hands over to [`crate::objects::vfio_backend::Container`]. The callbacks' contract
//! (from VFIO's `drivers/vfio/container.c`): `iommu_data` is what `open` returned, until
//! `release`; a group passed to `attach_group` is live and its DMA ownership is claimed by
//! VFIO from before that call until after the matching `detach_group` (or the failed
//! attach) returns.

use super::{check, raw as iommu_raw, GroupAttach, IommuDomain, IommuGroup, ResvRegion};
use crate::objects::vfio_backend::Container;
use core::ptr::NonNull;
use kernel::{
    ffi::{c_int, c_long, c_uint, c_ulong, c_void},
    prelude::*,
    sync::Arc,
};

mod raw {
    use super::iommu_raw::{iommu_domain, iommu_group, IoasidResv};
    use kernel::ffi::c_int;

    extern "C" {
        pub(super) fn ioasid_shim_vfio_register() -> c_int;
        pub(super) fn ioasid_shim_vfio_unregister();
        pub(super) fn ioasid_shim_vfio_group_domain(
            group: *mut iommu_group,
            flags: u32,
        ) -> *mut iommu_domain;
        pub(super) fn ioasid_shim_vfio_group_resv(
            group: *mut iommu_group,
            out: *mut IoasidResv,
            max: c_int,
        ) -> c_int;
    }
}

/// `IOASID_VFIO_GROUP_IOMMU` of the shim (VFIO's `VFIO_IOMMU`): a group of devices behind
/// an IOMMU, whose DMA ownership VFIO claimed.
const GROUP_IOMMU: c_int = 0;

/// The registration of ioasid as a VFIO IOMMU driver; unregistered when dropped. VFIO
/// holds a reference on the module while a container uses the driver, so the module (and
/// this) cannot go while one does.
pub(crate) struct VfioDriver(());

impl VfioDriver {
    /// Registers the driver (`vfio_register_iommu_driver`).
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` without `CONFIG_VFIO_CONTAINER`, `ENOMEM`, `EINVAL` if registered twice.
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: Registers a static ops table whose callbacks are the functions below.
        check(unsafe { raw::ioasid_shim_vfio_register() })?;
        Ok(Self(()))
    }

    /// As [`VfioDriver::register`], but `None` without `CONFIG_VFIO_CONTAINER`.
    ///
    /// # Errors
    ///
    /// As [`VfioDriver::register`], but not `EOPNOTSUPP`.
    pub(crate) fn register_if_available() -> Result<Option<Self>> {
        match Self::register() {
            Ok(v) => Ok(Some(v)),
            Err(e) if e == EOPNOTSUPP => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Drop for VfioDriver {
    fn drop(&mut self) {
        // SAFETY: `self` exists only after a successful registration.
        unsafe { raw::ioasid_shim_vfio_unregister() }
    }
}

/// Shows that VFIO holds the DMA ownership of a group (for the duration of an
/// `attach_group` callback, whose group this was made for); only the callback makes it.
pub(crate) struct VfioOwned<'a> {
    group: &'a IommuGroup,
}

impl VfioOwned<'_> {
    /// The group.
    pub(crate) fn group(&self) -> &IommuGroup {
        self.group
    }

    /// Attaches the group to `domain` (with an attach handle, as
    /// [`IommuGroup::attach`]); dropping the result detaches it, back to the blocking
    /// domain of VFIO's DMA ownership.
    ///
    /// # Errors
    ///
    /// `ENOMEM`; the IOMMU driver's refusal.
    pub(crate) fn attach(&self, domain: &Arc<IommuDomain>) -> Result<GroupAttach> {
        self.group.attach_owned(domain)
    }
}

impl IommuGroup {
    /// A new paging domain of the group's IOMMU (`iommu_paging_domain_alloc_flags` for its
    /// first device), owned by the caller.
    ///
    /// # Errors
    ///
    /// `ENODEV` for a group without devices, the IOMMU driver's refusal, `ENOMEM`.
    pub(crate) fn alloc_domain(&self, flags: u32) -> Result<IommuDomain> {
        // SAFETY: The group is live (we hold a reference); the shim returns a new domain
        // or an `ERR_PTR`.
        let domain = unsafe { raw::ioasid_shim_vfio_group_domain(self.as_raw(), flags) };
        let domain = kernel::error::from_err_ptr(domain)?;
        // INVARIANT: a new domain, owned by us.
        Ok(IommuDomain(NonNull::new(domain.cast()).ok_or(ENOMEM)?))
    }

    /// The group's reserved regions (those of all its devices).
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn resv_regions(&self) -> Result<KVec<ResvRegion>> {
        let mut buf: KVec<ResvRegion> = KVec::new();
        loop {
            let room = buf.capacity();
            // SAFETY: The group is live; `buf` has room for `room` entries, which the
            // shim fills without reading them; `ResvRegion` is a transparent
            // `struct ioasid_resv`.
            let n = unsafe {
                raw::ioasid_shim_vfio_group_resv(
                    self.as_raw(),
                    buf.as_mut_ptr().cast::<iommu_raw::IoasidResv>(),
                    room as c_int,
                )
            };
            check(n)?;
            let n = n as usize;
            if n <= room {
                // SAFETY: The shim initialised the first `n` entries.
                unsafe { buf.inc_len(n) };
                return Ok(buf);
            }
            buf.reserve(n, GFP_KERNEL)?;
        }
    }
}

/// Borrows the container behind `iommu_data`.
///
/// # Safety
///
/// `iommu_data` is NULL or came from [`ioasid_vfio_open`] and was not released.
unsafe fn container<'a>(iommu_data: *mut c_void) -> Option<&'a Container> {
    // SAFETY: By the function's contract the pointer is NULL or owns a reference to a live
    // container, which lasts until `release`, after every other callback.
    unsafe { iommu_data.cast::<Container>().as_ref() }
}

/// VFIO's `open`: a new container of IOMMU type `kind` (what `VFIO_SET_IOMMU` asked for).
#[no_mangle]
extern "C" fn ioasid_vfio_open(kind: c_ulong) -> *mut c_void {
    match Container::open(kind) {
        Ok(c) => Arc::into_raw(c).cast_mut().cast(),
        Err(e) => e.to_ptr(),
    }
}

/// VFIO's `release`: the container's last group is gone (or `VFIO_SET_IOMMU` failed).
///
/// # Safety
///
/// `iommu_data` came from [`ioasid_vfio_open`]; no other callback runs on it, now or later.
#[no_mangle]
unsafe extern "C" fn ioasid_vfio_release(iommu_data: *mut c_void) {
    // SAFETY: By the function's contract we take back the reference `open` handed out.
    drop(unsafe { Arc::from_raw(iommu_data.cast::<Container>()) });
}

/// VFIO's `ioctl`: a container ioctl VFIO does not answer itself (`iommu_data` NULL:
/// `VFIO_CHECK_EXTENSION` on a container without a driver).
///
/// # Safety
///
/// `iommu_data` is NULL or came from [`ioasid_vfio_open`] and was not released.
#[no_mangle]
unsafe extern "C" fn ioasid_vfio_ioctl(
    iommu_data: *mut c_void,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: As the function's contract.
    let result = match unsafe { container(iommu_data) } {
        Some(c) => c.ioctl(cmd, arg),
        None => Container::ioctl_unset(cmd, arg),
    };
    match result {
        Ok(v) => v as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

/// VFIO's `attach_group`.
///
/// # Safety
///
/// `iommu_data` came from [`ioasid_vfio_open`] and was not released; `group` is live and
/// (for a `VFIO_IOMMU` group) its DMA ownership is VFIO's until the matching
/// [`ioasid_vfio_detach_group`] returns, or this returns an error.
#[no_mangle]
unsafe extern "C" fn ioasid_vfio_attach_group(
    iommu_data: *mut c_void,
    group: *mut iommu_raw::iommu_group,
    kind: c_int,
) -> c_int {
    // SAFETY: As the function's contract.
    let Some(c) = (unsafe { container(iommu_data) }) else {
        return EINVAL.to_errno();
    };
    // SAFETY: The group is live (the function's contract).
    let group = match unsafe { IommuGroup::from_raw(group) } {
        Ok(g) => g,
        Err(e) => return e.to_errno(),
    };
    let owned = (kind == GROUP_IOMMU).then_some(VfioOwned { group: &group });
    match c.attach_group(&group, owned) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// VFIO's `detach_group`: the group leaves the container (VFIO releases its DMA ownership
/// once this returns).
///
/// # Safety
///
/// `iommu_data` came from [`ioasid_vfio_open`] and was not released; `group` is live.
#[no_mangle]
unsafe extern "C" fn ioasid_vfio_detach_group(
    iommu_data: *mut c_void,
    group: *mut iommu_raw::iommu_group,
) {
    // SAFETY: As the function's contract.
    if let Some(c) = unsafe { container(iommu_data) } {
        c.detach_group(group as usize);
    }
}
