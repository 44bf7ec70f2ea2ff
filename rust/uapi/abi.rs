// SPDX-License-Identifier: GPL-2.0

//! Rust mirrors of the structures of `include/uapi/linux/ioasid.h`.
//!
//! Pure logic: depends only on `core`, compiled into the module and unit-tested on the host,
//! where `tests/host` also checks every size and offset against the C header. Each mirror
//! asserts its size and field offsets at compile time, and converts from and to the kernel
//! copy of the ioctl argument (`dispatch::Ucmd`) field by field, so no `unsafe` transmute is
//! needed and a short buffer can never cause a panic (missing bytes read as zero).

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

/// A field type of a uAPI structure: native-endian integers.
pub(crate) trait Field: Sized + Copy {
    /// Reads the field at `off`, or zero if `b` is too short.
    fn get(b: &[u8], off: usize) -> Self;
    /// Writes the field at `off`, if `b` is long enough.
    fn put(self, b: &mut [u8], off: usize);
}

macro_rules! impl_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn get(b: &[u8], off: usize) -> Self {
                let mut a = [0u8; core::mem::size_of::<$t>()];
                if let Some(s) = b.get(off..off + a.len()) {
                    a.copy_from_slice(s);
                }
                <$t>::from_ne_bytes(a)
            }
            fn put(self, b: &mut [u8], off: usize) {
                if let Some(d) = b.get_mut(off..off + core::mem::size_of::<$t>()) {
                    d.copy_from_slice(&self.to_ne_bytes());
                }
            }
        }
    )*};
}
impl_field!(u8, u16, u32, i32, u64);

/// Byte arrays (`__u8 __reserved[3]`).
impl<const N: usize> Field for [u8; N] {
    fn get(b: &[u8], off: usize) -> Self {
        let mut a = [0u8; N];
        if let Some(s) = b.get(off..off + N) {
            a.copy_from_slice(s);
        }
        a
    }
    fn put(self, b: &mut [u8], off: usize) {
        if let Some(d) = b.get_mut(off..off + N) {
            d.copy_from_slice(&self);
        }
    }
}

/// The size of the field that `project` selects; [`offsetofend!`]'s helper.
pub(crate) const fn field_size<T, F>(_project: fn(&T) -> &F) -> usize {
    core::mem::size_of::<F>()
}

/// `offsetofend(T, field)`: where `field` of structure `T` ends, in a const context. The
/// ioctl table takes each ioctl's minimum size from it, as iommufd's `IOCTL_OP` does.
macro_rules! offsetofend {
    ($t:ty, $field:ident) => {
        core::mem::offset_of!($t, $field) + $crate::uapi::field_size(|s: &$t| &s.$field)
    };
}
pub(crate) use offsetofend;

/// Declares a mirror: the struct, its compile-time layout checks against the sizes and
/// offsets of the C header, and its conversions. Where a field ends (the minimum `size` of
/// an ioctl whose last mandatory field it is) is [`offsetofend!`].
macro_rules! uapi_struct {
    ($(#[$m:meta])* $name:ident size $size:literal {
        $($(#[$fm:meta])* $field:ident: $ty:ty = $off:literal),* $(,)?
    }) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub(crate) struct $name {
            $($(#[$fm])* pub(crate) $field: $ty,)*
        }

        const _: () = {
            assert!(core::mem::size_of::<$name>() == $size);
            $(assert!(core::mem::offset_of!($name, $field) == $off);)*
            // Where each field ends, as the ioctl table computes it.
            $(assert!(
                $crate::uapi::offsetofend!($name, $field) == $off + core::mem::size_of::<$ty>()
            );)*
        };

        // Not every structure needs every conversion (input-only structures are never
        // written back), and `expect` cannot be used in code generated for all of them.
        #[allow(dead_code)]
        impl $name {
            /// Size of the structure the kernel knows.
            pub(crate) const SIZE: usize = $size;

            /// Reads the structure from its bytes.
            pub(crate) fn read(b: &[u8]) -> Self {
                Self { $($field: <$ty as Field>::get(b, $off),)* }
            }

            /// Writes the structure to its bytes.
            pub(crate) fn write(&self, b: &mut [u8]) {
                $(<$ty as Field>::put(self.$field, b, $off);)*
            }

            /// Field names and offsets, for the host test against the C header.
            #[cfg(test)]
            pub(crate) const LAYOUT: &'static [(&'static str, usize)] =
                &[$((stringify!($field), $off)),*];

            /// The mirror's name, and field names with [`offsetofend!`] of each, for the
            /// host test of the ioctl table.
            #[cfg(test)]
            pub(crate) const NAME: &'static str = stringify!($name);
            #[cfg(test)]
            pub(crate) const ENDS: &'static [(&'static str, usize)] =
                &[$((stringify!($field), $crate::uapi::offsetofend!($name, $field))),*];
        }
    };
}
pub(crate) use uapi_struct;

