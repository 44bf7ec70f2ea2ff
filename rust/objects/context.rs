// SPDX-License-Identifier: GPL-2.0

//! The context of one open `/dev/ioasid` file.
//!
//! Each `open()` creates a [`Context`]; every object a process creates through that file
//! lives in the context's object table and is released when the last reference to the file
//! is dropped.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use super::{ioas, pcidev::PciGroup, table::ObjectTable};
use crate::{dispatch, dispatch::Ucmd, error::refuse, ffi, uapi::*};
use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    mm::virt::VmaNew,
    new_mutex,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    sync::{Arc, Mutex},
};

/// How pinned pages are charged against `RLIMIT_MEMLOCK` (`IOMMU_OPTION_RLIMIT_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountMode {
    /// Per user (the default), as VFIO type1 does.
    User = 0,
    /// Per process (`mm->pinned_vm`).
    Mm = 1,
}

/// Per-file state of `/dev/ioasid`.
#[pin_data]
pub(crate) struct Context {
    /// Every object created through this file.
    #[pin]
    objects: ObjectTable,
    /// The [`AccountMode`], as its discriminant; changed only while `objects` is empty
    /// (checked under the table's lock).
    account_mode: Atomic<u32>,
    /// The last process that mapped memory through this file, reused while the same
    /// process maps in the same accounting mode (one identity for many mappings).
    #[pin]
    process_cache: Mutex<Option<Arc<ffi::Process>>>,
    /// The IOMMU groups of the bound PCI devices (groups left without devices are pruned
    /// at the next bind). Dropped after `objects`, whose devices hold them.
    #[pin]
    pci_groups: Mutex<KVec<Arc<PciGroup>>>,
    /// Serializes `IOMMU_IOAS_CHANGE_PROCESS` (protects no data: it makes every `Pages`'
    /// prepared move this context's only one). Taken before any IOAS or `Pages` lock.
    #[pin]
    change_process: Mutex<()>,
}

impl Context {
    /// Identifies the context (its address, only to compare; it stays unique while the
    /// context's objects exist).
    pub(crate) fn ident(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// The object table.
    pub(crate) fn objects(&self) -> &ObjectTable {
        &self.objects
    }

    /// The lock that serializes `IOMMU_IOAS_CHANGE_PROCESS`.
    pub(crate) fn change_process_lock(&self) -> &Mutex<()> {
        &self.change_process
    }

    /// The IOMMU groups of the bound PCI devices.
    pub(crate) fn pci_groups(&self) -> &Mutex<KVec<Arc<PciGroup>>> {
        &self.pci_groups
    }

    /// The calling process, as the owner of memory it maps now (charged as this context's
    /// accounting mode says).
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn process(&self) -> Result<Arc<ffi::Process>> {
        let mm_mode = self.account_mode() == AccountMode::Mm;
        let mut cache = self.process_cache.lock();
        if let Some(p) = cache.as_ref().filter(|p| p.is_current(mm_mode)) {
            return Ok(p.clone());
        }
        let p = Arc::new(ffi::Process::current(mm_mode)?, GFP_KERNEL)?;
        *cache = Some(p.clone());
        Ok(p)
    }

    /// How this context charges pinned pages.
    pub(crate) fn account_mode(&self) -> AccountMode {
        if self.account_mode.load(Relaxed) == AccountMode::Mm as u32 {
            AccountMode::Mm
        } else {
            AccountMode::User
        }
    }
}

#[vtable]
impl MiscDevice for Context {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(Context {
                objects <- ObjectTable::new(),
                account_mode: Atomic::new(AccountMode::User as u32),
                process_cache <- new_mutex!(None),
                pci_groups <- new_mutex!(KVec::new()),
                change_process <- new_mutex!(()),
            }),
            GFP_KERNEL,
        )
    }

    /// Also serves 32-bit callers: the structures have one layout for both, so the default
    /// `compat_ptr_ioctl` calls this with the zero-extended pointer.
    fn ioctl(ctx: Pin<&Context>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        dispatch::dispatch(&ctx, cmd, arg)
    }

    /// Maps a vIOMMU's mmap region ([`super::viommu::mmap`]).
    fn mmap(ctx: Pin<&Context>, _file: &File, vma: &VmaNew) -> Result {
        super::viommu::mmap(&ctx, vma)
    }
}

/// `IOMMU_OPTION`.
pub(crate) fn ioctl_option(ctx: &Context, ucmd: &mut Ucmd<'_>) -> Result {
    let mut cmd = IommuOption::read(ucmd.bytes());
    if cmd.reserved != 0 {
        return refuse!(
            EOPNOTSUPP,
            "option: reserved field is {:#x}\n",
            cmd.reserved
        );
    }
    match cmd.option_id {
        IOMMU_OPTION_RLIMIT_MODE => option_rlimit_mode(ctx, &mut cmd)?,
        IOMMU_OPTION_HUGE_PAGES => ioas::option_huge_pages(ctx, &mut cmd)?,
        id => {
            return refuse!(EOPNOTSUPP, "option: unknown option {}\n", id);
        }
    }
    cmd.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_OPTION_RLIMIT_MODE`: per context, settable only before any object exists.
fn option_rlimit_mode(ctx: &Context, cmd: &mut IommuOption) -> Result {
    if cmd.object_id != 0 {
        return refuse!(
            EOPNOTSUPP,
            "option: rlimit mode is global, object_id must be 0\n"
        );
    }
    match cmd.op {
        IOMMU_OPTION_OP_GET => {
            cmd.val64 = u64::from(ctx.account_mode.load(Relaxed));
            Ok(())
        }
        IOMMU_OPTION_OP_SET => {
            if !ffi::capable_sys_resource() {
                return refuse!(
                    EPERM,
                    "option: setting rlimit mode needs CAP_SYS_RESOURCE\n"
                );
            }
            let mode = match cmd.val64 {
                0 => AccountMode::User,
                1 => AccountMode::Mm,
                v => {
                    return refuse!(EINVAL, "option: rlimit mode {} is not 0 or 1\n", v);
                }
            };
            ctx.objects.with_empty(|empty| {
                if !empty {
                    return refuse!(
                        EBUSY,
                        "option: rlimit mode cannot change once objects exist\n"
                    );
                }
                ctx.account_mode.store(mode as u32, Relaxed);
                Ok(())
            })
        }
        op => refuse!(EOPNOTSUPP, "option: unknown op {}\n", op),
    }
}
