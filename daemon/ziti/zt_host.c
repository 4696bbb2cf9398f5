// SPDX-License-Identifier: GPL-2.0
/*
 * Hosting: Bind/BindSuccess/Unbind on an edge router, Dial requests from the router answered
 * with DialSuccess (a new host-side zt_conn) or DialFailed, re-binding with backoff.
 */
#include "zt_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- hosting ---------------- */

static void lsn_start(struct zt_listener *l);

/* BindSuccess messages of every listener of the process, numbered (zt_listener_terms) */
static uint64_t zt_bind_seq;

static struct zt_listener *group_primary(struct zt_listener *l)
{
	return l->primary ? l->primary : l;
}

static bool group_established(struct zt_listener *p)
{
	if (p->established)
		return true;
	for (unsigned i = 0; i < p->nsibs; i++)
		if (p->sibs[i]->established)
			return true;
	return false;
}

/* the channels other members of l's group bind on (or are binding on) */
static size_t group_chans(struct zt_listener *l, struct zt_chan **out)
{
	struct zt_listener *p = group_primary(l);
	size_t n = 0;

	for (unsigned i = 0; i <= p->nsibs; i++) {
		struct zt_listener *m = i ? p->sibs[i - 1] : p;

		if (m != l && m->ch && (m->state == ZT_L_BINDING || m->state == ZT_L_BOUND))
			out[n++] = m->ch;
	}
	return n;
}

/*
 * To the application, a group is one listener: established while any member is, an error
 * (from the member it holds) only when none is. The primary finding no router but the ones
 * its siblings are binding on (it lost the race for the router at start) is no error either:
 * the group is about to be established.
 */
static void lsn_status(struct zt_listener *l, int err, const char *why)
{
	struct zt_listener *p = group_primary(l);
	struct zt_chan *used[ZT_LSN_MAX];

	if (!p->cbs.on_status)
		return;
	if (!err)
		p->cbs.on_status(p, 0, why, p->user);
	else if (l == p && !group_established(p) && !(err == -ENETUNREACH && group_chans(l, used) > 0))
		p->cbs.on_status(p, err, why, p->user);
}

/*
 * The binding is going away: dials held for a later answer can no longer be answered on it.
 * If the channel is still up, tell the router now rather than leave it waiting.
 */
static void lsn_drop_held(struct zt_listener *l, const char *why)
{
	while (l->held) {
		struct zt_dial_req *r = l->held;

		l->held = r->hnext;
		if (l->held)
			l->held->hprev = NULL;
		r->hnext = r->hprev = NULL;
		if (r->ch && r->ch == l->ch && r->ch->state == ZT_CH_UP)
			zt_send_dial_failed_to(r->ch, r->bind_id, r->seq, why);
		r->l = NULL;
		r->ch = NULL;
	}
}

static void lsn_detach(struct zt_listener *l)
{
	lsn_drop_held(l, "binding closed");
	if (l->sreq) {
		zt_sess_req_cancel(l->sreq);
		l->sreq = NULL;
	}
	zt_router_cancel(l->rsel);
	l->rsel = NULL;
	if (l->ch) {
		zt_chan_unwant(l->ch, l);
		if (l->state == ZT_L_BINDING || l->state == ZT_L_BOUND)
			zt_chan_map_del(l->ch, l->id);
		l->ch = NULL;
	}
	l->established = false;
}

static void lsn_retry(struct zt_listener *l, int err, const char *why, bool drop_session)
{
	struct zt_ctx *ctx = l->ctx;

	lsn_detach(l);
	if (drop_session) {
		zt_session_put(l->session);
		l->session = NULL;
	}
	l->failures++;
	unsigned d = 100u << (l->failures < 8 ? l->failures : 8);

	if (d > ctx->o.backoff_max_ms)
		d = ctx->o.backoff_max_ms;
	l->state = ZT_L_BACKOFF;
	zt_timer_start(ctx->loop, &l->timer, d);
	/*
	 * A binding of the group that finds no router but the ones its siblings hold (a site with
	 * fewer routers than maxConnections) is not news while one of them is bound: any member,
	 * the primary too (it loses the race for the only router as often as not).
	 */
	struct zt_chan *used[ZT_LSN_MAX];
	bool hosted = err == -ENETUNREACH && group_chans(l, used) > 0;

	zt_log(ctx, hosted ? 3 : 1, "host %s: %s (retry in %u ms)", l->service, why, d);
	lsn_status(l, err, why);
}

