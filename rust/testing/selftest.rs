// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_TEST_CMD`: the test interface, with the ABI of upstream iommufd's
//! `drivers/iommu/iommufd/iommufd_test.h` (Linux 7.3), so upstream's selftest can drive
//! `/dev/ioasid` too.
//!
//! It exists only when the module is loaded with `selftest=1`, which taints the kernel;
//! otherwise the ioctl number is unknown (`ENOTTY`). Implemented ops: ADD_RESERVED,
//! MOCK_DOMAIN, MOCK_DOMAIN_FLAGS, MOCK_DOMAIN_REPLACE, MD_CHECK_MAP, MD_CHECK_REFS,
//! CREATE_ACCESS, DESTROY_ACCESS_PAGES, ACCESS_PAGES, ACCESS_RW, SET_TEMP_MEMORY_LIMIT,
//! ACCESS_REPLACE_IOAS, MD_CHECK_IOTLB, DEV_CHECK_CACHE, DIRTY, TRIGGER_IOPF,
//! TRIGGER_VEVENT and the PASID ops ([`super::pasid`]). The dma-buf ops return
//! `EOPNOTSUPP`.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::{
    dispatch::{Pending, Ucmd},
    error::refuse,
    ffi,
    hw::{
        mock::{MockDomain, MOCK_PAGE_SIZE},
        Domain, NestedDomain,
    },
    iopt::pages::{BATCH_MEMORY_LIMIT, PAGE_SIZE},
    iopt::Ioas,
    objects::{
        access::Access,
        context::Context,
        device::{DeviceRef, MockDevice},
        hwpt::Hwpt,
        Object,
    },
    uapi::iova::Span,
    uapi::{
        IommuTestCmd, TestAccessPages, TestAccessReplaceIoas, TestAccessRw, TestCheckDevCache,
        TestCheckIotlb, TestCheckMap, TestCheckRefs, TestCreateAccess, TestDestroyAccessPages,
        TestDirty, TestMemoryLimit, TestMockDma, TestMockDomain, TestMockDomainReplace,
        TestTriggerIopf,
    },
};
use kernel::{
    alloc::KVVec,
    prelude::*,
    sync::{atomic::Relaxed, Arc},
    uaccess::{UserPtr, UserSlice},
};

const OP_ADD_RESERVED: u32 = 1;
const OP_MOCK_DOMAIN: u32 = 2;
const OP_MD_CHECK_MAP: u32 = 3;
const OP_MD_CHECK_REFS: u32 = 4;
const OP_CREATE_ACCESS: u32 = 5;
const OP_DESTROY_ACCESS_PAGES: u32 = 6;
const OP_ACCESS_PAGES: u32 = 7;
const OP_ACCESS_RW: u32 = 8;
const OP_SET_TEMP_MEMORY_LIMIT: u32 = 9;
const OP_MOCK_DOMAIN_REPLACE: u32 = 10;
const OP_ACCESS_REPLACE_IOAS: u32 = 11;
const OP_MOCK_DOMAIN_FLAGS: u32 = 12;
const OP_DIRTY: u32 = 13;
const OP_MD_CHECK_IOTLB: u32 = 14;
const OP_TRIGGER_IOPF: u32 = 15;
const OP_DEV_CHECK_CACHE: u32 = 16;
const OP_TRIGGER_VEVENT: u32 = 17;
/// `IOMMU_VEVENTQ_TYPE_SELFTEST`: the mock vIOMMU's event type.
const VEVENTQ_TYPE_SELFTEST: u32 = 0xbeef_beef;
/// ioasid's own op (beyond upstream's numbers): DMA by a mock device through its domain.
const IOASID_TEST_OP_MOCK_DMA: u32 = 0x10000;
/// `IOASID_TEST_OP_MOCK_DMA` flag: write into memory.
const MOCK_DMA_WRITE: u32 = 1 << 0;
/// `IOASID_TEST_OP_MOCK_DMA` flag: the DMA is tagged with PASID `pasid`.
const MOCK_DMA_PASID: u32 = 1 << 1;

