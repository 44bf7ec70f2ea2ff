// SPDX-License-Identifier: GPL-2.0

//! The one ioctl dispatcher of `/dev/ioasid`.
//!
//! Every ioctl is a row of [`OPS`], as in iommufd's `IOCTL_OP` table: its uAPI name (the
//! number, from [`crate::uapi::ucmd`]), its structure, the structure's last mandatory field
//! (the minimum `size` is where it ends) and its handler; from the name in the uAPI header
//! to the handler is one search. The dispatcher applies the rules of
//! [`crate::uapi::ucmd`] once for all of them: it copies the caller's structure in (zero-extended
//! when the caller's is shorter), refuses non-zero bytes beyond what the kernel knows, runs
//! the handler on the kernel copy and writes the structure back only if the handler
//! succeeded, never past the caller's `size`. Handlers therefore never touch the argument's
//! user memory themselves (one exception: a VFIO reply's capability chain, written past the
//! structure through [`Ucmd::write_beyond`], bounded by the caller's `argsz`).
//!
//! The same file answers VFIO's type1 container ioctls, as iommufd does (its numbers below
//! `IOMMUFD_CMD_BASE` go to `vfio_compat.c`). Their rows are of two other [`Args`] kinds:
//! structures that start with `argsz` ([`Args::Argsz`]: the mandatory part is read whatever
//! `argsz` says, bytes past it are ignored, not checked) and plain values ([`Args::Value`]:
//! the argument is a number and the handler's result is the ioctl's return value). The
//! containers of ioasid's VFIO backend answer the structure rows of type1 by the same rules,
//! through [`dispatch_vfio`], with handlers of their own IOAS.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::{
    error::refuse,
    hw,
    objects::{
        context::{self, Context},
        device, dirty, fault, hw_queue, hwpt, ioas, pasid, pcidev,
        table::{self, NewObject},
        vdevice, veventq, vfio_compat, viommu,
    },
    testing::selftest,
    uapi::ucmd::{self, *},
    uapi::vfio::*,
    uapi::*,
};
use kernel::{
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

/// Largest kernel structure an operation may use; each row is checked against it when the
/// table is built.
const MAX_UCMD_SIZE: usize = 256;

/// Work that completes an ioctl only once its reply reached the caller: a new object
/// made visible, a new file descriptor installed, pinned pages kept. Dropping it without
/// [`Pending::commit`] undoes it (the reply could not be written, or the handler failed).
pub(crate) trait Pending {
    /// Completes the work; called at most once, after the reply is written.
    fn commit(&mut self);
}

/// The kernel copy of one ioctl's argument structure, and what its reply completes.
pub(crate) struct Ucmd<'a> {
    buf: [u8; MAX_UCMD_SIZE],
    size: usize,
    /// The caller's structure (for [`Ucmd::write_beyond`]) and how many bytes it has.
    user: UserPtr,
    user_size: usize,
    /// Write the structure back even though the handler fails (`EMSGSIZE` replies).
    respond_with_error: bool,
    /// New objects, made live last first once the reply is written; dropped (aborted)
    /// otherwise. Kept inline: no ioctl creates more than two, and an allocation costs
    /// more than the rest of `IOMMU_IOAS_ALLOC` under the debug kernels.
    objects: [Option<NewObject<'a>>; 2],
    /// Other work, committed last first before the objects; dropped (undone) otherwise.
    pending: KVec<KBox<dyn Pending + 'a>>,
}

impl<'a> Ucmd<'a> {
    /// The structure as the kernel knows it (the operation's full size).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.size]
    }

    /// The structure, for the handler to fill in its output fields.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.size]
    }

    /// Asks for the structure to be written back although the handler returns an error
    /// (the two-call protocols, which report the needed size with `EMSGSIZE`).
    pub(crate) fn respond_with_error(&mut self) {
        self.respond_with_error = true;
    }

    /// Makes `new` live once the reply is written (and aborts it if it is not).
    ///
    /// # Errors
    ///
    /// `EINVAL` if the handler already created two objects (a bug); `new` is aborted.
    pub(crate) fn publish_on_reply(&mut self, new: NewObject<'a>) -> Result {
        match self.objects.iter_mut().find(|o| o.is_none()) {
            Some(slot) => {
                *slot = Some(new);
                Ok(())
            }
            None => refuse!(EINVAL, "ioctl: more new objects than a reply can carry\n"),
        }
    }

    /// Writes `bytes` into the caller's buffer at `offset`, past the structure the kernel
    /// knows and inside the caller's size (a VFIO reply's capability chain).
    ///
    /// # Errors
    ///
    /// `EINVAL` outside those bounds (a bug), `EFAULT`.
    pub(crate) fn write_beyond(&mut self, offset: u64, bytes: &[u8]) -> Result {
        let end = offset.checked_add(bytes.len() as u64).ok_or(EINVAL)?;
        if offset < self.size as u64 || end > self.user_size as u64 {
            return refuse!(EINVAL, "ioctl: reply bytes past the caller's buffer\n");
        }
        let at = self.user.wrapping_byte_add(offset as usize);
        UserSlice::new(at, bytes.len()).writer().write_slice(bytes)
    }

    /// Completes `work` once the reply is written (and undoes it if it is not).
    ///
    /// # Errors
    ///
    /// `ENOMEM`; `work` is undone.
    pub(crate) fn on_reply(&mut self, work: impl Pending + 'a) -> Result {
        let work: KBox<dyn Pending + 'a> = KBox::new(work, GFP_KERNEL)?;
        self.pending.push(work, GFP_KERNEL)?;
        Ok(())
    }
}

