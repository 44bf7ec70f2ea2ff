// SPDX-License-Identifier: GPL-2.0

//! The hardware page table (HWPT) object: an IOMMU domain bound to the IOAS whose areas
//! it maps.
//!
//! A paging HWPT is created explicitly or, when a device attaches straight to an IOAS,
//! automatically ("auto domain", as iommufd does); an automatic one goes away with its last
//! device. While it exists the IOAS keeps every area mapped into its domain (see
//! [`crate::ioas`]); dropping the HWPT unmaps and flushes before any page is unpinned.

use crate::{domain::Domain, ioas::Ioas};
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

/// A paging HWPT.
///
/// # Invariants
///
/// `domain` is attached to `ioas` (filled with its areas) for the HWPT's whole life.
pub(crate) struct Hwpt {
    ioas: Arc<Ioas>,
    domain: Domain,
    /// Created by an attach to an IOAS, destroyed with its last device.
    auto: bool,
    /// Number of devices attached (`IOMMU_DESTROY` gives `EBUSY` while non-zero).
    devices: Atomic<u32>,
}

impl Hwpt {
    /// A HWPT for `domain` on `ioas`, which maps every area into the domain.
    ///
    /// # Errors
    ///
    /// As [`Ioas::add_domain`], `ENOMEM`.
    pub(crate) fn new(ioas: Arc<Ioas>, domain: Domain, auto: bool) -> Result<Arc<Hwpt>> {
        ioas.add_domain(&domain)?;
        // INVARIANT: attached just above; `Drop` detaches.
        Arc::new(
            Hwpt {
                ioas: ioas.clone(),
                domain: domain.clone(),
                auto,
                devices: Atomic::new(0),
            },
            GFP_KERNEL,
        )
        .map_err(|e| {
            ioas.remove_domain(&domain);
            e.into()
        })
    }

    /// The domain.
    pub(crate) fn domain(&self) -> &Domain {
        &self.domain
    }

    /// Whether the HWPT was made by an attach to an IOAS.
    pub(crate) fn is_auto(&self) -> bool {
        self.auto
    }

    /// Number of devices attached.
    pub(crate) fn users(&self) -> u32 {
        self.devices.load(Relaxed)
    }

    /// Counts a device attaching.
    pub(crate) fn get_device(&self) {
        self.devices.fetch_add(1, Relaxed);
    }

    /// Counts a device detaching; returns how many remain.
    pub(crate) fn put_device(&self) -> u32 {
        self.devices.fetch_sub(1, Relaxed) - 1
    }
}

impl Drop for Hwpt {
    fn drop(&mut self) {
        // Unmaps (and flushes) every area from the domain, then drops the pins if this was
        // the IOAS's last domain.
        self.ioas.remove_domain(&self.domain);
    }
}
