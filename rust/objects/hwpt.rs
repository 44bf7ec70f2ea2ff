// SPDX-License-Identifier: GPL-2.0

//! The hardware page table (HWPT) objects: a paging HWPT is an IOMMU domain bound to the
//! IOAS whose areas it maps; a nested HWPT is a domain that translates through a table the
//! user owns (stage 1) and then through a paging HWPT, its parent (stage 2).
//!
//! A paging HWPT is created explicitly or, when a device attaches straight to an IOAS,
//! automatically ("auto domain", as iommufd does); an automatic one goes away with its last
//! device. While it exists the IOAS keeps every area mapped into its domain (see
//! [`crate::iopt`]); dropping the HWPT unmaps and flushes before any page is unpinned.
//!
//! A nested HWPT is created explicitly on a paging HWPT allocated with
//! `IOMMU_HWPT_ALLOC_NEST_PARENT`, or on a vIOMMU ([`crate::objects::viommu`]) built on
//! one, which it keeps alive: the parent counts its nested HWPTs and vIOMMUs as users
//! (and a vIOMMU its nested HWPTs), so `IOMMU_DESTROY` refuses it (`EBUSY`) while one
//! exists. The user changes its stage-1 table at will and tells the IOMMU with
//! `IOMMU_HWPT_INVALIDATE`.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{
    fault::FaultQueue,
    table::{ObjRef, ObjectKind},
    viommu::Viommu,
};
use crate::{
    hw::{Domain, NestedDomain},
    iopt::Ioas,
};
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

/// What a HWPT translates with.
enum Kind {
    /// A paging HWPT: its own domain, attached to its IOAS.
    Paging {
        ioas: Arc<Ioas>,
        domain: Domain,
        /// Created by an attach to an IOAS, destroyed with its last device.
        auto: bool,
        /// Allocated with `IOMMU_HWPT_ALLOC_NEST_PARENT`: nested HWPTs may be built on it.
        nest_parent: bool,
    },
    /// A nested HWPT: its stage-1 domain, then its parent's (stage 2).
    Nested {
        /// A paging HWPT, kept alive and counted in its `dependents` (when allocated on
        /// a vIOMMU: the vIOMMU's parent, which the vIOMMU holds).
        parent: Arc<Hwpt>,
        /// The vIOMMU it was allocated on, kept alive and counted in its users.
        viommu: Option<Arc<Viommu>>,
        /// The stage-1 domain devices attach to.
        domain: NestedDomain,
    },
}

/// A HWPT: paging, or nested on a paging parent.
///
/// # Invariants
///
/// A paging HWPT's domain is attached to its IOAS (filled with its areas) for the HWPT's
/// whole life. A nested HWPT's parent is a paging HWPT, which counts it in `dependents`,
/// or (allocated on a vIOMMU) the vIOMMU counts it.
pub(crate) struct Hwpt {
    kind: Kind,
    /// Number of devices attached.
    devices: Atomic<u32>,
    /// Number of nested HWPTs and vIOMMUs on this one.
    dependents: Atomic<u32>,
    /// Allocated with `IOMMU_HWPT_ALLOC_PASID` (iommufd's `pasid_compat`): PASIDs of a
    /// device may be attached to it, and a device with PASIDs attached may attach its RID
    /// only to such a HWPT.
    pasid: bool,
    /// The fault queue of an IOPF-capable HWPT (`IOMMU_HWPT_FAULT_ID_VALID`), which
    /// counts the HWPT as a user: the page requests of its devices go there.
    fault: Option<Arc<FaultQueue>>,
}

impl Hwpt {
    /// A paging HWPT for `domain` on `ioas`, which maps every area into the domain.
    ///
    /// # Errors
    ///
    /// As [`Ioas::add_domain`], `ENOMEM`.
    pub(crate) fn new(
        ioas: Arc<Ioas>,
        domain: Domain,
        auto: bool,
        nest_parent: bool,
        pasid: bool,
        fault: Option<Arc<FaultQueue>>,
    ) -> Result<Arc<Hwpt>> {
        ioas.add_domain(&domain)?;
        if let Some(f) = &fault {
            f.get_user();
        }
        // INVARIANT: attached just above; `Drop` detaches, also when the allocation below
        // fails (the HWPT is dropped then).
        Ok(Arc::new(
            Hwpt {
                kind: Kind::Paging {
                    ioas,
                    domain,
                    auto,
                    nest_parent,
                },
                devices: Atomic::new(0),
                dependents: Atomic::new(0),
                pasid,
                fault,
            },
            GFP_KERNEL,
        )?)
    }

