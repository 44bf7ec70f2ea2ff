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
 * which is not uAPI and not repeated here. The ops run against ioasid's software mock
 * IOMMU (aperture [1 << 24, (1 << 31) - 1], 2 KiB IOPTEs) and its in-kernel access API:
 *  - ADD_RESERVED: reserve an IOVA range of IOAS @id (EINVAL for a zero length,
 *    EOVERFLOW, ENOENT, EADDRINUSE over a mapping or an allowed range);
 *  - MOCK_DOMAIN, MOCK_DOMAIN_FLAGS: bind a mock device and attach it to IOAS or HWPT @id
 *    (an IOAS gets an automatic HWPT with a mock domain, destroyed with its last device);
 *    returns the mock device object (destroying it unbinds), HWPT and device IDs;
 *    EINVAL for unknown device flags or an @id of another type, ENOENT, the errors of
 *    filling the domain (EADDRINUSE for misaligned areas, ENOMEM over RLIMIT_MEMLOCK);
 *  - MOCK_DOMAIN_REPLACE: move mock device @id to another IOAS or HWPT, no window
 *    without translation;
 *  - MD_CHECK_MAP: EINVAL unless the mock domain of HWPT @id translates each 2 KiB of the
 *    IOVA range to the page behind the same offset of the user pointer;
 *  - MD_CHECK_REFS: EIO unless every page of the user range has exactly refs pins;
 *  - CREATE_ACCESS: an access to IOAS @id, returned as a new file descriptor (closing it
 *    releases everything); EOPNOTSUPP for unknown flags;
 *  - ACCESS_PAGES / DESTROY_ACCESS_PAGES: pin / release an IOVA range through access fd
 *    @id (ENOENT for unmapped IOVAs or an unknown range ID, EPERM writing read-only
 *    memory, EBADE if the pages are not those behind the user pointer, EOPNOTSUPP for an
 *    access created without NEEDS_PIN_PAGES); an unmap releases the ranges it touches;
 *  - ACCESS_RW: copy to or from IOVAs through access fd @id;
 *  - ACCESS_REPLACE_IOAS: move access fd @id to another IOAS, releasing its pins;
 *  - SET_TEMP_MEMORY_LIMIT: bound the memory of one pinning batch (EINVAL below 12);
 *  - MD_CHECK_IOTLB: EINVAL unless mock nested HWPT @id's IOTLB entry (0-3) has the
 *    value; ENOENT when @id is not a nested HWPT;
 *  - DEV_CHECK_CACHE: EINVAL unless the mock device's cache entry (0-3, each starting at
 *    0xbaddad, cleared by vIOMMU invalidations) has the value;
 *  - TRIGGER_IOPF: mock device dev_id (its device object: ENOENT otherwise, EINVAL for a
 *    PCI device) raises one page request (the last of its group; PASID_VALID unless
 *    pasid is 0) to the fault queue of the IOPF-capable HWPT that takes it, as the IOMMU
 *    core routes it: the HWPT attached to that PASID, or else a nested HWPT on the RID;
 *    a request with no PASID goes to the RID's HWPT; without one it is dropped, and
 *    nothing waits for the response;
 *  - TRIGGER_VEVENT: mock device dev_id reports an event (its vDEVICE's virtual ID) to
 *    its vIOMMU's vEVENTQ of type IOMMU_VEVENTQ_TYPE_SELFTEST (0xbeefbeef): ENOENT without
 *    a vDEVICE, EOPNOTSUPP without such a vEVENTQ;
 *  - PASID_ATTACH, PASID_REPLACE, PASID_DETACH, PASID_CHECK_HWPT: a PASID of mock device
 *    @id (made with MOCK_FLAGS_DEVICE_PASID: 2^20 PASIDs) with upstream's semantics:
 *    ATTACH over an attached PASID is EBUSY, REPLACE of a detached one EINVAL, an IOAS
 *    EINVAL, DETACH of a detached PASID succeeds, every second attach of PASID 1024 fails
 *    with ENOMEM; otherwise IOASID_DEVICE_ATTACH's PASID rules. CHECK_HWPT: EINVAL unless
 *    the PASID is attached to HWPT hwpt_id (0: detached).
 *  - IOASID_TEST_OP_MOCK_DMA (0x10000, ioasid's own, laid out as ACCESS_RW: iova, length,
 *    uptr, flags, then a __u32 pasid; flags bit 0 = write to memory, bit 1 = the DMA is
 *    tagged with pasid): mock device @id reads or writes memory through the page table
 *    of the domain its RID (or that PASID) is attached to (through a mock nested HWPT:
 *    its stage 1, then its parent's table), as a device's DMA would: EFAULT at an
 *    unmapped IOVA (a DMA fault), EPERM without the IOPTE's permission, ENXIO when the
 *    device (the PASID) is not attached. Through an IOPF-capable HWPT
 *    (IOMMU_HWPT_FAULT_ID_VALID) the pages without translation are requested in one fault
 *    group instead (tagged with the PASID) and the DMA waits (at most 5 s: ETIMEDOUT) for
 *    the response: SUCCESS transfers them (EFAULT if still unmapped), INVALID or a failed
 *    group gives EFAULT (see IOMMU_FAULT_QUEUE_ALLOC).
 * EBADFD for an @id that is not an access file. Other ops return EOPNOTSUPP.
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
	IOMMUFD_CMD_VFIO_IOAS = 0x88,
	IOMMUFD_CMD_HWPT_ALLOC = 0x89,
	IOMMUFD_CMD_GET_HW_INFO = 0x8a,
	IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING = 0x8b,
	IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP = 0x8c,
	IOMMUFD_CMD_HWPT_INVALIDATE = 0x8d,
	IOMMUFD_CMD_FAULT_QUEUE_ALLOC = 0x8e,
	IOMMUFD_CMD_IOAS_MAP_FILE = 0x8f,
	IOMMUFD_CMD_VIOMMU_ALLOC = 0x90,
	IOMMUFD_CMD_VDEVICE_ALLOC = 0x91,
	IOMMUFD_CMD_IOAS_CHANGE_PROCESS = 0x92,
	IOMMUFD_CMD_VEVENTQ_ALLOC = 0x93,
	IOMMUFD_CMD_HW_QUEUE_ALLOC = 0x94,
};

/**
 * struct iommu_destroy - ioctl(IOMMU_DESTROY)
 * @size: sizeof(struct iommu_destroy)
 * @id: ID of the object to destroy, of any type
 *
 * Destroys an object created through this file. Objects still in use by another
 * object, or by another ioctl running on this file at the same moment, cannot be
 * destroyed. An object exists (for this and every other ioctl) only once the ioctl that
 * created it has written its reply; IDs are the lowest free ones, from 1.
 *
 * Errors: ENOENT if no object has @id; EBUSY while another object holds it or another
 * ioctl is using it (try again once it returned).
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
 * huge IOPTEs). Pages are pinned when a domain or an in-kernel user needs them: at map
 * time if the IOAS has a domain, once however many domains and address spaces use them
 * (FOLL_LONGTERM, writable if WRITEABLE), charged to RLIMIT_MEMLOCK (per user, or per
 * process in IOMMU_OPTION_RLIMIT_MODE 1; no limit with CAP_IPC_LOCK in per-user mode) and
 * shown in VmPin; a failure leaves nothing pinned or charged.
 *
 * Errors: EOPNOTSUPP for unknown @flags or non-zero @__reserved; EINVAL without
 * READABLE/WRITEABLE, for a zero @length, a misaligned IOVA or length, or a fixed range
 * that touches a reserved range; EOVERFLOW when @iova, @length or @user_va + @length
 * overflow; ENOENT for an unknown @ioas_id; EEXIST when a fixed range overlaps an existing
 * mapping; ENOSPC when no free range is large enough; ENOMEM over RLIMIT_MEMLOCK; EFAULT
 * (or the pinning's errno) when the memory cannot be pinned for a domain.
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
 * Errors: as IOMMU_IOAS_MAP; EBADF when @fd is not an open file descriptor; EINVAL when
 * it is not a shmem (memfd) or hugetlbfs file, the files whose pages can be pinned
 * (checked at once, though pages are pinned only when a domain or access needs them);
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
 * Pages are removed from every domain (and the IOTLB flushed) before they are unpinned;
 * in-kernel accesses that pinned pages in the range are told to release them first.
 *
 * Errors: ENOENT for an unknown @ioas_id, when nothing is mapped in the range, or when
 * the range cuts a mapping; EINVAL for a zero @length; EOVERFLOW when the range wraps;
 * EBUSY if an access pinned the range again while it was being released.
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
 *    everything with PAGE_SIZE entries, so IOVAs, lengths and memory offsets must then be
 *    PAGE_SIZE aligned (EADDRINUSE setting 0 while a mapping is not; EINVAL setting 0
 *    while the IOAS has both mappings and attached domains, whose IOPTEs may be huge
 *    already). Per IOAS: @object_id is the IOAS.
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

/**
 * enum iommufd_vfio_ioas_op - IOMMU_VFIO_IOAS_* ioctls
 * @IOMMU_VFIO_IOAS_GET: Get the current compatibility IOAS
 * @IOMMU_VFIO_IOAS_SET: Change the current compatibility IOAS
 * @IOMMU_VFIO_IOAS_CLEAR: Disable VFIO compatibility
 */
enum iommufd_vfio_ioas_op {
	IOMMU_VFIO_IOAS_GET = 0,
	IOMMU_VFIO_IOAS_SET = 1,
	IOMMU_VFIO_IOAS_CLEAR = 2,
};

/**
 * struct iommu_vfio_ioas - ioctl(IOMMU_VFIO_IOAS)
 * @size: sizeof(struct iommu_vfio_ioas)
 * @ioas_id: For IOMMU_VFIO_IOAS_SET the input IOAS ID to set
 *           For IOMMU_VFIO_IOAS_GET will output the IOAS ID
 * @op: One of enum iommufd_vfio_ioas_op
 * @__reserved: Must be 0
 *
 * The VFIO compatibility support uses a single IOAS because VFIO APIs do not have an
 * ID field: the VFIO type1 container ioctls of <linux/vfio.h> (VFIO_GET_API_VERSION,
 * VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA,
 * VFIO_IOMMU_UNMAP_DMA) issued on this file work on the IOAS set here, as iommufd
 * answers them on /dev/iommu. SET or CLEAR does not destroy any IOAS; destroying the
 * compatibility IOAS clears it.
 *
 * Errors: EOPNOTSUPP for a non-zero @__reserved or an unknown @op; ENODEV for GET
 * when no compatibility IOAS is set; ENOENT for SET with an @ioas_id that is not an
 * IOAS. The VFIO ioctls: see Documentation/ioasid.rst, "VFIO compatibility".
 */
struct iommu_vfio_ioas {
	__u32 size;
	__u32 ioas_id;
	__u16 op;
	__u16 __reserved;
};
#define IOMMU_VFIO_IOAS _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VFIO_IOAS)

/*
 * IOASID_VFIO_IOMMU - ioasid's VFIO IOMMU type (ioasid as VFIO's IOMMU backend)
 *
 * Not an ioctl of /dev/ioasid: a number for VFIO_CHECK_EXTENSION and VFIO_SET_IOMMU on a
 * VFIO container (/dev/vfio/vfio). While ioasid is loaded, VFIO_SET_IOMMU with this type
 * makes ioasid the container's IOMMU driver: the container gets an I/O address space of its
 * own, answers the type1 v2 container ioctls of <linux/vfio.h> on it (VFIO_IOMMU_GET_INFO,
 * VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA with VFIO_DMA_UNMAP_FLAG_ALL, the extensions
 * VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU and VFIO_UNMAP_ALL), and each of its groups is
 * attached to a paging domain mapped from it. With the module parameter vfio_type1=1,
 * ioasid serves VFIO_SET_IOMMU of VFIO_TYPE1_IOMMU and VFIO_TYPE1v2_IOMMU as well, in place
 * of vfio_iommu_type1 (never without it). VFIO_CHECK_EXTENSION(IOASID_VFIO_IOMMU) on a
 * container is 1 exactly when ioasid would serve or serves it: a program learns which
 * driver serves its container. The value is "IOAS" in ASCII, far above VFIO's own IOMMU
 * types and extensions (small numbers counted up from 1). See Documentation/ioasid.rst,
 * "Using ioasid with VFIO".
 */
#define IOASID_VFIO_IOMMU 0x494f4153

/**
 * enum iommufd_hwpt_alloc_flags - flags of IOMMU_HWPT_ALLOC
 * @IOMMU_HWPT_ALLOC_NEST_PARENT: the HWPT can be the parent of nested HWPTs
 * @IOMMU_HWPT_ALLOC_DIRTY_TRACKING: the domain can track dirty IOPTEs
 *                                   (IOMMU_HWPT_SET_DIRTY_TRACKING,
 *                                   IOMMU_HWPT_GET_DIRTY_BITMAP); only devices whose
 *                                   IOMMU can track dirty pages may attach
 * @IOMMU_HWPT_FAULT_ID_VALID: @fault_id names a fault queue (IOMMU_FAULT_QUEUE_ALLOC):
 *                             the HWPT is IOPF-capable
 * @IOMMU_HWPT_ALLOC_PASID: the domain can be attached to PASIDs
 */
enum iommufd_hwpt_alloc_flags {
	IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0,
	IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1,
	IOMMU_HWPT_FAULT_ID_VALID = 1 << 2,
	IOMMU_HWPT_ALLOC_PASID = 1 << 3,
};

/**
 * struct iommu_hwpt_alloc - ioctl(IOMMU_HWPT_ALLOC)
 * @size: sizeof(struct iommu_hwpt_alloc)
 * @flags: enum iommufd_hwpt_alloc_flags
 * @dev_id: the device whose IOMMU the HWPT is for
 * @pt_id: the IOAS a paging HWPT maps, or the paging HWPT or vIOMMU a nested HWPT is
 *         built on
 * @out_hwpt_id: the new HWPT's ID
 * @__reserved: must be 0
 * @data_type: driver data type: 0 (none) for a paging HWPT; the nested domain's type for
 *             a nested HWPT
 * @data_len: length of the driver data, 0 with @data_type 0
 * @data_uptr: the driver data
 * @fault_id: with IOMMU_HWPT_FAULT_ID_VALID, the fault queue the HWPT delivers its
 *            devices' page requests to
 * @__reserved2: must be 0
 *
 * With an IOAS @pt_id: allocates a paging domain for @dev_id's IOMMU and keeps it filled
 * with every mapping of the IOAS (pinning the pages when it is the IOAS's first domain),
 * ready for devices to attach. The IOAS's alignment rises to the domain's smallest page
 * and what lies outside the domain's aperture becomes reserved. For a PCI device
 * (IOASID_DEVICE_BIND) the domain is the IOMMU driver's (iommu_paging_domain_alloc_flags):
 * it sees NEST_PARENT and PASID, and its refusal is returned as it is (QEMU's VT-d
 * refuses NEST_PARENT with EOPNOTSUPP; its SMMUv3 in stage=nested accepts it).
 * DIRTY_TRACKING is refused (EOPNOTSUPP), as iommufd does, when the IOMMU cannot track
 * dirty pages (IOMMU_GET_HW_INFO has no IOMMU_HW_CAP_DIRTY_TRACKING), and for every real
 * IOMMU: ioasid drives the dirty tracking of the mock IOMMU only (QEMU's VT-d and SMMUv3
 * cannot track dirty pages), and IOMMU_GET_HW_INFO never reports the capability for a PCI
 * device. For the test interface's mock devices it is ioasid's
 * mock IOMMU: without driver data a page table of 2 KiB and 4 KiB IOPTEs; with
 * IOMMU_HWPT_DATA_SELFTEST data (struct iommu_hwpt_selftest of iommufd_test.h) its
 * @pagetable_type picks MOCK_IOMMUPT_DEFAULT (the same) or MOCK_IOMMUPT_HUGE (4 KiB and
 * 1 MiB IOPTEs); DIRTY_TRACKING gives it a dirty bit per IOPTE unless the device was made
 * with MOCK_FLAGS_DEVICE_NO_DIRTY.
 *
 * With a HWPT @pt_id: allocates a nested HWPT, whose domain translates through a stage-1
 * table the user owns (described by the driver data) and then through @pt_id's domain
 * (stage 2). @pt_id must be a paging HWPT allocated with IOMMU_HWPT_ALLOC_NEST_PARENT
 * for the same IOMMU; it cannot be destroyed (EBUSY) while a nested HWPT uses it. Devices
 * attach to a nested HWPT and replace between it and paging HWPTs as with any HWPT;
 * after changing the stage-1 table the user invalidates the IOMMU's caches with
 * IOMMU_HWPT_INVALIDATE. The data types so far: the test interface's mock IOMMU, with
 * upstream iommufd's IOMMU_HWPT_DATA_SELFTEST (0xdead, struct iommu_hwpt_selftest of
 * iommufd_test.h: a 4-entry mock IOTLB that starts at @iotlb in every entry; its stage 1
 * is the identity) and ioasid's own IOASID_HWPT_DATA_MOCK_S1 (struct ioasid_hwpt_mock_s1,
 * below: a stage-1 table mock DMA really walks, with a translation cache). For a PCI
 * device on a real NEST_PARENT HWPT, @data_type, @data_uptr and @data_len go unchanged to
 * the IOMMU driver's domain_alloc_nested, whose refusal is returned (EOPNOTSUPP when the
 * driver has no such op, as SMMUv3, whose nested domains need a vIOMMU); ioasid cannot
 * attach a real nested domain yet, so one the driver makes is freed and the call is
 * EOPNOTSUPP, which is why iommufd's IOMMU_HWPT_DATA_VTD_S1 (1) and
 * IOMMU_HWPT_DATA_ARM_SMMUV3 (2) are not published here yet.
 *
 * With a vIOMMU @pt_id (IOMMU_VIOMMU_ALLOC): allocates a nested HWPT as above on the
 * vIOMMU's parent, holding the vIOMMU instead (EBUSY on its destroy while the nested HWPT
 * exists). @dev_id must be behind the vIOMMU's IOMMU (EINVAL otherwise), then the rules
 * of a nested HWPT apply. A mock device attaches to it only once it has a vDEVICE on that
 * vIOMMU (ENOENT otherwise).
 *
 * With IOMMU_HWPT_FAULT_ID_VALID (paging or nested HWPT): the HWPT is IOPF-capable; the
 * page requests of the devices attached to it go to fault queue @fault_id, which cannot
 * be destroyed (EBUSY) while the HWPT exists; destroying the HWPT fails its outstanding
 * requests. Only the mock IOMMU raises page requests in ioasid: for a PCI device the
 * flag is refused (EOPNOTSUPP; no device QEMU emulates has a PRI capability).
 *
 * Errors: EOPNOTSUPP for non-zero reserved fields, unknown @flags, driver data for a
 * paging HWPT of a real IOMMU (or a mock @data_type or @pagetable_type the mock does not
 * know), DIRTY_TRACKING on a real IOMMU or one without dirty tracking, or a flag the
 * IOMMU driver refuses, FAULT_ID_VALID for a PCI device or with NEST_PARENT; for a nested HWPT, flags other than
 * FAULT_ID_VALID and PASID, no driver data, a real
 * IOMMU, or a @data_type the driver does not know. EINVAL when @data_type and @data_len
 * disagree, @pt_id is neither an IOAS, a HWPT nor a vIOMMU, or (nested) the parent is
 * nested, automatic, not a NEST_PARENT or of another IOMMU, the device is not behind a
 * vIOMMU @pt_id's IOMMU, or the data is shorter than the type's first version or longer
 * than the kernel's structure; EFAULT when the data cannot be read; ENOENT when @dev_id is not a
 * device or @fault_id not a fault queue (checked after everything else); ENODEV when the device's binding was revoked; EADDRINUSE when a mapping is
 * misaligned for the domain or outside its aperture; ENOMEM (also over RLIMIT_MEMLOCK);
 * other errors of the IOMMU driver.
 */
struct iommu_hwpt_alloc {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 pt_id;
	__u32 out_hwpt_id;
	__u32 __reserved;
	__u32 data_type;
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 fault_id;
	__u32 __reserved2;
};
#define IOMMU_HWPT_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_ALLOC)

/**
 * enum iommufd_hwpt_set_dirty_tracking_flags - flags of IOMMU_HWPT_SET_DIRTY_TRACKING
 * @IOMMU_HWPT_DIRTY_TRACKING_ENABLE: turn dirty tracking on (off without it)
 */
enum iommufd_hwpt_set_dirty_tracking_flags {
	IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1,
};

/**
 * struct iommu_hwpt_set_dirty_tracking - ioctl(IOMMU_HWPT_SET_DIRTY_TRACKING)
 * @size: sizeof(struct iommu_hwpt_set_dirty_tracking)
 * @flags: enum iommufd_hwpt_set_dirty_tracking_flags
 * @hwpt_id: a paging HWPT allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING
 * @__reserved: should be 0 (not checked, as in iommufd)
 *
 * Turns the IOMMU's dirty tracking of the HWPT's domain on or off. Turning it on clears
 * every dirty bit first, so the next IOMMU_HWPT_GET_DIRTY_BITMAP reports only what
 * devices wrote from then on. While it is on, a DMA write sets the dirty bit of the IOPTE
 * it goes through (with the mock IOMMU: IOASID_TEST_OP_MOCK_DMA writes, and upstream's
 * IOMMU_TEST_OP_DIRTY; reads set nothing). Turning it on or off again is no error.
 *
 * Errors: EOPNOTSUPP for unknown @flags or a HWPT allocated without
 * IOMMU_HWPT_ALLOC_DIRTY_TRACKING; ENOENT when @hwpt_id is not a paging HWPT.
 */
struct iommu_hwpt_set_dirty_tracking {
	__u32 size;
	__u32 flags;
	__u32 hwpt_id;
	__u32 __reserved;
};
#define IOMMU_HWPT_SET_DIRTY_TRACKING _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING)

/**
 * enum iommufd_hwpt_get_dirty_bitmap_flags - flags of IOMMU_HWPT_GET_DIRTY_BITMAP
 * @IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR: read the dirty state without clearing it (for
 *                                        example just before unmapping the range)
 */
enum iommufd_hwpt_get_dirty_bitmap_flags {
	IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1,
};

/**
 * struct iommu_hwpt_get_dirty_bitmap - ioctl(IOMMU_HWPT_GET_DIRTY_BITMAP)
 * @size: sizeof(struct iommu_hwpt_get_dirty_bitmap)
 * @hwpt_id: a paging HWPT allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING
 * @flags: enum iommufd_hwpt_get_dirty_bitmap_flags
 * @__reserved: must be 0
 * @iova: the IOVA of the bitmap's first bit
 * @length: the length of the IOVA range
 * @page_size: the bytes of IOVA each bit stands for (a power of two)
 * @data: the bitmap, at any byte address
 *
 * Sets bit i of the bitmap (bit i % 8 of byte i / 8, as an unsigned long bitmap on a
 * little-endian machine: data[(iova / page_size) / 64] & (1ULL << ((iova / page_size) %
 * 64)) with 64-bit words) for each page_size page of [@iova, @iova + @length) that a
 * dirty IOPTE covers, and clears the IOPTEs' dirty bits unless NO_CLEAR. A dirty IOPTE
 * larger than @page_size sets every bit it covers (a dirty 1 MiB IOPTE is 256 bits at a
 * 4 KiB @page_size). Bits are only set, never cleared: zero the bitmap first. The range
 * must be mapped without a hole; @iova and @iova + @length must be aligned to @page_size
 * and to the IOAS's alignment (IOMMU_IOAS_IOVA_RANGES' @out_iova_alignment).
 *
 * Errors: EOPNOTSUPP for unknown @flags, a non-zero @__reserved, or a HWPT allocated
 * without IOMMU_HWPT_ALLOC_DIRTY_TRACKING; ENOENT when @hwpt_id is not a paging HWPT;
 * EINVAL for a zero @length or @page_size, a @page_size that is not a power of two (which
 * iommufd does not check), a misaligned range, or a range not fully mapped; EOVERFLOW
 * when the range wraps; EFAULT when the bitmap cannot be read or written.
 */
struct iommu_hwpt_get_dirty_bitmap {
	__u32 size;
	__u32 hwpt_id;
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 page_size;
	__aligned_u64 data;
};
#define IOMMU_HWPT_GET_DIRTY_BITMAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP)

/**
 * struct iommu_hwpt_invalidate - ioctl(IOMMU_HWPT_INVALIDATE)
 * @size: sizeof(struct iommu_hwpt_invalidate)
 * @hwpt_id: a nested HWPT or a vIOMMU
 * @data_uptr: the array of invalidation entries
 * @data_type: the entries' type, one the nested HWPT's IOMMU driver knows
 * @entry_len: the length of each entry
 * @entry_num: in: the number of entries; out: how many were handled
 * @__reserved: must be 0
 *
 * Invalidates the IOMMU's caches of a nested HWPT's stage 1 after the user changed the
 * stage-1 table. The driver handles the entries in order and stops at the first that
 * fails; @entry_num is written back with the number handled, also when the ioctl fails.
 * @entry_num 0 only checks @data_type. Each entry is read as the type's structure: not
 * shorter than its first version, not longer than the kernel's structure. For the test
 * interface's mock nested HWPTs the type is upstream iommufd's
 * IOMMU_HWPT_INVALIDATE_DATA_SELFTEST (0xdeadbeef, struct iommu_hwpt_invalidate_selftest
 * of iommufd_test.h): IOMMU_TEST_INVALIDATE_FLAG_ALL clears every mock IOTLB entry,
 * otherwise entry @iotlb_id (0-3) is cleared; for IOASID_HWPT_DATA_MOCK_S1 ones it is
 * IOASID_HWPT_INVALIDATE_DATA_MOCK_S1 (struct ioasid_hwpt_invalidate_mock_s1).
 *
 * With a vIOMMU @hwpt_id the entries name devices by their vDEVICE's virtual ID, and are
 * all read before the first is handled, as iommufd's copy of a full array: an entry
 * shorter than the type's structure is zero-extended, a longer one must hold zeros past it
 * (E2BIG; then no entry is handled). For the test interface's mock vIOMMU
 * (IOMMU_VIOMMU_TYPE_SELFTEST) the type is upstream iommufd's
 * IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST (0xdeadbeef, struct
 * iommu_viommu_invalidate_selftest of iommufd_test.h: @flags, @vdev_id, @cache_id): it
 * clears entry @cache_id (0-3) of the mock cache of the device whose vDEVICE has virtual
 * ID @vdev_id, or every entry with IOMMU_TEST_INVALIDATE_FLAG_ALL (@cache_id is still
 * checked); IOMMU_TEST_OP_DEV_CHECK_CACHE reads the cache back. EINVAL for a @cache_id
 * above 3 or a @vdev_id no vDEVICE of the vIOMMU has; EOPNOTSUPP for other flags.
 *
 * Errors: EOPNOTSUPP for a non-zero reserved field or flags the driver does not know;
 * EINVAL when @entry_num is not 0 and @data_uptr is 0, @entry_len is 0 or larger than a
 * page or @entry_num is above 2^19, when @hwpt_id is not a nested HWPT, for a type the
 * driver does not know, an entry of the wrong length or an entry the driver refuses,
 * and when @hwpt_id is neither a nested HWPT nor a vIOMMU; ENOENT when there is no object
 * @hwpt_id; E2BIG (vIOMMU: an entry with non-zero bytes past its structure); ENOMEM;
 * EFAULT.
 */
struct iommu_hwpt_invalidate {
	__u32 size;
	__u32 hwpt_id;
	__aligned_u64 data_uptr;
	__u32 data_type;
	__u32 entry_len;
	__u32 entry_num;
	__u32 __reserved;
};
#define IOMMU_HWPT_INVALIDATE _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_INVALIDATE)

/*
 * The types of IOMMU_VIOMMU_ALLOC: ioasid implements only the test interface's mock
 * vIOMMU so far, IOMMU_VIOMMU_TYPE_SELFTEST (0xdeadbeef) of upstream's iommufd_test.h.
 * iommufd's types for real IOMMUs (IOMMU_VIOMMU_TYPE_ARM_SMMUV3 = 1,
 * IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV = 2) are not published here until ioasid drives them:
 * they are refused (EOPNOTSUPP) like any unknown type, as type 0 is.
 */

/**
 * struct iommu_viommu_alloc - ioctl(IOMMU_VIOMMU_ALLOC)
 * @size: sizeof(struct iommu_viommu_alloc)
 * @flags: must be 0
 * @type: the vIOMMU type (IOMMU_VIOMMU_TYPE_SELFTEST of the test interface so far)
 * @dev_id: a device behind the IOMMU the vIOMMU is a slice of
 * @hwpt_id: the nest-parent HWPT (the VM's stage 2) the vIOMMU is built on
 * @out_viommu_id: the new vIOMMU's ID
 * @data_len: length of the type's data, 0 for none
 * @__reserved: not looked at (as iommufd)
 * @data_uptr: the type's data
 *
 * Allocates a vIOMMU: the slice of a physical IOMMU that a VMM gives one VM. It holds
 * @hwpt_id (which cannot be destroyed while the vIOMMU exists: EBUSY) and is the
 * namespace of the VM's device IDs (IOMMU_VDEVICE_ALLOC), the parent of nested HWPTs
 * (IOMMU_HWPT_ALLOC with the vIOMMU's ID as @pt_id) and the target of invalidations that
 * name devices by virtual ID (IOMMU_HWPT_INVALIDATE with the vIOMMU's ID). It cannot be
 * destroyed while a vDEVICE or nested HWPT uses it (EBUSY).
 *
 * The only type so far is the test interface's mock vIOMMU, IOMMU_VIOMMU_TYPE_SELFTEST
 * (0xdeadbeef) on a mock device, whose data is upstream's struct iommu_viommu_selftest
 * (iommufd_test.h; read as IOMMU_HWPT_ALLOC's data: not shorter than its first version,
 * 8 bytes, not longer than 24): @out_data comes back equal to @in_data, and so does the
 * first __u32 (native byte order) of the vIOMMU's mmap region, two zeroed pages that
 * mmap() of this file maps at @out_mmap_offset for @out_mmap_length bytes (written back
 * only when the data is long enough to hold them). The mapping must be MAP_SHARED
 * (EINVAL otherwise) and not executable (EPERM), at exactly that offset for exactly that
 * length (ENXIO otherwise, as for an offset no vIOMMU has); it holds the vIOMMU, which
 * cannot be destroyed until every mapping of the region (including fork()'s copies and
 * what a partial munmap() leaves) is gone (EBUSY), and it keeps the file open. The types
 * of real IOMMU drivers (IOMMU_VIOMMU_TYPE_ARM_SMMUV3, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)
 * are refused for now.
 *
 * Errors: EOPNOTSUPP for non-zero @flags, type 0, a type the device's IOMMU has no
 * vIOMMU of (every type on a PCI device, for now); ENOENT when @dev_id is not a device
 * or @hwpt_id not a paging HWPT; EINVAL when @hwpt_id was not allocated with
 * IOMMU_HWPT_ALLOC_NEST_PARENT or is of another IOMMU, or the data's length is out of
 * bounds; EFAULT; ENOMEM.
 */
struct iommu_viommu_alloc {
	__u32 size;
	__u32 flags;
	__u32 type;
	__u32 dev_id;
	__u32 hwpt_id;
	__u32 out_viommu_id;
	__u32 data_len;
	__u32 __reserved;
	__aligned_u64 data_uptr;
};
#define IOMMU_VIOMMU_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VIOMMU_ALLOC)

/**
 * enum iommu_hwpt_pgfault_flags - flags of struct iommu_hwpt_pgfault
 * @IOMMU_PGFAULT_FLAGS_PASID_VALID: @pasid is valid
 * @IOMMU_PGFAULT_FLAGS_LAST_PAGE: the last request of its group
 */
enum iommu_hwpt_pgfault_flags {
	IOMMU_PGFAULT_FLAGS_PASID_VALID = 1 << 0,
	IOMMU_PGFAULT_FLAGS_LAST_PAGE = 1 << 1,
};

/**
 * enum iommu_hwpt_pgfault_perm - the access a page request needs
 * @IOMMU_PGFAULT_PERM_READ: read
 * @IOMMU_PGFAULT_PERM_WRITE: write
 * @IOMMU_PGFAULT_PERM_EXEC: execute
 * @IOMMU_PGFAULT_PERM_PRIV: privileged
 */
enum iommu_hwpt_pgfault_perm {
	IOMMU_PGFAULT_PERM_READ = 1 << 0,
	IOMMU_PGFAULT_PERM_WRITE = 1 << 1,
	IOMMU_PGFAULT_PERM_EXEC = 1 << 2,
	IOMMU_PGFAULT_PERM_PRIV = 1 << 3,
};

/**
 * struct iommu_hwpt_pgfault - one page request, read from a fault queue's file
 * @flags: enum iommu_hwpt_pgfault_flags
 * @dev_id: the device (its ID in this context) that made the request
 * @pasid: the PASID, with IOMMU_PGFAULT_FLAGS_PASID_VALID
 * @grpid: the group number the device gave its requests
 * @perm: enum iommu_hwpt_pgfault_perm
 * @__reserved: 0
 * @addr: the faulting address (for a nested HWPT: the stage-1 input address)
 * @length: 0 (a page)
 * @cookie: names the group in the response; the same for every request of a group
 */
struct iommu_hwpt_pgfault {
	__u32 flags;
	__u32 dev_id;
	__u32 pasid;
	__u32 grpid;
	__u32 perm;
	__u32 __reserved;
	__aligned_u64 addr;
	__u32 length;
	__u32 cookie;
};

/**
 * enum iommufd_page_response_code - the response to a fault group
 * @IOMMUFD_PAGE_RESP_SUCCESS: the pages are mapped; the device retries the access
 * @IOMMUFD_PAGE_RESP_INVALID: the pages cannot be mapped; the access fails
 */
enum iommufd_page_response_code {
	IOMMUFD_PAGE_RESP_SUCCESS = 0,
	IOMMUFD_PAGE_RESP_INVALID = 1,
};

/**
 * struct iommu_hwpt_page_response - a response, written to a fault queue's file
 * @cookie: the cookie of the group read
 * @code: enum iommufd_page_response_code
 */
struct iommu_hwpt_page_response {
	__u32 cookie;
	__u32 code;
};

/**
 * struct iommu_fault_alloc - ioctl(IOMMU_FAULT_QUEUE_ALLOC)
 * @size: sizeof(struct iommu_fault_alloc)
 * @flags: must be 0
 * @out_fault_id: the fault queue's object ID, for IOMMU_HWPT_ALLOC's @fault_id
 * @out_fault_fd: the fault queue's file descriptor (close-on-exec)
 *
 * Allocates a fault queue: the HWPTs allocated with IOMMU_HWPT_FAULT_ID_VALID and its ID
 * deliver the page requests (I/O page faults) of their devices to it, in groups: the
 * requests a device made together, the last flagged IOMMU_PGFAULT_FLAGS_LAST_PAGE.
 *
 * read() of the file returns as many whole groups as fit, oldest first, as struct
 * iommu_hwpt_pgfault records (0 bytes when none is queued; it never blocks: poll() for
 * EPOLLIN). Each group read gets a cookie and waits for a response from then on.
 * ESPIPE for a file position other than 0 or a length that is not a multiple of the
 * record, EINVAL when the oldest group does not fit, EFAULT (after whole groups were
 * read, read() returns their length instead).
 *
 * write() takes struct iommu_hwpt_page_response records and completes the group of each
 * cookie with its code, in order: ESPIPE as for read(), EINVAL for an unknown code or a
 * cookie that names no group waiting for a response (never read, answered already, or
 * failed), EFAULT; after some records were taken, write() returns their length instead.
 * poll() gives EPOLLOUT always, EPOLLIN | EPOLLRDNORM while a group is queued.
 *
 * Nothing waits for a response forever: a group is completed with failure (as INVALID)
 * when the file is released (every group then, and every later one at once), when the
 * queue is destroyed, when the HWPT it came through is destroyed, or when the device
 * stops waiting (the mock's DMA waits 5 s). The queue cannot be destroyed (EBUSY) while
 * its file is open or a HWPT uses it, as in iommufd.
 *
 * Errors: EOPNOTSUPP for non-zero @flags; EMFILE; ENOMEM.
 */
struct iommu_fault_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_fault_id;
	__u32 out_fault_fd;
};
#define IOMMU_FAULT_QUEUE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_FAULT_QUEUE_ALLOC)

