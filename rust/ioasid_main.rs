// SPDX-License-Identifier: GPL-2.0

//! ioasid: a safe user API to the IOMMU.
//!
//! The module registers the misc device `/dev/ioasid`. A process opens it, creates I/O
//! address spaces, maps its memory into them and attaches devices, with the ioctls of
//! upstream iommufd (same numbers, layouts and errno values) plus ioasid's own extensions
//! for binding devices; `include/uapi/linux/ioasid.h` is the contract.
//!
//! Layout: `ffi` is the FFI layer (`ffi::iommu`: devices, groups, domains and the VFIO
//! IOMMU driver; `ffi::mmap`: mapped vIOMMU regions; `ffi::eventq`: the files of fault
//! queues and vEVENTQs; `ffi::pasid`: the global PASID registry), the only modules with
//! `unsafe` code (with the C shim in `shim/`); every other module says
//! `#![deny(unsafe_code)]`. The pure-logic modules of `uapi` (`ucmd`: ioctl numbers and
//! size rules, `iova`: IOVA arithmetic and allocator, `abi`: structure mirrors and
//! argument checks, `dirty`: the dirty-bitmap windows, `hw_queue`: the rules of HW queue
//! allocation, `eventq`: the rules of event-queue files, `mock_s1`: the mock's stage-1
//! format, `vfio`: the VFIO type1 mirrors and the arithmetic of their replies, `pasid`:
//! PASID ranges) depend only on `core` and are also unit-tested on the host; `error`
//! gives their errors an errno and has `refuse!`, with which every refusal carries its
//! reason; `dispatch` is the single ioctl dispatcher and its table, keyed by the uAPI
//! names; `objects` the objects (`table` their table, `context` the per-file state, one
//! module per object type, `dirty` the dirty-tracking ioctls of HWPTs, `vfio_compat` the
//! VFIO type1 container ioctls on the compatibility IOAS, `vfio_backend` the VFIO
//! containers ioasid serves as VFIO's IOMMU driver); `iopt` the IOAS engine and the
//! memory behind it; `hw` the domains, real and mock; `testing` the test interface.
//! Dependencies point that way: handlers, objects, engine, domains, FFI.
//!
//! # Lock order
//!
//! Every lock of the module, outermost first; a lock is only ever taken while holding
//! locks above it in this list:
//!
//! 1. `Context::change_process`: serializes `IOMMU_IOAS_CHANGE_PROCESS`.
//! 2. `Context::pci_groups`: the context's registry of IOMMU groups.
//! 3. `PciGroup::inner`, `MockDevice::inner`: a device's (group's) attachment and vDEVICE.
//!    `vfio_backend::Container::groups`: a VFIO container's groups (never held with the
//!    others of this level; VFIO calls with its container lock, outside all of these).
//! 4. `Viommu::vdevs`: a vIOMMU's devices by virtual ID; nothing is taken under it.
//!    `Viommu::queues`: a vIOMMU's HW queues by index (never held with `vdevs`); under it
//!    only `MockDomain::table` and the object table's locks are taken.
//! 5. `Access::inner`: an in-kernel access's IOAS and pinned ranges.
//! 6. `Ioas::inner`: the IOVA bookkeeping; held across pinning and domain mapping.
//! 7. `Pages::pins`: the pins and their accounting; held across pinning.
//! 8. `MockNested::stage1`: a mock nested domain's stage 1 (its translation cache).
//! 9. `MockDomain::table`: a mock domain's page table, dirty bits and tracking switch.
//! 10. `Context::process_cache`: a leaf, taken with nothing else held.
//! 11. `ffi::pasid::PASIDS`: the global registry of allocated PASIDs; a leaf, taken with
//!     nothing held or under a device's lock (3).
//! 12. `FaultQueue::inner`: a fault queue's groups; a leaf, taken with nothing else held
//!     (a mock DMA waiting for a page response holds no other lock, and sleeps only in
//!     this lock's condition variable, which releases it).
//! 13. `Viommu::veventqs`: a vIOMMU's vEVENTQs; a leaf (an event is queued after it
//!     was let go).
//! 14. `VeventQueue::inner`: a vEVENTQ's events; a leaf.
//! 15. `ObjectTable::ids`: serializes the reservation and removal of object IDs.
//! 16. `ObjectTable::slots` (the XArray's spinlock): innermost; nothing sleeps under it.
//!
//! The C shim's own locks (`rust/ffi/shim/`) are taken only inside shim calls, with two
//! places in this order: `ioasid_pci_dev::revoke_lock` comes before `PciGroup::inner` (a
//! revocation of a binding by the device file's release or the device's removal hands it
//! to Rust, `ioasid_pci_revoked`, under it), and the device lock `ioasid_pci_dev::lock`
//! after it (claims and liveness checks), with no lock of this list taken under it. The
//! shim calls back into Rust (`ioasid_pci_revoked`, `ioasid_access_release`) with no other
//! lock of its own held. The PCI device's own lock (`struct device`'s, which the driver
//! core holds around `ioasid-pci`'s `remove`) comes before all of them: ioasid never waits
//! for it; stopping a device (its function reset, at bind and before its DMA ownership
//! goes back) only tries it, or runs in `remove`'s thread, which holds it.