uapi_struct! {
    /// `struct iommu_destroy`: destroy any object by ID.
    IommuDestroy size 8 {
        size: u32 = 0,
        id: u32 = 4,
    }
}

uapi_struct! {
    /// `struct iommu_ioas_alloc`: allocate an IOAS.
    IommuIoasAlloc size 12 {
        size: u32 = 0,
        flags: u32 = 4,
        out_ioas_id: u32 = 8,
    }
}

uapi_struct! {
    /// `struct iommu_iova_range`: one closed IOVA interval.
    IommuIovaRange size 16 {
        start: u64 = 0,
        last: u64 = 8,
    }
}

uapi_struct! {
    /// `struct iommu_ioas_iova_ranges`: the usable IOVA ranges of an IOAS.
    IommuIoasIovaRanges size 32 {
        size: u32 = 0,
        ioas_id: u32 = 4,
        num_iovas: u32 = 8,
        reserved: u32 = 12,
        allowed_iovas: u64 = 16,
        out_iova_alignment: u64 = 24,
    }
}

uapi_struct! {
    /// `struct iommu_ioas_allow_iovas`: restrict where the allocator may place mappings.
    IommuIoasAllowIovas size 24 {
        size: u32 = 0,
        ioas_id: u32 = 4,
        num_iovas: u32 = 8,
        reserved: u32 = 12,
        allowed_iovas: u64 = 16,
    }
}

uapi_struct! {
    /// `struct iommu_ioas_map`: map user memory.
    IommuIoasMap size 40 {
        size: u32 = 0,
        flags: u32 = 4,
        ioas_id: u32 = 8,
        reserved: u32 = 12,
        user_va: u64 = 16,
        length: u64 = 24,
        iova: u64 = 32,
    }
}

uapi_struct! {
    /// `struct iommu_ioas_map_file`: map part of a memfd.
    IommuIoasMapFile size 40 {
        size: u32 = 0,
        flags: u32 = 4,
        ioas_id: u32 = 8,
        fd: i32 = 12,
        start: u64 = 16,
        length: u64 = 24,
        iova: u64 = 32,
    }
}

uapi_struct! {
    /// `struct iommu_ioas_copy`: map memory already mapped in another IOAS.
    IommuIoasCopy size 40 {
        size: u32 = 0,
        flags: u32 = 4,
        dst_ioas_id: u32 = 8,
        src_ioas_id: u32 = 12,
        length: u64 = 16,
        dst_iova: u64 = 24,
        src_iova: u64 = 32,
    }
}

uapi_struct! {
    /// `struct iommu_ioas_unmap`: unmap an IOVA range.
    IommuIoasUnmap size 24 {
        size: u32 = 0,
        ioas_id: u32 = 4,
        iova: u64 = 8,
        length: u64 = 16,
    }
}

