// SPDX-License-Identifier: GPL-2.0

//! Real IOMMU domains: a paging `iommu_domain` of the IOMMU driver behind a bound PCI
//! device, seen by the IOAS through [`HwDomain`].
//!
//! The IOMMU core picks the IOPTE sizes: a contiguous run of physical pages handed to
//! [`HwDomain::map`] in one call becomes the largest IOPTEs the alignment allows (2 MiB
//! ones for 2 MiB-backed memory when the IOAS allows huge pages).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{HwDomain, PROT_READ, PROT_WRITE};
use crate::{
    error::refuse,
    ffi::{
        iommu::{IommuDomain, IommuGroup, PciDev},
        PinnedRun,
    },
    uapi::iova::Span,
};
use kernel::{bindings, prelude::*, sync::Arc};

/// A paging domain of a real IOMMU.
///
/// # Invariants
///
/// `aperture`, `page_sizes` and `min_page` are the domain's geometry at allocation (they
/// never change); `min_page` is a power of two, the smallest of `page_sizes`.
pub(crate) struct RealDomain {
    domain: Arc<IommuDomain>,
    aperture: Span,
    page_sizes: u64,
    min_page: u64,
}

impl RealDomain {
    /// A new paging domain for `dev`'s IOMMU with `IOMMU_HWPT_ALLOC_*` `flags`, with the
    /// device's software MSI window at `sw_msi` (arm64) set up.
    ///
    /// # Errors
    ///
    /// The driver's refusal (for example `EOPNOTSUPP` for a flag it cannot honour),
    /// `EINVAL` for a domain without page sizes or aperture, `ENOMEM`.
    pub(crate) fn new(dev: &PciDev, flags: u32, sw_msi: Option<u64>) -> Result<Arc<Self>> {
        let domain = dev.alloc_domain(flags).or_else(|e| {
            refuse!(
                e,
                "{}: the IOMMU driver refused a paging domain (flags {:#x}): {:?}\n",
                dev.name(),
                flags,
                e
            )
        })?;
        Self::with_domain(domain, sw_msi)
    }

    /// A new paging domain for the IOMMU of `group` (a VFIO container's group), with the
    /// group's software MSI window at `sw_msi` set up.
    ///
    /// # Errors
    ///
    /// As [`RealDomain::new`]; `ENODEV` for a group without devices.
    pub(crate) fn for_group(group: &IommuGroup, sw_msi: Option<u64>) -> Result<Arc<Self>> {
        let domain = group.alloc_domain(0).or_else(|e| {
            refuse!(
                e,
                "vfio: the IOMMU driver refused a paging domain for a group: {:?}\n",
                e
            )
        })?;
        Self::with_domain(domain, sw_msi)
    }

    fn with_domain(mut domain: IommuDomain, sw_msi: Option<u64>) -> Result<Arc<Self>> {
        if let Some(base) = sw_msi {
            domain.msi_cookie(base)?;
        }
        let (start, end, sizes) = domain.info();
        if sizes == 0 || start > end {
            return refuse!(EINVAL, "the domain has no page sizes or no aperture\n");
        }
        // INVARIANT: the lowest set bit of a non-zero bitmap is a power of two.
        Ok(Arc::new(
            RealDomain {
                domain: Arc::new(domain, GFP_KERNEL)?,
                aperture: Span { start, last: end },
                page_sizes: sizes,
                min_page: 1 << sizes.trailing_zeros(),
            },
            GFP_KERNEL,
        )?)
    }

    /// The domain, for attaching devices (each attachment holds a reference).
    pub(crate) fn iommu_domain(&self) -> &Arc<IommuDomain> {
        &self.domain
    }
}

impl HwDomain for RealDomain {
    fn aperture(&self) -> Span {
        self.aperture
    }

    fn min_page_size(&self) -> u64 {
        self.min_page
    }

    fn page_sizes(&self) -> u64 {
        self.page_sizes
    }

    fn map(&self, iova: u64, run: &PinnedRun<'_>, prot: u32) -> Result {
        // Bound devices are cache coherent (checked at bind): ask for coherent IOPTEs.
        let mut p = bindings::IOMMU_CACHE;
        if prot & PROT_READ != 0 {
            p |= bindings::IOMMU_READ;
        }
        if prot & PROT_WRITE != 0 {
            p |= bindings::IOMMU_WRITE;
        }
        self.domain.map(iova, run, p)
    }

    fn unmap(&self, iova: u64, len: u64) -> u64 {
        self.domain.unmap(iova, len)
    }

    fn iova_to_phys(&self, iova: u64) -> Option<u64> {
        match self.domain.iova_to_phys(iova) {
            0 => None,
            p => Some(p),
        }
    }
}
