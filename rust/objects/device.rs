// SPDX-License-Identifier: GPL-2.0

//! Devices bound to a context: what every kind of device shares (attachments to HWPTs,
//! `IOMMU_GET_HW_INFO`) and the mock devices of the test interface.
//!
//! PCI devices are in [`crate::objects::pcidev`]. Mock devices (`IOMMU_TEST_OP_MOCK_DOMAIN`) are
//! Rust objects that bind, attach, replace and detach as a PCI device does, with the mock
//! IOMMU's aperture and page size. A mock device has two IDs, like upstream's: the test
//! object ("stdev", destroying it unbinds the device) and the device ("idev", what
//! `dev_id` arguments name).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

mod pasid;

pub(crate) use pasid::PasidMode;

use super::{
    context::Context,
    hwpt::Hwpt,
    pcidev::PciDevice,
    table::{ObjectKind, ObjectTable},
    vdevice::Vdevice,
    Object,
};
use crate::{
    error::refuse,
    hw::{mock::MockDomain, Domain, NestedDomain},
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex, MutexGuard,
    },
};

/// Number of cache entries of a mock device (`MOCK_DEV_CACHE_NUM`).
pub(crate) const MOCK_DEV_CACHE_NUM: usize = 4;
/// Their initial value (`IOMMU_TEST_DEV_CACHE_DEFAULT`).
pub(crate) const MOCK_DEV_CACHE_DEFAULT: u32 = 0xbaddad;

/// `MOCK_FLAGS_DEVICE_NO_DIRTY`: the mock IOMMU cannot track dirty IOPTEs for the device.
pub(crate) const MOCK_FLAGS_DEVICE_NO_DIRTY: u32 = 1 << 0;
/// `IOMMU_HW_CAP_DIRTY_TRACKING` of `IOMMU_GET_HW_INFO`.
const IOMMU_HW_CAP_DIRTY_TRACKING: u64 = 1 << 0;
/// `MOCK_FLAGS_DEVICE_PASID`: the mock device supports PASIDs.
pub(crate) const MOCK_FLAGS_DEVICE_PASID: u32 = 1 << 2;
/// The PASID width of such a device (`MOCK_PASID_WIDTH`).
const MOCK_PASID_WIDTH: u8 = 20;
/// `IOMMU_HW_INFO_TYPE_SELFTEST`: the data type of the mock IOMMU's information.
const IOMMU_HW_INFO_TYPE_SELFTEST: u32 = 0xfeed_beef;
/// `IOMMU_HW_INFO_TYPE_DEFAULT`: whatever the device's IOMMU reports.
const IOMMU_HW_INFO_TYPE_DEFAULT: u32 = 0;
/// `IOMMU_HW_INFO_FLAG_INPUT_TYPE`: `data_type` is an input.
const IOMMU_HW_INFO_FLAG_INPUT_TYPE: u32 = 1 << 0;
/// The mock IOMMU's register value in its information (`IOMMU_HW_INFO_SELFTEST_REGVAL`).
const MOCK_HW_INFO_REGVAL: u32 = 0xdead_beef;

/// A bound device of either kind, as a `dev_id` names it.
#[derive(Clone)]
pub(crate) enum DeviceRef {
    Mock(Arc<MockDevice>),
    Pci(Arc<PciDevice>),
}

impl DeviceRef {
    /// Whether the device's IOMMU can track dirty IOPTEs (`IOMMU_CAP_DIRTY_TRACKING`; a
    /// mock device unless made with `MOCK_FLAGS_DEVICE_NO_DIRTY`).
    pub(crate) fn dirty_tracking_capable(&self) -> bool {
        match self {
            DeviceRef::Mock(d) => d.dirty_tracking_capable(),
            DeviceRef::Pci(d) => d.dirty_tracking_capable(),
        }
    }
}

impl ObjectKind for DeviceRef {
    fn users(&self) -> u32 {
        match self {
            // Unbound by destroying its test object.
            DeviceRef::Mock(_) => 1,
            DeviceRef::Pci(_) => 0,
        }
    }