/// A handler runs with the caller's context and the kernel copy of its structure.
type Handler = for<'a> fn(&'a Context, &mut Ucmd<'a>) -> Result;

/// A handler of a VFIO ioctl whose argument is a value; returns the ioctl's result.
type ValueHandler = fn(&Context, usize) -> Result<isize>;

/// How a row's argument is passed and checked.
enum Args {
    /// iommufd's structures: `size` first, `size` below `min_size` is `EINVAL`, non-zero
    /// bytes past the `size` bytes the kernel knows are `E2BIG`; the reply is written back
    /// up to the smaller of the two sizes.
    Size {
        min_size: usize,
        size: usize,
        handler: Handler,
    },
    /// VFIO's structures: `argsz` first; the `min_size` mandatory bytes are read whatever
    /// `argsz` says (`EFAULT` if they are not readable), then `argsz` below `min_size` is
    /// `EINVAL`; bytes past them are ignored. With `reply`, the structure is written back
    /// up to the smaller of `argsz` and `size`.
    Argsz {
        min_size: usize,
        size: usize,
        reply: bool,
        handler: Handler,
    },
    /// VFIO's ioctls whose argument is a number: the handler gets it and returns the
    /// ioctl's result.
    Value(ValueHandler),
}

/// One row of the ioctl table.
pub(crate) struct Op {
    /// The ioctl number, `_IO(IOMMUFD_TYPE, nr)`.
    cmd: u32,
    /// Exists only with the `selftest` module parameter.
    test_only: bool,
    /// The uAPI name, for debug messages.
    name: &'static str,
    args: Args,
}

impl Op {
    /// Builds a row; fails the build if the structure does not fit [`MAX_UCMD_SIZE`] or the
    /// minimum is not inside it.
    const fn new(cmd: u32, name: &'static str, args: Args) -> Self {
        if let Args::Size { min_size, size, .. } | Args::Argsz { min_size, size, .. } = args {
            assert!(size <= MAX_UCMD_SIZE && min_size >= 4 && min_size <= size);
        }
        Self {
            cmd,
            test_only: false,
            name,
            args,
        }
    }

    /// The same row, present only with the `selftest` module parameter.
    const fn test_only(self) -> Self {
        Self {
            test_only: true,
            ..self
        }
    }
}

/// One row: ioctl `$ioctl` (a number of [`crate::uapi::ucmd`], named as in the uAPI header)
/// takes structure `$t`, whose fields up to `$last` are mandatory (the minimum `size` is
/// `offsetofend($t, $last)`, as iommufd's `IOCTL_OP`), and runs `$handler`. The host test
/// (`tests/host/ioctl_table.rs`) reads these rows and checks each against upstream's
/// headers and `IOCTL_OP` table.
macro_rules! op {
    ($ioctl:ident, $t:ty, last = $last:ident, $handler:expr) => {
        Op::new(
            $ioctl,
            stringify!($ioctl),
            Args::Size {
                min_size: offsetofend!($t, $last),
                size: <$t>::SIZE,
                handler: $handler,
            },
        )
    };
}

