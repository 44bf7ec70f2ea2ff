// SPDX-License-Identifier: GPL-2.0

//! The FFI layer, devices and IOMMU half: PCI devices bound to `ioasid-pci` and real
//! `iommu_domain`s.
//!
//! Like [`crate::ffi`], this is the only place that calls C for what it covers; it wraps
//! the shim `rust/ffi/shim/ioasid_pci.c` (the driver, the device nodes, the record of a
//! device's binding, the attach-handle calls) and the exported IOMMU core functions, and
//! states the contract of each call. The state of an IOMMU group (its domain and handle,
//! which devices are bound and attached) is not kept here but in
//! [`crate::objects::pcidev::PciGroup`], which decides what to call.

mod group;
mod nested;
mod vfio;

pub(crate) use group::{GroupAttach, IommuGroup};
pub(crate) use vfio::{VfioDriver, VfioOwned};

use crate::objects::pcidev::PciGroup;
use core::ptr::NonNull;
use kernel::{
    bindings,
    ffi::{c_int, c_void},
    prelude::*,
    sync::Arc,
};

mod raw {
    use kernel::ffi::{c_char, c_int, c_void};

    /// Declares opaque C structures: only pointers to them cross the boundary.
    macro_rules! opaque {
        ($($(#[$m:meta])* $name:ident),*) => {$(
            $(#[$m])*
            #[repr(C)]
            pub(super) struct $name {
                _private: [u8; 1],
            }
        )*};
    }
    opaque!(
        /// `struct ioasid_pci_dev` of the shim.
        IoasidPciDev,
        /// `struct file`.
        file,
        /// `struct device`.
        device,
        /// `struct iommu_domain`.
        iommu_domain,
        /// `struct iommu_group`.
        iommu_group,
        /// `struct iommu_attach_handle`.
        iommu_attach_handle
    );

    /// `struct ioasid_resv` of the shim.
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    pub(super) struct IoasidResv {
        pub(super) start: u64,
        pub(super) last: u64,
        pub(super) kind: u32,
        pub(super) pad: u32,
    }

    extern "C" {
        pub(super) fn ioasid_shim_pci_register() -> c_int;
        pub(super) fn ioasid_shim_pci_unregister();
        pub(super) fn ioasid_shim_pci_get(fd: c_int, filep: *mut *mut file) -> *mut IoasidPciDev;
        pub(super) fn ioasid_shim_file_put(file: *mut file);
        pub(super) fn ioasid_shim_pci_hold(idev: *mut IoasidPciDev);
        pub(super) fn ioasid_shim_pci_put(idev: *mut IoasidPciDev);
        pub(super) fn ioasid_shim_pci_device(idev: *mut IoasidPciDev) -> *mut device;
        pub(super) fn ioasid_shim_pci_name(idev: *mut IoasidPciDev) -> *const c_char;
        pub(super) fn ioasid_shim_pci_has_iommu(idev: *mut IoasidPciDev) -> bool;
        pub(super) fn ioasid_shim_pci_claim(
            idev: *mut IoasidPciDev,
            file: *mut file,
            owner: *mut c_void,
            group: *mut c_void,
            binding: *mut u64,
        ) -> c_int;
        pub(super) fn ioasid_shim_pci_forget(idev: *mut IoasidPciDev, binding: u64) -> *mut c_void;
        pub(super) fn ioasid_shim_pci_release_dma(idev: *mut IoasidPciDev);
        pub(super) fn ioasid_shim_pci_is_live(idev: *mut IoasidPciDev, binding: u64) -> bool;
        pub(super) fn ioasid_shim_group_attach(
            group: *mut iommu_group,
            domain: *mut iommu_domain,
            handle: *mut iommu_attach_handle,
        ) -> c_int;
        pub(super) fn ioasid_shim_group_replace(
            group: *mut iommu_group,
            domain: *mut iommu_domain,
            handle: *mut iommu_attach_handle,
        ) -> c_int;
        pub(super) fn ioasid_shim_group_detach(group: *mut iommu_group, domain: *mut iommu_domain);
        pub(super) fn ioasid_shim_resv_regions(
            dev: *mut device,
            out: *mut IoasidResv,
            max: c_int,
        ) -> c_int;
        pub(super) fn ioasid_shim_hw_info(
            dev: *mut device,
            kind: *mut u32,
            data: *mut *mut c_void,
            len: *mut u32,
            max_pasids: *mut u32,
            pasid_ctrl: *mut c_int,
        ) -> c_int;
    }
}

/// Turns a C return value (0 or a negative errno) into a `Result`.
fn check(rc: c_int) -> Result {
    if rc < 0 {
        Err(Error::from_errno(rc))
    } else {
        Ok(())
    }
}

/// The registration of the `ioasid-pci` driver; unregistered when dropped (which removes
/// every device from it, revoking its binding).
pub(crate) struct PciDriver(());

impl PciDriver {
    /// Registers the driver.
    ///
    /// # Errors
    ///
    /// As `pci_register_driver`.
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: The shim's driver structure is static; only one `PciDriver` exists at a
        // time (made once in module init), and `Drop` unregisters it.
        check(unsafe { raw::ioasid_shim_pci_register() })?;
        Ok(PciDriver(()))
    }
}

impl Drop for PciDriver {
    fn drop(&mut self) {
        // SAFETY: `self` exists only after a successful registration.
        unsafe { raw::ioasid_shim_pci_unregister() }
    }
}

/// A reserved region of a device (`iommu_get_resv_regions`), as the shim fills it in.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct ResvRegion(raw::IoasidResv);

impl ResvRegion {
    /// First reserved IOVA.
    pub(crate) fn start(&self) -> u64 {
        self.0.start
    }

