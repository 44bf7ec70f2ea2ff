// SPDX-License-Identifier: GPL-2.0

//! The vIOMMU objects (`IOMMU_VIOMMU_ALLOC`): the slice of an IOMMU that a VMM hands to
//! one VM. A vIOMMU is built on a nest-parent HWPT (the VM's stage 2), which it holds
//! (`IOMMU_DESTROY` of the parent is `EBUSY` while it exists); it is the namespace of the
//! VM's device IDs (its vDEVICEs, [`crate::objects::vdevice`], by `virt_id`), the parent
//! of nested HWPTs allocated on it, and takes cache invalidations that name devices by
//! their virtual ID (`IOMMU_HWPT_INVALIDATE` with the vIOMMU's ID).
//!
//! Only the test interface's mock IOMMU has vIOMMUs so far, with upstream iommufd's
//! selftest type (`IOMMU_VIOMMU_TYPE_SELFTEST`): its invalidation entries
//! (`IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST`) clear the per-device mock cache of the device
//! behind a `virt_id`. The vIOMMU types of real drivers (`IOMMU_VIOMMU_TYPE_ARM_SMMUV3`,
//! `IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV`) are refused with `EOPNOTSUPP`: they would go to the
//! IOMMU driver's own `get_viommu_size`/`viommu_init`, never to a copy of its logic, but
//! those ops (Linux 7.3) build the driver's vIOMMU inside iommufd's own object (`struct
//! iommufd_viommu`: iommufd's object header, context and parent) and the driver's viommu
//! ops call back into iommufd, which ioasid cannot provide without copying iommufd's
//! internals (Documentation/ioasid.rst, "Nesting on real IOMMUs").
//!
//! With data (`struct iommu_viommu_selftest`), the mock vIOMMU also has an mmap region
//! (upstream's mock page): two zeroed pages whose first `u32` is the user's `in_data`,
//! which userspace maps from the `/dev/ioasid` file at `out_mmap_offset` ([`mmap`]). The
//! offset is derived from the vIOMMU's ID ([`MMAP_PGOFF_SHIFT`]), so finding the region
//! is one lookup; each mapping counts as a user of the vIOMMU (`IOMMU_DESTROY` gives
//! `EBUSY` until it is unmapped) and holds the pages for as long as it exists.
//!
//! Its HW queues ([`crate::objects::hw_queue`]) register here by index
//! ([`Viommu::queues`]) and count as users.
//!
//! A vIOMMU never holds its vDEVICEs: each vDEVICE holds the vIOMMU (counted in `users`,
//! so the vIOMMU outlives them) and registers its device here by `virt_id`; dropping the
//! vDEVICE removes it again.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{
    context::Context,
    device::{DeviceRef, MockDevice, MOCK_DEV_CACHE_NUM},
    hw_queue::HW_QUEUE_MAX,
    hwpt::Hwpt,
    table::ObjectKind,
    veventq::VeventQueue,
    Object,
};
use crate::{
    dispatch::Ucmd,
    error::refuse,
    ffi::mmap::{vma_is_exec, vma_is_shared, vma_pgoff, MmapRegion},
    hw::{mock::MockDomain, Domain, UserData, UserDataArray},
    uapi::{offsetofend, IommuViommuAlloc, IommuViommuInvalidateSelftest, IommuViommuSelftest},
};
use kernel::{
    mm::virt::VmaNew,
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
};

/// `IOMMU_VIOMMU_TYPE_DEFAULT`: reserved, always refused.
const IOMMU_VIOMMU_TYPE_DEFAULT: u32 = 0;
/// `IOMMU_VIOMMU_TYPE_SELFTEST` (`iommufd_test.h`): the mock IOMMU's vIOMMU.
pub(crate) const IOMMU_VIOMMU_TYPE_SELFTEST: u32 = 0xdead_beef;
/// `IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST`: its invalidation entry type.
const IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST: u32 = 0xdead_beef;
/// `IOMMU_TEST_INVALIDATE_FLAG_ALL`: clear every cache entry (`cache_id` ignored).
const INVALIDATE_FLAG_ALL: u32 = 1 << 0;

