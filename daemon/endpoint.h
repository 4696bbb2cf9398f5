/* SPDX-License-Identifier: GPL-2.0 */
/* sipovld endpoint mode (endpoint in sipovld.conf): design.md, "Endpoints and the ip-pool". */
#ifndef SIPOVLD_ENDPOINT_H
#define SIPOVLD_ENDPOINT_H

#include <stdbool.h>

#include "daemon/errf.h"
#include "daemon/sipovld.h"

/* endpoint.c: the claim through the pool service, the state file, the address */
/* at start (before the privilege drop): the state file read, the interface created; -1 (logged): do not start */
int endpoint_start(void);
/* the loop runs: claim once the identity is ready (retried with backoff) */
void endpoint_run(void);
void endpoint_stop(void);
/* this sipovld's pool (endpoint.pool), NULL when it is not an endpoint */
const char *endpoint_pool(void);
/* the pool's range as the pool server last told it (range= in its "ok"): false when not told */
bool endpoint_pool_range(struct sipovl_prefix *out);
/* its address's text once the pool server answered, else NULL */
const char *endpoint_addr_text(void);
/* its address (0 when not claimed yet): kernel intercepts leave it out */
bool endpoint_addr(struct sipovl_prefix *out);
/* an endpoint installs no intercept before its claim is answered */
bool endpoint_holds_intercepts(void);
/* @id stops (its Ziti context goes): a claim under way on it ends first */
void endpoint_ident_stop(struct ident *id);
struct json_object *endpoint_json(void); /* status "endpoint", NULL when not an endpoint */

/* endpoint_if.c: the interface (rtnetlink) */
int epif_create(const char *name, char *err, size_t errlen);
int epif_addr(const struct sipovl_prefix *a, bool add, char *err, size_t errlen);
const char *epif_kind(void); /* "dummy" or "ifb", NULL when none */
/* @a is an address of another interface of this host: 1 and its name, 0 no, a negative errno */
int epif_addr_elsewhere(const struct sipovl_prefix *a, char *ifname, size_t len);
/* watches the interface (rtnetlink notifications on @loop): @lost when it or its address is
 * removed by someone else */
int epif_watch(struct zt_loop *loop, void (*lost)(bool link, bool addr), char *err, size_t errlen);
void epif_forget(void); /* the interface is gone: epif_create makes it anew */
void epif_remove(void);

#endif
