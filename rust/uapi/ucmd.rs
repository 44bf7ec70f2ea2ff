// SPDX-License-Identifier: GPL-2.0

//! The ioctl numbers, named as in the uAPI headers, and the size rules that every ioasid
//! ioctl follows.
//!
//! This is pure logic: it depends only on `core`, is compiled into the module and is
//! unit-tested on the host (`tests/host`). It never touches user memory; the dispatcher in
//! `dispatch.rs` feeds it what it read.
//!
//! The rules, shared with iommufd (see `include/uapi/linux/ioasid.h`, "General ioctl
//! format"):
//!
//! - The command must be exactly one of the numbers below, `_IO(';', nr)`: no direction, no
//!   size bits. Anything else is `ENOTTY`.
//! - The first `u32` of the argument is the caller's `size`. A `size` below the operation's
//!   minimum (the end of its last mandatory field) is `EINVAL`.
//! - Bytes the caller passes beyond the structure the kernel knows must be zero, or `E2BIG`.
//! - A caller's structure shorter than the kernel's (but not shorter than the minimum) is
//!   zero-extended, and output is written back only up to the caller's `size`.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

/// The ioctl type byte shared with iommufd.
pub(crate) const IOMMUFD_TYPE: u32 = b';' as u32;

/// First ioctl number of the iommufd-compatible range.
pub(crate) const IOMMUFD_CMD_BASE: u32 = 0x80;

/// First ioctl number of ioasid's own extensions.
pub(crate) const IOASID_CMD_BASE: u32 = 0xc0;

/// First ioctl number of VFIO's (`VFIO_BASE` of `linux/vfio.h`, same type byte `';'`): the
/// VFIO type1 container ioctls answered on the same file (`rust/objects/vfio_compat.rs`).
pub(crate) const VFIO_BASE: u32 = 100;

/// Why an ioctl was refused before its handler ran; `crate::error` maps
/// [`UcmdError::Inval`] to `EINVAL` and [`UcmdError::TooBig`] to `E2BIG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UcmdError {
    /// The caller's `size` is below the minimum.
    Inval,
    /// The caller passed non-zero bytes beyond the known structure.
    TooBig,
}

/// Encodes `_IO(IOMMUFD_TYPE, nr)` with the generic Linux ioctl layout (x86_64 and arm64):
/// direction `_IOC_NONE` (0) in bits 30-31, size 0 in bits 16-29, type in bits 8-15, number
/// in bits 0-7. The module checks at compile time that this equals `kernel::ioctl::_IO`.
pub(crate) const fn io(nr: u32) -> u32 {
    (IOMMUFD_TYPE << 8) | (nr & 0xff)
}

