// SPDX-License-Identifier: GPL-2.0

//! Fault queues (`IOMMU_FAULT_QUEUE_ALLOC`): I/O page faults delivered to userspace.
//!
//! A fault queue is an object of the table and a file. A HWPT allocated with
//! `IOMMU_HWPT_FAULT_ID_VALID` sends the page requests of the devices attached to it to
//! its queue, one *group* at a time (the requests a device made together, the last one
//! flagged `IOMMU_PGFAULT_FLAGS_LAST_PAGE`). Reading the file returns whole groups as
//! `struct iommu_hwpt_pgfault` records, oldest first, and gives each group a *cookie*;
//! writing a `struct iommu_hwpt_page_response` with that cookie completes the group.
//!
//! # Theory of operation
//!
//! A group is *queued* (not read yet), then *outstanding* (read, waiting for its
//! response), then completed and gone. A device that waits for the answer (the mock's
//! DMA, [`crate::objects::device::MockDevice::dma`]) holds an [`Answer`] the group fills
//! in; groups raised by the test interface have none. What the queue must never do is
//! leave a device waiting forever, so every way a group can lose its reader completes it
//! with failure (`IOMMUFD_PAGE_RESP_INVALID`): the file's release (nobody can read or
//! answer any more, and later groups fail at once), the queue's destruction, the
//! device's detach from the HWPT the group came through (replace or unbind) and that
//! HWPT's destruction, and the requester's own bounded wait
//! ([`FaultQueue::wait`]), which withdraws its group when it gives up.
//!
//! The queue counts its users (`IOMMU_DESTROY` gives `EBUSY` while there are any): each
//! HWPT that delivers to it, and its file while it is open (as iommufd).
//!
//! Lock: `FaultQueue::inner` (a mutex, lock order: the crate documentation) protects the
//! groups; it is a leaf, taken with no other lock of the module held: the requester that
//! waits holds no IOAS, domain or device lock.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{context::Context, table::ObjectKind, table::ObjectTable, Object};
use crate::{
    dispatch::{Pending, Ucmd},
    error::refuse,
    ffi,
    uapi::{
        eventq::{self, PAGE_RESP_INVALID, PAGE_RESP_SUCCESS, PGFAULT_LAST_PAGE},
        IommuFaultAlloc, IommuHwptPageResponse, IommuHwptPgfault,
    },
};
use kernel::{
    fs::File,
    new_condvar, new_mutex, new_poll_condvar,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        poll::{PollCondVar, PollTable},
        Arc, CondVar, CondVarTimeoutResult, Mutex,
    },
    time::msecs_to_jiffies,
    uaccess::{UserSliceReader, UserSliceWriter},
};

/// How long a requester waits for the response to its page request before it gives up.
pub(crate) const RESPONSE_TIMEOUT_MS: u32 = 5000;

/// One page request, as the device made it.
#[derive(Clone, Copy, Default)]
pub(crate) struct PageRequest {
    /// `IOMMU_PGFAULT_FLAGS_*` (the queue sets LAST_PAGE on a group's last request).
    pub(crate) flags: u32,
    pub(crate) pasid: u32,
    pub(crate) grpid: u32,
    /// `IOMMU_PGFAULT_PERM_*` the access needs.
    pub(crate) perm: u32,
    pub(crate) addr: u64,
}

/// Where a requester that waits finds the response to its group.
pub(crate) struct Answer {
    /// [`ANSWER_PENDING`] until the group completes, then its response code.
    code: Atomic<u32>,
}

/// [`Answer::code`] before the group completes.
const ANSWER_PENDING: u32 = u32::MAX;

impl Answer {
    /// A new, pending answer.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Ok(Arc::new(
            Answer {
                code: Atomic::new(ANSWER_PENDING),
            },
            GFP_KERNEL,
        )?)
    }

    /// The response code, `None` while pending.
    fn code(&self) -> Option<u32> {
        Some(self.code.load(Relaxed)).filter(|&c| c != ANSWER_PENDING)
    }
}