/**
 * struct iommu_vdevice_alloc - ioctl(IOMMU_VDEVICE_ALLOC)
 * @size: sizeof(struct iommu_vdevice_alloc)
 * @viommu_id: the vIOMMU
 * @dev_id: the bound device the VM sees behind it
 * @out_vdevice_id: the new vDEVICE's ID
 * @virt_id: the device's ID in the VM (a vSID, vRID, ...), unique per vIOMMU
 *
 * Allocates a vDEVICE: device @dev_id as the VM numbers it behind vIOMMU @viommu_id. A
 * device has at most one vDEVICE. The vDEVICE holds the vIOMMU (EBUSY on its destroy) but
 * does not keep the device bound: destroy the vDEVICE first. If the device is unbound
 * first (a mock device: its test object destroyed), the vDEVICE goes with it and its ID
 * stays taken, ENOENT to IOMMU_DESTROY and never reused, until the file is closed.
 *
 * Errors: ENOENT when @viommu_id is not a vIOMMU, @dev_id not a device, or the device is
 * being unbound; EINVAL when the device is not behind the vIOMMU's IOMMU; EEXIST when
 * @virt_id is taken on the vIOMMU or the device has a vDEVICE already; ENOMEM.
 */
struct iommu_vdevice_alloc {
	__u32 size;
	__u32 viommu_id;
	__u32 dev_id;
	__u32 out_vdevice_id;
	__aligned_u64 virt_id;
};
#define IOMMU_VDEVICE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VDEVICE_ALLOC)

