// SPDX-License-Identifier: GPL-2.0

//! The files of event queues (fault queues and vEVENTQs): the C shim
//! (`rust/ffi/shim/ioasid_shim.c`) makes an anonymous file whose private data owns one
//! reference to the queue, and calls back here for its read, write, poll and release,
//! with the queue's kind. What those do is the queue's ([`EventQueue`], implemented by
//! [`crate::objects::fault`] and [`crate::objects::veventq`]); this module only turns raw
//! pointers into references and user buffers.

use crate::objects::{fault::FaultQueue, veventq::VeventQueue};
use core::ptr::NonNull;
use kernel::{
    ffi::{c_int, c_uint, c_void},
    fs::File,
    prelude::*,
    sync::{poll::PollTable, Arc, ArcBorrow},
    uaccess::{UserPtr, UserSlice, UserSliceReader, UserSliceWriter},
};

mod shim {
    use kernel::ffi::{c_int, c_void};

    extern "C" {
        pub(super) fn ioasid_shim_eventq_file_new(
            kind: c_int,
            priv_: *mut c_void,
            filep: *mut *mut c_void,
        ) -> c_int;
        pub(super) fn ioasid_shim_access_install(fd: c_int, file: *mut c_void);
        pub(super) fn ioasid_shim_access_abort(fd: c_int, file: *mut c_void);
    }
}

/// `IOASID_EVENTQ_FAULT` of the shim.
const KIND_FAULT: c_int = 0;
/// `IOASID_EVENTQ_VEVENT` of the shim.
const KIND_VEVENT: c_int = 1;

/// What an event queue's file does; the queue implements it.
pub(crate) trait EventQueue: Send + Sync + Sized + 'static {
    /// The shim's kind of file.
    const KIND: c_int;

    /// Counts the file as a user of the queue's object (`IOMMU_DESTROY` is `EBUSY` while
    /// it is open).
    fn get_file_user(&self);

    /// `read()`: `count` bytes into `out` at file position `pos`; returns the bytes read.
    fn read(&self, out: &mut UserSliceWriter, count: usize, pos: i64) -> Result<usize>;

    /// `write()`: `count` bytes from `input` at file position `pos`; returns the bytes
    /// taken. The queues without responses have none (`EINVAL`, never called).
    fn write(&self, _input: &mut UserSliceReader, _count: usize, _pos: i64) -> Result<usize> {
        Err(EINVAL)
    }

    /// Registers a poller; returns whether something can be read.
    fn poll(&self, file: &File, table: &PollTable<'_>) -> bool;

    /// The file's last reference went: it is no longer a user.
    fn release(&self);
}

impl EventQueue for FaultQueue {
    const KIND: c_int = KIND_FAULT;

    fn get_file_user(&self) {
        self.get_user();
    }

    fn read(&self, out: &mut UserSliceWriter, count: usize, pos: i64) -> Result<usize> {
        FaultQueue::read(self, out, count, pos)
    }

    fn write(&self, input: &mut UserSliceReader, count: usize, pos: i64) -> Result<usize> {
        self.respond(input, count, pos)
    }

    fn poll(&self, file: &File, table: &PollTable<'_>) -> bool {
        FaultQueue::poll(self, file, table)
    }

    fn release(&self) {
        self.close();
    }
}

impl EventQueue for VeventQueue {
    const KIND: c_int = KIND_VEVENT;

    fn get_file_user(&self) {
        self.get_user();
    }

    fn read(&self, out: &mut UserSliceWriter, count: usize, pos: i64) -> Result<usize> {
        VeventQueue::read(self, out, count, pos)
    }

    fn poll(&self, file: &File, table: &PollTable<'_>) -> bool {
        VeventQueue::poll(self, file, table)
    }

    fn release(&self) {
        self.put_user();
    }
}

/// A new event queue file whose descriptor is reserved but not yet visible to the
/// process.
///
/// # Invariants
///
/// `fd` is a reserved descriptor and `file` a file of `Q::KIND` whose `private_data`
/// owns one reference to a `Q`, which counts the file as a user.
pub(crate) struct NewEventFile<Q: EventQueue> {
    fd: i32,
    file: NonNull<c_void>,
    _queue: core::marker::PhantomData<Q>,
}