/// `MOCK_FLAGS_DEVICE_*` this mock knows.
use crate::objects::device::{MOCK_FLAGS_DEVICE_NO_DIRTY, MOCK_FLAGS_DEVICE_PASID};
/// `MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES`.
const ACCESS_CREATE_NEEDS_PIN_PAGES: u32 = 1 << 0;
/// `MOCK_FLAGS_ACCESS_WRITE`.
const ACCESS_WRITE: u32 = 1 << 0;
/// `MOCK_ACCESS_RW_WRITE` and `MOCK_ACCESS_RW_SLOW_PATH` (every copy here takes the
/// pinning path, so "slow path" changes nothing).
const ACCESS_RW_WRITE: u32 = 1 << 0;
const ACCESS_RW_SLOW_PATH: u32 = 1 << 2;
/// Largest range ACCESS_PAGES and ACCESS_RW take, as upstream.
const ACCESS_MAX: u64 = 16 * 1024 * 1024;

/// Whether the test interface is enabled (module parameter `selftest`).
pub(crate) fn enabled() -> bool {
    crate::module_parameters::selftest.value()
}

/// `IOMMU_TEST_CMD`.
pub(crate) fn ioctl_test_cmd<'a>(ctx: &'a Context, ucmd: &mut Ucmd<'a>) -> Result {
    let cmd = IommuTestCmd::read(ucmd.bytes());
    match cmd.op {
        OP_ADD_RESERVED => {
            if cmd.length == 0 {
                return refuse!(EINVAL, "test add_reserved: zero length\n");
            }
            let span = Span::from_len(cmd.start, cmd.length).map_err(|_| EOVERFLOW)?;
            ctx.objects()
                .get_as::<Arc<Ioas>>(cmd.id)?
                .add_reserved(span)
        }
        OP_MOCK_DOMAIN => mock_domain(ctx, ucmd, cmd.id, 0),
        OP_MOCK_DOMAIN_FLAGS => {
            let flags = TestMockDomain::read(ucmd.bytes()).dev_flags;
            mock_domain(ctx, ucmd, cmd.id, flags)
        }
        OP_MOCK_DOMAIN_REPLACE => {
            let pt_id = TestMockDomainReplace::read(ucmd.bytes()).pt_id;
            mock_domain_replace(ctx, ucmd, cmd.id, pt_id)
        }
        OP_MD_CHECK_MAP => {
            let c = TestCheckMap::read(ucmd.bytes());
            md_check_map(ctx, cmd.id, c.iova, c.length, c.uptr)
        }
        OP_MD_CHECK_REFS => {
            let c = TestCheckRefs::read(ucmd.bytes());
            md_check_refs(c.length, c.uptr, c.refs)
        }
        OP_CREATE_ACCESS => {
            let flags = TestCreateAccess::read(ucmd.bytes()).flags;
            create_access(ctx, ucmd, cmd.id, flags)
        }
        OP_ACCESS_REPLACE_IOAS => {
            let access = ffi::access_from_fd(cmd.id)?;
            let ioas_id = TestAccessReplaceIoas::read(ucmd.bytes()).ioas_id;
            access.replace_ioas(ctx.objects().get_as::<Arc<Ioas>>(ioas_id)?.clone())
        }
        OP_DESTROY_ACCESS_PAGES => {
            let id = TestDestroyAccessPages::read(ucmd.bytes()).access_pages_id;
            ffi::access_from_fd(cmd.id)?.unpin(id)
        }
        OP_ACCESS_PAGES => access_pages(ucmd, cmd.id),
        OP_ACCESS_RW => access_rw(cmd.id, TestAccessRw::read(ucmd.bytes())),
        OP_SET_TEMP_MEMORY_LIMIT => {
            let limit = TestMemoryLimit::read(ucmd.bytes()).limit;
            // At least one page pointer per pinning call.
            if (limit as usize) < size_of::<usize>() + size_of::<u32>() {
                return refuse!(EINVAL, "test memory limit: {} is too small\n", limit);
            }
            BATCH_MEMORY_LIMIT.store(limit, Relaxed);
            Ok(())
        }
        OP_DIRTY => mock_dirty(ctx, ucmd, cmd.id),
        OP_MD_CHECK_IOTLB => {
            let c = TestCheckIotlb::read(ucmd.bytes());
            md_check_iotlb(ctx, cmd.id, c.id, c.iotlb)
        }
        OP_DEV_CHECK_CACHE => {
            let dev = mock_device(ctx, cmd.id)?;
            let c = TestCheckDevCache::read(ucmd.bytes());
            match dev.cache(c.id as usize) {
                Some(v) if v == c.cache => Ok(()),
                Some(_) => Err(EINVAL),
                None => Err(EINVAL),
            }
        }
        OP_TRIGGER_IOPF => trigger_iopf(ctx, TestTriggerIopf::read(ucmd.bytes())),
        OP_TRIGGER_VEVENT => trigger_vevent(ctx, TestTriggerIopf::read(ucmd.bytes()).dev_id),
        super::pasid::OP_PASID_ATTACH
        | super::pasid::OP_PASID_REPLACE
        | super::pasid::OP_PASID_DETACH
        | super::pasid::OP_PASID_CHECK_HWPT => super::pasid::op(ctx, ucmd, cmd.op, cmd.id),
        IOASID_TEST_OP_MOCK_DMA => mock_dma(ctx, cmd.id, TestMockDma::read(ucmd.bytes())),
        op => refuse!(EOPNOTSUPP, "test: op {} is not implemented\n", op),
    }
}

