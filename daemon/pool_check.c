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
#define PC_PENDING_MAX 16       /* addresses asked about at once */
#define PC_WAITERS_MAX 256      /* dials waiting for those answers */
#define PC_SESSION_IDLE_MS 5000

struct pc_entry {
	struct sipovl_prefix a;  /* family 0: free slot */
	int rc;                  /* pool_parse_who's: 0 (owner), POOL_E_RANGE, POOL_E_NOLEASE */
	char owner[POOL_OWNER_MAX + 1];
	uint64_t until_ms;
};

/* a dial waiting for the answer about its claimed source */
struct pool_check {
	struct pool_check *next, **pprev; /* its question's waiters */
	struct pc_q *q;
	char dialer[256];
	bool has_dialer;
	pool_check_cb cb;
	void *arg;
};

/* a question about one address: asked once, however many dials wait for it */
struct pc_q {
	struct pc_q *next;       /* pc.queue, in order: the head is the one asked (sent) */
	struct zt_timer timer;   /* PC_REPLY_MS from its first waiter */
	struct sipovl_prefix a;
	char ip[48], req[96];
	bool sent;               /* on the session, its reply not in yet */
	bool retried;            /* sent again after a session that had served others closed */
	bool answering;          /* its waiters are being told (pc_q_done) */
	struct pool_check *waiters;
};

/*
 * One connection to the pool service carries the questions, one at a time (a reply line per
 * question line): only the first question after a quiet spell pays for a new circuit (the
 * controller's part of a dial, seconds under load, against the dialer's 2 s attempt time);
 * the next ones cost one round trip over the overlay. Closed by this side after
 * PC_SESSION_IDLE_MS without a question (before the pool server's own idle_timeout_s, 10 s by
 * default), so that quiet endpoints hold none of the pool server's 64 connections. A pool
 * server from before sessions answers once and closes: the next question dials again.
 */
struct pc_session {
	struct zt_conn *c;
	struct ident *id;
	bool open;               /* connected */
	unsigned served;         /* replies on this connection */
	char buf[160];
	size_t len;
	struct zt_timer idle;
};

static struct {
	struct pc_entry cache[PC_CACHE];
	struct pc_q *queue, **qtail;
	unsigned n_q, n_waiters;
	struct pc_session ses;
	struct zt_timer kick;    /* pc_kick, later on the loop (never inside a caller's call) */
	bool idle_init;
	uint64_t asked, merged, cached, allowed, refused, unanswered, busy, sessions, resent, outside, idle_closed;
} pc;

static bool pc_same(const struct pc_entry *e, const struct sipovl_prefix *a)
{
	return e->a.family && e->a.family == a->family && !memcmp(e->a.addr, a->addr, sizeof(a->addr));
}