/**
 * enum iommu_veventq_flag - flags of struct iommufd_vevent_header
 * @IOMMU_VEVENTQ_FLAG_LOST_EVENTS: events were lost after the previous one read
 */
enum iommu_veventq_flag {
	IOMMU_VEVENTQ_FLAG_LOST_EVENTS = 1U << 0,
};

/**
 * struct iommufd_vevent_header - the header of each event read from a vEVENTQ
 * @flags: enum iommu_veventq_flag
 * @sequence: the event's sequence number, 0 to INT_MAX and then 0 again
 *
 * Each event is a header followed by its data (for upstream's mock vIOMMU, struct
 * iommu_viommu_event_selftest of iommufd_test.h: the device's virtual ID). Sequence
 * numbers of consecutive events differ by 1; a larger gap counts the events lost between
 * them. When the newest event was lost, a header with IOMMU_VEVENTQ_FLAG_LOST_EVENTS and
 * the lost event's sequence number, with no data, comes last instead.
 */
struct iommufd_vevent_header {
	__u32 flags;
	__u32 sequence;
};

/**
 * enum iommu_veventq_type - the type of a vEVENTQ's events
 * @IOMMU_VEVENTQ_TYPE_DEFAULT: reserved (EOPNOTSUPP)
 *
 * The types of vIOMMUs ioasid implements: upstream's mock IOMMU_VEVENTQ_TYPE_SELFTEST
 * (iommufd_test.h). iommufd's types of real IOMMUs are left out: ioasid has no vIOMMU of
 * a real IOMMU yet.
 */
