// SPDX-License-Identifier: GPL-2.0

//! The object table of one `/dev/ioasid` context.
//!
//! Every object a process creates (IOAS, HWPT, bound device, ...) gets a 32-bit ID in its
//! context's table, as in iommufd: the lowest free ID from 1 (iommufd's `xa_alloc`), found
//! from a hint kept with the table, so allocating in order costs one probe.
//!
//! # Theory of operation
//!
//! *Creation is two-phase* (iommufd's `object_alloc`/`finalize`/`abort`). A handler builds
//! the object and adds it ([`ObjectTable::add`]): it gets an ID, but its entry is not live,
//! so no other thread can find, use or destroy it. The handler writes the ID into its reply
//! and hands the [`NewObject`] to the dispatcher, which makes the object live
//! ([`NewObject::finalize`]) only once the reply reached the caller. Dropping an unfinished
//! `NewObject` aborts it: the ID is freed and the object torn down exactly as
//! `IOMMU_DESTROY` would, so nobody ever saw an object whose creation failed. (One
//! allocation per object: under the debug kernels each one costs more than the ioctl.)
//!
//! *Use is counted.* Every lookup ([`ObjectTable::get`], [`ObjectTable::get_as`]) returns an
//! [`ObjRef`] that counts as a short-term user of the object until it is dropped, which
//! handlers do when they return. Objects that depend on another (a HWPT on its IOAS, a
//! device on its HWPT, an access on its IOAS) count as its long-term users. `IOMMU_DESTROY`
//! removes an object only when it has neither (iommufd's `refcount_dec_if_one(&users)`),
//! and both checks and the short-term count's increment happen under the tree's lock, so
//! an object cannot be destroyed between a lookup and the dependency that lookup creates:
//! DESTROY gives `EBUSY` while anything uses the object.
//!
//! *A tombstone keeps an ID taken.* [`ObjectTable::tombstone_if`] replaces an object with
//! an entry that is never live, so its ID gives `ENOENT` and is never handed out again
//! until the context closes (iommufd's tombstones, left by a vDEVICE whose device went
//! first).
//!
//! *The table knows no kind of object.* The kinds are listed once, in [`crate::objects`]
//! ([`object_kinds!`]), each with what the table needs of it ([`ObjectKind`]: how many
//! objects depend on it, what removing it implies); lookups narrow to a kind generically
//! ([`ObjectTable::get_as`]).
//!
//! Locks: `ObjectTable::ids` (a mutex) serializes reservations and removals, so a slot
//! found free stays free while the array drops its spinlock to allocate; the array's
//! internal spinlock is the innermost lock of the module: nothing sleeps, allocates or
//! drops an object under it. Removed objects are dropped (which can unmap and unpin) after
//! both are released.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{context::Context, Object};
use crate::{dispatch::Ucmd, error::refuse, uapi::IommuDestroy};
use core::ops::Deref;
use kernel::{
    new_mutex,
    prelude::*,
    sync::Mutex,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc,
    },
    xarray::{self, AllocKind, XArray},
};

/// What the table needs of a kind of object; the kind's own module implements it.
pub(crate) trait ObjectKind {
    /// The number of other objects that depend on this one: `IOMMU_DESTROY` refuses
    /// while there are any.
    fn users(&self) -> u32 {
        0
    }

    /// What removing the object from `objects` implies for other objects (a device is
    /// unbound and detached). Runs with no lock of the table held.
    fn teardown(&self, _objects: &ObjectTable) {}
}

/// A kind of object (or a narrower one, such as one kind of device) that a lookup can
/// narrow an [`Object`] to ([`ObjectTable::get_as`]).
pub(crate) trait Narrow: Clone {
    /// The kind's name, for messages.
    const NAME: &'static str;

    /// The object inside `obj`, if it is of this kind.
    fn narrow(obj: &Object) -> Option<&Self>;
}

