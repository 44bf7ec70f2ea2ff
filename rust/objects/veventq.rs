// SPDX-License-Identifier: GPL-2.0

//! vEVENTQs (`IOMMU_VEVENTQ_ALLOC`): events of a vIOMMU for its VM, read from a file.
//!
//! A vEVENTQ belongs to one vIOMMU, at most one per event type (`EEXIST`), which it holds
//! (the vIOMMU is `EBUSY` while it exists). When the vIOMMU reports an event of that type
//! (the mock's: `IOMMU_TEST_OP_TRIGGER_VEVENT`, the virtual ID of the device), it is
//! queued with the next *sequence number* (0 to `i32::MAX`, then 0 again). Reading the
//! file returns each event as a `struct iommufd_vevent_header` and its data, oldest
//! first, whole events only. The queue holds at most `veventq_depth` events: an event
//! that finds it full is lost, and the reader learns it, never silently, from the gap in
//! the sequence numbers, or, while the loss is the newest thing queued, from a header
//! flagged `IOMMU_VEVENTQ_FLAG_LOST_EVENTS` carrying the sequence number the lost event
//! had. The machinery is the fault queues' ([`super::fault`]): an anonymous file
//! (`crate::ffi::eventq`), a poll condition variable, a queue under one mutex.
//!
//! Locks: `VeventQueue::inner` protects the queue, a leaf; `Viommu::veventqs` (the vIOMMU's
//! vEVENTQs) is a leaf too: an event is queued after the vIOMMU's list was let go.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{context::Context, table::ObjectKind, table::ObjectTable, viommu::Viommu, Object};
use crate::{
    dispatch::{Pending, Ucmd},
    error::refuse,
    ffi,
    uapi::IommuVeventqAlloc,
};
use kernel::{
    alloc::KVVec,
    fs::File,
    new_mutex, new_poll_condvar,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        poll::{PollCondVar, PollTable},
        Arc, Mutex,
    },
    uaccess::UserSliceWriter,
};

/// `IOMMU_VEVENTQ_FLAG_LOST_EVENTS`.
const LOST_EVENTS: u32 = 1 << 0;
/// Size of `struct iommufd_vevent_header` (`flags`, `sequence`).
const HEADER: usize = 8;
/// The largest `veventq_depth` (iommufd's `VEVENTQ_MAX_DEPTH`).
const MAX_DEPTH: u32 = 1 << 19;
/// `IOMMU_VEVENTQ_TYPE_DEFAULT`: reserved.
const TYPE_DEFAULT: u32 = 0;

/// One event: its sequence number and data.
struct Vevent {
    sequence: u32,
    data: KVec<u8>,
}

/// The fields of [`VeventQueue`] under its lock.
struct Inner {
    /// Queued events from `head` on, oldest first; at most `depth` of them. The read ones
    /// before `head` are emptied, and dropped in bulk (so reading a deep queue one event
    /// at a time does not move the rest every time).
    events: KVVec<Vevent>,
    /// The index of the oldest queued event in `events`.
    head: usize,
    /// The sequence number of the newest event, lost, when nothing was queued after it:
    /// read as a LOST_EVENTS header after `events`.
    lost: Option<u32>,
    /// The next event's sequence number.
    sequence: u32,
}

impl Inner {
    /// The number of queued events.
    fn queued(&self) -> usize {
        self.events.len() - self.head
    }

    /// The oldest queued event.
    fn oldest(&self) -> Option<&Vevent> {
        self.events.get(self.head)
    }

    /// Drops the oldest queued event (there is one).
    fn pop_oldest(&mut self) {
        if let Some(e) = self.events.get_mut(self.head) {
            e.data = KVec::new();
            self.head += 1;
        }
        if self.head == self.events.len() {
            self.events.clear();
            self.head = 0;
        } else if self.head >= 64 && self.head * 2 >= self.events.len() {
            let mut i = 0;
            let head = self.head;
            self.events.retain(|_| {
                i += 1;
                i > head
            });
            self.head = 0;
        }
    }
}

