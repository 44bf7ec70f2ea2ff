// SPDX-License-Identifier: GPL-2.0

//! The ioctls of the I/O address space (IOAS) object: `IOMMU_IOAS_*` and the IOAS's
//! option. The IOAS itself (areas, reservations, domains, pins) is [`crate::iopt::Ioas`];
//! these handlers check the arguments, find the objects and call it. See
//! `include/uapi/linux/ioasid.h` for each ioctl's contract.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::{
    dispatch::Ucmd,
    error::refuse,
    ffi,
    iopt::Ioas,
    objects::{context::Context, table::ObjectKind, Object},
    uapi::iova::Span,
    uapi::*,
};
use kernel::{
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};

/// An IOAS is used by its HWPTs and accesses.
impl ObjectKind for Arc<Ioas> {
    fn users(&self) -> u32 {
        Ioas::users(self)
    }
}

/// `IOMMU_IOAS_ALLOC`.
pub(crate) fn ioctl_alloc<'a>(ctx: &'a Context, ucmd: &mut Ucmd<'a>) -> Result {
    let mut cmd = IommuIoasAlloc::read(ucmd.bytes());
    if cmd.flags != 0 {
        return refuse!(EOPNOTSUPP, "ioas_alloc: unknown flags {:#x}\n", cmd.flags);
    }
    let new = ctx.objects().add(Object::Ioas(Ioas::new()?))?;
    cmd.out_ioas_id = new.id();
    cmd.write(ucmd.bytes_mut());
    ucmd.publish_on_reply(new)
}

/// `IOMMU_IOAS_IOVA_RANGES`.
pub(crate) fn ioctl_iova_ranges(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuIoasIovaRanges::read(ucmd.bytes());
    if cmd.reserved != 0 {
        return refuse!(
            EOPNOTSUPP,
            "iova_ranges: reserved field is {:#x}\n",
            cmd.reserved
        );
    }
    let ioas = ctx.objects().get_as::<Arc<Ioas>>(cmd.ioas_id)?;
    let room = cmd.num_iovas;
    let mut out = user_array(cmd.allowed_iovas, room, IommuIovaRange::SIZE)?.writer();
    let mut count = 0u32;
    let mut buf = [0u8; IommuIovaRange::SIZE];
    cmd.out_iova_alignment = ioas.iova_ranges(|span| {
        if count < room {
            IommuIovaRange {
                start: span.start,
                last: span.last,
            }
            .write(&mut buf);
            out.write_slice(&buf)?;
        }
        count += 1;
        Ok(())
    })?;
    cmd.num_iovas = count;
    cmd.write(ucmd.bytes_mut());
    if count > room {
        ucmd.respond_with_error();
        return refuse!(
            EMSGSIZE,
            "iova_ranges: {} ranges, room for {}\n",
            count,
            room
        );
    }
    Ok(())
}

/// `IOMMU_IOAS_ALLOW_IOVAS`.
pub(crate) fn ioctl_allow_iovas(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let cmd = IommuIoasAllowIovas::read(ucmd.bytes());
    if cmd.reserved != 0 {
        return refuse!(
            EOPNOTSUPP,
            "allow_iovas: reserved field is {:#x}\n",
            cmd.reserved
        );
    }
    let ioas = ctx.objects().get_as::<Arc<Ioas>>(cmd.ioas_id)?;
    let mut input = user_array(cmd.allowed_iovas, cmd.num_iovas, IommuIovaRange::SIZE)?.reader();
    let mut allowed = KVec::new();
    let mut buf = [0u8; IommuIovaRange::SIZE];
    for _ in 0..cmd.num_iovas {
        input.read_slice(&mut buf)?;
        let r = IommuIovaRange::read(&buf);
        if r.start >= r.last {
            return refuse!(
                EINVAL,
                "allow_iovas: empty range [{:#x}, {:#x}]\n",
                r.start,
                r.last
            );
        }
        allowed.push(
            Span {
                start: r.start,
                last: r.last,
            },
            GFP_KERNEL,
        )?;
    }
    allowed.sort_unstable_by_key(|s: &Span| s.start);
    if let Some(w) = allowed.windows(2).find(|w| w[0].intersects(&w[1])) {
        return refuse!(
            EINVAL,
            "allow_iovas: ranges at {:#x} and {:#x} overlap\n",
            w[0].start,
            w[1].start
        );
    }
    ioas.set_allowed(allowed)
}