    /// A nested HWPT with stage-1 domain `domain` on paging HWPT `parent`, which the caller
    /// checked is a nest parent, or on `viommu` (whose parent `parent` is); `pasid`: it
    /// may serve PASIDs.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn new_nested(
        parent: Arc<Hwpt>,
        viommu: Option<Arc<Viommu>>,
        domain: NestedDomain,
        pasid: bool,
        fault: Option<Arc<FaultQueue>>,
    ) -> Result<Arc<Hwpt>> {
        // Counted first: the caller's lookup of `parent` (or the vIOMMU) keeps DESTROY
        // away until then.
        match &viommu {
            Some(v) => v.get_user(),
            None => parent.get_dependent(),
        }
        if let Some(f) = &fault {
            f.get_user();
        }
        // INVARIANT: `parent` is a paging HWPT (the caller checked) and counts this one, or
        // its vIOMMU does; `Drop` uncounts it, also when the allocation below fails (the
        // HWPT is dropped).
        Ok(Arc::new(
            Hwpt {
                kind: Kind::Nested {
                    parent,
                    viommu,
                    domain,
                },
                devices: Atomic::new(0),
                dependents: Atomic::new(0),
                pasid,
                fault,
            },
            GFP_KERNEL,
        )?)
    }

    /// The fault queue of an IOPF-capable HWPT.
    pub(crate) fn fault(&self) -> Option<&Arc<FaultQueue>> {
        self.fault.as_ref()
    }

    /// The HWPT's identity, which the fault groups that came through it record.
    pub(crate) fn ident(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// The paging domain that maps the IOAS: the HWPT's own, or a nested HWPT's parent's
    /// (its stage 2).
    pub(crate) fn domain(&self) -> &Domain {
        match &self.kind {
            Kind::Paging { domain, .. } => domain,
            // A paging HWPT, by the type invariant: one step.
            Kind::Nested { parent, .. } => parent.domain(),
        }
    }

    /// The stage-1 domain of a nested HWPT (`None` for a paging HWPT).
    pub(crate) fn nested_domain(&self) -> Option<&NestedDomain> {
        match &self.kind {
            Kind::Paging { .. } => None,
            Kind::Nested { domain, .. } => Some(domain),
        }
    }

    /// The IOAS (a nested HWPT's parent's).
    pub(crate) fn ioas(&self) -> &Arc<Ioas> {
        match &self.kind {
            Kind::Paging { ioas, .. } => ioas,
            Kind::Nested { parent, .. } => parent.ioas(),
        }
    }

    /// Whether PASIDs may be attached to the HWPT (`IOMMU_HWPT_ALLOC_PASID`).
    pub(crate) fn pasid_compat(&self) -> bool {
        self.pasid
    }

    /// Whether the HWPT was made by an attach to an IOAS.
    pub(crate) fn is_auto(&self) -> bool {
        matches!(self.kind, Kind::Paging { auto: true, .. })
    }

    /// The vIOMMU a nested HWPT was allocated on.
    pub(crate) fn viommu(&self) -> Option<&Arc<Viommu>> {
        match &self.kind {
            Kind::Nested { viommu, .. } => viommu.as_ref(),
            Kind::Paging { .. } => None,
        }
    }

    /// Whether nested HWPTs and vIOMMUs may be built on this one: an explicit paging HWPT
    /// allocated with `IOMMU_HWPT_ALLOC_NEST_PARENT`.
    pub(crate) fn can_nest(&self) -> bool {
        matches!(
            self.kind,
            Kind::Paging {
                auto: false,
                nest_parent: true,
                ..
            }
        )
    }

    /// Number of other objects using the HWPT: attached devices, nested HWPTs and
    /// vIOMMUs.
    pub(crate) fn users(&self) -> u32 {
        self.devices.load(Relaxed) + self.dependents.load(Relaxed)
    }

    /// Counts a nested HWPT or vIOMMU built on this HWPT.
    pub(crate) fn get_dependent(&self) {
        self.dependents.fetch_add(1, Relaxed);
    }

    /// Uncounts it.
    pub(crate) fn put_dependent(&self) {
        self.dependents.fetch_sub(1, Relaxed);
    }

    /// Counts a device attaching.
    pub(crate) fn get_device(&self) {
        self.devices.fetch_add(1, Relaxed);
    }

    /// Counts a device detaching; returns how many devices remain.
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
        // No device is attached any more: its page requests cannot be answered.
        if let Some(f) = &self.fault {
            f.fail_hwpt(self.ident());
            f.put_user();
        }
        match &self.kind {
            // The parent's domain stays; the parent (or vIOMMU) may go once its last
            // dependent did.
            Kind::Nested { parent, viommu, .. } => match viommu {
                Some(v) => v.put_user(),
                None => parent.put_dependent(),
            },
            // Unmaps (and flushes) every area from the domain, then drops the pins if this
            // was the IOAS's last domain.
            Kind::Paging { ioas, domain, .. } => ioas.remove_domain(domain),
        }
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

/// `IOMMU_HWPT_ALLOC`: a paging HWPT on an IOAS, or a nested HWPT on a paging HWPT, for
/// device `dev_id`'s IOMMU.
///
/// A PCI device gets a paging domain of its IOMMU driver, which sees the flags
/// (NEST_PARENT, DIRTY_TRACKING, PASID) and whose refusal is returned as it is. A mock
/// device gets a mock domain (which can be a nesting parent, track dirty IOPTEs and serve
/// PASIDs; `IOMMU_HWPT_DATA_SELFTEST` data picks its page-table format) and, on a mock
/// nest parent, a mock nested domain ([`crate::hw::mock::nested`]). `DIRTY_TRACKING` needs
/// an IOMMU that can track dirty pages (`EOPNOTSUPP`, as iommufd); ioasid drives the
/// dirty tracking of the mock only, so it refuses the flag for real IOMMUs. A nested
/// HWPT of a PCI device on a real nest parent goes to its driver's `domain_alloc_nested`
/// ([`PciDevice::alloc_nested`](crate::objects::pcidev::PciDevice::alloc_nested)), whose
/// refusal is returned; ioasid cannot attach such a domain yet, so one the driver makes is
/// freed and refused (`EOPNOTSUPP`), as is driver data for a real paging domain. With `IOMMU_HWPT_FAULT_ID_VALID` the HWPT
/// delivers its devices' page requests to fault queue `fault_id` ([`super::fault`]),
/// which it holds (`ENOENT` for no such queue); only the mock IOMMU raises page requests
/// in ioasid, so a PCI device's is refused (`EOPNOTSUPP`).
pub(crate) fn ioctl_alloc<'a>(
    ctx: &'a crate::objects::context::Context,
    ucmd: &mut crate::dispatch::Ucmd<'a>,
) -> Result {
    use crate::{error::refuse, objects::device::DeviceRef, objects::Object, uapi::IommuHwptAlloc};
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
    if cmd.flags & IOMMU_HWPT_FAULT_ID_VALID != 0 {
        if let DeviceRef::Pci(_) = &*dev {
            return refuse!(
                EOPNOTSUPP,
                "hwpt_alloc: I/O page faults are delivered for the mock IOMMU only: no \
                 emulated PCI device has PRI, and ioasid does not take real page requests\n"
            );
        }
    }
    // Looked up once the domain exists, as iommufd does (its errors come first); the
    // reference is held until the new HWPT counts as the queue's user.
    let fault = || -> Result<Option<ObjRef<Arc<FaultQueue>>>> {
        if cmd.flags & IOMMU_HWPT_FAULT_ID_VALID == 0 {
            return Ok(None);
        }
        ctx.objects()
            .get_as::<Arc<FaultQueue>>(cmd.fault_id)
            .map(Some)
            .or_else(|e| refuse!(e, "hwpt_alloc: no fault queue {}\n", cmd.fault_id))
    };
    // Held until the new HWPT counts as a user of its IOAS or parent: no DESTROY in between.
    let pt = ctx
        .objects()
        .get(cmd.pt_id)
        .or_else(|_| refuse!(EINVAL, "hwpt_alloc: no object {}\n", cmd.pt_id))?;
    let hwpt = match &*pt {
        Object::Ioas(ioas) => alloc_paging(&cmd, &dev, ioas.clone(), fault)?,
        Object::Hwpt(parent) => alloc_nested(&cmd, &dev, parent, fault)?,
        Object::Viommu(viommu) => alloc_on_viommu(&cmd, &dev, viommu, fault)?,
        _ => {
            return refuse!(
                EINVAL,
                "hwpt_alloc: {} is neither an IOAS, a HWPT nor a vIOMMU\n",
                cmd.pt_id
            );
        }
    };
    let new = ctx.objects().add(Object::Hwpt(hwpt))?;
    cmd.out_hwpt_id = new.id();
    cmd.write(ucmd.bytes_mut());
    ucmd.publish_on_reply(new)
}

