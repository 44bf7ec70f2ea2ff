// SPDX-License-Identifier: GPL-2.0

//! The hardware page table (HWPT) object: an IOMMU domain bound to the IOAS whose areas
//! it maps.
//!
//! A paging HWPT is created explicitly or, when a device attaches straight to an IOAS,
//! automatically ("auto domain", as iommufd does); an automatic one goes away with its last
//! device. While it exists the IOAS keeps every area mapped into its domain (see
//! [`crate::ioas`]); dropping the HWPT unmaps and flushes before any page is unpinned.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::table::ObjectKind;
use crate::{hw::Domain, iopt::Ioas};
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

/// A paging HWPT.
///
/// # Invariants
///
/// `domain` is attached to `ioas` (filled with its areas) for the HWPT's whole life.
pub(crate) struct Hwpt {
    ioas: Arc<Ioas>,
    domain: Domain,
    /// Created by an attach to an IOAS, destroyed with its last device.
    auto: bool,
    /// Number of devices attached (`IOMMU_DESTROY` gives `EBUSY` while non-zero).
    devices: Atomic<u32>,
}

impl Hwpt {
    /// A HWPT for `domain` on `ioas`, which maps every area into the domain.
    ///
    /// # Errors
    ///
    /// As [`Ioas::add_domain`], `ENOMEM`.
    pub(crate) fn new(ioas: Arc<Ioas>, domain: Domain, auto: bool) -> Result<Arc<Hwpt>> {
        ioas.add_domain(&domain)?;
        // INVARIANT: attached just above; `Drop` detaches.
        Arc::new(
            Hwpt {
                ioas: ioas.clone(),
                domain: domain.clone(),
                auto,
                devices: Atomic::new(0),
            },
            GFP_KERNEL,
        )
        .map_err(|e| {
            ioas.remove_domain(&domain);
            e.into()
        })
    }

    /// The domain.
    pub(crate) fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The IOAS.
    pub(crate) fn ioas(&self) -> &Arc<Ioas> {
        &self.ioas
    }

    /// Whether the HWPT was made by an attach to an IOAS.
    pub(crate) fn is_auto(&self) -> bool {
        self.auto
    }

    /// Number of devices attached.
    pub(crate) fn users(&self) -> u32 {
        self.devices.load(Relaxed)
    }

    /// Counts a device attaching.
    pub(crate) fn get_device(&self) {
        self.devices.fetch_add(1, Relaxed);
    }

    /// Counts a device detaching; returns how many remain.
    pub(crate) fn put_device(&self) -> u32 {
        self.devices.fetch_sub(1, Relaxed) - 1
    }
}

/// A HWPT is used by the devices attached to it.
impl ObjectKind for Arc<Hwpt> {
    fn users(&self) -> u32 {
        Hwpt::users(self)
    }
}

impl Drop for Hwpt {
    fn drop(&mut self) {
        // Unmaps (and flushes) every area from the domain, then drops the pins if this was
        // the IOAS's last domain.
        self.ioas.remove_domain(&self.domain);
    }
}

/// `IOMMU_HWPT_ALLOC` flag: the HWPT may be a nesting parent.
const IOMMU_HWPT_ALLOC_NEST_PARENT: u32 = 1 << 0;
/// `IOMMU_HWPT_ALLOC` flag: dirty tracking enforced on attach.
const IOMMU_HWPT_ALLOC_DIRTY_TRACKING: u32 = 1 << 1;
/// `IOMMU_HWPT_ALLOC` flag: `fault_id` is valid.
const IOMMU_HWPT_FAULT_ID_VALID: u32 = 1 << 2;
/// `IOMMU_HWPT_ALLOC` flag: the domain may be attached to PASIDs.
const IOMMU_HWPT_ALLOC_PASID: u32 = 1 << 3;