/// The mock device of object `id` (its test object or its device ID).
fn mock_device(ctx: &Context, id: u32) -> Result<Arc<MockDevice>> {
    match &*ctx.objects().get(id)? {
        Object::Device(DeviceRef::Mock(d)) | Object::Selftest(d) => Ok(d.clone()),
        _ => refuse!(EINVAL, "test: object {} is not a mock device\n", id),
    }
}

/// `IOMMU_TEST_OP_MOCK_DOMAIN(_FLAGS)`: a new mock device bound to the context and
/// attached to `pt_id`. Its two objects become visible with the reply (the device first),
/// and are torn down if the reply cannot be written.
fn mock_domain<'a>(ctx: &'a Context, ucmd: &mut Ucmd<'a>, pt_id: u32, flags: u32) -> Result {
    if flags & !(MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_PASID) != 0 {
        return refuse!(EINVAL, "mock_domain: unknown device flags {:#x}\n", flags);
    }
    let dev = MockDevice::new(flags)?;
    let objects = ctx.objects();
    let stdev = objects.add(Object::Selftest(dev.clone()))?;
    let idev = objects.add(Object::Device(DeviceRef::Mock(dev.clone())))?;
    dev.set_idev_id(idev.id());
    // From here on, dropping `stdev` unbinds and detaches the device.
    let hwpt_id = dev.attach_rid(ctx, pt_id)?;
    let mut out = TestMockDomain::read(ucmd.bytes());
    out.out_stdev_id = stdev.id();
    out.out_hwpt_id = hwpt_id;
    out.out_idev_id = idev.id();
    out.write(ucmd.bytes_mut());
    ucmd.publish_on_reply(stdev)?;
    ucmd.publish_on_reply(idev)
}

