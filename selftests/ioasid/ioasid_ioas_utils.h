/* SPDX-License-Identifier: GPL-2.0 */
/* IOAS ioctl wrappers shared by the ioasid kselftests (0 or -1 with errno, as ioctl). */
#ifndef IOASID_IOAS_UTILS_H
#define IOASID_IOAS_UTILS_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/ioasid.h>

static inline int ioas_alloc(int fd, __u32 *id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int ret = ioctl(fd, IOMMU_IOAS_ALLOC, &cmd);

	if (!ret)
		*id = cmd.out_ioas_id;
	return ret;
}

static inline int ioas_map(int fd, __u32 ioas, void *va, __u64 length, __u64 *iova, __u32 flags)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = length,
		.iova = *iova,
	};
	int ret = ioctl(fd, IOMMU_IOAS_MAP, &cmd);

	if (!ret)
		*iova = cmd.iova;
	return ret;
}

static inline int ioas_unmap(int fd, __u32 ioas, __u64 iova, __u64 length, __u64 *unmapped)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas,
		.iova = iova,
		.length = length,
	};
	int ret = ioctl(fd, IOMMU_IOAS_UNMAP, &cmd);

	if (!ret && unmapped)
		*unmapped = cmd.length;
	return ret;
}

static inline int ioas_copy(int fd, __u32 dst, __u32 src, __u64 src_iova, __u64 length,
		     __u64 *dst_iova, __u32 flags)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dst_ioas_id = dst,
		.src_ioas_id = src,
		.length = length,
		.dst_iova = *dst_iova,
		.src_iova = src_iova,
	};
	int ret = ioctl(fd, IOMMU_IOAS_COPY, &cmd);

	if (!ret)
		*dst_iova = cmd.dst_iova;
	return ret;
}

static inline int ioas_map_file(int fd, __u32 ioas, int mfd, __u64 start, __u64 length, __u64 *iova,
			 __u32 flags)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas,
		.fd = mfd,
		.start = start,
		.length = length,
		.iova = *iova,
	};
	int ret = ioctl(fd, IOMMU_IOAS_MAP_FILE, &cmd);

	if (!ret)
		*iova = cmd.iova;
	return ret;
}

#endif