enum iommu_veventq_type {
	IOMMU_VEVENTQ_TYPE_DEFAULT = 0,
};

/**
 * struct iommu_veventq_alloc - ioctl(IOMMU_VEVENTQ_ALLOC)
 * @size: sizeof(struct iommu_veventq_alloc)
 * @flags: must be 0
 * @viommu_id: the vIOMMU
 * @type: enum iommu_veventq_type (not DEFAULT)
 * @veventq_depth: the most events queued at once, 1 to 1 << 19
 * @out_veventq_id: the vEVENTQ's object ID
 * @out_veventq_fd: its file descriptor (close-on-exec)
 * @__reserved: must be 0
 *
 * Allocates the vIOMMU's queue of events of @type (at most one per type), which holds
 * the vIOMMU (EBUSY on its destroy). read() of the file returns whole events (struct
 * iommufd_vevent_header, then the data), oldest first, 0 bytes when none is queued; it
 * never blocks: poll() gives EPOLLIN while an event is queued. An event that finds
 * @veventq_depth events queued is lost, and the reader sees it (see struct
 * iommufd_vevent_header). read(): ESPIPE at a file position other than 0, EINVAL for a
 * length below the header or when the oldest event does not fit, EFAULT (after whole
 * events, their length is returned instead); there is no write() (EINVAL). The vEVENTQ
 * cannot be destroyed (EBUSY) while its file is open, as in iommufd.
 *
 * Errors: EOPNOTSUPP for non-zero @flags or @__reserved, or type DEFAULT; EINVAL for a
 * depth out of bounds; ENOENT when @viommu_id is not a vIOMMU; EEXIST when it has a
 * vEVENTQ of @type; EMFILE; ENOMEM.
 */