    /// Last reserved IOVA.
    pub(crate) fn last(&self) -> u64 {
        self.0.last
    }

    /// What the region is for.
    pub(crate) fn kind(&self) -> ResvKind {
        ResvKind::from_raw(self.0.kind)
    }
}

/// What a reserved region is for (`enum iommu_resv_type`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ResvKind {
    /// Direct-mapped memory the device uses (RMRR); must not be remapped.
    Direct,
    /// Direct-mapped, but only a hint: an unmanaged domain may ignore it.
    DirectRelaxable,
    /// Not translated.
    Reserved,
    /// Hardware MSI window (interrupts, not translated).
    Msi,
    /// Software MSI window: the IOMMU maps the MSI doorbell there.
    SwMsi,
}

impl ResvKind {
    fn from_raw(t: u32) -> Self {
        match t {
            bindings::iommu_resv_type_IOMMU_RESV_DIRECT => ResvKind::Direct,
            bindings::iommu_resv_type_IOMMU_RESV_DIRECT_RELAXABLE => ResvKind::DirectRelaxable,
            bindings::iommu_resv_type_IOMMU_RESV_MSI => ResvKind::Msi,
            bindings::iommu_resv_type_IOMMU_RESV_SW_MSI => ResvKind::SwMsi,
            _ => ResvKind::Reserved,
        }
    }
}

/// What the IOMMU driver reports about a device (`IOMMU_GET_HW_INFO`).
pub(crate) struct HwInfo {
    pub(crate) kind: u32,
    pub(crate) data: KVec<u8>,
    pub(crate) capabilities: u64,
    pub(crate) max_pasid_log2: u8,
}

/// The file a device was opened as, held while a binding through it is being made.
///
/// # Invariants
///
/// `self.0` is a file of an `ioasid-pci` device node with a reference owned by `self`.
pub(crate) struct DevFile(NonNull<raw::file>);

impl Drop for DevFile {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the reference is ours to drop.
        unsafe { raw::ioasid_shim_file_put(self.0.as_ptr()) }
    }
}

