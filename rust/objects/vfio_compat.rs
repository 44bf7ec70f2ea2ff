// SPDX-License-Identifier: GPL-2.0

//! VFIO type1 compatibility: the VFIO container ioctls answered on a `/dev/ioasid` file,
//! as iommufd's `vfio_compat.c` answers them on `/dev/iommu`, and `IOMMU_VFIO_IOAS`, which
//! chooses the IOAS they work on (the "compatibility IOAS": VFIO's ioctls name no IOAS).
//!
//! Everything runs on the one IOAS engine ([`crate::iopt`]): a VFIO mapping is an area
//! like any other, visible to `IOMMU_IOAS_*` on the same IOAS. The two type1 flavours differ
//! only in unmap: type1 v2 (like `IOMMU_IOAS_UNMAP`) never cuts a mapping (`ENOENT`), type1
//! (v1) may unmap any part of one. `VFIO_SET_IOMMU(VFIO_TYPE1_IOMMU)` turns huge IOPTEs off
//! on the compatibility IOAS (refused once domains map something: `EINVAL`), and while
//! they are off an unmap first cuts the mappings at its ends ([`Ioas::cut`]), so no IOPTE
//! ever spans a cut.
//!
//! What this module must never do: leave anything mapped or pinned when an ioctl fails
//! (the engine's map is all or nothing), or answer differently from iommufd's
//! `vfio_compat.c` of Linux 7.3 (the numbers, the `argsz` rules, the errno values: see
//! `Documentation/ioasid.rst`, "VFIO compatibility"). Not supported, as in iommufd:
//! no-IOMMU mode, `VFIO_DMA_MAP_FLAG_VADDR`, the dirty-page ioctls and flags (dirty
//! tracking is `IOMMU_HWPT_*` here as there).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::{
    dispatch::Ucmd,
    error::refuse,
    ffi::Process,
    iopt::{pages::PAGE_SIZE, Ioas},
    objects::{context::Context, table::ObjRef},
    uapi::iova::Span,
    uapi::vfio::*,
    uapi::*,
};
use kernel::{prelude::*, sync::Arc};

/// The compatibility IOAS, counted as in use until dropped.
///
/// # Errors
///
/// `ENODEV` when none is set (as iommufd: VFIO has no container without a group).
fn compat_ioas(ctx: &Context) -> Result<ObjRef<Arc<Ioas>>> {
    ctx.objects()
        .get_compat::<Arc<Ioas>>()
        .map(|(_, ioas)| ioas)
}

/// `IOMMU_VFIO_IOAS`.
pub(crate) fn ioctl_vfio_ioas(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuVfioIoas::read(ucmd.bytes());
    if cmd.reserved != 0 {
        return refuse!(
            EOPNOTSUPP,
            "vfio_ioas: reserved field is {:#x}\n",
            cmd.reserved
        );
    }
    match cmd.op {
        IOMMU_VFIO_IOAS_GET => {
            let (id, _ioas) = ctx.objects().get_compat::<Arc<Ioas>>()?;
            cmd.ioas_id = id;
            cmd.write(ucmd.bytes_mut());
            Ok(())
        }
        IOMMU_VFIO_IOAS_SET => {
            let ioas = ctx.objects().get_as::<Arc<Ioas>>(cmd.ioas_id)?;
            ctx.objects().set_compat(cmd.ioas_id);
            drop(ioas);
            Ok(())
        }
        IOMMU_VFIO_IOAS_CLEAR => {
            ctx.objects().clear_compat();
            Ok(())
        }
        op => refuse!(EOPNOTSUPP, "vfio_ioas: unknown op {}\n", op),
    }
}

/// `VFIO_GET_API_VERSION`.
pub(crate) fn get_api_version(_ctx: &Context, _arg: usize) -> Result<isize> {
    Ok(VFIO_API_VERSION)
}

/// `VFIO_CHECK_EXTENSION`: 1 for what is supported, 0 otherwise.
pub(crate) fn check_extension(ctx: &Context, ext: usize) -> Result<isize> {
    Ok(match ext {
        _ if type1_extension(ext) => 1,
        // Every domain enforces cache coherency (binding refuses devices whose IOMMU
        // cannot), but the question is about the compatibility IOAS: `ENODEV` without one.
        VFIO_DMA_CC_IOMMU => {
            compat_ioas(ctx)?;
            1
        }
        // No-IOMMU mode, the nesting type, `VFIO_UPDATE_VADDR` and the rest.
        _ => 0,
    })
}

/// Whether `ext` is an extension of type1 that every IOAS has: the two IOMMU types and
/// `VFIO_UNMAP_ALL` (shared with the VFIO backend, [`super::vfio_backend`]).
pub(crate) fn type1_extension(ext: usize) -> bool {
    matches!(ext, VFIO_TYPE1_IOMMU | VFIO_TYPE1V2_IOMMU | VFIO_UNMAP_ALL)
}

/// `VFIO_SET_IOMMU`: type1 or type1 v2 on the compatibility IOAS.
pub(crate) fn set_iommu(ctx: &Context, kind: usize) -> Result<isize> {
    if kind != VFIO_TYPE1_IOMMU && kind != VFIO_TYPE1V2_IOMMU {
        return refuse!(EINVAL, "vfio: set_iommu: type {} is not type1\n", kind);
    }
    let ioas = compat_ioas(ctx)?;
    if kind == VFIO_TYPE1_IOMMU {
        // Unmap may cut any mapping: no IOPTE may span two pages.
        ioas.set_huge_pages(false)?;
    }
    Ok(0)
}

