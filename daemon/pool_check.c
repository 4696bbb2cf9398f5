// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld endpoint mode: the hosting side's lease check (issue 15). A dialer claims its source
 * in the dial (app_data source_addr, from sourceIp "$ip_pool[NAME]"); on an endpoint, a claimed
 * source that is an address of the endpoint's pool is taken only when it is the dialer's own
 * lease, so that one endpoint cannot originate calls from another's pool address (the host.v1
 * allowedSourceAddresses, the whole pool's range, cannot tell them apart).
 *
 * The pool server is asked ("who POOL ADDRESS" -> "ok OWNER" | "err nolease" | "err range",
 * pool.h) through the pool service, on the loop, holding the router's Dial meanwhile
 * (flows_host.c); answers are cached per address: an owner for PC_OWNER_TTL_MS (a lease moves
 * only when its owner gave it up or it expired: lease_s, a day by default), "not in the pool"
 * for PC_RANGE_TTL_MS, "no lease" for PC_NOLEASE_TTL_MS. No answer in PC_REPLY_MS, a pool
 * server that cannot be reached or a malformed reply refuses the dial (logged with the reason):
 * a claim that cannot be checked is not taken.
 */
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/endpoint.h"
#include "daemon/pool.h"
#include "daemon/pool_check.h"

#define PC_REPLY_MS 10000
#define PC_OWNER_TTL_MS 30000
#define PC_RANGE_TTL_MS 300000
#define PC_NOLEASE_TTL_MS 2000
#define PC_CACHE 256
#define PC_PENDING_MAX 16       /* questions under way at once (the pool server serves 64 connections in all) */

struct pc_entry {
	struct sipovl_prefix a;  /* family 0: free slot */
	int rc;                  /* pool_parse_who's: 0 (owner), POOL_E_RANGE, POOL_E_NOLEASE */
	char owner[POOL_OWNER_MAX + 1];
	uint64_t until_ms;
};

struct pool_check {
	struct pool_check *next, *prev;
	struct ident *id;
	struct zt_conn *c;
	struct zt_timer timer;
	struct sipovl_prefix a;
	char ip[48], dialer[256];
	bool has_dialer;
	char req[96], buf[160];
	size_t len;
	pool_check_cb cb;
	void *arg;
};

static struct {
	struct pc_entry cache[PC_CACHE];
	struct pool_check *pending;
	unsigned n_pending;
	uint64_t asked, cached, allowed, refused, unanswered, busy;
} pc;

static bool pc_same(const struct pc_entry *e, const struct sipovl_prefix *a)
{
	return e->a.family && e->a.family == a->family && !memcmp(e->a.addr, a->addr, sizeof(a->addr));
}

/* an address has at most one slot (pc_store), live or expired */
static struct pc_entry *pc_find(const struct sipovl_prefix *a, uint64_t now)
{
	for (size_t i = 0; i < PC_CACHE; i++)
		if (pc_same(&pc.cache[i], a))
			return pc.cache[i].until_ms > now ? &pc.cache[i] : NULL;
	return NULL;
}

static void pc_store(const struct sipovl_prefix *a, int rc, const char *owner, uint64_t now)
{
	struct pc_entry *e = NULL, *oldest = &pc.cache[0];
	uint64_t ttl = rc == 0 ? PC_OWNER_TTL_MS : rc == POOL_E_RANGE ? PC_RANGE_TTL_MS : PC_NOLEASE_TTL_MS;

	/* the address's own slot first (two checks of it may have been under way), else a free or
	 * expired one, else the one that expires first */
	for (size_t i = 0; i < PC_CACHE && !e; i++)
		if (pc_same(&pc.cache[i], a))
			e = &pc.cache[i];
	for (size_t i = 0; i < PC_CACHE && !e; i++) {
		struct pc_entry *x = &pc.cache[i];

		if (!x->a.family || x->until_ms <= now)
			e = x;
		else if (x->until_ms < oldest->until_ms)
			oldest = x;
	}
	if (!e)
		e = oldest;
	e->a = *a;
	e->rc = rc;
	snprintf(e->owner, sizeof(e->owner), "%s", owner ? owner : "");
	e->until_ms = now + ttl;
}