/// A VFIO row: ioctl `$ioctl` takes structure `$t` (which starts with `argsz`), whose
/// fields up to `$last` are mandatory (vfio's `minsz`), and runs `$handler`; with `reply`
/// the structure is written back ([`Args::Argsz`]). The host test checks these rows against
/// upstream's `linux/vfio.h`.
macro_rules! vfio {
    ($ioctl:ident, $t:ty, last = $last:ident, $reply:ident, $handler:expr) => {
        Op::new(
            $ioctl,
            stringify!($ioctl),
            Args::Argsz {
                min_size: offsetofend!($t, $last),
                size: <$t>::SIZE,
                reply: vfio!(@reply $reply),
                handler: $handler,
            },
        )
    };
    (@reply reply) => { true };
    (@reply no_reply) => { false };
}

/// A VFIO row whose argument is a value ([`Args::Value`]).
macro_rules! vfio_value {
    ($ioctl:ident, $handler:expr) => {
        Op::new($ioctl, stringify!($ioctl), Args::Value($handler))
    };
}

/// The ioctl table: one row per implemented ioctl. A command without a row returns
/// `ENOTTY`, as iommufd does for numbers it does not know. One row a line, as the
/// `IOCTL_OP` table: rustfmt would give each argument its own line.
#[rustfmt::skip]
static OPS: &[Op] = &[
    op!(IOMMU_DESTROY, IommuDestroy, last = id, table::ioctl_destroy),
    op!(IOMMU_IOAS_ALLOC, IommuIoasAlloc, last = out_ioas_id, ioas::ioctl_alloc),
    op!(IOMMU_IOAS_ALLOW_IOVAS, IommuIoasAllowIovas, last = allowed_iovas,
        ioas::ioctl_allow_iovas),
    op!(IOMMU_IOAS_COPY, IommuIoasCopy, last = src_iova, ioas::ioctl_copy),
    op!(IOMMU_IOAS_IOVA_RANGES, IommuIoasIovaRanges, last = out_iova_alignment,
        ioas::ioctl_iova_ranges),
    op!(IOMMU_IOAS_MAP, IommuIoasMap, last = iova, ioas::ioctl_map),
    op!(IOMMU_IOAS_UNMAP, IommuIoasUnmap, last = length, ioas::ioctl_unmap),
    op!(IOMMU_OPTION, IommuOption, last = val64, context::ioctl_option),
    op!(IOMMU_HWPT_ALLOC, IommuHwptAlloc, last = reserved, hwpt::ioctl_alloc),
    op!(IOMMU_GET_HW_INFO, IommuHwInfo, last = reserved, device::ioctl_get_hw_info),
    op!(IOMMU_HWPT_SET_DIRTY_TRACKING, IommuHwptSetDirtyTracking, last = reserved,
        dirty::ioctl_set_dirty_tracking),
    op!(IOMMU_HWPT_GET_DIRTY_BITMAP, IommuHwptGetDirtyBitmap, last = data,
        dirty::ioctl_get_dirty_bitmap),
    op!(IOMMU_HWPT_INVALIDATE, IommuHwptInvalidate, last = reserved, hwpt::ioctl_invalidate),
    op!(IOMMU_FAULT_QUEUE_ALLOC, IommuFaultAlloc, last = out_fault_fd, fault::ioctl_alloc),
    op!(IOMMU_IOAS_MAP_FILE, IommuIoasMapFile, last = iova, ioas::ioctl_map_file),
    op!(IOMMU_VIOMMU_ALLOC, IommuViommuAlloc, last = out_viommu_id, viommu::ioctl_alloc),
    op!(IOMMU_VDEVICE_ALLOC, IommuVdeviceAlloc, last = virt_id, vdevice::ioctl_alloc),
    op!(IOMMU_VEVENTQ_ALLOC, IommuVeventqAlloc, last = out_veventq_fd, veventq::ioctl_alloc),
    op!(IOMMU_IOAS_CHANGE_PROCESS, IommuIoasChangeProcess, last = reserved,
        ioas::ioctl_change_process),
    op!(IOMMU_HW_QUEUE_ALLOC, IommuHwQueueAlloc, last = length, hw_queue::ioctl_alloc),
    op!(IOMMU_TEST_CMD, IommuTestCmd, last = last, selftest::ioctl_test_cmd).test_only(),
    op!(IOASID_DEVICE_BIND, IoasidDeviceBind, last = out_dev_id, pcidev::ioctl_bind),
    op!(IOASID_DEVICE_ATTACH, IoasidDeviceAttach, last = pt_id, pcidev::ioctl_attach),
    op!(IOASID_DEVICE_DETACH, IoasidDeviceDetach, last = dev_id, pcidev::ioctl_detach),
    op!(IOASID_PASID_ALLOC, IoasidPasidAlloc, last = reserved, pasid::ioctl_alloc),
    op!(IOASID_PASID_FREE, IoasidPasidFree, last = pasid, pasid::ioctl_free),
    op!(IOMMU_VFIO_IOAS, IommuVfioIoas, last = reserved, vfio_compat::ioctl_vfio_ioas),
    // VFIO's type1 container ioctls (`VFIO_IOMMU_DIRTY_PAGES` has no row: ENOTTY, as
    // iommufd, whose dirty tracking is `IOMMU_HWPT_GET_DIRTY_BITMAP`).
    vfio_value!(VFIO_GET_API_VERSION, vfio_compat::get_api_version),
    vfio_value!(VFIO_CHECK_EXTENSION, vfio_compat::check_extension),
    vfio_value!(VFIO_SET_IOMMU, vfio_compat::set_iommu),
    vfio!(VFIO_IOMMU_GET_INFO, VfioIommuType1Info, last = iova_pgsizes, reply,
        vfio_compat::get_info),
    vfio!(VFIO_IOMMU_MAP_DMA, VfioIommuType1DmaMap, last = size, no_reply, vfio_compat::map_dma),
    vfio!(VFIO_IOMMU_UNMAP_DMA, VfioIommuType1DmaUnmap, last = size, reply,
        vfio_compat::unmap_dma),
];

