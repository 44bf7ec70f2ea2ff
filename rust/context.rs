// SPDX-License-Identifier: GPL-2.0

//! The context of one open `/dev/ioasid` file.
//!
//! Each `open()` creates a [`Context`]; every object a process creates through that file
//! belongs to it and is released when the last reference to the file is dropped.

use crate::dispatch;
use kernel::{
    device::Device,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    prelude::*,
    sync::aref::ARef,
};

/// Per-file state of `/dev/ioasid`.
pub(crate) struct Context {
    /// The misc device, for `dev_dbg!` reasons.
    dev: ARef<Device>,
}

#[vtable]
impl MiscDevice for Context {
    type Ptr = KBox<Self>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        let dev = ARef::from(misc.device());
        dev_dbg!(dev, "open\n");
        KBox::new(Context { dev }, GFP_KERNEL)
    }

    fn release(ctx: KBox<Self>, _file: &File) {
        dev_dbg!(ctx.dev, "release\n");
    }

    fn ioctl(ctx: &Context, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        dispatch::dispatch(ctx, cmd, arg)
    }

    /// The structures have one layout for 32-bit and 64-bit callers, so a compat caller
    /// takes the same path (its argument is a zero-extended user pointer).
    fn compat_ioctl(ctx: &Context, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        dispatch::dispatch(ctx, cmd, arg)
    }
}
