// SPDX-License-Identifier: GPL-2.0

//! PCI devices bound to a context (`IOASID_DEVICE_BIND`), and their attachment to HWPTs
//! (`IOASID_DEVICE_ATTACH`, `IOASID_DEVICE_DETACH`).
//!
//! A [`PciDevice`] owns one binding of an `ioasid-pci` device: DMA ownership of its IOMMU
//! group, claimed for the context. The IOMMU translates a group of devices as a whole, so
//! the bound devices of one group share a [`PciGroup`] (one per group and context, as
//! iommufd's `iommufd_group`), which owns the group's state, in hardware and in the
//! context: which bindings are in force, which of them are attached, the domain the group
//! is attached to (and its attach handle), and the HWPT and reserved regions of the
//! attachment. The FFI layer only records, per device, that it is bound; it can end a
//! binding on its own when the device file is closed or the device is removed, and then
//! hands it to [`PciGroup::revoked`], which takes the device out of the hardware. From then
//! on every operation here returns `ENODEV`, while the bookkeeping (the attachment, the
//! reserved ranges) stays until the device's ID is destroyed.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

mod group;

pub(crate) use group::PciGroup;

use super::{
    context::Context,
    device::{self, Attachment, DeviceRef},
    table::Narrow,
    Object,
};
use crate::{
    dispatch::Ucmd,
    error::refuse,
    ffi::iommu::{Binding, HwInfo, PciDev, ResvKind},
    hw::{iommu::RealDomain, Domain, UserData},
    iopt::Ioas,
    uapi::iova::Span,
    uapi::{IoasidDeviceAttach, IoasidDeviceBind, IoasidDeviceDetach, IOASID_DEVICE_PASID},
};
use group::{GroupInner, GroupRef, Member};
use kernel::{prelude::*, sync::Arc};

/// Reserves the regions of every member of `members` in `ioas`: all or none.
fn reserve_members<'a>(ioas: &Ioas, members: impl Iterator<Item = &'a Member> + Clone) -> Result {
    for (i, m) in members.clone().enumerate() {
        if let Err(e) = ioas.reserve(m.tag, &m.resv) {
            for undo in members.take(i) {
                ioas.unreserve(undo.tag);
            }
            return Err(e);
        }
    }
    Ok(())
}

fn unreserve_members<'a>(ioas: &Ioas, members: impl Iterator<Item = &'a Member>) {
    for m in members {
        ioas.unreserve(m.tag);
    }
}

/// A binding of an `ioasid-pci` device in its group, ended when dropped.
struct Bound {
    dev: PciDev,
    binding: Binding,
    /// The device's IOMMU group in the context; its lock serializes attach, replace,
    /// detach and unbind.
    group: GroupRef,
}

impl Bound {
    /// Ends the binding in hardware: out of the group's attachment, DMA ownership released
    /// (nothing if that happened already). The caller holds `g`, the group's lock, and
    /// forgets the record after ([`Bound::forget`]): while the record stands, the device's
    /// removal waits for the group's lock, so the ownership goes before the driver lets go
    /// of the device.
    fn unbind_locked(&self, g: &mut GroupInner) {
        g.hw.unbind(&self.dev, self.binding);
    }

    /// Forgets the record of the binding (after [`Bound::unbind_locked`]), without the
    /// group's lock: the record's reference to the group may be the one that goes.
    fn forget(&self) {
        drop(self.dev.forget(self.binding));
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        self.unbind_locked(&mut self.group.0.inner.lock());
        self.forget();
    }
}

/// A PCI device bound to a context.
pub(crate) struct PciDevice {
    /// The binding, with the device's IOMMU group in the context.
    bound: Bound,
    /// The device's reserved regions (without the relaxable direct ones), read at bind.
    resv: KVec<Span>,
    /// Start of the device's software MSI window (read at bind with `resv`).
    sw_msi: Option<u64>,
}

