// SPDX-License-Identifier: GPL-2.0

//! The files of fault queues: the C shim (`rust/ffi/shim/ioasid_shim.c`) makes an
//! anonymous file whose private data owns one reference to a
//! [`FaultQueue`], and calls back here for its read, write, poll and release. What those
//! do is the queue's ([`crate::objects::fault`]); this module only turns raw pointers
//! into references and user buffers.

use crate::objects::fault::FaultQueue;
use core::ptr::NonNull;
use kernel::{
    ffi::{c_int, c_uint, c_void},
    fs::File,
    prelude::*,
    sync::{poll::PollTable, Arc, ArcBorrow},
    uaccess::{UserPtr, UserSlice},
};

mod shim {
    use kernel::ffi::{c_int, c_void};

    extern "C" {
        pub(super) fn ioasid_shim_fault_file_new(
            priv_: *mut c_void,
            filep: *mut *mut c_void,
        ) -> c_int;
        pub(super) fn ioasid_shim_access_install(fd: c_int, file: *mut c_void);
        pub(super) fn ioasid_shim_access_abort(fd: c_int, file: *mut c_void);
    }
}

/// A new fault queue file whose descriptor is reserved but not yet visible to the
/// process.
///
/// # Invariants
///
/// `fd` is a reserved descriptor and `file` a fault queue file whose `private_data` owns
/// one reference to a [`FaultQueue`], which counts the file as a user.
pub(crate) struct NewFaultFile {
    fd: i32,
    file: NonNull<c_void>,
}

impl NewFaultFile {
    /// Makes the file for `queue` (it owns one reference and counts as a user from now
    /// on).
    ///
    /// # Errors
    ///
    /// `EMFILE`, `ENOMEM`.
    pub(crate) fn new(queue: Arc<FaultQueue>) -> Result<Self> {
        queue.get_user();
        let raw = Arc::into_raw(queue);
        let mut file = core::ptr::null_mut::<c_void>();
        // SAFETY: `raw` comes from `Arc::into_raw`; on success the file owns it and gives
        // it back through `ioasid_fault_release`; `file` is writable.
        let fd = unsafe { shim::ioasid_shim_fault_file_new(raw.cast_mut().cast(), &mut file) };
        match NonNull::new(file) {
            // INVARIANT: the shim reserved `fd` and made `file` with `raw` as private data;
            // the queue counted the file above.
            Some(file) if fd >= 0 => Ok(Self { fd, file }),
            _ => {
                // SAFETY: The shim failed and did not keep `raw`: take the reference back.
                let queue = unsafe { Arc::from_raw(raw) };
                queue.put_user();
                Err(Error::from_errno(if fd < 0 {
                    fd
                } else {
                    -(ENOMEM.to_errno())
                }))
            }
        }
    }

    /// The descriptor the process will see.
    pub(crate) fn fd(&self) -> i32 {
        self.fd
    }

    /// Makes the descriptor visible to the process.
    pub(crate) fn install(self) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: By the type invariant `fd` is reserved and `file` is ours to install.
        unsafe { shim::ioasid_shim_access_install(this.fd, this.file.as_ptr()) };
    }
}

impl Drop for NewFaultFile {
    fn drop(&mut self) {
        // SAFETY: Not installed: release the descriptor and our file reference (its
        // release then closes the queue's file side and drops the reference).
        unsafe { shim::ioasid_shim_access_abort(self.fd, self.file.as_ptr()) };
    }
}

/// Borrows the queue of a fault queue file's private data.
///
/// # Safety
///
/// `priv_` is the private data of a fault queue file that is still open.
unsafe fn queue<'a>(priv_: *mut c_void) -> ArcBorrow<'a, FaultQueue> {
    // SAFETY: By the function's contract `priv_` came from `Arc::into_raw` and the open
    // file still owns that reference.
    unsafe { ArcBorrow::from_raw(priv_.cast::<FaultQueue>()) }
}

/// A result as a `read`/`write` file operation returns it.
fn to_ssize(r: Result<usize>) -> isize {
    match r {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `read` of a fault queue file.
///
/// # Safety
///
/// `priv_` is the file's private data, called by the shim while the file is open; `buf`
/// is the caller's user pointer.
#[no_mangle]
pub(crate) unsafe extern "C" fn ioasid_fault_read(
    priv_: *mut c_void,
    buf: *mut c_void,
    count: usize,
    pos: i64,
) -> isize {
    // SAFETY: By the function's contract the file is open.
    let q = unsafe { queue(priv_) };
    let mut out = UserSlice::new(UserPtr::from_addr(buf as usize), count).writer();
    to_ssize(q.read(&mut out, count, pos))
}

/// `write` of a fault queue file.
///
/// # Safety
///
/// As [`ioasid_fault_read`].
#[no_mangle]
pub(crate) unsafe extern "C" fn ioasid_fault_write(
    priv_: *mut c_void,
    buf: *const c_void,
    count: usize,
    pos: i64,
) -> isize {
    // SAFETY: By the function's contract the file is open.
    let q = unsafe { queue(priv_) };
    let mut input = UserSlice::new(UserPtr::from_addr(buf as usize), count).reader();
    to_ssize(q.respond(&mut input, count, pos))
}

/// `poll` of a fault queue file: readable while a group is queued, always writable (as
/// iommufd).
///
/// # Safety
///
/// `priv_` is the private data of `file`, an open fault queue file; `wait` is null or a
/// valid poll table for the duration of the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn ioasid_fault_poll(
    priv_: *mut c_void,
    file: *mut kernel::bindings::file,
    wait: *mut kernel::bindings::poll_table,
) -> c_uint {
    // SAFETY: By the function's contract the file is open.
    let q = unsafe { queue(priv_) };
    // SAFETY: `file` is valid for the duration of this call, which the reference does not
    // outlive.
    let file = unsafe { File::from_raw_file(file) };
    // SAFETY: `wait` is null or valid for the duration of this call.
    let table = unsafe { PollTable::from_raw(wait) };
    // `EPOLL*` are casts bindgen does not translate; `POLL*` have the same values.
    let mut mask = kernel::bindings::POLLOUT;
    if q.poll(file, &table) {
        mask |= kernel::bindings::POLLIN | kernel::bindings::POLLRDNORM;
    }
    mask as c_uint
}

/// Called by the shim when a fault queue file's last reference goes.
///
/// # Safety
///
/// `priv_` is the private data of a fault queue file: a pointer from
/// `Arc::<FaultQueue>::into_raw` whose reference the file owned; called once per file.
#[no_mangle]
pub(crate) unsafe extern "C" fn ioasid_fault_release(priv_: *mut c_void) {
    // SAFETY: By the function's contract we take back the file's reference, once.
    let q = unsafe { Arc::<FaultQueue>::from_raw(priv_.cast::<FaultQueue>()) };
    q.close();
}

// The shim's prototypes take `int`/`loff_t`; keep the Rust side's widths in step.
const _: () = assert!(core::mem::size_of::<c_int>() == 4 && core::mem::size_of::<i64>() == 8);
