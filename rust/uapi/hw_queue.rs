// SPDX-License-Identifier: GPL-2.0

//! The arithmetic and rules of `IOMMU_HW_QUEUE_ALLOC`, as upstream iommufd applies them:
//! the argument checks, the page-aligned range its memory is pinned as, and the mock
//! vIOMMU's index rules (queues are allocated from index 0 up, one per index).
//! Pure logic: `core` only, unit-tested on the host.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::iova::Span;

/// `IOMMU_HW_QUEUE_TYPE_DEFAULT`: reserved, always refused.
pub(crate) const IOMMU_HW_QUEUE_TYPE_DEFAULT: u32 = 0;
/// `IOMMU_HW_QUEUE_TYPE_SELFTEST` (`iommufd_test.h`): the mock vIOMMU's queue type.
pub(crate) const IOMMU_HW_QUEUE_TYPE_SELFTEST: u32 = 0xdead_beef;
/// `IOMMU_TEST_HW_QUEUE_MAX`: the mock vIOMMU's number of queue indexes.
pub(crate) const IOMMU_TEST_HW_QUEUE_MAX: usize = 2;

/// Why a HW queue allocation is refused (each has one errno, in `crate::error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HwQueueError {
    /// Unknown flags or the reserved type (`EOPNOTSUPP`).
    NotSupported,
    /// A zero length, or an index beyond the queues the vIOMMU has (`EINVAL`).
    Inval,
    /// The queue's last byte is past `u64::MAX` (`EOVERFLOW`).
    Overflow,
    /// The page-aligned range around the queue does not fit (`ERANGE`).
    Range,
    /// The index is taken (`EEXIST`).
    Exist,
    /// The queue of the index below does not exist (`EIO`).
    Io,
}

/// The checks made before the vIOMMU is looked up: returns the queue's span.
///
/// # Errors
///
/// [`HwQueueError::NotSupported`], [`HwQueueError::Inval`] (zero length),
/// [`HwQueueError::Overflow`], in that order.
pub(crate) fn check_args(
    flags: u32,
    queue_type: u32,
    iova: u64,
    length: u64,
) -> Result<Span, HwQueueError> {
    if flags != 0 || queue_type == IOMMU_HW_QUEUE_TYPE_DEFAULT {
        return Err(HwQueueError::NotSupported);
    }
    if length == 0 {
        return Err(HwQueueError::Inval);
    }
    let last = iova.checked_add(length - 1).ok_or(HwQueueError::Overflow)?;
    Ok(Span { start: iova, last })
}

/// The whole pages (of `page_size`, a power of two) around `queue`, which its memory is
/// pinned as, and the queue's offset in the first one.
///
/// # Errors
///
/// [`HwQueueError::Range`] when the length rounded up to whole pages does not fit in a
/// `u64` (upstream's check of `offset + length + PAGE_SIZE - 1`).
pub(crate) fn pin_span(queue: Span, page_size: u64) -> Result<(Span, u64), HwQueueError> {
    let offset = queue.start & (page_size - 1);
    let aligned = queue.start - offset;
    // `offset + length + page_size - 1`, without forming `length` (2^64 for the whole
    // space).
    let rounded = offset
        .checked_add(queue.last - queue.start)
        .and_then(|l| l.checked_add(page_size))
        .ok_or(HwQueueError::Range)?
        & !(page_size - 1);
    let last = aligned
        .checked_add(rounded - 1)
        .ok_or(HwQueueError::Range)?;
    Ok((
        Span {
            start: aligned,
            last,
        },
        offset,
    ))
}

/// The mock vIOMMU's index rules, given the queue IDs by index (0: none): returns the
/// index of the queue the new one follows, if any.
///
/// # Errors
///
/// [`HwQueueError::Inval`] for an index beyond `slots`, [`HwQueueError::Exist`] when it
/// is taken, [`HwQueueError::Io`] when the one below is free, in that order.
pub(crate) fn selftest_index(index: u32, slots: &[u32]) -> Result<Option<usize>, HwQueueError> {
    let i = index as usize;
    if i >= slots.len() {
        return Err(HwQueueError::Inval);
    }
    if slots[i] != 0 {
        return Err(HwQueueError::Exist);
    }
    if i == 0 {
        return Ok(None);
    }
    if slots[i - 1] == 0 {
        return Err(HwQueueError::Io);
    }
    Ok(Some(i - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 4096;

    #[test]
    fn args_are_checked_in_upstream_order() {
        const SELF: u32 = IOMMU_HW_QUEUE_TYPE_SELFTEST;
        assert_eq!(check_args(1, SELF, 0, 0), Err(HwQueueError::NotSupported));
        assert_eq!(check_args(0, 0, 0, 0), Err(HwQueueError::NotSupported));
        assert_eq!(check_args(0, SELF, 0, 0), Err(HwQueueError::Inval));
        assert_eq!(
            check_args(0, SELF, u64::MAX, 2),
            Err(HwQueueError::Overflow)
        );
        assert_eq!(
            check_args(0, SELF, u64::MAX, 1),
            Ok(Span {
                start: u64::MAX,
                last: u64::MAX
            })
        );
        assert_eq!(
            check_args(0, 7, 0x1000, 0x800),
            Ok(Span {
                start: 0x1000,
                last: 0x17ff
            })
        );
    }

    #[test]
    fn the_pinned_range_is_the_whole_pages_around_the_queue() {
        let s = |start, last| Span { start, last };
        assert_eq!(
            pin_span(s(0x1000, 0x1fff), PAGE),
            Ok((s(0x1000, 0x1fff), 0))
        );
        assert_eq!(
            pin_span(s(0x1800, 0x1fff), PAGE),
            Ok((s(0x1000, 0x1fff), 0x800))
        );
        assert_eq!(
            pin_span(s(0x1800, 0x2000), PAGE),
            Ok((s(0x1000, 0x2fff), 0x800))
        );
        assert_eq!(
            pin_span(s(0x1001, 0x1001), PAGE),
            Ok((s(0x1000, 0x1fff), 1))
        );
        // The last page of the address space still fits.
        assert_eq!(
            pin_span(s(u64::MAX - 0xff, u64::MAX), PAGE),
            Ok((s(u64::MAX - 0xfff, u64::MAX), 0xf00))
        );
        // Offset plus length past u64::MAX, or no room to round up.
        assert_eq!(pin_span(s(0x10, u64::MAX), PAGE), Err(HwQueueError::Range));
        assert_eq!(pin_span(s(0, u64::MAX), PAGE), Err(HwQueueError::Range));
        assert_eq!(pin_span(s(0, u64::MAX - 1), PAGE), Err(HwQueueError::Range));
    }

    #[test]
    fn selftest_queues_go_up_from_index_zero_one_per_index() {
        assert_eq!(selftest_index(0, &[0, 0]), Ok(None));
        assert_eq!(selftest_index(1, &[0, 0]), Err(HwQueueError::Io));
        assert_eq!(selftest_index(2, &[0, 0]), Err(HwQueueError::Inval));
        assert_eq!(selftest_index(u32::MAX, &[5, 6]), Err(HwQueueError::Inval));
        assert_eq!(selftest_index(0, &[5, 0]), Err(HwQueueError::Exist));
        assert_eq!(selftest_index(1, &[5, 0]), Ok(Some(0)));
        assert_eq!(selftest_index(1, &[5, 6]), Err(HwQueueError::Exist));
        // Taken wins over a missing predecessor, as upstream checks it first.
        assert_eq!(selftest_index(1, &[0, 6]), Err(HwQueueError::Exist));
    }
}
