// SPDX-License-Identifier: GPL-2.0

//! Kernel pages that userspace maps from a `/dev/ioasid` file: a vIOMMU's mmap region
//! (`IOMMU_VIOMMU_ALLOC`'s `out_mmap_offset`/`out_mmap_length`).
//!
//! A [`MmapRegion`] owns its pages. Each VMA that maps them holds a reference to the
//! region (its `vm_private_data`) and counts itself in [`MmapRegion::maps`] from the
//! moment the mmap handler succeeds until its `close` callback; a VMA copied by `fork()`
//! or split by a partial `munmap()` counts itself too (`open`). The owner of the region
//! reports the count as users, so it cannot be destroyed while mapped, as in iommufd.
//! The pages are inserted with `vm_insert_page()`, which takes a page reference per
//! PTE: even a region freed while a PTE still pointed at its pages could never let
//! userspace reach freed memory.
//!
//! Never: install `vm_ops` before every page is in, or drop a VMA's region reference
//! anywhere but in `close`.

use kernel::{
    bindings,
    ffi::c_void,
    mm::virt::{flags, VmaNew},
    page::{Page, PAGE_SIZE},
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, ArcBorrow,
    },
};

/// Pages that userspace can map from a `/dev/ioasid` file (their owner decides where).
pub(crate) struct MmapRegion {
    /// The pages, zeroed when allocated.
    pages: KVec<Page>,
    /// The VMAs that map the region (see the module documentation).
    maps: Atomic<u32>,
}

impl MmapRegion {
    /// A region of `npages` zeroed pages, but for `head`, copied to the start of the
    /// first page.
    ///
    /// # Errors
    ///
    /// `ENOMEM`; `EINVAL` when `head` does not fit in the first page (or there is none).
    pub(crate) fn new(npages: usize, head: &[u8]) -> Result<Arc<Self>> {
        let mut pages = KVec::with_capacity(npages, GFP_KERNEL)?;
        for _ in 0..npages {
            pages.push(Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?, GFP_KERNEL)?;
        }
        let first = pages.first().ok_or(EINVAL)?;
        // SAFETY: `head` is readable for its length, and `write_raw` checks the range
        // against the page. The page was just allocated and is not shared with anything
        // yet, so nothing else reads or writes it.
        unsafe { first.write_raw(head.as_ptr(), 0, head.len())? };
        Ok(Arc::new(
            Self {
                pages,
                maps: Atomic::new(0),
            },
            GFP_KERNEL,
        )?)
    }

    /// The region's length in pages.
    pub(crate) fn npages(&self) -> usize {
        self.pages.len()
    }

    /// How many VMAs map the region now.
    pub(crate) fn maps(&self) -> u32 {
        self.maps.load(Relaxed)
    }

    /// Counts a mapping about to be made ([`MmapRegion::map`] needs it); the owner does
    /// this where its destruction cannot race with it.
    pub(crate) fn claim_map(&self) {
        self.maps.fetch_add(1, Relaxed);
    }

    /// Maps the whole region into `vma`, which the caller counted with
    /// [`MmapRegion::claim_map`]: on success the VMA owns that count and a reference to
    /// the region until it is closed; on error the count is returned.
    ///
    /// # Errors
    ///
    /// What `vm_insert_page()` returns (`ENOMEM`, `EFAULT`, `EBUSY`).
    pub(crate) fn map(self: &Arc<Self>, vma: &VmaNew) -> Result {
        let mixed = vma.set_mixedmap();
        let mut addr = vma.start();
        for page in self.pages.iter() {
            if let Err(e) = mixed.vm_insert_page(addr, page) {
                // The mmap fails: the core zaps what was inserted.
                self.maps.fetch_sub(1, Relaxed);
                return Err(e);
            }
            addr += PAGE_SIZE;
        }
        let private = Arc::into_raw(self.clone()).cast_mut().cast::<c_void>();
        // The private data is a region reference that `vma_close` gives back, and
        // `IOASID_VM_OPS` is a static that outlives every VMA.
        // SAFETY: The VMA is being set up by the mmap handler (`VmaNew`): nothing else
        // reads or writes its `vm_ops` and `vm_private_data` yet.
        unsafe {
            (*vma.as_ptr()).vm_private_data = private;
            (*vma.as_ptr()).vm_ops = &IOASID_VM_OPS.0;
        }
        Ok(())
    }
}

/// The page offset of the VMA being set up (`vm_pgoff`), as the caller of `mmap()` gave it.
pub(crate) fn vma_pgoff(vma: &VmaNew) -> u64 {
    // SAFETY: The VMA is valid while being set up (`VmaNew`); `vm_pgoff` is plain data
    // that only the mmap handler changes at this point.
    let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff };
    pgoff as u64
}

/// Whether the VMA being set up is a shared mapping (`MAP_SHARED`).
pub(crate) fn vma_is_shared(vma: &VmaNew) -> bool {
    vma.flags() & flags::SHARED != 0
}

/// Whether the VMA being set up asks for execution (`PROT_EXEC`).
pub(crate) fn vma_is_exec(vma: &VmaNew) -> bool {
    vma.flags() & flags::EXEC != 0
}

/// `vm_operations_struct` is plain data (function pointers).
struct AssertSync<T>(T);

// SAFETY: The wrapped operations table is never written after its constant initializer.
unsafe impl<T> Sync for AssertSync<T> {}

/// The operations of VMAs that map an [`MmapRegion`].
static IOASID_VM_OPS: AssertSync<bindings::vm_operations_struct> = AssertSync({
    // SAFETY: All-zero is a valid `vm_operations_struct`: every callback absent.
    let mut ops: bindings::vm_operations_struct = unsafe { core::mem::zeroed() };
    ops.open = Some(vma_open);
    ops.close = Some(vma_close);
    ops
});

/// A new VMA copies one that maps a region (`fork()`, or a split): it takes its own
/// reference and count.
///
/// # Safety
///
/// `vma` is a VMA whose `vm_private_data` was copied from one set up by
/// [`MmapRegion::map`], called by the memory-management core.
unsafe extern "C" fn vma_open(vma: *mut bindings::vm_area_struct) {
    // SAFETY: By the function's contract the private data is a pointer from
    // `Arc::into_raw` whose reference the original VMA still holds.
    let region = unsafe { ArcBorrow::<MmapRegion>::from_raw((*vma).vm_private_data.cast()) };
    region.maps.fetch_add(1, Relaxed);
    // The new VMA's reference, given back in `vma_close`.
    let _ = Arc::into_raw(Arc::<MmapRegion>::from(region));
}

/// A VMA that maps a region goes: gives back its count and reference.
///
/// # Safety
///
/// `vma` is a VMA set up by [`MmapRegion::map`] or copied by [`vma_open`], closed once by
/// the memory-management core.
unsafe extern "C" fn vma_close(vma: *mut bindings::vm_area_struct) {
    // SAFETY: By the function's contract the private data is the VMA's own reference
    // from `Arc::into_raw`, taken back exactly once, here.
    let region = unsafe { Arc::<MmapRegion>::from_raw((*vma).vm_private_data.cast()) };
    region.maps.fetch_sub(1, Relaxed);
}
