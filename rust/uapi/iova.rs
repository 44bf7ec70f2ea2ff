// SPDX-License-Identifier: GPL-2.0

//! IOVA range arithmetic and the IOVA allocator of an IOAS.
//!
//! Pure logic: depends only on `core`, compiled into the module and unit-tested on the host
//! (including property tests against a simple model in `tests/host`).
//!
//! # Notation
//!
//! A [`Span`] is a closed interval `[start, last]` of IOVAs: `last` is inclusive, so a span
//! can reach `u64::MAX` and a length is `last - start + 1`, which cannot overflow for any
//! span except the full space (length 2^64, never needed as a number). Every function that
//! turns `(iova, length)` into a span checks for overflow: that is where it hides.
//!
//! # What the allocator promises
//!
//! [`alloc`] returns the lowest IOVA that
//! - lies in one of the allowed spans (or anywhere in `[page, u64::MAX - page]` when the
//!   IOAS has no allowed list), never IOVA 0;
//! - does not intersect any used span (reserved ranges and existing areas);
//! - is aligned like the user address up to the huge page size, so memory backed by huge
//!   pages can be mapped with huge IOPTEs, and keeps the user address's offset in its page.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

/// A closed interval of IOVAs, `start <= last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// First IOVA.
    pub(crate) start: u64,
    /// Last IOVA (inclusive).
    pub(crate) last: u64,
}

impl Span {
    /// The span of `length` bytes at `iova`.
    ///
    /// # Errors
    ///
    /// [`IovaError::Inval`] for a zero length, [`IovaError::Overflow`] when the span would
    /// wrap past `u64::MAX`.
    pub(crate) const fn from_len(iova: u64, length: u64) -> Result<Span, IovaError> {
        if length == 0 {
            return Err(IovaError::Inval);
        }
        match iova.checked_add(length - 1) {
            Some(last) => Ok(Span { start: iova, last }),
            None => Err(IovaError::Overflow),
        }
    }

    /// Whether the two spans share at least one IOVA.
    pub(crate) const fn intersects(&self, other: &Span) -> bool {
        self.start <= other.last && other.start <= self.last
    }

    /// Whether `other` lies entirely inside `self`.
    pub(crate) const fn contains(&self, other: &Span) -> bool {
        self.start <= other.start && other.last <= self.last
    }

    /// Splits the span after `at` into `[start, at]` and `[at + 1, last]`; `None` unless
    /// both parts are non-empty (`start <= at < last`).
    pub(crate) const fn split_after(&self, at: u64) -> Option<(Span, Span)> {
        if at < self.start || at >= self.last {
            return None;
        }
        Some((
            Span {
                start: self.start,
                last: at,
            },
            Span {
                start: at + 1,
                last: self.last,
            },
        ))
    }
}

/// Why an IOVA operation was refused; the caller maps it to the errno iommufd uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IovaError {
    /// Misaligned, zero-length or reserved (`EINVAL`).
    Inval,
    /// The arithmetic overflowed (`EOVERFLOW`).
    Overflow,
    /// The range is already used by an area (`EEXIST`).
    Exist,
    /// No free range is large enough (`ENOSPC`).
    NoSpace,
}

/// Checks a caller-chosen (fixed) IOVA range before it is mapped, as iommufd does: the
/// IOVA must be aligned to the IOAS's alignment, must not overflow, must not touch a
/// reserved span (`Inval`) and must not overlap an existing area (`Exist`).
///
/// `reserved` and `areas` report whether any of their spans intersects the given span.
///
/// # Errors
///
/// As above.
pub(crate) fn check_fixed(
    iova: u64,
    length: u64,
    iova_alignment: u64,
    reserved: impl FnOnce(Span) -> bool,
    areas: impl FnOnce(Span) -> bool,
) -> Result<Span, IovaError> {
    if iova & (iova_alignment - 1) != 0 {
        return Err(IovaError::Inval);
    }
    let span = Span::from_len(iova, length)?;
    if reserved(span) {
        return Err(IovaError::Inval);
    }
    if areas(span) {
        return Err(IovaError::Exist);
    }
    Ok(span)
}

