// SPDX-License-Identifier: GPL-2.0

//! The mock IOMMU's nested domains: stage 1 as the user's data describes it, then the
//! parent's mock domain (stage 2). Two data types:
//!
//! - upstream iommufd's selftest ABI (`iommufd_test.h`): `IOMMU_HWPT_DATA_SELFTEST`
//!   (`struct iommu_hwpt_selftest`) gives a 4-entry mock IOTLB whose entries all start at
//!   the value the user gave; `IOMMU_HWPT_INVALIDATE` with
//!   `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST` entries clears one entry or all of them, and
//!   `IOMMU_TEST_OP_MD_CHECK_IOTLB` reads one back. Its stage 1 is the identity.
//! - ioasid's own `IOASID_HWPT_DATA_MOCK_S1` ([`crate::uapi::mock_s1`]): a two-level table
//!   in the user's memory, addressed by IOVAs of the parent's IOAS. A mock device's DMA
//!   walks it as hardware would, reading each entry through stage 2, and caches what it
//!   found: after the user changes the table, DMA keeps the old translation until the user
//!   invalidates it (`IOASID_HWPT_INVALIDATE_DATA_MOCK_S1`: a range or all), and an unmap in
//!   the parent empties the cache.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::MockDomain;
use crate::{
    error::refuse,
    hw::{UserData, UserDataArray},
    uapi::{
        mock_s1::{self, Cache, Cached, Invalidation, S1Error},
        IoasidHwptInvalidateMockS1, IoasidHwptMockS1, IommuHwptInvalidateSelftest,
        IommuHwptSelftest,
    },
};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// `IOMMU_HWPT_DATA_SELFTEST`: upstream's mock nested HWPT data type.
pub(crate) const IOMMU_HWPT_DATA_SELFTEST: u32 = 0xdead;
/// `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST`: its invalidation entry type.
const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST: u32 = 0xdead_beef;
/// `IOMMU_TEST_INVALIDATE_FLAG_ALL`: invalidate every entry (`iotlb_id` ignored).
const INVALIDATE_FLAG_ALL: u32 = 1 << 0;
/// `MOCK_NESTED_DOMAIN_IOTLB_NUM`: entries of the selftest mock IOTLB.
const IOTLB_NUM: usize = 4;

/// What stage 1 is.
// One per nested domain, inside its allocation: boxing the cache would only add one.
#[allow(clippy::large_enum_variant)]
enum Stage1 {
    /// `IOMMU_HWPT_DATA_SELFTEST`: the identity, and the values of the mock IOTLB.
    Selftest([u32; IOTLB_NUM]),
    /// `IOASID_HWPT_DATA_MOCK_S1`: the table at `root` (an IOVA of the parent's IOAS) and
    /// the translations cached from it.
    Table { root: u64, cache: Cache },
}

/// A mock nested domain.
#[pin_data]
pub(crate) struct MockNested {
    /// The stage-2 (nest parent) domain.
    parent: Arc<MockDomain>,
    /// The data type it was made with (never changes).
    kind: u32,
    /// Stage 1; a mutex because DMA, invalidations and checks run concurrently. Taken
    /// before the parent's table lock (`MockDomain::table`), never with a user copy
    /// running.
    #[pin]
    stage1: Mutex<Stage1>,
}