static bool pc_same_q(const struct pc_q *q, const struct sipovl_prefix *a)
{
	return q->a.family == a->family && !memcmp(q->a.addr, a->addr, sizeof(a->addr));
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

static void pc_kick(void);

static void pc_ses_close(void)
{
	struct pc_session *ss = &pc.ses;

	if (ss->c)
		zt_close(ss->c);
	ss->c = NULL;
	ss->id = NULL;
	ss->open = false;
	ss->served = 0;
	ss->len = 0;
	if (pc.idle_init)
		zt_timer_stop(D.loop, &ss->idle);
}

static void pc_kick_cb(void *unused)
{
	(void)unused;
	pc_kick();
}

static void pc_ses_idle(void *unused);

/* pc_kick on the loop's next turn: pool_check_source and pool_check_cancel call nobody back */
static void pc_kick_later(void)
{
	if (!pc.idle_init) {
		zt_timer_init(&pc.ses.idle, pc_ses_idle, NULL);
		zt_timer_init(&pc.kick, pc_kick_cb, NULL);
		pc.idle_init = true;
	}
	zt_timer_start(D.loop, &pc.kick, 0);
}

static void pc_q_unlink(struct pc_q *q)
{
	struct pc_q **pp = &pc.queue;

	zt_timer_stop(D.loop, &q->timer);
	while (*pp && *pp != q)
		pp = &(*pp)->next;
	if (!*pp)
		return;
	*pp = q->next;
	if (pc.qtail == &q->next)
		pc.qtail = pp;
	q->next = NULL;
	pc.n_q--;
}

static void pc_w_unlink(struct pool_check *w)
{
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
	w->q = NULL;
	pc.n_waiters--;
}

/*
 * The answer to @q (rc as pool_parse_who's; -2: none, why_no), told to each of its waiters.
 * A waiter's callback may cancel other waiters (they leave the list) but not free @q.
 */
static void pc_q_done(struct pc_q *q, int rc, const char *owner, const char *why_no)
{
	struct pool_check *w;
	char why[400];

	pc_q_unlink(q);
	if (rc == 0 || rc == POOL_E_RANGE || rc == POOL_E_NOLEASE)
		pc_store(&q->a, rc, owner, zt_now_ms());
	q->answering = true;
	while ((w = q->waiters)) {
		int v;

		pc_w_unlink(w);
		if (rc == -2)
			pc.unanswered++;
		v = pc_verdict(rc, owner, why_no, w->has_dialer ? w->dialer : NULL, q->ip, why, sizeof(why));
		w->cb(w->arg, v ? why : NULL);
		free(w);
	}
	free(q);
}

/* every question asked so far fails (the pool service cannot be reached, the identity
 * stopped); those the callbacks ask meanwhile (at the tail) wait for the next session */
static void pc_fail_all(const char *why)
{
	for (unsigned n = pc.n_q; n && pc.queue; n--)
		pc_q_done(pc.queue, -2, NULL, why);
}

/* the session ended (@why: the pool server's word, or NULL); a question it left unanswered
 * is asked once more on a new one when the session had served others (the pool server's idle
 * close, or a server that answers once, may cross it), else fails */
static void pc_ses_ended(const char *why)
{
	struct pc_q *q = pc.queue;
	bool reused = pc.ses.served > 0;

	pc_ses_close();
	if (q && q->sent) {
		q->sent = false;
		if (!reused || q->retried) {
			pc_q_done(q, -2, NULL, why ? why : "the pool server closed before its reply");
		} else {
			q->retried = true;
			pc.resent++;
		}
	}
	pc_kick();
}

static void pc_on_connect(struct zt_conn *c, int err, const char *reason, void *u)
{
	char why[200];

	(void)c;
	(void)u;
	if (err) {
		snprintf(why, sizeof(why), "cannot reach the pool server (service %s): %s", D.cfg.endpoint.service,
			 reason ? reason : zt_strerror(err));
		pc_ses_close();
		pc_fail_all(why);
		return;
	}
	pc.ses.open = true;
	pc_kick();
}

static void pc_on_data(struct zt_conn *c, const uint8_t *d, size_t n, void *u)
{
	struct pc_session *ss = &pc.ses;

	(void)c;
	(void)u;
	if (!n) {
		pc_ses_ended(NULL);
		return;
	}
	while (n) {
		const uint8_t *nl = memchr(d, '\n', n);
		size_t take = nl ? (size_t)(nl - d) + 1 : n;
		struct pc_q *q = pc.queue;
		char owner[POOL_OWNER_MAX + 1], err[200];
		int rc;

		if (!q || !q->sent || ss->len + take > sizeof(ss->buf)) {
			/* a reply to no question, or too long: the session is out of step */
			pc_ses_close();
			if (q && q->sent)
				pc_q_done(q, -2, NULL, "the pool server's reply is too long");
			else
				logm(L_WARN, "endpoint: pool service: a reply to no question; connection closed");
			pc_kick();
			return;
		}
		memcpy(ss->buf + ss->len, d, take);
		ss->len += take;
		d += take;
		n -= take;
		if (!nl)
			return;
		rc = pool_parse_who(ss->buf, ss->len, owner, sizeof(owner), err, sizeof(err));
		ss->len = 0;
		ss->served++;
		q->sent = false;
		pc_q_done(q, rc == POOL_E_RANGE || rc == POOL_E_NOLEASE || rc >= 0 ? rc : -2, owner,
			  rc < 0 ? "malformed reply from the pool server" : err);
		if (ss->c != c) /* a callback ended the session */
			return;
	}
	pc_kick();
}

static void pc_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)c;
	(void)err;
	(void)u;
	pc_ses_ended(reason);
}

static const struct zt_conn_cbs pc_cbs = { .on_connect = pc_on_connect, .on_data = pc_on_data,
					   .on_close = pc_on_close };

static void pc_ses_idle(void *unused)
{
	(void)unused;
	if (!pc.queue && pc.ses.c) {
		pc.idle_closed++;
		pc_ses_close();
	}
}

/* a session through @id (the dial's answer comes to pc_on_connect); -1: no dial */
static int pc_ses_open(struct ident *id)
{
	struct pc_session *ss = &pc.ses;
	struct zt_dial_opts o = { 0 };

	ss->c = zt_dial(id->ctx, D.cfg.endpoint.service, &o, &pc_cbs, NULL);
	if (!ss->c)
		return -1;
	ss->id = id;
	pc.sessions++;
	return 0;
}