impl PciDevice {
    /// The owner tag of the device's reserved ranges in an IOAS.
    fn tag(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    fn group(&self) -> &PciGroup {
        &self.bound.group.0
    }

    /// `ENODEV` once the binding was revoked (device file closed, device removed).
    fn check_live(&self) -> Result {
        if self.bound.dev.is_live(self.bound.binding) {
            Ok(())
        } else {
            refuse!(
                ENODEV,
                "{}: the binding was revoked\n",
                self.bound.dev.name()
            )
        }
    }

    /// A new paging domain of the device's IOMMU.
    ///
    /// # Errors
    ///
    /// `ENODEV` if the binding was revoked, the driver's refusal, `ENOMEM`.
    pub(crate) fn new_domain(&self, flags: u32) -> Result<Domain> {
        self.check_live()?;
        Ok(Domain::Real(RealDomain::new(
            &self.bound.dev,
            flags,
            self.sw_msi,
        )?))
    }

    /// A PASID of the IOMMU core's global space for this device (`None`: exhausted).
    pub(crate) fn alloc_global_pasid(&self) -> Option<u32> {
        self.bound.dev.alloc_global_pasid()
    }

    /// Whether the device's IOMMU can track dirty pages (`IOMMU_CAP_DIRTY_TRACKING`).
    pub(crate) fn dirty_tracking_capable(&self) -> bool {
        self.bound.dev.dirty_tracking_capable()
    }

    /// The IOMMU driver's information about the device (`IOMMU_GET_HW_INFO`).
    pub(crate) fn hw_info(&self, kind: u32) -> Result<HwInfo> {
        self.check_live()?;
        self.bound.dev.hw_info(kind).or_else(|e| {
            refuse!(
                e,
                "get_hw_info: {}: the IOMMU driver has no data of type {:#x}: {:?}\n",
                self.bound.dev.name(),
                kind,
                e
            )
        })
    }

    /// `IOMMU_HWPT_ALLOC` of a nested HWPT on `parent` (a real nest parent): handed to the
    /// IOMMU driver's own `domain_alloc_nested` with the user's `data`. ioasid cannot yet
    /// attach a nested domain of a real IOMMU (a device attached to it would translate
    /// through the driver's stage 1, which ioasid's attach and invalidation paths do not
    /// drive), so a domain the driver makes is freed and refused; what the driver refuses
    /// is its errno.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` when the driver has no `domain_alloc_nested` or made a domain; the
    /// driver's refusal; `ENODEV` for a device that is gone.
    pub(crate) fn alloc_nested(&self, parent: &RealDomain, flags: u32, data: &UserData) -> Result {
        self.check_live()?;
        let dev = &self.bound.dev;
        if !dev.has_domain_alloc_nested() {
            return refuse!(
                EOPNOTSUPP,
                "hwpt_alloc: {}: the IOMMU driver has no domain_alloc_nested (nested domains \
                 of this IOMMU are made only on a vIOMMU)\n",
                dev.name()
            );
        }
        let domain = dev
            .alloc_nested_domain(parent.iommu_domain(), flags, data.kind, data.uptr, data.len)
            .or_else(|e| {
                refuse!(
                    e,
                    "hwpt_alloc: {}: the IOMMU driver refused a nested domain of data type \
                     {:#x}: {:?}\n",
                    dev.name(),
                    data.kind,
                    e
                )
            })?;
        drop(domain);
        refuse!(
            EOPNOTSUPP,
            "hwpt_alloc: {}: the IOMMU driver made a nested domain, but ioasid cannot attach \
             nested domains of real IOMMUs yet (freed)\n",
            dev.name()
        )
    }

    /// Whether `domain` can serve this device: a real domain (the IOMMU driver decides
    /// the rest when attaching).
    fn accepts(domain: &Domain) -> bool {
        matches!(domain, Domain::Real(_))
    }

    /// Attaches to `pt_id`; returns the HWPT ID.
    ///
    /// The devices of the group share one attachment: when other devices of the group are
    /// attached, this one can only join their HWPT (`EINVAL` otherwise); when this one is
    /// attached, all of them move to `pt_id` in one step, and their reserved regions to
    /// its IOAS.
    fn attach(&self, ctx: &Context, pt_id: u32) -> Result<u32> {
        let mut guard = self.group().inner.lock();
        self.check_live()?;
        let is_member = guard.member(self.tag()).is_some();
        if is_member && guard.attached.as_ref().is_some_and(|a| a.hwpt_id == pt_id) {
            return Ok(pt_id);
        }
        let mut resv = KVec::with_capacity(self.resv.len(), GFP_KERNEL)?;
        resv.extend_from_slice(&self.resv, GFP_KERNEL)?;
        let joining = Member {
            tag: self.tag(),
            resv,
        };
        // Room for this device, so that recording it after the switch cannot fail.
        guard.members.reserve(1, GFP_KERNEL)?;
        let g: &mut GroupInner = &mut guard;
        let iommu_group = &self.group().group;
        let name = self.bound.dev.name();
        let switch = |att: &Attachment| -> Result {
            // Nested HWPTs exist only on the mock IOMMU so far (`accepts` refused them).
            if att.hwpt.nested_domain().is_some() {
                return Err(EINVAL);
            }
            let domain = match att.hwpt.domain() {
                Domain::Real(r) => r.clone(),
                Domain::Mock(_) => return Err(EINVAL),
            };
            let new_ioas = att.hwpt.ioas();
            // Whose regions go into the new IOAS: this device's when it joins (or is the
            // first), every member's when the group moves to another IOAS.
            let moving: &[Member] = match g.attached.as_ref() {
                None => &[],
                Some(cur) if !is_member => {
                    if !Arc::ptr_eq(&cur.hwpt, &att.hwpt) {
                        return refuse!(
                            EINVAL,
                            "attach: {}: its IOMMU group is on HWPT {}, which its devices share\n",
                            name,
                            cur.hwpt_id
                        );
                    }
                    &[]
                }
                Some(cur) if Arc::ptr_eq(cur.hwpt.ioas(), new_ioas) => &[],
                Some(_) => &g.members,
            };
            let joins = (!is_member).then_some(&joining);
            let who = Iterator::chain(moving.iter(), joins);
            reserve_members(new_ioas, who.clone()).or_else(|e| {
                refuse!(
                    e,
                    "attach: {}: reserved regions of its group collide with mappings\n",
                    name
                )
            })?;
            let r =
                g.hw.attach(iommu_group, &self.bound.dev, self.bound.binding, &domain);
            if let Err(e) = r {
                unreserve_members(new_ioas, who);
                return refuse!(e, "attach: {}: the IOMMU refused: {:?}\n", name, e);
            }
            r
        };
        let att = device::attach_to(
            ctx,
            pt_id,
            false,
            self.dirty_tracking_capable(),
            Self::accepts,
            || self.new_domain(0),
            switch,
        )?;
        let hwpt_id = att.hwpt_id;
        // INVARIANT: the switch put the group on the new domain and reserved the regions
        // that had to go into its IOAS; the old IOAS lets go of the members' regions here.
        let released = match guard.attached.take() {
            None => {
                guard.attached = Some(att);
                None
            }
            Some(cur) if !is_member => {
                guard.attached = Some(cur);
                Some(att)
            }
            Some(old) => {
                if !Arc::ptr_eq(old.hwpt.ioas(), att.hwpt.ioas()) {
                    unreserve_members(old.hwpt.ioas(), guard.members.iter());
                }
                guard.attached = Some(att);
                Some(old)
            }
        };
        if !is_member {
            // Cannot fail: room was reserved above.
            let _ = guard.members.push_within_capacity(joining);
        }
        drop(guard);
        if let Some(old) = released {
            device::release(ctx.objects(), old);
        }
        Ok(hwpt_id)
    }

    /// Detaches (the last attached device of the group blocks its DMA); returns the old
    /// attachment for the caller to release when this was the last one.
    ///
    /// # Errors
    ///
    /// `EINVAL` when not attached.
    fn detach(&self) -> Result<Option<Attachment>> {
        let mut g = self.group().inner.lock();
        if g.member(self.tag()).is_none() {
            return refuse!(
                EINVAL,
                "detach: {} is not attached\n",
                self.bound.dev.name()
            );
        }
        // INVARIANT: out of the hardware first, then out of the IOAS's reserved ranges.
        g.hw.detach(&self.bound.dev, self.bound.binding);
        Ok(g.leave(self.tag()))
    }

    /// Ends the binding: detached, DMA ownership released; returns the old attachment
    /// for the caller to release when this was the last device attached to it.
    pub(crate) fn unbind(&self) -> Option<Attachment> {
        let mut g = self.group().inner.lock();
        self.bound.unbind_locked(&mut g);
        let old = g.leave(self.tag());
        drop(g);
        self.bound.forget();
        old
    }
}

impl Drop for PciDevice {
    fn drop(&mut self) {
        // The device leaves the domain before the attachment (and with it maybe the
        // domain and the pins) goes.
        let old = self.unbind();
        drop(old);
    }
}

/// Module parameter `allow_unsafe_interrupts`: bind devices whose MSIs are not isolated.
fn allow_unsafe_interrupts() -> bool {
    crate::module_parameters::allow_unsafe_interrupts.value()
}

/// `IOASID_DEVICE_BIND`: binds the device opened as `dev_fd` to the context.
pub(crate) fn ioctl_bind<'a>(ctx: &'a Context, ucmd: &mut Ucmd<'a>) -> Result {
    let mut cmd = IoasidDeviceBind::read(ucmd.bytes());
    if cmd.flags != 0 {
        return refuse!(EOPNOTSUPP, "device_bind: unknown flags {:#x}\n", cmd.flags);
    }
    let (dev, file) = PciDev::from_fd(cmd.dev_fd).or_else(|e| {
        refuse!(
            e,
            "device_bind: fd {} is not an ioasid-pci device node\n",
            cmd.dev_fd
        )
    })?;
    let name = dev.name();
    if !dev.has_iommu() {
        return refuse!(ENODEV, "device_bind: {}: no IOMMU translates it\n", name);
    }
    if !dev.cache_coherent() {
        return refuse!(
            EINVAL,
            "device_bind: {}: the IOMMU cannot enforce cache coherency\n",
            name
        );
    }
    if !dev.isolated_msi() {
        if !allow_unsafe_interrupts() {
            return refuse!(
                EPERM,
                "device_bind: {}: MSIs are not isolated (set allow_unsafe_interrupts)\n",
                name
            );
        }
        pr_warn!(
            "{}: bound without isolated MSIs (allow_unsafe_interrupts)\n",
            name
        );
        crate::ffi::taint_user();
    }
    let mut resv = KVec::new();
    let mut sw_msi = None;
    for r in dev.resv_regions()?.iter() {
        if r.kind() == ResvKind::SwMsi && sw_msi.is_none() {
            sw_msi = Some(r.start());
        }
        if r.kind() != ResvKind::DirectRelaxable {
            resv.push(
                Span {
                    start: r.start(),
                    last: r.last(),
                },
                GFP_KERNEL,
            )?;
        }
    }
    let group = PciGroup::join(ctx.pci_groups(), &dev).or_else(|e| {
        refuse!(
            e,
            "device_bind: {}: cannot join its IOMMU group: {:?}\n",
            name,
            e
        )
    })?;
    let owner = core::ptr::from_ref(ctx) as usize;
    let binding = group.0.claim(&dev, &file, owner).or_else(|e| {
        refuse!(
            e,
            "device_bind: {}: cannot claim DMA ownership: {:?}\n",
            name,
            e
        )
    })?;
    drop(file);
    // If the allocation fails, dropping the device ends the binding (its `Drop`).
    let bound = Bound {
        dev,
        binding,
        group,
    };
    let device = Arc::new(
        PciDevice {
            bound,
            resv,
            sw_msi,
        },
        GFP_KERNEL,
    )?;
    // Visible with the reply; if it cannot be written, dropping `new` unbinds again.
    let new = ctx.objects().add(Object::Device(DeviceRef::Pci(device)))?;
    cmd.out_dev_id = new.id();
    cmd.write(ucmd.bytes_mut());
    ucmd.publish_on_reply(new)
}

