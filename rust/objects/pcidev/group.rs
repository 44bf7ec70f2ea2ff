// SPDX-License-Identifier: GPL-2.0

//! The IOMMU group of bound PCI devices in a context: [`PciGroup`], the one owner of a
//! group's state, as iommufd's `iommufd_group`.
//!
//! It owns, under one lock: which bindings of the group's devices are in force (each
//! holds a DMA ownership claim), which of those are attached in hardware, the group's
//! attachment to a domain (through an attach handle), and, for the context, the HWPT the
//! group's devices share and their reserved regions in its IOAS. The first device to
//! attach attaches the group, the others join, a replacement through an attached one
//! moves the group, and the last one out detaches it; a device gives its DMA ownership
//! back only after it is out of the attachment. The FFI layer makes the calls, but never
//! decides them: it only records, per device, that it is bound (and hands a revoked
//! binding to [`PciGroup::revoked`]).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::{
    error::refuse,
    ffi::iommu::{Binding, DevFile, DmaClaim, GroupAttach, IommuGroup, PciDev},
    hw::iommu::RealDomain,
    objects::device::Attachment,
    uapi::iova::Span,
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// A device of a [`PciGroup`] that is attached: its owner tag and reserved regions, which
/// are reserved in the IOAS of the group's attachment under that tag.
pub(super) struct Member {
    pub(super) tag: usize,
    pub(super) resv: KVec<Span>,
}

/// A binding of one of the group's devices that is in force: the device's DMA ownership
/// is held for the context.
struct BoundDev {
    /// The claim (of the device and binding it names).
    claim: DmaClaim,
    /// Whether the device is in the group's hardware attachment.
    attached: bool,
}

/// The group in hardware: the bindings in force and the group's attachment.
///
/// # Invariants
///
/// `attach` is `Some` exactly when an entry of `bound` is attached; it is then on the
/// domain of the [`GroupInner::attached`] HWPT (and holds a reference to it).
pub(super) struct GroupHw {
    bound: KVec<BoundDev>,
    attach: Option<GroupAttach>,
}

impl GroupHw {
    fn find(&self, dev: &PciDev, binding: Binding) -> Option<usize> {
        let key = dev.key();
        self.bound
            .iter()
            .position(|b| b.claim.dev() == key && b.claim.binding() == binding)
    }

    /// Attaches `binding` of `dev` to `domain`: the first device attaches the group;
    /// another one joins if `domain` is the group's; an attached one replaces the group's
    /// domain in one step, for all of them.
    ///
    /// # Errors
    ///
    /// `ENODEV` if the binding ended, `EINVAL` if the group is on another domain and the
    /// device is not attached; `ENOMEM` or the IOMMU driver's refusal (nothing changed).
    pub(super) fn attach(
        &mut self,
        group: &IommuGroup,
        dev: &PciDev,
        binding: Binding,
        domain: &Arc<RealDomain>,
    ) -> Result {
        let Some(i) = self.find(dev, binding) else {
            return refuse!(ENODEV, "attach: {}: the binding was revoked\n", dev.name());
        };
        match self.attach.as_mut() {
            None => {
                let att = group.attach(&self.bound[i].claim, domain.iommu_domain())?;
                // INVARIANT: the group is attached, and entry `i` is marked below.
                self.attach = Some(att);
            }
            Some(att) if !att.is_on(domain.iommu_domain()) => {
                if !self.bound[i].attached {
                    return refuse!(
                        EINVAL,
                        "attach: {}: its IOMMU group is on another domain\n",
                        dev.name()
                    );
                }
                // One switch of the group's translation: no window without one (the old
                // domain's reference goes only after it).
                att.replace(domain.iommu_domain())?;
            }
            Some(_) => {}
        }
        self.bound[i].attached = true;
        Ok(())
    }

    /// Takes entry `i` out of the group's attachment; the last one out detaches the group.
    fn detach_at(&mut self, i: usize) {
        if !core::mem::replace(&mut self.bound[i].attached, false) {
            return;
        }
        if !self.bound.iter().any(|b| b.attached) {
            // INVARIANT: no entry attached; dropping the attachment detaches the group.
            self.attach = None;
        }
    }

    /// Takes `binding` of `dev` out of the group's attachment (nothing if it ended).
    pub(super) fn detach(&mut self, dev: &PciDev, binding: Binding) {
        if let Some(i) = self.find(dev, binding) {
            self.detach_at(i);
        }
    }

    /// Ends `binding` of `dev` in hardware: out of the group's attachment, then its DMA
    /// ownership released; nothing if that happened already.
    pub(super) fn unbind(&mut self, dev: &PciDev, binding: Binding) {
        if let Some(i) = self.find(dev, binding) {
            self.detach_at(i);
            // The group is off our domain before the device's ownership goes.
            if let Ok(b) = self.bound.remove(i) {
                dev.release_dma(b.claim);
            }
        }
    }
}