/// `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE`: moves mock device `stdev_id` to `pt_id`.
fn mock_domain_replace(ctx: &Context, ucmd: &mut Ucmd<'_>, stdev_id: u32, pt_id: u32) -> Result {
    // As upstream: no such mock device object is ENOENT.
    let dev = ctx.objects().get_as::<Arc<MockDevice>>(stdev_id)?;
    if dev.hwpt_id() == Some(pt_id) {
        return Ok(());
    }
    let hwpt_id = dev.attach_rid(ctx, pt_id)?;
    TestMockDomainReplace { pt_id: hwpt_id }.write(ucmd.bytes_mut());
    Ok(())
}

/// The mock domain of HWPT `id`.
fn mock_of(ctx: &Context, id: u32) -> Result<Arc<MockDomain>> {
    let hwpt = match &*ctx.objects().get(id)? {
        Object::Hwpt(h) => h.clone(),
        Object::Selftest(d) | Object::Device(DeviceRef::Mock(d)) => {
            let hid = d.hwpt_id().ok_or(EINVAL)?;
            ctx.objects().get_as::<Arc<Hwpt>>(hid)?.clone()
        }
        _ => return Err(EINVAL),
    };
    if hwpt.nested_domain().is_some() {
        return refuse!(
            EINVAL,
            "test: HWPT of {} is nested, not a mock paging domain\n",
            id
        );
    }
    match hwpt.domain() {
        Domain::Mock(m) => Ok(m.clone()),
        Domain::Real(_) => Err(EINVAL),
    }
}

/// `IOMMU_TEST_OP_MD_CHECK_IOTLB`: entry `entry` of mock nested HWPT `id`'s IOTLB holds
/// `want`.
fn md_check_iotlb(ctx: &Context, id: u32, entry: u32, want: u32) -> Result {
    let hwpt = ctx.objects().get_as::<Arc<Hwpt>>(id)?;
    let Some(NestedDomain::Mock(nested)) = hwpt.nested_domain() else {
        return refuse!(ENOENT, "check_iotlb: HWPT {} is not nested\n", id);
    };
    match nested.iotlb(entry as usize) {
        Some(v) if v == want => Ok(()),
        Some(v) => refuse!(
            EINVAL,
            "check_iotlb: entry {} holds {:#x}, not {:#x}\n",
            entry,
            v,
            want
        ),
        None => refuse!(EINVAL, "check_iotlb: no entry {}\n", entry),
    }
}

/// `IOMMU_TEST_OP_MD_CHECK_MAP`: every mock page of `[iova, iova + length)` translates to
/// the physical address behind the same offset of `uptr`.
fn md_check_map(ctx: &Context, id: u32, iova: u64, length: u64, uptr: u64) -> Result {
    let mock = mock_of(ctx, id)?;
    let ps = MOCK_PAGE_SIZE;
    if iova % ps != 0 || length % ps != 0 || uptr % ps != 0 || uptr.checked_add(length).is_none() {
        return Err(EINVAL);
    }
    let mut off = 0;
    while off < length {
        let want = ffi::user_phys(uptr + off)?;
        let got = crate::hw::HwDomain::iova_to_phys(&*mock, iova + off);
        if got != Some(want) {
            return refuse!(
                EINVAL,
                "check_map: IOVA {:#x} gives {:?}, user memory is at {:#x}\n",
                iova + off,
                got,
                want
            );
        }
        off += ps;
    }
    Ok(())
}

/// `IOMMU_TEST_OP_MD_CHECK_REFS`: every small page of `[uptr, uptr + length)` has `refs`
/// pins.
fn md_check_refs(length: u64, uptr: u64, refs: u32) -> Result {
    if length % PAGE_SIZE != 0 || uptr % PAGE_SIZE != 0 || uptr.checked_add(length).is_none() {
        return Err(EINVAL);
    }
    let mut off = 0;
    while off < length {
        if let Some(pins) = ffi::user_page_pins(uptr + off)? {
            if pins != u64::from(refs) {
                return refuse!(
                    EIO,
                    "check_refs: page at {:#x} has {} pins, not {}\n",
                    uptr + off,
                    pins,
                    refs
                );
            }
        }
        off += PAGE_SIZE;
    }
    Ok(())
}

