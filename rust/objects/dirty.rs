// SPDX-License-Identifier: GPL-2.0

//! The dirty-tracking ioctls of paging HWPTs, for live migration: a VMM turns tracking on
//! (`IOMMU_HWPT_SET_DIRTY_TRACKING`), lets devices DMA, and reads which pages they wrote
//! (`IOMMU_HWPT_GET_DIRTY_BITMAP`), clearing the dirty state as it reads unless it asks
//! not to, round after round.
//!
//! The bitmap is filled a window at a time ([`crate::uapi::dirty::Windows`]): the IOMMU's
//! dirty state of one window's IOVAs is read with the IOAS's and the domain's locks held,
//! then the locks are released and the window's bits are ORed into the user's bitmap, so
//! user memory is never touched with a lock held.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{context::Context, hwpt::Hwpt};
use crate::{
    dispatch::Ucmd,
    error::refuse,
    uapi::{
        dirty::{self, Windows},
        iova::Span,
        IommuHwptGetDirtyBitmap, IommuHwptSetDirtyTracking, IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
        IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
    },
};
use kernel::{
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};

/// Bytes of bitmap filled per window (4096 bits).
const WINDOW: usize = 512;

/// The paging HWPT `id`.
///
/// # Errors
///
/// `ENOENT` if `id` is not a paging HWPT (as iommufd: no object of that type).
fn paging_hwpt(ctx: &Context, id: u32, what: &str) -> Result<Arc<Hwpt>> {
    let hwpt = ctx
        .objects()
        .get_as::<Arc<Hwpt>>(id)
        .or_else(|e| refuse!(e, "{}: {} is not a HWPT\n", what, id))?
        .clone();
    if hwpt.nested_domain().is_some() {
        return refuse!(ENOENT, "{}: HWPT {} is nested, not paging\n", what, id);
    }
    Ok(hwpt)
}

/// `EOPNOTSUPP` unless `hwpt`'s domain tracks dirty pages (it was allocated with
/// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`).
fn check_tracks(hwpt: &Hwpt, id: u32, what: &str) -> Result {
    if !hwpt.domain().hw().dirty_ops() {
        return refuse!(
            EOPNOTSUPP,
            "{}: HWPT {} was not allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING\n",
            what,
            id
        );
    }
    Ok(())
}

/// `IOMMU_HWPT_SET_DIRTY_TRACKING`: turns dirty tracking of a paging HWPT on (clearing
/// what an earlier round left) or off. `__reserved` is not checked, as in iommufd.
pub(crate) fn ioctl_set_dirty_tracking(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let cmd = IommuHwptSetDirtyTracking::read(ucmd.bytes());
    if cmd.flags & !IOMMU_HWPT_DIRTY_TRACKING_ENABLE != 0 {
        return refuse!(
            EOPNOTSUPP,
            "set_dirty_tracking: unknown flags {:#x}\n",
            cmd.flags
        );
    }
    let hwpt = paging_hwpt(ctx, cmd.hwpt_id, "set_dirty_tracking")?;
    check_tracks(&hwpt, cmd.hwpt_id, "set_dirty_tracking")?;
    let enable = cmd.flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE != 0;
    hwpt.ioas().set_dirty_tracking(hwpt.domain(), enable)
}

/// `IOMMU_HWPT_GET_DIRTY_BITMAP`: sets a bit in the user's bitmap for each `page_size`
/// page of `[iova, iova + length)` that a dirty IOPTE covers, and clears the IOPTEs'
/// dirty state unless `NO_CLEAR`. Bits are only set (the caller zeroes the bitmap).
pub(crate) fn ioctl_get_dirty_bitmap(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let cmd = IommuHwptGetDirtyBitmap::read(ucmd.bytes());
    if cmd.flags & !IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR != 0 || cmd.reserved != 0 {
        return refuse!(
            EOPNOTSUPP,
            "get_dirty_bitmap: unknown flags {:#x} or reserved field set\n",
            cmd.flags
        );
    }
    let hwpt = paging_hwpt(ctx, cmd.hwpt_id, "get_dirty_bitmap")?;
    let ioas = hwpt.ioas();
    // The range first, then the domain, as iommufd.
    let nbits = dirty::check_range(cmd.iova, cmd.length, cmd.page_size, ioas.iova_alignment())
        .or_else(|e| {
            refuse!(
                e,
                "get_dirty_bitmap: range {:#x}+{:#x} at page size {:#x}: {:?}\n",
                cmd.iova,
                cmd.length,
                cmd.page_size,
                e
            )
        })?;
    check_tracks(&hwpt, cmd.hwpt_id, "get_dirty_bitmap")?;
    let keep = cmd.flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR != 0;
    let range = Span::from_len(cmd.iova, cmd.length)?;
    ioas.check_mapped(range)?;
    let mut windows = Windows::<WINDOW>::new(cmd.iova, cmd.page_size, nbits);
    loop {
        let (start, last) = windows.span();
        ioas.read_dirty(hwpt.domain(), Span { start, last }, keep, &mut |a, b| {
            windows.record(a, b)
        })?;
        // No lock held: the window goes into user memory.
        if let Some((offset, bits)) = windows.touched() {
            let at = cmd.data + windows.byte_offset() + offset as u64;
            or_into_user(at, bits)?;
        }
        if !windows.advance() {
            return Ok(());
        }
    }
}

/// ORs `bits` into the user's bytes at `at`.
fn or_into_user(at: u64, bits: &[u8]) -> Result {
    let mut buf = [0u8; WINDOW];
    let buf = buf.get_mut(..bits.len()).ok_or(EINVAL)?;
    let (mut reader, mut writer) =
        UserSlice::new(UserPtr::from_addr(at as usize), bits.len()).reader_writer();
    reader.read_slice(buf)?;
    dirty::or_into(buf, bits);
    writer.write_slice(buf)
}