/// `IOMMU_HWPT_ALLOC`: a paging HWPT on an IOAS for device `dev_id`'s IOMMU.
///
/// A PCI device gets a paging domain of its IOMMU driver, which sees the flags
/// (NEST_PARENT, DIRTY_TRACKING, PASID) and whose refusal is returned as it is. A mock
/// device gets a mock domain (which can be a nesting parent and serve PASIDs). Nested
/// HWPTs (`pt_id` a HWPT), driver data, the mock's dirty tracking and fault queues come
/// with those features and give `EOPNOTSUPP` until then.
pub(crate) fn ioctl_alloc<'a>(
    ctx: &'a crate::objects::context::Context,
    ucmd: &mut crate::dispatch::Ucmd<'a>,
) -> Result {
    use crate::{
        error::refuse,
        objects::{device::DeviceRef, Object},
        uapi::IommuHwptAlloc,
    };
    let mut cmd = IommuHwptAlloc::read(ucmd.bytes());
    if cmd.reserved != 0 || cmd.reserved2 != 0 {
        return refuse!(EOPNOTSUPP, "hwpt_alloc: reserved field set\n");
    }
    if (cmd.data_type == 0) != (cmd.data_len == 0) {
        return refuse!(EINVAL, "hwpt_alloc: data_type and data_len disagree\n");
    }
    let known = IOMMU_HWPT_ALLOC_NEST_PARENT
        | IOMMU_HWPT_ALLOC_DIRTY_TRACKING
        | IOMMU_HWPT_FAULT_ID_VALID
        | IOMMU_HWPT_ALLOC_PASID;
    if cmd.flags & !known != 0 {
        return refuse!(EOPNOTSUPP, "hwpt_alloc: unknown flags {:#x}\n", cmd.flags);
    }
    let dev = ctx.objects().get_as::<DeviceRef>(cmd.dev_id)?;
    // Held until the HWPT counts as a user of the IOAS: no DESTROY in between.
    let parent = ctx
        .objects()
        .get(cmd.pt_id)
        .or_else(|_| refuse!(EINVAL, "hwpt_alloc: no object {}\n", cmd.pt_id))?;
    let ioas = match &*parent {
        Object::Ioas(ioas) => ioas.clone(),
        Object::Hwpt(_) => {
            return refuse!(
                EOPNOTSUPP,
                "hwpt_alloc: nested HWPTs are not supported yet\n"
            );
        }
        _ => {
            return refuse!(
                EINVAL,
                "hwpt_alloc: {} is neither an IOAS nor a HWPT\n",
                cmd.pt_id
            );
        }
    };
    if cmd.data_type != 0 {
        return refuse!(
            EOPNOTSUPP,
            "hwpt_alloc: driver data type {:#x} is not supported\n",
            cmd.data_type
        );
    }
    if cmd.flags & IOMMU_HWPT_FAULT_ID_VALID != 0 {
        return refuse!(
            EOPNOTSUPP,
            "hwpt_alloc: fault queues are not supported yet\n"
        );
    }
    let domain = match &*dev {
        DeviceRef::Pci(dev) => {
            // As iommufd: the drivers leave this check to their caller.
            if cmd.flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0 && !dev.dirty_tracking_capable() {
                return refuse!(
                    EOPNOTSUPP,
                    "hwpt_alloc: the device's IOMMU cannot track dirty pages\n"
                );
            }
            dev.new_domain(cmd.flags)?
        }
        DeviceRef::Mock(_) => {
            if cmd.flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0 {
                return refuse!(
                    EOPNOTSUPP,
                    "hwpt_alloc: the mock IOMMU has no dirty tracking yet\n"
                );
            }
            Domain::Mock(crate::hw::mock::MockDomain::new()?)
        }
    };
    let hwpt = Hwpt::new(ioas, domain, false)?;
    let new = ctx.objects().add(Object::Hwpt(hwpt))?;
    cmd.out_hwpt_id = new.id();
    cmd.write(ucmd.bytes_mut());
    ucmd.publish_on_reply(new)
}
