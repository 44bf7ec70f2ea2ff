/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few libcap calls upstream iommufd's selftest makes (cap_get_proc, cap_set_flag,
 * cap_set_proc, cap_free), on the capget/capset system calls. The toolchain root has no
 * libcap headers or static libcap for either architecture, so the conformance build puts
 * this directory first on the include path instead of linking -lcap.
 */
#ifndef IOASID_CONFORMANCE_SYS_CAPABILITY_H
#define IOASID_CONFORMANCE_SYS_CAPABILITY_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>

typedef int cap_value_t;
typedef enum { CAP_EFFECTIVE = 0, CAP_PERMITTED = 1, CAP_INHERITABLE = 2 } cap_flag_t;
typedef enum { CAP_CLEAR = 0, CAP_SET = 1 } cap_flag_value_t;

struct ioasid_caps {
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
};
typedef struct ioasid_caps *cap_t;

static inline cap_t cap_get_proc(void)
{
	cap_t c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->hdr.version = _LINUX_CAPABILITY_VERSION_3;
	c->hdr.pid = 0;
	if (syscall(SYS_capget, &c->hdr, c->data)) {
		free(c);
		return NULL;
	}
	return c;
}

static inline int cap_set_flag(cap_t c, cap_flag_t flag, int n, const cap_value_t *caps,
			       cap_flag_value_t value)
{
	int i;

	if (!c || n < 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned int word = caps[i] / 32, bit = 1u << (caps[i] % 32);
		__u32 *set;

		if (caps[i] < 0 || word >= _LINUX_CAPABILITY_U32S_3) {
			errno = EINVAL;
			return -1;
		}
		set = flag == CAP_EFFECTIVE ? &c->data[word].effective :
		      flag == CAP_PERMITTED ? &c->data[word].permitted :
					      &c->data[word].inheritable;
		if (value == CAP_SET)
			*set |= bit;
		else
			*set &= ~bit;
	}
	return 0;
}

static inline int cap_set_proc(cap_t c)
{
	if (!c) {
		errno = EINVAL;
		return -1;
	}
	c->hdr.version = _LINUX_CAPABILITY_VERSION_3;
	c->hdr.pid = 0;
	return syscall(SYS_capset, &c->hdr, c->data) ? -1 : 0;
}

static inline int cap_free(void *p)
{
	free(p);
	return 0;
}

#endif