impl MockNested {
    /// A nested domain on `parent` from the user's `data`.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` for an unknown data type, or flags or reserved bits in the data;
    /// `EINVAL` when the data is shorter than its first version or longer than the
    /// structure, or (`IOASID_HWPT_DATA_MOCK_S1`) the root is not page-aligned; `EFAULT`;
    /// `ENOMEM`.
    pub(crate) fn new(parent: Arc<MockDomain>, data: &UserData) -> Result<Arc<Self>> {
        let stage1 = match data.kind {
            IOMMU_HWPT_DATA_SELFTEST => {
                let cfg = IommuHwptSelftest::read(&data.read::<{ IommuHwptSelftest::SIZE }>(
                    IOMMU_HWPT_DATA_SELFTEST,
                    crate::uapi::offsetofend!(IommuHwptSelftest, iotlb),
                )?);
                Stage1::Selftest([cfg.iotlb; IOTLB_NUM])
            }
            mock_s1::IOASID_HWPT_DATA_MOCK_S1 => {
                let cfg = IoasidHwptMockS1::read(&data.read::<{ IoasidHwptMockS1::SIZE }>(
                    mock_s1::IOASID_HWPT_DATA_MOCK_S1,
                    IoasidHwptMockS1::SIZE,
                )?);
                mock_s1::check_config(cfg.root, cfg.flags, cfg.reserved).or_else(|e| {
                    refuse!(
                        e,
                        "hwpt_alloc: mock stage-1 root {:#x}, flags {:#x}: {:?}\n",
                        cfg.root,
                        cfg.flags,
                        e
                    )
                })?;
                Stage1::Table {
                    root: cfg.root,
                    cache: Cache::new(),
                }
            }
            kind => {
                return refuse!(
                    EOPNOTSUPP,
                    "hwpt_alloc: the mock IOMMU has no nested data type {:#x}\n",
                    kind
                );
            }
        };
        Arc::pin_init(
            pin_init!(Self {
                parent,
                kind: data.kind,
                stage1 <- new_mutex!(stage1),
            }),
            GFP_KERNEL,
        )
    }

    /// Entry `id` of the selftest mock IOTLB (`None` beyond it, or for the other type).
    pub(crate) fn iotlb(&self, id: usize) -> Option<u32> {
        match &*self.stage1.lock() {
            Stage1::Selftest(iotlb) => iotlb.get(id).copied(),
            Stage1::Table { .. } => None,
        }
    }

    /// DMA by a mock device attached to this domain: stage 1, then the parent's table
    /// ([`MockDomain::dma`], which also gives the errors of stage 2).
    ///
    /// # Errors
    ///
    /// `EFAULT` at the first IOVA that stage 1 or stage 2 does not map (also when a table
    /// entry cannot be read through stage 2), `EPERM` at the first access either stage
    /// does not allow; bytes before it have been copied.
    pub(crate) fn dma(&self, iova: u64, buf: &mut [u8], write: bool) -> Result {
        let mut st = self.stage1.lock();
        let Stage1::Table { root, cache } = &mut *st else {
            drop(st);
            return self.parent.dma(iova, buf, write);
        };
        let mut done = 0usize;
        while done < buf.len() {
            let cur = iova.checked_add(done as u64).ok_or(EFAULT)?;
            let target = self.translate(*root, cache, cur, write)?;
            let off = cur % mock_s1::PAGE_SIZE;
            let len = ((mock_s1::PAGE_SIZE - off) as usize).min(buf.len() - done);
            self.parent
                .dma(target + off, &mut buf[done..done + len], write)
                .or_else(|e| {
                    refuse!(
                        e,
                        "mock DMA: IOVA {:#x} -> {:#x}: stage-2 fault\n",
                        cur,
                        target + off
                    )
                })?;
            done += len;
        }
        Ok(())
    }

    /// The page `iova`'s stage-1 page maps to, from the cache or a walk of the table at
    /// `root` (whose result is cached), if the entries allow the access.
    fn translate(&self, root: u64, cache: &mut Cache, iova: u64, write: bool) -> Result<u64> {
        // Read before the walk: an unmap during it makes the fill stale at once.
        let generation = self.parent.generation();
        let found = match cache.lookup(iova, generation) {
            Some(c) => c,
            None => {
                let (table, p1) = self.walk_level(root, iova, 1)?;
                let (page, p2) = self.walk_level(table, iova, 2)?;
                let c = Cached {
                    page: iova & !(mock_s1::PAGE_SIZE - 1),
                    target: page,
                    perms: p1 & p2,
                };
                cache.insert(c, generation);
                c
            }
        };
        if !mock_s1::allows(found.perms, write) {
            return refuse!(
                S1Error::Permission,
                "mock DMA: IOVA {:#x}: stage 1 does not allow a {}\n",
                iova,
                if write { "write" } else { "read" }
            );
        }
        Ok(found.target)
    }

