/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ioasid: a safe user API to the IOMMU through /dev/ioasid.
 *
 * Wire compatibility
 * ------------------
 * Every ioctl that ioasid shares with upstream iommufd (include/uapi/linux/iommufd.h of
 * Linux 7.3) uses iommufd's ioctl number, structure layout, size and flags rules and errno
 * values, and keeps iommufd's macro and structure names, so a program written for
 * /dev/iommu works unchanged after opening /dev/ioasid instead, and its source compiles
 * against either header. Do not include both headers in one translation unit.
 *
 * What iommufd receives from VFIO (binding a device, attaching it to an address space,
 * PASID attach) is ioasid's own extension, numbered from IOASID_CMD_BASE, a range that
 * iommufd does not use: iommufd grows from 0x80 upwards (0x96-0x9f are kept free for it)
 * and uses 0xa0 for IOMMU_TEST_CMD.
 */
#ifndef _UAPI_LINUX_IOASID_H
#define _UAPI_LINUX_IOASID_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * DOC: General ioctl format
 *
 * Every ioctl on /dev/ioasid is _IO(IOMMUFD_TYPE, nr) and takes a pointer to a structure
 * whose first __u32 is @size, the size of the structure as the caller knows it. This lets
 * the structures grow at their end while old and new programs and kernels keep working:
 *
 *  - @size smaller than the structure's last mandatory field: EINVAL.
 *  - @size larger than the structure the kernel knows: the extra bytes must be zero,
 *    otherwise E2BIG.
 *  - Output fields are written back only when the ioctl succeeds, and never past @size.
 *  - All 64-bit fields are naturally aligned, so 32-bit and 64-bit programs share one
 *    layout.
 *
 * Errors common to every ioctl:
 *
 *  - ENOTTY: the ioctl number is not one that /dev/ioasid implements.
 *  - E2BIG: the ioctl is known, but the structure has non-zero bytes past what the kernel
 *    understands.
 *  - EOPNOTSUPP: the structure is understood, but a known field (for example a flag) has
 *    a value that the kernel does not support.
 *  - EINVAL: everything was understood but a field's value is not valid.
 *  - ENOENT: an object ID or IOVA does not exist.
 *  - ENOMEM: out of memory.
 *  - EOVERFLOW: an address or length calculation overflowed.
 *  - EFAULT: the structure or a buffer it points to is not accessible.
 *
 * Each ioctl documents the other errno values it returns.
 */
#define IOMMUFD_TYPE (';')

/* First ioctl number of the iommufd-compatible range. */
#define IOMMUFD_CMD_BASE 0x80

/*
 * First ioctl number of ioasid's own extensions (device binding and attachment). The range
 * IOASID_CMD_BASE .. IOASID_CMD_BASE + 0x1f is reserved for them.
 */
#define IOASID_CMD_BASE 0xc0

/*
 * IOMMU_TEST_CMD, _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32), exists only when ioasid.ko is
 * loaded with selftest=1 (which taints the kernel; otherwise it is ENOTTY). Its structure
 * and op numbers are those of upstream iommufd's drivers/iommu/iommufd/iommufd_test.h,
 * which is not uAPI and not repeated here. Implemented ops: IOMMU_TEST_OP_ADD_RESERVED
 * (EINVAL for a zero length, EOVERFLOW, ENOENT, EADDRINUSE over a mapping or an allowed
 * range); the others return EOPNOTSUPP.
 */

enum {
	IOMMUFD_CMD_DESTROY = IOMMUFD_CMD_BASE,
	IOMMUFD_CMD_IOAS_ALLOC = 0x81,
	IOMMUFD_CMD_IOAS_ALLOW_IOVAS = 0x82,
	IOMMUFD_CMD_IOAS_COPY = 0x83,
	IOMMUFD_CMD_IOAS_IOVA_RANGES = 0x84,
	IOMMUFD_CMD_IOAS_MAP = 0x85,
	IOMMUFD_CMD_IOAS_UNMAP = 0x86,
	IOMMUFD_CMD_OPTION = 0x87,
	IOMMUFD_CMD_IOAS_MAP_FILE = 0x8f,
};

