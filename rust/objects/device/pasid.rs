// SPDX-License-Identifier: GPL-2.0

//! PASIDs of mock devices: each PASID of a device can be attached to its own HWPT, which
//! translates the device's DMA tagged with that PASID, with iommufd's rules (its
//! `device.c`):
//! - only a HWPT allocated with `IOMMU_HWPT_ALLOC_PASID` serves a PASID (`EINVAL`), and
//!   while PASIDs are attached the RID too needs such a HWPT ([`MockDevice::rid_may_use`]);
//!   a PASID cannot be attached while the RID is on a HWPT without the flag (`EINVAL`);
//! - the PASID must be below the device's PASID count (`EINVAL`; a device without PASIDs
//!   has none) and is never 0, the RID's;
//! - attach over an attached PASID is `EBUSY` and replace of a detached one `EINVAL` for
//!   upstream's test ops; ioasid's `IOASID_DEVICE_ATTACH` does either ([`PasidMode`]);
//! - a PASID that another `/dev/ioasid` file allocated is refused (`EPERM`,
//!   [`crate::objects::pasid`]).
//!
//! A replace switches in one step: the new domain maps the IOAS before the PASID moves to
//! it, and a failed replace leaves the old attachment in place.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{attach_to, release, Attachment, DeviceInner, MockDevice};
use crate::{
    error::refuse,
    hw::{mock::MockDomain, Domain},
    objects::{context::Context, hwpt::Hwpt, pasid},
};
use kernel::{prelude::*, sync::Arc};

/// The PASID upstream's mock fails every second attach of (see `fail_next_1024`).
const FAKE_ERROR_PASID: u32 = 1024;

/// What an attach of a PASID may do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasidMode {
    /// Only attach a detached PASID (`EBUSY` otherwise): `IOMMU_TEST_OP_PASID_ATTACH`.
    Attach,
    /// Only replace an attached PASID's HWPT (`EINVAL` otherwise):
    /// `IOMMU_TEST_OP_PASID_REPLACE`.
    Replace,
    /// Either: `IOASID_DEVICE_ATTACH` with `IOASID_DEVICE_PASID`.
    Either,
}

/// One attached PASID.
pub(crate) struct PasidAttachment {
    pasid: u32,
    att: Attachment,
    /// The hold on the PASID when this file allocated it.
    _claim: Option<pasid::Claim>,
}

impl PasidAttachment {
    /// The attachment, for [`release`] (the claim goes with the rest).
    pub(crate) fn into_attachment(self) -> Attachment {
        self.att
    }

    /// The attachment.
    pub(super) fn attachment(&self) -> &Attachment {
        &self.att
    }
}

/// The attachment of PASID `pasid` (under the device's lock).
pub(super) fn attachment(inner: &DeviceInner, pasid: u32) -> Option<&Attachment> {
    inner
        .pasids
        .iter()
        .find(|p| p.pasid == pasid)
        .map(|p| &p.att)
}

/// Whether a PASID of the device is attached to `hwpt` (under the device's lock).
pub(super) fn any_attached_to(inner: &DeviceInner, hwpt: &Hwpt) -> bool {
    inner
        .pasids
        .iter()
        .any(|p| core::ptr::eq(&*p.att.hwpt, hwpt))
}

impl MockDevice {
    /// How many PASIDs the device has (0: no PASID support).
    pub(crate) fn max_pasids(&self) -> u32 {
        match self.max_pasid_log2() {
            0 => 0,
            w => 1 << w,
        }
    }

