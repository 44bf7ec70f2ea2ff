// SPDX-License-Identifier: GPL-2.0

//! The module's one global: the registry of the PASIDs that `IOASID_PASID_ALLOC` handed
//! out, shared by every `/dev/ioasid` file (a PASID allocated by one file must not be
//! attached by another), and the IOMMU core's global PASID space of real devices.
//!
//! Rust-for-Linux 7.3 has no safe way to define a static lock: `global_lock!` needs an
//! `unsafe` initialization call, made once from the module's init ([`init`]).

use kernel::{prelude::*, sync::lock::GlobalGuard};

/// Which PASID space an entry is in: the mock IOMMU's own, or the IOMMU core's global
/// space of real devices.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Space {
    Mock,
    Real,
}

/// One allocated PASID.
pub(crate) struct Entry {
    pub(crate) space: Space,
    pub(crate) pasid: u32,
    /// The owning context ([`crate::objects::context::Context::ident`]).
    pub(crate) owner: usize,
    /// The object ID of the PASID in its owner's table (0 until known).
    pub(crate) id: u32,
}

kernel::sync::global_lock! {
    // SAFETY: `init` initializes the lock in the module's init, before any file can be
    // opened, and nothing else uses its backend type.
    pub(crate) unsafe(uninit) static PASIDS: Mutex<KVec<Entry>> = KVec::new();
}

/// The registry's lifetime in the module: made by [`init`], dropped at module exit, when it
/// frees the registry's memory (the static outlives no loaded module, its vector's buffer
/// must not either).
pub(crate) struct Registry(());

/// Initializes the registry's lock.
///
/// Called once, by the module's init; the module keeps what it returns until its exit.
pub(crate) fn init() -> Registry {
    // SAFETY: Only the module's init calls this, once, before any use of `PASIDS`.
    unsafe { PASIDS.init() };
    Registry(())
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Every file is closed (the module is going): every PASID was released.
        drop(core::mem::take(&mut *PASIDS.lock()));
    }
}

/// The registry, locked: every allocated PASID, in no order.
///
/// Lock order: a leaf, taken with device locks held and nothing taken under it.
pub(crate) fn registry() -> GlobalGuard<PASIDS> {
    PASIDS.lock()
}

/// Gives back a PASID that [`super::iommu::PciDev::alloc_global_pasid`] returned (the registry frees
/// each of its real entries once; freeing one that is not allocated only warns).
pub(crate) fn free_global_pasid(pasid: u32) {
    // SAFETY: `iommu_free_global_pasid` takes any value: `ida_free` warns about one that is
    // not allocated and changes nothing then.
    unsafe { kernel::bindings::iommu_free_global_pasid(pasid) }
}