/// The paging HWPT of `IOMMU_HWPT_ALLOC` on `ioas`.
fn alloc_paging(
    cmd: &crate::uapi::IommuHwptAlloc,
    dev: &crate::objects::device::DeviceRef,
    ioas: Arc<Ioas>,
    fault: impl FnOnce() -> Result<Option<ObjRef<Arc<FaultQueue>>>>,
) -> Result<Arc<Hwpt>> {
    use crate::{error::refuse, hw::mock::MockDomain, objects::device::DeviceRef};
    let dirty = cmd.flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0;
    if cmd.flags & IOMMU_HWPT_FAULT_ID_VALID != 0 && cmd.flags & IOMMU_HWPT_ALLOC_NEST_PARENT != 0 {
        return refuse!(
            EOPNOTSUPP,
            "hwpt_alloc: a nest parent cannot take I/O page faults (FAULT_ID_VALID)\n"
        );
    }
    // As iommufd: the drivers leave this check to their caller.
    if dirty && !dev.dirty_tracking_capable() {
        return refuse!(
            EOPNOTSUPP,
            "hwpt_alloc: the device's IOMMU cannot track dirty pages\n"
        );
    }
    let domain = match dev {
        DeviceRef::Pci(dev) => {
            if cmd.data_type != 0 {
                return refuse!(
                    EOPNOTSUPP,
                    "hwpt_alloc: driver data type {:#x} for a paging domain is not supported\n",
                    cmd.data_type
                );
            }
            if dirty {
                return refuse!(
                    EOPNOTSUPP,
                    "hwpt_alloc: ioasid does not drive the dirty tracking of real IOMMUs\n"
                );
            }
            dev.new_domain(cmd.flags & !IOMMU_HWPT_FAULT_ID_VALID)?
        }
        DeviceRef::Mock(_) => {
            let format = mock_format(cmd)?;
            Domain::Mock(MockDomain::with(format, dirty)?)
        }
    };
    let nest_parent = cmd.flags & IOMMU_HWPT_ALLOC_NEST_PARENT != 0;
    let pasid = cmd.flags & IOMMU_HWPT_ALLOC_PASID != 0;
    let fault = fault()?;
    Hwpt::new(
        ioas,
        domain,
        false,
        nest_parent,
        pasid,
        fault.as_deref().cloned(),
    )
}