/// A vEVENTQ object: its queue, and the vIOMMU it holds. The vIOMMU reaches the queue
/// only (`Viommu::veventqs`), never this object, so nothing holds itself: the queue
/// outlives both while its file is open.
pub(crate) struct Veventq {
    viommu: ViommuUser,
    queue: Arc<VeventQueue>,
}

/// The queue of a vEVENTQ, which its file and its vIOMMU hold.
#[pin_data]
pub(crate) struct VeventQueue {
    ty: u32,
    depth: u32,
    /// The queue; a leaf lock.
    #[pin]
    inner: Mutex<Inner>,
    /// Readers and pollers wait here for an event.
    #[pin]
    readable: PollCondVar,
    /// 1 while its file is open (`IOMMU_DESTROY` is `EBUSY` then, as iommufd).
    users: Atomic<u32>,
}

impl VeventQueue {
    /// The event type.
    pub(crate) fn ty(&self) -> u32 {
        self.ty
    }

    /// The vEVENTQ's identity.
    pub(crate) fn ident(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// Counts its open file.
    pub(crate) fn get_user(&self) {
        self.users.fetch_add(1, Relaxed);
    }

    /// Uncounts it.
    pub(crate) fn put_user(&self) {
        self.users.fetch_sub(1, Relaxed);
    }

    /// Queues an event with `data`, or records it lost when the queue is full (or its
    /// copy cannot be allocated).
    pub(crate) fn report(&self, data: &[u8]) {
        let mut copy = KVec::new();
        let copied = copy.extend_from_slice(data, GFP_KERNEL).is_ok();
        {
            let mut inner = self.inner.lock();
            let sequence = inner.sequence;
            inner.sequence = (sequence + 1) & i32::MAX as u32;
            let queued = copied
                && inner.queued() < self.depth as usize
                && inner.events.reserve(1, GFP_KERNEL).is_ok();
            if queued {
                // Cannot fail: room was reserved just above.
                let _ = inner.events.push_within_capacity(Vevent {
                    sequence,
                    data: copy,
                });
                inner.lost = None;
            } else {
                inner.lost = Some(sequence);
            }
        }
        self.readable.notify_all();
    }

    /// Reads whole events into `out` (`count` bytes at file position `pos`); returns the
    /// bytes read, 0 when nothing is queued.
    ///
    /// # Errors
    ///
    /// `ESPIPE` for a position other than 0; `EINVAL` for a `count` below a header, or
    /// when the oldest event does not fit; `EFAULT` (after whole events were read, their
    /// length is returned instead).
    pub(crate) fn read(&self, out: &mut UserSliceWriter, count: usize, pos: i64) -> Result<usize> {
        if pos != 0 {
            return refuse!(ESPIPE, "vevent read: position {}\n", pos);
        }
        if count < HEADER {
            return refuse!(EINVAL, "vevent read: {} bytes hold no header\n", count);
        }
        let mut inner = self.inner.lock();
        let mut done = 0;
        loop {
            let (flags, sequence, len) = match inner.oldest() {
                Some(e) => (0, e.sequence, e.data.len()),
                None => match inner.lost {
                    Some(s) => (LOST_EVENTS, s, 0),
                    None => break,
                },
            };
            if HEADER + len > count - done {
                if done == 0 {
                    return refuse!(EINVAL, "vevent read: {} bytes hold no event\n", count);
                }
                break;
            }
            let mut header = [0u8; HEADER];
            header[..4].copy_from_slice(&flags.to_ne_bytes());
            header[4..].copy_from_slice(&sequence.to_ne_bytes());
            let copied = out
                .write_slice(&header)
                .and_then(|()| match inner.oldest() {
                    Some(e) => out.write_slice(&e.data),
                    None => Ok(()),
                });
            if let Err(e) = copied {
                return if done == 0 { Err(e) } else { Ok(done) };
            }
            if flags == LOST_EVENTS {
                inner.lost = None;
            } else {
                inner.pop_oldest();
            }
            done += HEADER + len;
        }
        Ok(done)
    }

    /// Registers a poller; returns whether anything can be read.
    pub(crate) fn poll(&self, file: &File, table: &PollTable<'_>) -> bool {
        table.register_wait(file, &self.readable);
        let inner = self.inner.lock();
        inner.queued() != 0 || inner.lost.is_some()
    }
}

/// A vEVENTQ is used by its open file; removing it takes its queue off its vIOMMU.
impl ObjectKind for Arc<Veventq> {
    fn users(&self) -> u32 {
        self.queue.users.load(Relaxed)
    }

