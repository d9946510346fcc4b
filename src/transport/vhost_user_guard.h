/* SPDX-License-Identifier: BSD-3-Clause */
/* The registry of guest mappings the SIGBUS guard covers (vhost_user_guard.c). */
#ifndef VIO_TRANSPORT_VHOST_USER_GUARD_H
#define VIO_TRANSPORT_VHOST_USER_GUARD_H

#include <stddef.h>

/* Registers / forgets the mapping [addr, addr + len) (the whole mmap()). */
void vu_guard_add(void *addr, size_t len);
void vu_guard_remove(void *addr);

#endif /* VIO_TRANSPORT_VHOST_USER_GUARD_H */
