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
//! user memory themselves.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::{
    error::refuse,
    hw,
    objects::{
        context::{self, Context},
        device, dirty, hwpt, ioas, pcidev,
        table::{self, NewObject},
        vdevice, viommu,
    },
    testing::selftest,
    uapi::ucmd::{self, *},
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

/// One row of the ioctl table.
pub(crate) struct Op {
    /// The ioctl number, `_IO(IOMMUFD_TYPE, nr)`.
    cmd: u32,
    /// Exists only with the `selftest` module parameter.
    test_only: bool,
    /// The uAPI name, for debug messages.
    name: &'static str,
    min_size: usize,
    size: usize,
    handler: Handler,
}

impl Op {
    /// Builds a row; fails the build if the structure does not fit [`MAX_UCMD_SIZE`] or the
    /// minimum is not inside it.
    const fn new(
        cmd: u32,
        name: &'static str,
        min_size: usize,
        size: usize,
        handler: Handler,
    ) -> Self {
        assert!(size <= MAX_UCMD_SIZE && min_size >= 4 && min_size <= size);
        Self {
            cmd,
            test_only: false,
            name,
            min_size,
            size,
            handler,
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
            offsetofend!($t, $last),
            <$t>::SIZE,
            $handler,
        )
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
    op!(IOMMU_IOAS_MAP_FILE, IommuIoasMapFile, last = iova, ioas::ioctl_map_file),
    op!(IOMMU_VIOMMU_ALLOC, IommuViommuAlloc, last = out_viommu_id, viommu::ioctl_alloc),
    op!(IOMMU_VDEVICE_ALLOC, IommuVdeviceAlloc, last = virt_id, vdevice::ioctl_alloc),
    op!(IOMMU_IOAS_CHANGE_PROCESS, IommuIoasChangeProcess, last = reserved,
        ioas::ioctl_change_process),
    op!(IOMMU_TEST_CMD, IommuTestCmd, last = last, selftest::ioctl_test_cmd).test_only(),
    op!(IOASID_DEVICE_BIND, IoasidDeviceBind, last = out_dev_id, pcidev::ioctl_bind),
    op!(IOASID_DEVICE_ATTACH, IoasidDeviceAttach, last = pt_id, pcidev::ioctl_attach),
    op!(IOASID_DEVICE_DETACH, IoasidDeviceDetach, last = dev_id, pcidev::ioctl_detach),
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

    let ptr = UserPtr::from_addr(arg);
    let user_size: u32 = UserSlice::new(ptr, size_of::<u32>()).reader().read()?;
    let copy = ucmd::check_size(user_size, op.min_size, op.size).or_else(|e| {
        refuse!(
            e,
            "{}: size {} is below the minimum {}\n",
            op.name,
            user_size,
            op.min_size
        )
    })?;

    let mut ucmd = Ucmd {
        buf: [0; MAX_UCMD_SIZE],
        size: op.size,
        respond_with_error: false,
        objects: [None, None],
        pending: KVec::new(),
    };
    // PANIC: `op.size <= MAX_UCMD_SIZE` by `Op::new`.
    hw::copy_struct_from_user(arg, user_size as usize, &mut ucmd.buf[..op.size]).or_else(|e| {
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

    let result = (op.handler)(ctx, &mut ucmd);
    if result.is_err() && !ucmd.respond_with_error {
        return result.map(|()| 0);
    }
    // PANIC: `copy <= op.size` by `check_size`.
    UserSlice::new(ptr, user_size as usize)
        .writer()
        .write_slice(&ucmd.buf[..copy])?;
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