/// `IOMMU_IOAS_MAP`.
pub(crate) fn ioctl_map(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuIoasMap::read(ucmd.bytes());
    let (fixed, prot) = map_args(
        "map",
        cmd.flags,
        cmd.reserved,
        &[cmd.iova, cmd.length],
        cmd.iova,
    )?;
    let ioas = ctx.objects().get_as::<Arc<Ioas>>(cmd.ioas_id)?;
    let process = ctx.process()?;
    cmd.iova = ioas.map_user(cmd.user_va, cmd.length, fixed, prot, process)?;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_IOAS_MAP_FILE`.
pub(crate) fn ioctl_map_file(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuIoasMapFile::read(ucmd.bytes());
    let (fixed, prot) = map_args("map_file", cmd.flags, 0, &[cmd.iova, cmd.length], cmd.iova)?;
    let ioas = ctx.objects().get_as::<Arc<Ioas>>(cmd.ioas_id)?;
    if cmd.length == 0 {
        return refuse!(EINVAL, "map_file: zero length\n");
    }
    if cmd.start.checked_add(cmd.length - 1).is_none() {
        return refuse!(
            EOVERFLOW,
            "map_file: file range {:#x}+{:#x} wraps\n",
            cmd.start,
            cmd.length
        );
    }
    let file = ffi::fget(cmd.fd).or_else(|e| refuse!(e, "map_file: bad fd {}\n", cmd.fd))?;
    // Refused now, not when the pages are pinned (lazily, with the first domain or access):
    // a mapping holds its file, so a mapped /dev/ioasid file (or any file holding one)
    // would keep its own context alive after close, with every pin.
    if !ffi::file_pinnable(&file) {
        return refuse!(
            EINVAL,
            "map_file: fd {} is not a memfd (shmem) or hugetlbfs file\n",
            cmd.fd
        );
    }
    let process = ctx.process()?;
    cmd.iova = ioas.map_file(file, cmd.start, cmd.length, fixed, prot, process)?;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_IOAS_COPY`.
pub(crate) fn ioctl_copy(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuIoasCopy::read(ucmd.bytes());
    let (fixed, prot) = map_args(
        "copy",
        cmd.flags,
        0,
        &[cmd.length, cmd.src_iova, cmd.dst_iova],
        cmd.dst_iova,
    )?;
    let src = ctx.objects().get_as::<Arc<Ioas>>(cmd.src_ioas_id)?;
    let range = Span::from_len(cmd.src_iova, cmd.length)?;
    let slices = src.slices(range)?;
    drop(src);
    let dst = ctx.objects().get_as::<Arc<Ioas>>(cmd.dst_ioas_id)?;
    cmd.dst_iova = dst.map_slices(&slices, cmd.length, fixed, prot)?;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_IOAS_UNMAP`.
pub(crate) fn ioctl_unmap(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuIoasUnmap::read(ucmd.bytes());
    let ioas = ctx.objects().get_as::<Arc<Ioas>>(cmd.ioas_id)?;
    let unmapped = if cmd.iova == 0 && cmd.length == u64::MAX {
        ioas.unmap(Span {
            start: 0,
            last: u64::MAX,
        })?
    } else {
        if cmd.iova == u64::MAX || cmd.length == u64::MAX {
            return refuse!(EOVERFLOW, "unmap: iova or length is UINT64_MAX\n");
        }
        let range = Span::from_len(cmd.iova, cmd.length)?;
        let unmapped = ioas.unmap(range)?;
        if unmapped == 0 {
            return refuse!(
                ENOENT,
                "unmap: nothing mapped in [{:#x}, {:#x}]\n",
                range.start,
                range.last
            );
        }
        unmapped
    };
    cmd.length = unmapped;
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_IOAS_CHANGE_PROCESS`: charges every pinned page of every IOAS of the context to
/// the calling process instead of the one that mapped it. All or nothing: the new process
/// is charged for all of it first (`ENOMEM` over its limit, and nothing moved), and while
/// the move is prepared, pages pinned or unpinned meanwhile are charged to both processes
/// (see [`Pages::change_process_prepare`]), so the books stay exact without holding every
/// IOAS's lock at once. The move covers the memory mapped when the ioctl started.
pub(crate) fn ioctl_change_process(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let cmd = IommuIoasChangeProcess::read(ucmd.bytes());
    if cmd.reserved != 0 {
        return refuse!(
            EOPNOTSUPP,
            "change_process: reserved field is {:#x}\n",
            cmd.reserved
        );
    }
    // One move at a time per context: a `Pages` has room for one prepared move.
    let _moving = ctx.change_process_lock().lock();
    let mut pages = KVec::new();
    for ioas in ctx.objects().all_of::<Arc<Ioas>>()?.iter() {
        ioas.all_pages(&mut pages)?;
    }
    let mut prepared = 0;
    let mut result = Ok(());
    for p in pages.iter() {
        result = p.change_process_prepare().or_else(|e| {
            refuse!(
                e,
                "change_process: the new process cannot be charged: {:?}\n",
                e
            )
        });
        if result.is_err() {
            break;
        }
        prepared += 1;
    }
    if result.is_err() {
        for p in pages.iter().take(prepared) {
            p.change_process_abort();
        }
        return result;
    }
    for p in pages.iter() {
        // The old process is dropped here, outside of the `Pages`' lock.
        drop(p.change_process_commit());
    }
    Ok(())
}

/// `IOMMU_OPTION` for `IOMMU_OPTION_HUGE_PAGES` (the per-IOAS option).
pub(crate) fn option_huge_pages(ctx: &Context, cmd: &mut IommuOption) -> Result {
    let ioas = ctx.objects().get_as::<Arc<Ioas>>(cmd.object_id)?;
    match cmd.op {
        IOMMU_OPTION_OP_GET => {
            cmd.val64 = u64::from(ioas.huge_pages());
            Ok(())
        }
        IOMMU_OPTION_OP_SET if cmd.val64 <= 1 => ioas.set_huge_pages(cmd.val64 == 1),
        IOMMU_OPTION_OP_SET => refuse!(
            EINVAL,
            "option: huge pages value {} is not 0 or 1\n",
            cmd.val64
        ),
        op => refuse!(EOPNOTSUPP, "option: unknown op {}\n", op),
    }
}

/// [`check_map_args`], refused with a logged reason.
fn map_args(
    op: &str,
    flags: u32,
    reserved: u32,
    values: &[u64],
    fixed_iova: u64,
) -> Result<(Option<u64>, u32)> {
    check_map_args(flags, reserved, values, fixed_iova)
        .or_else(|e| refuse!(e, "{}: flags {:#x}: {:?}\n", op, flags, e))
}

/// The user array of `count` elements of `elem` bytes at `addr`.
fn user_array(addr: u64, count: u32, elem: usize) -> Result<UserSlice> {
    let len = (count as usize).checked_mul(elem).ok_or(EOVERFLOW)?;
    Ok(UserSlice::new(UserPtr::from_addr(addr as usize), len))
}