/// A group of page requests of one device through one HWPT.
struct Group {
    /// The device's ID in the context (`dev_id` of the records).
    dev_id: u32,
    /// The identity of the HWPT it came through ([`crate::objects::hwpt::Hwpt::ident`]).
    hwpt: usize,
    requests: KVec<PageRequest>,
    /// Given when the group is read; 0 before.
    cookie: u32,
    /// The requester waiting for the response, if any.
    answer: Option<Arc<Answer>>,
}

impl Group {
    /// Completes the group with `code`: the waiting requester, if any, learns it.
    fn complete(self, code: u32) {
        if let Some(a) = &self.answer {
            a.code.store(code, Relaxed);
        }
    }
}

/// The fields of [`FaultQueue`] under its lock.
struct Inner {
    /// Groups not read yet, oldest first.
    queued: KVec<Group>,
    /// Groups read and waiting for their response.
    outstanding: KVec<Group>,
    /// The last cookie given.
    last_cookie: u32,
    /// The file was released: nobody reads or answers; new groups fail at once.
    closed: bool,
}

/// A fault queue.
#[pin_data]
pub(crate) struct FaultQueue {
    /// The groups; a leaf lock (module documentation).
    #[pin]
    inner: Mutex<Inner>,
    /// Readers and pollers wait here for a group to be queued.
    #[pin]
    readable: PollCondVar,
    /// Requesters wait here for their group to complete.
    #[pin]
    answered: CondVar,
    /// HWPTs delivering to the queue, plus one while its file is open.
    users: Atomic<u32>,
    /// The group number of the next group the mock's DMA raises.
    next_grpid: Atomic<u32>,
}

impl FaultQueue {
    /// A new, empty queue with no users.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(FaultQueue {
                inner <- new_mutex!(Inner {
                    queued: KVec::new(),
                    outstanding: KVec::new(),
                    last_cookie: 0,
                    closed: false,
                }),
                readable <- new_poll_condvar!("ioasid fault queue readable"),
                answered <- new_condvar!("ioasid fault queue answered"),
                users: Atomic::new(0),
                next_grpid: Atomic::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// Counts a user (a HWPT delivering to the queue, or its open file).
    pub(crate) fn get_user(&self) {
        self.users.fetch_add(1, Relaxed);
    }

    /// Uncounts it.
    pub(crate) fn put_user(&self) {
        self.users.fetch_sub(1, Relaxed);
    }

    /// Queues a group of `requests` of device `dev_id` through HWPT `hwpt` (its identity)
    /// for the reader; `answer`, if given, receives the response. The last request is
    /// flagged LAST_PAGE. A queue whose file is closed, or a group that cannot be queued
    /// (`ENOMEM`), completes at once with failure.
    pub(crate) fn deliver(
        &self,
        dev_id: u32,
        hwpt: usize,
        mut requests: KVec<PageRequest>,
        answer: Option<Arc<Answer>>,
    ) {
        if let Some(last) = requests.last_mut() {
            last.flags |= PGFAULT_LAST_PAGE;
        }
        let group = Group {
            dev_id,
            hwpt,
            requests,
            cookie: 0,
            answer,
        };
        let mut inner = self.inner.lock();
        if inner.closed || inner.queued.reserve(1, GFP_KERNEL).is_err() {
            group.complete(PAGE_RESP_INVALID);
            drop(inner);
            self.answered.notify_all();
            return;
        }
        // Cannot fail: room was reserved just above.
        let _ = inner.queued.push_within_capacity(group);
        drop(inner);
        self.readable.notify_all();
    }

