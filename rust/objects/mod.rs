// SPDX-License-Identifier: GPL-2.0

//! The objects of a `/dev/ioasid` context and their ioctls: the context itself, its
//! object table, and one module per object type (IOAS, HWPT, devices, accesses, vIOMMU,
//! vDEVICE, HW queue, PASID, fault queue, vEVENTQ), and the dirty-tracking ioctls of HWPTs;
//! `vfio_backend` the VFIO containers ioasid serves as VFIO's IOMMU driver.
//! Handlers here check arguments and find objects; the IOAS engine they drive is
//! [`crate::iopt`], the domains [`crate::hw`]. The kinds of objects are listed below, one
//! line each ([`table::object_kinds!`]).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

pub(crate) mod access;
pub(crate) mod context;
pub(crate) mod device;
pub(crate) mod dirty;
pub(crate) mod fault;
pub(crate) mod hw_queue;
pub(crate) mod hwpt;
pub(crate) mod ioas;
pub(crate) mod pasid;
pub(crate) mod pcidev;
pub(crate) mod table;
pub(crate) mod vdevice;
pub(crate) mod veventq;
pub(crate) mod vfio_backend;
pub(crate) mod vfio_compat;
pub(crate) mod viommu;

use crate::iopt::Ioas;
use device::{DeviceRef, MockDevice};
use fault::FaultQueue;
use hw_queue::HwQueue;
use hwpt::Hwpt;
use kernel::sync::Arc;
use pasid::Pasid;
use vdevice::Vdevice;
use veventq::Veventq;
use viommu::Viommu;

table::object_kinds! {
    /// An I/O address space.
    Ioas(Arc<Ioas>) = "IOAS";
    /// A hardware page table.
    Hwpt(Arc<Hwpt>) = "HWPT";
    /// A bound device (`dev_id`) of any kind.
    Device(DeviceRef) = "device";
    /// The test interface's handle of a mock device (`stdev_id`, upstream's
    /// `IOMMUFD_OBJ_SELFTEST`); destroying it unbinds the device.
    Selftest(Arc<MockDevice>) = "selftest device";
    /// A vIOMMU.
    Viommu(Arc<Viommu>) = "vIOMMU";
    /// A vDEVICE: a device as a vIOMMU's VM numbers it.
    Vdevice(Arc<Vdevice>) = "vDEVICE";
    /// A HW queue of a vIOMMU.
    HwQueue(Arc<HwQueue>) = "HW queue";
    /// A PASID allocated with `IOASID_PASID_ALLOC`.
    Pasid(Arc<Pasid>) = "PASID";
    /// A fault queue: I/O page faults delivered to userspace.
    Fault(Arc<FaultQueue>) = "fault queue";
    /// A vEVENTQ: a vIOMMU's events of one type.
    Veventq(Arc<Veventq>) = "vEVENTQ";
}
