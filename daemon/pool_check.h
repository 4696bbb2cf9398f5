/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A hosting endpoint's check of a dialer's claimed source (daemon/pool_check.c; design.md,
 * "Endpoints and the ip-pool", "The hosting side's lease check").
 */
#ifndef SIPOVLD_POOL_CHECK_H
#define SIPOVLD_POOL_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "daemon/sipovld.h"

struct pool_check;
/* the verdict of a check that had to wait: @refusal NULL (allowed) or why it is refused */
typedef void (*pool_check_cb)(void *arg, const char *refusal);

/*
 * Whether a hosted dial claiming @src may originate from it, as far as the pool is concerned
 * (the host.v1 and source_map checks are separate): on an endpoint, a source that is an address
 * of its pool must be the dialer's own lease (@dialer: as pool_check_decide()). 0: allowed now
 * (not an endpoint, not a pool address, or a cached answer); -1: refused now, why in @why; 1:
 * the pool server is being asked: @cb(@arg, ...) is called once, on the loop, unless
 * pool_check_cancel(*@pending) is called first.
 */
int pool_check_source(const struct sockaddr_storage *src, const char *dialer, pool_check_cb cb, void *arg,
		      struct pool_check **pending, char *why, size_t whylen);
void pool_check_cancel(struct pool_check *c);
/* @id stops (its Ziti context goes): the checks asked through it are answered "cannot check" */
void pool_check_ident_stop(struct ident *id);
/* status "endpoint.lease_checks" (NULL when not an endpoint) */
struct json_object *pool_check_json(void);

#endif