/// The page-table format of a mock paging HWPT: the default without driver data, or the
/// `pagetable_type` of `IOMMU_HWPT_DATA_SELFTEST` data.
fn mock_format(cmd: &crate::uapi::IommuHwptAlloc) -> Result<crate::hw::mock::MockFormat> {
    use crate::{
        error::refuse,
        hw::{
            mock::{nested::IOMMU_HWPT_DATA_SELFTEST, MockFormat},
            UserData,
        },
        uapi::{offsetofend, IommuHwptSelftest},
    };
    if cmd.data_type == 0 {
        return Ok(MockFormat::Default);
    }
    if cmd.data_type != IOMMU_HWPT_DATA_SELFTEST {
        return refuse!(
            EOPNOTSUPP,
            "hwpt_alloc: the mock IOMMU has no paging data type {:#x}\n",
            cmd.data_type
        );
    }
    let data = UserData {
        kind: cmd.data_type,
        uptr: cmd.data_uptr,
        len: cmd.data_len,
    };
    let raw = data.read::<{ IommuHwptSelftest::SIZE }>(
        IOMMU_HWPT_DATA_SELFTEST,
        offsetofend!(IommuHwptSelftest, iotlb),
    )?;
    match IommuHwptSelftest::read(&raw).pagetable_type {
        MOCK_IOMMUPT_DEFAULT => Ok(MockFormat::Default),
        MOCK_IOMMUPT_HUGE => Ok(MockFormat::Huge),
        t => refuse!(
            EOPNOTSUPP,
            "hwpt_alloc: the mock IOMMU has no page-table type {}\n",
            t
        ),
    }
}