    fn teardown(&self, objects: &ObjectTable) {
        if let DeviceRef::Pci(dev) = self {
            if let Some(a) = dev.unbind() {
                release(objects, a);
            }
        }
    }
}

/// The test object of a mock device: removing it unbinds the device, whose `dev_id`
/// goes with it, and its vDEVICE, whose ID becomes a tombstone (as iommufd's
/// `iommufd_device_remove_vdev()`: `IOMMU_DESTROY` of it gives `ENOENT` from then on).
impl ObjectKind for Arc<MockDevice> {
    fn teardown(&self, objects: &ObjectTable) {
        let Unbound {
            rid,
            mut pasids,
            idev_id,
            vdev,
        } = self.unbind();
        if let Some(a) = rid {
            release(objects, a);
        }
        for p in pasids.drain_all() {
            release(objects, p.into_attachment());
        }
        if let Some(link) = vdev {
            objects.tombstone_if::<Arc<Vdevice>>(link.id, |v| v.ident() == link.vdev);
        }
        if idev_id != 0 {
            // Only if the ID still names this device (an aborted creation freed it
            // already, and it may have been reused).
            objects.remove_if::<DeviceRef>(
                idev_id,
                |d| matches!(d, DeviceRef::Mock(m) if Arc::ptr_eq(m, self)),
            );
        }
    }
}