uapi_struct! {
    /// `struct iommu_option`: get or set an option.
    IommuOption size 24 {
        size: u32 = 0,
        option_id: u32 = 4,
        op: u16 = 8,
        reserved: u16 = 10,
        object_id: u32 = 12,
        val64: u64 = 16,
    }
}

// The test interface's mirrors (`IOMMU_TEST_CMD`), in their own file.
#[path = "test_abi.rs"]
mod test_abi;
pub(crate) use test_abi::*;

uapi_struct! {
    /// `struct iommu_hwpt_selftest` of `iommufd_test.h`: the mock's nested HWPT data
    /// (`IOMMU_HWPT_DATA_SELFTEST`).
    IommuHwptSelftest size 8 {
        iotlb: u32 = 0,
        pagetable_type: u32 = 4,
    }
}

uapi_struct! {
    /// `struct iommu_hwpt_invalidate_selftest` of `iommufd_test.h`: one entry of the mock's
    /// invalidation array (`IOMMU_HWPT_INVALIDATE_DATA_SELFTEST`).
    IommuHwptInvalidateSelftest size 8 {
        flags: u32 = 0,
        iotlb_id: u32 = 4,
    }
}

uapi_struct! {
    /// `struct ioasid_hwpt_mock_s1`: a mock nested HWPT with ioasid's own stage-1 table
    /// format (`IOASID_HWPT_DATA_MOCK_S1`, [`crate::uapi::mock_s1`]).
    IoasidHwptMockS1 size 16 {
        root: u64 = 0,
        flags: u32 = 8,
        reserved: u32 = 12,
    }
}

uapi_struct! {
    /// `struct ioasid_hwpt_invalidate_mock_s1`: one invalidation entry for it
    /// (`IOASID_HWPT_INVALIDATE_DATA_MOCK_S1`).
    IoasidHwptInvalidateMockS1 size 24 {
        iova: u64 = 0,
        length: u64 = 8,
        flags: u32 = 16,
        reserved: u32 = 20,
    }
}

uapi_struct! {
    /// `struct iommu_hw_info`: the IOMMU's information about a device.
    IommuHwInfo size 40 {
        size: u32 = 0,
        flags: u32 = 4,
        dev_id: u32 = 8,
        data_len: u32 = 12,
        data_uptr: u64 = 16,
        out_data_type: u32 = 24,
        out_max_pasid_log2: u8 = 28,
        reserved: [u8; 3] = 29,
        out_capabilities: u64 = 32,
    }
}

uapi_struct! {
    /// `struct iommu_hwpt_alloc`: allocate a hardware page table.
    IommuHwptAlloc size 48 {
        size: u32 = 0,
        flags: u32 = 4,
        dev_id: u32 = 8,
        pt_id: u32 = 12,
        out_hwpt_id: u32 = 16,
        reserved: u32 = 20,
        data_type: u32 = 24,
        data_len: u32 = 28,
        data_uptr: u64 = 32,
        fault_id: u32 = 40,
        reserved2: u32 = 44,
    }
}

uapi_struct! {
    /// `struct iommu_hwpt_invalidate`: invalidate a nested HWPT's caches with an array of
    /// driver-specific entries.
    IommuHwptInvalidate size 32 {
        size: u32 = 0,
        hwpt_id: u32 = 4,
        data_uptr: u64 = 8,
        data_type: u32 = 16,
        entry_len: u32 = 20,
        entry_num: u32 = 24,
        reserved: u32 = 28,
    }
}

uapi_struct! {
    /// `struct iommu_hwpt_set_dirty_tracking`: start or stop dirty tracking of a paging
    /// HWPT.
    IommuHwptSetDirtyTracking size 16 {
        size: u32 = 0,
        flags: u32 = 4,
        hwpt_id: u32 = 8,
        reserved: u32 = 12,
    }
}