    fn teardown(&self, _objects: &ObjectTable) {
        self.viommu.0.remove_veventq(self.queue.ident());
    }
}

/// The vIOMMU, counted as used while held.
///
/// # Invariants
///
/// The vIOMMU counts this as one of its users.
struct ViommuUser(Arc<Viommu>);

impl ViommuUser {
    fn new(viommu: Arc<Viommu>) -> Self {
        viommu.get_user();
        // INVARIANT: counted just above; `Drop` uncounts.
        Self(viommu)
    }
}

impl Drop for ViommuUser {
    fn drop(&mut self) {
        self.0.put_user();
    }
}

/// Installs a new vEVENTQ's file descriptor once the reply is written; dropping it
/// without that releases the descriptor and the file.
struct InstallOnReply(Option<ffi::eventq::NewEventFile<VeventQueue>>);

impl Pending for InstallOnReply {
    fn commit(&mut self) {
        if let Some(file) = self.0.take() {
            file.install();
        }
    }
}

/// `IOMMU_VEVENTQ_ALLOC`: a new vEVENTQ of `type` on vIOMMU `viommu_id`, and its file.
///
/// # Errors
///
/// `EOPNOTSUPP` for flags, a reserved field or type 0; `EINVAL` for a depth of 0 or
/// above 2^19; `ENOENT` when `viommu_id` is not a vIOMMU; `EEXIST` when the vIOMMU has a
/// vEVENTQ of that type; `EMFILE`, `ENOMEM`.
pub(crate) fn ioctl_alloc<'a>(ctx: &'a Context, ucmd: &mut Ucmd<'a>) -> Result {
    let mut cmd = IommuVeventqAlloc::read(ucmd.bytes());
    if cmd.flags != 0 || cmd.reserved != 0 || cmd.r#type == TYPE_DEFAULT {
        return refuse!(
            EOPNOTSUPP,
            "veventq_alloc: flags {:#x}, reserved {:#x}, type {:#x}\n",
            cmd.flags,
            cmd.reserved,
            cmd.r#type
        );
    }
    if cmd.veventq_depth == 0 || cmd.veventq_depth > MAX_DEPTH {
        return refuse!(EINVAL, "veventq_alloc: depth {}\n", cmd.veventq_depth);
    }
    let vi = ctx.objects().get_as::<Arc<Viommu>>(cmd.viommu_id)?;
    let queue = Arc::pin_init(
        pin_init!(VeventQueue {
            ty: cmd.r#type,
            depth: cmd.veventq_depth,
            inner <- new_mutex!(Inner {
                events: KVVec::new(),
                head: 0,
                lost: None,
                sequence: 0,
            }),
            readable <- new_poll_condvar!("ioasid vEVENTQ readable"),
            users: Atomic::new(0),
        }),
        GFP_KERNEL,
    );
    let queue = queue?;
    // Counted while the object holds it.
    let obj = Arc::new(
        Veventq {
            viommu: ViommuUser::new((*vi).clone()),
            queue: queue.clone(),
        },
        GFP_KERNEL,
    )?;
    vi.add_veventq(queue.clone())?;
    let file = match ffi::eventq::NewEventFile::new(queue.clone()) {
        Ok(f) => f,
        Err(e) => {
            vi.remove_veventq(queue.ident());
            return Err(e);
        }
    };
    let new = match ctx.objects().add(Object::Veventq(obj)) {
        Ok(n) => n,
        Err(e) => {
            drop(file);
            vi.remove_veventq(queue.ident());
            return Err(e);
        }
    };
    cmd.out_veventq_id = new.id();
    cmd.out_veventq_fd = file.fd() as u32;
    cmd.write(ucmd.bytes_mut());
    ucmd.on_reply(InstallOnReply(Some(file)))?;
    ucmd.publish_on_reply(new)
}