void zt_listener_chan_lost(struct zt_listener *l, const char *why)
{
	char msg[400];

	l->ch = NULL;
	snprintf(msg, sizeof(msg), "router connection lost: %s", why);
	lsn_retry(l, -ECONNRESET, msg, false);
}

static void lsn_chan_cb(void *arg, struct zt_chan *ch, int err, const char *msg)
{
	struct zt_listener *l = arg;
	struct zt_msgb mb;
	char why[400];
	struct zt_chan *used[ZT_LSN_MAX];
	size_t nused;

	l->rsel = NULL;
	if (err) {
		l->ch = NULL;
		snprintf(why, sizeof(why), "cannot reach edge router: %s", msg ? msg : "?");
		/*
		 * The session lists the routers online when it was made: one that was offline
		 * then (restarting, or not yet back with a restarted controller) is never tried.
		 * Every fourth failure fetches a new session, with the routers online now.
		 */
		lsn_retry(l, err, why, err == -ENETUNREACH && l->failures % 4 == 3);
		return;
	}
	/* two members of a group chose the same router while none was up: one looks further */
	nused = group_chans(l, used);
	for (size_t i = 0; i < nused; i++)
		if (used[i] == ch) {
			lsn_retry(l, -ENETUNREACH, "router taken by another binding of the service", false);
			return;
		}
	l->ch = ch;
	l->id = zt_conn_next_id(l->ctx);
	if (zt_chan_map_add(ch, l->id, l, 1)) {
		lsn_retry(l, -ENOMEM, "out of memory", false);
		return;
	}
	l->state = ZT_L_BINDING;
	l->term_up = false;
	l->sent_prec = l->o.precedence;
	if (zt_msgb_begin(&mb, &ch->out, ZT_CT_BIND, zt_chan_next_seq(ch)) ||
	    zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, l->id) || zt_msgb_hdr_u8(&mb, ZT_H_ROUTER_PROVIDED_CONN_ID, 1) ||
	    zt_msgb_hdr_u8(&mb, ZT_H_SUPPORTS_BIND_SUCCESS, 1) ||
	    (l->encrypted && zt_msgb_hdr(&mb, ZT_H_PUBLIC_KEY, l->pk, sizeof(l->pk))) ||
	    (l->terminator_identity && zt_msgb_hdr_str(&mb, ZT_H_TERMINATOR_IDENTITY, l->terminator_identity)) ||
	    (l->terminator_secret && zt_msgb_hdr_str(&mb, ZT_H_TERMINATOR_IDENTITY_SECRET, l->terminator_secret)) ||
	    (l->o.cost && zt_msgb_hdr_u16(&mb, ZT_H_COST, l->o.cost)) ||
	    (l->o.precedence && zt_msgb_hdr_u8(&mb, ZT_H_PRECEDENCE, l->o.precedence))) {
		lsn_retry(l, -ENOMEM, "out of memory", false);
		return;
	}
	size_t tl = strlen(l->session->token);
	uint8_t *b = zt_msgb_body(&mb, (uint32_t)tl);

	if (!b) {
		lsn_retry(l, -ENOMEM, "out of memory", false);
		return;
	}
	memcpy(b, l->session->token, tl);
	zt_chan_flush(ch);
}

static void lsn_bind(struct zt_listener *l)
{
	struct zt_chan *used[ZT_LSN_MAX];
	size_t nused = group_chans(l, used);
	struct zt_rsel *rs;

	if (!l->session->ners) {
		lsn_retry(l, -ENETUNREACH, "no edge router in the Bind session", true);
		return;
	}
	l->state = ZT_L_CHAN;
	rs = zt_router_want(l->ctx, l->session, used, nused, lsn_chan_cb, l);
	if (rs)
		l->rsel = rs;
}

static void lsn_session_cb(void *arg, struct zt_session *s, int err, const char *msg)
{
	struct zt_listener *l = arg;

	l->sreq = NULL;
	if (err) {
		lsn_retry(l, err, msg, true);
		return;
	}
	l->session = s;
	lsn_bind(l);
}