/// `MOCK_IOMMUPT_DEFAULT`: the mock's page table with 2 KiB and 4 KiB IOPTEs.
const MOCK_IOMMUPT_DEFAULT: u32 = 0;
/// `MOCK_IOMMUPT_HUGE`: the mock's page table with 4 KiB and 1 MiB IOPTEs.
const MOCK_IOMMUPT_HUGE: u32 = 1;

/// The nested HWPT of `IOMMU_HWPT_ALLOC` on `parent`, with the rules of iommufd: flags
/// other than FAULT_ID_VALID and PASID, no driver data or an IOMMU without nesting are
/// `EOPNOTSUPP`; a parent that is nested, automatic, not a nest parent or of another
/// IOMMU is `EINVAL`; the driver checks its data.
fn alloc_nested(
    cmd: &crate::uapi::IommuHwptAlloc,
    dev: &crate::objects::device::DeviceRef,
    parent: &Arc<Hwpt>,
    fault: impl FnOnce() -> Result<Option<ObjRef<Arc<FaultQueue>>>>,
) -> Result<Arc<Hwpt>> {
    use crate::{error::refuse, objects::device::DeviceRef};
    check_nested(cmd)?;
    if parent.nested_domain().is_some() {
        return refuse!(EINVAL, "hwpt_alloc: the parent is a nested HWPT\n");
    }
    if !parent.can_nest() {
        return refuse!(
            EINVAL,
            "hwpt_alloc: the parent was not allocated with IOMMU_HWPT_ALLOC_NEST_PARENT\n"
        );
    }
    if let DeviceRef::Pci(pdev) = dev {
        let Domain::Real(stage2) = parent.domain() else {
            return refuse!(
                EINVAL,
                "hwpt_alloc: the parent's domain is not a real IOMMU's\n"
            );
        };
        let data = crate::hw::UserData {
            kind: cmd.data_type,
            uptr: cmd.data_uptr,
            len: cmd.data_len,
        };
        pdev.alloc_nested(stage2, cmd.flags & !IOMMU_HWPT_FAULT_ID_VALID, &data)?;
    }
    let Domain::Mock(stage2) = parent.domain() else {
        return refuse!(
            EINVAL,
            "hwpt_alloc: the parent's domain is not the mock IOMMU's\n"
        );
    };
    let domain = mock_nested(cmd, stage2)?;
    let pasid = cmd.flags & IOMMU_HWPT_ALLOC_PASID != 0;
    let fault = fault()?;
    Hwpt::new_nested(
        parent.clone(),
        None,
        domain,
        pasid,
        fault.as_deref().cloned(),
    )
}

/// The nested HWPT of `IOMMU_HWPT_ALLOC` on `viommu`, with the rules of iommufd: a device
/// of another IOMMU than the vIOMMU's is `EINVAL`, then as on a HWPT.
fn alloc_on_viommu(
    cmd: &crate::uapi::IommuHwptAlloc,
    dev: &crate::objects::device::DeviceRef,
    viommu: &Arc<Viommu>,
    fault: impl FnOnce() -> Result<Option<ObjRef<Arc<FaultQueue>>>>,
) -> Result<Arc<Hwpt>> {
    use crate::{error::refuse, objects::device::DeviceRef};
    if let DeviceRef::Pci(_) = dev {
        return refuse!(
            EINVAL,
            "hwpt_alloc: the device is not behind the vIOMMU's (mock) IOMMU\n"
        );
    }
    check_nested(cmd)?;
    let domain = mock_nested(cmd, viommu.stage2())?;
    let pasid = cmd.flags & IOMMU_HWPT_ALLOC_PASID != 0;
    let fault = fault()?;
    Hwpt::new_nested(
        viommu.parent().clone(),
        Some(viommu.clone()),
        domain,
        pasid,
        fault.as_deref().cloned(),
    )
}

