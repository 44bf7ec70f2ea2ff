// SPDX-License-Identifier: GPL-2.0

//! The objects of a `/dev/ioasid` context and their ioctls: the context itself, its
//! object table, and one module per object type (IOAS, HWPT, devices, accesses).
//! Handlers here check arguments and find objects; the IOAS engine they drive is
//! [`crate::iopt`], the domains [`crate::hw`].

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

pub(crate) mod access;
pub(crate) mod context;
pub(crate) mod device;
pub(crate) mod hwpt;
pub(crate) mod ioas;
pub(crate) mod pcidev;
pub(crate) mod table;
