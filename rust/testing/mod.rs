// SPDX-License-Identifier: GPL-2.0

//! The test interface (`IOMMU_TEST_CMD`, module parameter `selftest`): upstream
//! iommufd's test ABI over ioasid's mock IOMMU. Nothing outside this module and the mock
//! devices it creates depends on it being enabled.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

mod pasid;
pub(crate) mod selftest;
