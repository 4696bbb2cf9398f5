/* SPDX-License-Identifier: GPL-2.0 */
/* sipovld's DNS responder (dns_server.c): listeners, relay, the zone of intercepted names. */
#ifndef SIPOVLD_DNS_SERVER_H
#define SIPOVLD_DNS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctl/libsipovl.h"

struct svc;

struct dns_stats {
	uint64_t queries, answered, relayed, relay_answers, upstream_timeouts, upstream_mismatch, relay_full;
	uint64_t formerr, servfail, refused, dropped, send_errors, tcp_conns, tcp_refused;
	uint64_t names, pending;
	uint64_t names_reclaimed, names_refused; /* dns_zone.c: idle names taken back; new names refused */
	uint64_t names_collisions, names_restored; /* not given their home address; restored (file, reload) */
	uint64_t kernel_applies;        /* for names given addresses (one per read burst) */
};

/* (Re)start from D.cfg (dns_listen empty: off). -1 when no socket could be opened. */
int dns_start(void);
void dns_stop(void);
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