/// Runs ioctl `cmd` with argument `arg` on `ctx`.
///
/// # Errors
///
/// `ENOTTY` for an unknown command, `EINVAL` when the caller's `size` is below the
/// minimum, `E2BIG` for non-zero bytes beyond the known structure, `EFAULT` when the
/// argument is not accessible, and whatever the handler returns.
pub(crate) fn dispatch(ctx: &Context, cmd: u32, arg: usize) -> Result<isize> {
    let Some(op) = OPS
        .iter()
        .find(|op| op.cmd == cmd && (!op.test_only || selftest::enabled()))
    else {
        return refuse!(ENOTTY, "ioctl {:#x}: not an ioasid ioctl\n", cmd);
    };

    if let Args::Value(handler) = op.args {
        return handler(ctx, arg);
    }
    run(op, arg, |ucmd| match op.args {
        Args::Size { handler, .. } | Args::Argsz { handler, .. } => handler(ctx, ucmd),
        Args::Value(_) => refuse!(ENOTTY, "ioctl: a value row has no structure (a bug)\n"),
    })
}

/// Runs VFIO ioctl `cmd` (one whose argument is a structure) with argument `arg` by the
/// rules of its row in [`OPS`], with `handler` in place of the row's: the VFIO backend's
/// containers ([`crate::objects::vfio_backend`]) answer the type1 ioctls as `/dev/ioasid`
/// does, on their own IOAS.
///
/// # Errors
///
/// `ENOTTY` if `cmd` has no such row; as [`dispatch`].
pub(crate) fn dispatch_vfio(
    cmd: u32,
    arg: usize,
    handler: impl FnOnce(&mut Ucmd<'_>) -> Result,
) -> Result<isize> {
    let Some(op) = OPS
        .iter()
        .find(|op| op.cmd == cmd && matches!(op.args, Args::Argsz { .. }))
    else {
        return refuse!(
            ENOTTY,
            "vfio: ioctl {:#x}: not a type1 container ioctl\n",
            cmd
        );
    };
    run(op, arg, handler)
}

/// Reads the argument of `op` (not an [`Args::Value`] row) from `arg`, runs `handler` on
/// it and writes the reply.
fn run<'a>(op: &Op, arg: usize, handler: impl FnOnce(&mut Ucmd<'a>) -> Result) -> Result<isize> {
    let ptr = UserPtr::from_addr(arg);
    let (min_size, size, vfio, reply) = match op.args {
        Args::Value(_) => {
            return refuse!(
                ENOTTY,
                "{}: a value row has no structure (a bug)\n",
                op.name
            )
        }
        Args::Size { min_size, size, .. } => (min_size, size, false, true),
        Args::Argsz {
            min_size,
            size,
            reply,
            ..
        } => (min_size, size, true, reply),
    };
    let mut ucmd = Ucmd {
        buf: [0; MAX_UCMD_SIZE],
        size,
        user: ptr,
        user_size: 0,
        respond_with_error: false,
        objects: [None, None],
        pending: KVec::new(),
    };
    let copy = if vfio {
        read_argsz(op, &mut ucmd, min_size)?
    } else {
        read_size(op, &mut ucmd, min_size)?
    };

    let result = handler(&mut ucmd);
    if result.is_err() && !ucmd.respond_with_error {
        return result.map(|()| 0);
    }
    if reply {
        // PANIC: `copy <= size <= MAX_UCMD_SIZE` by `check_size` and `Op::new`.
        UserSlice::new(ptr, copy)
            .writer()
            .write_slice(&ucmd.buf[..copy])?;
    }
    if result.is_ok() {
        // Last first: an object made with others (a mock device and its idev) is published
        // after the objects it owns.
        while let Some(mut work) = ucmd.pending.pop() {
            work.commit();
        }
        for new in ucmd.objects.iter_mut().rev() {
            if let Some(new) = new.take() {
                new.finalize();
            }
        }
    }
    result.map(|()| 0)
}

