// SPDX-License-Identifier: GPL-2.0

//! `rust/uapi/pasid.rs` against simple models: the range rules of `IOASID_PASID_ALLOC`
//! and the lowest free PASID, on random sets.

use crate::pasid::{lowest_free, range, RangeError};
use crate::rng::Rng;

#[test]
fn range_rules() {
    // Both 0: the whole space but PASID 0.
    assert_eq!(range(20, 0, 0), Ok((1, (1 << 20) - 1)));
    assert_eq!(range(1, 0, 0), Ok((1, 1)));
    assert_eq!(range(20, 5, 5), Ok((5, 5)));
    assert_eq!(range(20, 1, (1 << 20) - 1), Ok((1, (1 << 20) - 1)));
    // No PASIDs, a width the u32 space cannot hold, PASID 0, an empty range, beyond the space.
    assert_eq!(range(0, 0, 0), Err(RangeError::Invalid));
    assert_eq!(range(32, 0, 0), Err(RangeError::Invalid));
    assert_eq!(range(20, 0, 7), Err(RangeError::Invalid));
    assert_eq!(range(20, 8, 7), Err(RangeError::Invalid));
    assert_eq!(range(20, 1, 1 << 20), Err(RangeError::Invalid));
    assert_eq!(range(31, 1, u32::MAX), Err(RangeError::Invalid));
}

/// The model: try every PASID of the range in order.
fn model(taken: &[u32], lo: u32, hi: u32) -> Option<u32> {
    (lo..=hi).find(|p| !taken.contains(p))
}

#[test]
fn lowest_free_matches_the_model() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..5000 {
        let n = rng.below(40) as usize;
        let mut taken: Vec<u32> = (0..n).map(|_| rng.below(64) as u32).collect();
        // Duplicates are possible in the registry's view of several spaces: allowed.
        taken.sort_unstable();
        let lo = rng.below(64) as u32;
        let hi = lo + rng.below(16) as u32;
        assert_eq!(
            lowest_free(&taken, lo, hi),
            model(&taken, lo, hi),
            "{taken:?} [{lo}, {hi}]"
        );
    }
    // The top of the u32 space.
    assert_eq!(lowest_free(&[u32::MAX], u32::MAX, u32::MAX), None);
    assert_eq!(
        lowest_free(&[u32::MAX - 1], u32::MAX - 1, u32::MAX),
        Some(u32::MAX)
    );
}
