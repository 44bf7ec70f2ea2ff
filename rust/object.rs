// SPDX-License-Identifier: GPL-2.0

//! The object table of one `/dev/ioasid` context.
//!
//! Every object a process creates (IOAS now; HWPT, device, ... later) gets a 32-bit ID in
//! its context's table, as in iommufd: IDs start at 1 and are reused only after the table
//! wraps. The table owns one reference to each object; an ioctl that looks an object up
//! takes its own reference for the duration of the call, so destroying an object while an
//! ioctl on another thread still uses it is safe: the object goes away when that ioctl
//! ends.
//!
//! An object that another object depends on (an IOAS that a HWPT maps into, ...) counts
//! those dependants in its `users`; `IOMMU_DESTROY` refuses it with `EBUSY` until they are
//! gone, so the table never removes an object something else still needs by ID.
//!
//! This module must never drop an object while holding the table's spinlock: dropping can
//! sleep (unpinning pages, freeing domains), so removed entries are dropped after unlock.

use crate::{
    context::Context, device, device::MockDevice, dispatch::Ucmd, hwpt::Hwpt, ioas::Ioas,
    pcidev::PciDevice, uapi::IommuDestroy,
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    xarray::{AllocKind, XArray},
};

/// A reference to an object of any type, as stored in the table.
#[derive(Clone)]
pub(crate) enum Object {
    /// An I/O address space.
    Ioas(Arc<Ioas>),
    /// A hardware page table.
    Hwpt(Arc<Hwpt>),
    /// A bound device (`dev_id`); owned by the object that bound it.
    Device(Arc<MockDevice>),
    /// The test interface's mock device object; destroying it unbinds the device.
    MockDevice(Arc<MockDevice>),
    /// A bound PCI device (`dev_id`); destroying it unbinds the device.
    PciDevice(Arc<PciDevice>),
}

impl Object {
    /// The number of other objects that depend on this one.
    fn users(&self) -> u32 {
        match self {
            Object::Ioas(ioas) => ioas.users(),
            Object::Hwpt(hwpt) => hwpt.users(),
            // Unbound by destroying the object that bound it.
            Object::Device(_) => 1,
            Object::MockDevice(_) | Object::PciDevice(_) => 0,
        }
    }

    /// The object's type, for log messages.
    fn kind(&self) -> &'static str {
        match self {
            Object::Ioas(_) => "IOAS",
            Object::Hwpt(_) => "HWPT",
            Object::Device(_) => "device",
            Object::MockDevice(_) => "mock device",
            Object::PciDevice(_) => "PCI device",
        }
    }
}

/// Largest ID handed out (iommufd's IDs are positive `i32`s).
const MAX_ID: u32 = i32::MAX as u32;

/// What insertions and removals coordinate on.
///
/// # Invariants
///
/// `next_id` is in `1..=MAX_ID`; `count` is the number of objects in the table.
struct TableState {
    next_id: u32,
    count: u32,
}

/// The per-context table of objects.
#[pin_data]
pub(crate) struct ObjectTable {
    /// Serializes insertions and removals (so a slot found free stays free while `store`
    /// drops the array's spinlock to allocate) and protects [`TableState`]. Taken before
    /// the array's lock, never after.
    #[pin]
    state: Mutex<TableState>,
    /// The objects by ID. Its internal spinlock protects lookups against concurrent
    /// insertion and removal.
    #[pin]
    objects: XArray<KBox<Object>>,
}