    /// Reads whole groups into `out` (`count` bytes at file position `pos`): each gets a
    /// cookie and waits for its response from then on. Returns the bytes read, 0 when
    /// nothing is queued.
    ///
    /// # Errors
    ///
    /// `ESPIPE` for a position or a length that is not a whole number of records,
    /// `EINVAL` when the oldest group does not fit, `EFAULT`, `ENOMEM`, `ENOSPC` when
    /// every cookie is in use; an error after some groups were read returns what was read
    /// instead.
    pub(crate) fn read(&self, out: &mut UserSliceWriter, count: usize, pos: i64) -> Result<usize> {
        let mut inner = self.inner.lock();
        let n = eventq::plan_read(count, pos, inner.queued.iter().map(|g| g.requests.len()))
            .or_else(|e| refuse!(e, "fault read: {} bytes at {}\n", count, pos))?;
        let mut done = 0;
        for _ in 0..n {
            match Self::read_one(&mut inner, out) {
                Ok(bytes) => done += bytes,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    /// Copies the oldest queued group out and makes it outstanding; returns the bytes
    /// copied.
    fn read_one(inner: &mut Inner, out: &mut UserSliceWriter) -> Result<usize> {
        let cookie = eventq::next_cookie(inner.last_cookie, |c| {
            inner.outstanding.iter().any(|g| g.cookie == c)
        })
        .ok_or(ENOSPC)?;
        inner.outstanding.reserve(1, GFP_KERNEL)?;
        // PANIC: the caller planned at least this many groups.
        let group = &inner.queued[0];
        let mut rec = [0u8; IommuHwptPgfault::SIZE];
        for r in group.requests.iter() {
            IommuHwptPgfault {
                flags: r.flags,
                dev_id: group.dev_id,
                pasid: r.pasid,
                grpid: r.grpid,
                perm: r.perm,
                reserved: 0,
                addr: r.addr,
                length: 0,
                cookie,
            }
            .write(&mut rec);
            // A partial copy leaves the group queued; the caller returns what it read
            // before it.
            out.write_slice(&rec)?;
        }
        let mut group = inner.queued.remove(0).map_err(|_| EINVAL)?;
        group.cookie = cookie;
        inner.last_cookie = cookie;
        let bytes = group.requests.len() * IommuHwptPgfault::SIZE;
        // Cannot fail: room was reserved above.
        let _ = inner.outstanding.push_within_capacity(group);
        Ok(bytes)
    }

    /// Takes responses from `input` (`count` bytes at file position `pos`) and completes
    /// the group of each cookie. Returns the bytes taken.
    ///
    /// # Errors
    ///
    /// `ESPIPE` for a position or a length that is not a whole number of responses,
    /// `EINVAL` for an unknown code or a cookie of no outstanding group, `EFAULT`; an
    /// error after some responses were taken returns what was taken instead.
    pub(crate) fn respond(
        &self,
        input: &mut UserSliceReader,
        count: usize,
        pos: i64,
    ) -> Result<usize> {
        let n = eventq::plan_write(count, pos)
            .or_else(|e| refuse!(e, "fault write: {} bytes at {}\n", count, pos))?;
        let mut done = 0;
        let mut result = Ok(());
        {
            let mut inner = self.inner.lock();
            for _ in 0..n {
                let mut raw = [0u8; IommuHwptPageResponse::SIZE];
                if let Err(e) = input.read_slice(&mut raw) {
                    result = Err(e);
                    break;
                }
                let resp = IommuHwptPageResponse::read(&raw);
                if let Err(e) = eventq::check_response_code(resp.code) {
                    result = refuse!(e, "fault write: response code {}\n", resp.code);
                    break;
                }
                let Some(i) = inner
                    .outstanding
                    .iter()
                    .position(|g| g.cookie == resp.cookie)
                else {
                    result = refuse!(
                        EINVAL,
                        "fault write: cookie {} names no outstanding group\n",
                        resp.cookie
                    );
                    break;
                };
                if let Ok(g) = inner.outstanding.remove(i) {
                    g.complete(resp.code);
                }
                done += IommuHwptPageResponse::SIZE;
            }
        }
        self.answered.notify_all();
        match result {
            Err(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    /// Completes with failure every group that `which` selects, queued or outstanding.
    fn fail_where(&self, which: impl Fn(&Group) -> bool) {
        {
            let mut guard = self.inner.lock();
            let inner = &mut *guard;
            for list in [&mut inner.queued, &mut inner.outstanding] {
                let mut i = 0;
                while i < list.len() {
                    if which(&list[i]) {
                        if let Ok(g) = list.remove(i) {
                            g.complete(PAGE_RESP_INVALID);
                        }
                    } else {
                        i += 1;
                    }
                }
            }
        }
        self.answered.notify_all();
    }

    /// Completes with failure every group that came through HWPT `hwpt` (its identity):
    /// the HWPT is going away.
    pub(crate) fn fail_hwpt(&self, hwpt: usize) {
        self.fail_where(|g| g.hwpt == hwpt);
    }

    /// Completes with failure every group device `dev_id` raised through HWPT `hwpt` (its
    /// identity): the device left the HWPT.
    pub(crate) fn fail_device(&self, hwpt: usize, dev_id: u32) {
        self.fail_where(|g| g.hwpt == hwpt && g.dev_id == dev_id);
    }

    /// The file was released: completes every group with failure, and every later one
    /// at once; the file no longer counts as a user.
    pub(crate) fn close(&self) {
        self.inner.lock().closed = true;
        self.fail_where(|_| true);
        self.put_user();
    }

    /// Waits (at most [`RESPONSE_TIMEOUT_MS`]) for the group that `answer` belongs to;
    /// returns its response code. A requester that gives up withdraws its group, so its
    /// cookie is refused from then on.
    ///
    /// # Errors
    ///
    /// `ETIMEDOUT` when no response came in time, `EINTR` on a signal.
    pub(crate) fn wait(&self, answer: &Arc<Answer>) -> Result<u32> {
        let mut left = msecs_to_jiffies(RESPONSE_TIMEOUT_MS);
        let mut inner = self.inner.lock();
        let err = loop {
            if let Some(code) = answer.code() {
                return Ok(code);
            }
            match self.answered.wait_interruptible_timeout(&mut inner, left) {
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                CondVarTimeoutResult::Timeout => break ETIMEDOUT,
                CondVarTimeoutResult::Signal { .. } => break EINTR,
            }
        };
        if let Some(code) = answer.code() {
            return Ok(code);
        }
        let mine = |g: &mut Group| !g.answer.as_ref().is_some_and(|a| Arc::ptr_eq(a, answer));
        inner.queued.retain(mine);
        inner.outstanding.retain(mine);
        Err(err)
    }

    /// Registers a poller; returns whether a group is queued.
    pub(crate) fn poll(&self, file: &File, table: &PollTable<'_>) -> bool {
        table.register_wait(file, &self.readable);
        !self.inner.lock().queued.is_empty()
    }
}

/// PRI's group numbers have 9 bits.
const GRPID_MASK: u32 = 0x1ff;

/// Where a mock DMA that may raise page requests goes: the device (its ID), the HWPT it
/// goes through ([`super::hwpt::Hwpt::ident`]), the PASID it is tagged with and its first
/// IOVA.
pub(crate) struct DmaAt {
    pub(crate) dev_id: u32,
    pub(crate) hwpt: usize,
    pub(crate) pasid: Option<u32>,
    pub(crate) iova: u64,
}

/// A DMA of `buf.len()` bytes at `at.iova` (`write`: into memory) by device `at.dev_id`
/// through HWPT `at.hwpt`, which delivers page requests to `queue` (tagged with the DMA's
/// PASID, if any): as a device with PRI does it. `dma` transfers one piece and gives `EFAULT` where a
/// translation is missing. The transfer goes CPU page by CPU page; the pages that fault
/// are requested in one group, and once the response is SUCCESS they are transferred
/// again (a page that still faults fails the DMA). The caller holds no lock: the waiting
/// is bounded ([`FaultQueue::wait`]), and the handler must be able to map meanwhile.
///
/// # Errors
///
/// `EFAULT` when the group is answered INVALID (or fails: queue closed or destroyed,
/// HWPT gone) or a page still faults; `ETIMEDOUT`, `EINTR` from the wait; `ENOMEM`; any
/// other error of `dma` as it is.
pub(crate) fn dma_with_page_requests(
    queue: &FaultQueue,
    at: DmaAt,
    buf: &mut [u8],
    write: bool,
    dma: impl Fn(u64, &mut [u8]) -> Result,
) -> Result {
    let DmaAt {
        dev_id,
        hwpt,
        pasid,
        iova,
    } = at;
    let page = kernel::page::PAGE_SIZE as u64;
    // The pieces that faulted: their offsets in `buf` and lengths.
    let mut missing: KVec<(usize, usize)> = KVec::new();
    let mut done = 0usize;
    while done < buf.len() {
        let at = iova.checked_add(done as u64).ok_or(EFAULT)?;
        let len = ((page - at % page) as usize).min(buf.len() - done);
        match dma(at, &mut buf[done..done + len]) {
            Ok(()) => {}
            Err(e) if e == EFAULT => missing.push((done, len), GFP_KERNEL)?,
            Err(e) => return Err(e),
        }
        done += len;
    }
    if missing.is_empty() {
        return Ok(());
    }
    let grpid = queue.next_grpid.fetch_add(1, Relaxed) & GRPID_MASK;
    let perm = if write {
        eventq::PGFAULT_PERM_WRITE
    } else {
        eventq::PGFAULT_PERM_READ
    };
    let mut requests = KVec::with_capacity(missing.len(), GFP_KERNEL)?;
    for &(off, _) in missing.iter() {
        let addr = (iova + off as u64) & !(page - 1);
        requests.push(
            PageRequest {
                flags: if pasid.is_some() {
                    eventq::PGFAULT_PASID_VALID
                } else {
                    0
                },
                pasid: pasid.unwrap_or(0),
                grpid,
                perm,
                addr,
            },
            GFP_KERNEL,
        )?;
    }
    let answer = Answer::new()?;
    queue.deliver(dev_id, hwpt, requests, Some(answer.clone()));
    let code = queue.wait(&answer)?;
    if code != PAGE_RESP_SUCCESS {
        return refuse!(
            EFAULT,
            "mock DMA at {:#x}: page request answered {}\n",
            iova,
            code
        );
    }
    for &(off, len) in missing.iter() {
        dma(iova + off as u64, &mut buf[off..off + len])?;
    }
    Ok(())
}

/// A fault queue is used by its HWPTs and its open file; destroying it completes every
/// group with failure.
impl ObjectKind for Arc<FaultQueue> {
    fn users(&self) -> u32 {
        self.users.load(Relaxed)
    }

    fn teardown(&self, _objects: &ObjectTable) {
        self.fail_where(|_| true);
    }
}

/// Installs a new fault queue's file descriptor once the reply is written; dropping it
/// without that releases the descriptor and the file.
struct InstallOnReply(Option<ffi::eventq::NewEventFile<FaultQueue>>);

impl Pending for InstallOnReply {
    fn commit(&mut self) {
        if let Some(file) = self.0.take() {
            file.install();
        }
    }
}

/// `IOMMU_FAULT_QUEUE_ALLOC`: a new fault queue and its file.
///
/// # Errors
///
/// `EOPNOTSUPP` for non-zero flags; `EMFILE`, `ENOMEM`.
pub(crate) fn ioctl_alloc<'a>(ctx: &'a Context, ucmd: &mut Ucmd<'a>) -> Result {
    let mut cmd = IommuFaultAlloc::read(ucmd.bytes());
    if cmd.flags != 0 {
        return refuse!(EOPNOTSUPP, "fault_queue_alloc: flags {:#x}\n", cmd.flags);
    }
    let queue = FaultQueue::new()?;
    let file = ffi::eventq::NewEventFile::new(queue.clone())?;
    let new = ctx.objects().add(Object::Fault(queue))?;
    cmd.out_fault_id = new.id();
    cmd.out_fault_fd = file.fd() as u32;
    cmd.write(ucmd.bytes_mut());
    ucmd.on_reply(InstallOnReply(Some(file)))?;
    ucmd.publish_on_reply(new)
}
