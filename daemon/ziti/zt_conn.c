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

uint32_t zt_conn_next_id(struct zt_ctx *ctx)
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
	free(c->attempt_key);
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

void zt_conn_set_lossy(struct zt_conn *c, bool lossy)
{
	c->lossy = lossy;
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
	zt_router_cancel(c->rsel);
	c->rsel = NULL;
	if (c->dsf) {
		for (size_t i = 0; i < c->dsf->n; i++)
			if (c->dsf->w[i] == c)
				c->dsf->w[i] = NULL;
		c->dsf = NULL;
	}
	if (c->ch) {
		zt_chan_unwant(c->ch, c);
		zt_chan_dgram_forget(c->ch, c);
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
	if (prev == ZT_C_UP || c->redialing) {
		if (c->cbs.on_close)
			c->cbs.on_close(c, err, why, c->user);
	} else {
		if (c->cbs.on_connect)
			c->cbs.on_connect(c, err ? err : -ECONNREFUSED, why, c->user);
	}
}

static void dial_start(struct zt_conn *c);

/* an established datagram dial (or one being dialed again) whose router or circuit is gone */
static bool may_redial(const struct zt_conn *c)
{
	return c->datagram && !c->host_side && !c->closed_by_app && (c->state == ZT_C_UP || c->redialing);
}

/*
 * Dial again through a router that is up: at once the first time, then every 200 ms until
 * connect_timeout_ms after the loss; then the application is told (on_close).
 */
static void redial_after(struct zt_conn *c, const char *why, unsigned delay_ms)
{
	uint64_t now = zt_now_ms();
	bool first = !c->redialing;

	conn_detach(c);
	if (first) {
		c->redialing = true;
		c->redials++;
		c->redial_unanswered = 0;
		c->redial_deadline_ms = now + c->ctx->o.connect_timeout_ms;
		zt_log(c->ctx, 1, "dial %s: %s; dialing again", c->service, why);
	}
	if (now >= c->redial_deadline_ms) {
		conn_dead(c, -ECONNRESET, why);
		return;
	}
	c->state = ZT_C_NEW;
	c->rx_ready = false;
	c->attempts = 0;
	zt_timer_start(c->ctx->loop, &c->timer, first ? 0 : delay_ms);
}

static void redial(struct zt_conn *c, const char *why)
{
	redial_after(c, why, 200);
}

/*
 * How long one attempt of a re-dial may wait for the router's answer: 500 ms, then 1 s, 2 s, ...
 * (a dial is answered in tens of milliseconds; one the controller is still trying terminators
 * for, and would refuse, is given up a little early at no cost), never past the re-dial's
 * deadline. The network may
 * drop a circuit request and never answer it (seen after a re-authentication of the hosting
 * side, OpenZiti v1.6.5): waiting out the whole connect timeout on it would end the call.
 */
#define ZT_REDIAL_ATTEMPT_MS 500u /* the least: attempt_base_ms() follows the answer times */

/*
 * The answer times of datagram dials (Connect to StateConnected; each attempt has its own conn
 * id, so an answer is never taken for another attempt's): RFC 6298's smoothed time and
 * variation. An attempt's wait is at least their sum (srtt + 4 rttvar, at most 10 s), so a
 * controller that takes seconds to route each circuit (under TCG, 3.7 s) does not have every
 * attempt given up just before its answer, each one adding a circuit request to its queue.
 */
static void dial_rtt_sample(struct zt_ctx *ctx, uint64_t ms)
{
	uint32_t r = ms > 60000 ? 60000 : (uint32_t)ms;

	if (!ctx->dial_srtt_ms) {
		ctx->dial_srtt_ms = r ? r : 1;
		ctx->dial_rttvar_ms = r / 2;
		return;
	}
	uint32_t d = r > ctx->dial_srtt_ms ? r - ctx->dial_srtt_ms : ctx->dial_srtt_ms - r;

	ctx->dial_rttvar_ms = (3 * ctx->dial_rttvar_ms + d) / 4;
	ctx->dial_srtt_ms = (7 * ctx->dial_srtt_ms + r) / 8;
	if (!ctx->dial_srtt_ms)
		ctx->dial_srtt_ms = 1;
}

/* @min_ms, or the answer times' bound when that is longer */
static unsigned attempt_base_ms(const struct zt_ctx *ctx, unsigned min_ms)
{
	uint64_t rto = (uint64_t)ctx->dial_srtt_ms + 4 * (uint64_t)ctx->dial_rttvar_ms;

	if (rto > 10000)
		rto = 10000;
	return rto > min_ms ? (unsigned)rto : min_ms;
}

/* an attempt's wait: @base_ms doubled for each earlier unanswered one (at most @max_shift times), never past @deadline_ms */
static uint64_t attempt_ms(unsigned base_ms, unsigned unanswered, unsigned max_shift, uint64_t deadline_ms)
{
	uint64_t d = (uint64_t)base_ms << (unanswered < max_shift ? unanswered : max_shift), now = zt_now_ms();
	uint64_t left = deadline_ms > now ? deadline_ms - now : 0;

	return d < left ? d : left;
}

/* an attempt without an answer: the router is told to forget it */
static void abandon_attempt(struct zt_conn *c)
{
	if (c->ch) {
		zt_send_state_closed(c->ch, c->id, "dial abandoned: no answer");
		zt_chan_flush(c->ch);
	}
}

/* a re-dial's attempt went unanswered: the router is told to forget it, and it is sent again */
static void redial_unanswered(struct zt_conn *c)
{
	char why[160];
	uint64_t waited = zt_now_ms() - c->session_ms;

	abandon_attempt(c);
	c->avoid_ch = c->ch;
	c->redial_unanswered++;
	snprintf(why, sizeof(why), "no answer to the dial in %llu ms", (unsigned long long)waited);
	zt_log(c->ctx, 1, "dial %s: %s on router %s (conn %u): dialing again", c->service, why,
	       c->ch ? c->ch->name : "?", c->id);
	redial_after(c, why, 0);
}

/*
 * A first dial's attempt: how long a datagram dial waits for the router's answer before it
 * gives the attempt up and sends it again, 2 s, then 4 s, 8 s, never past the dial's
 * deadline (its connect timeout). A datagram dial is answered as soon as the hosting side has
 * a socket for it (nothing to wait for at the server), in tens of milliseconds; 2 s is
 * a circuit request the network dropped (as the re-dials above found) or a router starved for
 * that long. A stream dial is not sent twice: its answer waits, legitimately, on the hosting
 * side's connect to its server (up to that side's connect timeout), and a second attempt
 * would make a second connection to the server.
 */
#define ZT_DIAL_ATTEMPT_MS 2000u /* the least: attempt_base_ms() follows the answer times */

static void dial_with_session(struct zt_conn *c);

/* a first datagram dial's attempt went unanswered: the router is told to forget it; sent again */
static void dial_unanswered(struct zt_conn *c)
{
	struct zt_session *s = c->session;
	uint64_t now = zt_now_ms();

	abandon_attempt(c);
	c->avoid_ch = c->ch;
	c->dial_unanswered++;
	zt_log(c->ctx, 1, "dial %s: no answer in %llu ms on router %s (conn %u): dialing again", c->service,
	       (unsigned long long)(now - c->connect_ms), c->ch ? c->ch->name : "?", c->id);
	s->refs++; /* conn_detach() lets the dial's session go: the next attempt uses it */
	conn_detach(c);
	c->session = s;
	zt_timer_start(c->ctx->loop, &c->timer, c->dial_deadline_ms > now ? c->dial_deadline_ms - now : 0);
	uint64_t session_ms = c->session_ms; /* the connected log's "Dial session in hand" is the first's */

	dial_with_session(c);
	c->session_ms = session_ms;
}

/*
 * Its router fell silent (zt_health.c): a live datagram dial leaves its circuit there (told to
 * close it, should the router still read) and dials again; anything else stays. True if moved.
 */
bool zt_conn_move(struct zt_conn *c, const char *why)
{
	struct zt_msgb mb;

	if (!may_redial(c) || c->state != ZT_C_UP || c->redialing || !c->ch)
		return false;
	if (!zt_msgb_begin(&mb, &c->ch->out, ZT_CT_STATE_CLOSED, zt_chan_next_seq(c->ch)) &&
	    !zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, c->id))
		zt_chan_flush(c->ch);
	redial(c, why);
	return true;
}