    /// Attaches PASID `pasid` to `pt_id` (a HWPT; an IOAS only in [`PasidMode::Either`],
    /// through a PASID-compatible automatic HWPT) as `mode` allows; returns the HWPT ID.
    pub(crate) fn attach_pasid(
        &self,
        ctx: &Context,
        pasid: u32,
        pt_id: u32,
        mode: PasidMode,
    ) -> Result<u32> {
        if pasid == 0 || pasid >= self.max_pasids() {
            return refuse!(
                EINVAL,
                "pasid_attach: PASID {} is not one of the device's {} PASIDs (0 is the RID)\n",
                pasid,
                self.max_pasids()
            );
        }
        let objects = ctx.objects();
        if mode != PasidMode::Either {
            // As iommufd's test op: an IOAS gets an automatic HWPT, which is never
            // PASID-compatible there.
            if let Ok(crate::objects::Object::Ioas(_)) = objects.get(pt_id).as_deref() {
                return refuse!(
                    EINVAL,
                    "pasid_attach: an automatic HWPT of IOAS {} cannot serve a PASID\n",
                    pt_id
                );
            }
        }
        let mut inner = self.inner.lock();
        if inner.idev_id == 0 {
            return refuse!(ENODEV, "pasid_attach: the device is being unbound\n");
        }
        let pos = inner.pasids.iter().position(|p| p.pasid == pasid);
        match (mode, pos) {
            (PasidMode::Attach, Some(_)) => {
                return refuse!(EBUSY, "pasid_attach: PASID {} is attached\n", pasid);
            }
            (PasidMode::Replace, None) => {
                return refuse!(EINVAL, "pasid_replace: PASID {} is not attached\n", pasid);
            }
            _ => {}
        }
        if let Some(rid) = inner.attached.as_ref() {
            if !rid.hwpt.pasid_compat() {
                return refuse!(
                    EINVAL,
                    "pasid_attach: the RID is on HWPT {}, not allocated with IOMMU_HWPT_ALLOC_PASID\n",
                    rid.hwpt_id
                );
            }
        }
        let claim = pasid::claim(ctx, pasid::Space::Mock, pasid)?;
        inner.pasids.reserve(1, GFP_KERNEL)?;
        if pos.is_some_and(|i| inner.pasids[i].att.hwpt_id == pt_id) {
            return Ok(pt_id);
        }
        let mut fail_next = inner.fail_next_1024;
        // Unlike the RID's, a PASID's attach to a nested HWPT on a vIOMMU needs no
        // vDEVICE (as upstream's mock: the vDEVICE names the RID).
        let att = attach_to(
            ctx,
            pt_id,
            true,
            self.dirty_tracking_capable(),
            |d| matches!(d, Domain::Mock(_)),
            || Ok(Domain::Mock(MockDomain::new()?)),
            |_| {
                if pasid == FAKE_ERROR_PASID {
                    fail_next = !fail_next;
                    if !fail_next {
                        return refuse!(
                            ENOMEM,
                            "pasid_attach: the mock fails this attach of PASID 1024\n"
                        );
                    }
                }
                Ok(())
            },
        );
        inner.fail_next_1024 = fail_next;
        let att = att?;
        let hwpt_id = att.hwpt_id;
        let old = match pos {
            // PANIC: `i` was found above, under the same lock.
            Some(i) => Some(core::mem::replace(&mut inner.pasids[i].att, att)),
            None => {
                // Room was reserved above.
                let new = PasidAttachment {
                    pasid,
                    att,
                    _claim: claim,
                };
                if let Err(e) = inner.pasids.push_within_capacity(new) {
                    drop(inner);
                    release(objects, e.0.att);
                    return Err(ENOMEM);
                }
                None
            }
        };
        MockDevice::let_go(inner, old.as_ref());
        if let Some(old) = old {
            release(objects, old);
        }
        Ok(hwpt_id)
    }

    /// Detaches PASID `pasid` (its DMA is blocked from now on); returns its attachment for
    /// the caller to [`release`], `None` if it was not attached. The page requests the
    /// device left outstanding on an IOPF-capable HWPT it no longer uses fail.
    pub(crate) fn detach_pasid(&self, pasid: u32) -> Option<Attachment> {
        let mut inner = self.inner.lock();
        if pasid == FAKE_ERROR_PASID {
            inner.fail_next_1024 = false;
        }
        let i = inner.pasids.iter().position(|p| p.pasid == pasid)?;
        let gone = inner.pasids.remove(i).ok()?.into_attachment();
        MockDevice::let_go(inner, Some(&gone));
        Some(gone)
    }

    /// The HWPT PASID `pasid` is attached to.
    pub(crate) fn pasid_hwpt(&self, pasid: u32) -> Option<Arc<Hwpt>> {
        let inner = self.inner.lock();
        inner
            .pasids
            .iter()
            .find(|p| p.pasid == pasid)
            .map(|p| p.att.hwpt.clone())
    }
}