/// A device ID that names a PCI device.
impl Narrow for Arc<PciDevice> {
    const NAME: &'static str = "bound PCI device";

    fn narrow(obj: &Object) -> Option<&Self> {
        match obj {
            Object::Device(DeviceRef::Pci(dev)) => Some(dev),
            _ => None,
        }
    }
}

/// Refuses unknown flags of `IOASID_DEVICE_ATTACH` and `_DETACH` and reserved fields
/// (`reserved`); returns whether the operation is on a PASID (`IOASID_DEVICE_PASID`).
fn check_flags(what: &str, flags: u32, reserved: u32) -> Result<bool> {
    if flags & !IOASID_DEVICE_PASID != 0 || reserved != 0 {
        return refuse!(
            EOPNOTSUPP,
            "{}: unknown flags {:#x} or reserved set\n",
            what,
            flags
        );
    }
    Ok(flags & IOASID_DEVICE_PASID != 0)
}

impl PciDevice {
    /// The refusal of a PASID operation on this device: the device or its IOMMU has no
    /// PASIDs (what every device of QEMU's emulation reports), or ioasid does not drive
    /// real PASIDs yet.
    fn refuse_pasid(&self, what: &str) -> Result {
        let width = self.hw_info(0)?.max_pasid_log2;
        if width == 0 {
            return refuse!(
                EOPNOTSUPP,
                "{}: {} has no PASID support (no PASID capability, or none from its IOMMU)\n",
                what,
                self.bound.dev.name()
            );
        }
        refuse!(
            EOPNOTSUPP,
            "{}: {}: PASIDs of real devices are not attached by ioasid yet\n",
            what,
            self.bound.dev.name()
        )
    }
}

