// SPDX-License-Identifier: GPL-2.0

//! The VFIO type1 container uAPI (`include/uapi/linux/vfio.h` of Linux 7.3) as ioasid
//! answers it on `/dev/ioasid`, like iommufd's `vfio_compat.c` on `/dev/iommu`: the
//! structure mirrors, the constants, and the pure arithmetic of the handlers in
//! `rust/objects/vfio_compat.rs` (the capability chain of `VFIO_IOMMU_GET_INFO`, its page
//! sizes, the cuts of a type1 v1 unmap).
//!
//! Pure logic: depends only on `core`, compiled into the module and unit-tested on the host,
//! where `tests/host` also checks the mirrors against upstream's `linux/vfio.h`.
//!
//! VFIO structures start with `argsz` instead of `size`: the kernel reads the fields it
//! needs (the mandatory part) whatever `argsz` says, refuses an `argsz` below them with
//! `EINVAL`, ignores the bytes past them, and writes back at most `argsz` bytes.

// Safe Rust only: `unsafe` lives in the FFI layer (`crate::ffi`).
#![deny(unsafe_code)]

use crate::uapi::{uapi_struct, Field};

/// `VFIO_API_VERSION`.
pub(crate) const VFIO_API_VERSION: isize = 0;
/// `VFIO_CHECK_EXTENSION`/`VFIO_SET_IOMMU`: type1 (unmap may cut mappings).
pub(crate) const VFIO_TYPE1_IOMMU: usize = 1;
/// Type1 v2 (unmap never cuts a mapping).
pub(crate) const VFIO_TYPE1V2_IOMMU: usize = 3;
/// Extension: the IOMMU enforces cache coherency of DMA.
pub(crate) const VFIO_DMA_CC_IOMMU: usize = 4;
/// Extension: `VFIO_DMA_UNMAP_FLAG_ALL`.
pub(crate) const VFIO_UNMAP_ALL: usize = 9;
/// ioasid's own IOMMU type (`IOASID_VFIO_IOMMU` of `ioasid.h`): a container served by
/// ioasid's VFIO backend, with type1 v2's API. "IOAS" in ASCII: far from VFIO's numbers,
/// which count up from 1.
pub(crate) const IOASID_VFIO_IOMMU: usize = 0x494f_4153;

/// `VFIO_DMA_MAP_FLAG_READ`: the device may read.
pub(crate) const VFIO_DMA_MAP_FLAG_READ: u32 = 1 << 0;
/// `VFIO_DMA_MAP_FLAG_WRITE`: the device may write.
pub(crate) const VFIO_DMA_MAP_FLAG_WRITE: u32 = 1 << 1;
/// `VFIO_DMA_UNMAP_FLAG_ALL`: unmap everything (`iova` and `size` must be 0).
pub(crate) const VFIO_DMA_UNMAP_FLAG_ALL: u32 = 1 << 1;

/// `VFIO_IOMMU_INFO_PGSIZES`: `iova_pgsizes` is valid.
pub(crate) const VFIO_IOMMU_INFO_PGSIZES: u32 = 1 << 0;
/// `VFIO_IOMMU_INFO_CAPS`: the reply has a capability chain.
pub(crate) const VFIO_IOMMU_INFO_CAPS: u32 = 1 << 1;
/// Capability ID of the usable IOVA ranges.
pub(crate) const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: u16 = 1;
/// Capability ID of the number of mappings still available.
pub(crate) const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL: u16 = 3;

uapi_struct! {
    /// `struct vfio_iommu_type1_info`: `VFIO_IOMMU_GET_INFO`.
    VfioIommuType1Info size 24 {
        argsz: u32 = 0,
        flags: u32 = 4,
        iova_pgsizes: u64 = 8,
        cap_offset: u32 = 16,
        pad: u32 = 20,
    }
}

uapi_struct! {
    /// `struct vfio_iommu_type1_dma_map`: `VFIO_IOMMU_MAP_DMA`.
    VfioIommuType1DmaMap size 32 {
        argsz: u32 = 0,
        flags: u32 = 4,
        vaddr: u64 = 8,
        iova: u64 = 16,
        size: u64 = 24,
    }
}

uapi_struct! {
    /// `struct vfio_iommu_type1_dma_unmap` (without its flexible `data`, used only by the
    /// dirty-bitmap flag, which is refused): `VFIO_IOMMU_UNMAP_DMA`.
    VfioIommuType1DmaUnmap size 24 {
        argsz: u32 = 0,
        flags: u32 = 4,
        iova: u64 = 8,
        size: u64 = 16,
    }
}

uapi_struct! {
    /// `struct vfio_info_cap_header`: the head of every capability.
    VfioInfoCapHeader size 8 {
        id: u16 = 0,
        version: u16 = 2,
        next: u32 = 4,
    }
}

uapi_struct! {
    /// `struct vfio_iommu_type1_info_cap_iova_range` without its flexible array.
    VfioIommuType1InfoCapIovaRange size 16 {
        header: [u8; 8] = 0,
        nr_iovas: u32 = 8,
        reserved: u32 = 12,
    }
}