/// A counted reference to a PCI device bound to `ioasid-pci`.
///
/// # Invariants
///
/// `self.0` is a live `struct ioasid_pci_dev` on which `self` owns one reference; its
/// `pci_dev` (and so its `struct device`) lives as long.
pub(crate) struct PciDev(NonNull<raw::IoasidPciDev>);

// SAFETY: The shim object is reference counted with a kref and every operation on it takes
// its mutex, only reads fields fixed at probe, or calls the IOMMU core, which serializes on
// the IOMMU group's mutex; so it may be used and released from any thread.
unsafe impl Send for PciDev {}
// SAFETY: As above: all shared operations synchronise internally.
unsafe impl Sync for PciDev {}

impl Drop for PciDev {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `self` owns one reference.
        unsafe { raw::ioasid_shim_pci_put(self.0.as_ptr()) }
    }
}

/// Which binding of a device an operation is about (the shim's token).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Binding(u64);

/// DMA ownership of a device's IOMMU group, claimed for a context by [`PciDev::claim`]
/// and given back by [`PciDev::release_dma`], which consumes it: while it exists, no
/// kernel driver uses the group's DMA, so the group may be attached to a domain of ours
/// ([`IommuGroup::attach`] asks for it).
///
/// # Invariants
///
/// The device `dev` ([`PciDev::key`]), of IOMMU group `group` ([`IommuGroup::key`]), has
/// its DMA ownership claimed once for this value, under `binding`.
pub(crate) struct DmaClaim {
    dev: usize,
    group: usize,
    binding: Binding,
}

impl DmaClaim {
    /// The binding the claim was made for.
    pub(crate) fn binding(&self) -> Binding {
        self.binding
    }

    /// The device the claim was made for ([`PciDev::key`]).
    pub(crate) fn dev(&self) -> usize {
        self.dev
    }
}

impl PciDev {
    /// The device opened as descriptor `fd` of the calling process, and that file.
    ///
    /// # Errors
    ///
    /// `EBADF` if `fd` is not open, `EINVAL` if it is not a device node of `ioasid-pci`.
    pub(crate) fn from_fd(fd: i32) -> Result<(PciDev, DevFile)> {
        let mut file = core::ptr::null_mut();
        // SAFETY: `file` is a valid place for the shim to store the file pointer.
        let ptr = unsafe { raw::ioasid_shim_pci_get(fd, &mut file) };
        let ptr = kernel::error::from_err_ptr(ptr)?;
        // INVARIANT: on success the shim took one reference on the device and one on the
        // file for us, and both pointers are non-NULL.
        let dev = PciDev(NonNull::new(ptr).ok_or(EINVAL)?);
        let file = DevFile(NonNull::new(file).ok_or(EINVAL)?);
        Ok((dev, file))
    }

    fn raw(&self) -> *mut raw::IoasidPciDev {
        self.0.as_ptr()
    }

    fn device(&self) -> *mut raw::device {
        // SAFETY: By the type invariant the device is live.
        unsafe { raw::ioasid_shim_pci_device(self.raw()) }
    }