struct iommu_veventq_alloc {
	__u32 size;
	__u32 flags;
	__u32 viommu_id;
	__u32 type;
	__u32 veventq_depth;
	__u32 out_veventq_id;
	__u32 out_veventq_fd;
	__u32 __reserved;
};
#define IOMMU_VEVENTQ_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VEVENTQ_ALLOC)

/**
 * struct iommu_hw_queue_alloc - ioctl(IOMMU_HW_QUEUE_ALLOC)
 * @size: sizeof(struct iommu_hw_queue_alloc)
 * @flags: must be 0
 * @viommu_id: the vIOMMU the queue belongs to
 * @type: the queue type: so far only the test interface's mock vIOMMU has one, upstream's
 *        IOMMU_HW_QUEUE_TYPE_SELFTEST (0xdeadbeef, iommufd_test.h); type 0 is reserved,
 *        and iommufd's types of real IOMMUs are refused like any unknown type and left
 *        out of this header until they work
 * @index: the queue's index among the vIOMMU's queues of @type
 * @out_hw_queue_id: the new HW queue's ID
 * @nesting_parent_iova: the queue's memory: an IOVA of the IOAS of the vIOMMU's
 *                       nest-parent HWPT (a guest-physical address)
 * @length: the queue's length in bytes
 *
 * Allocates a HW queue: a queue in guest memory that the hardware reads by physical
 * address, bypassing the IOMMU. Its memory, the whole pages around @length bytes at
 * @nesting_parent_iova, is pinned read-only for the queue's whole life and must be
 * physically contiguous: IOMMU_IOAS_UNMAP of it gives EBUSY until the queue is
 * destroyed. The queue holds the vIOMMU (EBUSY on its destroy).
 *
 * The mock vIOMMU has two queue indexes, allocated from 0 up: index 1 needs index 0
 * (EIO), an index is taken once (EEXIST), and queue 0 cannot be destroyed while queue 1
 * exists (EBUSY).
 *
 * Errors: EOPNOTSUPP for non-zero @flags, type 0 or a type the vIOMMU has no queues of;
 * EINVAL for a zero @length or an index beyond the vIOMMU's queues; EOVERFLOW when the
 * queue's last byte is past 2^64 - 1; ENOENT when @viommu_id is not a vIOMMU or the
 * memory is not fully mapped; ERANGE when its whole pages do not fit below 2^64; EFAULT
 * when its pages are not physically contiguous; EEXIST, EIO as above; ENOMEM and the
 * errors of pinning.
 */
