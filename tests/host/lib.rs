// SPDX-License-Identifier: GPL-2.0

//! The pure-logic modules of `rust/`, exactly as the kernel module compiles them, plus
//! host-only checks of the uAPI header. Each module carries its own `#[cfg(test)]` tests.
//! The modules keep the `pub(crate)` visibility the kernel crate needs, so outside the
//! tests most of their items are unused here.
#![allow(dead_code)]
// Re-exports the module uses (the test interface's mirrors) are used here by the tests only.
#![cfg_attr(not(test), allow(unused_imports))]

#[path = "../../rust/uapi/dirty.rs"]
pub mod dirty;
#[path = "../../rust/uapi/eventq.rs"]
pub mod eventq;
#[path = "../../rust/uapi/hw_queue.rs"]
pub mod hw_queue;
#[path = "../../rust/uapi/iova.rs"]
pub mod iova;
#[path = "../../rust/uapi/mock_s1.rs"]
pub mod mock_s1;
#[path = "../../rust/uapi/pasid.rs"]
pub mod pasid;
#[path = "../../rust/uapi/abi.rs"]
pub mod uapi;
#[path = "../../rust/uapi/ucmd.rs"]
pub mod ucmd;
#[path = "../../rust/uapi/vfio.rs"]
pub mod vfio;

#[cfg(test)]
mod rng;

#[cfg(test)]
mod uapi_header;

#[cfg(test)]
mod ioctl_table;

#[cfg(test)]
mod iova_model;

#[cfg(test)]
mod pasid_model;