uapi_struct! {
    /// `struct iommu_viommu_alloc`: allocate a vIOMMU.
    IommuViommuAlloc size 40 {
        size: u32 = 0,
        flags: u32 = 4,
        r#type: u32 = 8,
        dev_id: u32 = 12,
        hwpt_id: u32 = 16,
        out_viommu_id: u32 = 20,
        data_len: u32 = 24,
        reserved: u32 = 28,
        data_uptr: u64 = 32,
    }
}

uapi_struct! {
    /// `struct iommu_hwpt_get_dirty_bitmap`: read (and clear) a paging HWPT's dirty IOVAs
    /// into a user bitmap.
    IommuHwptGetDirtyBitmap size 48 {
        size: u32 = 0,
        hwpt_id: u32 = 4,
        flags: u32 = 8,
        reserved: u32 = 12,
        iova: u64 = 16,
        length: u64 = 24,
        page_size: u64 = 32,
        data: u64 = 40,
    }
}

/// `IOMMU_HWPT_SET_DIRTY_TRACKING` flag: turn tracking on (off without it).
pub(crate) const IOMMU_HWPT_DIRTY_TRACKING_ENABLE: u32 = 1;
/// `IOMMU_HWPT_GET_DIRTY_BITMAP` flag: read without clearing the dirty state.
pub(crate) const IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR: u32 = 1;

uapi_struct! {
    /// `struct iommu_fault_alloc`: allocate a fault queue and its file.
    IommuFaultAlloc size 16 {
        size: u32 = 0,
        flags: u32 = 4,
        out_fault_id: u32 = 8,
        out_fault_fd: u32 = 12,
    }
}

uapi_struct! {
    /// `struct iommu_hwpt_pgfault`: one I/O page fault, as a fault queue's file reads it.
    IommuHwptPgfault size 40 {
        flags: u32 = 0,
        dev_id: u32 = 4,
        pasid: u32 = 8,
        grpid: u32 = 12,
        perm: u32 = 16,
        reserved: u32 = 20,
        addr: u64 = 24,
        length: u32 = 32,
        cookie: u32 = 36,
    }
}

uapi_struct! {
    /// `struct iommu_hwpt_page_response`: the response to a fault group, as a fault
    /// queue's file takes it.
    IommuHwptPageResponse size 8 {
        cookie: u32 = 0,
        code: u32 = 4,
    }
}

uapi_struct! {
    /// `struct iommu_veventq_alloc`: allocate a vEVENTQ and its file.
    IommuVeventqAlloc size 32 {
        size: u32 = 0,
        flags: u32 = 4,
        viommu_id: u32 = 8,
        r#type: u32 = 12,
        veventq_depth: u32 = 16,
        out_veventq_id: u32 = 20,
        out_veventq_fd: u32 = 24,
        reserved: u32 = 28,
    }
}

uapi_struct! {
    /// `struct iommufd_vevent_header`: the header of each event read from a vEVENTQ.
    IommufdVeventHeader size 8 {
        flags: u32 = 0,
        sequence: u32 = 4,
    }
}

uapi_struct! {
    /// `struct iommu_vdevice_alloc`: allocate a vDEVICE.
    IommuVdeviceAlloc size 24 {
        size: u32 = 0,
        viommu_id: u32 = 4,
        dev_id: u32 = 8,
        out_vdevice_id: u32 = 12,
        virt_id: u64 = 16,
    }
}

uapi_struct! {
    /// `struct iommu_hw_queue_alloc`: allocate a HW queue of a vIOMMU.
    IommuHwQueueAlloc size 40 {
        size: u32 = 0,
        flags: u32 = 4,
        viommu_id: u32 = 8,
        r#type: u32 = 12,
        index: u32 = 16,
        out_hw_queue_id: u32 = 20,
        nesting_parent_iova: u64 = 24,
        length: u64 = 32,
    }
}

uapi_struct! {
    /// `struct iommu_viommu_selftest` of `iommufd_test.h`: the mock vIOMMU's data.
    IommuViommuSelftest size 24 {
        in_data: u32 = 0,
        out_data: u32 = 4,
        out_mmap_offset: u64 = 8,
        out_mmap_length: u64 = 16,
    }
}