impl<Q: EventQueue> NewEventFile<Q> {
    /// Makes the file for `queue` (it owns one reference and counts as a user from now
    /// on).
    ///
    /// # Errors
    ///
    /// `EMFILE`, `ENOMEM`.
    pub(crate) fn new(queue: Arc<Q>) -> Result<Self> {
        queue.get_file_user();
        let raw = Arc::into_raw(queue);
        let mut file = core::ptr::null_mut::<c_void>();
        // SAFETY: `raw` comes from `Arc::into_raw`; on success the file owns it and gives
        // it back through `ioasid_eventq_release` with `Q::KIND`; `file` is writable.
        let fd =
            unsafe { shim::ioasid_shim_eventq_file_new(Q::KIND, raw.cast_mut().cast(), &mut file) };
        match NonNull::new(file) {
            // INVARIANT: the shim reserved `fd` and made `file` of `Q::KIND` with `raw` as
            // private data; the queue counted the file above.
            Some(file) if fd >= 0 => Ok(Self {
                fd,
                file,
                _queue: core::marker::PhantomData,
            }),
            _ => {
                // SAFETY: The shim failed and did not keep `raw`: take the reference back.
                let queue = unsafe { Arc::from_raw(raw) };
                queue.release();
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

impl<Q: EventQueue> Drop for NewEventFile<Q> {
    fn drop(&mut self) {
        // SAFETY: Not installed: release the descriptor and our file reference (its
        // release then uncounts the file and drops the queue reference).
        unsafe { shim::ioasid_shim_access_abort(self.fd, self.file.as_ptr()) };
    }
}

/// Borrows the queue of an event queue file's private data.
///
/// # Safety
///
/// `priv_` is the private data of an open event queue file of `Q::KIND`.
unsafe fn queue<'a, Q: EventQueue>(priv_: *mut c_void) -> ArcBorrow<'a, Q> {
    // SAFETY: By the function's contract `priv_` came from `Arc::<Q>::into_raw` and the
    // open file still owns that reference.
    unsafe { ArcBorrow::from_raw(priv_.cast::<Q>()) }
}

/// A result as a `read`/`write` file operation returns it.
fn to_ssize(r: Result<usize>) -> isize {
    match r {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `read` of an event queue file.
///
/// # Safety
///
/// `priv_` is the private data of an open event queue file of kind `kind`, called by the
/// shim; `buf` is the caller's user pointer.
#[no_mangle]
pub(crate) unsafe extern "C" fn ioasid_eventq_read(
    kind: c_int,
    priv_: *mut c_void,
    buf: *mut c_void,
    count: usize,
    pos: i64,
) -> isize {
    let mut out = UserSlice::new(UserPtr::from_addr(buf as usize), count).writer();
    let r = if kind == KIND_FAULT {
        // SAFETY: By the function's contract, with the kind checked.
        let q = unsafe { queue::<FaultQueue>(priv_) };
        EventQueue::read(&*q, &mut out, count, pos)
    } else {
        // SAFETY: By the function's contract: the shim has no other kind.
        let q = unsafe { queue::<VeventQueue>(priv_) };
        EventQueue::read(&*q, &mut out, count, pos)
    };
    to_ssize(r)
}

/// `write` of a fault queue file (a vEVENTQ file has none).
///
/// # Safety
///
/// As [`ioasid_eventq_read`].
#[no_mangle]
pub(crate) unsafe extern "C" fn ioasid_eventq_write(
    kind: c_int,
    priv_: *mut c_void,
    buf: *const c_void,
    count: usize,
    pos: i64,
) -> isize {
    let mut input = UserSlice::new(UserPtr::from_addr(buf as usize), count).reader();
    let r = if kind == KIND_FAULT {
        // SAFETY: By the function's contract, with the kind checked.
        let q = unsafe { queue::<FaultQueue>(priv_) };
        EventQueue::write(&*q, &mut input, count, pos)
    } else {
        // SAFETY: By the function's contract: the shim has no other kind.
        let q = unsafe { queue::<VeventQueue>(priv_) };
        EventQueue::write(&*q, &mut input, count, pos)
    };
    to_ssize(r)
}

/// `poll` of an event queue file: readable while something is queued; a fault queue is
/// always writable (as iommufd).
///
/// # Safety
///
/// `priv_` is the private data of `file`, an open event queue file of kind `kind`; `wait`
/// is null or a valid poll table for the duration of the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn ioasid_eventq_poll(
    kind: c_int,
    priv_: *mut c_void,
    file: *mut kernel::bindings::file,
    wait: *mut kernel::bindings::poll_table,
) -> c_uint {
    // SAFETY: `file` is valid for the duration of this call, which the reference does not
    // outlive.
    let file = unsafe { File::from_raw_file(file) };
    // SAFETY: `wait` is null or valid for the duration of this call.
    let table = unsafe { PollTable::from_raw(wait) };
    // `EPOLL*` are casts bindgen does not translate; `POLL*` have the same values.
    let readable = kernel::bindings::POLLIN | kernel::bindings::POLLRDNORM;
    let mask = if kind == KIND_FAULT {
        // SAFETY: By the function's contract, with the kind checked.
        let q = unsafe { queue::<FaultQueue>(priv_) };
        let can_read = EventQueue::poll(&*q, file, &table);
        kernel::bindings::POLLOUT | if can_read { readable } else { 0 }
    } else {
        // SAFETY: By the function's contract: the shim has no other kind.
        let q = unsafe { queue::<VeventQueue>(priv_) };
        if EventQueue::poll(&*q, file, &table) {
            readable
        } else {
            0
        }
    };
    mask as c_uint
}

/// Called by the shim when an event queue file's last reference goes.
///
/// # Safety
///
/// `priv_` is the private data of an event queue file of kind `kind`: a pointer from
/// `Arc::into_raw` of a queue of that kind whose reference the file owned; called once
/// per file.
#[no_mangle]
pub(crate) unsafe extern "C" fn ioasid_eventq_release(kind: c_int, priv_: *mut c_void) {
    if kind == KIND_FAULT {
        // SAFETY: By the function's contract we take back the file's reference, once.
        let q = unsafe { Arc::<FaultQueue>::from_raw(priv_.cast::<FaultQueue>()) };
        q.release();
    } else {
        // SAFETY: As above, for the only other kind.
        let q = unsafe { Arc::<VeventQueue>::from_raw(priv_.cast::<VeventQueue>()) };
        q.release();
    }
}
