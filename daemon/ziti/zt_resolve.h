/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Asynchronous name resolution on a zt_loop (c-ares), and TCP connects that try every address.
 *
 * Nothing here blocks the loop: numeric addresses never reach the resolver, /etc/hosts is read
 * by c-ares, DNS queries run on the loop's sockets and timers. Answers are cached for their
 * TTL (capped, bounded number of names). Every callback runs from the loop, never from inside
 * the call that started the request.
 */
#ifndef SIPOVL_ZT_RESOLVE_H
#define SIPOVL_ZT_RESOLVE_H

#include <stdint.h>
#include <sys/socket.h>

#include "zt_loop.h"

#define ZT_RESOLVE_MAX_ADDRS 8   /* addresses kept per name */
#define ZT_RESOLVE_CACHE 128     /* names cached */
#define ZT_RESOLVE_TTL_MAX_S 300 /* a longer TTL is cut to this */

struct zt_resolver;
struct zt_resolve_req;

struct zt_addrs {
	unsigned n;
	struct sockaddr_storage a[ZT_RESOLVE_MAX_ADDRS]; /* in the resolver's order, port set */
};

/* err: 0 (addrs has n >= 1 entries) or a negative errno with msg ("cannot resolve HOST: why") */
typedef void (*zt_resolve_cb)(void *arg, int err, const char *msg, const struct zt_addrs *addrs);

struct zt_resolver_stats {
	uint64_t lookups;   /* names sent to c-ares (DNS or /etc/hosts) */
	uint64_t cache_hits;
	uint64_t numeric;   /* numeric addresses (no lookup) */
	uint64_t failures;  /* lookups that failed or timed out */
};

/* timeout_ms: a request still unanswered after this fails with -ETIMEDOUT (0: 10000) */
struct zt_resolver *zt_resolver_new(struct zt_loop *l, unsigned timeout_ms, char *err, size_t errlen);
/* Every request must have completed or been cancelled. */
void zt_resolver_free(struct zt_resolver *r);
void zt_resolver_stats(const struct zt_resolver *r, struct zt_resolver_stats *s);
struct zt_loop *zt_resolver_loop(struct zt_resolver *r);

/*
 * Resolve host (a name, or a numeric IPv4/IPv6 address) with a numeric port. Returns a
 * request, freed after its callback returns (do not cancel it from there), or NULL when out of
 * memory. family: AF_UNSPEC, AF_INET or AF_INET6 (addresses of other families are left out).
 */
struct zt_resolve_req *zt_resolve(struct zt_resolver *r, const char *host, uint16_t port, int family,
				  zt_resolve_cb cb, void *arg);
void zt_resolve_cancel(struct zt_resolve_req *q);

/*
 * TCP connect to host:port (port: a numeric string), trying each address in turn: the next one
 * when a connect fails or has not completed within attempt_ms. cb gets a connected,
 * non-blocking socket (TCP_NODELAY and SO_KEEPALIVE set; the callee owns it), or fd -1 and
 * the reason. Freed after its callback returns; cancel it before that to close everything.
 */
typedef void (*zt_connect_cb)(void *arg, int fd, const char *err);
struct zt_connect;
struct zt_connect *zt_connect_start(struct zt_resolver *r, const char *host, const char *port, unsigned attempt_ms,
				    zt_connect_cb cb, void *arg);
void zt_connect_cancel(struct zt_connect *c);

#endif