struct iommu_hw_queue_alloc {
	__u32 size;
	__u32 flags;
	__u32 viommu_id;
	__u32 type;
	__u32 index;
	__u32 out_hw_queue_id;
	__aligned_u64 nesting_parent_iova;
	__aligned_u64 length;
};
#define IOMMU_HW_QUEUE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HW_QUEUE_ALLOC)

/*
 * ioasid's own stage-1 format for the test interface's mock IOMMU (selftest=1 only):
 * IOMMU_HWPT_ALLOC with @data_type IOASID_HWPT_DATA_MOCK_S1 on a mock NEST_PARENT HWPT
 * makes a nested HWPT whose stage 1 is a page table the user builds in its own memory,
 * mapped in the parent's IOAS. Every address in it is an IOVA of that IOAS (for a VMM: a
 * guest-physical address), which the parent's domain translates (stage 2):
 *
 *   device IOVA --stage 1: table at @root (two levels)--> IOVA of the parent's IOAS
 *               --stage 2: the parent's mock domain-----> the user's page
 *
 * Two levels of 512 64-bit entries in the CPU's byte order, 4 KiB pages, input
 * IOVAs [0, 1 GiB): bits 29-21 of the IOVA index the level-1 table at @root, bits 20-12
 * the level-2 table that level-1 entry points to, whose entry points to the 4 KiB page.
 * An entry is (address & ~0xfff) | IOASID_MOCK_S1_WRITE | IOASID_MOCK_S1_READ |
 * IOASID_MOCK_S1_VALID; an access needs its permission in both levels' entries. A mock
 * device's DMA (IOASID_TEST_OP_MOCK_DMA) walks the table as hardware would, reading each
 * entry through stage 2: EFAULT for an IOVA beyond the input space, an entry that is not
 * VALID, or an entry or page stage 2 does not map; EPERM when either stage does not allow
 * the access. The walk's results are cached per nested HWPT (8 translations, replaced
 * round robin), as an IOTLB: after the user changes the table, DMA keeps using a cached
 * translation until IOMMU_HWPT_INVALIDATE with IOASID_HWPT_INVALIDATE_DATA_MOCK_S1 entries
 * drops it (IOASID_MOCK_S1_INVALIDATE_ALL, or the translations of [@iova, @iova +
 * @length)). Any unmap in the parent's domain empties the cache (everything in it was
 * found through the parent's mappings).
 */
#define IOASID_HWPT_DATA_MOCK_S1 0x10000
#define IOASID_HWPT_INVALIDATE_DATA_MOCK_S1 0x10000
#define IOASID_MOCK_S1_VALID (1ULL << 0)
#define IOASID_MOCK_S1_READ (1ULL << 1)
#define IOASID_MOCK_S1_WRITE (1ULL << 2)
#define IOASID_MOCK_S1_INVALIDATE_ALL (1U << 0)

/**
 * struct ioasid_hwpt_mock_s1 - IOMMU_HWPT_ALLOC data of type IOASID_HWPT_DATA_MOCK_S1
 * @root: the level-1 table, an IOVA of the parent's IOAS, 4 KiB aligned (else EINVAL)
 * @flags: must be 0 (else EOPNOTSUPP)
 * @__reserved: must be 0 (else EOPNOTSUPP)
 *
 * The table need not exist yet: it is read at DMA time, as hardware would.
 */
struct ioasid_hwpt_mock_s1 {
	__aligned_u64 root;
	__u32 flags;
	__u32 __reserved;
};

/**
 * struct ioasid_hwpt_invalidate_mock_s1 - an IOASID_HWPT_INVALIDATE_DATA_MOCK_S1 entry
 * @iova: the first IOVA whose cached translation goes
 * @length: how many bytes from @iova (not 0, not wrapping: else EINVAL)
 * @flags: IOASID_MOCK_S1_INVALIDATE_ALL drops every translation (@iova and @length are
 *         ignored); other bits EOPNOTSUPP
 * @__reserved: must be 0 (else EOPNOTSUPP)
 */
struct ioasid_hwpt_invalidate_mock_s1 {
	__aligned_u64 iova;
	__aligned_u64 length;
	__u32 flags;
	__u32 __reserved;
};

/**
 * enum iommu_hw_info_flags - flags of IOMMU_GET_HW_INFO
 * @IOMMU_HW_INFO_FLAG_INPUT_TYPE: @in_data_type names the data type wanted
 */
enum iommu_hw_info_flags {
	IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1 << 0,
};

/**
 * enum iommu_hw_info_type - data types of IOMMU_GET_HW_INFO
 * @IOMMU_HW_INFO_TYPE_DEFAULT: (input) whatever the device's IOMMU reports
 * @IOMMU_HW_INFO_TYPE_NONE: (output) the IOMMU reports no data
 * @IOMMU_HW_INFO_TYPE_INTEL_VTD: struct iommu_hw_info_vtd
 * @IOMMU_HW_INFO_TYPE_ARM_SMMUV3: struct iommu_hw_info_arm_smmuv3
 * @IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV: NVIDIA Tegra241 CMDQV (SMMUv3 extension)
 * @IOMMU_HW_INFO_TYPE_AMD: AMD IOMMU
 */
enum iommu_hw_info_type {
	IOMMU_HW_INFO_TYPE_DEFAULT = 0,
	IOMMU_HW_INFO_TYPE_NONE = 0,
	IOMMU_HW_INFO_TYPE_INTEL_VTD = 1,
	IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2,
	IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV = 3,
	IOMMU_HW_INFO_TYPE_AMD = 4,
};

