// SPDX-License-Identifier: GPL-2.0
/*
 * Edge connections: Dial (Connect/StateConnected), Host (Bind/Dial/DialSuccess/DialFailed/
 * Unbind), Data with optional end-to-end encryption (crypto_kx + secretstream
 * xchacha20poly1305; the dialer is the kx client), FIN half-close and StateClosed.
 */
#include "zt_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SS_HDR crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES

static uint32_t next_id(struct zt_ctx *ctx)
{
	uint32_t id = ctx->next_conn_id++;

	if (ctx->next_conn_id >= 0x7fffffffu)
		ctx->next_conn_id = 1;
	return id;
}

static void conn_free(void *p)
{
	struct zt_conn *c = p;

	sodium_memzero(c->sk, sizeof(c->sk));
	sodium_memzero(c->rx_key, sizeof(c->rx_key));
	sodium_memzero(c->tx_key, sizeof(c->tx_key));
	sodium_memzero(&c->tx, sizeof(c->tx));
	sodium_memzero(&c->rx, sizeof(c->rx));
	free(c->service);
	free(c->terminator_identity);
	free(c->caller_id);
	free(c->app_data);
	free(c);
}

void *zt_conn_user(struct zt_conn *c)
{
	return c->user;
}

void zt_conn_set_user(struct zt_conn *c, const struct zt_conn_cbs *cbs, void *user)
{
	if (cbs)
		c->cbs = *cbs;
	c->user = user;
}

bool zt_conn_encrypted(const struct zt_conn *c)
{
	return c->encrypted;
}

uint32_t zt_conn_id(const struct zt_conn *c)
{
	return c->id;
}

/* Detach from channel/session machinery; conn stays allocated for the app. */
static void conn_detach(struct zt_conn *c)
{
	struct zt_ctx *ctx = c->ctx;

	zt_timer_stop(ctx->loop, &c->timer);
	if (c->dsf) {
		for (size_t i = 0; i < c->dsf->n; i++)
			if (c->dsf->w[i] == c)
				c->dsf->w[i] = NULL;
		c->dsf = NULL;
	}
	if (c->ch) {
		zt_chan_unwant(c->ch, c);
		if (c->state == ZT_C_CONNECTING || c->state == ZT_C_UP)
			zt_chan_map_del(c->ch, c->id);
		c->ch = NULL;
	}
	zt_session_put(c->session);
	c->session = NULL;
	c->want_writable = false;
}

/* Terminal failure/close reported to the app (once). */
static void conn_dead(struct zt_conn *c, int err, const char *why)
{
	enum zt_conn_state prev = c->state;

	if (prev == ZT_C_DEAD)
		return;
	conn_detach(c);
	c->state = ZT_C_DEAD;
	if (c->closed_by_app)
		return;
	if (prev == ZT_C_UP) {
		if (c->cbs.on_close)
			c->cbs.on_close(c, err, why, c->user);
	} else {
		if (c->cbs.on_connect)
			c->cbs.on_connect(c, err ? err : -ECONNREFUSED, why, c->user);
	}
}

void zt_conn_chan_lost(struct zt_conn *c, const char *why)
{
	char msg[400];

	c->ch = NULL; /* the map entry is already gone */
	snprintf(msg, sizeof(msg), "router connection lost: %s", why);
	conn_dead(c, -ECONNRESET, msg);
}

void zt_conn_refuse(struct zt_conn *c, const char *why)
{
	if ((c->state == ZT_C_UP || c->state == ZT_C_CONNECTING) && c->ch && c->ch->state == ZT_CH_UP) {
		struct zt_msgb mb;

		if (!zt_msgb_begin(&mb, &c->ch->out, ZT_CT_STATE_CLOSED, zt_chan_next_seq(c->ch)) &&
		    !zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, c->id))
			zt_chan_flush(c->ch);
	}
	conn_dead(c, -EMSGSIZE, why);
}

