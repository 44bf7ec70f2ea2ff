// SPDX-License-Identifier: GPL-2.0

//! ioasid as VFIO's IOMMU backend: a VFIO container (`/dev/vfio/vfio`) whose IOMMU
//! driver is ioasid. VFIO keeps the container, its groups and their DMA ownership; ioasid
//! gives each container an IOAS of its own ([`Container`]: outside every `/dev/ioasid`
//! file), answers the type1 container ioctls on it with the same code that answers them
//! on `/dev/ioasid` ([`super::vfio_compat`]: one engine, one set of type1 rules), and
//! attaches each group of the container to a paging domain of its own, mapped from that
//! IOAS (an automatic HWPT), with the group's reserved regions reserved in the IOAS, as
//! `IOASID_DEVICE_ATTACH` does for a bound device.
//!
//! Which containers ioasid serves is explicit, never an accident of registration order
//! (VFIO tries the most recently registered driver first): `VFIO_SET_IOMMU` with ioasid's
//! own type `IOASID_VFIO_IOMMU` always; type1 and type1 v2 only when the module was loaded
//! with `vfio_type1=1`, and then ioasid serves every program that asks for type1.
//!
//! What this module must never do: leave a group attached, a region reserved or a page
//! pinned once VFIO detached the group and released the container. Not served (refused):
//! groups of emulated (mdev) devices and no-IOMMU groups (`EOPNOTSUPP`), and with them
//! `pin_pages`/`dma_rw`; the dirty-page ioctls (`ENOTTY`).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{hwpt::Hwpt, vfio_compat};
use crate::{
    dispatch::dispatch_vfio,
    error::refuse,
    ffi::{
        iommu::{GroupAttach, IommuGroup, ResvKind, VfioOwned},
        Process,
    },
    hw::{iommu::RealDomain, Domain},
    iopt::Ioas,
    uapi::{iova::Span, ucmd::*, vfio::*},
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
};

/// How many containers ioasid served since it was loaded (logged with each new one: the
/// proof, for a test, of which driver served a container).
static SERVED: Atomic<u32> = Atomic::new(0);

/// Whether `VFIO_SET_IOMMU` of type1 or type1 v2 is answered (`vfio_type1=1`).
fn type1_allowed() -> bool {
    crate::module_parameters::vfio_type1.value()
}

/// Whether ioasid serves containers of IOMMU type `kind`.
fn serves(kind: usize) -> bool {
    kind == IOASID_VFIO_IOMMU
        || (type1_allowed() && (kind == VFIO_TYPE1_IOMMU || kind == VFIO_TYPE1V2_IOMMU))
}

/// A group of a container: attached to its own domain, which an automatic HWPT keeps
/// mapped from the container's IOAS; its reserved regions reserved there under `key`.
struct ContainerGroup {
    /// The group's identity ([`IommuGroup::key`]), also the owner of its reserved regions.
    key: usize,
    /// The attachment (`Some` until dropped): off the domain before the HWPT goes.
    attach: Option<GroupAttach>,
    hwpt: Arc<Hwpt>,
}

impl Drop for ContainerGroup {
    fn drop(&mut self) {
        // Back to the blocking domain first; then the regions, then (fields) the HWPT,
        // which unmaps the domain.
        drop(self.attach.take());
        self.hwpt.ioas().unreserve(self.key);
    }
}

/// A VFIO container served by ioasid: its IOAS and its groups.
#[pin_data]
pub(crate) struct Container {
    ioas: Arc<Ioas>,
    /// The groups of the container. Taken with none of ioasid's locks held (VFIO calls
    /// with its container lock); the IOAS's lock is taken under it.
    #[pin]
    groups: Mutex<KVec<ContainerGroup>>,
}

