// SPDX-License-Identifier: GPL-2.0

//! Dirty-bitmap arithmetic of `IOMMU_HWPT_GET_DIRTY_BITMAP` (pure logic, host-tested).
//!
//! The user asks for `length` bytes of IOVA from `iova` at a granularity of `page_size`:
//! bit `i` of the bitmap at `data` stands for `[iova + i * page_size, + page_size)`. The
//! bitmap is an array of bytes in little-endian bit order (bit `i` is bit `i % 8` of byte
//! `i / 8`: `unsigned long` bitmaps on the little-endian machines Linux supports for this),
//! so it may start at any byte address. Bits are only ever set, never cleared: the caller
//! zeroes its bitmap first (as with iommufd).
//!
//! The kernel fills the bitmap a window at a time ([`Windows`]): it asks the IOMMU for the
//! dirty IOVA ranges of one window's IOVAs with its locks held, sets the window's bits in a
//! small buffer, releases the locks and only then ORs the buffer into user memory. A dirty
//! IOPTE larger than the page size can reach past the window (a huge IOPTE whose dirty bit
//! the IOMMU reported and cleared once): what lies beyond is carried to the next windows,
//! so each bit it covers is set exactly once, as iommufd's `iova_bitmap` does with its
//! "set ahead" length.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

/// Why a dirty-bitmap request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirtyError {
    /// Zero length or page size, a page size that is not a power of two, or a range not
    /// aligned to the page size or to the IOAS's alignment.
    Inval,
    /// The range wraps around the end of the IOVA space.
    Overflow,
}

/// Checks the range of `IOMMU_HWPT_GET_DIRTY_BITMAP` as iommufd does
/// (`iommufd_check_iova_range`), and that `page_size` is a power of two (iommufd uses only
/// its lowest set bit). `alignment` is the IOAS's IOVA alignment (a power of two). Returns
/// the number of bits.
pub(crate) fn check_range(
    iova: u64,
    length: u64,
    page_size: u64,
    alignment: u64,
) -> Result<u64, DirtyError> {
    if length == 0 {
        return Err(DirtyError::Inval);
    }
    let last = iova.checked_add(length - 1).ok_or(DirtyError::Overflow)?;
    // The end, `last + 1`, wraps to 0 for the very last IOVA: aligned to anything.
    let end = last.wrapping_add(1);
    let misaligned = |v: u64, a: u64| v & (a - 1) != 0;
    if alignment == 0 || misaligned(iova, alignment) || misaligned(end, alignment) {
        return Err(DirtyError::Inval);
    }
    if !page_size.is_power_of_two() || misaligned(iova, page_size) || misaligned(end, page_size) {
        return Err(DirtyError::Inval);
    }
    // `length` is a multiple of `page_size` here, except when the range ends at the last
    // IOVA: count the bits from the last IOVA then.
    Ok((last - iova) / page_size + 1)
}

/// The windows of a bitmap of `nbits` bits for the IOVAs from `iova`, `N` bytes of bitmap
/// (`8 * N` bits) at a time.
///
/// # Invariants
///
/// `shift` is the page size's log2; `first` is a multiple of `8 * N` below `nbits` (the
/// current window's first bit); `ahead`, if set, is a range of bits from the next window
/// on (`ahead.0 >= first + 8 * N`).
pub(crate) struct Windows<const N: usize> {
    iova: u64,
    shift: u32,
    nbits: u64,
    first: u64,
    buf: [u8; N],
    ahead: Option<(u64, u64)>,
}

impl<const N: usize> Windows<N> {
    /// The first window of a bitmap checked by [`check_range`] (`page_size` a power of two,
    /// `nbits >= 1`).
    pub(crate) fn new(iova: u64, page_size: u64, nbits: u64) -> Self {
        // INVARIANT: the first window starts at bit 0; nothing carried yet.
        Self {
            iova,
            shift: page_size.trailing_zeros(),
            nbits,
            first: 0,
            buf: [0; N],
            ahead: None,
        }
    }

    const BITS: u64 = 8 * N as u64;

    /// The IOVAs the current window covers, first and last.
    pub(crate) fn span(&self) -> (u64, u64) {
        let last_bit = (self.first + Self::BITS).min(self.nbits) - 1;
        let start = self.iova + (self.first << self.shift);
        let last = self.iova + (last_bit << self.shift) + ((1u64 << self.shift) - 1);
        (start, last)
    }