/// The mmap region of a vIOMMU with ID `id` is at page offset `id << MMAP_PGOFF_SHIFT` of
/// the file (one slot of 16 pages per ID; ID 0 is never used, so offset 0 never maps).
const MMAP_PGOFF_SHIFT: u32 = 4;
/// The pages of the mock vIOMMU's mmap region (upstream's mock has two).
const MMAP_NPAGES: usize = 2;

/// A device registered under a `virt_id` by its vDEVICE.
struct Vdev {
    virt_id: u64,
    dev: Arc<MockDevice>,
    /// The vDEVICE's identity ([`crate::objects::vdevice::Vdevice::ident`]).
    vdev: usize,
}

/// A HWPT counting its holder among its dependents while held.
struct Dependent(Arc<Hwpt>);

impl Dependent {
    /// Holds `hwpt` and counts the holder.
    fn new(hwpt: Arc<Hwpt>) -> Self {
        hwpt.get_dependent();
        Self(hwpt)
    }
}

impl Drop for Dependent {
    fn drop(&mut self) {
        self.0.put_dependent();
    }
}

/// A vIOMMU of the mock IOMMU.
///
/// # Invariants
///
/// `parent` is a nest-parent paging HWPT with a mock domain, which counts this vIOMMU
/// among its dependents for the vIOMMU's whole life.
#[pin_data]
pub(crate) struct Viommu {
    parent: Dependent,
    /// The parent's mock domain (the stage 2 of nested domains on this vIOMMU).
    stage2: Arc<MockDomain>,
    /// Objects that depend on the vIOMMU: its vDEVICEs, nested HWPTs and HW queues.
    users: Atomic<u32>,
    /// The mmap region (only with data, as upstream's mock); its mappings count as users.
    mmap: Option<Arc<MmapRegion>>,
    /// The vDEVICEs' devices, sorted by `virt_id` (unique). Taken under a mock device's
    /// lock (`MockDevice::inner`), never the other way round; nothing is taken under it.
    #[pin]
    vdevs: Mutex<KVec<Vdev>>,
    /// The object IDs of the HW queues by index (0: none). A queue registers under it
    /// (with the lookup of the queue it follows) and its drop unregisters it; never held
    /// with `vdevs`; under it only a mock domain's table and the object table's locks are
    /// taken, and no object is dropped.
    #[pin]
    queues: Mutex<[u32; HW_QUEUE_MAX]>,
    /// The queues of the vIOMMU's vEVENTQs, at most one per type ([`super::veventq`]);
    /// each vEVENTQ holds the vIOMMU and takes its queue off when removed. A leaf lock.
    #[pin]
    veventqs: Mutex<KVec<Arc<VeventQueue>>>,
}

