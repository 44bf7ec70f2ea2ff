// SPDX-License-Identifier: GPL-2.0

//! The vDEVICE objects (`IOMMU_VDEVICE_ALLOC`): a bound device as a VM sees it behind one
//! vIOMMU, under a virtual ID (`virt_id`: a vSID, vRID, ... as the VM numbers it), with
//! the rules of upstream iommufd:
//!
//! - `virt_id` is unique per vIOMMU (`EEXIST`); a device has at most one vDEVICE
//!   (`EEXIST`), on a vIOMMU of its own IOMMU (`EINVAL` otherwise);
//! - a vDEVICE holds its vIOMMU (`IOMMU_DESTROY` of the vIOMMU is `EBUSY` while it exists)
//!   and its device, but does not keep the device bound: unbinding the device (destroying
//!   a mock device's test object) destroys the vDEVICE and leaves its ID a tombstone,
//!   `ENOENT` to `IOMMU_DESTROY` and never reused until the file is closed
//!   ([`crate::objects::table::ObjectTable::tombstone_if`]);
//! - a mock device attaches to a nested HWPT allocated on a vIOMMU only once it has a
//!   vDEVICE there (`ENOENT` otherwise).
//!
//! The device and the vIOMMU know the vDEVICE only by its identity: dropping the vDEVICE
//! (destroy, abort, tombstone or close) unregisters it from both.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{
    context::Context,
    device::{DeviceRef, MockDevice, VdevLink},
    table::ObjectKind,
    viommu::Viommu,
    Object,
};
use crate::{dispatch::Ucmd, error::refuse, uapi::IommuVdeviceAlloc};
use kernel::{prelude::*, sync::Arc};

/// A vDEVICE.
///
/// # Invariants
///
/// `viommu` counts this vDEVICE among its users for the vDEVICE's whole life.
pub(crate) struct Vdevice {
    viommu: Arc<Viommu>,
    dev: Arc<MockDevice>,
}

impl Vdevice {
    /// The vDEVICE's identity, which its device and vIOMMU record.
    pub(crate) fn ident(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// The vIOMMU.
    pub(crate) fn viommu(&self) -> &Arc<Viommu> {
        &self.viommu
    }
}

impl Drop for Vdevice {
    fn drop(&mut self) {
        let me = self.ident();
        // Either may never have recorded it (an aborted creation): both check.
        self.dev.unlink_vdev(me);
        self.viommu.remove_vdev(me);
        self.viommu.put_user();
    }
}

/// Nothing depends on a vDEVICE.
impl ObjectKind for Arc<Vdevice> {}

/// `IOMMU_VDEVICE_ALLOC`: a vDEVICE for device `dev_id` on vIOMMU `viommu_id` with
/// virtual ID `virt_id`, with the checks in upstream iommufd's order.
pub(crate) fn ioctl_alloc<'a>(ctx: &'a Context, ucmd: &mut Ucmd<'a>) -> Result {
    let mut cmd = IommuVdeviceAlloc::read(ucmd.bytes());
    // Held until the vDEVICE counts as a user of the vIOMMU.
    let viommu = ctx
        .objects()
        .get_as::<Arc<Viommu>>(cmd.viommu_id)
        .or_else(|e| refuse!(e, "vdevice_alloc: no vIOMMU {}\n", cmd.viommu_id))?;
    let dev = ctx.objects().get_as::<DeviceRef>(cmd.dev_id)?;
    let DeviceRef::Mock(dev) = &*dev else {
        return refuse!(
            EINVAL,
            "vdevice_alloc: device {} is not behind the vIOMMU's (mock) IOMMU\n",
            cmd.dev_id
        );
    };
    // INVARIANT: counted first; `Drop` uncounts, also when the allocation below fails
    // (the vDEVICE is dropped then).
    viommu.get_user();
    let vdev = Arc::new(
        Vdevice {
            viommu: (*viommu).clone(),
            dev: dev.clone(),
        },
        GFP_KERNEL,
    )?;
    let ident = vdev.ident();
    // From here on, dropping `new` drops the vDEVICE, which unregisters whatever was.
    let new = ctx.objects().add(Object::Vdevice(vdev))?;
    let link = VdevLink {
        viommu: viommu.ident(),
        vdev: ident,
        id: new.id(),
    };
    dev.link_vdev(link, || viommu.add_vdev(cmd.virt_id, dev.clone(), ident))?;
    cmd.out_vdevice_id = new.id();
    cmd.write(ucmd.bytes_mut());
    ucmd.publish_on_reply(new)
}
