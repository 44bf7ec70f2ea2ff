// SPDX-License-Identifier: GPL-2.0

//! ioasid's errors, in one place: the errno of each error of the pure-logic modules, and
//! [`refuse!`], which refuses a request with its reason.
//!
//! [`crate::uapi`] depends only on `core` (it is also compiled on the host), so its errors
//! are plain enums that say why; the `From` conversions below give each its errno, the one
//! iommufd returns in the same case (documented in `include/uapi/linux/ioasid.h`). A
//! handler uses them with `?` and never spells an errno for them itself.
//!
//! Every refusal carries a reason for the administrator: `refuse!(EINVAL, "...")` logs it
//! with [`crate::ioasid_dbg!`] (printed only when the module is loaded with `debug=1`) and
//! evaluates to `Err(EINVAL)`, so the errno and its reason are one expression.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::uapi::{
    dirty::DirtyError, eventq::EventqError, hw_queue::HwQueueError, iova::IovaError,
    mock_s1::S1Error, ucmd::UcmdError, MapArgError,
};
use kernel::prelude::*;

/// The size rules of every ioctl.
impl From<UcmdError> for Error {
    fn from(e: UcmdError) -> Self {
        match e {
            UcmdError::Inval => EINVAL,
            UcmdError::TooBig => E2BIG,
        }
    }
}

/// The rules of `IOMMU_HW_QUEUE_ALLOC`.
impl From<HwQueueError> for Error {
    fn from(e: HwQueueError) -> Self {
        match e {
            HwQueueError::NotSupported => EOPNOTSUPP,
            HwQueueError::Inval => EINVAL,
            HwQueueError::Overflow => EOVERFLOW,
            HwQueueError::Range => ERANGE,
            HwQueueError::Exist => EEXIST,
            HwQueueError::Io => EIO,
        }
    }
}

/// The reads and writes of an event queue's file.
impl From<EventqError> for Error {
    fn from(e: EventqError) -> Self {
        match e {
            EventqError::Spipe => ESPIPE,
            EventqError::Inval => EINVAL,
        }
    }
}

/// IOVA arithmetic and allocation.
impl From<IovaError> for Error {
    fn from(e: IovaError) -> Self {
        match e {
            IovaError::Inval => EINVAL,
            IovaError::Overflow => EOVERFLOW,
            IovaError::Exist => EEXIST,
            IovaError::NoSpace => ENOSPC,
        }
    }
}

/// The arguments of `IOMMU_IOAS_MAP`, `MAP_FILE` and `COPY`.
impl From<MapArgError> for Error {
    fn from(e: MapArgError) -> Self {
        match e {
            MapArgError::NotSupported => EOPNOTSUPP,
            MapArgError::Overflow => EOVERFLOW,
            MapArgError::NoAccess => EINVAL,
        }
    }
}

/// The mock IOMMU's stage-1 format: configuration, walks and invalidations.
impl From<S1Error> for Error {
    fn from(e: S1Error) -> Self {
        match e {
            S1Error::Inval => EINVAL,
            S1Error::NotSupported => EOPNOTSUPP,
            S1Error::Fault => EFAULT,
            S1Error::Permission => EPERM,
        }
    }
}

/// The range of `IOMMU_HWPT_GET_DIRTY_BITMAP`.
impl From<DirtyError> for Error {
    fn from(e: DirtyError) -> Self {
        match e {
            DirtyError::Inval => EINVAL,
            DirtyError::Overflow => EOVERFLOW,
        }
    }
}

/// Refuses a request: logs the reason (a format string and its arguments, as
/// [`crate::ioasid_dbg!`], which prints only with `debug=1`) and evaluates to `Err` of the
/// errno, or of the errno of a pure-logic error (`From` above). A reason is required.
///
/// ```ignore
/// if cmd.flags != 0 {
///     return refuse!(EOPNOTSUPP, "ioas_alloc: unknown flags {:#x}\n", cmd.flags);
/// }
/// let span = Span::from_len(iova, length).or_else(|e| refuse!(e, "bad range: {:?}\n", e))?;
/// ```
macro_rules! refuse {
    ($err:expr, $($reason:tt)+) => {{
        $crate::ioasid_dbg!($($reason)+);
        Err(kernel::error::Error::from($err))
    }};
}
pub(crate) use refuse;