/// The alignment the allocator uses for a mapping of `length` bytes of user address `addr`
/// (0 for "no address", e.g. a copy): the smaller of `length` rounded up to a power of two
/// and the alignment of `addr`, capped at `max_alignment` (the huge page size).
///
/// # Errors
///
/// [`IovaError::Overflow`] for a zero or absurd length, [`IovaError::Inval`] if the result
/// is below the IOAS's required `iova_alignment`.
pub(crate) fn alloc_alignment(
    addr: u64,
    length: u64,
    max_alignment: u64,
    iova_alignment: u64,
) -> Result<u64, IovaError> {
    if length == 0 || length >= u64::MAX / 2 {
        return Err(IovaError::Overflow);
    }
    let by_length = length.next_power_of_two();
    let align = if addr == 0 {
        by_length
    } else {
        by_length.min(1u64 << addr.trailing_zeros())
    }
    .min(max_alignment);
    if align < iova_alignment {
        return Err(IovaError::Inval);
    }
    Ok(align)
}

/// The first IOVA inside `[start, last]` that is `align`-aligned (with `page_offset`
/// or-ed in) and leaves room for `length` bytes, if any.
pub(crate) const fn fit(span: Span, length: u64, align: u64, page_offset: u64) -> Option<u64> {
    let Some(up) = span.start.checked_add(align - 1) else {
        return None;
    };
    let iova = (up & !(align - 1)) | page_offset;
    if iova >= span.last || span.last - iova < length - 1 {
        return None;
    }
    Some(iova)
}

/// Iterates the holes of `within` not covered by `used`, which yields spans sorted by
/// `start` (they may overlap, as reserved ranges and areas do once merged).
pub(crate) struct Holes<I: Iterator<Item = Span>> {
    used: core::iter::Peekable<I>,
    /// The next IOVA that may be free, or `None` once past `within.last`.
    next: Option<u64>,
    last: u64,
}

impl<I: Iterator<Item = Span>> Holes<I> {
    /// Holes of `within` around `used`.
    pub(crate) fn new(within: Span, used: I) -> Self {
        Self {
            used: used.peekable(),
            next: Some(within.start),
            last: within.last,
        }
    }
}

impl<I: Iterator<Item = Span>> Iterator for Holes<I> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        loop {
            let next = self.next?;
            if next > self.last {
                self.next = None;
                return None;
            }
            match self.used.peek().copied() {
                // A used span entirely before `next`: already accounted for.
                Some(u) if u.last < next => {
                    self.used.next();
                }
                // A used span covering `next`: skip past it.
                Some(u) if u.start <= next => {
                    self.used.next();
                    self.next = u.last.checked_add(1);
                }
                // A hole up to the next used span (or to the end).
                Some(u) => {
                    let hole_last = (u.start - 1).min(self.last);
                    self.next = Some(u.start);
                    return Some(Span {
                        start: next,
                        last: hole_last,
                    });
                }
                None => {
                    self.next = None;
                    return Some(Span {
                        start: next,
                        last: self.last,
                    });
                }
            }
        }
    }
}

/// Merges two iterators of spans sorted by `start` into one sorted iterator.
pub(crate) struct MergeSorted<A: Iterator<Item = Span>, B: Iterator<Item = Span>> {
    a: core::iter::Peekable<A>,
    b: core::iter::Peekable<B>,
}

impl<A: Iterator<Item = Span>, B: Iterator<Item = Span>> MergeSorted<A, B> {
    /// Merges `a` and `b`.
    pub(crate) fn new(a: A, b: B) -> Self {
        Self {
            a: a.peekable(),
            b: b.peekable(),
        }
    }
}

impl<A: Iterator<Item = Span>, B: Iterator<Item = Span>> Iterator for MergeSorted<A, B> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if y.start < x.start => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