static struct zt_conn *conn_new(struct zt_ctx *ctx, const struct zt_conn_cbs *cbs, void *user)
{
	struct zt_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ctx = ctx;
	if (cbs)
		c->cbs = *cbs;
	c->user = user;
	c->next = ctx->conns;
	if (ctx->conns)
		ctx->conns->prev = c;
	ctx->conns = c;
	return c;
}

/* ---------------- sending ---------------- */

static int send_data(struct zt_conn *c, const uint8_t *p, size_t n, uint32_t flags)
{
	struct zt_chan *ch = c->ch;
	struct zt_msgb mb;
	size_t blen = (c->encrypted && n > 0) ? n + SS_ABYTES : n;

	if (zt_msgb_begin(&mb, &ch->out, ZT_CT_DATA, zt_chan_next_seq(ch)) ||
	    zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, c->id) || (flags && zt_msgb_hdr_u32(&mb, ZT_H_FLAGS, flags)))
		goto nomem;
	uint8_t *b = zt_msgb_body(&mb, (uint32_t)blen);

	if (!b)
		goto nomem;
	if (c->encrypted && n > 0)
		crypto_secretstream_xchacha20poly1305_push(&c->tx, b, NULL, p, n, NULL, 0,
							   crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	else if (n)
		memcpy(b, p, n);
	c->bytes_out += n;
	return 0;
nomem:
	zt_msgb_abort(&mb);
	return -ENOMEM;
}

/* secretstream header: sent alone as the first Data message */
static int send_crypto_header(struct zt_conn *c)
{
	struct zt_msgb mb;
	struct zt_chan *ch = c->ch;

	if (zt_msgb_begin(&mb, &ch->out, ZT_CT_DATA, zt_chan_next_seq(ch)) ||
	    zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, c->id))
		return -ENOMEM;
	uint8_t *b = zt_msgb_body(&mb, SS_HDR);

	if (!b)
		return -ENOMEM;
	crypto_secretstream_xchacha20poly1305_init_push(&c->tx, b, c->tx_key);
	return 0;
}

int zt_write(struct zt_conn *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (c->state != ZT_C_UP || !c->ch)
		return -ENOTCONN;
	if (c->fin_sent)
		return -EPIPE;
	if (c->datagram) {
		if (len > ZT_MAX_DATAGRAM)
			return -EMSGSIZE;
		int rc = send_data(c, p, len, 0);

		if (rc)
			return rc;
	} else {
		while (len > 0) {
			size_t n = len > ZT_MAX_CHUNK ? ZT_MAX_CHUNK : len;
			int rc = send_data(c, p, n, 0);

			if (rc)
				return rc;
			p += n;
			len -= n;
		}
	}
	zt_chan_flush(c->ch);
	return 0;
}

bool zt_writable(struct zt_conn *c)
{
	if (c->state != ZT_C_UP || !c->ch)
		return false;
	if (!zt_chan_congested(c->ch))
		return true;
	c->want_writable = true;
	c->ch->want_write_cb = true;
	return false;
}

void zt_conn_writable(struct zt_conn *c)
{
	c->want_writable = false;
	if (c->state == ZT_C_UP && !c->closed_by_app && c->cbs.on_writable)
		c->cbs.on_writable(c, c->user);
}

int zt_close_write(struct zt_conn *c)
{
	if (c->state != ZT_C_UP || !c->ch)
		return -ENOTCONN;
	if (c->fin_sent)
		return 0;
	c->fin_sent = true;
	int rc = send_data(c, NULL, 0, ZT_FLAG_FIN);

	zt_chan_flush(c->ch);
	return rc;
}