/// `IOMMU_GET_HW_INFO`: the IOMMU's information about device `dev_id`: its data (the
/// driver's registers for a PCI device; `struct iommu_test_hw_info` for a mock device),
/// copied up to `data_len` bytes with the rest of the user buffer zeroed, its true length,
/// type, PASID width and capabilities.
pub(crate) fn ioctl_get_hw_info(ctx: &Context, ucmd: &mut crate::dispatch::Ucmd<'_>) -> Result {
    use crate::uapi::IommuHwInfo;
    use kernel::uaccess::{UserPtr, UserSlice};
    let mut cmd = IommuHwInfo::read(ucmd.bytes());
    if cmd.flags & !IOMMU_HW_INFO_FLAG_INPUT_TYPE != 0 {
        return refuse!(EOPNOTSUPP, "get_hw_info: unknown flags {:#x}\n", cmd.flags);
    }
    if cmd.reserved != [0; 3] {
        return refuse!(EOPNOTSUPP, "get_hw_info: reserved bytes set\n");
    }
    let wanted = if cmd.flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE != 0 {
        cmd.out_data_type
    } else {
        IOMMU_HW_INFO_TYPE_DEFAULT
    };
    let info = match &*ctx.objects().get_as::<DeviceRef>(cmd.dev_id)? {
        DeviceRef::Mock(dev) => {
            if wanted != IOMMU_HW_INFO_TYPE_DEFAULT && wanted != IOMMU_HW_INFO_TYPE_SELFTEST {
                return refuse!(
                    EOPNOTSUPP,
                    "get_hw_info: the IOMMU has no data of type {:#x}\n",
                    wanted
                );
            }
            let mut data = KVec::new();
            data.extend_from_slice(&0u32.to_ne_bytes(), GFP_KERNEL)?;
            data.extend_from_slice(&MOCK_HW_INFO_REGVAL.to_ne_bytes(), GFP_KERNEL)?;
            crate::ffi::iommu::HwInfo {
                kind: IOMMU_HW_INFO_TYPE_SELFTEST,
                data,
                capabilities: if dev.dirty_tracking_capable() {
                    IOMMU_HW_CAP_DIRTY_TRACKING
                } else {
                    0
                },
                max_pasid_log2: dev.max_pasid_log2(),
            }
        }
        DeviceRef::Pci(dev) => {
            let mut info = dev.hw_info(wanted)?;
            // ioasid drives the dirty tracking of its mock IOMMU only and refuses
            // `IOMMU_HWPT_ALLOC_DIRTY_TRACKING` for real IOMMUs, so it does not advertise a
            // capability that the allocation would refuse.
            info.capabilities &= !IOMMU_HW_CAP_DIRTY_TRACKING;
            info
        }
    };
    let room = cmd.data_len as usize;
    let copy = room.min(info.data.len());
    let mut out = UserSlice::new(UserPtr::from_addr(cmd.data_uptr as usize), room).writer();
    out.write_slice(&info.data[..copy])?;
    // Zero the rest of the caller's buffer, a chunk at a time.
    let zeros = [0u8; 64];
    while !out.is_empty() {
        let n = out.len().min(zeros.len());
        out.write_slice(&zeros[..n])?;
    }
    cmd.data_len = u32::try_from(info.data.len()).map_err(|_| EOVERFLOW)?;
    cmd.out_data_type = info.kind;
    cmd.out_max_pasid_log2 = info.max_pasid_log2;
    cmd.out_capabilities = info.capabilities;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// Finds or makes the HWPT a device attaches to for `pt_id`, and switches the device to
/// it with `switch`; returns the attachment, with the device counted in the HWPT.
///
/// `pt_id` names a HWPT (used if `accepts` its domain and, for a paging HWPT that tracks
/// dirty pages, the device is `dirty_capable`; `EINVAL` otherwise) or an IOAS: an
/// automatic HWPT of that IOAS whose domain `accepts` and on which `switch` succeeds
/// (`EINVAL` from `switch` means "incompatible, try the next", as iommufd does), or else
/// a new automatic HWPT with a domain from `new_domain`, destroyed again if `switch`
/// fails. For a PASID (`pasid`), only HWPTs allocated with `IOMMU_HWPT_ALLOC_PASID` serve
/// (`EINVAL` for another named HWPT) and a new automatic HWPT is made PASID-compatible.
/// On error nothing changed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attach_to(
    ctx: &Context,
    pt_id: u32,
    pasid: bool,
    dirty_capable: bool,
    accepts: impl Fn(&Domain) -> bool,
    new_domain: impl FnOnce() -> Result<Domain>,
    mut switch: impl FnMut(&Attachment) -> Result,
) -> Result<Attachment> {
    let objects = ctx.objects();
    // Held to the end: the IOAS cannot be destroyed before a new HWPT counts as its user.
    let target = objects.get(pt_id)?;
    let ioas = match &*target {
        Object::Hwpt(_) => {
            let hwpt = objects.get_claimed(pt_id, |h: &Arc<Hwpt>| h.get_device())?;
            let att = Attachment {
                hwpt,
                hwpt_id: pt_id,
            };
            if !accepts(att.hwpt.domain()) {
                release(objects, att);
                return refuse!(
                    EINVAL,
                    "attach: HWPT {}'s domain cannot serve this device\n",
                    pt_id
                );
            }
            if pasid && !att.hwpt.pasid_compat() {
                release(objects, att);
                return refuse!(
                    EINVAL,
                    "attach: HWPT {} was not allocated with IOMMU_HWPT_ALLOC_PASID\n",
                    pt_id
                );
            }
            // As iommufd's `enforce_dirty`: a paging HWPT made for dirty tracking takes
            // only devices whose IOMMU can track dirty pages.
            if att.hwpt.nested_domain().is_none()
                && att.hwpt.domain().hw().dirty_ops()
                && !dirty_capable
            {
                release(objects, att);
                return refuse!(
                    EINVAL,
                    "attach: HWPT {} tracks dirty pages, the device's IOMMU cannot\n",
                    pt_id
                );
            }
            return match switch(&att) {
                Ok(()) => Ok(att),
                Err(e) => {
                    release(objects, att);
                    Err(e)
                }
            };
        }
        Object::Ioas(ioas) => ioas.clone(),
        _ => {
            return refuse!(
                EINVAL,
                "attach: object {} is neither an IOAS nor a HWPT\n",
                pt_id
            );
        }
    };
    for id in ioas.auto_hwpts()?.iter() {
        let Ok(hwpt) = objects.get_claimed(*id, |h: &Arc<Hwpt>| h.get_device()) else {
            continue;
        };
        let att = Attachment { hwpt, hwpt_id: *id };
        if !Arc::ptr_eq(att.hwpt.ioas(), &ioas)
            || !accepts(att.hwpt.domain())
            || (pasid && !att.hwpt.pasid_compat())
        {
            release(objects, att);
            continue;
        }
        match switch(&att) {
            Ok(()) => return Ok(att),
            Err(e) => {
                release(objects, att);
                if e != EINVAL {
                    return Err(e);
                }
            }
        }
    }
    let hwpt = Hwpt::new(ioas.clone(), new_domain()?, true, false, pasid, None)?;
    hwpt.get_device();
    let hwpt_id = match objects.insert(Object::Hwpt(hwpt.clone())) {
        Ok(id) => id,
        Err(e) => {
            hwpt.put_device();
            return Err(e);
        }
    };
    let att = Attachment { hwpt, hwpt_id };
    if let Err(e) = ioas.remember_auto_hwpt(hwpt_id) {
        att.hwpt.put_device();
        remove_unused(objects, &att);
        return Err(e);
    }
    match switch(&att) {
        Ok(()) => Ok(att),
        Err(e) => {
            release(objects, att);
            Err(e)
        }
    }
}