impl Viommu {
    /// The vIOMMU's identity, which vDEVICEs and devices compare.
    pub(crate) fn ident(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// The nest-parent HWPT.
    pub(crate) fn parent(&self) -> &Arc<Hwpt> {
        &self.parent.0
    }

    /// The stage-2 domain of nested domains on this vIOMMU.
    pub(crate) fn stage2(&self) -> &Arc<MockDomain> {
        &self.stage2
    }

    /// The HW queues by index ([`Viommu::queues`]).
    pub(crate) fn queues(&self) -> &Mutex<[u32; HW_QUEUE_MAX]> {
        &self.queues
    }

    /// Counts an object that depends on the vIOMMU (a vDEVICE, a nested HWPT, a HW
    /// queue).
    pub(crate) fn get_user(&self) {
        self.users.fetch_add(1, Relaxed);
    }

    /// Uncounts it.
    pub(crate) fn put_user(&self) {
        self.users.fetch_sub(1, Relaxed);
    }

    /// Registers `dev` under `virt_id` for vDEVICE `vdev` (its identity).
    ///
    /// # Errors
    ///
    /// `EEXIST` when `virt_id` is taken on this vIOMMU, `ENOMEM`.
    pub(crate) fn add_vdev(&self, virt_id: u64, dev: Arc<MockDevice>, vdev: usize) -> Result {
        let mut vdevs = self.vdevs.lock();
        let at = match vdevs.binary_search_by_key(&virt_id, |v| v.virt_id) {
            Ok(_) => {
                return refuse!(
                    EEXIST,
                    "vdevice_alloc: virt_id {:#x} is taken on this vIOMMU\n",
                    virt_id
                );
            }
            Err(at) => at,
        };
        vdevs.reserve(1, GFP_KERNEL)?;
        // Within the capacity just reserved, at most at the end: cannot fail.
        vdevs
            .insert_within_capacity(at, Vdev { virt_id, dev, vdev })
            .map_err(|_| ENOMEM)
    }

    /// The virtual ID of vDEVICE `vdev` (its identity).
    pub(crate) fn virt_id_of(&self, vdev: usize) -> Option<u64> {
        self.vdevs
            .lock()
            .iter()
            .find(|v| v.vdev == vdev)
            .map(|v| v.virt_id)
    }

    /// Registers `q` as the vIOMMU's vEVENTQ of its type.
    ///
    /// # Errors
    ///
    /// `EEXIST` when the vIOMMU has one of that type, `ENOMEM`.
    pub(crate) fn add_veventq(&self, q: Arc<VeventQueue>) -> Result {
        let mut qs = self.veventqs.lock();
        if qs.iter().any(|o| o.ty() == q.ty()) {
            return refuse!(
                EEXIST,
                "veventq_alloc: the vIOMMU has a vEVENTQ of type {:#x}\n",
                q.ty()
            );
        }
        qs.push(q, GFP_KERNEL)?;
        Ok(())
    }

    /// Takes vEVENTQ `q` (its identity) off the vIOMMU.
    pub(crate) fn remove_veventq(&self, q: usize) {
        let mut qs = self.veventqs.lock();
        if let Some(i) = qs.iter().position(|o| o.ident() == q) {
            // Dropped after the lock: it may be the last reference.
            let gone = qs.remove(i).ok();
            drop(qs);
            drop(gone);
        }
    }

    /// Reports an event of type `ty` with `data` to the vIOMMU's vEVENTQ of that type.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` when it has none (as iommufd).
    pub(crate) fn report_event(&self, ty: u32, data: &[u8]) -> Result {
        let q = self.veventqs.lock().iter().find(|q| q.ty() == ty).cloned();
        match q {
            Some(q) => {
                q.report(data);
                Ok(())
            }
            None => refuse!(EOPNOTSUPP, "vIOMMU event: no vEVENTQ of type {:#x}\n", ty),
        }
    }

    /// Removes what vDEVICE `vdev` (its identity) registered, if anything.
    pub(crate) fn remove_vdev(&self, vdev: usize) {
        let mut vdevs = self.vdevs.lock();
        if let Some(i) = vdevs.iter().position(|v| v.vdev == vdev) {
            // Dropped after the lock: the last reference to a device may go with it.
            let gone = vdevs.remove(i).ok();
            drop(vdevs);
            drop(gone);
        }
    }

    /// `IOMMU_HWPT_INVALIDATE` on this vIOMMU: reads every entry first, then handles them
    /// in order up to the first that fails (upstream's mock); returns how many were
    /// handled and the error, if any.
    ///
    /// Errors: `EINVAL` for another entry type (also with no entry), a `cache_id` beyond
    /// the cache or a `vdev_id` no vDEVICE has; `EOPNOTSUPP` for unknown flags; `E2BIG`,
    /// `EFAULT`, `ENOMEM` (reading the entries: then none is handled).
    pub(crate) fn invalidate(&self, array: &UserDataArray) -> (u32, Result) {
        // An empty array probes the type.
        if array.num == 0 && array.kind == IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST {
            return (0, Ok(()));
        }
        let entries = match array.read_all::<{ IommuViommuInvalidateSelftest::SIZE }>(
            IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
        ) {
            Ok(e) => e,
            Err(e) => return (0, Err(e)),
        };
        for (i, raw) in entries.iter().enumerate() {
            let inv = IommuViommuInvalidateSelftest::read(raw);
            if let Err(e) = self.invalidate_one(&inv) {
                // `i < array.num`, a `u32`.
                return (i as u32, Err(e));
            }
        }
        (array.num, Ok(()))
    }

    /// One selftest invalidation entry.
    fn invalidate_one(&self, inv: &IommuViommuInvalidateSelftest) -> Result {
        if inv.flags & !INVALIDATE_FLAG_ALL != 0 {
            return refuse!(
                EOPNOTSUPP,
                "viommu_invalidate: unknown flags {:#x}\n",
                inv.flags
            );
        }
        // Checked even with FLAG_ALL, as upstream.
        if inv.cache_id as usize >= MOCK_DEV_CACHE_NUM {
            return refuse!(
                EINVAL,
                "viommu_invalidate: no cache entry {}\n",
                inv.cache_id
            );
        }
        let vdevs = self.vdevs.lock();
        let Ok(at) = vdevs.binary_search_by_key(&u64::from(inv.vdev_id), |v| v.virt_id) else {
            drop(vdevs);
            return refuse!(EINVAL, "viommu_invalidate: no vDEVICE {:#x}\n", inv.vdev_id);
        };
        let which = if inv.flags & INVALIDATE_FLAG_ALL != 0 {
            None
        } else {
            Some(inv.cache_id as usize)
        };
        // PANIC: `at` was found just above, under the same lock.
        vdevs[at].dev.clear_cache(which);
        Ok(())
    }
}

/// A vIOMMU is used by its vDEVICEs, nested HWPTs and HW queues, and by each mapping of its
/// mmap region.
impl ObjectKind for Arc<Viommu> {
    fn users(&self) -> u32 {
        let maps = self.mmap.as_ref().map_or(0, |r| r.maps());
        self.users.load(Relaxed).saturating_add(maps)
    }
}

/// `IOMMU_VIOMMU_ALLOC`: a vIOMMU of type `type` for device `dev_id`'s IOMMU on the
/// nest-parent HWPT `hwpt_id`, with the checks in upstream iommufd's order. With data
/// (`struct iommu_viommu_selftest`, the same copy rules as `IOMMU_HWPT_ALLOC`'s), the mock
/// copies `in_data` to `out_data` and to the first `u32` of its mmap region, whose offset
/// and length it reports. `__reserved` is not looked at, as iommufd does.
pub(crate) fn ioctl_alloc<'a>(ctx: &'a Context, ucmd: &mut Ucmd<'a>) -> Result {
    let mut cmd = IommuViommuAlloc::read(ucmd.bytes());
    if cmd.flags != 0 {
        return refuse!(EOPNOTSUPP, "viommu_alloc: unknown flags {:#x}\n", cmd.flags);
    }
    if cmd.r#type == IOMMU_VIOMMU_TYPE_DEFAULT {
        return refuse!(EOPNOTSUPP, "viommu_alloc: type 0 is reserved\n");
    }
    let dev = ctx.objects().get_as::<DeviceRef>(cmd.dev_id)?;
    match &*dev {
        DeviceRef::Pci(_) => {
            return refuse!(
                EOPNOTSUPP,
                "viommu_alloc: vIOMMUs of real IOMMU drivers (type {:#x}) are not supported: \
                 the driver's viommu_init works on iommufd's own struct iommufd_viommu\n",
                cmd.r#type
            );
        }
        DeviceRef::Mock(_) if cmd.r#type != IOMMU_VIOMMU_TYPE_SELFTEST => {
            return refuse!(
                EOPNOTSUPP,
                "viommu_alloc: the mock IOMMU has no vIOMMU type {:#x}\n",
                cmd.r#type
            );
        }
        DeviceRef::Mock(_) => {}
    }
    // Held until the vIOMMU counts as a dependent of the parent: no DESTROY in between.
    let parent = ctx
        .objects()
        .get_as::<Arc<Hwpt>>(cmd.hwpt_id)
        .or_else(|e| refuse!(e, "viommu_alloc: no HWPT {}\n", cmd.hwpt_id))?;
    if parent.nested_domain().is_some() {
        return refuse!(
            ENOENT,
            "viommu_alloc: HWPT {} is nested, not a paging HWPT\n",
            cmd.hwpt_id
        );
    }
    if !parent.can_nest() {
        return refuse!(
            EINVAL,
            "viommu_alloc: HWPT {} was not allocated with IOMMU_HWPT_ALLOC_NEST_PARENT\n",
            cmd.hwpt_id
        );
    }
    let Domain::Mock(stage2) = parent.domain() else {
        return refuse!(
            EINVAL,
            "viommu_alloc: HWPT {}'s domain is not the mock IOMMU's\n",
            cmd.hwpt_id
        );
    };
    let data = UserData {
        kind: cmd.r#type,
        uptr: cmd.data_uptr,
        len: cmd.data_len,
    };
    let mut cfg = None;
    let mut mmap = None;
    if cmd.data_len != 0 {
        let raw = data.read::<{ IommuViommuSelftest::SIZE }>(
            IOMMU_VIOMMU_TYPE_SELFTEST,
            offsetofend!(IommuViommuSelftest, out_data),
        )?;
        let c = IommuViommuSelftest::read(&raw);
        // The loopback of upstream's mock, on the page too.
        mmap = Some(MmapRegion::new(MMAP_NPAGES, &c.in_data.to_ne_bytes())?);
        cfg = Some(c);
    }
    // INVARIANT: checked above; counted while the vIOMMU (or the failed initializer)
    // holds it.
    let held = Dependent::new((*parent).clone());
    let stage2 = stage2.clone();
    let viommu = Arc::pin_init(
        pin_init!(Viommu {
            parent: held,
            stage2,
            users: Atomic::new(0),
            mmap,
            vdevs <- new_mutex!(KVec::new()),
            queues <- new_mutex!([0; HW_QUEUE_MAX]),
            veventqs <- new_mutex!(KVec::new()),
        }),
        GFP_KERNEL,
    )?;
    let new = ctx.objects().add(Object::Viommu(viommu))?;
    if let Some(mut c) = cfg {
        // Reported once the ID, which gives the offset, is known; a failure aborts the
        // new object.
        c.out_data = c.in_data;
        c.out_mmap_offset = mmap_offset(new.id());
        c.out_mmap_length = (MMAP_NPAGES * PAGE_SIZE) as u64;
        let mut out = [0u8; IommuViommuSelftest::SIZE];
        c.write(&mut out);
        data.write(&out)?;
    }
    cmd.out_viommu_id = new.id();
    cmd.write(ucmd.bytes_mut());
    ucmd.publish_on_reply(new)
}

