// SPDX-License-Identifier: GPL-2.0

//! The boundary between the object model and IOMMU hardware.
//!
//! An IOAS fills every domain attached to it through [`HwDomain`]; it never knows what is
//! behind: a real `iommu_domain` ([`crate::hw::iommu::RealDomain`], through the FFI layer) or
//! [`crate::hw::mock::MockDomain`], a page table in plain Rust that never touches the IOMMU
//! core, for the test interface.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

pub(crate) mod iommu;
pub(crate) mod mock;

use crate::{ffi::PinnedRun, uapi::iova::Span};
use iommu::RealDomain;
use kernel::{prelude::*, sync::Arc};
use mock::MockDomain;

/// IOPTE permission: DMA may read.
pub(crate) const PROT_READ: u32 = 1;
/// IOPTE permission: DMA may write.
pub(crate) const PROT_WRITE: u32 = 2;

/// What an IOMMU page table offers the object model.
pub(crate) trait HwDomain {
    /// The IOVA range the hardware can translate.
    fn aperture(&self) -> Span;
    /// The smallest IOPTE size (a power of two): IOVAs, lengths and page offsets of every
    /// area must be aligned to it.
    fn min_page_size(&self) -> u64;
    /// Maps the pinned memory of `run` at `iova` (all aligned to the minimum page size)
    /// with `prot`. The caller unmaps it before the pins go (the IOAS's invariant).
    ///
    /// # Errors
    ///
    /// `EINVAL` outside the aperture or misaligned, `EEXIST` over an existing IOPTE,
    /// `ENOMEM`. On error nothing of this call stays mapped.
    fn map(&self, iova: u64, run: &PinnedRun<'_>, prot: u32) -> Result;
    /// Unmaps `len` bytes at `iova` and flushes the IOTLB: when this returns, the hardware
    /// no longer reaches the old pages. Returns the bytes that were mapped.
    fn unmap(&self, iova: u64, len: u64) -> u64;
    /// The physical address `iova` translates to.
    fn iova_to_phys(&self, iova: u64) -> Option<u64>;
}

/// A reference to a domain of any kind (enum dispatch: the kernel's `Arc` has no trait
/// objects).
#[derive(Clone)]
pub(crate) enum Domain {
    /// The software mock of the test interface.
    Mock(Arc<MockDomain>),
    /// A paging domain of a real IOMMU.
    Real(Arc<RealDomain>),
}

impl Domain {
    /// The implementation behind this reference.
    pub(crate) fn hw(&self) -> &dyn HwDomain {
        match self {
            Domain::Mock(m) => &**m,
            Domain::Real(r) => &**r,
        }
    }

    /// Whether `self` and `other` are the same domain.
    pub(crate) fn same(&self, other: &Domain) -> bool {
        match (self, other) {
            (Domain::Mock(a), Domain::Mock(b)) => Arc::ptr_eq(a, b),
            (Domain::Real(a), Domain::Real(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// An identity for this domain, used to tag the reserved ranges it adds to an IOAS.
    pub(crate) fn owner_tag(&self) -> usize {
        match self {
            Domain::Mock(m) => Arc::as_ptr(m) as usize,
            Domain::Real(r) => Arc::as_ptr(r) as usize,
        }
    }
}