/// Declares the kinds of objects, one line each (`Variant(Type) = "name";`, documented):
/// the enum [`Object`] of references to an object of any kind, and each type's [`Narrow`].
/// Every type also implements [`ObjectKind`], in its own module.
macro_rules! object_kinds {
    ($($(#[$doc:meta])* $kind:ident($ty:ty) = $name:literal;)*) => {
        /// A reference to an object of any kind, as stored in the table.
        #[derive(Clone)]
        pub(crate) enum Object {
            $($(#[$doc])* $kind($ty),)*
        }

        impl Object {
            /// What the table needs of the object.
            pub(crate) fn kind(&self) -> &dyn $crate::objects::table::ObjectKind {
                match self {
                    $(Object::$kind(o) => o,)*
                }
            }

            /// The name of the object's kind, for messages.
            pub(crate) fn kind_name(&self) -> &'static str {
                match self {
                    $(Object::$kind(_) => $name,)*
                }
            }
        }

        $(impl $crate::objects::table::Narrow for $ty {
            const NAME: &'static str = $name;

            fn narrow(obj: &Object) -> Option<&Self> {
                match obj {
                    Object::$kind(o) => Some(o),
                    _ => None,
                }
            }
        })*
    };
}
pub(crate) use object_kinds;

/// Largest ID handed out (iommufd's IDs are positive `i32`s).
const MAX_ID: u32 = i32::MAX as u32;

/// An object in the table and the ioctls using it right now, or a tombstone.
struct Entry {
    /// The object; `None` for a tombstone, which keeps its ID taken until the context
    /// closes ([`ObjectTable::tombstone_if`]) and is never live.
    obj: Option<Object>,
    /// 1 once creation finished (0 before): lookups and `destroy` see only live entries. Set once,
    /// under the array's lock.
    live: Atomic<u32>,
    /// Number of live [`ObjRef`]s. Raised only under the array's lock (so `destroy`, which
    /// reads it under that lock, sees every lookup that found the object), lowered anywhere.
    shortterm: Atomic<u32>,
}

impl Entry {
    /// Whether the entry is live (read under the array's lock).
    fn is_live(&self) -> bool {
        self.live.load(Relaxed) != 0
    }

    /// The object, if the entry is live (read under the array's lock).
    fn live_obj(&self) -> Option<&Object> {
        self.obj.as_ref().filter(|_| self.is_live())
    }

    /// Tears the object down (not a tombstone's: it has none).
    fn teardown(&self, objects: &ObjectTable) {
        if let Some(obj) = &self.obj {
            obj.kind().teardown(objects);
        }
    }
}

/// What reservations and removals coordinate on.
///
/// # Invariants
///
/// Every ID below `lowest_free` is allocated; every allocated ID is at most `highest`.
struct Ids {
    lowest_free: u32,
    highest: u32,
}

/// The per-context table of objects.
#[pin_data]
pub(crate) struct ObjectTable {
    /// Serializes reservations and removals; protects [`Ids`]. Taken before the array's
    /// lock, never after.
    #[pin]
    ids: Mutex<Ids>,
    /// The entries by ID; every allocated ID has one. Its internal spinlock protects the
    /// entries' liveness and orders lookups against destroy (module documentation).
    #[pin]
    slots: XArray<Arc<Entry>>,
    /// The ID of the object the VFIO compatibility ioctls use (iommufd's `vfio_ioas`), 0
    /// for none. Written under both locks, read under the array's; removing the object
    /// clears it.
    compat: Atomic<u32>,
}

/// A counted use of an object found in the table (see the module documentation): derefs
/// to the object; dropping it ends the use.
pub(crate) struct ObjRef<T> {
    obj: T,
    _use: ShortTermUse,
}

/// The short-term user count an [`ObjRef`] holds.
struct ShortTermUse(Arc<Entry>);

impl Drop for ShortTermUse {
    fn drop(&mut self) {
        self.0.shortterm.fetch_sub(1, Release);
    }
}

impl<T> Deref for ObjRef<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.obj
    }
}

impl ObjRef<Object> {
    /// The same use, narrowed to the object of type `want` inside (`None` otherwise).
    fn narrow<T>(self, want: impl FnOnce(&Object) -> Option<T>) -> Option<ObjRef<T>> {
        let obj = want(&self.obj)?;
        Some(ObjRef {
            obj,
            _use: self._use,
        })
    }
}

impl ObjectTable {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        // INVARIANT: nothing is allocated.
        pin_init!(Self {
            ids <- new_mutex!(Ids { lowest_free: 1, highest: 0 }),
            slots <- XArray::new(AllocKind::Alloc1),
            compat: Atomic::new(0),
        })
    }

    /// Adds `obj` under the lowest free ID, not live yet (see the module documentation).
    ///
    /// # Errors
    ///
    /// `ENOSPC` when every ID is in use, `ENOMEM`. On error `obj` is torn down as
    /// `IOMMU_DESTROY` would (or only dropped if even its entry could not be allocated).
    pub(crate) fn add(&self, obj: Object) -> Result<NewObject<'_>> {
        // Nothing refers to `obj` yet: on failure here, dropping it is all it needs.
        let entry = Arc::new(
            Entry {
                obj: Some(obj),
                live: Atomic::new(0),
                shortterm: Atomic::new(0),
            },
            GFP_KERNEL,
        )?;
        match self.store_new(entry.clone()) {
            // INVARIANT: `id` holds `entry`, which only the `NewObject` makes live or frees.
            Ok(id) => Ok(NewObject {
                table: self,
                id,
                entry,
                finalized: false,
            }),
            Err(e) => {
                entry.teardown(self);
                Err(e)
            }
        }
    }

    /// Stores `entry` under the lowest free ID and returns the ID.
    fn store_new(&self, entry: Arc<Entry>) -> Result<u32> {
        let mut ids = self.ids.lock();
        let mut guard = self.slots.lock();
        let mut id = ids.lowest_free;
        // Every ID below `lowest_free` is taken; above it, gaps left by removals first.
        while id <= ids.highest && guard.get(id as usize).is_some() {
            id += 1;
        }
        if id > MAX_ID {
            return refuse!(ENOSPC, "object table: every ID is in use\n");
        }
        // The slot stays free while `store` may drop the spinlock: additions and removals
        // are serialized by `ids`.
        guard.store(id as usize, entry, GFP_KERNEL)?;
        // INVARIANT: `id` was the lowest free ID and is now allocated.
        ids.lowest_free = id + 1;
        ids.highest = ids.highest.max(id);
        Ok(id)
    }

    /// Frees `id`; returns its entry, for the caller to drop with no lock held.
    fn free_id(
        &self,
        ids: &mut Ids,
        guard: &mut xarray::Guard<'_, Arc<Entry>>,
        id: u32,
    ) -> Option<Arc<Entry>> {
        let entry = guard.remove(id as usize);
        if entry.is_some() {
            // INVARIANT: `id` is free again.
            ids.lowest_free = ids.lowest_free.min(id);
            if self.compat.load(Relaxed) == id {
                self.compat.store(0, Relaxed);
            }
        }
        entry
    }

    /// Makes object `id` the one the VFIO compatibility ioctls use. The caller holds a
    /// reference to it (from [`ObjectTable::get_as`]), so it is live and stays in the table
    /// until then; removing it later clears the choice.
    pub(crate) fn set_compat(&self, id: u32) {
        let ids = self.ids.lock();
        let guard = self.slots.lock();
        self.compat.store(id, Relaxed);
        drop(guard);
        drop(ids);
    }

    /// Forgets the object of the VFIO compatibility ioctls (it stays in the table).
    pub(crate) fn clear_compat(&self) {
        self.set_compat(0);
    }

    /// The object the VFIO compatibility ioctls use, as a `T`, and its ID, counting the
    /// caller as a user of it like [`ObjectTable::get`].
    ///
    /// # Errors
    ///
    /// `ENODEV` if there is none (as iommufd, whatever the reason).
    pub(crate) fn get_compat<T: Narrow>(&self) -> Result<(u32, ObjRef<T>)> {
        let guard = self.slots.lock();
        let id = self.compat.load(Relaxed);
        let found = guard.get(id as usize).filter(|_| id != 0).and_then(|e| {
            let obj = e.live_obj()?.clone();
            Some((Arc::from(e), obj))
        });
        let Some((entry, obj)) = found else {
            drop(guard);
            return refuse!(ENODEV, "vfio: no compatibility IOAS is set\n");
        };
        // Under the lock: `destroy` sees this use (module documentation).
        entry.shortterm.fetch_add(1, Relaxed);
        drop(guard);
        let obj = ObjRef {
            obj,
            _use: ShortTermUse(entry),
        };
        match obj.narrow(|o| T::narrow(o).cloned()) {
            Some(obj) => Ok((id, obj)),
            None => refuse!(
                ENODEV,
                "vfio: the compatibility object is not a {}\n",
                T::NAME
            ),
        }
    }

    /// Adds `obj` and makes it live at once, for objects that are visible as soon as they
    /// exist (automatic HWPTs, made inside another operation as iommufd does).
    ///
    /// # Errors
    ///
    /// As [`ObjectTable::add`].
    pub(crate) fn insert(&self, obj: Object) -> Result<u32> {
        let new = self.add(obj)?;
        let id = new.id();
        new.finalize();
        Ok(id)
    }

    /// Looks up object `id`, counting the caller as a user of it until the returned
    /// reference is dropped.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no such object (or it is not finalized).
    pub(crate) fn get(&self, id: u32) -> Result<ObjRef<Object>> {
        let guard = self.slots.lock();
        let found = guard.get(id as usize).and_then(|e| {
            let obj = e.live_obj()?.clone();
            Some((Arc::from(e), obj))
        });
        let Some((entry, obj)) = found else {
            drop(guard);
            return Err(ENOENT);
        };
        // Under the lock: `destroy` sees this use (module documentation).
        entry.shortterm.fetch_add(1, Relaxed);
        drop(guard);
        Ok(ObjRef {
            obj,
            _use: ShortTermUse(entry),
        })
    }

    /// Looks up object `id` as a `T` (an IOAS, a HWPT, a device, ...), counting the caller
    /// as a user of it until the returned reference is dropped.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no object `id` or it is not a `T`.
    pub(crate) fn get_as<T: Narrow>(&self, id: u32) -> Result<ObjRef<T>> {
        let obj = self.get(id)?.narrow(|o| T::narrow(o).cloned());
        let Some(obj) = obj else {
            return refuse!(ENOENT, "object {} is not of kind {}\n", id, T::NAME);
        };
        Ok(obj)
    }

    /// Every object of kind `T` in the table, in one walk of the tree under its lock (a
    /// snapshot: objects created meanwhile are missed).
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn all_of<T: Narrow>(&self) -> Result<KVec<T>> {
        let mut all = KVec::new();
        loop {
            // Room for every object found last time, and then some: nothing is allocated
            // under the lock, so a walk that runs out of room starts again with more.
            let room = all.capacity().max(8) * 2;
            all.clear();
            all.reserve(room, GFP_KERNEL)?;
            let mut complete = true;
            let ids = self.ids.lock();
            let guard = self.slots.lock();
            for id in 1..=ids.highest {
                let Some(entry) = guard.get(id as usize) else {
                    continue;
                };
                let Some(obj) = entry.live_obj().and_then(T::narrow) else {
                    continue;
                };
                if all.push_within_capacity(obj.clone()).is_err() {
                    complete = false;
                    break;
                }
            }
            drop(guard);
            drop(ids);
            if complete {
                return Ok(all);
            }
        }
    }

    /// Looks up object `id` as a `T` and runs `claim` on it under the array's lock, so
    /// atomically with respect to [`ObjectTable::remove_if`] (a HWPT counts a device
    /// attaching to it this way, so an automatic HWPT is never removed from the table
    /// while a device attaches to it). `claim` must not sleep.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no object `id` of kind `T`.
    pub(crate) fn get_claimed<T: Narrow>(&self, id: u32, claim: impl FnOnce(&T)) -> Result<T> {
        let guard = self.slots.lock();
        let obj = guard
            .get(id as usize)
            .and_then(|e| e.live_obj().and_then(T::narrow).cloned());
        if let Some(obj) = &obj {
            // Under the lock, so `remove_if` sees the claim.
            claim(obj);
        }
        drop(guard);
        obj.ok_or(ENOENT)
    }

    /// Runs `f` on object `id` if it is a live `T`, under the array's lock, so atomically
    /// with respect to [`ObjectTable::destroy`] (the mmap handler counts a mapping of a
    /// vIOMMU's region this way: never of a vIOMMU being destroyed); `None` if there is no
    /// such object. Unlike a lookup it takes no reference to the object, so the caller can
    /// never drop the last one. `f` must not sleep.
    pub(crate) fn with_live<T: Narrow, R>(&self, id: u32, f: impl FnOnce(&T) -> R) -> Option<R> {
        let guard = self.slots.lock();
        let r = match guard.get(id as usize) {
            Some(e) => e.live_obj().and_then(T::narrow).map(f),
            None => None,
        };
        drop(guard);
        r
    }

    /// Removes object `id` if it is a `T` for which `cond` holds (evaluated under the
    /// array's lock; for example an automatic HWPT whose last device left), and tears it
    /// down; returns whether it did.
    pub(crate) fn remove_if<T: Narrow>(&self, id: u32, cond: impl FnOnce(&T) -> bool) -> bool {
        let removed = self.take_if(id, |_, obj| T::narrow(obj).is_some_and(cond));
        let Some(entry) = removed else {
            return false;
        };
        // Torn down here, with no lock held: dropping can sleep.
        entry.teardown(self);
        true
    }

    /// Replaces object `id`, if it is a `T` for which `cond` holds, with a tombstone and
    /// tears it down; returns whether it did. The ID stays taken (lookups and
    /// `IOMMU_DESTROY` give `ENOENT`, no new object gets it) until the context closes, as
    /// iommufd's `iommufd_object_tombstone_user()` does for a vDEVICE whose device went
    /// first: the user's handle can never name another object. An ioctl still using the
    /// object keeps it alive until it returns. Without memory for the tombstone the ID is
    /// freed instead.
    pub(crate) fn tombstone_if<T: Narrow>(&self, id: u32, cond: impl FnOnce(&T) -> bool) -> bool {
        // Allocated first: nothing allocates under the array's lock.
        let stone = Arc::new(
            Entry {
                obj: None,
                live: Atomic::new(0),
                shortterm: Atomic::new(0),
            },
            GFP_KERNEL,
        )
        .ok();
        let mut ids = self.ids.lock();
        let mut guard = self.slots.lock();
        let taken = guard
            .get(id as usize)
            .is_some_and(|e| e.live_obj().and_then(T::narrow).is_some_and(cond));
        let mut spare = None;
        let old = match (taken, stone) {
            (false, stone) => {
                spare = stone;
                None
            }
            // Over an occupied slot: the array allocates nothing.
            (true, Some(stone)) => match guard.store(id as usize, stone, GFP_KERNEL) {
                Ok(old) => old,
                Err(_) => self.free_id(&mut ids, &mut guard, id),
            },
            (true, None) => self.free_id(&mut ids, &mut guard, id),
        };
        drop(guard);
        drop(ids);
        drop(spare);
        let Some(entry) = old else {
            return false;
        };
        // Torn down here, with no lock held: dropping can sleep.
        entry.teardown(self);
        true
    }

    /// Takes the entry of `id` out of its slot if `cond` holds for it, then frees the ID.
    /// The caller drops the entry (with no lock held).
    fn take_if(&self, id: u32, cond: impl FnOnce(&Entry, &Object) -> bool) -> Option<Arc<Entry>> {
        let mut ids = self.ids.lock();
        let mut guard = self.slots.lock();
        let taken = guard
            .get(id as usize)
            .is_some_and(|e| e.live_obj().is_some_and(|o| cond(&e, o)));
        let entry = if taken {
            self.free_id(&mut ids, &mut guard, id)
        } else {
            None
        };
        drop(guard);
        drop(ids);
        entry
    }

    /// Runs `f` while no object can be reserved or removed, telling it whether the table
    /// is empty (no object and no reservation).
    pub(crate) fn with_empty<R>(&self, f: impl FnOnce(bool) -> R) -> R {
        let ids = self.ids.lock();
        let guard = self.slots.lock();
        let empty = (1..=ids.highest).all(|id| guard.get(id as usize).is_none());
        drop(guard);
        let r = f(empty);
        drop(ids);
        r
    }

    /// Removes object `id` unless something uses it (module documentation).
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no such object, `EBUSY` while other objects depend on it or
    /// another ioctl is using it.
    pub(crate) fn destroy(&self, id: u32) -> Result {
        let mut why = Err(ENOENT);
        let removed = self.take_if(id, |entry, obj| {
            let shortterm = entry.shortterm.load(Acquire);
            let users = obj.kind().users();
            why = if shortterm > 0 {
                refuse!(
                    EBUSY,
                    "destroy: {} {} is in use by {} ioctls\n",
                    obj.kind_name(),
                    id,
                    shortterm
                )
            } else if users > 0 {
                refuse!(
                    EBUSY,
                    "destroy: {} {} is used by {} other objects\n",
                    obj.kind_name(),
                    id,
                    users
                )
            } else {
                Ok(())
            };
            why.is_ok()
        });
        let Some(entry) = removed else {
            if why == Err(ENOENT) {
                return refuse!(ENOENT, "destroy: no object {}\n", id);
            }
            return why;
        };
        // Torn down here, with no lock held: dropping can sleep.
        entry.teardown(self);
        Ok(())
    }
}

