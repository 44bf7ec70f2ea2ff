// SPDX-License-Identifier: GPL-2.0

//! Rust mirrors of upstream's test interface (`struct iommu_test_cmd` of
//! `drivers/iommu/iommufd/iommufd_test.h`, not uAPI): the command header and the members of
//! its union that ioasid implements. A child of [`super`] (the mirrors of the uAPI header),
//! whose `uapi_struct!` it uses; re-exported from there.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::Field;

uapi_struct! {
    /// `struct iommu_test_cmd` of upstream's `iommufd_test.h`: the common header, the
    /// `add_reserved` member of its union (72 bytes with the largest member) and `last`.
    IommuTestCmd size 72 {
        size: u32 = 0,
        op: u32 = 4,
        id: u32 = 8,
        reserved: u32 = 12,
        start: u64 = 16,
        length: u64 = 24,
        // The rest of the union, carried through unchanged.
        union_32: u64 = 32,
        union_40: u64 = 40,
        union_48: u64 = 48,
        union_56: u64 = 56,
        last: u32 = 64,
        tail_padding: u32 = 68,
    }
}

/// Declares the mirror of one member of `struct iommu_test_cmd`'s union: its fields at
/// their offsets in the whole command (the union starts at 16), read from and written to
/// the command's bytes like [`uapi_struct!`]'s. The host test checks the offsets against
/// upstream's `iommufd_test.h`.
macro_rules! test_op {
    ($(#[$m:meta])* $name:ident member $member:literal {
        $($(#[$fm:meta])* $field:ident: $ty:ty = $off:literal),* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub(crate) struct $name {
            $($(#[$fm])* pub(crate) $field: $ty,)*
        }

        const _: () = {
            $(assert!(
                $off >= 16 && $off + core::mem::size_of::<$ty>() <= IommuTestCmd::SIZE - 8
            );)*
        };

        #[allow(dead_code)]
        impl $name {
            /// Reads the member from the command's bytes.
            pub(crate) fn read(b: &[u8]) -> Self {
                Self { $($field: <$ty as Field>::get(b, $off),)* }
            }

            /// Writes the member to the command's bytes.
            pub(crate) fn write(&self, b: &mut [u8]) {
                $(<$ty as Field>::put(self.$field, b, $off);)*
            }

            /// The union member's name in `struct iommu_test_cmd`.
            #[cfg(test)]
            pub(crate) const MEMBER: &'static str = $member;

            /// Field names and offsets in the command, for the host test.
            #[cfg(test)]
            pub(crate) const LAYOUT: &'static [(&'static str, usize)] =
                &[$((stringify!($field), $off)),*];
        }
    };
}

test_op! {
    /// `mock_domain_flags` (and `mock_domain`, its first three fields): a new mock device.
    TestMockDomain member "mock_domain_flags" {
        out_stdev_id: u32 = 16,
        out_hwpt_id: u32 = 20,
        out_idev_id: u32 = 24,
        dev_flags: u32 = 28,
    }
}

test_op! {
    /// `mock_domain_replace`: moves a mock device to another HWPT or IOAS.
    TestMockDomainReplace member "mock_domain_replace" {
        pt_id: u32 = 16,
    }
}

test_op! {
    /// `check_map`: the mock domain's translation of a range.
    TestCheckMap member "check_map" {
        iova: u64 = 16,
        length: u64 = 24,
        uptr: u64 = 32,
    }
}

test_op! {
    /// `check_refs`: the pin count of user pages.
    TestCheckRefs member "check_refs" {
        length: u64 = 16,
        uptr: u64 = 24,
        refs: u32 = 32,
    }
}

test_op! {
    /// `create_access`: a new in-kernel access, as a file.
    TestCreateAccess member "create_access" {
        out_access_fd: u32 = 16,
        flags: u32 = 20,
    }
}

test_op! {
    /// `destroy_access_pages`: unpins what an access pinned.
    TestDestroyAccessPages member "destroy_access_pages" {
        access_pages_id: u32 = 16,
    }
}

test_op! {
    /// `access_pages`: pins a range through an access.
    TestAccessPages member "access_pages" {
        flags: u32 = 16,
        out_access_pages_id: u32 = 20,
        iova: u64 = 24,
        length: u64 = 32,
        uptr: u64 = 40,
    }
}

test_op! {
    /// `access_rw`: copies through an access (also the shape of ioasid's own mock DMA op).
    TestAccessRw member "access_rw" {
        iova: u64 = 16,
        length: u64 = 24,
        uptr: u64 = 32,
        flags: u32 = 40,
    }
}

test_op! {
    /// `dirty`: marks the IOPTEs of the set bits of a bitmap dirty in a mock domain.
    TestDirty member "dirty" {
        flags: u32 = 16,
        iova: u64 = 24,
        length: u64 = 32,
        page_size: u64 = 40,
        uptr: u64 = 48,
        out_nr_dirty: u64 = 56,
    }
}

test_op! {
    /// `memory_limit`: the pinning batch's memory limit.
    TestMemoryLimit member "memory_limit" {
        limit: u32 = 16,
    }
}

test_op! {
    /// `access_replace_ioas`: moves an access to another IOAS.
    TestAccessReplaceIoas member "access_replace_ioas" {
        ioas_id: u32 = 16,
    }
}

test_op! {
    /// `check_dev_cache`: the value of a mock device's cache entry.
    TestCheckDevCache member "check_dev_cache" {
        id: u32 = 16,
        cache: u32 = 20,
    }
}

test_op! {
    /// `trigger_iopf`: a mock device raises a page request.
    TestTriggerIopf member "trigger_iopf" {
        dev_id: u32 = 16,
        pasid: u32 = 20,
        grpid: u32 = 24,
        perm: u32 = 28,
        addr: u64 = 32,
    }
}

test_op! {
    /// `check_iotlb`: the value of a mock nested domain's IOTLB entry.
    TestCheckIotlb member "check_iotlb" {
        id: u32 = 16,
        iotlb: u32 = 20,
    }
}

test_op! {
    /// `pasid_attach` (and `pasid_replace`, the same shape): attach PASID `pasid` of a mock
    /// device to `pt_id`.
    TestPasidAttach member "pasid_attach" {
        pasid: u32 = 16,
        pt_id: u32 = 20,
    }
}

test_op! {
    /// `pasid_detach`: detach PASID `pasid` of a mock device.
    TestPasidDetach member "pasid_detach" {
        pasid: u32 = 16,
    }
}

test_op! {
    /// `pasid_check`: PASID `pasid` of a mock device is attached to HWPT `hwpt_id` (0:
    /// detached).
    TestPasidCheck member "pasid_check" {
        pasid: u32 = 16,
        hwpt_id: u32 = 20,
    }
}

test_op! {
    /// ioasid's own `IOASID_TEST_OP_MOCK_DMA` (not upstream's): `access_rw`'s shape, plus
    /// the PASID the DMA is tagged with (with `IOASID_MOCK_DMA_PASID`).
    TestMockDma member "mock_dma" {
        iova: u64 = 16,
        length: u64 = 24,
        uptr: u64 = 32,
        flags: u32 = 40,
        pasid: u32 = 44,
    }
}