/// What [`PciGroup`]'s lock protects.
pub(super) struct GroupInner {
    /// The HWPT the group's attached devices share (`None` exactly when `members` is
    /// empty).
    pub(super) attached: Option<Attachment>,
    /// The attached devices.
    pub(super) members: KVec<Member>,
    /// Number of [`PciDevice`](super::PciDevice)s of the group (bound, or revoked and not
    /// yet destroyed).
    devices: usize,
    /// The group in hardware.
    pub(super) hw: GroupHw,
}

/// The devices of one IOMMU group bound to a context. The IOMMU translates a group as a
/// whole, so they share one attachment, counted once in its HWPT: the first device to
/// attach chooses the HWPT, the others can only join it, and replacing it through any
/// attached device moves all of them (as iommufd does).
///
/// # Invariants
///
/// Every member's reserved regions are reserved in the attachment's IOAS under its tag,
/// and the members whose bindings are in force are attached to its domain. Every device
/// attached in hardware is a member.
#[pin_data]
pub(crate) struct PciGroup {
    /// The IOMMU group (a reference, so that its identity is not reused while this lives).
    pub(super) group: IommuGroup,
    /// Serializes bind, attach, replace, detach, unbind and revocation of the group's
    /// devices. Taken after the shim's revocation lock (in `ioasid_pci_revoked`) and
    /// before its device lock (in `PciDev::claim` and `PciDev::is_live`).
    #[pin]
    pub(super) inner: Mutex<GroupInner>,
}

impl PciGroup {
    /// The group of `dev` in the context's `registry`, made if there is none, with one
    /// more device counted; groups left without devices are dropped from the registry.
    ///
    /// # Errors
    ///
    /// `ENODEV` if the device has no IOMMU group (any more), `ENOMEM`.
    pub(super) fn join(registry: &Mutex<KVec<Arc<PciGroup>>>, dev: &PciDev) -> Result<GroupRef> {
        let iommu_group = IommuGroup::of(dev)?;
        let key = iommu_group.key();
        let mut groups = registry.lock();
        groups.retain(|g| g.group.key() == key || g.inner.lock().devices != 0);
        let group = match groups.iter().find(|g| g.group.key() == key) {
            Some(g) => g.clone(),
            None => {
                let g = Arc::pin_init(
                    pin_init!(PciGroup {
                        group: iommu_group,
                        inner <- new_mutex!(GroupInner {
                            attached: None,
                            members: KVec::new(),
                            devices: 0,
                            hw: GroupHw {
                                bound: KVec::new(),
                                attach: None,
                            },
                        }),
                    }),
                    GFP_KERNEL,
                )?;
                groups.push(g.clone(), GFP_KERNEL)?;
                g
            }
        };
        group.inner.lock().devices += 1;
        Ok(GroupRef(group))
    }

    /// Claims DMA ownership of `dev` for `owner` and records the binding (made through
    /// `file`) in force.
    ///
    /// # Errors
    ///
    /// `ENOMEM`; as [`PciDev::claim`].
    pub(super) fn claim(
        self: &Arc<Self>,
        dev: &PciDev,
        file: &DevFile,
        owner: usize,
    ) -> Result<Binding> {
        let mut g = self.inner.lock();
        // Room first, so that recording a claimed binding cannot fail.
        g.hw.bound.reserve(1, GFP_KERNEL)?;
        // Under the lock: a revocation of the new binding waits for its entry.
        let claim = dev.claim(file, owner, self.clone())?;
        let binding = claim.binding();
        let _ = g.hw.bound.push_within_capacity(BoundDev {
            claim,
            attached: false,
        });
        Ok(binding)
    }

    /// `binding` of `dev` was revoked (device file closed, device removed): the device
    /// leaves the group's attachment and gives its DMA ownership back, unless its
    /// [`PciDevice`](super::PciDevice) unbound it first. The bookkeeping stays until the
    /// device's ID goes.
    pub(crate) fn revoked(&self, dev: &PciDev, binding: Binding) {
        self.inner.lock().hw.unbind(dev, binding);
    }
}

/// A device's share of its [`PciGroup`]: counted in the group's `devices` while it lives.
pub(super) struct GroupRef(pub(super) Arc<PciGroup>);

impl Drop for GroupRef {
    fn drop(&mut self) {
        self.0.inner.lock().devices -= 1;
    }
}

impl GroupInner {
    pub(super) fn member(&self, tag: usize) -> Option<usize> {
        self.members.iter().position(|m| m.tag == tag)
    }

    /// Takes member `tag` out (its regions leave the IOAS); returns the attachment when it
    /// was the last one, for the caller to release. The caller took the device out of
    /// the hardware attachment first.
    pub(super) fn leave(&mut self, tag: usize) -> Option<Attachment> {
        let i = self.member(tag)?;
        let _ = self.members.remove(i);
        if let Some(a) = self.attached.as_ref() {
            a.hwpt.ioas().unreserve(tag);
        }
        if self.members.is_empty() {
            self.attached.take()
        } else {
            None
        }
    }
}