/// What a device is attached to: the HWPT and its ID.
pub(crate) struct Attachment {
    pub(crate) hwpt: Arc<Hwpt>,
    pub(crate) hwpt_id: u32,
}

/// A device's vDEVICE, as the device knows it (weakly: the vDEVICE holds the device).
#[derive(Clone, Copy)]
pub(crate) struct VdevLink {
    /// The vIOMMU's identity ([`crate::objects::viommu::Viommu::ident`]).
    pub(crate) viommu: usize,
    /// The vDEVICE's identity ([`Vdevice::ident`]).
    pub(crate) vdev: usize,
    /// The vDEVICE's object ID.
    pub(crate) id: u32,
}

/// The fields of [`MockDevice`] under its lock.
struct DeviceInner {
    /// The RID's attachment.
    attached: Option<Attachment>,
    /// The attachments of PASIDs ([`pasid`]), in no order.
    pasids: KVec<pasid::PasidAttachment>,
    /// Upstream's mock fails every second attach of PASID 1024 (a replace included) with
    /// `ENOMEM`, so that tests can see a failed replace keep the old domain: set by a
    /// successful attach of PASID 1024, cleared by the failure and by its detach.
    fail_next_1024: bool,
    /// The idev ID, 0 until bound and again once unbound.
    idev_id: u32,
    /// The device's vDEVICE: a device has at most one, as in iommufd.
    vdev: Option<VdevLink>,
}

/// A mock device.
#[pin_data]
pub(crate) struct MockDevice {
    /// `MOCK_FLAGS_DEVICE_*` given at creation.
    flags: u32,
    /// The device's cache entries (upstream's per-device mock cache): cleared by vIOMMU
    /// invalidations naming the device's vDEVICE, read by `DEV_CHECK_CACHE`.
    cache: [Atomic<u32>; MOCK_DEV_CACHE_NUM],
    /// Serializes attach, replace and detach; protects the attachment.
    #[pin]
    inner: Mutex<DeviceInner>,
}