/* the head question asked on the session, opened when there is none */
static void pc_kick(void)
{
	struct pc_session *ss = &pc.ses;
	struct ident *id = D.idents;
	struct pc_q *q = pc.queue;

	if (!q) {
		if (ss->c && ss->open)
			zt_timer_start(D.loop, &ss->idle, PC_SESSION_IDLE_MS);
		return;
	}
	zt_timer_stop(D.loop, &ss->idle);
	if (!ss->c) {
		if (!id || !id->ready || !id->ctx) {
			pc_fail_all("this endpoint's identity is not ready");
			return;
		}
		if (pc_ses_open(id))
			pc_fail_all("cannot dial the pool service");
		return;
	}
	if (!ss->open || q->sent)
		return;
	if (zt_write(ss->c, q->req, strlen(q->req))) {
		pc_ses_close();
		pc_q_done(q, -2, NULL, "cannot send the question to the pool server");
		pc_kick();
		return;
	}
	q->sent = true;
}

static void pc_timeout(void *arg)
{
	struct pc_q *q = arg;

	if (q->sent) /* its reply would answer the next question: a new session for those */
		pc_ses_close();
	pc_q_done(q, -2, NULL, "no answer from the pool server in 10 s");
	pc_kick();
}

int pool_check_source(const struct sockaddr_storage *src, const char *dialer, pool_check_cb cb, void *arg,
		      struct pool_check **pending, char *why, size_t whylen)
{
	const char *pool = endpoint_pool();
	struct ident *id = D.idents;
	struct sipovl_prefix a = { 0 }, r;
	struct pc_entry *e;
	struct pool_check *w;
	struct pc_q *q;
	char ip[48];

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
	if (endpoint_pool_range(&r) && !cfg_prefix_contains(&r, a.family, a.addr)) {
		/* not an address of the pool (the range its server told): nothing to ask (a
		 * gateway's phone behind voip-gw), whether or not the pool server can be reached */
		pc.outside++;
		return 0;
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
	for (q = pc.queue; q && !pc_same_q(q, &a); q = q->next)
		;
	if (pc.n_waiters >= PC_WAITERS_MAX || (!q && pc.n_q >= PC_PENDING_MAX)) {
		/* an identity claiming many addresses at once must not queue without bound */
		pc.busy++;
		return pc_verdict(-2, NULL, "too many lease checks under way", dialer, ip, why, whylen);
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return pc_verdict(-2, NULL, "out of memory", dialer, ip, why, whylen);
	if (q) {
		pc.merged++;
	} else {
		q = calloc(1, sizeof(*q));
		if (!q) {
			free(w);
			return pc_verdict(-2, NULL, "out of memory", dialer, ip, why, whylen);
		}
		q->a = a;
		snprintf(q->ip, sizeof(q->ip), "%s", ip);
		pool_who_req(pool, &a, q->req, sizeof(q->req));
		zt_timer_init(&q->timer, pc_timeout, q);
		zt_timer_start(D.loop, &q->timer, PC_REPLY_MS);
		if (!pc.qtail)
			pc.qtail = &pc.queue;
		*pc.qtail = q;
		pc.qtail = &q->next;
		pc.n_q++;
		pc.asked++;
		logm(L_DEBUG, "endpoint: pool %s: who holds %s (a dial claims it)?", pool, ip);
	}
	w->has_dialer = dialer && *dialer;
	snprintf(w->dialer, sizeof(w->dialer), "%s", w->has_dialer ? dialer : "");
	w->cb = cb;
	w->arg = arg;
	w->q = q;
	w->next = q->waiters;
	if (w->next)
		w->next->pprev = &w->next;
	w->pprev = &q->waiters;
	q->waiters = w;
	pc.n_waiters++;
	pc_kick_later();
	*pending = w;
	return 1;
}

/*
 * A waiter leaves (its dial went): the question stays asked (its answer is cached for the
 * next dial), unless nothing was sent yet and nobody else waits for it.
 */
void pool_check_cancel(struct pool_check *w)
{
	struct pc_q *q;

	if (!w)
		return;
	q = w->q;
	if (q)
		pc_w_unlink(w);
	free(w);
	if (q && !q->waiters && !q->sent && !q->answering) {
		pc_q_unlink(q);
		free(q);
		pc_kick_later();
	}
}

void pool_check_ident_stop(struct ident *id)
{
	if (pc.ses.id != id)
		return;
	pc_ses_close();
	pc_fail_all("the endpoint's identity stopped");
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
	json_object_object_add(o, "merged", json_object_new_int64((int64_t)pc.merged));
	json_object_object_add(o, "sessions", json_object_new_int64((int64_t)pc.sessions));
	json_object_object_add(o, "resent", json_object_new_int64((int64_t)pc.resent));
	json_object_object_add(o, "idle_closed", json_object_new_int64((int64_t)pc.idle_closed));
	json_object_object_add(o, "outside", json_object_new_int64((int64_t)pc.outside));
	json_object_object_add(o, "waiting", json_object_new_int64((int64_t)pc.n_waiters));
	json_object_object_add(o, "session", json_object_new_string(!pc.ses.c ? "none" : pc.ses.open ? "open" : "connecting"));
	return o;
}