void zt_close(struct zt_conn *c)
{
	struct zt_ctx *ctx = c->ctx;

	if (c->closed_by_app)
		return;
	c->closed_by_app = true;
	if ((c->state == ZT_C_UP || c->state == ZT_C_CONNECTING) && c->ch && c->ch->state == ZT_CH_UP) {
		struct zt_msgb mb;

		if (!zt_msgb_begin(&mb, &c->ch->out, ZT_CT_STATE_CLOSED, zt_chan_next_seq(c->ch)) &&
		    !zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, c->id))
			zt_chan_flush(c->ch);
	}
	conn_detach(c);
	c->state = ZT_C_DEAD;
	if (c->prev)
		c->prev->next = c->next;
	else
		ctx->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	zt_loop_defer_free(ctx->loop, conn_free, c);
}

/* ---------------- receiving ---------------- */

static bool deliver(struct zt_conn *c, const uint8_t *p, size_t n, bool multipart)
{
	if (!multipart) {
		if (n && c->cbs.on_data)
			c->cbs.on_data(c, p, n, c->user);
		return !c->closed_by_app && c->state == ZT_C_UP;
	}
	const uint8_t *part;
	size_t plen, left = n;

	for (;;) {
		int r = zt_multipart_next(&p, &left, &part, &plen);

		if (r == 0)
			return true;
		if (r < 0) {
			conn_dead(c, -EPROTO, "malformed MULTIPART_MSG payload");
			return false;
		}
		if (plen && c->cbs.on_data)
			c->cbs.on_data(c, part, plen, c->user);
		if (c->closed_by_app || c->state != ZT_C_UP)
			return false;
	}
}

static void on_data_msg(struct zt_conn *c, const struct zt_msg *m)
{
	uint32_t flags = 0;

	zt_msg_hdr_u32(m, ZT_H_FLAGS, &flags);
	if (m->body_len > 0) {
		if (c->encrypted) {
			if (!c->rx_ready) {
				if (m->body_len != SS_HDR ||
				    crypto_secretstream_xchacha20poly1305_init_pull(&c->rx, m->body, c->rx_key) != 0) {
					conn_dead(c, -EPROTO, "bad end-to-end crypto header from peer");
					return;
				}
				c->rx_ready = true;
			} else {
				if (m->body_len < SS_ABYTES) {
					conn_dead(c, -EPROTO, "short encrypted message");
					return;
				}
				size_t plen = m->body_len - SS_ABYTES;
				uint8_t *plain = malloc(plen ? plen : 1);
				unsigned char tag;

				if (!plain) {
					conn_dead(c, -ENOMEM, "out of memory");
					return;
				}
				if (crypto_secretstream_xchacha20poly1305_pull(&c->rx, plain, NULL, &tag, m->body,
									       m->body_len, NULL, 0) != 0) {
					free(plain);
					conn_dead(c, -EBADMSG, "end-to-end decryption failed");
					return;
				}
				c->bytes_in += plen;
				bool alive = deliver(c, plain, plen, flags & ZT_FLAG_MULTIPART_MSG);

				free(plain);
				if (!alive)
					return;
			}
		} else {
			c->bytes_in += m->body_len;
			if (!deliver(c, m->body, m->body_len, flags & ZT_FLAG_MULTIPART_MSG))
				return;
		}
	}
	if ((flags & ZT_FLAG_FIN) && !c->fin_recv) {
		c->fin_recv = true;
		if (c->cbs.on_data)
			c->cbs.on_data(c, NULL, 0, c->user);
	}
}

static void connected(struct zt_conn *c, const struct zt_msg *m)
{
	if (c->encrypted) {
		const uint8_t *pk;
		uint32_t pkl;

		if (!zt_msg_hdr(m, ZT_H_PUBLIC_KEY, &pk, &pkl) || pkl != crypto_kx_PUBLICKEYBYTES) {
			conn_dead(c, -EPROTO, "service requires end-to-end encryption but the host sent no public key");
			return;
		}
		if (crypto_kx_client_session_keys(c->rx_key, c->tx_key, c->pk, c->sk, pk) != 0) {
			conn_dead(c, -EPROTO, "host public key rejected (crypto_kx)");
			return;
		}
		if (send_crypto_header(c)) {
			conn_dead(c, -ENOMEM, "out of memory");
			return;
		}
		zt_chan_flush(c->ch);
	}
	zt_timer_stop(c->ctx->loop, &c->timer);
	c->state = ZT_C_UP;
	if (c->cbs.on_connect)
		c->cbs.on_connect(c, 0, NULL, c->user);
}

