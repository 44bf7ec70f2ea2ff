// SPDX-License-Identifier: GPL-2.0

//! The PASID ops of the test interface, with upstream's semantics
//! (`IOMMU_TEST_OP_PASID_ATTACH`, `_REPLACE`, `_DETACH`, `_CHECK_HWPT`): `id` is a mock
//! device's test object, the attach rules are [`crate::objects::device`]'s. Unlike
//! `IOASID_DEVICE_ATTACH`, attach over an attached PASID is `EBUSY`, replace of a detached
//! one `EINVAL`, an IOAS is `EINVAL` and detach of a detached PASID succeeds.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::{
    dispatch::Ucmd,
    error::refuse,
    objects::{
        context::Context,
        device::{self, MockDevice, PasidMode},
        hwpt::Hwpt,
    },
    uapi::{TestPasidAttach, TestPasidCheck, TestPasidDetach},
};
use kernel::{prelude::*, sync::Arc};

pub(super) const OP_PASID_ATTACH: u32 = 18;
pub(super) const OP_PASID_REPLACE: u32 = 19;
pub(super) const OP_PASID_DETACH: u32 = 20;
pub(super) const OP_PASID_CHECK_HWPT: u32 = 21;

/// Runs PASID op `op` on mock device `stdev_id`.
pub(super) fn op(ctx: &Context, ucmd: &mut Ucmd<'_>, op: u32, stdev_id: u32) -> Result {
    // As upstream: `id` must name a mock device's test object (`ENOENT`).
    let dev = ctx.objects().get_as::<Arc<MockDevice>>(stdev_id)?;
    match op {
        OP_PASID_ATTACH | OP_PASID_REPLACE => {
            let mut c = TestPasidAttach::read(ucmd.bytes());
            let mode = if op == OP_PASID_ATTACH {
                PasidMode::Attach
            } else {
                PasidMode::Replace
            };
            c.pt_id = dev.attach_pasid(ctx, c.pasid, c.pt_id, mode)?;
            c.write(ucmd.bytes_mut());
            Ok(())
        }
        OP_PASID_DETACH => {
            let pasid = TestPasidDetach::read(ucmd.bytes()).pasid;
            if let Some(old) = dev.detach_pasid(pasid) {
                device::release(ctx.objects(), old);
            }
            Ok(())
        }
        _ => {
            let c = TestPasidCheck::read(ucmd.bytes());
            let attached = dev.pasid_hwpt(c.pasid);
            if c.hwpt_id == 0 {
                return match attached {
                    None => Ok(()),
                    Some(_) => refuse!(EINVAL, "pasid_check: PASID {} is attached\n", c.pasid),
                };
            }
            let want = ctx.objects().get_as::<Arc<Hwpt>>(c.hwpt_id)?;
            match attached {
                Some(h) if Arc::ptr_eq(&h, &want) => Ok(()),
                _ => refuse!(
                    EINVAL,
                    "pasid_check: PASID {} is not attached to HWPT {}\n",
                    c.pasid,
                    c.hwpt_id
                ),
            }
        }
    }
}
