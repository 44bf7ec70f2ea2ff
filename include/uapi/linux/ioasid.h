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

#endif /* _UAPI_LINUX_IOASID_H */
