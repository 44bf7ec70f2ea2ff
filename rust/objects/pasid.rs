// SPDX-License-Identifier: GPL-2.0

//! Allocated PASIDs (`IOASID_PASID_ALLOC`, `IOASID_PASID_FREE`): ioasid's own uAPI, after
//! the /dev/ioasid proposal, where the kernel hands out PASIDs that must be the same on
//! every device a process uses (shared work queues, ENQCMD).
//!
//! A PASID comes from the space of the device named at allocation: the IOMMU core's global
//! space for a PCI device (`iommu_alloc_global_pasid`), or the mock IOMMU's own space for
//! a mock device. The file that allocated it owns it, as an object of its table: freed by
//! `IOASID_PASID_FREE`, `IOMMU_DESTROY` of its ID or the file's close, and not while one
//! of the file's devices has it attached (`EBUSY`). Every allocated PASID is in one
//! registry shared by all files ([`crate::ffi::pasid`]): a device of another file
//! cannot attach it (`EPERM`), so one process cannot take over another's shared PASID.
//! A file may hold at most `pasid_quota` PASIDs (module parameter; `EDQUOT`).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{context::Context, device::DeviceRef, table::ObjectKind, Object};
use crate::{
    dispatch::Ucmd,
    error::refuse,
    ffi::pasid::{self as registry, Entry},
    uapi::{self, IoasidPasidAlloc, IoasidPasidFree},
};
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

pub(crate) use crate::ffi::pasid::Space;

/// A PASID allocated by a context: an object of its table. Dropping the last reference
/// (the table's, or an attachment's [`Claim`] after the context closed) gives the PASID
/// back.
pub(crate) struct Pasid {
    space: Space,
    pasid: u32,
    /// The owning context ([`Context::ident`]).
    owner: usize,
    /// Attachments of the owner's devices to this PASID (their [`Claim`]s).
    users: Atomic<u32>,
}

/// A PASID is used by the attachments of its owner's devices to it.
impl ObjectKind for Arc<Pasid> {
    fn users(&self) -> u32 {
        self.users.load(Relaxed)
    }
}

impl Drop for Pasid {
    fn drop(&mut self) {
        release(self.space, self.pasid, self.owner);
    }
}

/// Removes the registry's entry of `pasid` for `owner` and gives a real PASID back to the
/// IOMMU core.
fn release(space: Space, pasid: u32, owner: usize) {
    let mut reg = registry::registry();
    let before = reg.len();
    reg.retain(|e| !(e.space == space && e.pasid == pasid && e.owner == owner));
    let removed = reg.len() != before;
    drop(reg);
    if removed && space == Space::Real {
        registry::free_global_pasid(pasid);
    }
}

/// The space of `dev`'s PASIDs.
pub(crate) fn space_of(dev: &DeviceRef) -> Space {
    match dev {
        DeviceRef::Mock(_) => Space::Mock,
        DeviceRef::Pci(_) => Space::Real,
    }
}

/// A device's attachment's hold on an allocated PASID of its own context: while it
/// exists, the PASID object cannot be destroyed (and the PASID stays allocated).
pub(crate) struct Claim(Arc<Pasid>);

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.users.fetch_sub(1, Relaxed);
    }
}

/// Checks that `ctx` may attach `pasid` of space `space`: refused (`EPERM`) when another
/// context allocated it; a claim on it when `ctx` did, `None` when nobody did (a PASID the
/// user picked, as VFIO's PASID attach allows).
///
/// Takes the registry lock (a leaf) and the object table's: callable under a device's lock.
pub(crate) fn claim(ctx: &Context, space: Space, pasid: u32) -> Result<Option<Claim>> {
    let reg = registry::registry();
    let Some(e) = reg.iter().find(|e| e.space == space && e.pasid == pasid) else {
        return Ok(None);
    };
    if e.owner != ctx.ident() {
        return refuse!(
            EPERM,
            "attach: PASID {} was allocated by another /dev/ioasid file\n",
            pasid
        );
    }
    let id = e.id;
    drop(reg);
    // Counted while the lookup holds the object: IOMMU_DESTROY cannot come in between.
    let obj = ctx
        .objects()
        .get_as::<Arc<Pasid>>(id)
        .ok()
        .filter(|o| o.space == space && o.pasid == pasid);
    let Some(obj) = obj else {
        return refuse!(
            ENOENT,
            "attach: PASID {} is being allocated or freed by this file\n",
            pasid
        );
    };
    obj.users.fetch_add(1, Relaxed);
    Ok(Some(Claim((*obj).clone())))
}

/// Module parameter `pasid_quota`: how many PASIDs one file may hold.
fn quota() -> u32 {
    crate::module_parameters::pasid_quota.value()
}