/// A built object in the table, not live yet: [`NewObject::finalize`] makes it live;
/// dropping it instead frees the ID and tears the object down as `IOMMU_DESTROY` would.
///
/// # Invariants
///
/// Until finalized, `id` holds `entry`, not live, and nothing else makes it live or frees it.
pub(crate) struct NewObject<'a> {
    table: &'a ObjectTable,
    id: u32,
    entry: Arc<Entry>,
    finalized: bool,
}

impl NewObject<'_> {
    /// The object's ID, for the handler's reply.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Makes the object visible to lookups and `IOMMU_DESTROY`.
    pub(crate) fn finalize(mut self) {
        self.publish();
    }

    /// The body of [`NewObject::finalize`]; leaves `self` finalized.
    fn publish(&mut self) {
        if self.finalized {
            return;
        }
        let guard = self.table.slots.lock();
        // Under the lock: a lookup sees the entry either not live or live, whole.
        self.entry.live.store(1, Relaxed);
        drop(guard);
        self.finalized = true;
    }
}

impl Drop for NewObject<'_> {
    fn drop(&mut self) {
        if self.finalized {
            return;
        }
        // Aborted: free the ID first (by the type invariant it still holds our entry), so
        // nothing can find the object while it goes.
        let mut ids = self.table.ids.lock();
        let mut guard = self.table.slots.lock();
        let removed = self.table.free_id(&mut ids, &mut guard, self.id);
        drop(guard);
        drop(ids);
        drop(removed);
        self.entry.teardown(self.table);
    }
}

/// `IOMMU_DESTROY`.
pub(crate) fn ioctl_destroy(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let cmd = IommuDestroy::read(ucmd.bytes());
    ctx.objects().destroy(cmd.id)
}
