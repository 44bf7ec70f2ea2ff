// SPDX-License-Identifier: GPL-2.0

//! The memory behind IOAS areas.
//!
//! A [`Pages`] describes one range of memory that a process handed to `/dev/ioasid` with
//! `IOMMU_IOAS_MAP`: where it comes from and whether DMA may write it. Areas refer to a
//! slice of a `Pages` by byte offset and length; `IOMMU_IOAS_COPY` makes new areas that
//! share the same `Pages`, so the memory is described, and later pinned, once however
//! many areas and address spaces use it.
//!
//! # Storage and pinning
//!
//! Pinning arrives with the first user that needs the physical pages (an IOMMU domain or an
//! in-kernel access). The rule this module will keep then: a page is unpinned only after
//! every domain that maps it has been unmapped and flushed, and every pin is charged to
//! `RLIMIT_MEMLOCK` before it is taken and uncharged after it is released.

use kernel::{
    fs::File,
    prelude::*,
    sync::{aref::ARef, Arc},
};

/// The CPU page size.
pub(crate) const PAGE_SIZE: u64 = kernel::page::PAGE_SIZE as u64;

/// Where the memory of a [`Pages`] comes from.
pub(crate) enum Source {
    /// Anonymous or file-backed memory of the calling process, from this page-aligned
    /// user address.
    User {
        /// The page-aligned start address.
        base: u64,
    },
    /// A file (memfd: shmem or hugetlbfs), from this page-aligned offset. The reference
    /// keeps the file open while any area maps it.
    File {
        /// The file.
        #[expect(
            dead_code,
            reason = "read by the pinning code (memfd_pin_folios) to come"
        )]
        file: ARef<File>,
        /// The page-aligned start offset in the file.
        base: u64,
    },
}

/// A range of memory handed to `/dev/ioasid`, shared by the areas that map it.
///
/// # Invariants
///
/// The described range (`offset`, and the length its creator checked) does not wrap and
/// its length fits `usize` with room for page rounding.
pub(crate) struct Pages {
    source: Source,
    /// Byte offset of the first mapped byte from the start of the first page.
    offset: u64,
    /// Whether DMA may write this memory (areas asking for write access need it).
    writable: bool,
}

impl Pages {
    /// Describes `length` bytes of the calling process's memory at `user_va`.
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if the range wraps, `EINVAL` for a zero or too large length, `ENOMEM`.
    pub(crate) fn new_user(user_va: u64, length: u64, writable: bool) -> Result<Arc<Pages>> {
        if user_va.checked_add(length).is_none() {
            return Err(EOVERFLOW);
        }
        let offset = user_va % PAGE_SIZE;
        Self::new(
            Source::User {
                base: user_va - offset,
            },
            offset,
            length,
            writable,
        )
    }

    /// Describes `length` bytes of `file` from byte `start`.
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if the range wraps, `EINVAL` for a zero or too large length, `ENOMEM`.
    pub(crate) fn new_file(
        file: ARef<File>,
        start: u64,
        length: u64,
        writable: bool,
    ) -> Result<Arc<Pages>> {
        if length == 0 {
            return Err(EINVAL);
        }
        if start.checked_add(length - 1).is_none() {
            return Err(EOVERFLOW);
        }
        let offset = start % PAGE_SIZE;
        Self::new(
            Source::File {
                file,
                base: start - offset,
            },
            offset,
            length,
            writable,
        )
    }

    fn new(source: Source, offset: u64, length: u64, writable: bool) -> Result<Arc<Pages>> {
        // The iommu API takes `size_t` lengths; keep the page rounding from overflowing.
        if length == 0 || length > (usize::MAX as u64) - PAGE_SIZE {
            return Err(EINVAL);
        }
        // INVARIANT: checked above and by the callers (no wrap).
        Ok(Arc::new(
            Pages {
                source,
                offset,
                writable,
            },
            GFP_KERNEL,
        )?)
    }

    /// The address a slice starting `start_byte` bytes into this memory would have in its
    /// source (the user address for user memory), which the IOVA allocator aligns to.
    pub(crate) fn source_addr(&self, start_byte: u64) -> u64 {
        match self.source {
            Source::User { base } | Source::File { base, .. } => base + self.offset + start_byte,
        }
    }

    /// Whether DMA may write this memory.
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }
}

/// A slice of a [`Pages`]: `length` bytes from `start_byte`.
#[derive(Clone)]
pub(crate) struct Slice {
    /// The memory.
    pub(crate) pages: Arc<Pages>,
    /// Offset into `pages`, in bytes from its first mapped byte.
    pub(crate) start_byte: u64,
    /// Length in bytes.
    pub(crate) length: u64,
}