uapi_struct! {
    /// `struct vfio_iova_range`: one closed range (`end` inclusive).
    VfioIovaRange size 16 {
        start: u64 = 0,
        end: u64 = 8,
    }
}

uapi_struct! {
    /// `struct vfio_iommu_type1_info_dma_avail`.
    VfioIommuType1InfoDmaAvail size 12 {
        header: [u8; 8] = 0,
        avail: u32 = 8,
    }
}

/// The DMA-avail capability's count: iommufd's (its limit is memory, not a number of
/// mappings; VFIO's default `U16_MAX` is too small for s390's QEMU).
pub(crate) const DMA_AVAIL: u32 = u32::MAX;

/// The bytes of a capability header (`next` 0: the chain is linked afterwards).
fn cap_header(id: u16) -> [u8; VfioInfoCapHeader::SIZE] {
    let mut b = [0u8; VfioInfoCapHeader::SIZE];
    VfioInfoCapHeader {
        id,
        version: 1,
        next: 0,
    }
    .write(&mut b);
    b
}

/// `x` rounded up to 8 bytes (capabilities are 8-byte aligned).
const fn align8(x: u64) -> u64 {
    (x + 7) & !7
}

/// Where the capability chain of `VFIO_IOMMU_GET_INFO` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InfoChain {
    /// The size the caller needs for the whole chain (the reply's `argsz`).
    pub(crate) total: u32,
    /// Offset of the first capability, 0 when the chain did not fit (the reply's
    /// `cap_offset`).
    pub(crate) cap_offset: u32,
}

