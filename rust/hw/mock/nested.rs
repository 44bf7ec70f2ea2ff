// SPDX-License-Identifier: GPL-2.0

//! The mock IOMMU's nested domains, with the ABI of upstream iommufd's selftest
//! (`iommufd_test.h`): data type `IOMMU_HWPT_DATA_SELFTEST` (`struct iommu_hwpt_selftest`)
//! makes a nested domain on a mock nest-parent domain, with a 4-entry mock IOTLB whose
//! entries all start at the value the user gave; `IOMMU_HWPT_INVALIDATE` with
//! `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST` entries (`struct iommu_hwpt_invalidate_selftest`)
//! clears one entry or all of them, and `IOMMU_TEST_OP_MD_CHECK_IOTLB` reads one back.
//!
//! Stage 1 of this data type is the identity: a mock device attached to such a domain
//! reaches what the parent (stage 2) maps at the same address.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::MockDomain;
use crate::{
    error::refuse,
    hw::{UserData, UserDataArray},
    uapi::{IommuHwptInvalidateSelftest, IommuHwptSelftest},
};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// `IOMMU_HWPT_DATA_SELFTEST`: the mock's nested HWPT data type.
pub(crate) const IOMMU_HWPT_DATA_SELFTEST: u32 = 0xdead;
/// `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST`: the mock's invalidation entry type.
pub(crate) const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST: u32 = 0xdead_beef;
/// `IOMMU_TEST_INVALIDATE_FLAG_ALL`: invalidate every entry (`iotlb_id` ignored).
const INVALIDATE_FLAG_ALL: u32 = 1 << 0;
/// `MOCK_NESTED_DOMAIN_IOTLB_NUM`: entries of the mock IOTLB.
pub(crate) const IOTLB_NUM: usize = 4;

/// A mock nested domain.
#[pin_data]
pub(crate) struct MockNested {
    /// The stage-2 (nest parent) domain.
    parent: Arc<MockDomain>,
    /// The mock IOTLB; a mutex because invalidations and checks may run concurrently.
    #[pin]
    iotlb: Mutex<[u32; IOTLB_NUM]>,
}

impl MockNested {
    /// A nested domain on `parent` from the user's `data`.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` for a data type other than `IOMMU_HWPT_DATA_SELFTEST`; `EINVAL` when the
    /// data is shorter than its first version or longer than the structure; `EFAULT`;
    /// `ENOMEM`.
    pub(crate) fn new(parent: Arc<MockDomain>, data: &UserData) -> Result<Arc<Self>> {
        if data.kind != IOMMU_HWPT_DATA_SELFTEST {
            return refuse!(
                EOPNOTSUPP,
                "hwpt_alloc: the mock IOMMU has no nested data type {:#x}\n",
                data.kind
            );
        }
        let cfg = IommuHwptSelftest::read(&data.read::<{ IommuHwptSelftest::SIZE }>(
            IOMMU_HWPT_DATA_SELFTEST,
            crate::uapi::offsetofend!(IommuHwptSelftest, iotlb),
        )?);
        Arc::pin_init(
            pin_init!(Self {
                parent,
                iotlb <- new_mutex!([cfg.iotlb; IOTLB_NUM]),
            }),
            GFP_KERNEL,
        )
    }

    /// IOTLB entry `id`.
    pub(crate) fn iotlb(&self, id: usize) -> Option<u32> {
        self.iotlb.lock().get(id).copied()
    }

    /// DMA by a mock device attached to this domain: stage 1 is the identity, stage 2 the
    /// parent's table ([`MockDomain::dma`]).
    pub(crate) fn dma(&self, iova: u64, buf: &mut [u8], write: bool) -> Result {
        self.parent.dma(iova, buf, write)
    }

    /// `IOMMU_HWPT_INVALIDATE`: handles the entries of `array` in order and stops at the
    /// first that fails; returns how many were handled and the error, if any.
    ///
    /// Errors: `EINVAL` for another entry type (even with no entry), an entry of the wrong
    /// length or an `iotlb_id` beyond the IOTLB; `EOPNOTSUPP` for unknown flags; `EFAULT`.
    pub(crate) fn invalidate(&self, array: &UserDataArray) -> (u32, Result) {
        if array.kind != IOMMU_HWPT_INVALIDATE_DATA_SELFTEST {
            return (
                0,
                refuse!(
                    EINVAL,
                    "hwpt_invalidate: the mock IOMMU has no invalidation type {:#x}\n",
                    array.kind
                ),
            );
        }
        for i in 0..array.num {
            let entry = array.entry::<{ IommuHwptInvalidateSelftest::SIZE }>(
                i,
                crate::uapi::offsetofend!(IommuHwptInvalidateSelftest, iotlb_id),
            );
            let inv = match entry {
                Ok(bytes) => IommuHwptInvalidateSelftest::read(&bytes),
                Err(e) => return (i, Err(e)),
            };
            if inv.flags & !INVALIDATE_FLAG_ALL != 0 {
                return (
                    i,
                    refuse!(
                        EOPNOTSUPP,
                        "hwpt_invalidate: entry {}: unknown flags {:#x}\n",
                        i,
                        inv.flags
                    ),
                );
            }
            let mut iotlb = self.iotlb.lock();
            if inv.flags & INVALIDATE_FLAG_ALL != 0 {
                *iotlb = [0; IOTLB_NUM];
            } else if let Some(e) = iotlb.get_mut(inv.iotlb_id as usize) {
                *e = 0;
            } else {
                drop(iotlb);
                return (
                    i,
                    refuse!(
                        EINVAL,
                        "hwpt_invalidate: entry {}: no IOTLB entry {}\n",
                        i,
                        inv.iotlb_id
                    ),
                );
            }
        }
        (array.num, Ok(()))
    }
}
