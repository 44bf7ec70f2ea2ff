// SPDX-License-Identifier: GPL-2.0

//! Pure logic of the user API, depending only on `core` and unit-tested on the host
//! (`tests/host`) as well as compiled into the module: the structure mirrors and their
//! argument checks ([`abi`], re-exported here), the size rules of every ioctl
//! ([`ucmd`]), the IOVA arithmetic and allocator ([`iova`]), the dirty-bitmap arithmetic
//! ([`dirty`]), the rules of `IOMMU_HW_QUEUE_ALLOC` ([`hw_queue`]), the rules of an
//! event queue's file ([`eventq`]), the mock IOMMU's stage-1 table format and translation
//! cache ([`mock_s1`]), the VFIO type1 compatibility uAPI ([`vfio`]) and the PASID ranges
//! of `IOASID_PASID_ALLOC` ([`pasid`]).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

mod abi;
pub(crate) mod dirty;
pub(crate) mod eventq;
pub(crate) mod hw_queue;
pub(crate) mod iova;
pub(crate) mod mock_s1;
pub(crate) mod pasid;
pub(crate) mod ucmd;
pub(crate) mod vfio;

pub(crate) use abi::*;
