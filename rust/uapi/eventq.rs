// SPDX-License-Identifier: GPL-2.0

//! The rules of an event queue's file (`IOMMU_FAULT_QUEUE_ALLOC`): how many bytes a read
//! or write must ask for, how many whole fault groups a read returns, which response codes
//! are valid and how cookies are chosen. Pure arithmetic, also tested on the host; the
//! queue itself is [`crate::objects::fault`].

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::uapi::{IommuHwptPageResponse, IommuHwptPgfault};

/// `IOMMU_PGFAULT_FLAGS_PASID_VALID`: the fault's `pasid` is valid.
pub(crate) const PGFAULT_PASID_VALID: u32 = 1 << 0;
/// `IOMMU_PGFAULT_FLAGS_LAST_PAGE`: the last fault of its group.
pub(crate) const PGFAULT_LAST_PAGE: u32 = 1 << 1;
/// `IOMMU_PGFAULT_PERM_READ`.
pub(crate) const PGFAULT_PERM_READ: u32 = 1 << 0;
/// `IOMMU_PGFAULT_PERM_WRITE`.
pub(crate) const PGFAULT_PERM_WRITE: u32 = 1 << 1;
/// `IOMMUFD_PAGE_RESP_SUCCESS`: the fault was handled, the device retries.
pub(crate) const PAGE_RESP_SUCCESS: u32 = 0;
/// `IOMMUFD_PAGE_RESP_INVALID`: the fault cannot be handled, the device gives up.
pub(crate) const PAGE_RESP_INVALID: u32 = 1;

/// Why a read or write of an event queue's file is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventqError {
    /// A file position other than 0, or a length that is not a whole number of records
    /// (`ESPIPE`, as iommufd).
    Spipe,
    /// The buffer cannot hold the first whole group, an unknown response code, or a
    /// cookie that names no fault group waiting for a response (`EINVAL`).
    Inval,
}

/// Checks a read of `count` bytes at position `pos` and returns how many of the pending
/// groups, whose sizes in faults `groups` lists oldest first, it returns: as many whole
/// groups as fit, in order. Nothing pending reads 0 bytes.
///
/// # Errors
///
/// [`EventqError::Spipe`] for `pos != 0` or a `count` that is not a multiple of the
/// record; [`EventqError::Inval`] when the oldest group does not fit.
pub(crate) fn plan_read(
    count: usize,
    pos: i64,
    groups: impl Iterator<Item = usize>,
) -> Result<usize, EventqError> {
    let rec = IommuHwptPgfault::SIZE;
    if pos != 0 || !count.is_multiple_of(rec) {
        return Err(EventqError::Spipe);
    }
    let mut left = count / rec;
    let mut n = 0;
    let mut pending = false;
    for faults in groups {
        pending = true;
        if faults > left {
            break;
        }
        left -= faults;
        n += 1;
    }
    if pending && n == 0 {
        return Err(EventqError::Inval);
    }
    Ok(n)
}

/// Checks a write of `count` bytes at position `pos` and returns how many responses it
/// holds.
///
/// # Errors
///
/// [`EventqError::Spipe`] for `pos != 0` or a `count` that is not a multiple of
/// `struct iommu_hwpt_page_response`.
pub(crate) fn plan_write(count: usize, pos: i64) -> Result<usize, EventqError> {
    let rec = IommuHwptPageResponse::SIZE;
    if pos != 0 || !count.is_multiple_of(rec) {
        return Err(EventqError::Spipe);
    }
    Ok(count / rec)
}

/// Checks a response code.
///
/// # Errors
///
/// [`EventqError::Inval`] for a code other than SUCCESS and INVALID.
pub(crate) fn check_response_code(code: u32) -> Result<(), EventqError> {
    match code {
        PAGE_RESP_SUCCESS | PAGE_RESP_INVALID => Ok(()),
        _ => Err(EventqError::Inval),
    }
}

/// The next cookie after `last` that `in_use` does not report: cookies count up from 1,
/// skip 0 and wrap, so a cookie is not reused while its group waits, nor soon after.
/// `None` only when every cookie is in use.
pub(crate) fn next_cookie(last: u32, in_use: impl Fn(u32) -> bool) -> Option<u32> {
    let mut c = last;
    for _ in 0..u32::MAX {
        c = c.wrapping_add(1);
        if c != 0 && !in_use(c) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: usize = IommuHwptPgfault::SIZE;

    #[test]
    fn reads_whole_groups_that_fit() {
        assert_eq!(plan_read(3 * REC, 0, [1, 2, 1].into_iter()), Ok(2));
        assert_eq!(plan_read(4 * REC, 0, [1, 2, 1].into_iter()), Ok(3));
        assert_eq!(plan_read(2 * REC, 0, [1, 2].into_iter()), Ok(1));
        assert_eq!(plan_read(REC, 0, core::iter::empty()), Ok(0));
    }

    #[test]
    fn a_first_group_too_big_is_inval() {
        assert_eq!(plan_read(REC, 0, [2].into_iter()), Err(EventqError::Inval));
        assert_eq!(plan_read(0, 0, [1].into_iter()), Err(EventqError::Inval));
        assert_eq!(plan_read(0, 0, core::iter::empty()), Ok(0));
    }

    #[test]
    fn partial_records_and_positions_are_spipe() {
        assert_eq!(
            plan_read(REC - 1, 0, [1].into_iter()),
            Err(EventqError::Spipe)
        );
        assert_eq!(plan_read(REC, 8, [1].into_iter()), Err(EventqError::Spipe));
        assert_eq!(plan_write(12, 0), Err(EventqError::Spipe));
        assert_eq!(plan_write(8, 1), Err(EventqError::Spipe));
        assert_eq!(plan_write(24, 0), Ok(3));
    }

    #[test]
    fn only_two_response_codes() {
        assert_eq!(check_response_code(PAGE_RESP_SUCCESS), Ok(()));
        assert_eq!(check_response_code(PAGE_RESP_INVALID), Ok(()));
        assert_eq!(check_response_code(2), Err(EventqError::Inval));
    }

    #[test]
    fn cookies_skip_zero_and_those_in_use() {
        assert_eq!(next_cookie(0, |_| false), Some(1));
        assert_eq!(next_cookie(u32::MAX, |_| false), Some(1));
        assert_eq!(next_cookie(1, |c| c == 2 || c == 3), Some(4));
    }
}