    /// The PCI name (`DDDD:BB:DD.F`), for messages.
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: `pci_name` returns the device's name, a NUL-terminated string that lives
        // as long as the `pci_dev`, which by the type invariant outlives `self`.
        unsafe { CStr::from_char_ptr(raw::ioasid_shim_pci_name(self.raw())) }
    }

    /// Whether the device is translated by an IOMMU.
    pub(crate) fn has_iommu(&self) -> bool {
        // SAFETY: By the type invariant the device is live.
        unsafe { raw::ioasid_shim_pci_has_iommu(self.raw()) }
    }

    /// Identifies the device (its shim object's address, only to compare): equal for two
    /// references to one device.
    pub(crate) fn key(&self) -> usize {
        self.raw() as usize
    }

    /// Whether the device's IOMMU has capability `cap` (`IOMMU_CAP_*`).
    fn capable(&self, cap: bindings::iommu_cap) -> bool {
        // SAFETY: By the type invariant the device is live; `device_iommu_capable` only
        // reads its IOMMU's capabilities (false without an IOMMU).
        unsafe { bindings::device_iommu_capable(self.device().cast(), cap) }
    }

    /// Whether the IOMMU can enforce cache coherency of the device's DMA.
    pub(crate) fn cache_coherent(&self) -> bool {
        self.capable(bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY)
    }

    /// Whether the device's IOMMU group has isolated MSIs (interrupt remapping or an MSI
    /// controller that checks the source). Only meaningful with an IOMMU.
    pub(crate) fn isolated_msi(&self) -> bool {
        let dev = self.device().cast::<bindings::device>();
        // SAFETY: By the type invariant the device is live; callers checked `has_iommu`,
        // so the device has an IOMMU group, which lives while the device does.
        unsafe { bindings::iommu_group_has_isolated_msi((*dev).iommu_group) }
    }

    /// A PASID from the IOMMU core's global space (`iommu_alloc_global_pasid`), for this
    /// device's shared work queues; `None` when the space below the device's PASID width is
    /// exhausted or the device has no PASIDs.
    pub(crate) fn alloc_global_pasid(&self) -> Option<u32> {
        // SAFETY: By the type invariant the device is live and (bound to ioasid-pci) has
        // an IOMMU; the call only reads its PASID width and allocates from an IDA.
        let pasid = unsafe { kernel::bindings::iommu_alloc_global_pasid(self.device().cast()) };
        // `IOMMU_PASID_INVALID` is `-1U`.
        (pasid != u32::MAX).then_some(pasid)
    }

    /// Whether the device's IOMMU can track dirty pages. Only meaningful with an IOMMU.
    pub(crate) fn dirty_tracking_capable(&self) -> bool {
        self.capable(bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING)
    }

    /// Claims DMA ownership of the device's group for `owner` and records the binding as
    /// made through `file`, held for `group`: the record keeps a reference to `group`
    /// until the binding ends, and gives it to [`PciGroup::revoked`] if the binding is
    /// revoked (the device file released, the device removed) or back through
    /// [`PciDev::forget`]. The claimed device is stopped (bus mastering off, its function
    /// reset where it can be): its user turns bus mastering on.
    ///
    /// # Errors
    ///
    /// `ENODEV` after removal (or without an IOMMU group), `EBUSY` if bound already,
    /// `EPERM` if another owner (a kernel driver or another context) has the group.
    pub(crate) fn claim(
        &self,
        file: &DevFile,
        owner: usize,
        group: Arc<PciGroup>,
    ) -> Result<DmaClaim> {
        let iommu_group = IommuGroup::of(self)?.key();
        let mut binding = 0;
        let group = Arc::into_raw(group).cast_mut();
        // `group` comes from `Arc::into_raw`; on success the record owns that reference
        // (handed back once, by `forget` or to `ioasid_pci_revoked`).
        // SAFETY: By the invariants the device and the file are live; `owner` is only
        // compared by the IOMMU core; `group` is as above; `binding` is a valid place.
        let rc = unsafe {
            raw::ioasid_shim_pci_claim(
                self.raw(),
                file.0.as_ptr(),
                owner as *mut c_void,
                group.cast(),
                &mut binding,
            )
        };
        if let Err(e) = check(rc) {
            // SAFETY: The shim refused and kept no reference: take ours back.
            drop(unsafe { Arc::from_raw(group) });
            return Err(e);
        }
        // INVARIANT: the shim claimed the ownership, once, for this binding. A device's
        // IOMMU group does not change while a driver (ours) has the device.
        Ok(DmaClaim {
            dev: self.key(),
            group: iommu_group,
            binding: Binding(binding),
        })
    }

    /// Ends the record of `binding` if it is still the current one and returns the group's
    /// reference it held; `None` if it was revoked (the revoker has the reference) or
    /// forgotten already.
    pub(crate) fn forget(&self, binding: Binding) -> Option<Arc<PciGroup>> {
        // SAFETY: By the type invariant the device is live.
        let group = unsafe { raw::ioasid_shim_pci_forget(self.raw(), binding.0) };
        // SAFETY: A non-NULL result is the reference `claim` handed to the record (from
        // `Arc::into_raw`), now handed back to us, once.
        (!group.is_null()).then(|| unsafe { Arc::from_raw(group.cast::<PciGroup>()) })
    }

    /// Stops the device (bus mastering off, its function reset where it can be) and
    /// releases the DMA ownership `claim` holds (a claim of another device is refused
    /// with a warning); once every device of the group has, the group is back on its
    /// kernel domain, which the stopped device does not reach (with an identity domain,
    /// `iommu=pt`, a device left running would write physical memory).
    ///
    /// The protocol (which the IOMMU core would only warn about if it were broken, not
    /// fault): the group's attachment to our domain goes first (the claim of the last
    /// device attached outlives the [`GroupAttach`]), and the release comes before the
    /// binding's record is forgotten ([`PciDev::forget`]) or `ioasid_pci_revoked` of it
    /// returns: until then `ioasid-pci`'s `remove` waits (for the group's lock, or for
    /// the revocation in flight), so the driver still has the device.
    pub(crate) fn release_dma(&self, claim: DmaClaim) {
        if kernel::warn_on!(claim.dev != self.key()) {
            return;
        }
        // SAFETY: By the type invariant the device is live; by `claim`'s invariant its
        // ownership was claimed once for `claim`, which this consumes, so it was not
        // released yet.
        unsafe { raw::ioasid_shim_pci_release_dma(self.raw()) }
    }

    /// Whether `binding` is still in force (not revoked by close or removal).
    pub(crate) fn is_live(&self, binding: Binding) -> bool {
        // SAFETY: By the type invariant the device is live.
        unsafe { raw::ioasid_shim_pci_is_live(self.raw(), binding.0) }
    }

    /// The device's reserved regions.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn resv_regions(&self) -> Result<KVec<ResvRegion>> {
        let mut buf: KVec<ResvRegion> = KVec::new();
        loop {
            let room = buf.capacity();
            // SAFETY: The device is live; `buf` has room for `room` entries, which the
            // shim fills without reading them; `ResvRegion` is a transparent
            // `struct ioasid_resv`.
            let n = unsafe {
                raw::ioasid_shim_resv_regions(
                    self.device(),
                    buf.as_mut_ptr().cast::<raw::IoasidResv>(),
                    room as c_int,
                )
            };
            let n = usize::try_from(n).map_err(|_| EINVAL)?;
            if n <= room {
                // SAFETY: The shim initialised the first `n` entries.
                unsafe { buf.inc_len(n) };
                return Ok(buf);
            }
            buf.reserve(n, GFP_KERNEL)?;
        }
    }

    /// A new paging domain of the device's IOMMU (`iommu_paging_domain_alloc_flags` with
    /// `IOMMU_HWPT_ALLOC_*` flags), owned by the caller alone until it is shared for
    /// attaching (in an [`Arc`]).
    ///
    /// # Errors
    ///
    /// The IOMMU driver's refusal (`EOPNOTSUPP` for flags it does not support), `ENOMEM`.
    pub(crate) fn alloc_domain(&self, flags: u32) -> Result<IommuDomain> {
        // SAFETY: The device is live and has an IOMMU (bound devices were checked);
        // `iommu_paging_domain_alloc_flags` returns a new domain or an `ERR_PTR`.
        let domain =
            unsafe { bindings::iommu_paging_domain_alloc_flags(self.device().cast(), flags) };
        let domain = kernel::error::from_err_ptr(domain)?;
        // INVARIANT: a new domain, owned by us.
        Ok(IommuDomain(NonNull::new(domain).ok_or(ENOMEM)?))
    }

    /// The IOMMU driver's information about the device, of type `kind` (0: its default),
    /// with the capabilities iommufd reports (`IOMMU_HW_CAP_*`) and the PASID width.
    ///
    /// # Errors
    ///
    /// The driver's refusal (`EOPNOTSUPP` for a type it does not have), `ENOMEM`.
    pub(crate) fn hw_info(&self, kind: u32) -> Result<HwInfo> {
        let mut kind = kind;
        let mut data: *mut c_void = core::ptr::null_mut();
        let (mut len, mut max_pasids, mut pasid_ctrl) = (0u32, 0u32, -1 as c_int);
        // SAFETY: The device is live and has an IOMMU; every out pointer is valid.
        check(unsafe {
            raw::ioasid_shim_hw_info(
                self.device(),
                &mut kind,
                &mut data,
                &mut len,
                &mut max_pasids,
                &mut pasid_ctrl,
            )
        })?;
        let mut bytes = KVec::new();
        let copied = if data.is_null() {
            Ok(())
        } else {
            // SAFETY: The driver returned `len` initialised bytes at `data`.
            let src = unsafe { core::slice::from_raw_parts(data.cast::<u8>(), len as usize) };
            bytes.extend_from_slice(src, GFP_KERNEL)
        };
        // SAFETY: `data` is NULL or a `kmalloc` buffer the driver handed over to us.
        unsafe { bindings::kfree(data) };
        copied?;
        let mut caps = 0u64;
        if self.dirty_tracking_capable() {
            caps |= u64::from(bindings::iommufd_hw_capabilities_IOMMU_HW_CAP_DIRTY_TRACKING);
        }
        if !self.capable(bindings::iommu_cap_IOMMU_CAP_PCI_ATS_SUPPORTED) {
            caps |= u64::from(bindings::iommufd_hw_capabilities_IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED);
        }
        // The PASID control register, when the device has one (`pasid_ctrl > 0`).
        if let Ok(ctrl @ 1..) = u32::try_from(pasid_ctrl) {
            if ctrl & bindings::PCI_PASID_CTRL_EXEC != 0 {
                caps |= u64::from(bindings::iommufd_hw_capabilities_IOMMU_HW_CAP_PCI_PASID_EXEC);
            }
            if ctrl & bindings::PCI_PASID_CTRL_PRIV != 0 {
                caps |= u64::from(bindings::iommufd_hw_capabilities_IOMMU_HW_CAP_PCI_PASID_PRIV);
            }
        }
        Ok(HwInfo {
            kind,
            data: bytes,
            capabilities: caps,
            // `ilog2` of the PASID count, 0 without PASIDs (a count of 1 is 0 too).
            max_pasid_log2: max_pasids.checked_ilog2().unwrap_or(0) as u8,
        })
    }
}