/// Allocates a PASID of `dev`'s space for `ctx` within `[min, max]` (both 0: the whole
/// space) and records it in the registry with object ID 0 (set once known).
fn allocate(ctx: &Context, dev: &DeviceRef, min: u32, max: u32) -> Result<(Space, u32)> {
    let owner = ctx.ident();
    let space = space_of(dev);
    let width = match dev {
        DeviceRef::Mock(m) => m.max_pasid_log2(),
        DeviceRef::Pci(p) => p.hw_info(0)?.max_pasid_log2,
    };
    if width == 0 {
        return refuse!(
            EOPNOTSUPP,
            "pasid_alloc: the device or its IOMMU has no PASID support\n"
        );
    }
    let mut reg = registry::registry();
    let held = reg.iter().filter(|e| e.owner == owner).count();
    if held >= quota() as usize {
        return refuse!(
            EDQUOT,
            "pasid_alloc: the file holds {} PASIDs, its quota (pasid_quota)\n",
            held
        );
    }
    reg.reserve(1, GFP_KERNEL)?;
    let pasid = match dev {
        DeviceRef::Mock(_) => {
            let (lo, hi) = uapi::pasid::range(width, min, max).or_else(|_| {
                refuse!(
                    EINVAL,
                    "pasid_alloc: [{}, {}] is not a range of the device's {}-bit PASIDs\n",
                    min,
                    max,
                    width
                )
            })?;
            let mut taken = KVec::with_capacity(reg.len(), GFP_KERNEL)?;
            for e in reg.iter().filter(|e| e.space == space) {
                taken.push(e.pasid, GFP_KERNEL)?;
            }
            taken.sort_unstable();
            uapi::pasid::lowest_free(&taken, lo, hi).ok_or(ENOSPC)
        }
        DeviceRef::Pci(p) => {
            if min != 0 || max != 0 {
                return refuse!(
                    EINVAL,
                    "pasid_alloc: the IOMMU core allocates global PASIDs from its whole space\n"
                );
            }
            p.alloc_global_pasid().ok_or(ENOSPC)
        }
    };
    let pasid = pasid.or_else(|e| refuse!(e, "pasid_alloc: no free PASID in the range\n"))?;
    // Capacity reserved above.
    let entry = Entry {
        space,
        pasid,
        owner,
        id: 0,
    };
    if reg.push_within_capacity(entry).is_err() {
        // Not reached: room was reserved under the same lock.
        if space == Space::Real {
            registry::free_global_pasid(pasid);
        }
        return Err(ENOMEM);
    }
    Ok((space, pasid))
}

/// `IOASID_PASID_ALLOC`: a PASID for shared use by the caller's devices, from the space of
/// device `dev_id`; returned in `out_pasid`, with its object ID in `out_id`.
pub(crate) fn ioctl_alloc<'a>(ctx: &'a Context, ucmd: &mut Ucmd<'a>) -> Result {
    let mut cmd = IoasidPasidAlloc::read(ucmd.bytes());
    if cmd.flags != 0 || cmd.reserved != 0 {
        return refuse!(EOPNOTSUPP, "pasid_alloc: unknown flags or reserved set\n");
    }
    let dev = ctx.objects().get_as::<DeviceRef>(cmd.dev_id)?;
    let (space, pasid) = allocate(ctx, &dev, cmd.min_pasid, cmd.max_pasid)?;
    let owner = ctx.ident();
    let obj = Arc::new(
        Pasid {
            space,
            pasid,
            owner,
            users: Atomic::new(0),
        },
        GFP_KERNEL,
    )
    .inspect_err(|_| release(space, pasid, owner))?;
    // On failure from here the table drops the object, which frees the PASID.
    let new = ctx.objects().add(Object::Pasid(obj.clone()))?;
    let id = new.id();
    if let Some(e) = registry::registry()
        .iter_mut()
        .find(|e| e.space == space && e.pasid == pasid && e.owner == owner)
    {
        e.id = id;
    }
    cmd.out_pasid = pasid;
    cmd.out_id = id;
    cmd.write(ucmd.bytes_mut());
    ucmd.publish_on_reply(new)
}

/// `IOASID_PASID_FREE`: frees PASID `pasid` of device `dev_id`'s space, which this file
/// allocated (`ENOENT` otherwise), as `IOMMU_DESTROY` of its ID would.
pub(crate) fn ioctl_free(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let cmd = IoasidPasidFree::read(ucmd.bytes());
    if cmd.flags != 0 {
        return refuse!(EOPNOTSUPP, "pasid_free: unknown flags {:#x}\n", cmd.flags);
    }
    let dev = ctx.objects().get_as::<DeviceRef>(cmd.dev_id)?;
    let space = space_of(&dev);
    let owner = ctx.ident();
    let id = registry::registry()
        .iter()
        .find(|e| e.space == space && e.pasid == cmd.pasid && e.owner == owner && e.id != 0)
        .map(|e| e.id);
    match id {
        Some(id) => ctx.objects().destroy(id),
        None => refuse!(
            ENOENT,
            "pasid_free: PASID {} was not allocated by this file\n",
            cmd.pasid
        ),
    }
}