static void dial_start(struct zt_conn *c);

void zt_conn_on_msg(struct zt_conn *c, const struct zt_msg *m)
{
	char why[512];

	switch (m->content_type) {
	case ZT_CT_STATE_CONNECTED:
		if (c->state == ZT_C_CONNECTING)
			connected(c, m);
		return;
	case ZT_CT_STATE_CLOSED:
		snprintf(why, sizeof(why), "%.*s", (int)(m->body_len > 400 ? 400 : m->body_len), (const char *)m->body);
		if (c->state == ZT_C_CONNECTING) {
			/* a stale Dial session (API session replaced, service re-created): retry once */
			if (strcasestr(why, "invalid session") && c->attempts < 3) {
				struct zt_svc *s = zt_svc_find(c->ctx, c->service);

				zt_log(c->ctx, 2, "dial %s: router says '%s', new session", c->service, why);
				if (s && s->dial_session && s->dial_session == c->session) {
					zt_session_put(s->dial_session);
					s->dial_session = NULL;
				}
				conn_detach(c);
				c->state = ZT_C_NEW;
				dial_start(c);
				return;
			}
			char msg[600];

			snprintf(msg, sizeof(msg), "dial refused by network: %s", *why ? why : "(no reason)");
			conn_dead(c, -ECONNREFUSED, msg);
		} else {
			conn_dead(c, 0, *why ? why : "closed by peer");
		}
		return;
	case ZT_CT_DATA:
		if (c->state == ZT_C_UP)
			on_data_msg(c, m);
		return;
	default:
		return;
	}
}

/* ---------------- dialing ---------------- */

static void conn_timer_cb(void *arg)
{
	struct zt_conn *c = arg;

	if (c->state == ZT_C_NEW) {
		dial_start(c);
		return;
	}
	conn_dead(c, -ETIMEDOUT, "dial timed out");
}

static void dial_chan_cb(void *arg, struct zt_chan *ch, int err, const char *msg)
{
	struct zt_conn *c = arg;
	struct zt_msgb mb;
	char why[400];
	/* Like the Go SDK: the caller is our identity's name unless the application says. */
	const char *caller = c->caller_id ? c->caller_id : c->ctx->identity_name;

	if (err) {
		c->ch = NULL;
		snprintf(why, sizeof(why), "cannot reach edge router: %s", msg ? msg : "?");
		conn_dead(c, err, why);
		return;
	}
	c->id = next_id(c->ctx);
	if (zt_chan_map_add(ch, c->id, c, 0)) {
		conn_dead(c, -ENOMEM, "out of memory");
		return;
	}
	c->state = ZT_C_CONNECTING;
	if (c->encrypted)
		crypto_kx_keypair(c->pk, c->sk);
	if (zt_msgb_begin(&mb, &ch->out, ZT_CT_CONNECT, zt_chan_next_seq(ch)) ||
	    zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, c->id) ||
	    (c->encrypted && zt_msgb_hdr(&mb, ZT_H_PUBLIC_KEY, c->pk, sizeof(c->pk))) ||
	    (c->terminator_identity && zt_msgb_hdr_str(&mb, ZT_H_TERMINATOR_IDENTITY, c->terminator_identity)) ||
	    (caller && zt_msgb_hdr_str(&mb, ZT_H_CALLER_ID, caller)) ||
	    (c->app_data && zt_msgb_hdr(&mb, ZT_H_APP_DATA, c->app_data, (uint32_t)c->app_data_len))) {
		conn_dead(c, -ENOMEM, "out of memory");
		return;
	}
	size_t tl = strlen(c->session->token);
	uint8_t *b = zt_msgb_body(&mb, (uint32_t)tl);

	if (!b) {
		conn_dead(c, -ENOMEM, "out of memory");
		return;
	}
	memcpy(b, c->session->token, tl);
	zt_chan_flush(ch);
}