static int pc_verdict(int rc, const char *owner, const char *why_no, const char *dialer, const char *ip, char *why,
		      size_t whylen)
{
	int v = pool_check_decide(rc, owner, why_no, dialer, ip, endpoint_pool(), why, whylen);

	if (v)
		pc.refused++;
	else if (rc != POOL_E_RANGE)
		pc.allowed++;
	return v;
}

static void pc_unlink(struct pool_check *q)
{
	pc.n_pending--;
	if (q->prev)
		q->prev->next = q->next;
	else
		pc.pending = q->next;
	if (q->next)
		q->next->prev = q->prev;
	zt_timer_stop(D.loop, &q->timer);
	if (q->c) {
		zt_close(q->c);
		q->c = NULL;
	}
}

/* the answer (rc as pool_parse_who's; -2: none, why_no) */
static void pc_done(struct pool_check *q, int rc, const char *owner, const char *why_no)
{
	char why[400];
	int v;

	pc_unlink(q);
	if (rc == 0 || rc == POOL_E_RANGE || rc == POOL_E_NOLEASE)
		pc_store(&q->a, rc, owner, zt_now_ms());
	else
		pc.unanswered++;
	v = pc_verdict(rc, owner, why_no, q->has_dialer ? q->dialer : NULL, q->ip, why, sizeof(why));
	q->cb(q->arg, v ? why : NULL);
	free(q);
}

static void pc_reply(struct pool_check *q)
{
	char owner[POOL_OWNER_MAX + 1], err[200];
	int rc = pool_parse_who(q->buf, q->len, owner, sizeof(owner), err, sizeof(err));

	pc_done(q, rc == POOL_E_RANGE || rc == POOL_E_NOLEASE || rc >= 0 ? rc : -2, owner,
		rc < 0 ? "malformed reply from the pool server" : err);
}

static void pc_on_connect(struct zt_conn *c, int err, const char *reason, void *u)
{
	struct pool_check *q = u;
	char why[200];

	if (err) {
		snprintf(why, sizeof(why), "cannot reach the pool server (service %s): %s", D.cfg.endpoint.service,
			 reason ? reason : zt_strerror(err));
		pc_done(q, -2, NULL, why);
		return;
	}
	if (zt_write(c, q->req, strlen(q->req)) || zt_close_write(c))
		pc_done(q, -2, NULL, "cannot send the question to the pool server");
}

static void pc_on_data(struct zt_conn *c, const uint8_t *d, size_t n, void *u)
{
	struct pool_check *q = u;

	(void)c;
	if (!n) {
		pc_reply(q);
		return;
	}
	if (q->len + n > sizeof(q->buf)) {
		pc_done(q, -2, NULL, "the pool server's reply is too long");
		return;
	}
	memcpy(q->buf + q->len, d, n);
	q->len += n;
}

static void pc_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	struct pool_check *q = u;

	(void)c;
	(void)err;
	if (q->len && q->buf[q->len - 1] == '\n') {
		pc_reply(q);
		return;
	}
	pc_done(q, -2, NULL, reason ? reason : "the pool server closed before its reply");
}

static const struct zt_conn_cbs pc_cbs = { .on_connect = pc_on_connect, .on_data = pc_on_data,
					   .on_close = pc_on_close };

static void pc_timeout(void *arg)
{
	pc_done(arg, -2, NULL, "no answer from the pool server in 10 s");
}