/// A paging `iommu_domain` owned by ioasid.
///
/// # Invariants
///
/// `self.0` is a domain from `iommu_paging_domain_alloc_flags`, freed only by `Drop`.
/// Every attachment to it ([`GroupAttach`]) holds a reference to it (it is attached only
/// as an `Arc<IommuDomain>`), so nothing is attached when it is dropped.
pub(crate) struct IommuDomain(NonNull<bindings::iommu_domain>);

// SAFETY: The IOMMU core allows a domain to be mapped, unmapped, looked up and freed from
// any thread; concurrent map/unmap of disjoint ranges is supported by every driver, and
// ioasid serializes the changes of one domain under its IOAS lock.
unsafe impl Send for IommuDomain {}
// SAFETY: As above.
unsafe impl Sync for IommuDomain {}

impl Drop for IommuDomain {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own the domain and no group is attached to it
        // (each attachment would hold a reference).
        unsafe { bindings::iommu_domain_free(self.0.as_ptr()) }
    }
}

impl IommuDomain {
    fn as_raw(&self) -> *mut raw::iommu_domain {
        self.0.as_ptr().cast()
    }

    /// Aperture (first, last) and the page sizes the domain supports (bitmap).
    pub(crate) fn info(&self) -> (u64, u64, u64) {
        let d = self.0.as_ptr();
        // SAFETY: The domain is live. Its driver set the geometry and page sizes when it
        // made the domain and they never change; they are copied out in place, without a
        // reference to the rest of the domain (which the IOMMU core may change).
        let (geometry, sizes) = unsafe { ((*d).geometry, (*d).pgsize_bitmap) };
        (geometry.aperture_start, geometry.aperture_end, sizes as u64)
    }

