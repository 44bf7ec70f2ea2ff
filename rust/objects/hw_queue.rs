// SPDX-License-Identifier: GPL-2.0

//! The HW queues of vIOMMUs (`IOMMU_HW_QUEUE_ALLOC`): a queue in guest memory (an IOVA
//! range of the vIOMMU's nest-parent IOAS, i.e. guest-physical addresses) that the
//! hardware reads by physical address, such as a command queue of a virtualized SMMU.
//!
//! Because the hardware bypasses the IOMMU, the queue's memory is pinned for the queue's
//! whole life as an *internal* access (iommufd's `iommufd_access_create_internal`): its
//! pins are not registered with the IOAS's accesses, so an unmap of the range is not asked
//! to release them and fails with `EBUSY` until the queue is destroyed. The pinned pages
//! must be physically contiguous (`EFAULT` otherwise), as the hardware takes one base
//! address.
//!
//! Only the mock vIOMMU has a queue type (`IOMMU_HW_QUEUE_TYPE_SELFTEST`), with upstream's
//! mock rules: indexes below [`HW_QUEUE_MAX`], allocated from 0 up (`EIO` when the index
//! below is free, `EEXIST` when taken), each queue holding the one below it (which is
//! `EBUSY` to destroy meanwhile), and the physical address found by pinning checked
//! against the parent's mock domain (`EFAULT` if they differ). A queue holds its vIOMMU
//! (`EBUSY` to destroy meanwhile).
//!
//! Never: leave a page pinned when the allocation fails, or drop an object while holding
//! [`Viommu::queues`].

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{context::Context, table::ObjectKind, viommu::Viommu, Object};
use crate::{
    dispatch::Ucmd,
    error::refuse,
    iopt::{AccessPin, Ioas},
    uapi::{
        hw_queue::{
            check_args, pin_span, selftest_index, IOMMU_HW_QUEUE_TYPE_SELFTEST,
            IOMMU_TEST_HW_QUEUE_MAX,
        },
        IommuHwQueueAlloc,
    },
};
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, UniqueArc,
    },
};

/// The number of queue indexes of the mock vIOMMU.
pub(crate) const HW_QUEUE_MAX: usize = IOMMU_TEST_HW_QUEUE_MAX;

/// A HW queue of a mock vIOMMU.
///
/// # Invariants
///
/// `viommu` counts this queue among its users, and `prev` (the queue of index
/// `index - 1`, for `index > 0`) counts it in its `users`, for the queue's whole life;
/// `pins` are pins of `ioas`, the vIOMMU parent's IOAS, released only in `drop`.
pub(crate) struct HwQueue {
    viommu: Arc<Viommu>,
    index: usize,
    prev: Option<Arc<HwQueue>>,
    /// The queue of the next index, while it exists.
    users: Atomic<u32>,
    /// The object ID registered in the vIOMMU's `queues` at `index`, 0 before.
    id: Atomic<u32>,
    ioas: Arc<Ioas>,
    /// The queue's memory, pinned as whole pages.
    pins: KVec<AccessPin>,
}

impl Drop for HwQueue {
    fn drop(&mut self) {
        let id = self.id.load(Relaxed);
        if id != 0 {
            let mut queues = self.viommu.queues().lock();
            // PANIC: `index < HW_QUEUE_MAX`, checked at allocation.
            if queues[self.index] == id {
                queues[self.index] = 0;
            }
        }
        if let Some(prev) = self.prev.take() {
            prev.users.fetch_sub(1, Relaxed);
        }
        self.ioas.access_unpin(core::mem::take(&mut self.pins));
        self.viommu.put_user();
    }
}

/// A HW queue is used by the queue of the next index.
impl ObjectKind for Arc<HwQueue> {
    fn users(&self) -> u32 {
        self.users.load(Relaxed)
    }
}

/// Pins the pages around `span` of `ioas` (read-only, as upstream) and returns the pins
/// and the physical address of `span`'s first byte.
///
/// # Errors
///
/// `ERANGE` when the pages around the range do not fit, `ENOENT` when it is not fully
/// mapped, `EFAULT` when its pages are not physically contiguous, pinning errors.
/// Nothing stays pinned on error.
fn pin_queue(ioas: &Ioas, iova: u64, length: u64) -> Result<(KVec<AccessPin>, u64)> {
    let queue = crate::uapi::iova::Span::from_len(iova, length)?;
    let (pages, offset) = pin_span(queue, PAGE_SIZE as u64).or_else(|e| {
        refuse!(
            Error::from(e),
            "hw_queue_alloc: the pages around [{:#x}, {:#x}] do not fit\n",
            queue.start,
            queue.last
        )
    })?;
    let mut base = None;
    let mut next = 0u64;
    let pins = ioas.access_pin(pages, false, |page, _, _| {
        let phys = page.phys();
        match base {
            None => base = Some(phys),
            Some(_) if phys != next => {
                return refuse!(
                    EFAULT,
                    "hw_queue_alloc: [{:#x}, {:#x}] is not physically contiguous\n",
                    pages.start,
                    pages.last
                );
            }
            Some(_) => {}
        }
        next = phys + PAGE_SIZE as u64;
        Ok(())
    })?;
    // At least one page was pinned.
    let base = base.unwrap_or(0) + offset;
    Ok((pins, base))
}