static void lsn_start(struct zt_listener *l)
{
	struct zt_ctx *ctx = l->ctx;
	struct zt_svc *svc = zt_svc_find(ctx, l->service);
	char why[400];

	if (!svc) {
		snprintf(why, sizeof(why), "service '%s' not found (unknown, or not visible to this identity)",
			 l->service);
		lsn_retry(l, -ENOENT, why, true);
		return;
	}
	if (!(svc->pub.perms & ZT_PERM_BIND)) {
		snprintf(why, sizeof(why), "identity has no Bind permission for service '%s'", l->service);
		lsn_retry(l, -EACCES, why, true);
		return;
	}
	if (l->session && strcmp(l->session->service_id, svc->pub.id)) {
		zt_session_put(l->session);
		l->session = NULL;
	}
	free(l->service_id);
	l->service_id = strdup(svc->pub.id);
	l->encrypted = svc->pub.encryption_required;
	l->state = ZT_L_SESSION;
	if (l->session) {
		lsn_bind(l);
		return;
	}
	l->sreq = zt_session_create(ctx, svc->pub.id, ZT_PERM_BIND, lsn_session_cb, l);
	if (!l->sreq)
		lsn_retry(l, -ENOMEM, "out of memory", true);
}

static void lsn_timer_cb(void *arg)
{
	lsn_start(arg);
}

void zt_listener_kick(struct zt_ctx *ctx)
{
	for (struct zt_listener *l = ctx->listeners; l; l = l->next) {
		struct zt_svc *svc = zt_svc_find(ctx, l->service);

		if (l->state == ZT_L_BACKOFF && svc && (svc->pub.perms & ZT_PERM_BIND)) {
			l->failures = 0;
			zt_timer_start(ctx->loop, &l->timer, 0);
		} else if ((l->state == ZT_L_BOUND || l->state == ZT_L_BINDING) &&
			   (!svc || !(svc->pub.perms & ZT_PERM_BIND) || strcmp(svc->pub.id, l->service_id))) {
			lsn_retry(l, -ENOENT, svc ? "service re-created or permission changed" : "service removed", true);
		}
	}
}

/*
 * A new API session: Bind sessions belong to the old one (the router closes a binding made
 * with one: "invalid api session"). Listeners not bound drop theirs and bind again at once,
 * instead of binding with the stale session, being refused and backing off; bound ones keep
 * theirs (their channel carried over with an OIDC token update; legacy channels of the old
 * API session were closed, and their listeners are in backoff by now).
 */
void zt_listener_auth_changed(struct zt_ctx *ctx)
{
	for (struct zt_listener *l = ctx->listeners; l; l = l->next) {
		if (l->state == ZT_L_BOUND || l->state == ZT_L_BINDING || l->state == ZT_L_SESSION)
			continue;
		lsn_detach(l);
		zt_session_put(l->session);
		l->session = NULL;
		l->failures = 0;
		l->state = ZT_L_BACKOFF;
		zt_timer_start(ctx->loop, &l->timer, 0);
	}
}

/*
 * UpdateBind: the router has the controller update this binding's terminator (precedence;
 * the header goes also for "default", which a Bind leaves out).
 */
static void lsn_update_bind(struct zt_listener *l)
{
	struct zt_msgb mb;
	size_t tl;
	uint8_t *b;

	if (!l->term_up || !l->ch || l->ch->state != ZT_CH_UP || !l->session)
		return;
	tl = strlen(l->session->token);
	if (zt_msgb_begin(&mb, &l->ch->out, ZT_CT_UPDATE_BIND, zt_chan_next_seq(l->ch)) ||
	    zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, l->id) || zt_msgb_hdr_u8(&mb, ZT_H_PRECEDENCE, l->o.precedence))
		return;
	b = zt_msgb_body(&mb, (uint32_t)tl);
	if (!b)
		return;
	memcpy(b, l->session->token, tl);
	zt_chan_flush(l->ch);
	l->sent_prec = l->o.precedence;
	zt_log(l->ctx, 2, "host %s: terminator on %s: precedence %s", l->service, l->ch->name,
	       l->o.precedence == ZT_PREC_REQUIRED ? "required" : l->o.precedence == ZT_PREC_FAILED ? "failed" :
											"default");
}

int zt_listener_set_precedence(struct zt_listener *l, uint8_t precedence)
{
	struct zt_listener *p = group_primary(l);

	if (precedence > ZT_PREC_FAILED)
		return -EINVAL;
	for (unsigned i = 0; i <= p->nsibs; i++) {
		struct zt_listener *m = i ? p->sibs[i - 1] : p;

		m->o.precedence = precedence;
		if (m->sent_prec != precedence)
			lsn_update_bind(m);
	}
	return 0;
}