/// Declares the ioctl numbers, `_IO(IOMMUFD_TYPE, cmd)` as the header's `#define`s, from
/// the command numbers of the header's `enum`s (each ioctl's `IOMMUFD_CMD_*` or
/// `IOASID_CMD_*`), and (for the host test, which compares each with the C headers) the
/// list of them by name.
macro_rules! ioctls {
    ($($(#[$m:meta])* $name:ident = $cmd:expr;)*) => {
        $($(#[$m])* pub(crate) const $name: u32 = io($cmd);)*

        /// Every ioctl number with its uAPI name.
        #[cfg(test)]
        pub(crate) const IOCTLS: &[(&str, u32)] = &[$((stringify!($name), $name)),*];
    };
}

ioctls! {
    /// `IOMMU_DESTROY`: destroy an object.
    IOMMU_DESTROY = IOMMUFD_CMD_BASE;
    /// `IOMMU_IOAS_ALLOC`: allocate an IOAS.
    IOMMU_IOAS_ALLOC = 0x81;
    /// `IOMMU_IOAS_ALLOW_IOVAS`: restrict the allocator's IOVAs.
    IOMMU_IOAS_ALLOW_IOVAS = 0x82;
    /// `IOMMU_IOAS_COPY`: map memory already mapped in another IOAS.
    IOMMU_IOAS_COPY = 0x83;
    /// `IOMMU_IOAS_IOVA_RANGES`: the usable IOVA ranges.
    IOMMU_IOAS_IOVA_RANGES = 0x84;
    /// `IOMMU_IOAS_MAP`: map user memory.
    IOMMU_IOAS_MAP = 0x85;
    /// `IOMMU_IOAS_UNMAP`: unmap an IOVA range.
    IOMMU_IOAS_UNMAP = 0x86;
    /// `IOMMU_OPTION`: get or set an option.
    IOMMU_OPTION = 0x87;
    /// `IOMMU_VFIO_IOAS`: get, set or clear the IOAS of the VFIO compatibility ioctls.
    IOMMU_VFIO_IOAS = 0x88;
    /// `IOMMU_HWPT_ALLOC`: allocate a hardware page table.
    IOMMU_HWPT_ALLOC = 0x89;
    /// `IOMMU_GET_HW_INFO`: the IOMMU's information about a device.
    IOMMU_GET_HW_INFO = 0x8a;
    /// `IOMMU_HWPT_SET_DIRTY_TRACKING`: start or stop dirty tracking.
    IOMMU_HWPT_SET_DIRTY_TRACKING = 0x8b;
    /// `IOMMU_HWPT_GET_DIRTY_BITMAP`: read a HWPT's dirty IOVAs.
    IOMMU_HWPT_GET_DIRTY_BITMAP = 0x8c;
    /// `IOMMU_HWPT_INVALIDATE`: invalidate a nested HWPT's caches.
    IOMMU_HWPT_INVALIDATE = 0x8d;
    /// `IOMMU_FAULT_QUEUE_ALLOC`: allocate a queue of I/O page faults.
    IOMMU_FAULT_QUEUE_ALLOC = 0x8e;
    /// `IOMMU_IOAS_MAP_FILE`: map part of a memfd.
    IOMMU_IOAS_MAP_FILE = 0x8f;
    /// `IOMMU_VIOMMU_ALLOC`: allocate a vIOMMU.
    IOMMU_VIOMMU_ALLOC = 0x90;
    /// `IOMMU_VDEVICE_ALLOC`: allocate a vDEVICE.
    IOMMU_VDEVICE_ALLOC = 0x91;
    /// `IOMMU_IOAS_CHANGE_PROCESS`: charge all pins to the calling process.
    IOMMU_IOAS_CHANGE_PROCESS = 0x92;
    /// `IOMMU_VEVENTQ_ALLOC`: allocate a vIOMMU's event queue.
    IOMMU_VEVENTQ_ALLOC = 0x93;
    /// `IOMMU_HW_QUEUE_ALLOC`: allocate a HW queue of a vIOMMU.
    IOMMU_HW_QUEUE_ALLOC = 0x94;
    /// `IOMMU_TEST_CMD` of upstream's `iommufd_test.h` (not uAPI): the test interface.
    IOMMU_TEST_CMD = IOMMUFD_CMD_BASE + 32;
    /// `IOASID_DEVICE_BIND`: bind a device to the context.
    IOASID_DEVICE_BIND = IOASID_CMD_BASE;
    /// `IOASID_DEVICE_ATTACH`: attach a bound device.
    IOASID_DEVICE_ATTACH = IOASID_CMD_BASE + 1;
    /// `IOASID_DEVICE_DETACH`: detach a bound device.
    IOASID_DEVICE_DETACH = IOASID_CMD_BASE + 2;
    /// `IOASID_PASID_ALLOC`: allocate a PASID for the file's devices.
    IOASID_PASID_ALLOC = IOASID_CMD_BASE + 3;
    /// `IOASID_PASID_FREE`: free an allocated PASID.
    IOASID_PASID_FREE = IOASID_CMD_BASE + 4;
    /// `VFIO_GET_API_VERSION` of `linux/vfio.h`: the VFIO API version (a value, no argument).
    VFIO_GET_API_VERSION = VFIO_BASE;
    /// `VFIO_CHECK_EXTENSION`: whether an extension (IOMMU type) is supported (a value).
    VFIO_CHECK_EXTENSION = VFIO_BASE + 1;
    /// `VFIO_SET_IOMMU`: choose the type1 flavour of the compatibility IOAS (a value).
    VFIO_SET_IOMMU = VFIO_BASE + 2;
    /// `VFIO_IOMMU_GET_INFO`: page sizes and the capability chain (`argsz` structure).
    VFIO_IOMMU_GET_INFO = VFIO_BASE + 12;
    /// `VFIO_IOMMU_MAP_DMA`: map user memory at a fixed IOVA (`argsz` structure).
    VFIO_IOMMU_MAP_DMA = VFIO_BASE + 13;
    /// `VFIO_IOMMU_UNMAP_DMA`: unmap an IOVA range, or everything (`argsz` structure).
    VFIO_IOMMU_UNMAP_DMA = VFIO_BASE + 14;
}

/// Checks the caller's `size` against an operation whose kernel structure has `size`
/// bytes, the last mandatory field ending at `min_size`. Returns how many bytes to copy in
/// from the caller (and later back out): the smaller of the two sizes.
///
/// # Errors
///
/// [`UcmdError::Inval`] if `user_size < min_size`.
pub(crate) const fn check_size(
    user_size: u32,
    min_size: usize,
    size: usize,
) -> Result<usize, UcmdError> {
    let user_size = user_size as usize;
    if user_size < min_size {
        return Err(UcmdError::Inval);
    }
    Ok(if user_size < size { user_size } else { size })
}

/// Checks one chunk of the caller's bytes beyond the known structure.
///
/// # Errors
///
/// [`UcmdError::TooBig`] if any byte is non-zero.
pub(crate) fn check_trailing(bytes: &[u8]) -> Result<(), UcmdError> {
    if bytes.iter().all(|&b| b == 0) {
        Ok(())
    } else {
        Err(UcmdError::TooBig)
    }
}

/// Checks the length of driver data passed with a type (`IOMMU_HWPT_ALLOC`'s `data_len`,
/// one entry of an `IOMMU_HWPT_INVALIDATE` array) against a structure whose first version
/// ends at `min_size` and whose current one has `size` bytes, as Linux 7.3's
/// `iommu_copy_struct_from_user()`: returns how many bytes to copy in (zero-extended to
/// `size`).
///
/// # Errors
///
/// [`UcmdError::Inval`] if `user_len` is below `min_size` or above `size`.
pub(crate) const fn check_data_len(
    user_len: u32,
    min_size: usize,
    size: usize,
) -> Result<usize, UcmdError> {
    let user_len = user_len as usize;
    if user_len < min_size || user_len > size {
        return Err(UcmdError::Inval);
    }
    Ok(user_len)
}

/// Most entries one `IOMMU_HWPT_INVALIDATE` takes (iommufd's
/// `IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX`): one call cannot hold the CPU for long.
pub(crate) const INVALIDATE_ENTRY_NUM_MAX: u32 = 1 << 19;

/// Checks an `IOMMU_HWPT_INVALIDATE` array before any entry is read: with entries, the
/// pointer must be set and each entry between 1 byte and a page long, and the count is
/// bounded. An empty array only probes the data type.
///
/// # Errors
///
/// [`UcmdError::Inval`] if a bound is broken.
pub(crate) const fn check_entry_array(
    entry_num: u32,
    data_uptr: u64,
    entry_len: u32,
    page_size: usize,
) -> Result<(), UcmdError> {
    if entry_num != 0
        && (data_uptr == 0
            || entry_len == 0
            || entry_len as usize > page_size
            || entry_num > INVALIDATE_ENTRY_NUM_MAX)
    {
        return Err(UcmdError::Inval);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_matches_the_generic_linux_encoding() {
        // IOMMU_DESTROY as the C preprocessor computes it on x86_64 and arm64.
        assert_eq!(io(0x80), 0x3b80);
        assert_eq!(io(IOASID_CMD_BASE), 0x3bc0);
    }

    #[test]
    fn every_ioctl_is_a_plain_io_command_with_a_unique_number() {
        for (i, (name, cmd)) in IOCTLS.iter().enumerate() {
            // No direction and no size bits: `_IO(IOMMUFD_TYPE, nr)`.
            assert_eq!(*cmd, io(cmd & 0xff), "{name}");
            assert!(IOCTLS[..i].iter().all(|(_, c)| c != cmd), "{name}");
        }
        assert_eq!(IOMMU_IOAS_MAP, 0x3b85);
        assert_eq!(IOASID_DEVICE_DETACH, 0x3bc2);
    }

    #[test]
    fn size_below_minimum_is_inval() {
        assert_eq!(check_size(0, 8, 16), Err(UcmdError::Inval));
        assert_eq!(check_size(7, 8, 16), Err(UcmdError::Inval));
    }

    #[test]
    fn size_between_minimum_and_struct_copies_the_user_size() {
        assert_eq!(check_size(8, 8, 16), Ok(8));
        assert_eq!(check_size(12, 8, 16), Ok(12));
        assert_eq!(check_size(16, 8, 16), Ok(16));
    }

    #[test]
    fn size_above_struct_copies_the_struct() {
        assert_eq!(check_size(17, 8, 16), Ok(16));
        assert_eq!(check_size(u32::MAX, 8, 16), Ok(16));
    }

    #[test]
    fn driver_data_must_cover_the_first_version_and_not_exceed_the_known_one() {
        assert_eq!(check_data_len(0, 4, 8), Err(UcmdError::Inval));
        assert_eq!(check_data_len(3, 4, 8), Err(UcmdError::Inval));
        assert_eq!(check_data_len(4, 4, 8), Ok(4));
        assert_eq!(check_data_len(8, 4, 8), Ok(8));
        // Longer than the kernel's structure: refused whatever the tail holds (7.3).
        assert_eq!(check_data_len(9, 4, 8), Err(UcmdError::Inval));
    }

    #[test]
    fn entry_arrays_are_bounded_unless_empty() {
        let page = 4096;
        // An empty array probes the type: nothing else is looked at.
        assert_eq!(check_entry_array(0, 0, 0, page), Ok(()));
        assert_eq!(check_entry_array(0, 0, u32::MAX, page), Ok(()));
        assert_eq!(check_entry_array(1, 0x1000, 8, page), Ok(()));
        assert_eq!(check_entry_array(1, 0, 8, page), Err(UcmdError::Inval));
        assert_eq!(check_entry_array(1, 0x1000, 0, page), Err(UcmdError::Inval));
        assert_eq!(check_entry_array(1, 0x1000, 4096, page), Ok(()));
        assert_eq!(
            check_entry_array(1, 0x1000, 4097, page),
            Err(UcmdError::Inval)
        );
        assert_eq!(
            check_entry_array(INVALIDATE_ENTRY_NUM_MAX, 0x1000, 8, page),
            Ok(())
        );
        assert_eq!(
            check_entry_array(INVALIDATE_ENTRY_NUM_MAX + 1, 0x1000, 8, page),
            Err(UcmdError::Inval)
        );
    }

    #[test]
    fn trailing_bytes_must_be_zero() {
        assert_eq!(check_trailing(&[]), Ok(()));
        assert_eq!(check_trailing(&[0; 64]), Ok(()));
        let mut b = [0u8; 64];
        b[63] = 1;
        assert_eq!(check_trailing(&b), Err(UcmdError::TooBig));
    }
}
