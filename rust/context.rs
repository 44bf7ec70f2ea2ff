// SPDX-License-Identifier: GPL-2.0

//! The context of one open `/dev/ioasid` file.
//!
//! Each `open()` creates a [`Context`]; every object a process creates through that file
//! belongs to it and is released when the last reference to the file is dropped.

use crate::dispatch;
use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    prelude::*,
};

/// Per-file state of `/dev/ioasid`.
///
/// It holds no state yet: the object table arrives with the first objects (IOAS).
pub(crate) struct Context {}

#[vtable]
impl MiscDevice for Context {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(Context {}, GFP_KERNEL)?)
    }

    /// Also serves 32-bit callers: the structures have one layout for both, so the default
    /// `compat_ptr_ioctl` calls this with the zero-extended pointer.
    fn ioctl(ctx: &Context, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        dispatch::dispatch(ctx, cmd, arg)
    }
}
