// SPDX-License-Identifier: GPL-2.0

//! PCI devices bound to a context (`IOASID_DEVICE_BIND`), and their attachment to HWPTs
//! (`IOASID_DEVICE_ATTACH`, `IOASID_DEVICE_DETACH`).
//!
//! A [`PciDevice`] owns one binding of an `ioasid-pci` device: DMA ownership of its IOMMU
//! group, claimed for the context. The hardware side of the binding (which domain the
//! group is attached to, whether ownership is held) lives in the FFI layer's device, which
//! can end it on its own when the device file is closed or the device is removed; from
//! then on every operation here returns `ENODEV`, while the bookkeeping (the attachment,
//! the reserved ranges) stays until the device's ID is destroyed.

use crate::{
    context::Context,
    device::{self, Attachment},
    dispatch::Ucmd,
    domain::Domain,
    ffi_iommu::{Binding, HwInfo, PciDev, ResvKind},
    ioas::Ioas,
    ioasid_dbg,
    iommu::RealDomain,
    iova::Span,
    object::Object,
    uapi::{IoasidDeviceAttach, IoasidDeviceBind, IoasidDeviceDetach, IOASID_DEVICE_PASID},
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// What [`PciDevice`]'s lock protects.
struct PciInner {
    /// The HWPT the device is attached to.
    attached: Option<Attachment>,
}

/// A binding of an `ioasid-pci` device, ended when dropped.
struct Bound {
    dev: PciDev,
    binding: Binding,
}

impl Drop for Bound {
    fn drop(&mut self) {
        self.dev.unbind(self.binding);
    }
}

/// A PCI device bound to a context.
///
/// # Invariants
///
/// While `inner.attached` is `Some`, the device's reserved regions are reserved in that
/// HWPT's IOAS under the owner tag [`PciDevice::tag`], and (unless the binding was
/// revoked) the group is attached to that HWPT's domain.
#[pin_data(PinnedDrop)]
pub(crate) struct PciDevice {
    bound: Bound,
    /// The device's reserved regions (without the relaxable direct ones), read at bind.
    resv: KVec<Span>,
    /// Start of the device's software MSI window (read at bind with `resv`).
    sw_msi: Option<u64>,
    /// Serializes attach, replace, detach and unbind; protects the attachment.
    #[pin]
    inner: Mutex<PciInner>,
}

impl PciDevice {
    /// The owner tag of the device's reserved ranges in an IOAS.
    fn tag(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// `ENODEV` once the binding was revoked (device file closed, device removed).
    fn check_live(&self) -> Result {
        if self.bound.dev.is_live(self.bound.binding) {
            Ok(())
        } else {
            ioasid_dbg!("{}: the binding was revoked\n", self.bound.dev.name());
            Err(ENODEV)
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

    /// The IOMMU driver's information about the device (`IOMMU_GET_HW_INFO`).
    pub(crate) fn hw_info(&self, kind: u32) -> Result<HwInfo> {
        self.check_live()?;
        self.bound.dev.hw_info(kind).inspect_err(|e| {
            ioasid_dbg!(
                "get_hw_info: {}: the IOMMU driver has no data of type {:#x}: {:?}\n",
                self.bound.dev.name(),
                kind,
                e
            )
        })
    }

    /// Whether `domain` can serve this device: a real domain (the IOMMU driver decides
    /// the rest when attaching).
    fn accepts(domain: &Domain) -> bool {
        matches!(domain, Domain::Real(_))
    }

    /// Attaches to `pt_id`, replacing the current attachment in one step; returns the HWPT
    /// ID. The device's reserved regions move to the new IOAS.
    fn attach(&self, ctx: &Context, pt_id: u32) -> Result<u32> {
        let mut inner = self.inner.lock();
        self.check_live()?;
        if let Some(a) = inner.attached.as_ref() {
            if a.hwpt_id == pt_id {
                return Ok(pt_id);
            }
        }
        let old_ioas: Option<Arc<Ioas>> = inner.attached.as_ref().map(|a| a.hwpt.ioas().clone());
        let switch = |att: &Attachment| -> Result {
            let domain = match att.hwpt.domain() {
                Domain::Real(r) => r.clone(),
                Domain::Mock(_) => return Err(EINVAL),
            };
            let new_ioas = att.hwpt.ioas();
            let same_ioas = old_ioas.as_ref().is_some_and(|o| Arc::ptr_eq(o, new_ioas));
            if !same_ioas {
                new_ioas.reserve(self.tag(), &self.resv).inspect_err(|_| {
                    ioasid_dbg!(
                        "attach: {}: its reserved regions collide with mappings\n",
                        self.bound.dev.name()
                    )
                })?;
            }
            let r = self
                .bound
                .dev
                .attach(self.bound.binding, domain.iommu_domain());
            if let Err(e) = r {
                ioasid_dbg!(
                    "attach: {}: the IOMMU refused: {:?}\n",
                    self.bound.dev.name(),
                    e
                );
                if !same_ioas {
                    new_ioas.unreserve(self.tag());
                }
            }
            r
        };
        let att = device::attach_to(ctx, pt_id, Self::accepts, || self.new_domain(0), switch)?;
        let hwpt_id = att.hwpt_id;
        let new_ioas = att.hwpt.ioas().clone();
        // INVARIANT: the group is on the new domain and the regions are reserved in its
        // IOAS; they leave the old IOAS below if it is another one.
        let old = inner.attached.replace(att);
        drop(inner);
        if let Some(old) = old {
            if !Arc::ptr_eq(old.hwpt.ioas(), &new_ioas) {
                old.hwpt.ioas().unreserve(self.tag());
            }
            device::release(ctx.objects(), old);
        }
        Ok(hwpt_id)
    }

    /// Detaches (DMA blocked); returns the old attachment for the caller to release.
    ///
    /// # Errors
    ///
    /// `EINVAL` when not attached.
    fn detach(&self) -> Result<Attachment> {
        let mut inner = self.inner.lock();
        let Some(old) = inner.attached.take() else {
            ioasid_dbg!("detach: {} is not attached\n", self.bound.dev.name());
            return Err(EINVAL);
        };
        // INVARIANT: out of the hardware first, then out of the IOAS's reserved ranges.
        self.bound.dev.detach(self.bound.binding);
        old.hwpt.ioas().unreserve(self.tag());
        Ok(old)
    }

    /// Ends the binding: detached, DMA ownership released; returns the old attachment
    /// for the caller to release.
    pub(crate) fn unbind(&self) -> Option<Attachment> {
        let mut inner = self.inner.lock();
        self.bound.dev.unbind(self.bound.binding);
        let old = inner.attached.take();
        if let Some(a) = old.as_ref() {
            a.hwpt.ioas().unreserve(self.tag());
        }
        old
    }
}

#[pinned_drop]
impl PinnedDrop for PciDevice {
    fn drop(self: Pin<&mut Self>) {
        // The device leaves the domain before the attachment (and with it maybe the
        // domain and the pins) goes.
        if let Some(old) = self.unbind() {
            drop(old);
        }
    }
}

/// Module parameter `allow_unsafe_interrupts`: bind devices whose MSIs are not isolated.
fn allow_unsafe_interrupts() -> bool {
    crate::module_parameters::allow_unsafe_interrupts.value()
}

/// `IOASID_DEVICE_BIND`: binds the device opened as `dev_fd` to the context.
pub(crate) fn ioctl_bind(ctx: &Context, ucmd: &mut Ucmd) -> Result {
    let mut cmd = IoasidDeviceBind::read(ucmd.bytes());
    if cmd.flags != 0 {
        ioasid_dbg!("device_bind: unknown flags {:#x}\n", cmd.flags);
        return Err(EOPNOTSUPP);
    }
    let (dev, file) = PciDev::from_fd(cmd.dev_fd).inspect_err(|_| {
        ioasid_dbg!(
            "device_bind: fd {} is not an ioasid-pci device node\n",
            cmd.dev_fd
        )
    })?;
    let name = dev.name();
    if !dev.has_iommu() {
        ioasid_dbg!("device_bind: {}: no IOMMU translates it\n", name);
        return Err(ENODEV);
    }
    if !dev.cache_coherent() {
        ioasid_dbg!(
            "device_bind: {}: the IOMMU cannot enforce cache coherency\n",
            name
        );
        return Err(EINVAL);
    }
    if !dev.isolated_msi() {
        if !allow_unsafe_interrupts() {
            ioasid_dbg!(
                "device_bind: {}: MSIs are not isolated (set allow_unsafe_interrupts)\n",
                name
            );
            return Err(EPERM);
        }
        pr_warn!(
            "{}: bound without isolated MSIs (allow_unsafe_interrupts)\n",
            name
        );
        crate::ffi::taint_user();
    }
    if dev.group_size() != 1 {
        ioasid_dbg!("device_bind: {}: its IOMMU group has other devices\n", name);
        return Err(EOPNOTSUPP);
    }
    let mut resv = KVec::new();
    let mut sw_msi = None;
    for r in dev.resv_regions()?.iter() {
        if r.kind == ResvKind::SwMsi && sw_msi.is_none() {
            sw_msi = Some(r.start);
        }
        if r.kind != ResvKind::DirectRelaxable {
            resv.push(
                Span {
                    start: r.start,
                    last: r.last,
                },
                GFP_KERNEL,
            )?;
        }
    }
    let owner = core::ptr::from_ref(ctx) as usize;
    let binding = dev.claim(&file, owner).inspect_err(|e| {
        ioasid_dbg!(
            "device_bind: {}: cannot claim DMA ownership: {:?}\n",
            name,
            e
        )
    })?;
    drop(file);
    // Made before the allocation: if it fails, dropping the initializer drops `bound`,
    // which ends the binding (separate `dev` and `binding` captures would not).
    let bound = Bound { dev, binding };
    let device = Arc::pin_init(
        pin_init!(PciDevice {
            bound,
            resv,
            sw_msi,
            inner <- new_mutex!(PciInner { attached: None }),
        }),
        GFP_KERNEL,
    )?;
    let id = ctx.objects().insert(Object::PciDevice(device))?;
    ucmd.created(id);
    cmd.out_dev_id = id;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// The bound PCI device `id`.
fn get(ctx: &Context, id: u32, what: &str) -> Result<Arc<PciDevice>> {
    match ctx.objects().get(id)? {
        Object::PciDevice(d) => Ok(d),
        _ => {
            ioasid_dbg!("{}: {} is not a bound PCI device\n", what, id);
            Err(ENOENT)
        }
    }
}

/// `IOASID_DEVICE_ATTACH`.
pub(crate) fn ioctl_attach(ctx: &Context, ucmd: &mut Ucmd) -> Result {
    let mut cmd = IoasidDeviceAttach::read(ucmd.bytes());
    if cmd.flags & !IOASID_DEVICE_PASID != 0 || cmd.reserved != 0 {
        ioasid_dbg!(
            "device_attach: unknown flags {:#x} or reserved set\n",
            cmd.flags
        );
        return Err(EOPNOTSUPP);
    }
    if cmd.flags & IOASID_DEVICE_PASID != 0 {
        ioasid_dbg!("device_attach: PASID attach is not supported yet\n");
        return Err(EOPNOTSUPP);
    }
    let dev = get(ctx, cmd.dev_id, "device_attach")?;
    cmd.pt_id = dev.attach(ctx, cmd.pt_id)?;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOASID_DEVICE_DETACH`.
pub(crate) fn ioctl_detach(ctx: &Context, ucmd: &mut Ucmd) -> Result {
    let cmd = IoasidDeviceDetach::read(ucmd.bytes());
    if cmd.flags & !IOASID_DEVICE_PASID != 0 {
        ioasid_dbg!("device_detach: unknown flags {:#x}\n", cmd.flags);
        return Err(EOPNOTSUPP);
    }
    if cmd.flags & IOASID_DEVICE_PASID != 0 {
        ioasid_dbg!("device_detach: PASID detach is not supported yet\n");
        return Err(EOPNOTSUPP);
    }
    let dev = get(ctx, cmd.dev_id, "device_detach")?;
    let old = dev.detach()?;
    device::release(ctx.objects(), old);
    Ok(())
}