static struct zt_chan *pick_router(struct zt_ctx *ctx, struct zt_session *s)
{
	struct zt_chan *best = NULL;

	for (size_t i = 0; i < s->ners; i++) {
		struct zt_chan *ch = zt_chan_get(ctx, s->ers[i].url, s->ers[i].name);

		if (!ch)
			continue;
		if (ch->state == ZT_CH_UP)
			return ch;
		if (!best || (best->state == ZT_CH_BACKOFF && ch->state != ZT_CH_BACKOFF))
			best = ch;
	}
	return best;
}

static void dial_with_session(struct zt_conn *c)
{
	struct zt_chan *ch = pick_router(c->ctx, c->session);

	if (!ch) {
		conn_dead(c, -ENETUNREACH, "no usable edge router URL in session");
		return;
	}
	c->ch = ch;
	c->state = ZT_C_CHAN;
	zt_chan_want(ch, dial_chan_cb, c);
}

static void dsf_cb(void *arg, struct zt_session *s, int err, const char *msg)
{
	struct zt_dsf *f = arg;
	struct zt_ctx *ctx = f->ctx;

	for (struct zt_dsf **pp = &ctx->dsfs; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	if (!err) {
		struct zt_svc *svc = NULL;

		for (size_t i = 0; i < ctx->nsvcs; i++)
			if (!strcmp(ctx->svcs[i]->pub.id, s->service_id))
				svc = ctx->svcs[i];
		if (svc && !svc->dial_session) {
			svc->dial_session = s;
			s->refs++;
		}
	}
	for (size_t i = 0; i < f->n; i++) {
		struct zt_conn *c = f->w[i];

		if (!c)
			continue;
		f->w[i] = NULL;
		c->dsf = NULL;
		if (err) {
			conn_dead(c, err, msg);
			continue;
		}
		c->session = s;
		s->refs++;
		dial_with_session(c);
	}
	if (!err)
		zt_session_put(s);
	free(f->w);
	free(f->service_id);
	free(f);
}

static int dsf_join(struct zt_conn *c, const char *service_id)
{
	struct zt_ctx *ctx = c->ctx;
	struct zt_dsf *f;

	for (f = ctx->dsfs; f; f = f->next)
		if (!strcmp(f->service_id, service_id))
			break;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f)
			return -ENOMEM;
		f->ctx = ctx;
		f->service_id = strdup(service_id);
		f->next = ctx->dsfs;
		ctx->dsfs = f;
		f->sreq = zt_session_create(ctx, service_id, ZT_PERM_DIAL, dsf_cb, f);
		if (!f->sreq) {
			ctx->dsfs = f->next;
			free(f->service_id);
			free(f);
			return -ENOMEM;
		}
	}
	if (f->n == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 8;
		struct zt_conn **nw = realloc(f->w, nc * sizeof(*nw));

		if (!nw)
			return -ENOMEM;
		f->w = nw;
		f->cap = nc;
	}
	f->w[f->n++] = c;
	c->dsf = f;
	return 0;
}

static void dial_start(struct zt_conn *c)
{
	struct zt_ctx *ctx = c->ctx;
	struct zt_svc *svc = zt_svc_find(ctx, c->service);
	char why[400];

	c->attempts++;
	if (!svc) {
		snprintf(why, sizeof(why), "service '%s' not found (unknown, or not visible to this identity)",
			 c->service);
		conn_dead(c, -ENOENT, why);
		return;
	}
	if (!(svc->pub.perms & ZT_PERM_DIAL)) {
		snprintf(why, sizeof(why), "identity has no Dial permission for service '%s'", c->service);
		conn_dead(c, -EACCES, why);
		return;
	}
	c->encrypted = svc->pub.encryption_required;
	c->state = ZT_C_SESSION;
	zt_timer_start(ctx->loop, &c->timer, ctx->o.connect_timeout_ms);
	if (svc->dial_session) {
		c->session = svc->dial_session;
		c->session->refs++;
		dial_with_session(c);
		return;
	}
	if (dsf_join(c, svc->pub.id))
		conn_dead(c, -ENOMEM, "out of memory");
}

