/* SPDX-License-Identifier: GPL-2.0 */
/* sipovld's DNS responder (dns_server.c): listeners, relay, the zone of intercepted names. */
#ifndef SIPOVLD_DNS_SERVER_H
#define SIPOVLD_DNS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctl/libsipovl.h"
#include "daemon/dns_respond.h"

struct svc;
struct json_object;


/* (Re)start from D.cfg (dns_listen empty: off). -1 when no socket could be opened. */
int dns_start(void);
void dns_stop(void);

/*
 * dns_guard_if.c: dns_allow, dns_rate_limit, dns_rate_slip from D.cfg, at start (@start) and
 * on a reload (applied without a restart: the names keep their addresses; while the responder
 * is off, nothing). The allow-list ("connected" read from the interfaces), the rate limit.
 */
void dns_guard_apply(bool start);
void dns_guard_stop(void);
const struct dns_acl *dns_guard_acl(void);
struct dns_rrl *dns_guard_rrl(void);
/* @sa is allowed; when not, "connected" is read again first (at most every 10 s: an address may be new) */
bool dns_guard_allowed(const struct sockaddr_storage *sa, uint64_t now_ms);
/* a client refused for its source (@total so far): logged, at most once a minute */
void dns_guard_refused(const struct sockaddr_storage *sa, uint64_t now_ms, uint64_t total);
/* the allow-list and the rate limit into the status document's "dns" object @j */
void dns_guard_status(struct json_object *j);
/* the services changed: the zone follows (names no service matches lose their address) */
void dns_services_changed(void);
/* answering names (a virtual range is configured) */
bool dns_on(void);
/* host prefixes of the names service @s matches, for its kernel intercept (malloc'ed) */
int dns_svc_prefixes(const struct svc *s, struct sipovl_prefix **out, size_t *n);
/* the name given address @dst (port ignored), or NULL */
const char *dns_hostname_of(const struct sockaddr_storage *dst);
void dns_get_stats(struct dns_stats *st);
/* the status document's "dns" object */
struct json_object *dns_status_json(void);

/* sipovld.c: apply the kernel's table now (a name got an address) */
void kernel_apply_now(void);

#endif