/// What every nested HWPT needs, checked first as iommufd does: flags other than
/// FAULT_ID_VALID and PASID, or no driver data, are `EOPNOTSUPP`.
fn check_nested(cmd: &crate::uapi::IommuHwptAlloc) -> Result {
    use crate::error::refuse;
    if cmd.flags & !(IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID) != 0 {
        return refuse!(
            EOPNOTSUPP,
            "hwpt_alloc: flags {:#x} do not apply to a nested HWPT\n",
            cmd.flags
        );
    }
    if cmd.data_len == 0 {
        return refuse!(EOPNOTSUPP, "hwpt_alloc: a nested HWPT needs driver data\n");
    }
    Ok(())
}

/// A mock nested domain on `stage2` from the driver data of `cmd`.
fn mock_nested(
    cmd: &crate::uapi::IommuHwptAlloc,
    stage2: &Arc<crate::hw::mock::MockDomain>,
) -> Result<NestedDomain> {
    use crate::hw::{mock::nested::MockNested, UserData};
    let data = UserData {
        kind: cmd.data_type,
        uptr: cmd.data_uptr,
        len: cmd.data_len,
    };
    Ok(NestedDomain::Mock(MockNested::new(stage2.clone(), &data)?))
}

/// `IOMMU_HWPT_INVALIDATE`: hands the caller's array of invalidation entries to the
/// nested HWPT's IOMMU driver or to the vIOMMU, which handles them in order and stops at
/// the first that fails. How many were handled is written back in `entry_num`, also on error.
pub(crate) fn ioctl_invalidate(
    ctx: &crate::objects::context::Context,
    ucmd: &mut crate::dispatch::Ucmd<'_>,
) -> Result {
    use crate::{error::refuse, hw::UserDataArray, objects::Object, uapi::ucmd};
    let mut cmd = crate::uapi::IommuHwptInvalidate::read(ucmd.bytes());
    let wanted = cmd.entry_num;
    // The count handled so far goes back to the caller whatever happens.
    cmd.entry_num = 0;
    cmd.write(ucmd.bytes_mut());
    ucmd.respond_with_error();
    if cmd.reserved != 0 {
        return refuse!(EOPNOTSUPP, "hwpt_invalidate: reserved field set\n");
    }
    ucmd::check_entry_array(
        wanted,
        cmd.data_uptr,
        cmd.entry_len,
        kernel::page::PAGE_SIZE,
    )
    .or_else(|e| {
        refuse!(
            e,
            "hwpt_invalidate: {} entries of {} bytes at {:#x} are out of bounds\n",
            wanted,
            cmd.entry_len,
            cmd.data_uptr
        )
    })?;
    let pt = ctx
        .objects()
        .get(cmd.hwpt_id)
        .or_else(|e| refuse!(e, "hwpt_invalidate: no object {}\n", cmd.hwpt_id))?;
    let array = UserDataArray {
        kind: cmd.data_type,
        uptr: cmd.data_uptr,
        entry_len: cmd.entry_len,
        num: wanted,
    };
    let nested = match &*pt {
        Object::Hwpt(hwpt) => hwpt.nested_domain(),
        _ => None,
    };
    let (done, result) = match (nested, &*pt) {
        (Some(NestedDomain::Mock(m)), _) => m.invalidate(&array),
        (None, Object::Viommu(viommu)) => viommu.invalidate(&array),
        (None, _) => {
            return refuse!(
                EINVAL,
                "hwpt_invalidate: {} is neither a nested HWPT nor a vIOMMU\n",
                cmd.hwpt_id
            );
        }
    };
    cmd.entry_num = done;
    cmd.write(ucmd.bytes_mut());
    result
}