    /// Prepares software MSI at IOVA `base` (`iommu_get_msi_cookie`). Only before the
    /// domain is shared (`&mut`), so before anything is attached to it.
    ///
    /// # Errors
    ///
    /// `ENOMEM`, `EEXIST` if the domain has a cookie already.
    pub(crate) fn msi_cookie(&mut self, base: u64) -> Result {
        // SAFETY: The domain is live and, not being shared, not attached to any device.
        check(unsafe {
            bindings::iommu_get_msi_cookie(self.0.as_ptr(), base as bindings::dma_addr_t)
        })
    }

    /// Maps `len` bytes at `iova` to `phys` with `IOMMU_*` permissions `prot`.
    ///
    /// # Errors
    ///
    /// As `iommu_map` (nothing stays mapped on error).
    pub(crate) fn map(&self, iova: u64, run: &super::PinnedRun<'_>, prot: u32) -> Result {
        // SAFETY: The domain is live (type invariant). `run` is pinned memory (its type
        // invariant), which the IOAS unmaps from every domain before unpinning it (its
        // invariant), so the device never reaches memory that has been freed.
        check(unsafe {
            bindings::iommu_map(
                self.0.as_ptr(),
                iova as usize,
                run.phys(),
                run.len() as usize,
                prot as c_int,
                bindings::GFP_KERNEL_ACCOUNT,
            )
        })
    }