    /// The byte offset in the user bitmap of the current window's first byte.
    pub(crate) fn byte_offset(&self) -> u64 {
        self.first / 8
    }

    /// Records that the IOVAs `[start, last]` are dirty: sets their bits in this window and
    /// carries what lies beyond it to the next ones. Parts outside the whole bitmap are
    /// ignored.
    pub(crate) fn record(&mut self, start: u64, last: u64) {
        let (lo, hi) = (
            self.iova,
            self.iova + (((self.nbits - 1) << self.shift) | ((1 << self.shift) - 1)),
        );
        if last < lo || start > hi || start > last {
            return;
        }
        let b0 = (start.max(lo) - self.iova) >> self.shift;
        let b1 = (last.min(hi) - self.iova) >> self.shift;
        self.set_bits(b0, b1);
    }

    /// Sets bits `b0..=b1` (absolute) that fall in this window; carries those beyond it.
    fn set_bits(&mut self, b0: u64, b1: u64) {
        let end = self.first + Self::BITS - 1;
        if b1 > end {
            let from = b0.max(end + 1);
            // Spans arrive in IOVA order, so what is carried is one range that only grows.
            self.ahead = Some(match self.ahead {
                Some((a0, a1)) => (a0.min(from), a1.max(b1)),
                None => (from, b1),
            });
        }
        let (b0, b1) = (b0.max(self.first), b1.min(end));
        let mut b = b0;
        while b <= b1 {
            let rel = b - self.first;
            let (byte, bit) = ((rel / 8) as usize, rel % 8);
            if bit == 0 && b + 7 <= b1 {
                self.buf[byte] = 0xff;
                b += 8;
            } else {
                self.buf[byte] |= 1 << bit;
                b += 1;
            }
        }
    }

    /// The bytes of this window that have a bit set: their offset in the window and the
    /// bytes from the first to the last of them (`None` if no bit is set).
    pub(crate) fn touched(&self) -> Option<(usize, &[u8])> {
        let lo = self.buf.iter().position(|&b| b != 0)?;
        let hi = self.buf.iter().rposition(|&b| b != 0)?;
        Some((lo, &self.buf[lo..=hi]))
    }

    /// Moves to the next window; returns `false` after the last one.
    pub(crate) fn advance(&mut self) -> bool {
        let next = self.first + Self::BITS;
        if next >= self.nbits {
            return false;
        }
        // INVARIANT: `next` is the next multiple of `8 * N` below `nbits`; the carried
        // range is applied (what still lies beyond is carried again).
        self.first = next;
        self.buf = [0; N];
        if let Some((a0, a1)) = self.ahead.take() {
            self.set_bits(a0, a1);
        }
        true
    }
}

