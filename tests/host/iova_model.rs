// SPDX-License-Identifier: GPL-2.0

//! Property tests of the IOVA allocator: random sequences of automatic and fixed mappings,
//! unmaps, and allowed-list changes, checked against a brute-force model of the same
//! rules. A small xorshift generator keeps the crate dependency-free; every seed is
//! printed on failure so a failing sequence can be replayed.

use crate::iova::{self, IovaError, MergeSorted, Span};

const PAGE: u64 = 4096;
const HUGE: u64 = 2 << 20;
/// The model's space: small enough to search exhaustively.
const SPACE: u64 = 1 << 24;

use crate::rng::Rng;

#[derive(Default)]
struct Model {
    areas: Vec<Span>,
    reserved: Vec<Span>,
    allowed: Vec<Span>,
}

impl Model {
    fn used(&self) -> impl Fn(Span) -> std::vec::IntoIter<Span> + '_ {
        move |w| {
            let mut a: Vec<Span> = self
                .areas
                .iter()
                .copied()
                .filter(|s| s.intersects(&w))
                .collect();
            a.sort_by_key(|s| s.start);
            let mut r: Vec<Span> = self
                .reserved
                .iter()
                .copied()
                .filter(|s| s.intersects(&w))
                .collect();
            r.sort_by_key(|s| s.start);
            MergeSorted::new(r.into_iter(), a.into_iter())
                .collect::<Vec<_>>()
                .into_iter()
        }
    }

    fn free(&self, s: Span) -> bool {
        !self
            .areas
            .iter()
            .chain(&self.reserved)
            .any(|u| u.intersects(&s))
    }

    fn allowed(&self, s: Span) -> bool {
        self.allowed.is_empty() || self.allowed.iter().any(|a| a.contains(&s))
    }

    /// The lowest IOVA the rules allow, by exhaustive search.
    fn lowest(&self, addr: u64, len: u64) -> Option<u64> {
        let align = iova::alloc_alignment(addr, len, HUGE, PAGE).ok()?;
        let off = addr % PAGE;
        let mut iova = PAGE.next_multiple_of(align) | off;
        while iova + len <= SPACE {
            let s = Span {
                start: iova,
                last: iova + len - 1,
            };
            if self.free(s) && self.allowed(s) {
                return Some(iova);
            }
            iova += align;
        }
        None
    }
}

fn run(seed: u64) {
    let mut rng = Rng(seed);
    let mut m = Model::default();
    // A reserved range or two, like a device's MSI window.
    for _ in 0..rng.below(3) {
        let start = rng.below(SPACE / PAGE) * PAGE;
        let len = (1 + rng.below(64)) * PAGE;
        m.reserved.push(Span {
            start,
            last: (start + len - 1).min(SPACE - 1),
        });
    }
    m.reserved.sort_by_key(|s| s.start);
    // Everything beyond the model's space is reserved, so the allocator stays inside.
    m.reserved.push(Span {
        start: SPACE,
        last: u64::MAX,
    });

    for step in 0..300 {
        let ctx = format!("seed {seed:#x} step {step}");
        match rng.below(10) {
            0..=4 => {
                let len = (1 + rng.below(32)) * PAGE;
                let addr = (1 + rng.below(1 << 20)) * PAGE;
                let got = iova::alloc(
                    m.allowed.iter().copied(),
                    m.used(),
                    addr,
                    len,
                    PAGE,
                    HUGE,
                    PAGE,
                );
                match (got, m.lowest(addr, len)) {
                    (Ok(i), Some(want)) => {
                        assert_eq!(i, want, "{ctx}");
                        m.areas.push(Span {
                            start: i,
                            last: i + len - 1,
                        });
                    }
                    (Err(IovaError::NoSpace), None) => {}
                    (got, want) => panic!("{ctx}: alloc gave {got:?}, model {want:?}"),
                }
            }
            5..=6 => {
                let iova = rng.below(SPACE / PAGE) * PAGE;
                let len = (1 + rng.below(16)) * PAGE;
                let s = Span {
                    start: iova,
                    last: iova + len - 1,
                };
                let got = iova::check_fixed(
                    iova,
                    len,
                    PAGE,
                    |s| m.reserved.iter().any(|r| r.intersects(&s)),
                    |s| m.areas.iter().any(|a| a.intersects(&s)),
                );
                let want = if m.reserved.iter().any(|r| r.intersects(&s)) {
                    Err(IovaError::Inval)
                } else if m.areas.iter().any(|a| a.intersects(&s)) {
                    Err(IovaError::Exist)
                } else {
                    Ok(s)
                };
                assert_eq!(got, want, "{ctx}");
                if got.is_ok() {
                    m.areas.push(s);
                }
            }
            7..=8 if !m.areas.is_empty() => {
                let i = rng.below(m.areas.len() as u64) as usize;
                m.areas.swap_remove(i);
            }
            _ => {
                // Replace the allowed list with 0-2 disjoint ranges.
                m.allowed.clear();
                let mut at = PAGE;
                for _ in 0..rng.below(3) {
                    let start = at + rng.below(1 << 10) * PAGE;
                    let len = (1 + rng.below(1 << 8)) * PAGE;
                    if start + len > SPACE {
                        break;
                    }
                    m.allowed.push(Span {
                        start,
                        last: start + len - 1,
                    });
                    at = start + len;
                }
            }
        }
        // Invariant: areas never overlap each other or a reserved range.
        for (i, a) in m.areas.iter().enumerate() {
            assert!(m.reserved.iter().all(|r| !r.intersects(a)), "{ctx}");
            assert!(m.areas[i + 1..].iter().all(|b| !b.intersects(a)), "{ctx}");
        }
    }
}

#[test]
fn allocator_matches_the_model_on_random_sequences() {
    for seed in 1..=60u64 {
        run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    }
}

#[test]
fn holes_and_merge_agree_with_a_bitmap() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..500 {
        let n = 256u64;
        let mut used = vec![false; n as usize];
        let mut spans = Vec::new();
        for _ in 0..rng.below(8) {
            let s = rng.below(n);
            let l = s + rng.below(n - s);
            spans.push(Span { start: s, last: l });
            for u in &mut used[s as usize..=l as usize] {
                *u = true;
            }
        }
        spans.sort_by_key(|s| s.start);
        let mut free = vec![false; n as usize];
        for h in iova::Holes::new(
            Span {
                start: 0,
                last: n - 1,
            },
            spans.iter().copied(),
        ) {
            for f in &mut free[h.start as usize..=h.last as usize] {
                assert!(!*f, "holes overlap");
                *f = true;
            }
        }
        for i in 0..n as usize {
            assert_eq!(free[i], !used[i], "IOVA {i} of {spans:?}");
        }
    }
}