    /// Unmaps `len` bytes at `iova` and flushes the IOTLB; returns the bytes unmapped.
    pub(crate) fn unmap(&self, iova: u64, len: u64) -> u64 {
        // SAFETY: The domain is live; `iommu_unmap` syncs the IOTLB before returning.
        unsafe { bindings::iommu_unmap(self.0.as_ptr(), iova as usize, len as usize) as u64 }
    }

    /// The physical address `iova` translates to (0 when unmapped).
    pub(crate) fn iova_to_phys(&self, iova: u64) -> u64 {
        // SAFETY: The domain is live.
        unsafe { bindings::iommu_iova_to_phys(self.0.as_ptr(), iova) as u64 }
    }
}

/// Called by the shim when `binding` of `idev` was revoked (its device file released, or
/// the device removed): the group takes the device out of its attachment and releases
/// its DMA ownership, unless the binding's holder did so first.
///
/// # Safety
///
/// `group` is the reference the binding's record held (from `Arc::<PciGroup>::into_raw`
/// in [`PciDev::claim`]), handed over once; `idev` is a live `struct ioasid_pci_dev` on
/// which the caller holds a reference for the duration of the call, and which
/// `ioasid-pci` still has.
#[no_mangle]
unsafe extern "C" fn ioasid_pci_revoked(
    group: *mut c_void,
    idev: *mut raw::IoasidPciDev,
    binding: u64,
) {
    // SAFETY: By the function's contract we take over the record's reference, once.
    let group = unsafe { Arc::<PciGroup>::from_raw(group.cast::<PciGroup>()) };
    let Some(idev) = NonNull::new(idev) else {
        return;
    };
    // SAFETY: The caller holds a reference on the live `idev`: take one more for `dev`.
    unsafe { raw::ioasid_shim_pci_hold(idev.as_ptr()) };
    // INVARIANT: `dev` owns the reference just taken.
    let dev = PciDev(idev);
    group.revoked(&dev, Binding(binding));
}