void zt_listener_on_msg(struct zt_listener *l, struct zt_chan *ch, const struct zt_msg *m)
{
	char why[512];

	switch (m->content_type) {
	case ZT_CT_STATE_CONNECTED:
		if (l->state == ZT_L_BINDING) {
			l->state = ZT_L_BOUND;
			zt_log(l->ctx, 2, "host %s: bound on %s (conn %u)", l->service, ch->name, l->id);
		}
		return;
	case ZT_CT_BIND_SUCCESS:
		if (l->state == ZT_L_BOUND || l->state == ZT_L_BINDING) {
			l->state = ZT_L_BOUND;
			l->established = true;
			/* a router sends BindSuccess again for the same terminator (re-created at the
			 * controller after its reconnect): the same binding, the same number */
			if (!l->term_up)
				l->bind_seq = ++zt_bind_seq;
			l->term_up = true;
			l->failures = 0;
			lsn_status(l, 0, "terminator established");
			if (l->sent_prec != l->o.precedence) /* changed while binding */
				lsn_update_bind(l);
		}
		return;
	case ZT_CT_STATE_CLOSED: {
		struct zt_edge_err ee;
		enum zt_edge_act act;

		snprintf(why, sizeof(why), "%.*s", (int)(m->body_len > 400 ? 400 : m->body_len), (const char *)m->body);
		act = zt_edge_err(m, why, &ee);
		snprintf(why, sizeof(why), "binding closed by router: %.*s (%s)",
			 (int)(m->body_len > 400 ? 400 : m->body_len), (const char *)m->body, ee.desc);
		/*
		 * By the router's error code: a stale API session is refreshed (OIDC: a new token
		 * to the routers); a stale Bind session (service deleted/re-created, API session
		 * replaced, wrong router) is replaced; a refusal no new session mends (Internal,
		 * InvalidCost, ...) binds again with the same one. No code: the session may be
		 * stale, a new one.
		 */
		if (act == ZT_EDGE_NEW_API_SESSION)
			zt_ctx_check_session(l->ctx);
		if (act == ZT_EDGE_STALE_TOKEN) { /* the router's token, not the Bind session: a new channel */
			struct zt_chan *sc = l->ch;

			lsn_retry(l, -ECONNRESET, why, false);
			if (sc)
				zt_chan_token_stale(sc, why);
			return;
		}
		lsn_retry(l, -ECONNRESET, why, act != ZT_EDGE_OTHER);
		return;
	}
	case ZT_CT_DIAL: {
		struct zt_dial_req r = { .l = l, .ch = ch, .m = m, .bind_id = l->id, .seq = m->seq };
		const uint8_t *pk;
		uint32_t pkl;

		if (l->state != ZT_L_BOUND) {
			zt_send_dial_failed(ch, m, "binding not ready");
			zt_chan_flush(ch);
			return;
		}
		if (!zt_msg_hdr_u32(m, ZT_H_ROUTER_PROVIDED_CONN_ID, &r.new_id)) {
			zt_send_dial_failed(ch, m, "router did not provide a connection id");
			zt_chan_flush(ch);
			return;
		}
		if (m->body_len != strlen(l->session->token) || memcmp(m->body, l->session->token, m->body_len)) {
			zt_send_dial_failed(ch, m, "invalid token");
			zt_chan_flush(ch);
			return;
		}
		if (zt_msg_hdr(m, ZT_H_PUBLIC_KEY, &pk, &pkl) && pkl == crypto_kx_PUBLICKEYBYTES) {
			memcpy(r.pk, pk, sizeof(r.pk));
			r.has_pk = true;
		}
		if (l->cbs.on_dial)
			l->cbs.on_dial(group_primary(l), &r, l->user);
		if (!r.answered)
			zt_reject(&r, "dial not accepted by application");
		return;
	}
	default:
		return;
	}
}

const char *zt_dial_req_caller(const struct zt_dial_req *r)
{
	static __thread char buf[256];
	const uint8_t *v;
	uint32_t l;

	if (!r->m || !zt_msg_hdr(r->m, ZT_H_CALLER_ID, &v, &l))
		return NULL;
	snprintf(buf, sizeof(buf), "%.*s", (int)(l > 255 ? 255 : l), v);
	return buf;
}

static bool dial_hdr_str(const struct zt_dial_req *r, int hdr, char *out, size_t outlen)
{
	const uint8_t *v;
	uint32_t l;

	out[0] = 0;
	if (!r->m || !zt_msg_hdr(r->m, hdr, &v, &l) || !l)
		return false;
	snprintf(out, outlen, "%.*s", (int)(l < outlen ? l : outlen - 1), v);
	return true;
}