/// ORs `window` into `dst` (a copy of the user bitmap's bytes at the same offset).
pub(crate) fn or_into(dst: &mut [u8], window: &[u8]) {
    for (d, w) in dst.iter_mut().zip(window) {
        *d |= w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The host crate's generator (these tests run only there).
    use crate::rng::Rng;

    #[test]
    fn range_rules_follow_iommufd() {
        use DirtyError::*;
        assert_eq!(check_range(0x1000, 0, 0x1000, 0x1000), Err(Inval));
        assert_eq!(
            check_range(u64::MAX - 0xfff, 0x2000, 0x1000, 0x1000),
            Err(Overflow)
        );
        assert_eq!(check_range(0x800, 0x1000, 0x800, 0x1000), Err(Inval));
        assert_eq!(check_range(0x1000, 0x1800, 0x800, 0x1000), Err(Inval));
        assert_eq!(check_range(0x1000, 0x1000, 0, 0x800), Err(Inval));
        assert_eq!(check_range(0x1000, 0x3000, 0x3000, 0x800), Err(Inval));
        assert_eq!(check_range(0x1000, 0x1000, 0x2000, 0x800), Err(Inval));
        assert_eq!(check_range(0x1000, 0x4000, 0x1000, 0x800), Ok(4));
        assert_eq!(check_range(0x1000, 0x4000, 0x800, 0x800), Ok(8));
        // Up to the last IOVA: the end wraps to 0, which is aligned.
        assert_eq!(check_range(u64::MAX - 0xfff, 0x1000, 0x1000, 0x1000), Ok(1));
    }

    /// Runs `spans` (sorted, each reported to every window it overlaps, as an IOMMU reports
    /// a dirty IOPTE to each read that covers part of it; `clear` drops a span after the
    /// first window that sees it, as a read-and-clear does) through windows of `N` bytes,
    /// ORed into `user` at byte `at`; returns the user buffer.
    fn fill<const N: usize>(
        iova: u64,
        ps: u64,
        nbits: u64,
        spans: &[(u64, u64)],
        clear: bool,
        mut user: Vec<u8>,
        at: usize,
    ) -> Vec<u8> {
        let mut w = Windows::<N>::new(iova, ps, nbits);
        let mut seen = vec![false; spans.len()];
        loop {
            let (s, l) = w.span();
            for (k, &(a, b)) in spans.iter().enumerate() {
                if b >= s && a <= l && !(clear && seen[k]) {
                    seen[k] = true;
                    w.record(a, b);
                }
            }
            if let Some((off, bytes)) = w.touched() {
                let o = at + w.byte_offset() as usize + off;
                or_into(&mut user[o..o + bytes.len()], bytes);
            }
            if !w.advance() {
                break;
            }
        }
        user
    }

    fn model(
        iova: u64,
        ps: u64,
        nbits: u64,
        spans: &[(u64, u64)],
        mut user: Vec<u8>,
        at: usize,
    ) -> Vec<u8> {
        for i in 0..nbits {
            let (s, l) = (iova + i * ps, iova + i * ps + ps - 1);
            if spans.iter().any(|&(a, b)| b >= s && a <= l) {
                user[at + (i / 8) as usize] |= 1 << (i % 8);
            }
        }
        user
    }

    #[test]
    fn windows_match_a_bit_by_bit_model() {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        for round in 0..400 {
            let ps = 1u64 << (11 + rng.below(3));
            let nbits = 1 + rng.below(300);
            let iova = (1 << 24) + rng.below(64) * ps;
            let at = rng.below(9) as usize;
            // Sorted, non-overlapping spans of 1 to 40 pages at any page offset, some
            // starting before the bitmap or reaching past it.
            let mut spans = Vec::new();
            let mut cur = iova.saturating_sub(rng.below(3) * ps);
            while spans.len() < 12 {
                cur += rng.below(20) * ps / 2;
                let len = (1 + rng.below(40)) * ps / 2;
                spans.push((cur, cur + len - 1));
                cur += len;
            }
            let fill_byte = if round % 3 == 0 { 0x00 } else { 0x24 };
            let user = vec![fill_byte; at + (nbits as usize).div_ceil(8) + 8];
            let want = model(iova, ps, nbits, &spans, user.clone(), at);
            for clear in [false, true] {
                assert_eq!(
                    fill::<1>(iova, ps, nbits, &spans, clear, user.clone(), at),
                    want,
                    "round {round} N=1"
                );
                assert_eq!(
                    fill::<3>(iova, ps, nbits, &spans, clear, user.clone(), at),
                    want,
                    "round {round} N=3"
                );
                assert_eq!(
                    fill::<16>(iova, ps, nbits, &spans, clear, user.clone(), at),
                    want,
                    "round {round} N=16"
                );
            }
        }
    }

    #[test]
    fn a_huge_iopte_read_and_cleared_once_covers_every_window() {
        // One dirty 1 MiB IOPTE, read at 2 KiB granularity through 8-bit windows: 512 bits.
        let spans = [(1u64 << 24, (1 << 24) + (1 << 20) - 1)];
        let got = fill::<1>(1 << 24, 2048, 1024, &spans, true, vec![0; 128], 0);
        assert!(got[..64].iter().all(|&b| b == 0xff));
        assert!(got[64..].iter().all(|&b| b == 0));
    }

    #[test]
    fn untouched_windows_touch_no_user_byte() {
        let mut w = Windows::<4>::new(0, 4096, 100);
        assert!(w.touched().is_none());
        w.record(5 * 4096, 5 * 4096);
        assert_eq!(w.touched(), Some((0, &[0x20u8][..])));
        assert!(w.advance());
        assert!(w.touched().is_none());
        assert!(w.advance());
        assert!(w.advance());
        assert!(!w.advance());
    }
}