/// Finds the lowest free IOVA for `length` bytes of user address `addr`.
///
/// `allowed` yields the allowed spans sorted by start (empty: the whole space is
/// allowed); `used(span)` yields, sorted by start, the used spans (reserved and areas)
/// that intersect `span`. `page_size` is the CPU page size, `max_alignment` the huge page
/// size, `iova_alignment` the IOAS's required alignment.
///
/// # Errors
///
/// As [`alloc_alignment`], and [`IovaError::NoSpace`] when nothing fits.
pub(crate) fn alloc<A, U, F>(
    allowed: A,
    used: F,
    addr: u64,
    length: u64,
    page_size: u64,
    max_alignment: u64,
    iova_alignment: u64,
) -> Result<u64, IovaError>
where
    A: Iterator<Item = Span>,
    U: Iterator<Item = Span>,
    F: Fn(Span) -> U,
{
    let align = alloc_alignment(addr, length, max_alignment, iova_alignment)?;
    let page_offset = addr % page_size;
    let space = Span {
        start: page_size,
        last: u64::MAX - page_size,
    };
    let mut allowed = allowed.peekable();
    let whole = allowed.peek().is_none().then_some(space);
    for a in whole.into_iter().chain(allowed) {
        let Some(a) = clip(a, space) else {
            continue;
        };
        if fit(a, length, align, page_offset).is_none() {
            continue;
        }
        if let Some(iova) = Holes::new(a, used(a)).find_map(|h| fit(h, length, align, page_offset))
        {
            return Ok(iova);
        }
    }
    Err(IovaError::NoSpace)
}