/// Reads an iommufd structure (`size` first) into `ucmd` by the rules of
/// [`crate::uapi::ucmd`]; returns how many bytes the reply may write back.
fn read_size(op: &Op, ucmd: &mut Ucmd<'_>, min_size: usize) -> Result<usize> {
    let user_size: u32 = UserSlice::new(ucmd.user, size_of::<u32>())
        .reader()
        .read()?;
    let copy = ucmd::check_size(user_size, min_size, ucmd.size).or_else(|e| {
        refuse!(
            e,
            "{}: size {} is below the minimum {}\n",
            op.name,
            user_size,
            min_size
        )
    })?;
    ucmd.user_size = user_size as usize;
    let size = ucmd.size;
    // PANIC: `size <= MAX_UCMD_SIZE` by `Op::new`.
    hw::copy_struct_from_user(
        ucmd.user.as_const_ptr() as usize,
        ucmd.user_size,
        &mut ucmd.buf[..size],
    )
    .or_else(|e| {
        if e == E2BIG {
            refuse!(
                E2BIG,
                "{}: non-zero bytes past the known structure\n",
                op.name
            )
        } else {
            Err(e)
        }
    })?;
    Ok(copy)
}

/// Reads a VFIO structure (`argsz` first) into `ucmd` as VFIO does: its mandatory part
/// first, then the check of `argsz`; returns how many bytes the reply may write back.
fn read_argsz(op: &Op, ucmd: &mut Ucmd<'_>, min_size: usize) -> Result<usize> {
    // PANIC: `min_size <= size <= MAX_UCMD_SIZE` by `Op::new`.
    UserSlice::new(ucmd.user, min_size)
        .reader()
        .read_slice(&mut ucmd.buf[..min_size])?;
    let argsz = u32::from_ne_bytes([ucmd.buf[0], ucmd.buf[1], ucmd.buf[2], ucmd.buf[3]]);
    let copy = ucmd::check_size(argsz, min_size, ucmd.size)
        .or_else(|e| refuse!(e, "{}: argsz {} is below {}\n", op.name, argsz, min_size))?;
    ucmd.user_size = argsz as usize;
    Ok(copy)
}