/**
 * struct iommu_hw_info_vtd - Intel VT-d data of IOMMU_GET_HW_INFO
 * @flags: driver flags (errata)
 * @__reserved: 0
 * @cap_reg: the unit's Capability Register
 * @ecap_reg: the unit's Extended Capability Register
 */
struct iommu_hw_info_vtd {
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 cap_reg;
	__aligned_u64 ecap_reg;
};

/**
 * struct iommu_hw_info_arm_smmuv3 - Arm SMMUv3 data of IOMMU_GET_HW_INFO
 * @flags: 0
 * @__reserved: 0
 * @idr: the SMMU's IDR0..IDR5 registers
 * @iidr: its IIDR register
 * @aidr: its AIDR register
 */
struct iommu_hw_info_arm_smmuv3 {
	__u32 flags;
	__u32 __reserved;
	__u32 idr[6];
	__u32 iidr;
	__u32 aidr;
};

/**
 * enum iommufd_hw_capabilities - capabilities in IOMMU_GET_HW_INFO
 * @IOMMU_HW_CAP_DIRTY_TRACKING: the IOMMU can track dirty IOPTEs
 * @IOMMU_HW_CAP_PCI_PASID_EXEC: the device's PASID capability has Execute enabled
 * @IOMMU_HW_CAP_PCI_PASID_PRIV: the device's PASID capability has Privileged enabled
 * @IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED: ATS is not supported or cannot be used
 */
enum iommufd_hw_capabilities {
	IOMMU_HW_CAP_DIRTY_TRACKING = 1 << 0,
	IOMMU_HW_CAP_PCI_PASID_EXEC = 1 << 1,
	IOMMU_HW_CAP_PCI_PASID_PRIV = 1 << 2,
	IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED = 1 << 3,
};

/**
 * struct iommu_hw_info - ioctl(IOMMU_GET_HW_INFO)
 * @size: sizeof(struct iommu_hw_info)
 * @flags: enum iommu_hw_info_flags
 * @dev_id: a device bound to this file
 * @data_len: in: size of the buffer at @data_uptr; out: size of the IOMMU's data
 * @data_uptr: buffer for the IOMMU-specific data
 * @in_data_type: with IOMMU_HW_INFO_FLAG_INPUT_TYPE, the data type wanted
 * @out_data_type: the type of the data returned
 * @out_max_pasid_log2: width of the device's PASIDs, 0 without PASID support
 * @__reserved: must be 0
 * @out_capabilities: enum iommufd_hw_capabilities
 *
 * Reports what the IOMMU behind @dev_id offers. Up to @data_len bytes of its data are
 * copied to @data_uptr and the rest of that buffer is zeroed; @data_len then gives the
 * data's full size. For a PCI device (IOASID_DEVICE_BIND) the data is the IOMMU driver's:
 * struct iommu_hw_info_vtd on Intel VT-d, struct iommu_hw_info_arm_smmuv3 on SMMUv3, with
 * the driver's capabilities and the PASID width the IOMMU core enabled. The test
 * interface's mock devices report type IOMMU_HW_INFO_TYPE_SELFTEST (0xfeedbeef) with 8
 * bytes of data (flags 0, register 0xdeadbeef), a PASID width of 20 for mock devices made
 * with the PASID flag, and no capabilities.
 *
 * Errors: EOPNOTSUPP for unknown @flags, reserved bytes set, or a data type the IOMMU
 * does not have; ENOENT when @dev_id is not a device; ENODEV when the device's binding
 * was revoked; EFAULT.
 */
struct iommu_hw_info {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 data_len;
	__aligned_u64 data_uptr;
	union {
		__u32 in_data_type;
		__u32 out_data_type;
	};
	__u8 out_max_pasid_log2;
	__u8 __reserved[3];
	__aligned_u64 out_capabilities;
};
#define IOMMU_GET_HW_INFO _IO(IOMMUFD_TYPE, IOMMUFD_CMD_GET_HW_INFO)

/**
 * struct iommu_ioas_change_process - ioctl(IOMMU_IOAS_CHANGE_PROCESS)
 * @size: sizeof(struct iommu_ioas_change_process)
 * @__reserved: must be 0
 *
 * Charges the pinned pages of every mapping of every IOAS of this file to the calling
 * process (RLIMIT_MEMLOCK, VmPin, VmLck in per-process mode) instead of the process that
 * made them, for handing a device over to another process. Only mappings made with
 * IOMMU_IOAS_MAP_FILE can move: user addresses belong to one process. All or nothing.
 *
 * Errors: EOPNOTSUPP for non-zero @__reserved; EINVAL if a mapping is not from a file;
 * ENOMEM when the calling process's limit cannot take the pages.
 */
struct iommu_ioas_change_process {
	__u32 size;
	__u32 __reserved;
};
#define IOMMU_IOAS_CHANGE_PROCESS _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_CHANGE_PROCESS)

/*
 * Devices: ioasid's own extension (iommufd gets its devices from VFIO).
 *
 * A PCI device is handed to ioasid by binding it to the "ioasid-pci" driver, with
 * driver_override as for vfio-pci:
 *   echo ioasid-pci > /sys/bus/pci/devices/<BDF>/driver_override
 *   echo <BDF> > /sys/bus/pci/drivers_probe
 * ioasid-pci then creates /dev/ioasid-devices/<BDF> (root, mode 0600). Opening that node
 * is the right to bind the device: its file permissions decide who may. The driver claims
 * no DMA ownership itself (driver_managed_dma); a binding does.
 */
enum {
	IOASID_CMD_DEVICE_BIND = IOASID_CMD_BASE,
	IOASID_CMD_DEVICE_ATTACH,
	IOASID_CMD_DEVICE_DETACH,
	IOASID_CMD_PASID_ALLOC,
	IOASID_CMD_PASID_FREE,
};

/**
 * struct ioasid_device_bind - ioctl(IOASID_DEVICE_BIND)
 * @size: sizeof(struct ioasid_device_bind)
 * @flags: must be 0
 * @dev_fd: an open descriptor of /dev/ioasid-devices/<BDF>
 * @out_dev_id: the device's ID in this file
 *
 * Binds the device to this /dev/ioasid file: claims DMA ownership of the device's whole
 * IOMMU group (iommu_device_claim_dma_owner, so no kernel driver may use another device
 * of the group meanwhile) and blocks its DMA until it is attached. The device comes out
 * stopped: bus mastering is off and the function was reset where it can be (FLR or
 * another of its reset methods; a device without one, or busy being reset or removed, is
 * stopped by bus mastering off alone), its BARs kept. Its user turns bus mastering on
 * (PCI_COMMAND in its config space) when it wants the device to DMA. @out_dev_id works with
 * every ioctl that takes a dev_id (IOMMU_GET_HW_INFO, IOMMU_HWPT_ALLOC,
 * IOASID_DEVICE_ATTACH). The checks run in this order:
 *  - ENODEV: the device is not translated by an IOMMU, or was removed meanwhile;
 *  - EINVAL: the IOMMU cannot enforce cache coherency of the device's DMA;
 *  - EPERM: the group's MSIs are not isolated (no interrupt remapping) and the module
 *    parameter allow_unsafe_interrupts is not set (setting it taints the kernel);
 *  - EBUSY: the device is bound already (to this or another file);
 *  - EPERM: DMA ownership of the group is held by someone else (a kernel driver of
 *    another device in the group, or another owner).
 * Also: EBADF if @dev_fd is not open, EINVAL if it is not an ioasid-pci device node,
 * EOPNOTSUPP for non-zero @flags, ENOMEM.
 *
 * Devices of one IOMMU group (functions of a device without ACS, devices behind a
 * PCIe-to-PCI bridge) can only be owned together: once one is bound, the others can be
 * bound to the same file only (EPERM elsewhere), and a kernel driver cannot bind to them
 * until the last one is unbound. The other devices of the group need not be bound, but
 * then must have no driver, or one that leaves DMA to its user (vfio-pci, ioasid-pci).
 *
 * The binding ends with IOMMU_DESTROY of @out_dev_id or the close of this file, and is
 * revoked when the device file it was made through is closed or the device is removed
 * (driver unbind, hot unplug): the device is detached and DMA ownership returned at once,
 * so the device can no longer reach the context's memory. However the binding ends, the
 * device is stopped as at bind before its DMA ownership goes back, so that nothing its
 * user left running DMAs through the kernel's domain (with an identity domain, iommu=pt,
 * straight to physical memory). A revoked device keeps its ID
 * (every use is ENODEV) until IOMMU_DESTROY or close.
 */