/// `VFIO_IOMMU_GET_INFO`: the page sizes, then the capability chain (DMA avail, IOVA
/// ranges) as far as `argsz` reaches; `argsz` comes back as the size of the whole chain.
pub(crate) fn get_info(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    get_info_on(&**compat_ioas(ctx)?, ucmd)
}

/// `VFIO_IOMMU_GET_INFO` on `ioas` (a compatibility IOAS or a VFIO container's).
pub(crate) fn get_info_on(ioas: &Ioas, ucmd: &mut Ucmd<'_>) -> Result {
    let mut info = VfioIommuType1Info::read(ucmd.bytes());
    let (domains, alignment) = ioas.page_sizes();
    let argsz = info.argsz;

    // The ranges first, into a vector: the chain is written without the IOAS's lock.
    let mut ranges = KVec::new();
    ioas.iova_ranges(|span| {
        ranges.push((span.start, span.last), GFP_KERNEL)?;
        Ok(())
    })?;
    let chain = info_chain(argsz, ranges.iter().copied(), |offset, bytes| {
        ucmd.write_beyond(offset, bytes)
    })?;

    info.flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
    info.iova_pgsizes = iova_pgsizes(domains, PAGE_SIZE, alignment);
    info.cap_offset = chain.cap_offset;
    info.pad = 0;
    info.argsz = chain.total;
    info.write(ucmd.bytes_mut());
    Ok(())
}

/// `VFIO_IOMMU_MAP_DMA`: maps user memory at the given IOVA of the compatibility IOAS.
pub(crate) fn map_dma(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    // As iommufd: the flags are checked before the compatibility IOAS is looked up.
    map_prot(VfioIommuType1DmaMap::read(ucmd.bytes()).flags)?;
    map_dma_on(&**compat_ioas(ctx)?, ctx.process()?, ucmd)
}

/// The IOAS permissions of `VFIO_IOMMU_MAP_DMA` flags.
///
/// # Errors
///
/// `EINVAL` for flags other than `READ` and `WRITE`.
fn map_prot(flags: u32) -> Result<u32> {
    let supported = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    if flags & !supported != 0 {
        return refuse!(EINVAL, "vfio: map_dma: unknown flags {:#x}\n", flags);
    }
    let mut prot = 0;
    if flags & VFIO_DMA_MAP_FLAG_READ != 0 {
        prot |= IOMMU_IOAS_MAP_READABLE;
    }
    if flags & VFIO_DMA_MAP_FLAG_WRITE != 0 {
        prot |= IOMMU_IOAS_MAP_WRITEABLE;
    }
    Ok(prot)
}

/// `VFIO_IOMMU_MAP_DMA` on `ioas`, with the pages pinned and charged to `process`.
pub(crate) fn map_dma_on(ioas: &Ioas, process: Arc<Process>, ucmd: &mut Ucmd<'_>) -> Result {
    let map = VfioIommuType1DmaMap::read(ucmd.bytes());
    let prot = map_prot(map.flags)?;
    ioas.map_user(map.vaddr, map.size, Some(map.iova), prot, process)?;
    Ok(())
}

/// `VFIO_IOMMU_UNMAP_DMA`: unmaps a range (type1 v1: cutting mappings at its ends), or
/// everything with `VFIO_DMA_UNMAP_FLAG_ALL`; `size` comes back as the bytes unmapped,
/// also when the unmap stopped at an error after unmapping some.
pub(crate) fn unmap_dma(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    // As iommufd: the flags are checked before the compatibility IOAS is looked up.
    check_unmap_flags(VfioIommuType1DmaUnmap::read(ucmd.bytes()).flags)?;
    unmap_dma_on(&**compat_ioas(ctx)?, ucmd)
}

/// `EINVAL` for `VFIO_IOMMU_UNMAP_DMA` flags other than `ALL`.
fn check_unmap_flags(flags: u32) -> Result {
    if flags & !VFIO_DMA_UNMAP_FLAG_ALL != 0 {
        return refuse!(EINVAL, "vfio: unmap_dma: unsupported flags {:#x}\n", flags);
    }
    Ok(())
}

/// `VFIO_IOMMU_UNMAP_DMA` on `ioas`.
pub(crate) fn unmap_dma_on(ioas: &Ioas, ucmd: &mut Ucmd<'_>) -> Result {
    let mut unmap = VfioIommuType1DmaUnmap::read(ucmd.bytes());
    check_unmap_flags(unmap.flags)?;
    let (unmapped, result) = if unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL != 0 {
        if unmap.iova != 0 || unmap.size != 0 {
            return refuse!(EINVAL, "vfio: unmap_dma: unmap all with an iova or size\n");
        }
        ioas.unmap_partial(Span {
            start: 0,
            last: u64::MAX,
        })
    } else {
        if !ioas.huge_pages() {
            let (cuts, n) = unmap_cuts(unmap.iova, unmap.size);
            // PANIC: `n <= 2`.
            ioas.cut(&cuts[..n])?;
        }
        match Span::from_len(unmap.iova, unmap.size) {
            Ok(range) => ioas.unmap_partial(range),
            // Reported with `size` 0, as iommufd does.
            Err(e) => (
                0,
                refuse!(
                    Error::from(e),
                    "vfio: unmap_dma: {:#x}+{:#x} is empty or wraps\n",
                    unmap.iova,
                    unmap.size
                ),
            ),
        }
    };
    unmap.size = unmapped;
    unmap.write(ucmd.bytes_mut());
    ucmd.respond_with_error();
    result
}