/// Lays out the capability chain of `VFIO_IOMMU_GET_INFO` for a caller whose buffer has
/// `argsz` bytes, as iommufd does: after the fixed structure, the DMA-avail capability, then
/// the IOVA-range capability with the usable `ranges` (first and last IOVA). Each piece is
/// handed to `write` (offset from the structure's start, bytes) only if it fits in `argsz`
/// entirely, in iommufd's order, so nothing past `argsz` is ever written, and the chain is
/// complete exactly when `cap_offset` is set.
///
/// # Errors
///
/// What `write` returns (the chain stops there).
pub(crate) fn info_chain<E>(
    argsz: u32,
    ranges: impl Iterator<Item = (u64, u64)>,
    mut write: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<InfoChain, E> {
    let argsz = u64::from(argsz);
    let room = |at: u64| argsz.saturating_sub(at);

    // The DMA-avail capability.
    let avail_at = VfioIommuType1Info::SIZE as u64;
    if room(avail_at) >= VfioIommuType1InfoDmaAvail::SIZE as u64 {
        let mut b = [0u8; VfioIommuType1InfoDmaAvail::SIZE];
        VfioIommuType1InfoDmaAvail {
            header: cap_header(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL),
            avail: DMA_AVAIL,
        }
        .write(&mut b);
        write(avail_at, &b)?;
    }
    let ranges_at = avail_at + align8(VfioIommuType1InfoDmaAvail::SIZE as u64);

    // The IOVA-range capability: each range that fits, then its header if all of it fits.
    let head = VfioIommuType1InfoCapIovaRange::SIZE as u64;
    let one = VfioIovaRange::SIZE as u64;
    let avail = room(ranges_at);
    let mut nr = 0u64;
    for (start, end) in ranges {
        if avail >= head + one * (nr + 1) {
            let mut b = [0u8; VfioIovaRange::SIZE];
            VfioIovaRange { start, end }.write(&mut b);
            write(ranges_at + head + one * nr, &b)?;
        }
        nr += 1;
    }
    if avail >= head + one * nr {
        let mut b = [0u8; VfioIommuType1InfoCapIovaRange::SIZE];
        VfioIommuType1InfoCapIovaRange {
            header: cap_header(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE),
            nr_iovas: nr as u32,
            reserved: 0,
        }
        .write(&mut b);
        write(ranges_at, &b)?;
    }
    // Link the first capability to the second when the buffer reaches the second.
    if argsz >= ranges_at {
        write(avail_at + 4, &(ranges_at as u32).to_ne_bytes())?;
    }
    let total = ranges_at + align8(head + one * nr);
    Ok(InfoChain {
        total: total.min(u64::from(u32::MAX)) as u32,
        cap_offset: if argsz >= total { avail_at as u32 } else { 0 },
    })
}

/// The `iova_pgsizes` of `VFIO_IOMMU_GET_INFO`: the page sizes every domain supports
/// (`domains`, the AND of their bitmaps, all ones without domains), with sizes below the
/// CPU page replaced by the CPU page (as VFIO does), and at least the IOAS's `alignment`.
pub(crate) fn iova_pgsizes(domains: u64, page_size: u64, alignment: u64) -> u64 {
    let page_mask = !(page_size - 1);
    let mut sizes = domains;
    if sizes & !page_mask != 0 {
        sizes = (sizes & page_mask) | page_size;
    }
    sizes.max(alignment)
}

/// The IOVAs a type1 v1 unmap of `size` bytes at `iova` cuts mappings at (each becomes the
/// last IOVA of a mapping): the unmap's last IOVA, and the one before its first unless it
/// starts at 0. Returns them and how many there are.
pub(crate) const fn unmap_cuts(iova: u64, size: u64) -> ([u64; 2], usize) {
    let cuts = [
        iova.wrapping_add(size).wrapping_sub(1),
        iova.wrapping_sub(1),
    ];
    (cuts, if iova != 0 { 2 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs [`info_chain`] on a buffer of 0xAA bytes (the fixed structure included);
    /// returns the buffer and the result.
    fn run(argsz: u32, ranges: &[(u64, u64)], buf_len: usize) -> (Vec<u8>, InfoChain) {
        let mut buf = vec![0xAAu8; buf_len];
        let chain = info_chain::<()>(argsz, ranges.iter().copied(), |off, bytes| {
            let off = off as usize;
            assert!(
                off >= VfioIommuType1Info::SIZE,
                "inside the fixed structure"
            );
            assert!(off + bytes.len() <= argsz as usize, "past argsz");
            buf[off..off + bytes.len()].copy_from_slice(bytes);
            Ok(())
        })
        .unwrap();
        (buf, chain)
    }

    #[test]
    fn the_full_chain_is_avail_then_ranges() {
        let ranges = [(0x1000, 0xfedf_ffff), (0xfef0_0000, u64::MAX)];
        let (_, sizing) = run(24, &ranges, 256);
        // 24 + 16 (avail, 12 aligned) + 16 (range header) + 2 * 16.
        assert_eq!(sizing.total, 24 + 16 + 16 + 32);
        assert_eq!(sizing.cap_offset, 0);
        let (buf, chain) = run(sizing.total, &ranges, 256);
        assert_eq!(
            chain,
            InfoChain {
                total: sizing.total,
                cap_offset: 24
            }
        );
        let avail = VfioIommuType1InfoDmaAvail::read(&buf[24..]);
        let h = VfioInfoCapHeader::read(&avail.header);
        assert_eq!((h.id, h.version, h.next), (3, 1, 40));
        assert_eq!(avail.avail, u32::MAX);
        let cap = VfioIommuType1InfoCapIovaRange::read(&buf[40..]);
        let h = VfioInfoCapHeader::read(&cap.header);
        assert_eq!((h.id, h.version, h.next), (1, 1, 0));
        assert_eq!(cap.nr_iovas, 2);
        assert_eq!(
            VfioIovaRange::read(&buf[56..]),
            VfioIovaRange {
                start: 0x1000,
                end: 0xfedf_ffff
            }
        );
        assert_eq!(
            VfioIovaRange::read(&buf[72..]),
            VfioIovaRange {
                start: 0xfef0_0000,
                end: u64::MAX
            }
        );
        assert!(buf[88..].iter().all(|&b| b == 0xAA));
    }

    #[test]
    fn every_argsz_writes_only_inside_it_and_a_set_offset_means_a_whole_chain() {
        let ranges = [(0x1000, 0x1fff), (0x4000, 0x7fff), (0x10000, 0xffff_ffff)];
        let total = run(24, &ranges, 256).1.total;
        for argsz in 16..=total + 8 {
            // `run` asserts that every write lies inside `argsz`.
            let (buf, chain) = run(argsz, &ranges, 256);
            assert_eq!(chain.total, total);
            assert!(
                buf[argsz as usize..].iter().all(|&b| b == 0xAA),
                "argsz {argsz}"
            );
            assert_eq!(chain.cap_offset != 0, argsz >= total, "argsz {argsz}");
        }
    }

    #[test]
    fn no_ranges_still_has_both_capabilities() {
        let (_, chain) = run(24, &[], 64);
        assert_eq!(chain.total, 24 + 16 + 16);
    }

    #[test]
    fn pgsizes_round_sub_page_sizes_up_and_follow_the_alignment() {
        // No domain: everything from the CPU page up.
        assert_eq!(iova_pgsizes(u64::MAX, 4096, 1), !0xfff);
        // A mock domain of 2 KiB pages and up.
        assert_eq!(iova_pgsizes(!0x7ff, 4096, 4096), !0xfff);
        // 4 KiB, 2 MiB and 1 GiB.
        let vtd = 0x1000 | 0x20_0000 | 0x4000_0000;
        assert_eq!(iova_pgsizes(vtd, 4096, 4096), vtd);
        // A 64 KiB alignment above the bitmap's value.
        assert_eq!(iova_pgsizes(0x1000, 4096, 0x10000), 0x10000);
    }

    #[test]
    fn v1_unmap_cuts_at_its_last_iova_and_before_its_first() {
        assert_eq!(unmap_cuts(0x10000, 0x2000), ([0x11fff, 0xffff], 2));
        assert_eq!(unmap_cuts(0, 0x1000).1, 1);
        assert_eq!(unmap_cuts(0, 0x1000).0[0], 0xfff);
    }
}