uapi_struct! {
    /// `struct iommu_viommu_invalidate_selftest` of `iommufd_test.h`: one entry of the
    /// mock vIOMMU's invalidation array (`IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST`).
    IommuViommuInvalidateSelftest size 12 {
        flags: u32 = 0,
        vdev_id: u32 = 4,
        cache_id: u32 = 8,
    }
}

uapi_struct! {
    /// `struct iommu_ioas_change_process`: charge all pins to the calling process.
    IommuIoasChangeProcess size 8 {
        size: u32 = 0,
        reserved: u32 = 4,
    }
}

uapi_struct! {
    /// `struct ioasid_device_bind`: bind the device opened as `dev_fd` to the context.
    IoasidDeviceBind size 16 {
        size: u32 = 0,
        flags: u32 = 4,
        dev_fd: i32 = 8,
        out_dev_id: u32 = 12,
    }
}

uapi_struct! {
    /// `struct ioasid_device_attach`: attach a bound device to an IOAS or a HWPT.
    IoasidDeviceAttach size 24 {
        size: u32 = 0,
        flags: u32 = 4,
        dev_id: u32 = 8,
        pt_id: u32 = 12,
        pasid: u32 = 16,
        reserved: u32 = 20,
    }
}

uapi_struct! {
    /// `struct ioasid_device_detach`: detach a bound device.
    IoasidDeviceDetach size 16 {
        size: u32 = 0,
        flags: u32 = 4,
        dev_id: u32 = 8,
        pasid: u32 = 12,
    }
}

/// `IOASID_DEVICE_ATTACH`/`DETACH` flag: the operation is on `pasid`.
pub(crate) const IOASID_DEVICE_PASID: u32 = 1 << 0;

uapi_struct! {
    /// `struct ioasid_pasid_alloc`: allocate a PASID from a device's space.
    IoasidPasidAlloc size 32 {
        size: u32 = 0,
        flags: u32 = 4,
        dev_id: u32 = 8,
        min_pasid: u32 = 12,
        max_pasid: u32 = 16,
        out_pasid: u32 = 20,
        out_id: u32 = 24,
        reserved: u32 = 28,
    }
}

uapi_struct! {
    /// `struct ioasid_pasid_free`: free an allocated PASID.
    IoasidPasidFree size 16 {
        size: u32 = 0,
        flags: u32 = 4,
        dev_id: u32 = 8,
        pasid: u32 = 12,
    }
}

/// `IOMMU_IOAS_MAP` and `IOMMU_IOAS_COPY` flags.
pub(crate) const IOMMU_IOAS_MAP_FIXED_IOVA: u32 = 1 << 0;
/// DMA may write.
pub(crate) const IOMMU_IOAS_MAP_WRITEABLE: u32 = 1 << 1;
/// DMA may read.
pub(crate) const IOMMU_IOAS_MAP_READABLE: u32 = 1 << 2;

/// `IOMMU_OPTION`: RLIMIT_MEMLOCK accounting mode (global).
pub(crate) const IOMMU_OPTION_RLIMIT_MODE: u32 = 0;
/// `IOMMU_OPTION`: combine contiguous pages into huge IOPTEs (per IOAS).
pub(crate) const IOMMU_OPTION_HUGE_PAGES: u32 = 1;
/// `IOMMU_OPTION`: set the value.
pub(crate) const IOMMU_OPTION_OP_SET: u16 = 0;
/// `IOMMU_OPTION`: get the value.
pub(crate) const IOMMU_OPTION_OP_GET: u16 = 1;

uapi_struct! {
    /// `struct iommu_vfio_ioas`: get, set or clear the IOAS of the VFIO compatibility ioctls.
    IommuVfioIoas size 12 {
        size: u32 = 0,
        ioas_id: u32 = 4,
        op: u16 = 8,
        reserved: u16 = 10,
    }
}