/**
 * struct iommu_destroy - ioctl(IOMMU_DESTROY)
 * @size: sizeof(struct iommu_destroy)
 * @id: ID of the object to destroy, of any type
 *
 * Destroys an object created through this file. Objects still in use by another
 * object cannot be destroyed.
 *
 * Errors: ENOENT if no object has @id; EBUSY while another object holds it.
 */
struct iommu_destroy {
	__u32 size;
	__u32 id;
};
#define IOMMU_DESTROY _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)

/**
 * struct iommu_ioas_alloc - ioctl(IOMMU_IOAS_ALLOC)
 * @size: sizeof(struct iommu_ioas_alloc)
 * @flags: must be 0
 * @out_ioas_id: the ID of the new IOAS
 *
 * Creates an I/O address space: a set of mappings from I/O virtual addresses (IOVA)
 * to the caller's memory. A new IOAS allows the whole 64-bit IOVA space.
 *
 * Errors: EOPNOTSUPP for non-zero @flags; ENOMEM.
 */
struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)

/**
 * struct iommu_iova_range - an interval of IOVA
 * @start: first IOVA
 * @last: last IOVA, inclusive
 */
struct iommu_iova_range {
	__aligned_u64 start;
	__aligned_u64 last;
};

/**
 * struct iommu_ioas_iova_ranges - ioctl(IOMMU_IOAS_IOVA_RANGES)
 * @size: sizeof(struct iommu_ioas_iova_ranges)
 * @ioas_id: the IOAS to query
 * @num_iovas: in: number of entries of @allowed_iovas; out: number of ranges
 * @__reserved: must be 0
 * @allowed_iovas: user pointer to an array of struct iommu_iova_range
 * @out_iova_alignment: the alignment that MAP and COPY require of IOVA and length
 *
 * Reports the IOVA ranges that can be mapped: the 64-bit space minus the reserved
 * ranges (of attached devices and domains). Two-call protocol: when @num_iovas is
 * too small the ioctl fails with EMSGSIZE and sets @num_iovas to the number needed,
 * having filled in as many entries as fit.
 *
 * Errors: EOPNOTSUPP for non-zero @__reserved; ENOENT for an unknown @ioas_id;
 * EMSGSIZE as above; EFAULT for an unwritable @allowed_iovas.
 */
struct iommu_ioas_iova_ranges {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas;
	__aligned_u64 out_iova_alignment;
};
#define IOMMU_IOAS_IOVA_RANGES _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES)

/**
 * struct iommu_ioas_allow_iovas - ioctl(IOMMU_IOAS_ALLOW_IOVAS)
 * @size: sizeof(struct iommu_ioas_allow_iovas)
 * @ioas_id: the IOAS to change
 * @num_iovas: number of entries of @allowed_iovas (0 allows everything again)
 * @__reserved: must be 0
 * @allowed_iovas: user pointer to an array of struct iommu_iova_range
 *
 * Replaces the list of allowed ranges. Automatic IOVA allocation (MAP and COPY
 * without IOMMU_IOAS_MAP_FIXED_IOVA) then only places mappings inside them, and
 * later reservations (device attach) that would intersect them are refused.
 * Existing mappings are not affected.
 *
 * Errors: EOPNOTSUPP for non-zero @__reserved; ENOENT for an unknown @ioas_id;
 * EINVAL for a range with @start >= @last or ranges that overlap each other;
 * EADDRINUSE if a range intersects a reserved range; EFAULT.
 */
struct iommu_ioas_allow_iovas {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas;
};
#define IOMMU_IOAS_ALLOW_IOVAS _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOW_IOVAS)