struct ioasid_device_bind {
	__u32 size;
	__u32 flags;
	__s32 dev_fd;
	__u32 out_dev_id;
};
#define IOASID_DEVICE_BIND _IO(IOMMUFD_TYPE, IOASID_CMD_DEVICE_BIND)

/**
 * enum ioasid_device_attach_flags - flags of IOASID_DEVICE_ATTACH/DETACH
 * @IOASID_DEVICE_PASID: the operation is on PASID @pasid of the device, not its RID
 */
enum ioasid_device_attach_flags {
	IOASID_DEVICE_PASID = 1 << 0,
};

/**
 * struct ioasid_device_attach - ioctl(IOASID_DEVICE_ATTACH)
 * @size: sizeof(struct ioasid_device_attach)
 * @flags: enum ioasid_device_attach_flags
 * @dev_id: a bound device
 * @pt_id: in: an IOAS or a paging HWPT; out: the HWPT the device is attached to
 * @pasid: with IOASID_DEVICE_PASID, the PASID
 * @__reserved: must be 0
 *
 * Attaches the device (its IOMMU group) to @pt_id, with VFIO_DEVICE_ATTACH_IOMMUFD_PT's
 * rules. An IOAS gets an automatic HWPT: an existing automatic HWPT of that IOAS whose
 * domain the device's IOMMU accepts, or a new paging domain (destroyed with its last
 * device). A device that is attached already has its domain replaced in one step: its DMA
 * is translated by the old domain until the new one takes over, never by none. Attaching
 * applies the device's reserved regions to the IOAS (they leave IOMMU_IOAS_IOVA_RANGES;
 * on arm64 the software MSI window is set up in the domain).
 *
 * The IOMMU translates a group as a whole, so the bound devices of one group share one
 * HWPT, as with iommufd: while another device of the group is attached, this one can only
 * join that HWPT (EINVAL for any other); attaching one of the group's attached devices
 * elsewhere moves all of them in one step. The group is detached when its last attached
 * device is.
 *
 * @dev_id may also name a mock device of the test interface (IOMMU_TEST_OP_MOCK_DOMAIN),
 * which attaches as upstream's IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE does.
 *
 * With IOASID_DEVICE_PASID, PASID @pasid of the device is attached to @pt_id instead of
 * its RID (VFIO_DEVICE_ATTACH_IOMMUFD_PT with VFIO_DEVICE_ATTACH_PASID): DMA tagged with
 * that PASID is translated by @pt_id's domain. An attached PASID is replaced in one step.
 * The rules (iommufd's): @pt_id must be a HWPT allocated with IOMMU_HWPT_ALLOC_PASID
 * (paging or nested), or an IOAS, which gets an automatic HWPT that is PASID-compatible;
 * the RID must not be attached to a HWPT without IOMMU_HWPT_ALLOC_PASID, and while PASIDs
 * are attached the RID can only be attached to such HWPTs; @pasid must be non-zero and
 * below the device's PASID count (IOMMU_GET_HW_INFO's out_max_pasid_log2); a PASID that
 * another /dev/ioasid file allocated (IOASID_PASID_ALLOC) is refused, one allocated by
 * this file cannot be freed while attached, and any other PASID is the caller's choice.
 *
 * Errors: EOPNOTSUPP for unknown @flags or non-zero @__reserved, and for
 * IOASID_DEVICE_PASID on a device without PASID support (every device QEMU emulates;
 * PASIDs of PCI devices are not attached by ioasid yet: only mock devices' are);
 * ENOENT for an unknown @dev_id or @pt_id; EINVAL when @pt_id is neither an IOAS nor a
 * HWPT or its domain cannot serve this device, or by the PASID rules above; EPERM for a
 * PASID of another file; EADDRINUSE when the device's reserved regions or the domain's
 * aperture collide with mappings of the IOAS; ENODEV when the binding was revoked; the
 * IOMMU driver's errors. On error the device stays as it was.
 */
struct ioasid_device_attach {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 pt_id;
	__u32 pasid;
	__u32 __reserved;
};
#define IOASID_DEVICE_ATTACH _IO(IOMMUFD_TYPE, IOASID_CMD_DEVICE_ATTACH)

/**
 * struct ioasid_device_detach - ioctl(IOASID_DEVICE_DETACH)
 * @size: sizeof(struct ioasid_device_detach)
 * @flags: enum ioasid_device_attach_flags
 * @dev_id: a bound device
 * @pasid: with IOASID_DEVICE_PASID, the PASID
 *
 * Detaches the device: its DMA is blocked until the next attach (unless another device of
 * its IOMMU group is still attached: the group keeps its HWPT until the last one leaves).
 * Its reserved regions leave the IOAS; an automatic HWPT whose last device this was is
 * destroyed.
 *
 * With IOASID_DEVICE_PASID only PASID @pasid is detached (blocked); the RID and other
 * PASIDs stay as they are.
 *
 * Errors: EOPNOTSUPP for unknown @flags, or IOASID_DEVICE_PASID on a device without PASID
 * support; ENOENT for an unknown @dev_id; EINVAL when the device (the PASID) is not
 * attached.
 */
struct ioasid_device_detach {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 pasid;
};
#define IOASID_DEVICE_DETACH _IO(IOMMUFD_TYPE, IOASID_CMD_DEVICE_DETACH)

/**
 * struct ioasid_pasid_alloc - ioctl(IOASID_PASID_ALLOC)
 * @size: sizeof(struct ioasid_pasid_alloc)
 * @flags: must be 0
 * @dev_id: a bound device whose PASID space the PASID comes from
 * @min_pasid: with @max_pasid, the range to allocate from (both 0: the whole space)
 * @max_pasid: the range's last PASID
 * @out_pasid: the PASID
 * @out_id: the PASID's object ID (IOMMU_DESTROY frees it, as IOASID_PASID_FREE does)
 * @__reserved: must be 0
 *
 * Allocates a PASID that the file's devices can share: the lowest free PASID of the range
 * in the mock IOMMU's space for a mock device, or a PASID of the IOMMU core's global space
 * (iommu_alloc_global_pasid, the space of shared work queues and ENQCMD) for a PCI
 * device, whose range must be the whole space. The PASID is returned in @out_pasid and
 * belongs to this file until IOASID_PASID_FREE, IOMMU_DESTROY of @out_id or the file's
 * close: devices of other /dev/ioasid files cannot attach it (EPERM), so no process can
 * use another's shared PASID. A file holds at most pasid_quota PASIDs (module parameter,
 * default 64).
 *
 * Errors: EOPNOTSUPP for non-zero @flags or @__reserved, or a device without PASID
 * support; ENOENT for an unknown @dev_id; EINVAL for a range that is empty, includes
 * PASID 0 or goes beyond the device's PASID count, or any range for a PCI device; EDQUOT
 * when the file holds pasid_quota PASIDs; ENOSPC when no PASID of the range is free.
 */
struct ioasid_pasid_alloc {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 min_pasid;
	__u32 max_pasid;
	__u32 out_pasid;
	__u32 out_id;
	__u32 __reserved;
};
#define IOASID_PASID_ALLOC _IO(IOMMUFD_TYPE, IOASID_CMD_PASID_ALLOC)

/**
 * struct ioasid_pasid_free - ioctl(IOASID_PASID_FREE)
 * @size: sizeof(struct ioasid_pasid_free)
 * @flags: must be 0
 * @dev_id: a bound device of the PASID's space
 * @pasid: a PASID this file allocated from that space
 *
 * Frees the PASID, as IOMMU_DESTROY of its object ID does.
 *
 * Errors: EOPNOTSUPP for non-zero @flags; ENOENT for an unknown @dev_id or a PASID this
 * file did not allocate; EBUSY while one of the file's devices has it attached.
 */
struct ioasid_pasid_free {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 pasid;
};
#define IOASID_PASID_FREE _IO(IOMMUFD_TYPE, IOASID_CMD_PASID_FREE)

#endif /* _UAPI_LINUX_IOASID_H */
