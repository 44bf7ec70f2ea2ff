// SPDX-License-Identifier: GPL-2.0

//! The boundary between the object model and IOMMU hardware.
//!
//! An IOAS fills every domain attached to it through [`HwDomain`]; it never knows what is
//! behind: a real `iommu_domain` ([`crate::hw::iommu::RealDomain`], through the FFI layer) or
//! [`crate::hw::mock::MockDomain`], a page table in plain Rust that never touches the IOMMU
//! core, for the test interface.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

pub(crate) mod iommu;
pub(crate) mod mock;

use crate::{error::refuse, ffi::PinnedRun, uapi::iova::Span, uapi::ucmd};
use iommu::RealDomain;
use kernel::{
    alloc::KVVec,
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};
use mock::MockDomain;

/// IOPTE permission: DMA may read.
pub(crate) const PROT_READ: u32 = 1;
/// IOPTE permission: DMA may write.
pub(crate) const PROT_WRITE: u32 = 2;

/// What an IOMMU page table offers the object model.
pub(crate) trait HwDomain {
    /// The IOVA range the hardware can translate.
    fn aperture(&self) -> Span;
    /// The smallest IOPTE size (a power of two): IOVAs, lengths and page offsets of every
    /// area must be aligned to it.
    fn min_page_size(&self) -> u64;
    /// The IOPTE sizes the domain supports, a bitmap (the IOMMU core's `pgsize_bitmap`);
    /// by default every power of two from the minimum page size up.
    fn page_sizes(&self) -> u64 {
        !(self.min_page_size() - 1)
    }
    /// Maps the pinned memory of `run` at `iova` (all aligned to the minimum page size)
    /// with `prot`. The caller unmaps it before the pins go (the IOAS's invariant).
    ///
    /// # Errors
    ///
    /// `EINVAL` outside the aperture or misaligned, `EEXIST` over an existing IOPTE,
    /// `ENOMEM`. On error nothing of this call stays mapped.
    fn map(&self, iova: u64, run: &PinnedRun<'_>, prot: u32) -> Result;
    /// Unmaps `len` bytes at `iova` and flushes the IOTLB: when this returns, the hardware
    /// no longer reaches the old pages. Returns the bytes that were mapped.
    fn unmap(&self, iova: u64, len: u64) -> u64;
    /// The physical address `iova` translates to.
    fn iova_to_phys(&self, iova: u64) -> Option<u64>;
    /// Whether the domain can track dirty IOPTEs (it was allocated with
    /// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`). ioasid drives the dirty tracking of the mock
    /// only: it refuses that flag for real IOMMUs, whose domains keep these defaults.
    fn dirty_ops(&self) -> bool {
        false
    }
    /// Turns dirty tracking on (after clearing every dirty bit) or off.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` without [`HwDomain::dirty_ops`].
    fn set_dirty_tracking(&self, _enable: bool) -> Result {
        Err(EOPNOTSUPP)
    }
    /// Calls `record(first, last)` with the IOVAs of each dirty IOPTE that overlaps `span`,
    /// whole and in IOVA order, and clears its dirty bit unless `keep`.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` without [`HwDomain::dirty_ops`].
    fn read_and_clear_dirty(
        &self,
        _span: Span,
        _keep: bool,
        _record: &mut dyn FnMut(u64, u64),
    ) -> Result {
        Err(EOPNOTSUPP)
    }
}

/// A reference to a domain of any kind (enum dispatch: the kernel's `Arc` has no trait
/// objects).
#[derive(Clone)]
pub(crate) enum Domain {
    /// The software mock of the test interface.
    Mock(Arc<MockDomain>),
    /// A paging domain of a real IOMMU.
    Real(Arc<RealDomain>),
}

impl Domain {
    /// The implementation behind this reference.
    pub(crate) fn hw(&self) -> &dyn HwDomain {
        match self {
            Domain::Mock(m) => &**m,
            Domain::Real(r) => &**r,
        }
    }