/// `IOMMU_TEST_OP_CREATE_ACCESS`: a new access to IOAS `ioas_id`, as a file.
fn create_access(ctx: &Context, ucmd: &mut Ucmd<'_>, ioas_id: u32, flags: u32) -> Result {
    if flags & !ACCESS_CREATE_NEEDS_PIN_PAGES != 0 {
        return Err(EOPNOTSUPP);
    }
    let ioas = ctx.objects().get_as::<Arc<Ioas>>(ioas_id)?;
    let access = Access::new(ioas.clone(), flags & ACCESS_CREATE_NEEDS_PIN_PAGES != 0)?;
    let file = match ffi::NewAccessFile::new(access.clone()) {
        Ok(f) => f,
        Err(e) => {
            access.close();
            return Err(e);
        }
    };
    let mut out = TestCreateAccess::read(ucmd.bytes());
    out.out_access_fd = file.fd() as u32;
    out.write(ucmd.bytes_mut());
    // The reply is written after this handler returns; the descriptor must not leak if
    // that fails, so it is installed only on success of the whole ioctl.
    ucmd.on_reply(InstallOnReply(Some(file)))
}

/// Installs a new access file's descriptor once the reply is written; dropping it
/// without that releases the descriptor and the file.
struct InstallOnReply(Option<ffi::NewAccessFile>);

impl Pending for InstallOnReply {
    fn commit(&mut self) {
        if let Some(file) = self.0.take() {
            file.install();
        }
    }
}

/// Pages an access pinned for `IOMMU_TEST_OP_ACCESS_PAGES`, unpinned again unless the
/// reply (their ID) reached the caller.
struct UnpinUnlessReplied {
    access: Arc<Access>,
    id: u32,
    replied: bool,
}

impl Pending for UnpinUnlessReplied {
    fn commit(&mut self) {
        self.replied = true;
    }
}

impl Drop for UnpinUnlessReplied {
    fn drop(&mut self) {
        if !self.replied {
            // Nobody knows the ID: nobody else can have unpinned them.
            let _ = self.access.unpin(self.id);
        }
    }
}

/// `IOMMU_TEST_OP_ACCESS_PAGES`: pins a range through an access and, if `uptr` is given,
/// checks the pages are those behind `uptr`.
fn access_pages(ucmd: &mut Ucmd<'_>, fd: u32) -> Result {
    let mut cmd = TestAccessPages::read(ucmd.bytes());
    let (flags, iova, length, uptr) = (cmd.flags, cmd.iova, cmd.length, cmd.uptr);
    if length > ACCESS_MAX {
        return Err(ENOMEM);
    }
    if flags & !ACCESS_WRITE != 0 {
        return Err(EOPNOTSUPP);
    }
    let access = ffi::access_from_fd(fd)?;
    let range = Span::from_len(iova, length).map_err(|_| EINVAL)?;
    let mut user = uptr.wrapping_sub(iova % PAGE_SIZE);
    let id = access.pin(range, flags & ACCESS_WRITE != 0, |page| {
        if uptr != 0 {
            let want = ffi::user_phys(user)?;
            if want != page.phys() {
                return refuse!(
                    EBADE,
                    "access_pages: page at {:#x} is not the one pinned\n",
                    user
                );
            }
            user = user.wrapping_add(PAGE_SIZE);
        }
        Ok(())
    })?;
    cmd.out_access_pages_id = id;
    cmd.write(ucmd.bytes_mut());
    ucmd.on_reply(UnpinUnlessReplied {
        access,
        id,
        replied: false,
    })
}

