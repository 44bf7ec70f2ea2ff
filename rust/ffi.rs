// SPDX-License-Identifier: GPL-2.0

//! The FFI layer: the only place where ioasid calls C directly.
//!
//! Everything above this module is safe Rust. Each function here wraps one C function of
//! the shim (`rust/shim/ioasid_shim.c`) or of the kernel that `kernel::bindings` does not
//! cover, and states the contract that makes the call sound.

use kernel::{
    fs::{File, LocalFile},
    prelude::*,
    sync::aref::ARef,
};

mod raw {
    use kernel::ffi::c_uint;

    extern "C" {
        pub(super) fn ioasid_shim_count_iommu_pci_devices() -> c_uint;
    }
}

/// Returns how many PCI devices are currently translated by an IOMMU.
///
/// The answer is a snapshot: devices can be added or removed right after it is taken.
pub(crate) fn count_iommu_pci_devices() -> u32 {
    // SAFETY: The shim function takes no arguments, walks the PCI bus with the driver
    // core's own iteration (which holds references on each device while visiting it) and
    // may be called from any sleepable context, which module init is.
    unsafe { raw::ioasid_shim_count_iommu_pci_devices() }
}

/// Whether the calling task has `CAP_SYS_RESOURCE` in the initial user namespace (which
/// `IOMMU_OPTION_RLIMIT_MODE` requires, as in iommufd).
pub(crate) fn capable_sys_resource() -> bool {
    // SAFETY: `capable` only reads the current task's credentials and may be called from
    // any process context, which an ioctl is.
    unsafe { kernel::bindings::capable(kernel::bindings::CAP_SYS_RESOURCE as i32) }
}

/// Takes a reference to the file behind descriptor `fd` of the calling process, for
/// `IOMMU_IOAS_MAP_FILE`.
///
/// # Errors
///
/// `EBADF` if `fd` is not an open file descriptor.
pub(crate) fn fget(fd: i32) -> Result<ARef<File>> {
    // A negative descriptor becomes a huge one, which no process has open.
    let local = LocalFile::fget(fd as u32).map_err(|_| EBADF)?;
    // SAFETY: This is only called from ioctl handlers of `/dev/ioasid`. An ioctl does not
    // take `fdget_pos` on any file, so the current thread has no active `fdget_pos` call.
    Ok(unsafe { LocalFile::assume_no_fdget_pos(local) })
}

/// Marks the kernel as having run test-only code (`TAINT_TEST`), as loading the module
/// with `selftest=1` does.
pub(crate) fn taint_test() {
    // SAFETY: `add_taint` only sets a bit in the global taint mask and may be called from
    // any context; `LOCKDEP_STILL_OK` because nothing about locking went wrong.
    unsafe {
        kernel::bindings::add_taint(
            kernel::bindings::TAINT_TEST,
            kernel::bindings::lockdep_ok_LOCKDEP_STILL_OK,
        )
    };
}