use kernel::{
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};
use objects::context;
use uapi::ucmd;

mod dispatch;
mod error;
mod ffi;
mod hw;
mod iopt;
mod objects;
mod testing;
mod uapi;

// The pure encoder must agree with the kernel's for every number we use.
const _: () =
    assert!(ucmd::io(ucmd::IOMMUFD_CMD_BASE) == kernel::ioctl::_IO(ucmd::IOMMUFD_TYPE, 0x80));
const _: () =
    assert!(ucmd::io(ucmd::IOASID_CMD_BASE) == kernel::ioctl::_IO(ucmd::IOMMUFD_TYPE, 0xc0));

module! {
    type: IoasidModule,
    name: "ioasid",
    authors: ["The ioasid developers"],
    description: "Safe user API to the IOMMU, wire-compatible with iommufd",
    license: "GPL",
    params: {
        debug: bool {
            default: false,
            description: "Log the reason of every refused request at KERN_DEBUG",
        },
        allow_unsafe_interrupts: bool {
            default: false,
            description: "Bind devices whose MSIs are not isolated (unsafe; taints the kernel)",
        },
        pasid_quota: u32 {
            default: 64,
            description: "How many PASIDs one /dev/ioasid file may allocate (IOASID_PASID_ALLOC)",
        },
        vfio_type1: bool {
            default: false,
            description: "Serve VFIO containers that ask for type1/type1v2 (VFIO_SET_IOMMU), in place of vfio_iommu_type1",
        },
        selftest: bool {
            default: false,
            description: "Enable IOMMU_TEST_CMD (upstream iommufd's test ABI); taints the kernel",
        },
    },
}

/// Logs why a request was refused, at `KERN_DEBUG` ("ioasid: ..."), when the module was
/// loaded with `debug=1`. Rust's `pr_debug!`/`dev_dbg!` are compiled out without debug
/// assertions and do not take part in dynamic debug, so ioasid has its own switch.
macro_rules! ioasid_dbg {
    ($($arg:tt)*) => {
        if crate::module_parameters::debug.value() {
            kernel::print_macro!(kernel::print::format_strings::DEBUG, false, $($arg)*);
        }
    };
}
pub(crate) use ioasid_dbg;

#[pin_data]
struct IoasidModule {
    /// ioasid as a VFIO IOMMU driver (unregistered first at exit; `None` without
    /// `CONFIG_VFIO_CONTAINER`). VFIO holds a module reference while a container uses it.
    _vfio: Option<ffi::iommu::VfioDriver>,
    /// The `ioasid-pci` driver.
    pci: ffi::iommu::PciDriver,
    #[pin]
    miscdev: MiscDeviceRegistration<context::Context>,
    /// The global PASID registry, freed last.
    _pasids: ffi::pasid::Registry,
}

impl kernel::InPlaceModule for IoasidModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // Before /dev/ioasid exists: no file can use the registry earlier.
        let pasids = ffi::pasid::init();
        let options = MiscDeviceOptions { name: c"ioasid" };
        try_pin_init!(Self {
            _vfio: ffi::iommu::VfioDriver::register_if_available()?,
            pci: ffi::iommu::PciDriver::register()?,
            miscdev <- MiscDeviceRegistration::register(options),
            _pasids: pasids,
        })
        .pin_chain(|_| {
            if testing::selftest::enabled() {
                ffi::taint_test();
                pr_warn!("IOMMU_TEST_CMD enabled (selftest=1): for testing only\n");
            }
            pr_info!(
                "/dev/ioasid registered; {} PCI devices are behind an IOMMU\n",
                ffi::count_iommu_pci_devices()
            );
            Ok(())
        })
    }
}