/**
 * enum iommufd_ioas_map_flags - flags of IOMMU_IOAS_MAP
 * @IOMMU_IOAS_MAP_FIXED_IOVA: map at the given @iova instead of letting the kernel choose
 * @IOMMU_IOAS_MAP_WRITEABLE: DMA may write the memory
 * @IOMMU_IOAS_MAP_READABLE: DMA may read the memory
 */
enum iommufd_ioas_map_flags {
	IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
	IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
	IOMMU_IOAS_MAP_READABLE = 1 << 2,
};

/**
 * struct iommu_ioas_map - ioctl(IOMMU_IOAS_MAP)
 * @size: sizeof(struct iommu_ioas_map)
 * @flags: enum iommufd_ioas_map_flags; READABLE or WRITEABLE (or both) is required
 * @ioas_id: the IOAS to map into
 * @__reserved: must be 0
 * @user_va: address of the memory in the calling process
 * @length: number of bytes
 * @iova: with IOMMU_IOAS_MAP_FIXED_IOVA the IOVA to map at; otherwise set to the IOVA
 *        the kernel chose
 *
 * Maps @length bytes of the caller's memory at an IOVA. A kernel-chosen IOVA is the
 * lowest free one that lies in the allowed ranges, avoids reserved ranges, is never 0,
 * and has the alignment of @user_va up to the huge page size (so huge pages can become
 * huge IOPTEs). Pages are pinned when a domain or an in-kernel user needs them.
 *
 * Errors: EOPNOTSUPP for unknown @flags or non-zero @__reserved; EINVAL without
 * READABLE/WRITEABLE, for a zero @length, a misaligned IOVA or length, or a fixed range
 * that touches a reserved range; EOVERFLOW when @iova, @length or @user_va + @length
 * overflow; ENOENT for an unknown @ioas_id; EEXIST when a fixed range overlaps an existing
 * mapping; ENOSPC when no free range is large enough.
 */
struct iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)

/**
 * struct iommu_ioas_map_file - ioctl(IOMMU_IOAS_MAP_FILE)
 * @size: sizeof(struct iommu_ioas_map_file)
 * @flags: as for IOMMU_IOAS_MAP
 * @ioas_id: the IOAS to map into
 * @fd: a memfd (shmem or hugetlbfs) of the caller
 * @start: byte offset in the file of the first mapped byte
 * @length: number of bytes
 * @iova: as for IOMMU_IOAS_MAP; a kernel-chosen IOVA follows the alignment of @start
 *
 * Maps part of a memfd, like IOMMU_IOAS_MAP maps user memory. The mapping keeps its own
 * reference to the file: closing @fd afterwards does not affect it.
 *
 * Errors: as IOMMU_IOAS_MAP; EBADF when @fd is not an open file descriptor;
 * EOVERFLOW when @start + @length wraps.
 */
struct iommu_ioas_map_file {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__s32 fd;
	__aligned_u64 start;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP_FILE _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE)

/**
 * struct iommu_ioas_copy - ioctl(IOMMU_IOAS_COPY)
 * @size: sizeof(struct iommu_ioas_copy)
 * @flags: enum iommufd_ioas_map_flags, as for IOMMU_IOAS_MAP
 * @dst_ioas_id: the IOAS to map into
 * @src_ioas_id: the IOAS whose mappings are copied (may be @dst_ioas_id)
 * @length: number of bytes
 * @dst_iova: with IOMMU_IOAS_MAP_FIXED_IOVA the IOVA to map at; otherwise set to the
 *            IOVA the kernel chose
 * @src_iova: first IOVA of the range to copy in the source IOAS
 *
 * Maps the memory that [@src_iova, @src_iova + @length - 1] maps in the source IOAS
 * into the destination IOAS. The source range must be mapped without a hole; it may
 * start and end inside mappings and span several. The memory is shared, not copied:
 * it is pinned once however many mappings use it, and unmapping the source leaves the
 * copy intact. The new mappings are separate: each source mapping the range touches
 * becomes its own destination mapping, and must be unmapped whole.
 *
 * Errors: as IOMMU_IOAS_MAP; ENOENT also when the source range is not fully mapped;
 * EPERM for IOMMU_IOAS_MAP_WRITEABLE of memory mapped read-only.
 */