    /// Whether `self` and `other` are the same domain.
    pub(crate) fn same(&self, other: &Domain) -> bool {
        match (self, other) {
            (Domain::Mock(a), Domain::Mock(b)) => Arc::ptr_eq(a, b),
            (Domain::Real(a), Domain::Real(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// An identity for this domain, used to tag the reserved ranges it adds to an IOAS.
    pub(crate) fn owner_tag(&self) -> usize {
        match self {
            Domain::Mock(m) => Arc::as_ptr(m) as usize,
            Domain::Real(r) => Arc::as_ptr(r) as usize,
        }
    }
}

/// A nested domain: translates through a table the user owns (stage 1), then through
/// its parent's paging domain (stage 2). Enum dispatch, as [`Domain`].
#[derive(Clone)]
pub(crate) enum NestedDomain {
    /// A nested domain of the mock IOMMU.
    Mock(Arc<mock::nested::MockNested>),
}

/// Driver data the user passes with a type (iommufd's `struct iommu_user_data`): the
/// nested domain's configuration of `IOMMU_HWPT_ALLOC`.
pub(crate) struct UserData {
    /// The data type (`data_type`).
    pub(crate) kind: u32,
    /// Where the data is in the caller's memory.
    pub(crate) uptr: u64,
    /// Its length.
    pub(crate) len: u32,
}

impl UserData {
    /// Copies the data in as a structure of type `kind` with `N` bytes whose first version
    /// ends at `min_size`, zero-extended (Linux 7.3's `iommu_copy_struct_from_user`).
    ///
    /// # Errors
    ///
    /// `EINVAL` for another type or a length below `min_size` or above `N`; `EFAULT`.
    pub(crate) fn read<const N: usize>(&self, kind: u32, min_size: usize) -> Result<[u8; N]> {
        if self.kind != kind {
            return refuse!(
                EINVAL,
                "driver data: type {:#x}, not {:#x}\n",
                self.kind,
                kind
            );
        }
        let n = ucmd::check_data_len(self.len, min_size, N).or_else(|e| {
            refuse!(
                e,
                "driver data: length {} outside [{}, {}]\n",
                self.len,
                min_size,
                N
            )
        })?;
        let mut buf = [0u8; N];
        let ptr = UserPtr::from_addr(self.uptr as usize);
        // PANIC: `n <= N` by `check_data_len`.
        UserSlice::new(ptr, n).reader().read_slice(&mut buf[..n])?;
        Ok(buf)
    }

    /// Writes `data` (a structure [`UserData::read`] accepted from this buffer) back, as
    /// many bytes as the user gave (Linux 7.3's `iommu_copy_struct_to_user`).
    ///
    /// # Errors
    ///
    /// `EFAULT`.
    pub(crate) fn write(&self, data: &[u8]) -> Result {
        let n = (self.len as usize).min(data.len());
        let ptr = UserPtr::from_addr(self.uptr as usize);
        // PANIC: `n <= data.len()`.
        UserSlice::new(ptr, n).writer().write_slice(&data[..n])
    }
}

/// Reads a structure of `buf.len()` bytes from the `len` bytes the user has at `uptr`, as
/// the kernel's `copy_struct_from_user()`: a shorter one is zero-extended, a longer one
/// must hold zeros past what the kernel knows. Every ioctl's argument is read this way
/// ([`crate::dispatch`]), and so are full arrays of driver data
/// ([`UserDataArray::read_all`]).
///
/// # Errors
///
/// `E2BIG` for a non-zero byte past `buf.len()`; `EFAULT`.
pub(crate) fn copy_struct_from_user(uptr: usize, len: usize, buf: &mut [u8]) -> Result {
    let mut reader = UserSlice::new(UserPtr::from_addr(uptr), len).reader();
    let n = len.min(buf.len());
    // PANIC: `n <= buf.len()`.
    reader.read_slice(&mut buf[..n])?;
    buf[n..].fill(0);
    let mut chunk = [0u8; 64];
    while !reader.is_empty() {
        let k = reader.len().min(chunk.len());
        // PANIC: `k <= chunk.len()`.
        reader.read_slice(&mut chunk[..k])?;
        ucmd::check_trailing(&chunk[..k])?;
    }
    Ok(())
}

/// An array of driver data entries (iommufd's `struct iommu_user_data_array`): the
/// entries of `IOMMU_HWPT_INVALIDATE`, bounded by [`ucmd::check_entry_array`].
pub(crate) struct UserDataArray {
    /// The entries' type.
    pub(crate) kind: u32,
    /// Where the first entry is in the caller's memory.
    pub(crate) uptr: u64,
    /// Each entry's length.
    pub(crate) entry_len: u32,
    /// The number of entries.
    pub(crate) num: u32,
}

impl UserDataArray {
    /// Copies entry `i` in as [`UserData::read`] does.
    ///
    /// # Errors
    ///
    /// As [`UserData::read`]; `EINVAL` if `i` is beyond the array.
    pub(crate) fn entry<const N: usize>(&self, i: u32, min_size: usize) -> Result<[u8; N]> {
        if i >= self.num {
            return Err(EINVAL);
        }
        // Cannot overflow: `entry_len <= PAGE_SIZE` and `i < 2^19` (checked by the caller
        // with `check_entry_array`); a wrapped address would only fault.
        let off = u64::from(self.entry_len) * u64::from(i);
        UserData {
            kind: self.kind,
            uptr: self.uptr.wrapping_add(off),
            len: self.entry_len,
        }
        .read(self.kind, min_size)
    }

    /// Copies the whole array in, each entry as a structure of type `kind` with `N` bytes
    /// ([`copy_struct_from_user`]: a shorter entry is zero-extended, a longer one must
    /// hold zeros past `N`), before any is handled (Linux 7.3's
    /// `iommu_copy_struct_from_full_user_array`, used by vIOMMU invalidations).
    ///
    /// # Errors
    ///
    /// `EINVAL` for another type or an empty array; `E2BIG`; `EFAULT`; `ENOMEM`.
    pub(crate) fn read_all<const N: usize>(&self, kind: u32) -> Result<KVVec<[u8; N]>> {
        if self.kind != kind {
            return refuse!(
                EINVAL,
                "driver data: entry type {:#x}, not {:#x}\n",
                self.kind,
                kind
            );
        }
        if self.num == 0 {
            return refuse!(EINVAL, "driver data: an empty array\n");
        }
        let mut all = KVVec::with_capacity(self.num as usize, GFP_KERNEL)?;
        for i in 0..self.num {
            let mut entry = [0u8; N];
            // As in `entry`: the caller bounded the array with `check_entry_array`.
            let off = u64::from(self.entry_len) * u64::from(i);
            let at = self.uptr.wrapping_add(off) as usize;
            copy_struct_from_user(at, self.entry_len as usize, &mut entry)
                .or_else(|e| refuse!(e, "driver data: entry {} cannot be read: {:?}\n", i, e))?;
            // Within the capacity reserved above: never allocates.
            all.push(entry, GFP_KERNEL)?;
        }
        Ok(all)
    }
}