void zt_conn_chan_lost(struct zt_conn *c, const char *why)
{
	char msg[400];

	c->ch = NULL; /* the map entry is already gone */
	snprintf(msg, sizeof(msg), "router connection lost: %s", why);
	if (may_redial(c)) {
		redial(c, msg);
		return;
	}
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

struct zt_conn *zt_conn_new(struct zt_ctx *ctx, const struct zt_conn_cbs *cbs, void *user)
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

/* stream data waits in ch->bulk, behind datagrams (zt_sched.c); datagrams are encoded when sent */
static int send_data(struct zt_conn *c, const uint8_t *p, size_t n, uint32_t flags)
{
	struct zt_chan *ch = c->ch;
	struct zt_msgb mb;
	size_t blen = (c->encrypted && n > 0) ? n + SS_ABYTES : n;

	if (zt_msgb_begin(&mb, c->lossy ? &ch->out : &ch->bulk, ZT_CT_DATA, zt_chan_next_seq(ch)) ||
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

int zt_conn_encode_data(struct zt_conn *c, const uint8_t *p, size_t n)
{
	return send_data(c, p, n, 0);
}

/* secretstream header: sent alone as the first Data message */
int zt_conn_send_crypto_header(struct zt_conn *c)
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

	if (c->redialing && !c->closed_by_app) {
		c->redial_dropped++;
		return 0;
	}
	if (c->state != ZT_C_UP || !c->ch)
		return -ENOTCONN;
	if (c->fin_sent)
		return -EPIPE;
	if (c->datagram || c->lossy) {
		if (len > ZT_MAX_DATAGRAM)
			return -EMSGSIZE;
		int rc = c->lossy ? zt_chan_dgram_queue(c->ch, c, p, len) : send_data(c, p, len, 0);

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
	if (c->redialing)
		return true; /* dropped while dialing again (zt_write) */
	if (c->state != ZT_C_UP || !c->ch)
		return false;
	if (c->lossy || !zt_chan_congested(c->ch)) /* lossy: bounded by age, never wait */
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

		if (c->lossy)
			zt_chan_dgram_flush_conn(c->ch, c);
		/* after the conn's own data: a stream's waits in bulk */
		if (!zt_msgb_begin(&mb, c->lossy ? &c->ch->out : &c->ch->bulk, ZT_CT_STATE_CLOSED,
				   zt_chan_next_seq(c->ch)) &&
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

/*
 * the context's decryption buffer, at least @n bytes (grown, never shrunk), for messages up
 * to ZT_PLAIN_KEEP (datagrams, stream reads); NULL: no memory, or a larger message, which gets
 * a buffer of its own (a rare large one must not pin megabytes for the process's life)
 */
#define ZT_PLAIN_KEEP (64u * 1024)
static uint8_t *plain_buf(struct zt_ctx *ctx, size_t n)
{
	if (n > ZT_PLAIN_KEEP)
		return NULL;
	if (n > ctx->plain_cap || !ctx->plain) {
		size_t cap = n > 2048 ? n : 2048;
		uint8_t *p = realloc(ctx->plain, cap);

		if (!p)
			return NULL;
		ctx->plain = p;
		ctx->plain_cap = cap;
	}
	return ctx->plain;
}

void zt_ctx_scratch_free(struct zt_ctx *ctx)
{
	free(ctx->plain);
	ctx->plain = NULL;
	ctx->plain_cap = 0;
}

static void on_data_msg(struct zt_conn *c, const struct zt_msg *m)
{
	uint32_t flags = 0;

	zt_msg_hdr_u32(m, ZT_H_FLAGS, &flags);
	c->last_rx_ms = zt_loop_now_ms(c->ctx->loop);
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
				struct zt_ctx *ctx = c->ctx;
				/* a delivery inside a delivery, or a large message: a buffer of its own */
				bool own = ctx->plain_busy || plen > ZT_PLAIN_KEEP;
				uint8_t *plain = own ? malloc(plen ? plen : 1) : plain_buf(ctx, plen);
				unsigned char tag;

				if (!plain) {
					conn_dead(c, -ENOMEM, "out of memory");
					return;
				}
				if (crypto_secretstream_xchacha20poly1305_pull(&c->rx, plain, NULL, &tag, m->body,
									       m->body_len, NULL, 0) != 0) {
					if (own)
						free(plain);
					conn_dead(c, -EBADMSG, "end-to-end decryption failed");
					return;
				}
				c->bytes_in += plen;
				if (!own)
					ctx->plain_busy = true;
				bool alive = deliver(c, plain, plen, flags & ZT_FLAG_MULTIPART_MSG);

				if (own)
					free(plain);
				else
					ctx->plain_busy = false;
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
		if (zt_conn_send_crypto_header(c)) {
			conn_dead(c, -ENOMEM, "out of memory");
			return;
		}
		zt_chan_flush(c->ch);
	}
	zt_timer_stop(c->ctx->loop, &c->timer);
	c->state = ZT_C_UP;
	c->last_rx_ms = zt_now_ms();
	if (c->redialing) {
		c->redialing = false;
		zt_log(c->ctx, 1, "dial %s: connected again on router %s (%llu datagrams dropped meanwhile)", c->service,
		       c->ch->name, (unsigned long long)c->redial_dropped);
		c->redial_dropped = 0;
		return;
	}
	char tries[64] = "";

	if (c->dial_unanswered)
		snprintf(tries, sizeof(tries), "; %u attempt%s before without an answer", c->dial_unanswered,
			 c->dial_unanswered > 1 ? "s" : "");
	zt_log(c->ctx, c->dial_unanswered ? 1 : 2, "dial %s: connected on router %s in %llu ms (Dial session %s%llu ms%s)",
	       c->service, c->ch->name, (unsigned long long)(zt_now_ms() - c->dial_start_ms),
	       c->session_fetched ? "fetched in " : "in hand, ", (unsigned long long)(c->session_ms - c->dial_start_ms),
	       tries);
	if (c->cbs.on_connect)
		c->cbs.on_connect(c, 0, NULL, c->user);
}

void zt_conn_on_msg(struct zt_conn *c, const struct zt_msg *m)
{
	char why[512];

	switch (m->content_type) {
	case ZT_CT_STATE_CONNECTED:
		if (c->state == ZT_C_CONNECTING) {
			if (c->datagram && !c->host_side && c->connect_ms)
				dial_rtt_sample(c->ctx, zt_now_ms() - c->connect_ms);
			connected(c, m);
		}
		return;
	case ZT_CT_STATE_CLOSED:
		snprintf(why, sizeof(why), "%.*s", (int)(m->body_len > 400 ? 400 : m->body_len), (const char *)m->body);
		zt_log(c->ctx, 3, "dial %s: conn %u closed by router %s in state %d: %s", c->service, c->id,
		       c->ch ? c->ch->name : "?", c->state, why);
		/*
		 * A live datagram flow's circuit closed (its far router died): dial again. One
		 * that was silent 2 s (the host closed an idle flow) is closed as before.
		 */
		if (may_redial(c) && (c->redialing || zt_now_ms() - c->last_rx_ms < 2000)) {
			struct zt_edge_err ee;
			struct zt_chan *sc = c->ch;
			bool stale = c->state == ZT_C_CONNECTING && zt_edge_err(m, why, &ee) == ZT_EDGE_STALE_TOKEN;

			/* off the channel: its map entry, its wait for writability, its queued datagrams */
			conn_detach(c);
			if (stale && sc) /* a re-dial refused for the router's token: not on that channel again */
				zt_chan_token_stale(sc, why);
			c->state = ZT_C_NEW;
			redial(c, *why ? why : "closed by the network");
			return;
		}
		if (c->state == ZT_C_CONNECTING) {
			/*
			 * Refused: the router's error code says why (zt_edgeerr.c). A stale Dial
			 * session (service re-created; removed by the controller, e.g. when its
			 * posture checks failed) or one for the wrong router: a new one. A stale API
			 * session (one replaced while the dial waited, or a token the router no
			 * longer takes): refresh it (OIDC: a new token pushed to the routers), then
			 * a new Dial session. Routers that send no code: their text, as v1.6.x's say
			 * it ("invalid session", "session closed", "invalid api session id, expected
			 * NEW, got OLD").
			 */
			struct zt_edge_err ee;
			enum zt_edge_act act = zt_edge_err(m, why, &ee);

			if (act == ZT_EDGE_STALE_TOKEN && c->attempts < 3) {
				struct zt_chan *ch = c->ch;

				zt_log(c->ctx, 1, "dial %s: router %s says '%s': its copy of our API session token is "
				       "stale; dialing again on a channel that presents the current one", c->service,
				       ch ? ch->name : "?", why);
				conn_detach(c);
				if (ch)
					zt_chan_token_stale(ch, why);
				c->state = ZT_C_NEW;
				dial_start(c);
				return;
			}
			if ((act == ZT_EDGE_NEW_SESSION || act == ZT_EDGE_NEW_API_SESSION) && c->attempts < 3) {
				struct zt_svc *s = zt_svc_find(c->ctx, c->service);

				zt_log(c->ctx, 2, "dial %s: router says '%s' (%s): %snew Dial session", c->service, why,
				       ee.desc, act == ZT_EDGE_NEW_API_SESSION ? "API session refresh, " : "");
				if (act == ZT_EDGE_NEW_API_SESSION)
					zt_ctx_check_session(c->ctx);
				if (s && s->dial_session && s->dial_session == c->session) {
					zt_session_put(s->dial_session);
					s->dial_session = NULL;
				}
				conn_detach(c);
				c->state = ZT_C_NEW;
				dial_start(c);
				return;
			}
			char msg[640];

			if (ee.has_code)
				snprintf(msg, sizeof(msg), "dial refused by network: %s (%s)", *why ? why : "(no reason)",
					 ee.desc);
			else
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

void zt_conn_timer_cb(void *arg)
{
	struct zt_conn *c = arg;

	if (c->state == ZT_C_NEW) {
		dial_start(c);
		return;
	}
	if (c->redialing && c->state == ZT_C_CONNECTING) {
		redial_unanswered(c);
		return;
	}
	if (!c->redialing && c->datagram && c->state == ZT_C_CONNECTING && zt_now_ms() < c->dial_deadline_ms) {
		dial_unanswered(c);
		return;
	}
	if (c->redialing) {
		redial(c, "dial timed out");
		return;
	}
	conn_dead(c, -ETIMEDOUT, "dial timed out");
}

/*
 * The AppData of this Connect: as given, or (attempt_key) with the attempt's member added to
 * the JSON object. NULL with *len 0: none. *tmp: to free after use.
 */
static const uint8_t *attempt_app_data(struct zt_conn *c, uint8_t **tmp, uint32_t *len)
{
	size_t n = c->app_data_len, kl;
	uint8_t *b;
	int w;

	*tmp = NULL;
	*len = (uint32_t)c->app_data_len;
	c->attempt_no++;
	if (!c->app_data || !c->attempt_key)
		return c->app_data;
	while (n && (c->app_data[n - 1] == ' ' || c->app_data[n - 1] == '\n' || c->app_data[n - 1] == '\t' ||
		     c->app_data[n - 1] == '\r'))
		n--;
	if (!n || c->app_data[n - 1] != '}')
		return c->app_data; /* not an object: as given */
	n--;
	kl = strlen(c->attempt_key);
	b = malloc(n + kl + 48);
	if (!b)
		return c->app_data;
	memcpy(b, c->app_data, n);
	size_t m = n;

	while (m && (b[m - 1] == ' ' || b[m - 1] == '\n' || b[m - 1] == '\t' || b[m - 1] == '\r'))
		m--;
	w = snprintf((char *)b + n, kl + 48, "%s\"%s\":\"%016llx/%u\"}", m && b[m - 1] == '{' ? "" : ",",
		     c->attempt_key, (unsigned long long)c->dial_nonce, c->attempt_no);
	*tmp = b;
	*len = (uint32_t)(n + (size_t)w);
	return b;
}

static void dial_chan_cb(void *arg, struct zt_chan *ch, int err, const char *msg)
{
	struct zt_conn *c = arg;
	struct zt_msgb mb;
	char why[400];
	/* Like the Go SDK: the caller is our identity's name unless the application says. */
	const char *caller = c->caller_id ? c->caller_id : c->ctx->identity_name;
	const uint8_t *ad;
	uint8_t *ad_tmp;
	uint32_t ad_len;
	int bad;

	c->rsel = NULL;
	if (err) {
		c->ch = NULL;
		snprintf(why, sizeof(why), "cannot reach edge router: %s", msg ? msg : "?");
		if (c->redialing) {
			redial(c, why);
			return;
		}
		conn_dead(c, err, why);
		return;
	}
	c->ch = ch;
	c->id = zt_conn_next_id(c->ctx);
	if (zt_chan_map_add(ch, c->id, c, 0)) {
		conn_dead(c, -ENOMEM, "out of memory");
		return;
	}
	c->state = ZT_C_CONNECTING;
	if (c->encrypted)
		crypto_kx_keypair(c->pk, c->sk);
	ad = attempt_app_data(c, &ad_tmp, &ad_len);
	bad = zt_msgb_begin(&mb, &ch->out, ZT_CT_CONNECT, zt_chan_next_seq(ch)) ||
	      zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, c->id) ||
	      (c->encrypted && zt_msgb_hdr(&mb, ZT_H_PUBLIC_KEY, c->pk, sizeof(c->pk))) ||
	      (c->terminator_identity && zt_msgb_hdr_str(&mb, ZT_H_TERMINATOR_IDENTITY, c->terminator_identity)) ||
	      (caller && zt_msgb_hdr_str(&mb, ZT_H_CALLER_ID, caller)) ||
	      (ad && zt_msgb_hdr(&mb, ZT_H_APP_DATA, ad, ad_len));
	free(ad_tmp);
	if (bad) {
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
	c->connect_ms = zt_now_ms();
	if (c->redialing)
		zt_timer_start(c->ctx->loop, &c->timer,
			       attempt_ms(attempt_base_ms(c->ctx, ZT_REDIAL_ATTEMPT_MS), c->redial_unanswered, 4,
					  c->redial_deadline_ms));
	else if (c->datagram)
		zt_timer_start(c->ctx->loop, &c->timer,
			       attempt_ms(attempt_base_ms(c->ctx, ZT_DIAL_ATTEMPT_MS), c->dial_unanswered, 3,
					  c->dial_deadline_ms));
	zt_log(c->ctx, 3, "dial %s: Connect sent on router %s (conn %u, attempt %u%s)", c->service, ch->name, c->id,
	       c->attempts + c->dial_unanswered, c->redialing ? ", dialing again" : "");
}

static void dial_with_session(struct zt_conn *c)
{
	struct zt_rsel *rs;
	/* an attempt left unanswered on a router: the next goes to another one that is up, if any */
	struct zt_chan *avoid = (struct zt_chan *)c->avoid_ch;

	if (avoid && !zt_router_other_up(c->ctx, c->session, avoid))
		avoid = NULL;
	c->avoid_ch = NULL;
	c->session_ms = zt_now_ms();
	c->state = ZT_C_CHAN;
	rs = zt_router_want(c->ctx, c->session, avoid ? &avoid : NULL, avoid ? 1 : 0, dial_chan_cb, c);
	if (rs)
		c->rsel = rs;
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
		if (f->prepared)
			zt_log(ctx, 2, "service %s: Dial session fetched ahead of its dials in %llu ms (%zu dials joined)",
			       svc ? svc->pub.name : f->service_id, (unsigned long long)(zt_now_ms() - f->start_ms), f->n);
	} else if (f->prepared) {
		zt_log(ctx, 1, "service %s: Dial session not fetched ahead: %s", f->service_id, msg ? msg : zt_strerror(err));
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

/* the service's Dial session fetch in flight, started if there is none; NULL: out of memory */
static struct zt_dsf *dsf_get(struct zt_ctx *ctx, const char *service_id)
{
	struct zt_dsf *f;

	for (f = ctx->dsfs; f; f = f->next)
		if (!strcmp(f->service_id, service_id))
			return f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->ctx = ctx;
	f->start_ms = zt_now_ms();
	f->service_id = strdup(service_id);
	if (!f->service_id) {
		free(f);
		return NULL;
	}
	f->next = ctx->dsfs;
	ctx->dsfs = f;
	f->sreq = zt_session_create(ctx, service_id, ZT_PERM_DIAL, dsf_cb, f);
	if (!f->sreq) {
		ctx->dsfs = f->next;
		free(f->service_id);
		free(f);
		return NULL;
	}
	return f;
}

static int dsf_join(struct zt_conn *c, const char *service_id)
{
	struct zt_dsf *f = dsf_get(c->ctx, service_id);

	if (!f)
		return -ENOMEM;
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
	c->session_fetched = true;
	return 0;
}

int zt_dial_prepare(struct zt_ctx *ctx, const char *service)
{
	struct zt_svc *svc = zt_svc_find(ctx, service);

	if (!svc)
		return -ENOENT;
	if (!(svc->pub.perms & ZT_PERM_DIAL))
		return -EACCES;
	struct zt_dsf *f;

	if (svc->dial_session)
		return 0;
	for (f = ctx->dsfs; f; f = f->next)
		if (!strcmp(f->service_id, svc->pub.id))
			return 1;
	f = dsf_get(ctx, svc->pub.id);
	if (!f)
		return -ENOMEM;
	f->prepared = true;
	return 2;
}

static void dial_start(struct zt_conn *c)
{
	struct zt_ctx *ctx = c->ctx;
	struct zt_svc *svc = zt_svc_find(ctx, c->service);
	char why[400];

	c->attempts++;
	if (c->attempts == 1)
		c->dial_start_ms = zt_now_ms();
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
	/*
	 * One connect timeout from the dial's start, whatever happens in it (an attempt sent again
	 * for want of an answer, a refusal that fetches a new Dial session and starts here again)
	 */
	if (c->attempts == 1)
		c->dial_deadline_ms = c->dial_start_ms + ctx->o.connect_timeout_ms;
	uint64_t now = zt_now_ms();

	zt_timer_start(ctx->loop, &c->timer, c->dial_deadline_ms > now ? c->dial_deadline_ms - now : 0);
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
	struct zt_conn *c = zt_conn_new(ctx, cbs, user);

	if (!c)
		return NULL;
	c->service = strdup(service);
	if (o) {
		c->datagram = o->datagram;
		c->lossy = o->lossy;
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
		if (o->attempt_key && c->app_data) {
			c->attempt_key = strdup(o->attempt_key);
			randombytes_buf(&c->dial_nonce, sizeof(c->dial_nonce));
		}
	}
	c->state = ZT_C_NEW;
	zt_timer_init(&c->timer, zt_conn_timer_cb, c);
	zt_timer_start(ctx->loop, &c->timer, 0); /* callbacks never run inside zt_dial() */
	return c;
}