impl MockDevice {
    /// A new, unattached mock device.
    pub(crate) fn new(flags: u32) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(MockDevice {
                flags,
                cache: [const { Atomic::new(MOCK_DEV_CACHE_DEFAULT) }; MOCK_DEV_CACHE_NUM],
                inner <- new_mutex!(DeviceInner {
                    attached: None,
                    pasids: KVec::new(),
                    fail_next_1024: false,
                    idev_id: 0,
                    vdev: None,
                }),
            }),
            GFP_KERNEL,
        )
    }

    /// Width of the device's PASIDs (0: none), as its IOMMU reports it.
    pub(crate) fn max_pasid_log2(&self) -> u8 {
        if self.flags & MOCK_FLAGS_DEVICE_PASID != 0 {
            MOCK_PASID_WIDTH
        } else {
            0
        }
    }

    /// Whether the mock IOMMU tracks dirty IOPTEs for this device.
    pub(crate) fn dirty_tracking_capable(&self) -> bool {
        self.flags & MOCK_FLAGS_DEVICE_NO_DIRTY == 0
    }

    /// Cache entry `i`.
    pub(crate) fn cache(&self, i: usize) -> Option<u32> {
        self.cache.get(i).map(|c| c.load(Relaxed))
    }

    /// Clears cache entry `i` (every entry with `None`); `false` if there is no entry `i`.
    pub(crate) fn clear_cache(&self, i: Option<usize>) -> bool {
        match i {
            None => self.cache.iter().for_each(|c| c.store(0, Relaxed)),
            Some(i) => match self.cache.get(i) {
                Some(c) => c.store(0, Relaxed),
                None => return false,
            },
        }
        true
    }

    /// Records `link` as the device's vDEVICE once `add` (which registers it with the
    /// vIOMMU) succeeded, under the device's lock.
    ///
    /// # Errors
    ///
    /// `ENOENT` when the device is being unbound, `EEXIST` when it has a vDEVICE already,
    /// or the error of `add`.
    pub(crate) fn link_vdev(&self, link: VdevLink, add: impl FnOnce() -> Result) -> Result {
        let mut inner = self.inner.lock();
        if inner.idev_id == 0 {
            return refuse!(ENOENT, "vdevice_alloc: the device is being unbound\n");
        }
        if inner.vdev.is_some() {
            return refuse!(EEXIST, "vdevice_alloc: the device has a vDEVICE already\n");
        }
        add()?;
        inner.vdev = Some(link);
        Ok(())
    }

    /// Forgets vDEVICE `vdev` (its identity), if it is the device's.
    pub(crate) fn unlink_vdev(&self, vdev: usize) {
        let mut inner = self.inner.lock();
        if inner.vdev.is_some_and(|l| l.vdev == vdev) {
            inner.vdev = None;
        }
    }

    /// Whether the device has a vDEVICE on vIOMMU `viommu` (its identity).
    pub(crate) fn has_vdev_on(&self, viommu: usize) -> bool {
        self.inner.lock().vdev.is_some_and(|l| l.viommu == viommu)
    }

    /// The device's vDEVICE, if it has one.
    pub(crate) fn vdev_link(&self) -> Option<VdevLink> {
        self.inner.lock().vdev
    }

    /// Records the idev ID.
    pub(crate) fn set_idev_id(&self, id: u32) {
        self.inner.lock().idev_id = id;
    }

    /// Whether the RID may attach to `hwpt` now: not while PASIDs are attached, unless
    /// `hwpt` is PASID-compatible (iommufd's rule).
    pub(crate) fn rid_may_use(&self, hwpt: &Hwpt) -> Result {
        Self::rid_check(&self.inner.lock(), hwpt)
    }

    fn rid_check(inner: &DeviceInner, hwpt: &Hwpt) -> Result {
        if !inner.pasids.is_empty() && !hwpt.pasid_compat() {
            return refuse!(
                EINVAL,
                "attach: the device has PASIDs attached; its RID needs a HWPT allocated with IOMMU_HWPT_ALLOC_PASID\n"
            );
        }
        Ok(())
    }

    /// Attaches the RID to `pt_id` (a mock HWPT, or an IOAS through an automatic HWPT; a
    /// nested HWPT on a vIOMMU only with a vDEVICE of the device there, as upstream's
    /// mock), replacing its attachment in one step; returns the HWPT ID.
    pub(crate) fn attach_rid(&self, ctx: &Context, pt_id: u32) -> Result<u32> {
        let att = attach_to(
            ctx,
            pt_id,
            false,
            self.dirty_tracking_capable(),
            |d| matches!(d, Domain::Mock(_)),
            || Ok(Domain::Mock(MockDomain::new()?)),
            |att| match att.hwpt.viommu() {
                Some(v) if !self.has_vdev_on(v.ident()) => refuse!(
                    ENOENT,
                    "attach: the device has no vDEVICE on the vIOMMU of HWPT {}\n",
                    att.hwpt_id
                ),
                _ => self.rid_may_use(&att.hwpt),
            },
        )?;
        let hwpt_id = att.hwpt_id;
        if let Some(old) = self.attach(ctx.objects(), att)? {
            release(ctx.objects(), old);
        }
        Ok(hwpt_id)
    }

    /// Detaches the RID (its DMA is blocked from now on); returns its attachment for the
    /// caller to [`release`], `None` if it was not attached.
    pub(crate) fn detach_rid(&self) -> Option<Attachment> {
        self.inner.lock().attached.take()
    }

    /// Attaches to (or replaces the current attachment with) `new`; returns the previous
    /// attachment, which the caller releases with [`release`] after this returns. The new
    /// domain is fully mapped before the switch, so there is no window without
    /// translation.
    /// The caller has counted the device in the new HWPT already; on error (`EINVAL`: see
    /// [`MockDevice::rid_may_use`]) `new` is released into `objects`.
    ///
    /// The page requests the device left outstanding on an IOPF-capable HWPT it leaves
    /// are completed with failure, as iommufd does: nothing answers them any more.
    fn attach(&self, objects: &ObjectTable, new: Attachment) -> Result<Option<Attachment>> {
        let mut inner = self.inner.lock();
        if let Err(e) = Self::rid_check(&inner, &new.hwpt) {
            drop(inner);
            release(objects, new);
            return Err(e);
        }
        let old = inner.attached.replace(new);
        Self::let_go(inner, old.as_ref());
        Ok(old)
    }

    /// The current attachment's HWPT ID.
    pub(crate) fn hwpt_id(&self) -> Option<u32> {
        self.inner.lock().attached.as_ref().map(|a| a.hwpt_id)
    }

    /// DMA by the mock device: `buf.len()` bytes at `iova` through the domain attached to
    /// its RID or to PASID `pasid` (`write`: into memory).
    ///
    /// # Errors
    ///
    /// `ENXIO` when not attached; otherwise as [`crate::hw::mock::MockDomain::dma`] (through
    /// a nested domain: [`crate::hw::mock::nested::MockNested::dma`]).
    pub(crate) fn dma(&self, pasid: Option<u32>, iova: u64, buf: &mut [u8], write: bool) -> Result {
        let (hwpt, dev_id) = {
            let inner = self.inner.lock();
            let att = match pasid {
                None => inner.attached.as_ref(),
                Some(p) => pasid::attachment(&inner, p),
            };
            match att {
                Some(a) => (a.hwpt.clone(), inner.idev_id),
                None => return Err(ENXIO),
            }
        };
        let dma = |iova: u64, buf: &mut [u8]| match (hwpt.nested_domain(), hwpt.domain()) {
            (Some(NestedDomain::Mock(n)), _) => n.dma(iova, buf, write),
            (None, Domain::Mock(m)) => m.dma(iova, buf, write),
            (None, Domain::Real(_)) => Err(EINVAL),
        };
        match hwpt.fault() {
            Some(q) => {
                let at = super::fault::DmaAt {
                    dev_id,
                    hwpt: hwpt.ident(),
                    pasid,
                    iova,
                };
                super::fault::dma_with_page_requests(q, at, buf, write, dma)
            }
            None => dma(iova, buf),
        }
    }

    /// Raises page request `req` as upstream's mock does (`IOMMU_TEST_OP_TRIGGER_IOPF`),
    /// as the IOMMU core routes it: a request with a PASID to the fault queue of the HWPT
    /// attached to that PASID, or else of a nested HWPT attached to the RID (the mock
    /// IOMMU's PASID table is the user's); one without to the RID's HWPT. Nobody waits
    /// for the response. A request nothing takes (no IOPF-capable HWPT) is dropped, as
    /// the IOMMU core answers it with failure itself.
    pub(crate) fn page_request(&self, req: super::fault::PageRequest, pasid_valid: bool) -> Result {
        let (hwpt, dev_id) = {
            let inner = self.inner.lock();
            let own = pasid_valid
                .then(|| pasid::attachment(&inner, req.pasid))
                .flatten();
            let att = match (own, inner.attached.as_ref()) {
                (Some(a), _) => a,
                (None, Some(a)) if !pasid_valid || a.hwpt.nested_domain().is_some() => a,
                _ => return Ok(()),
            };
            (att.hwpt.clone(), inner.idev_id)
        };
        if let Some(q) = hwpt.fault() {
            let mut reqs = KVec::with_capacity(1, GFP_KERNEL)?;
            reqs.push(req, GFP_KERNEL)?;
            q.deliver(dev_id, hwpt.ident(), reqs, None);
        }
        Ok(())
    }

    /// Whether the RID or a PASID of the device is attached to `hwpt` (under its lock).
    fn uses(inner: &DeviceInner, hwpt: &Hwpt) -> bool {
        let same = |a: &Attachment| core::ptr::eq(&*a.hwpt, hwpt);
        inner.attached.as_ref().is_some_and(same) || pasid::any_attached_to(inner, hwpt)
    }

    /// Ends a change of attachment that let `old` go: when neither the RID nor a PASID
    /// still uses `old`'s HWPT, the page requests the device left outstanding there are
    /// completed with failure (nothing answers them any more), after the device's lock
    /// (`inner`, taken here) is released.
    fn let_go(inner: MutexGuard<'_, DeviceInner>, old: Option<&Attachment>) {
        let left = old.filter(|o| !Self::uses(&inner, &o.hwpt));
        let dev_id = inner.idev_id;
        drop(inner);
        if let Some(o) = left {
            fail_page_requests(o, dev_id);
        }
    }

    /// Detaches the RID and every PASID and unbinds: returns the old attachments, the
    /// idev ID and the vDEVICE for the caller to release. The page requests the device
    /// left outstanding are completed with failure.
    pub(crate) fn unbind(&self) -> Unbound {
        let mut inner = self.inner.lock();
        let gone = Unbound {
            rid: inner.attached.take(),
            pasids: core::mem::take(&mut inner.pasids),
            idev_id: core::mem::take(&mut inner.idev_id),
            vdev: inner.vdev.take(),
        };
        drop(inner);
        let pasids = gone.pasids.iter().map(|p| p.attachment());
        let atts = Iterator::chain(gone.rid.iter(), pasids);
        for a in atts {
            fail_page_requests(a, gone.idev_id);
        }
        gone
    }
}