/// The part of `a` inside `within`, if any.
pub(crate) const fn clip(a: Span, within: Span) -> Option<Span> {
    let start = if a.start > within.start {
        a.start
    } else {
        within.start
    };
    let last = if a.last < within.last {
        a.last
    } else {
        within.last
    };
    if start <= last {
        Some(Span { start, last })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 4096;
    const HUGE: u64 = 2 << 20;

    fn s(start: u64, last: u64) -> Span {
        Span { start, last }
    }

    fn alloc_in(allowed: &[Span], used: &[Span], addr: u64, len: u64) -> Result<u64, IovaError> {
        alloc(
            allowed.iter().copied(),
            |w: Span| used.iter().copied().filter(move |u| u.intersects(&w)),
            addr,
            len,
            PAGE,
            HUGE,
            PAGE,
        )
    }

    #[test]
    fn split_after_needs_iovas_on_both_sides() {
        let s = Span {
            start: 0x1000,
            last: 0x3fff,
        };
        assert_eq!(
            s.split_after(0x1fff),
            Some((
                Span {
                    start: 0x1000,
                    last: 0x1fff
                },
                Span {
                    start: 0x2000,
                    last: 0x3fff
                }
            ))
        );
        assert_eq!(s.split_after(0x1000).map(|(l, _)| l.last), Some(0x1000));
        assert_eq!(s.split_after(0x3fff), None);
        assert_eq!(s.split_after(0xfff), None);
        assert_eq!(s.split_after(0x4000), None);
        let all = Span {
            start: 0,
            last: u64::MAX,
        };
        assert_eq!(
            all.split_after(u64::MAX - 1).map(|(_, r)| r.start),
            Some(u64::MAX)
        );
    }

    #[test]
    fn span_from_len_checks_zero_and_overflow() {
        assert_eq!(Span::from_len(0, 0), Err(IovaError::Inval));
        assert_eq!(Span::from_len(u64::MAX, 2), Err(IovaError::Overflow));
        assert_eq!(Span::from_len(u64::MAX, 1), Ok(s(u64::MAX, u64::MAX)));
        assert_eq!(Span::from_len(0, u64::MAX), Ok(s(0, u64::MAX - 1)));
    }

    #[test]
    fn holes_around_overlapping_used_spans() {
        let used = [s(10, 20), s(15, 30), s(40, 40), s(100, 200)];
        let h: [Span; 3] = {
            let mut it = Holes::new(s(0, 99), used.iter().copied());
            [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(h, [s(0, 9), s(31, 39), s(41, 99)]);
        assert_eq!(Holes::new(s(0, 99), used.iter().copied()).count(), 3);
        // Used up to the very end of the space.
        let full = [s(0, u64::MAX)];
        assert_eq!(Holes::new(s(0, u64::MAX), full.iter().copied()).count(), 0);
        let tail = [s(5, u64::MAX)];
        let mut it = Holes::new(s(0, u64::MAX), tail.iter().copied());
        assert_eq!(it.next(), Some(s(0, 4)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn alignment_follows_the_user_address_up_to_huge_pages() {
        assert_eq!(alloc_alignment(0x1000, 0x1000, HUGE, PAGE), Ok(0x1000));
        assert_eq!(alloc_alignment(0x200000, 0x400000, HUGE, PAGE), Ok(HUGE));
        assert_eq!(
            alloc_alignment(0x40000000, 0x40000000, HUGE, PAGE),
            Ok(HUGE)
        );
        assert_eq!(alloc_alignment(0, 0x3000, HUGE, PAGE), Ok(0x4000));
        assert_eq!(
            alloc_alignment(0x1800, 0x1000, HUGE, PAGE),
            Err(IovaError::Inval)
        );
        assert_eq!(
            alloc_alignment(0x1000, 0, HUGE, PAGE),
            Err(IovaError::Overflow)
        );
    }

    #[test]
    fn alloc_never_returns_zero_and_takes_the_lowest_fit() {
        assert_eq!(alloc_in(&[], &[], 0x1000, 0x1000), Ok(0x1000));
        assert_eq!(
            alloc_in(&[], &[s(0x1000, 0x1fff)], 0x1000, 0x1000),
            Ok(0x2000)
        );
        // A 2 MiB-aligned user address gets a 2 MiB-aligned IOVA.
        assert_eq!(alloc_in(&[], &[], 0x7f0000200000, HUGE), Ok(HUGE));
    }

    #[test]
    fn alloc_keeps_the_page_offset() {
        // A sub-page user address keeps its offset (the IOAS alignment here is 1).
        let r = alloc(
            core::iter::empty(),
            |_| core::iter::empty(),
            0x1234,
            0x100,
            PAGE,
            HUGE,
            1,
        );
        assert_eq!(r.map(|i| i % PAGE), Ok(0x234));
    }

    #[test]
    fn alloc_stays_inside_allowed_spans() {
        let allowed = [s(0x10000, 0x1ffff), s(0x100000, 0x1fffff)];
        assert_eq!(alloc_in(&allowed, &[], 0x1000, 0x1000), Ok(0x10000));
        assert_eq!(
            alloc_in(&allowed, &[s(0x10000, 0x1ffff)], 0x1000, 0x1000),
            Ok(0x100000)
        );
        assert_eq!(alloc_in(&allowed, &[], 0x1000, 0x100000), Ok(0x100000));
        assert_eq!(
            alloc_in(&allowed, &[], 0x1000, 0x200000),
            Err(IovaError::NoSpace)
        );
    }

    #[test]
    fn alloc_reports_no_space() {
        assert_eq!(
            alloc_in(&[], &[s(0, u64::MAX)], 0x1000, 0x1000),
            Err(IovaError::NoSpace)
        );
    }

    #[test]
    fn check_fixed_order_of_errors() {
        let no = |_| false;
        let yes = |_| true;
        assert_eq!(
            check_fixed(0x1001, 0x1000, PAGE, no, no),
            Err(IovaError::Inval)
        );
        assert_eq!(
            check_fixed(!0xfff, 0x2000, PAGE, no, no),
            Err(IovaError::Overflow)
        );
        assert_eq!(
            check_fixed(0x1000, 0x1000, PAGE, yes, yes),
            Err(IovaError::Inval)
        );
        assert_eq!(
            check_fixed(0x1000, 0x1000, PAGE, no, yes),
            Err(IovaError::Exist)
        );
        assert_eq!(
            check_fixed(0x1000, 0x1000, PAGE, no, no),
            Ok(s(0x1000, 0x1fff))
        );
    }

    #[test]
    fn merge_sorted_interleaves() {
        let a = [s(1, 1), s(5, 5)];
        let b = [s(0, 0), s(3, 3), s(9, 9)];
        let mut m = MergeSorted::new(a.iter().copied(), b.iter().copied());
        let starts: [u64; 5] = core::array::from_fn(|_| m.next().unwrap().start);
        assert_eq!(starts, [0, 1, 3, 5, 9]);
        assert_eq!(m.next(), None);
    }
}