int pool_check_source(const struct sockaddr_storage *src, const char *dialer, pool_check_cb cb, void *arg,
		      struct pool_check **pending, char *why, size_t whylen)
{
	const char *pool = endpoint_pool();
	struct ident *id = D.idents;
	struct sipovl_prefix a = { 0 };
	struct pc_entry *e;
	struct pool_check *q;
	char ip[48];
	struct zt_dial_opts o = { 0 };

	*pending = NULL;
	if (!pool)
		return 0;
	a.family = src->ss_family;
	a.len = src->ss_family == AF_INET6 ? 128 : 32;
	memcpy(a.addr, cfg_sa_addr(src), src->ss_family == AF_INET6 ? 16 : 4);
	if (a.family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a.addr)) {
		/* ::ffff:a.b.c.d is asked as a.b.c.d (an IPv4 pool's address must not pass as "not in the pool") */
		memmove(a.addr, a.addr + 12, 4);
		memset(a.addr + 4, 0, 12);
		a.family = AF_INET;
		a.len = 32;
	}
	pool_fmt(&a, ip, sizeof(ip));
	e = pc_find(&a, zt_now_ms());
	if (e) {
		pc.cached++;
		return pc_verdict(e->rc, e->owner, NULL, dialer, ip, why, whylen);
	}
	if (!id || !id->ready || !id->ctx) {
		pc.unanswered++;
		return pc_verdict(-2, NULL, "this endpoint's identity is not ready", dialer, ip, why, whylen);
	}
	if (pc.n_pending >= PC_PENDING_MAX) {
		/* an identity claiming many addresses at once must not fill the pool server's connections */
		pc.busy++;
		return pc_verdict(-2, NULL, "too many lease checks under way (16)", dialer, ip, why, whylen);
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return pc_verdict(-2, NULL, "out of memory", dialer, ip, why, whylen);
	q->id = id;
	q->a = a;
	snprintf(q->ip, sizeof(q->ip), "%s", ip);
	q->has_dialer = dialer && *dialer;
	snprintf(q->dialer, sizeof(q->dialer), "%s", q->has_dialer ? dialer : "");
	q->cb = cb;
	q->arg = arg;
	pool_who_req(pool, &a, q->req, sizeof(q->req));
	zt_timer_init(&q->timer, pc_timeout, q);
	q->next = pc.pending;
	if (q->next)
		q->next->prev = q;
	pc.pending = q;
	pc.n_pending++;
	pc.asked++;
	logm(L_DEBUG, "endpoint: pool %s: who holds %s (a dial claims it)?", pool, ip);
	q->c = zt_dial(id->ctx, D.cfg.endpoint.service, &o, &pc_cbs, q);
	if (!q->c) {
		pc_unlink(q);
		free(q);
		pc.unanswered++;
		return pc_verdict(-2, NULL, "cannot dial the pool service", dialer, ip, why, whylen);
	}
	zt_timer_start(D.loop, &q->timer, PC_REPLY_MS);
	*pending = q;
	return 1;
}

void pool_check_cancel(struct pool_check *q)
{
	if (!q)
		return;
	pc_unlink(q);
	free(q);
}

void pool_check_ident_stop(struct ident *id)
{
	for (struct pool_check *q = pc.pending, *n; q; q = n) {
		n = q->next;
		if (q->id == id)
			pc_done(q, -2, NULL, "the endpoint's identity stopped");
	}
}

struct json_object *pool_check_json(void)
{
	struct json_object *o;

	if (!endpoint_pool())
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "asked", json_object_new_int64((int64_t)pc.asked));
	json_object_object_add(o, "cached", json_object_new_int64((int64_t)pc.cached));
	json_object_object_add(o, "allowed", json_object_new_int64((int64_t)pc.allowed));
	json_object_object_add(o, "refused", json_object_new_int64((int64_t)pc.refused));
	json_object_object_add(o, "unanswered", json_object_new_int64((int64_t)pc.unanswered));
	json_object_object_add(o, "busy", json_object_new_int64((int64_t)pc.busy));
	return o;
}