/// `IOMMU_TEST_OP_TRIGGER_IOPF`: mock device `dev_id` (its device object) raises one page
/// request, the last of its group, for `pasid` (`IOMMU_NO_PASID`, 0: none) as upstream's
/// mock does; it goes to the fault queue of the device's IOPF-capable HWPT, if any
/// ([`MockDevice::page_request`]).
fn trigger_iopf(ctx: &Context, t: TestTriggerIopf) -> Result {
    use crate::{objects::fault::PageRequest, uapi::eventq::PGFAULT_PASID_VALID};
    let dev = ctx.objects().get_as::<DeviceRef>(t.dev_id)?;
    let DeviceRef::Mock(mock) = &*dev else {
        return refuse!(EINVAL, "trigger_iopf: {} is not a mock device\n", t.dev_id);
    };
    let pasid_valid = t.pasid != 0;
    let req = PageRequest {
        flags: if pasid_valid { PGFAULT_PASID_VALID } else { 0 },
        pasid: t.pasid,
        grpid: t.grpid,
        perm: t.perm,
        addr: t.addr,
    };
    mock.page_request(req, pasid_valid)
}

/// `IOMMU_TEST_OP_TRIGGER_VEVENT`: mock device `dev_id` (its device object) reports an
/// event of upstream's mock type (`struct iommu_viommu_event_selftest`: its virtual ID) to
/// the vIOMMU of its vDEVICE: `ENOENT` without a vDEVICE, `EOPNOTSUPP` when the vIOMMU
/// has no vEVENTQ of that type.
fn trigger_vevent(ctx: &Context, dev_id: u32) -> Result {
    use crate::objects::vdevice::Vdevice;
    let dev = ctx.objects().get_as::<DeviceRef>(dev_id)?;
    let DeviceRef::Mock(mock) = &*dev else {
        return refuse!(EINVAL, "trigger_vevent: {} is not a mock device\n", dev_id);
    };
    let Some(link) = mock.vdev_link() else {
        return refuse!(ENOENT, "trigger_vevent: device {} has no vDEVICE\n", dev_id);
    };
    let vdev = ctx.objects().get_as::<Arc<Vdevice>>(link.id)?;
    let viommu = vdev.viommu();
    let Some(virt_id) = viommu.virt_id_of(link.vdev) else {
        return refuse!(ENOENT, "trigger_vevent: the vDEVICE is going\n");
    };
    viommu.report_event(VEVENTQ_TYPE_SELFTEST, &(virt_id as u32).to_ne_bytes())
}

/// `IOASID_TEST_OP_MOCK_DMA`: mock device `id` reads or writes `length` bytes at `iova`
/// through the domain of its RID or (`MOCK_DMA_PASID`) of PASID `pasid`, to or from the
/// user buffer at `uptr` (`access_rw`'s shape and the PASID).
fn mock_dma(ctx: &Context, id: u32, op: TestMockDma) -> Result {
    let rw = TestAccessRw {
        iova: op.iova,
        length: op.length,
        uptr: op.uptr,
        flags: op.flags,
    };
    let write = check_rw(&rw, MOCK_DMA_WRITE, MOCK_DMA_PASID)?;
    let pasid = (op.flags & MOCK_DMA_PASID != 0).then_some(op.pasid);
    let dev = mock_device(ctx, id)?;
    through_user_buffer(&rw, write, |buf| {
        dev.dma(pasid, op.iova, buf, write).or_else(|e| {
            refuse!(
                e,
                "mock DMA at {:#x}+{:#x} (PASID {:?}) faulted: {:?}\n",
                op.iova,
                op.length,
                pasid,
                e
            )
        })
    })
}

/// Checks the arguments of a copy between IOVA memory and a user buffer: `ENOMEM` above
/// [`ACCESS_MAX`] bytes, `EOPNOTSUPP` for flags other than `write_flag` and
/// `other_flags`. Returns whether the copy writes IOVA memory (`write_flag` is set).
fn check_rw(op: &TestAccessRw, write_flag: u32, other_flags: u32) -> Result<bool> {
    if op.length > ACCESS_MAX {
        return Err(ENOMEM);
    }
    if op.flags & !(write_flag | other_flags) != 0 {
        return Err(EOPNOTSUPP);
    }
    Ok(op.flags & write_flag != 0)
}

