// SPDX-License-Identifier: GPL-2.0

//! PASID arithmetic of `IOASID_PASID_ALLOC`: the range a request may allocate from, and
//! the lowest free PASID in it.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

/// Why a requested range cannot be allocated from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeError {
    /// `min_pasid` is above `max_pasid`, or the range lies (partly) outside the space.
    Invalid,
}

/// The PASIDs a request may get: `[min, max]` of the request, or the whole space
/// `[1, 2^width - 1]` when both are 0 (PASID 0 is the RID's, never allocated).
///
/// # Errors
///
/// [`RangeError::Invalid`] for a range that is empty or not inside the space (also every
/// range when `width` is 0 or above 31).
pub(crate) fn range(width: u8, min: u32, max: u32) -> Result<(u32, u32), RangeError> {
    if width == 0 || width > 31 {
        return Err(RangeError::Invalid);
    }
    let last = (1u32 << width) - 1;
    if min == 0 && max == 0 {
        return Ok((1, last));
    }
    if min == 0 || min > max || max > last {
        return Err(RangeError::Invalid);
    }
    Ok((min, max))
}

/// The lowest PASID of `[lo, hi]` that `taken` (sorted ascending, any values) does not
/// hold.
pub(crate) fn lowest_free(taken: &[u32], lo: u32, hi: u32) -> Option<u32> {
    let mut candidate = lo;
    for &t in taken {
        if t < candidate {
            continue;
        }
        if t > candidate {
            break;
        }
        // `t == candidate`: taken, try the next.
        candidate = candidate.checked_add(1)?;
    }
    (candidate <= hi).then_some(candidate)
}