impl ObjectTable {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        // INVARIANT: 1 is in `1..=MAX_ID` and the table starts empty.
        pin_init!(Self {
            state <- new_mutex!(TableState { next_id: 1, count: 0 }),
            objects <- XArray::new(AllocKind::Alloc1),
        })
    }

    /// Inserts `obj` and returns its new ID.
    ///
    /// # Errors
    ///
    /// `ENOMEM` when memory or IDs run out.
    pub(crate) fn insert(&self, obj: Object) -> Result<u32> {
        let entry = KBox::new(obj, GFP_KERNEL)?;
        let mut state = self.state.lock();
        let mut guard = self.objects.lock();
        let start = state.next_id;
        let mut id = start;
        while guard.get(id as usize).is_some() {
            id = if id == MAX_ID { 1 } else { id + 1 };
            if id == start {
                return Err(ENOMEM);
            }
        }
        // The slot stays free while `store` may drop the spinlock: insertions are serialized
        // by `state`.
        guard.store(id as usize, entry, GFP_KERNEL)?;
        // INVARIANT: wraps to 1 after `MAX_ID`; one more object.
        state.next_id = if id == MAX_ID { 1 } else { id + 1 };
        state.count += 1;
        Ok(id)
    }

    /// Looks up object `id`, taking a reference for the caller.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no such object.
    pub(crate) fn get(&self, id: u32) -> Result<Object> {
        let guard = self.objects.lock();
        let obj = guard.get(id as usize).map(|o| (*o).clone());
        drop(guard);
        obj.ok_or(ENOENT)
    }

    /// Looks up IOAS `id`.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no object `id` or it is not an IOAS.
    pub(crate) fn get_ioas(&self, id: u32) -> Result<Arc<Ioas>> {
        match self.get(id)? {
            Object::Ioas(ioas) => Ok(ioas),
            _ => Err(ENOENT),
        }
    }

    /// Looks up HWPT `id`.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no object `id` or it is not a HWPT.
    pub(crate) fn get_hwpt(&self, id: u32) -> Result<Arc<Hwpt>> {
        match self.get(id)? {
            Object::Hwpt(hwpt) => Ok(hwpt),
            _ => Err(ENOENT),
        }
    }

    /// Looks up the test interface's mock device object `id`.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no object `id` or it is not a mock device.
    pub(crate) fn get_mock_device(&self, id: u32) -> Result<Arc<MockDevice>> {
        match self.get(id)? {
            Object::MockDevice(dev) => Ok(dev),
            _ => Err(ENOENT),
        }
    }

    /// Runs `f` on every IOAS (a snapshot: objects created meanwhile are not visited).
    ///
    /// The walk visits IDs in order until it has seen every object, so it costs up to the
    /// highest ID in use.
    ///
    /// # Errors
    ///
    /// `ENOMEM`, or the first error of `f`.
    pub(crate) fn for_each_ioas(&self, mut f: impl FnMut(&Ioas) -> Result) -> Result {
        let mut all = KVec::new();
        {
            let state = self.state.lock();
            let mut seen = 0;
            let mut id = 1u32;
            while seen < state.count && id <= MAX_ID {
                let guard = self.objects.lock();
                let obj = guard.get(id as usize).map(|o| (*o).clone());
                drop(guard);
                if let Some(obj) = obj {
                    seen += 1;
                    if let Object::Ioas(ioas) = obj {
                        all.push(ioas, GFP_KERNEL)?;
                    }
                }
                id += 1;
            }
        }
        for ioas in all.iter() {
            f(ioas)?;
        }
        Ok(())
    }

    /// Looks up HWPT `id` and counts a device attaching to it, atomically with respect
    /// to [`ObjectTable::remove_hwpt`] (so an automatic HWPT is never removed from the
    /// table while a device attaches to it).
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no HWPT `id`.
    pub(crate) fn attach_hwpt(&self, id: u32) -> Result<Arc<Hwpt>> {
        let _state = self.state.lock();
        let hwpt = self.get_hwpt(id)?;
        hwpt.get_device();
        Ok(hwpt)
    }

    /// Removes HWPT `id` if it is still `hwpt` and no device uses it (an automatic HWPT
    /// whose last device left); returns whether it did.
    pub(crate) fn remove_hwpt(&self, id: u32, hwpt: &Arc<Hwpt>) -> bool {
        let mut state = self.state.lock();
        let mut guard = self.objects.lock();
        let same = matches!(
            guard.get(id as usize).map(|o| (*o).clone()),
            Some(Object::Hwpt(h)) if Arc::ptr_eq(&h, hwpt) && h.users() == 0
        );
        let removed = if same {
            guard.remove(id as usize)
        } else {
            None
        };
        drop(guard);
        let done = removed.is_some();
        if done {
            // INVARIANT: one object fewer.
            state.count -= 1;
        }
        drop(state);
        drop(removed);
        done
    }

    /// Runs `f` while no object can be added or removed, telling it whether the table
    /// is empty.
    pub(crate) fn with_empty<R>(&self, f: impl FnOnce(bool) -> R) -> R {
        let state = self.state.lock();
        f(state.count == 0)
    }

    /// Removes object `id` unless another object depends on it.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no such object, `EBUSY` while other objects depend on it.
    pub(crate) fn destroy(&self, id: u32) -> Result {
        let mut state = self.state.lock();
        let mut guard = self.objects.lock();
        let found = guard.get(id as usize).map(|o| (o.users(), o.kind()));
        let removed = match found {
            None => {
                drop(guard);
                crate::ioasid_dbg!("destroy: no object {}\n", id);
                return Err(ENOENT);
            }
            Some((n, kind)) if n > 0 => {
                drop(guard);
                crate::ioasid_dbg!("destroy: {} {} is used by {} other objects\n", kind, id, n);
                return Err(EBUSY);
            }
            Some(_) => guard.remove(id as usize),
        };
        drop(guard);
        // INVARIANT: one object fewer.
        state.count -= 1;
        drop(state);
        // Torn down here, with both locks released: dropping can sleep.
        if let Some(obj) = removed.as_deref() {
            self.destroyed(obj);
        }
        drop(removed);
        Ok(())
    }

    /// What destroying `obj` implies for other objects: a device is unbound and detached
    /// (a mock device object also removes its device's ID).
    fn destroyed(&self, obj: &Object) {
        if let Object::PciDevice(dev) = obj {
            if let Some(a) = dev.unbind() {
                device::release(self, a);
            }
        }
        if let Object::MockDevice(dev) = obj {
            let (attached, idev_id) = dev.unbind();
            if idev_id != 0 {
                let mut state = self.state.lock();
                let mut guard = self.objects.lock();
                let removed = guard.remove(idev_id as usize);
                drop(guard);
                if removed.is_some() {
                    // INVARIANT: one object fewer.
                    state.count -= 1;
                }
                drop(state);
                drop(removed);
            }
            if let Some(a) = attached {
                device::release(self, a);
            }
        }
    }
}

/// `IOMMU_DESTROY`.
pub(crate) fn ioctl_destroy(ctx: &Context, ucmd: &mut Ucmd) -> Result {
    let cmd = IommuDestroy::read(ucmd.bytes());
    ctx.objects().destroy(cmd.id)
}