bool zt_dial_req_dialer(const struct zt_dial_req *r, char *id, size_t idlen, char *name, size_t namelen)
{
	bool a = dial_hdr_str(r, ZT_H_DIALER_IDENTITY_ID, id, idlen);
	bool b = dial_hdr_str(r, ZT_H_DIALER_IDENTITY_NAME, name, namelen);

	return a || b;
}

const uint8_t *zt_dial_req_app_data(const struct zt_dial_req *r, size_t *len)
{
	const uint8_t *v;
	uint32_t l;

	if (!r->m || !zt_msg_hdr(r->m, ZT_H_APP_DATA, &v, &l))
		return NULL;
	*len = l;
	return v;
}

struct zt_dial_req *zt_dial_req_hold(struct zt_dial_req *r)
{
	struct zt_dial_req *h;

	if (r->held)
		return r;
	if (r->answered || !r->l)
		return NULL;
	h = malloc(sizeof(*h));
	if (!h)
		return NULL;
	*h = *r;
	h->m = NULL;
	h->held = true;
	h->hprev = NULL;
	h->hnext = r->l->held;
	if (h->hnext)
		h->hnext->hprev = h;
	r->l->held = h;
	r->answered = true; /* the stack copy is answered by whoever owns h now */
	return h;
}

bool zt_dial_req_valid(const struct zt_dial_req *r)
{
	return !r->answered && r->l && r->ch && r->ch->state == ZT_CH_UP;
}

/* A held request is answered: unlink and free it. */
static void dial_req_done(struct zt_dial_req *r)
{
	if (!r->held)
		return;
	if (r->l) {
		if (r->hprev)
			r->hprev->hnext = r->hnext;
		else
			r->l->held = r->hnext;
		if (r->hnext)
			r->hnext->hprev = r->hprev;
	}
	sodium_memzero(r->pk, sizeof(r->pk));
	free(r);
}

static void reject_req(struct zt_dial_req *r, const char *reason)
{
	if (zt_dial_req_valid(r)) {
		zt_send_dial_failed_to(r->ch, r->bind_id, r->seq, reason ? reason : "rejected");
		zt_chan_flush(r->ch);
	}
	r->answered = true;
}

void zt_reject(struct zt_dial_req *r, const char *reason)
{
	reject_req(r, reason);
	dial_req_done(r);
}

static struct zt_conn *accept_req(struct zt_dial_req *r, const struct zt_conn_cbs *cbs, void *user)
{
	struct zt_listener *l = r->l;
	struct zt_chan *ch = r->ch;

	if (!zt_dial_req_valid(r)) {
		r->answered = true;
		return NULL;
	}
	if (l->encrypted && !r->has_pk) {
		reject_req(r, "end-to-end encryption required but the dialer sent no public key");
		return NULL;
	}
	int tag;

	if (zt_chan_map_get(ch, r->new_id, &tag)) {
		reject_req(r, "connection id already in use");
		return NULL;
	}
	struct zt_conn *c = zt_conn_new(l->ctx, cbs, user);

	if (!c) {
		reject_req(r, "out of memory");
		return NULL;
	}
	zt_timer_init(&c->timer, zt_conn_timer_cb, c);
	c->service = strdup(l->service);
	c->host_side = true;
	c->datagram = l->o.datagram;
	c->encrypted = l->encrypted;
	c->id = r->new_id;
	c->ch = ch;
	if (c->encrypted &&
	    crypto_kx_server_session_keys(c->rx_key, c->tx_key, l->pk, l->sk, r->pk) != 0) {
		c->ch = NULL;
		c->state = ZT_C_DEAD;
		zt_close(c);
		reject_req(r, "dialer public key rejected (crypto_kx)");
		return NULL;
	}
	if (zt_chan_map_add(ch, c->id, c, 0)) {
		c->ch = NULL;
		c->state = ZT_C_DEAD;
		zt_close(c);
		reject_req(r, "out of memory");
		return NULL;
	}
	r->answered = true;
	struct zt_msgb mb;
	uint8_t idb[4];

	zt_put_le32(idb, c->id);
	if (!zt_msgb_begin(&mb, &ch->out, ZT_CT_DIAL_SUCCESS, zt_chan_next_seq(ch)) &&
	    !zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, r->bind_id) && !zt_msgb_hdr_u32(&mb, ZT_H_REPLY_FOR, (uint32_t)r->seq)) {
		uint8_t *b = zt_msgb_body(&mb, 4);

		if (b)
			memcpy(b, idb, 4);
	}
	c->state = ZT_C_UP;
	if (c->encrypted)
		zt_conn_send_crypto_header(c);
	zt_chan_flush(ch);
	return c;
}

