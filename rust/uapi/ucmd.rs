// SPDX-License-Identifier: GPL-2.0

//! Decoding of ioctl numbers and the size rules that every ioasid ioctl follows.
//!
//! This is pure logic: it depends only on `core`, is compiled into the module and is
//! unit-tested on the host (`tests/host`). It never touches user memory; the dispatcher in
//! `dispatch.rs` feeds it what it read.
//!
//! The rules, shared with iommufd (see `include/uapi/linux/ioasid.h`, "General ioctl
//! format"):
//!
//! - The command must be exactly `_IO(';', nr)`: no direction, no size bits. Anything else,
//!   and any `nr` without a table entry, is `ENOTTY`.
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

/// Why an ioctl was refused before its handler ran. The dispatcher maps each variant to an
/// errno: [`UcmdError::NoTty`] to `ENOTTY`, [`UcmdError::Inval`] to `EINVAL` and
/// [`UcmdError::TooBig`] to `E2BIG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UcmdError {
    /// The command is not one of ours.
    NoTty,
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

/// Returns the ioctl number of `cmd` if `cmd` is exactly `_IO(IOMMUFD_TYPE, nr)`.
///
/// # Errors
///
/// [`UcmdError::NoTty`] for any other type, direction or size bits.
pub(crate) const fn decode(cmd: u32) -> Result<u32, UcmdError> {
    let nr = cmd & 0xff;
    if cmd == io(nr) {
        Ok(nr)
    } else {
        Err(UcmdError::NoTty)
    }
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
    fn decode_accepts_only_plain_io_commands() {
        assert_eq!(decode(io(0x87)), Ok(0x87));
        // Same number with a direction or size, or another type: not ours.
        assert_eq!(decode(io(0x87) | (1 << 30)), Err(UcmdError::NoTty));
        assert_eq!(decode(io(0x87) | (8 << 16)), Err(UcmdError::NoTty));
        assert_eq!(decode(0x7c80), Err(UcmdError::NoTty));
        assert_eq!(decode(0), Err(UcmdError::NoTty));
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
    fn trailing_bytes_must_be_zero() {
        assert_eq!(check_trailing(&[]), Ok(()));
        assert_eq!(check_trailing(&[0; 64]), Ok(()));
        let mut b = [0u8; 64];
        b[63] = 1;
        assert_eq!(check_trailing(&b), Err(UcmdError::TooBig));
    }
}