impl Container {
    /// VFIO's `open`, for `VFIO_SET_IOMMU(kind)`: a container with a new IOAS; for type1
    /// (v1), one without huge IOPTEs (its unmap may cut any mapping).
    ///
    /// # Errors
    ///
    /// `EINVAL` for a type ioasid does not serve, `ENOMEM`.
    pub(crate) fn open(kind: usize) -> Result<Arc<Self>> {
        if !serves(kind) {
            return refuse!(EINVAL, "vfio: IOMMU type {} is not served\n", kind);
        }
        let ioas = Ioas::new()?;
        if kind == VFIO_TYPE1_IOMMU {
            ioas.set_huge_pages(false)?;
        }
        let c = Arc::pin_init(
            pin_init!(Container {
                ioas,
                groups <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )?;
        let n = SERVED.fetch_add(1, Relaxed) + 1;
        pr_info!(
            "VFIO container {} served by ioasid (IOMMU type {:#x})\n",
            n,
            kind
        );
        Ok(c)
    }

    /// `VFIO_CHECK_EXTENSION` on a container without a driver yet: the types ioasid would
    /// serve (VFIO asks each driver in turn); VFIO asks nothing else without a container.
    pub(crate) fn ioctl_unset(cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            VFIO_CHECK_EXTENSION => Ok(isize::from(serves(arg))),
            _ => refuse!(ENOTTY, "vfio: ioctl {:#x} without a container\n", cmd),
        }
    }

    /// A container ioctl: the type1 ones, answered on the container's IOAS as on
    /// `/dev/ioasid`.
    pub(crate) fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        if cmd == VFIO_CHECK_EXTENSION {
            // `VFIO_DMA_CC_IOMMU` is 0: the domains map with IOMMU_CACHE, but ioasid does
            // not ask the IOMMU to enforce coherency for a group.
            let yes = arg == IOASID_VFIO_IOMMU || vfio_compat::type1_extension(arg);
            return Ok(isize::from(yes));
        }
        let ioas = &self.ioas;
        dispatch_vfio(cmd, arg, |ucmd| match cmd {
            VFIO_IOMMU_GET_INFO => vfio_compat::get_info_on(ioas, ucmd),
            // Charged to the caller's mm (`RLIMIT_MEMLOCK`), as type1 does.
            VFIO_IOMMU_MAP_DMA => {
                let process = Arc::new(Process::current(true)?, GFP_KERNEL)?;
                vfio_compat::map_dma_on(ioas, process, ucmd)
            }
            VFIO_IOMMU_UNMAP_DMA => vfio_compat::unmap_dma_on(ioas, ucmd),
            _ => refuse!(ENOTTY, "vfio: container ioctl {:#x} is not served\n", cmd),
        })
    }

    /// VFIO's `attach_group`: `group` joins the container; `owned` (absent for emulated
    /// and no-IOMMU groups) shows that VFIO holds its DMA ownership.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` for a group without an IOMMU ownership, `EBUSY` if it is attached
    /// already, `EADDRINUSE` if one of its reserved regions is mapped in the IOAS, the
    /// IOMMU driver's refusal, `ENOMEM`. Nothing changed then.
    pub(crate) fn attach_group(&self, group: &IommuGroup, owned: Option<VfioOwned<'_>>) -> Result {
        let Some(owned) = owned else {
            return refuse!(
                EOPNOTSUPP,
                "vfio: emulated and no-IOMMU groups are not served\n"
            );
        };
        let key = group.key();
        let mut groups = self.groups.lock();
        if groups.iter().any(|g| g.key == key) {
            return refuse!(EBUSY, "vfio: the group is in the container already\n");
        }
        groups.reserve(1, GFP_KERNEL)?;

        let mut resv = KVec::new();
        let mut sw_msi = None;
        for r in owned.group().resv_regions()?.iter() {
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
        let domain = RealDomain::for_group(group, sw_msi)?;
        self.ioas.reserve(key, &resv).or_else(|e| {
            refuse!(
                e,
                "vfio: a reserved region of the group is mapped in the container\n"
            )
        })?;
        // From here on, dropping `cg` undoes what is done (the attachment, the regions,
        // the HWPT's domain in the IOAS).
        let hwpt = match Hwpt::new(
            self.ioas.clone(),
            Domain::Real(domain.clone()),
            true,
            false,
            false,
            None,
        ) {
            Ok(h) => h,
            Err(e) => {
                self.ioas.unreserve(key);
                return Err(e);
            }
        };
        let mut cg = ContainerGroup {
            key,
            attach: None,
            hwpt,
        };
        cg.attach = Some(owned.attach(domain.iommu_domain()).or_else(|e| {
            refuse!(
                e,
                "vfio: the IOMMU driver refused to attach the group: {:?}\n",
                e
            )
        })?);
        // Room was reserved above.
        let _ = groups.push_within_capacity(cg);
        Ok(())
    }

    /// VFIO's `detach_group`: the group with identity `key` leaves the container (its
    /// devices go back to the blocking domain, its mappings and regions go).
    pub(crate) fn detach_group(&self, key: usize) {
        let gone = {
            let mut groups = self.groups.lock();
            groups
                .iter()
                .position(|g| g.key == key)
                .and_then(|i| groups.remove(i).ok())
        };
        drop(gone);
    }
}