/// Completes with failure the page requests device `dev_id` left outstanding on the
/// IOPF-capable HWPT of `old`, which it just left.
pub(super) fn fail_page_requests(old: &Attachment, dev_id: u32) {
    if let Some(q) = old.hwpt.fault() {
        q.fail_device(old.hwpt.ident(), dev_id);
    }
}

/// What an unbound mock device let go of ([`MockDevice::unbind`]).
pub(crate) struct Unbound {
    rid: Option<Attachment>,
    pasids: KVec<pasid::PasidAttachment>,
    idev_id: u32,
    vdev: Option<VdevLink>,
}

/// Releases an attachment a device let go of: an automatic HWPT with no device left is
/// removed from the table (and dropped, which unmaps its domain).
pub(crate) fn release(objects: &ObjectTable, old: Attachment) {
    let left = old.hwpt.put_device();
    if left == 0 && old.hwpt.is_auto() && remove_unused(objects, &old) {
        old.hwpt.ioas().forget_auto_hwpt(old.hwpt_id);
    }
    drop(old);
}

/// Removes the HWPT of `att` from the table if nothing uses it (an automatic HWPT whose
/// last device left): atomically with the device count that a lookup for an attach takes
/// ([`ObjectTable::get_claimed`]). Returns whether it did.
fn remove_unused(objects: &ObjectTable, att: &Attachment) -> bool {
    objects.remove_if(att.hwpt_id, |h: &Arc<Hwpt>| {
        Arc::ptr_eq(h, &att.hwpt) && h.users() == 0
    })
}