    /// Reads and decodes the level-`level` entry for `iova` in the table at `table`,
    /// through stage 2.
    fn walk_level(&self, table: u64, iova: u64, level: u32) -> Result<(u64, u64)> {
        let at = mock_s1::entry_addr(table, iova, level).or_else(|e| {
            refuse!(
                e,
                "mock DMA: IOVA {:#x} is beyond the stage-1 input space\n",
                iova
            )
        })?;
        let mut raw = [0u8; 8];
        self.parent.dma(at, &mut raw, false).or_else(|_| {
            refuse!(
                EFAULT,
                "mock DMA: IOVA {:#x}: the level-{} entry at {:#x} is not readable through stage 2\n",
                iova,
                level,
                at
            )
        })?;
        mock_s1::decode(u64::from_ne_bytes(raw))
            .ok_or(())
            .or_else(|()| {
                refuse!(
                    S1Error::Fault,
                    "mock DMA: IOVA {:#x}: level-{} entry at {:#x} not present\n",
                    iova,
                    level,
                    at
                )
            })
    }

    /// `IOMMU_HWPT_INVALIDATE`: handles the entries of `array` in order and stops at the
    /// first that fails; returns how many were handled and the error, if any.
    ///
    /// Errors: `EINVAL` for an entry type that is not this domain's (even with no entry),
    /// an entry of the wrong length, an `iotlb_id` beyond the IOTLB or an empty or
    /// wrapping range; `EOPNOTSUPP` for unknown flags or reserved bits; `EFAULT`.
    pub(crate) fn invalidate(&self, array: &UserDataArray) -> (u32, Result) {
        let want = match self.kind {
            IOMMU_HWPT_DATA_SELFTEST => IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
            _ => mock_s1::IOASID_HWPT_INVALIDATE_DATA_MOCK_S1,
        };
        if array.kind != want {
            return (
                0,
                refuse!(
                    EINVAL,
                    "hwpt_invalidate: entry type {:#x}, the domain takes {:#x}\n",
                    array.kind,
                    want
                ),
            );
        }
        for i in 0..array.num {
            let done = if want == IOMMU_HWPT_INVALIDATE_DATA_SELFTEST {
                self.invalidate_selftest(array, i)
            } else {
                self.invalidate_table(array, i)
            };
            if let Err(e) = done {
                return (i, Err(e));
            }
        }
        (array.num, Ok(()))
    }

    /// Entry `i` of a selftest invalidation.
    fn invalidate_selftest(&self, array: &UserDataArray, i: u32) -> Result {
        let inv = IommuHwptInvalidateSelftest::read(
            &array.entry::<{ IommuHwptInvalidateSelftest::SIZE }>(
                i,
                crate::uapi::offsetofend!(IommuHwptInvalidateSelftest, iotlb_id),
            )?,
        );
        if inv.flags & !INVALIDATE_FLAG_ALL != 0 {
            return refuse!(
                EOPNOTSUPP,
                "hwpt_invalidate: entry {}: unknown flags {:#x}\n",
                i,
                inv.flags
            );
        }
        let mut st = self.stage1.lock();
        let Stage1::Selftest(iotlb) = &mut *st else {
            return Err(EINVAL);
        };
        if inv.flags & INVALIDATE_FLAG_ALL != 0 {
            *iotlb = [0; IOTLB_NUM];
        } else if let Some(e) = iotlb.get_mut(inv.iotlb_id as usize) {
            *e = 0;
        } else {
            drop(st);
            return refuse!(
                EINVAL,
                "hwpt_invalidate: entry {}: no IOTLB entry {}\n",
                i,
                inv.iotlb_id
            );
        }
        Ok(())
    }

    /// Entry `i` of a mock stage-1 table invalidation.
    fn invalidate_table(&self, array: &UserDataArray, i: u32) -> Result {
        let inv = IoasidHwptInvalidateMockS1::read(
            &array.entry::<{ IoasidHwptInvalidateMockS1::SIZE }>(
                i,
                IoasidHwptInvalidateMockS1::SIZE,
            )?,
        );
        let what = mock_s1::invalidation(inv.iova, inv.length, inv.flags, inv.reserved)
            .or_else(|e| refuse!(e, "hwpt_invalidate: entry {}: {:?}\n", i, e))?;
        let mut st = self.stage1.lock();
        let Stage1::Table { cache, .. } = &mut *st else {
            return Err(EINVAL);
        };
        match what {
            Invalidation::All => cache.invalidate_all(),
            Invalidation::Range { first, last } => cache.invalidate(first, last),
        }
        Ok(())
    }
}
