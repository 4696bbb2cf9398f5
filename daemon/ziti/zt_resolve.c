// SPDX-License-Identifier: GPL-2.0
/*
 * Asynchronous name resolution with c-ares on a zt_loop (see zt_resolve.h).
 *
 * c-ares tells us which sockets to watch through its socket-state callback; their events and
 * the loop timer set from ares_timeout() drive ares_process_fd(). Lookups of one name share a
 * c-ares query; results are cached for the smallest TTL of the answer (capped). A request has
 * its own deadline; a lookup outliving it still fills the cache.
 */
#include "zt_resolve.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

struct rsock {
	struct rsock *next;
	struct zt_resolver *r;
	struct zt_io io;
};

struct lookup {
	struct lookup *next;
	struct zt_resolver *r;
	char *name;
	struct zt_resolve_req *waiters;
};

struct centry {
	char *name;
	uint64_t expires_ms;
	unsigned n;
	struct sockaddr_storage a[ZT_RESOLVE_MAX_ADDRS]; /* port 0 */
};

struct zt_resolver {
	struct zt_loop *loop;
	ares_channel ch;
	unsigned timeout_ms;
	struct rsock *socks;
	struct zt_timer timer;
	struct lookup *lookups;
	struct centry cache[ZT_RESOLVE_CACHE];
	struct zt_resolver_stats st;
	bool freeing;
};

struct zt_resolve_req {
	struct zt_resolver *r;
	struct zt_resolve_req *next; /* lookup waiters */
	struct lookup *lk;
	char *host;
	uint16_t port;
	int family;
	zt_resolve_cb cb;
	void *arg;
	struct zt_timer timer; /* deadline while waiting, then delivery (0 ms) */
	bool ready, delivering;
	int err;
	char msg[256];
	struct zt_addrs res;
};

static void rearm(struct zt_resolver *r)
{
	struct timeval tv, *t;

	if (r->freeing)
		return;
	t = ares_timeout(r->ch, NULL, &tv);
	if (!t) {
		zt_timer_stop(r->loop, &r->timer);
		return;
	}
	zt_timer_start(r->loop, &r->timer, (uint64_t)t->tv_sec * 1000 + ((uint64_t)t->tv_usec + 999) / 1000);
}

static void timer_cb(void *arg)
{
	struct zt_resolver *r = arg;

	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(r);
}