/// `IOASID_DEVICE_ATTACH`: attaches a bound device's RID or (`IOASID_DEVICE_PASID`) one
/// of its PASIDs to `pt_id`, replacing what it was attached to in one step.
pub(crate) fn ioctl_attach(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IoasidDeviceAttach::read(ucmd.bytes());
    let pasid = check_flags("device_attach", cmd.flags, cmd.reserved)?;
    let dev = ctx.objects().get_as::<DeviceRef>(cmd.dev_id)?;
    cmd.pt_id = match (&*dev, pasid) {
        (DeviceRef::Pci(d), false) => d.attach(ctx, cmd.pt_id)?,
        (DeviceRef::Pci(d), true) => return d.refuse_pasid("device_attach"),
        (DeviceRef::Mock(m), false) => m.attach_rid(ctx, cmd.pt_id)?,
        (DeviceRef::Mock(m), true) => {
            if m.max_pasids() == 0 {
                return refuse!(
                    EOPNOTSUPP,
                    "device_attach: the mock device was made without PASID support\n"
                );
            }
            m.attach_pasid(ctx, cmd.pasid, cmd.pt_id, device::PasidMode::Either)?
        }
    };
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOASID_DEVICE_DETACH`: detaches a bound device's RID or one of its PASIDs (`EINVAL`
/// when not attached); its DMA is blocked from then on.
pub(crate) fn ioctl_detach(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let cmd = IoasidDeviceDetach::read(ucmd.bytes());
    let pasid = check_flags("device_detach", cmd.flags, 0)?;
    let dev = ctx.objects().get_as::<DeviceRef>(cmd.dev_id)?;
    let old = match (&*dev, pasid) {
        (DeviceRef::Pci(d), false) => d.detach()?,
        (DeviceRef::Pci(d), true) => return d.refuse_pasid("device_detach"),
        (DeviceRef::Mock(m), false) => m.detach_rid(),
        (DeviceRef::Mock(m), true) => m.detach_pasid(cmd.pasid),
    };
    match old {
        Some(old) => device::release(ctx.objects(), old),
        // A PCI device of a group with other devices attached leaves nothing to release.
        None if matches!(&*dev, DeviceRef::Pci(_)) => {}
        None => {
            return refuse!(
                EINVAL,
                "device_detach: device {} ({}) is not attached\n",
                cmd.dev_id,
                if pasid { "PASID" } else { "RID" }
            );
        }
    }
    Ok(())
}