/// `IOMMU_VFIO_IOAS`: report the compatibility IOAS.
pub(crate) const IOMMU_VFIO_IOAS_GET: u16 = 0;
/// `IOMMU_VFIO_IOAS`: make `ioas_id` the compatibility IOAS.
pub(crate) const IOMMU_VFIO_IOAS_SET: u16 = 1;
/// `IOMMU_VFIO_IOAS`: forget the compatibility IOAS (it is not destroyed).
pub(crate) const IOMMU_VFIO_IOAS_CLEAR: u16 = 2;

/// Why the flags or values of `IOMMU_IOAS_MAP`, `MAP_FILE` or `COPY` were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapArgError {
    /// Unknown flags or a reserved field set (`EOPNOTSUPP`).
    NotSupported,
    /// An IOVA or length of `u64::MAX` (`EOVERFLOW`).
    Overflow,
    /// Neither readable nor writeable (`EINVAL`).
    NoAccess,
}

/// Checks the arguments the map-like ioctls share, in iommufd's order: flags and reserved
/// fields, then `u64::MAX` values in `values` (IOVAs and length), then the access flags.
/// Returns the fixed IOVA (`Some(fixed_iova)` with `IOMMU_IOAS_MAP_FIXED_IOVA`) and the
/// access flags.
///
/// # Errors
///
/// As [`MapArgError`].
pub(crate) fn check_map_args(
    flags: u32,
    reserved: u32,
    values: &[u64],
    fixed_iova: u64,
) -> Result<(Option<u64>, u32), MapArgError> {
    let access = IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;
    if flags & !(IOMMU_IOAS_MAP_FIXED_IOVA | access) != 0 || reserved != 0 {
        return Err(MapArgError::NotSupported);
    }
    if values.contains(&u64::MAX) {
        return Err(MapArgError::Overflow);
    }
    if flags & access == 0 {
        return Err(MapArgError::NoAccess);
    }
    let fixed = (flags & IOMMU_IOAS_MAP_FIXED_IOVA != 0).then_some(fixed_iova);
    Ok((fixed, flags & access))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_args_are_checked_in_iommufd_order() {
        let rw = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
        assert_eq!(
            check_map_args(rw | 8, 0, &[u64::MAX], 0),
            Err(MapArgError::NotSupported)
        );
        assert_eq!(
            check_map_args(rw, 1, &[0], 0),
            Err(MapArgError::NotSupported)
        );
        assert_eq!(
            check_map_args(0, 0, &[1, u64::MAX], 0),
            Err(MapArgError::Overflow)
        );
        assert_eq!(check_map_args(0, 0, &[1, 2], 0), Err(MapArgError::NoAccess));
        assert_eq!(check_map_args(rw, 0, &[1], 7), Ok((None, rw)));
        assert_eq!(
            check_map_args(
                IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA,
                0,
                &[1],
                7
            ),
            Ok((Some(7), IOMMU_IOAS_MAP_READABLE))
        );
    }

    #[test]
    fn read_write_round_trip() {
        let m = IommuIoasMap {
            size: 40,
            flags: 7,
            ioas_id: 3,
            reserved: 0,
            user_va: 0x1234_5678_9abc,
            length: 0x1000,
            iova: u64::MAX,
        };
        let mut b = [0u8; IommuIoasMap::SIZE];
        m.write(&mut b);
        assert_eq!(IommuIoasMap::read(&b), m);
    }

    #[test]
    fn short_buffers_read_as_zero_and_are_not_overrun() {
        let b = [0xffu8; 10];
        let o = IommuOption::read(&b);
        assert_eq!(
            (o.size, o.option_id, o.op, o.object_id),
            (u32::MAX, u32::MAX, 0xffff, 0)
        );
        let mut short = [0u8; 12];
        IommuOption::default().write(&mut short);
    }
}