struct zt_conn *zt_dial(struct zt_ctx *ctx, const char *service, const struct zt_dial_opts *o,
			const struct zt_conn_cbs *cbs, void *user)
{
	struct zt_conn *c = conn_new(ctx, cbs, user);

	if (!c)
		return NULL;
	c->service = strdup(service);
	if (o) {
		c->datagram = o->datagram;
		if (o->terminator_identity)
			c->terminator_identity = strdup(o->terminator_identity);
		if (o->caller_id)
			c->caller_id = strdup(o->caller_id);
		if (o->app_data && o->app_data_len) {
			c->app_data = malloc(o->app_data_len);
			if (c->app_data) {
				memcpy(c->app_data, o->app_data, o->app_data_len);
				c->app_data_len = o->app_data_len;
			}
		}
	}
	c->state = ZT_C_NEW;
	zt_timer_init(&c->timer, conn_timer_cb, c);
	zt_timer_start(ctx->loop, &c->timer, 0); /* callbacks never run inside zt_dial() */
	return c;
}

/* ---------------- hosting ---------------- */

static void lsn_start(struct zt_listener *l);

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
	zt_log(ctx, 1, "host %s: %s (retry in %u ms)", l->service, why, d);
	if (l->cbs.on_status)
		l->cbs.on_status(l, err, why, l->user);
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

	if (err) {
		l->ch = NULL;
		snprintf(why, sizeof(why), "cannot reach edge router: %s", msg ? msg : "?");
		lsn_retry(l, err, why, false);
		return;
	}
	l->id = next_id(l->ctx);
	if (zt_chan_map_add(ch, l->id, l, 1)) {
		lsn_retry(l, -ENOMEM, "out of memory", false);
		return;
	}
	l->state = ZT_L_BINDING;
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
	struct zt_chan *ch = pick_router(l->ctx, l->session);

	if (!ch) {
		lsn_retry(l, -ENETUNREACH, "no usable edge router URL in session", true);
		return;
	}
	l->ch = ch;
	l->state = ZT_L_CHAN;
	zt_chan_want(ch, lsn_chan_cb, l);
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
			l->failures = 0;
			if (l->cbs.on_status)
				l->cbs.on_status(l, 0, "terminator established", l->user);
		}
		return;
	case ZT_CT_STATE_CLOSED:
		snprintf(why, sizeof(why), "binding closed by router: %.*s",
			 (int)(m->body_len > 400 ? 400 : m->body_len), (const char *)m->body);
		/* the Bind session may be stale (service deleted/re-created, API session replaced) */
		lsn_retry(l, -ECONNRESET, why, true);
		return;
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
			l->cbs.on_dial(l, &r, l->user);
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
	struct zt_conn *c = conn_new(l->ctx, cbs, user);

	if (!c) {
		reject_req(r, "out of memory");
		return NULL;
	}
	zt_timer_init(&c->timer, conn_timer_cb, c);
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
		send_crypto_header(c);
	zt_chan_flush(ch);
	return c;
}

struct zt_conn *zt_accept(struct zt_dial_req *r, const struct zt_conn_cbs *cbs, void *user)
{
	struct zt_conn *c = accept_req(r, cbs, user);

	dial_req_done(r);
	return c;
}

struct zt_listener *zt_listen(struct zt_ctx *ctx, const char *service, const struct zt_listen_opts *o,
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

void *zt_listener_user(struct zt_listener *l)
{
	return l->user;
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