/// The file offset, in bytes, of the mmap region of vIOMMU `id`.
fn mmap_offset(id: u32) -> u64 {
    (u64::from(id) << MMAP_PGOFF_SHIFT) * PAGE_SIZE as u64
}

/// `mmap()` of the `/dev/ioasid` file: maps the mmap region of the vIOMMU whose offset
/// `vma` starts at, whole, as iommufd does: the offset and length must be the region's
/// exactly.
///
/// # Errors
///
/// `EINVAL` for a private mapping (or a length not a multiple of the page size), `EPERM`
/// for an executable one, `ENXIO` when no region starts at the offset or its length
/// differs (also while its vIOMMU is being destroyed), `ENOMEM`.
pub(crate) fn mmap(ctx: &Context, vma: &VmaNew) -> Result {
    let length = vma.end() - vma.start();
    if length % PAGE_SIZE != 0 {
        return refuse!(EINVAL, "mmap: length {:#x} is not page aligned\n", length);
    }
    if !vma_is_shared(vma) {
        return refuse!(EINVAL, "mmap: the mapping must be MAP_SHARED\n");
    }
    if vma_is_exec(vma) {
        return refuse!(EPERM, "mmap: the mapping cannot be executable\n");
    }
    let pgoff = vma_pgoff(vma);
    let aligned = pgoff & ((1 << MMAP_PGOFF_SHIFT) - 1) == 0;
    let found = match u32::try_from(pgoff >> MMAP_PGOFF_SHIFT) {
        Ok(id) if aligned => ctx.objects().with_live::<Arc<Viommu>, _>(id, |v| {
            // Counted under the table's lock: DESTROY either saw the mapping or won.
            let region = v
                .mmap
                .as_ref()
                .filter(|r| r.npages() * PAGE_SIZE == length)?;
            region.claim_map();
            Some(region.clone())
        }),
        _ => None,
    };
    let Some(Some(region)) = found else {
        return refuse!(
            ENXIO,
            "mmap: no vIOMMU region of length {:#x} at page offset {:#x}\n",
            length,
            pgoff
        );
    };
    vma.set_dontexpand();
    vma.set_dontdump();
    region.map(vma)
}