static void sock_io(void *arg, uint32_t ev)
{
	struct rsock *s = arg;
	struct zt_resolver *r = s->r;
	int fd = s->io.fd;

	ares_process_fd(r->ch, (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
			(ev & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
	rearm(r);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct zt_resolver *r = data;
	struct rsock **pp, *s;

	for (pp = &r->socks; *pp; pp = &(*pp)->next)
		if ((*pp)->io.fd == fd)
			break;
	s = *pp;
	if (!readable && !writable) {
		if (s) {
			*pp = s->next;
			zt_io_del(r->loop, &s->io);
			zt_loop_defer_free(r->loop, free, s); /* its event may still be queued */
		}
		return;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return; /* the query times out */
		s->r = r;
		zt_io_init(&s->io, fd, sock_io, s);
		s->next = r->socks;
		r->socks = s;
	}
	zt_io_set(r->loop, &s->io, (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0));
}

struct zt_resolver *zt_resolver_new(struct zt_loop *l, unsigned timeout_ms, char *err, size_t errlen)
{
	struct zt_resolver *r = calloc(1, sizeof(*r));
	struct ares_options o = { 0 };
	int rc;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		free(r);
		return NULL;
	}
	r->loop = l;
	r->timeout_ms = timeout_ms ? timeout_ms : 10000;
	zt_timer_init(&r->timer, timer_cb, r);
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = r;
	o.timeout = 2000; /* first try; c-ares doubles it for the next (2 s + 4 s) */
	o.tries = 2;
	rc = ares_init_options(&r->ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: cannot initialise the resolver: %s", ares_strerror(rc));
		ares_library_cleanup();
		free(r);
		return NULL;
	}
	return r;
}

static void req_free(struct zt_resolve_req *q)
{
	free(q->host);
	free(q);
}

void zt_resolver_free(struct zt_resolver *r)
{
	if (!r)
		return;
	r->freeing = true;
	/* requests must be gone; lookups still running end here (ARES_EDESTRUCTION) */
	ares_destroy(r->ch);
	zt_timer_stop(r->loop, &r->timer);
	while (r->socks) {
		struct rsock *s = r->socks;

		r->socks = s->next;
		zt_io_del(r->loop, &s->io);
		zt_loop_defer_free(r->loop, free, s);
	}
	for (unsigned i = 0; i < ZT_RESOLVE_CACHE; i++)
		free(r->cache[i].name);
	ares_library_cleanup();
	free(r);
}

void zt_resolver_stats(const struct zt_resolver *r, struct zt_resolver_stats *s)
{
	*s = r->st;
}

struct zt_loop *zt_resolver_loop(struct zt_resolver *r)
{
	return r->loop;
}

/* ---- requests ---- */

static void deliver_cb(void *arg)
{
	struct zt_resolve_req *q = arg;

	if (!q->ready) { /* deadline */
		struct lookup *lk = q->lk;

		for (struct zt_resolve_req **pp = &lk->waiters; *pp; pp = &(*pp)->next)
			if (*pp == q) {
				*pp = q->next;
				break;
			}
		q->lk = NULL;
		q->ready = true;
		q->err = -ETIMEDOUT;
		snprintf(q->msg, sizeof(q->msg), "cannot resolve %s: no answer within %u ms (timed out)", q->host,
			 q->r->timeout_ms);
		q->r->st.failures++;
	}
	q->delivering = true;
	q->cb(q->arg, q->err, q->err ? q->msg : NULL, &q->res);
	req_free(q);
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* Complete q with addresses a[0..n) (port 0) or an error; delivered from the loop. */
static void req_complete(struct zt_resolve_req *q, const struct sockaddr_storage *a, unsigned n, int err,
			 const char *why)
{
	q->ready = true;
	q->lk = NULL;
	q->res.n = 0;
	for (unsigned i = 0; i < n && !err; i++) {
		if (q->family != AF_UNSPEC && a[i].ss_family != q->family)
			continue;
		q->res.a[q->res.n] = a[i];
		set_port(&q->res.a[q->res.n], q->port);
		q->res.n++;
	}
	if (!err && !q->res.n) {
		err = -EAFNOSUPPORT;
		why = q->family == AF_INET ? "no IPv4 address" : "no IPv6 address";
	}
	q->err = err;
	if (err)
		snprintf(q->msg, sizeof(q->msg), "cannot resolve %s: %s", q->host, why);
	zt_timer_start(q->r->loop, &q->timer, 0);
}

static struct centry *cache_find(struct zt_resolver *r, const char *name)
{
	uint64_t now = zt_now_ms();

	for (unsigned i = 0; i < ZT_RESOLVE_CACHE; i++) {
		struct centry *e = &r->cache[i];

		if (e->name && !strcasecmp(e->name, name)) {
			if (e->expires_ms > now)
				return e;
			free(e->name);
			e->name = NULL;
		}
	}
	return NULL;
}

static void cache_put(struct zt_resolver *r, const char *name, const struct sockaddr_storage *a, unsigned n,
		      unsigned ttl_s)
{
	struct centry *e = NULL;
	uint64_t now = zt_now_ms();

	if (!ttl_s || !n)
		return;
	if (ttl_s > ZT_RESOLVE_TTL_MAX_S)
		ttl_s = ZT_RESOLVE_TTL_MAX_S;
	/* a free or expired slot, else the one expiring first */
	for (unsigned i = 0; i < ZT_RESOLVE_CACHE; i++) {
		struct centry *c = &r->cache[i];

		if (!c->name || c->expires_ms <= now || !strcasecmp(c->name, name)) {
			e = c;
			break;
		}
		if (!e || c->expires_ms < e->expires_ms)
			e = c;
	}
	char *dup = strdup(name);

	if (!dup)
		return;
	free(e->name);
	e->name = dup;
	e->expires_ms = now + (uint64_t)ttl_s * 1000;
	e->n = n;
	memcpy(e->a, a, sizeof(*a) * n);
}

static void lookup_done(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct lookup *lk = arg;
	struct zt_resolver *r = lk->r;
	struct sockaddr_storage a[ZT_RESOLVE_MAX_ADDRS];
	unsigned n = 0;
	int ttl = -1;
	char why[160];

	(void)timeouts;
	for (struct lookup **pp = &r->lookups; *pp; pp = &(*pp)->next)
		if (*pp == lk) {
			*pp = lk->next;
			break;
		}
	if (status == ARES_SUCCESS && ai) {
		for (struct ares_addrinfo_node *nd = ai->nodes; nd && n < ZT_RESOLVE_MAX_ADDRS; nd = nd->ai_next) {
			if ((nd->ai_family != AF_INET && nd->ai_family != AF_INET6) ||
			    nd->ai_addrlen > sizeof(struct sockaddr_storage))
				continue;
			bool dup = false;

			memset(&a[n], 0, sizeof(a[n]));
			memcpy(&a[n], nd->ai_addr, nd->ai_addrlen);
			set_port(&a[n], 0);
			for (unsigned i = 0; i < n && !dup; i++)
				dup = !memcmp(&a[i], &a[n], sizeof(a[n]));
			if (dup)
				continue;
			n++;
			if (ttl < 0 || nd->ai_ttl < ttl)
				ttl = nd->ai_ttl;
		}
	}
	if (ai)
		ares_freeaddrinfo(ai);
	if (status == ARES_EDESTRUCTION || r->freeing) {
		free(lk->name);
		free(lk);
		return;
	}
	if (status == ARES_SUCCESS && n)
		cache_put(r, lk->name, a, n, ttl > 0 ? (unsigned)ttl : 0);
	else
		r->st.failures++;
	if (status == ARES_SUCCESS && !n)
		snprintf(why, sizeof(why), "no IPv4 or IPv6 address");
	else if (status == ARES_ENOTFOUND || status == ARES_ENODATA || status == ARES_ENONAME)
		snprintf(why, sizeof(why), "no such host");
	else if (status == ARES_ETIMEOUT)
		snprintf(why, sizeof(why), "the DNS servers did not answer (timed out)");
	else if (status != ARES_SUCCESS)
		snprintf(why, sizeof(why), "%s", ares_strerror(status));
	while (lk->waiters) {
		struct zt_resolve_req *q = lk->waiters;

		lk->waiters = q->next;
		zt_timer_stop(r->loop, &q->timer);
		req_complete(q, a, n, n ? 0 : -EHOSTUNREACH, why);
	}
	free(lk->name);
	free(lk);
}

struct zt_resolve_req *zt_resolve(struct zt_resolver *r, const char *host, uint16_t port, int family,
				  zt_resolve_cb cb, void *arg)
{
	struct zt_resolve_req *q = calloc(1, sizeof(*q));
	struct sockaddr_storage ss = { 0 };

	if (!q)
		return NULL;
	q->host = strdup(host);
	if (!q->host) {
		free(q);
		return NULL;
	}
	q->r = r;
	q->port = port;
	q->family = family;
	q->cb = cb;
	q->arg = arg;
	zt_timer_init(&q->timer, deliver_cb, q);
	/* numeric: never the resolver */
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
	}
	if (ss.ss_family) {
		r->st.numeric++;
		req_complete(q, &ss, 1, 0, NULL);
		return q;
	}
	if (!*host || strlen(host) > 253) {
		req_complete(q, NULL, 0, -EINVAL, "not a valid host name");
		return q;
	}
	struct centry *e = cache_find(r, host);

	if (e) {
		r->st.cache_hits++;
		req_complete(q, e->a, e->n, 0, NULL);
		return q;
	}
	struct lookup *lk;

	for (lk = r->lookups; lk; lk = lk->next)
		if (!strcasecmp(lk->name, host))
			break;
	zt_timer_start(r->loop, &q->timer, r->timeout_ms);
	if (lk) { /* the same name is being looked up: wait for that answer */
		q->lk = lk;
		q->next = lk->waiters;
		lk->waiters = q;
		return q;
	}
	lk = calloc(1, sizeof(*lk));
	if (!lk || !(lk->name = strdup(host))) {
		free(lk);
		zt_timer_stop(r->loop, &q->timer);
		req_free(q);
		return NULL;
	}
	lk->r = r;
	lk->next = r->lookups;
	r->lookups = lk;
	q->lk = lk;
	lk->waiters = q;
	r->st.lookups++;
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };

	/* may answer at once (/etc/hosts): lookup_done then only schedules the delivery */
	ares_getaddrinfo(r->ch, host, NULL, &hints, lookup_done, lk);
	rearm(r);
	return q;
}

void zt_resolve_cancel(struct zt_resolve_req *q)
{
	if (!q || q->delivering)
		return;
	if (q->lk) {
		for (struct zt_resolve_req **pp = &q->lk->waiters; *pp; pp = &(*pp)->next)
			if (*pp == q) {
				*pp = q->next;
				break;
			}
	}
	zt_timer_stop(q->r->loop, &q->timer);
	req_free(q);
}