struct zt_conn *zt_accept(struct zt_dial_req *r, const struct zt_conn_cbs *cbs, void *user)
{
	struct zt_conn *c = accept_req(r, cbs, user);

	dial_req_done(r);
	return c;
}

static struct zt_listener *lsn_new(struct zt_ctx *ctx, const char *service, const struct zt_listen_opts *o,
				   const struct zt_listener_cbs *cbs, void *user)
{
	struct zt_listener *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->ctx = ctx;
	l->service = strdup(service);
	if (o) {
		l->o = *o;
		if (o->terminator_identity)
			l->terminator_identity = strdup(o->terminator_identity);
		if (o->terminator_secret)
			l->terminator_secret = strdup(o->terminator_secret);
	}
	if (cbs)
		l->cbs = *cbs;
	l->user = user;
	crypto_kx_keypair(l->pk, l->sk);
	zt_timer_init(&l->timer, lsn_timer_cb, l);
	l->state = ZT_L_BACKOFF;
	l->next = ctx->listeners;
	if (ctx->listeners)
		ctx->listeners->prev = l;
	ctx->listeners = l;
	zt_timer_start(ctx->loop, &l->timer, 0);
	return l;
}

/*
 * listenOptions.maxConnections (default 3, as host.v1): one terminator on each of up to that
 * many edge routers, so that dials go on through another when one router dies, and the
 * binding is made again on a router that comes back (the members retry with backoff).
 */
struct zt_listener *zt_listen(struct zt_ctx *ctx, const char *service, const struct zt_listen_opts *o,
			      const struct zt_listener_cbs *cbs, void *user)
{
	struct zt_listener *l = lsn_new(ctx, service, o, cbs, user);
	unsigned n = o && o->max_connections ? o->max_connections : 3;

	if (!l)
		return NULL;
	if (n > ZT_LSN_MAX)
		n = ZT_LSN_MAX;
	while (l->nsibs + 1 < n) {
		struct zt_listener *s = lsn_new(ctx, service, o, cbs, user);

		if (!s)
			break; /* fewer terminators, still hosted */
		s->primary = l;
		l->sibs[l->nsibs++] = s;
	}
	return l;
}

void *zt_listener_user(struct zt_listener *l)
{
	return l->user;
}

size_t zt_listener_terms(struct zt_listener *l, struct zt_lsn_term *out, size_t max)
{
	struct zt_listener *p = group_primary(l);
	size_t n = 0;

	for (unsigned i = 0; i <= p->nsibs; i++) {
		struct zt_listener *m = i ? p->sibs[i - 1] : p;

		if (!m->term_up || m->state != ZT_L_BOUND || !m->ch || m->ch->state != ZT_CH_UP)
			continue;
		if (n < max) {
			out[n].router = m->ch->name;
			out[n].seq = m->bind_seq;
		}
		n++;
	}
	return n;
}

static void lsn_free(void *p)
{
	struct zt_listener *l = p;

	sodium_memzero(l->sk, sizeof(l->sk));
	free(l->service);
	free(l->service_id);
	free(l->terminator_identity);
	free(l->terminator_secret);
	free(l);
}

void zt_listener_close(struct zt_listener *l)
{
	struct zt_ctx *ctx = l->ctx;

	while (l->nsibs)
		zt_listener_close(l->sibs[--l->nsibs]);
	if ((l->state == ZT_L_BOUND || l->state == ZT_L_BINDING) && l->ch && l->ch->state == ZT_CH_UP &&
	    l->session) {
		struct zt_msgb mb;
		size_t tl = strlen(l->session->token);

		if (!zt_msgb_begin(&mb, &l->ch->out, ZT_CT_UNBIND, zt_chan_next_seq(l->ch)) &&
		    !zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, l->id)) {
			uint8_t *b = zt_msgb_body(&mb, (uint32_t)tl);

			if (b)
				memcpy(b, l->session->token, tl);
		}
		zt_chan_flush(l->ch);
	}
	lsn_detach(l);
	zt_timer_stop(ctx->loop, &l->timer);
	zt_session_put(l->session);
	l->session = NULL;
	if (l->prev)
		l->prev->next = l->next;
	else
		ctx->listeners = l->next;
	if (l->next)
		l->next->prev = l->prev;
	zt_loop_defer_free(ctx->loop, lsn_free, l);
}