struct iommu_ioas_copy {
	__u32 size;
	__u32 flags;
	__u32 dst_ioas_id;
	__u32 src_ioas_id;
	__aligned_u64 length;
	__aligned_u64 dst_iova;
	__aligned_u64 src_iova;
};
#define IOMMU_IOAS_COPY _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_COPY)

/**
 * struct iommu_ioas_unmap - ioctl(IOMMU_IOAS_UNMAP)
 * @size: sizeof(struct iommu_ioas_unmap)
 * @ioas_id: the IOAS to unmap from
 * @iova: first IOVA of the range
 * @length: in: bytes in the range; out: bytes unmapped
 *
 * Unmaps every mapping inside [@iova, @iova + @length - 1]. Mappings are removed whole:
 * a mapping that the range only partly covers stops the unmap with ENOENT (mappings
 * before it in IOVA order that lay fully inside the range are unmapped). @iova 0 with
 * @length UINT64_MAX unmaps everything and succeeds on an empty IOAS.
 *
 * Errors: ENOENT for an unknown @ioas_id, when nothing is mapped in the range, or when
 * the range cuts a mapping; EINVAL for a zero @length; EOVERFLOW when the range wraps.
 */
struct iommu_ioas_unmap {
	__u32 size;
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length;
};
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP)

/**
 * enum iommufd_option - options of IOMMU_OPTION
 * @IOMMU_OPTION_RLIMIT_MODE: RLIMIT_MEMLOCK accounting of pinned pages: 0 (default) per
 *    user, 1 per process. Global: @object_id must be 0; setting it needs CAP_SYS_RESOURCE.
 * @IOMMU_OPTION_HUGE_PAGES: 1 (default) lets contiguous pages map as huge IOPTEs, 0 maps
 *    everything with PAGE_SIZE entries. Per IOAS: @object_id is the IOAS.
 */
enum iommufd_option {
	IOMMU_OPTION_RLIMIT_MODE = 0,
	IOMMU_OPTION_HUGE_PAGES = 1,
};

/**
 * enum iommufd_option_ops - operations of IOMMU_OPTION
 * @IOMMU_OPTION_OP_SET: set the option to @val64
 * @IOMMU_OPTION_OP_GET: return the option's value in @val64
 */
enum iommufd_option_ops {
	IOMMU_OPTION_OP_SET = 0,
	IOMMU_OPTION_OP_GET = 1,
};

/**
 * struct iommu_option - ioctl(IOMMU_OPTION)
 * @size: sizeof(struct iommu_option)
 * @option_id: enum iommufd_option
 * @op: enum iommufd_option_ops
 * @__reserved: must be 0
 * @object_id: the object the option applies to, or 0 for a global option
 * @val64: the value to set, or the value read
 *
 * Errors: EOPNOTSUPP for non-zero @__reserved, an unknown @option_id or @op, or a
 * non-zero @object_id of a global option; EINVAL for a value out of range; EPERM
 * setting RLIMIT_MODE without CAP_SYS_RESOURCE; EBUSY changing RLIMIT_MODE while
 * pages are pinned through this file; ENOENT for an unknown @object_id.
 */
struct iommu_option {
	__u32 size;
	__u32 option_id;
	__u16 op;
	__u16 __reserved;
	__u32 object_id;
	__aligned_u64 val64;
};
#define IOMMU_OPTION _IO(IOMMUFD_TYPE, IOMMUFD_CMD_OPTION)

#endif /* _UAPI_LINUX_IOASID_H */