/// Runs `copy` on a kernel buffer of `op.length` bytes that holds the user buffer at
/// `op.uptr` before (`to_memory`: the copy writes IOVA memory from it) or receives it
/// after (the copy reads IOVA memory into it).
fn through_user_buffer(
    op: &TestAccessRw,
    to_memory: bool,
    copy: impl FnOnce(&mut [u8]) -> Result,
) -> Result {
    let length = op.length as usize;
    // Short copies (upstream's access tests make thousands of them) use the stack: an
    // allocation costs more than the rest of the copy under the debug kernels.
    let mut small = [0u8; SMALL_COPY];
    let mut large;
    let buf = if length <= SMALL_COPY {
        // PANIC: `length <= SMALL_COPY`.
        &mut small[..length]
    } else {
        large = KVVec::from_elem(0u8, length, GFP_KERNEL)?;
        &mut large[..]
    };
    let (mut reader, mut writer) =
        UserSlice::new(UserPtr::from_addr(op.uptr as usize), length).reader_writer();
    if to_memory {
        reader.read_slice(buf)?;
    }
    copy(buf)?;
    if !to_memory {
        writer.write_slice(buf)?;
    }
    Ok(())
}

/// Copies up to this many bytes go through a buffer on the stack.
const SMALL_COPY: usize = 128;

/// `IOMMU_TEST_OP_DIRTY`: for each set bit `i` of the user's bitmap, marks the IOPTE
/// that maps `iova + i * page_size` in mock paging HWPT `id` dirty, as a DMA write would;
/// replies with the number of set bits.
fn mock_dirty(ctx: &Context, ucmd: &mut Ucmd<'_>, id: u32) -> Result {
    let mut op = TestDirty::read(ucmd.bytes());
    let ps = op.page_size;
    if ps == 0 || op.length == 0 || op.iova % ps != 0 || op.length % ps != 0 || op.uptr == 0 {
        return refuse!(EINVAL, "test dirty: bad range, page size or bitmap\n");
    }
    let nbits = op.length / ps;
    // As upstream: at most a 16 MiB bitmap.
    if nbits > 16 * 1024 * 1024 * 8 {
        return refuse!(EOVERFLOW, "test dirty: {} bits are too many\n", nbits);
    }
    let mock = mock_of(ctx, id)?;
    if !mock.tracking() {
        return refuse!(EINVAL, "test dirty: dirty tracking is off\n");
    }
    let mut reader = UserSlice::new(
        UserPtr::from_addr(op.uptr as usize),
        nbits.div_ceil(8) as usize,
    )
    .reader();
    let mut chunk = [0u8; 256];
    let (mut bit, mut count) = (0u64, 0u64);
    while !reader.is_empty() {
        let n = reader.len().min(chunk.len());
        // PANIC: `n <= chunk.len()`.
        reader.read_slice(&mut chunk[..n])?;
        for byte in &chunk[..n] {
            for k in 0..8 {
                if bit + k < nbits && byte & (1 << k) != 0 {
                    mock.set_dirty(op.iova + (bit + k) * ps)?;
                    count += 1;
                }
            }
            bit += 8;
        }
    }
    op.out_nr_dirty = count;
    op.write(ucmd.bytes_mut());
    Ok(())
}

/// `IOMMU_TEST_OP_ACCESS_RW`: copies through an access.
fn access_rw(fd: u32, op: TestAccessRw) -> Result {
    let write = check_rw(&op, ACCESS_RW_WRITE, ACCESS_RW_SLOW_PATH)?;
    let access = ffi::access_from_fd(fd)?;
    through_user_buffer(&op, write, |buf| access.rw(op.iova, buf, write))
}