/// Places `queue` at index `index` of `viommu` under the vIOMMU's `queues` lock: the
/// mock's index rules, the queue below (held from here), and the physical address check.
///
/// # Errors
///
/// `EINVAL`, `EEXIST`, `EIO` (the index rules; also when the queue below is being
/// destroyed), `EFAULT` when the parent's mock domain translates the queue's address to
/// another physical address than the one pinned.
fn place(
    ctx: &Context,
    viommu: &Viommu,
    queues: &[u32; HW_QUEUE_MAX],
    queue: &mut HwQueue,
    cmd: &IommuHwQueueAlloc,
    base_pa: u64,
) -> Result {
    let prev = selftest_index(cmd.index, queues).or_else(|e| {
        refuse!(
            Error::from(e),
            "hw_queue_alloc: index {} of vIOMMU {} (queue IDs {:?}): {:?}\n",
            cmd.index,
            cmd.viommu_id,
            queues,
            e
        )
    })?;
    // `index < HW_QUEUE_MAX`: checked by `selftest_index`.
    queue.index = cmd.index as usize;
    if let Some(p) = prev {
        // PANIC: `p < index < HW_QUEUE_MAX`.
        let id = queues[p];
        // Looked up so that it cannot be destroyed between the check and the count.
        let Some(below) = ctx
            .objects()
            .get_as::<Arc<HwQueue>>(id)
            .ok()
            .filter(|q| Arc::ptr_eq(&q.viommu, &queue.viommu) && q.index == p)
        else {
            return refuse!(EIO, "hw_queue_alloc: queue {} is being destroyed\n", id);
        };
        // INVARIANT: counted while `queue` holds it (uncounted by its drop).
        below.users.fetch_add(1, Relaxed);
        queue.prev = Some((*below).clone());
    }
    match viommu.stage2().iova_to_phys(cmd.nesting_parent_iova) {
        Some(pa) if pa == base_pa => Ok(()),
        pa => refuse!(
            EFAULT,
            "hw_queue_alloc: {:#x} was pinned at {:#x} but the parent maps it to {:?}\n",
            cmd.nesting_parent_iova,
            base_pa,
            pa
        ),
    }
}

/// `IOMMU_HW_QUEUE_ALLOC`: a HW queue of type `type` at index `index` of vIOMMU
/// `viommu_id`, over `length` bytes at `nesting_parent_iova` of the vIOMMU parent's IOAS,
/// with upstream iommufd's checks in its order (arguments, vIOMMU, type, pinning, then
/// the mock's index rules and address check).
pub(crate) fn ioctl_alloc<'a>(ctx: &'a Context, ucmd: &mut Ucmd<'a>) -> Result {
    let mut cmd = IommuHwQueueAlloc::read(ucmd.bytes());
    check_args(cmd.flags, cmd.r#type, cmd.nesting_parent_iova, cmd.length).or_else(|e| {
        refuse!(
            Error::from(e),
            "hw_queue_alloc: flags {:#x}, type {:#x}, {:#x} bytes at {:#x}: {:?}\n",
            cmd.flags,
            cmd.r#type,
            cmd.length,
            cmd.nesting_parent_iova,
            e
        )
    })?;
    let viommu = ctx
        .objects()
        .get_as::<Arc<Viommu>>(cmd.viommu_id)
        .or_else(|e| refuse!(e, "hw_queue_alloc: no vIOMMU {}\n", cmd.viommu_id))?;
    if cmd.r#type != IOMMU_HW_QUEUE_TYPE_SELFTEST {
        return refuse!(
            EOPNOTSUPP,
            "hw_queue_alloc: the mock vIOMMU has no queue type {:#x}\n",
            cmd.r#type
        );
    }
    // Allocated first, so that no failure after `place` drops the queue under the
    // `queues` lock (its drop takes that lock).
    let room = UniqueArc::new_uninit(GFP_KERNEL)?;
    let ioas = viommu.parent().ioas().clone();
    let (pins, base_pa) = pin_queue(&ioas, cmd.nesting_parent_iova, cmd.length)?;
    // INVARIANT: counted from here, uncounted by the queue's drop.
    viommu.get_user();
    let mut queue = HwQueue {
        viommu: (*viommu).clone(),
        index: 0,
        prev: None,
        users: Atomic::new(0),
        id: Atomic::new(0),
        ioas,
        pins,
    };
    let mut queues = viommu.queues().lock();
    if let Err(e) = place(ctx, &viommu, &queues, &mut queue, &cmd, base_pa) {
        // Dropped (unpinned, uncounted) with the lock released.
        drop(queues);
        drop(queue);
        return Err(e);
    }
    let queue: Arc<HwQueue> = room.write(queue).into();
    let new = match ctx.objects().add(Object::HwQueue(queue.clone())) {
        Ok(new) => new,
        Err(e) => {
            drop(queues);
            drop(queue);
            return Err(e);
        }
    };
    queue.id.store(new.id(), Relaxed);
    // PANIC: `queue.index < HW_QUEUE_MAX` (`place`).
    queues[queue.index] = new.id();
    drop(queues);
    // Not the last reference: the table holds the queue.
    drop(queue);
    cmd.out_hw_queue_id = new.id();
    cmd.write(ucmd.bytes_mut());
    ucmd.publish_on_reply(new)
}
