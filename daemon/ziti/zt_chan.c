// SPDX-License-Identifier: GPL-2.0
/*
 * Edge-router channel: TLS (client cert, ALPN "ziti-edge"), channel v2 hello with the API
 * session token, reconnect with backoff, and the message dispatcher that multiplexes every
 * connection and binding on one router connection by ConnId. Latency probes and liveness:
 * zt_health.c.
 */
#include "zt_internal.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const unsigned char alpn_ziti_edge[] = "\x09ziti-edge";

int32_t zt_chan_next_seq(struct zt_chan *ch)
{
	ch->seq++;
	if (ch->seq <= 0)
		ch->seq = 1;
	return ch->seq;
}

/* ---------------- output ---------------- */

static void chan_fail(struct zt_chan *ch, const char *why);

static void notify_writable(struct zt_chan *ch)
{
	if (!ch->want_write_cb || !ch->conns)
		return;
	ch->want_write_cb = false;
	/* collect first: callbacks may change the map */
	size_t n = 0, cap = ch->nconns;
	struct zt_conn **v = calloc(cap ? cap : 1, sizeof(*v));

	if (!v)
		return;
	for (unsigned b = 0; b < ch->nbuckets; b++)
		for (struct zt_hnode *h = ch->conns[b]; h; h = h->next)
			if (!((uintptr_t)h->val & 1) && n < cap) {
				struct zt_conn *c = (struct zt_conn *)h->val;

				if (c->want_writable)
					v[n++] = c;
			}
	for (size_t i = 0; i < n; i++) {
		int tag;

		/* still present and still waiting? */
		if (zt_chan_map_get(ch, v[i]->id, &tag) == v[i] && v[i]->want_writable && !zt_chan_congested(ch))
			zt_conn_writable(v[i]);
	}
	free(v);
}

/* Write what is queued, now. */
static void chan_write(void *arg)
{
	struct zt_chan *ch = arg;
	char err[300];

	if (ch->state != ZT_CH_UP && ch->state != ZT_CH_HELLO)
		return;
	zt_chan_write_resumed(ch);
	for (zt_chan_refill(ch); zt_buf_used(&ch->out); zt_chan_refill(ch)) { /* datagrams first */
		size_t n = zt_buf_used(&ch->out);

		if (n > (1u << 20))
			n = 1u << 20;
		ERR_clear_error();
		int rc = SSL_write(ch->ssl, ch->out.data + ch->out.off, (int)n);

		if (rc <= 0) {
			int e = SSL_get_error(ch->ssl, rc);

			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				zt_chan_write_blocked(ch);
				zt_io_set(ch->ctx->loop, &ch->io, EPOLLIN | EPOLLOUT);
				return;
			}
			zt_ssl_err(err, sizeof(err), "router write", ch->ssl, rc);
			chan_fail(ch, err);
			return;
		}
		zt_buf_consume(&ch->out, (size_t)rc);
		ch->last_tx_ms = zt_loop_now_ms(ch->ctx->loop);
	}
	zt_io_set(ch->ctx->loop, &ch->io, EPOLLIN);
	if (zt_buf_used(&ch->out) + zt_buf_used(&ch->bulk) < ZT_CHAN_LWM)
		notify_writable(ch);
}

/*
 * Messages queued during one event-loop iteration go out together at its end: one SSL_write,
 * so TLS records and syscalls are shared (one per datagram before), and the router reads
 * them in fewer, fuller records. The busier the loop, the larger the batches. A batch that
 * reaches ZT_CHAN_COALESCE bytes is written at once.
 */
void zt_chan_flush(struct zt_chan *ch)
{
	if (ch->state != ZT_CH_UP && ch->state != ZT_CH_HELLO)
		return;
	if (ch->in_dispatch)
		return; /* chan_read flushes after the batch */
	if (zt_buf_used(&ch->out) < ZT_CHAN_COALESCE && zt_task_post(ch->ctx->loop, &ch->flush_task))
		return;
	zt_task_cancel(ch->ctx->loop, &ch->flush_task);
	chan_write(ch);
}

/* ---------------- lifecycle ---------------- */

static void chan_connect(struct zt_chan *ch);
static void chan_free(struct zt_chan *ch, const char *why);

static void run_waiters(struct zt_chan *ch, int err, const char *msg)
{
	struct zt_waiter *w = ch->waiters;

	ch->waiters = NULL;
	while (w) {
		struct zt_waiter *n = w->next;

		w->cb(w->arg, ch, err, msg);
		free(w);
		w = n;
	}
}

static void teardown(struct zt_chan *ch)
{
	struct zt_loop *l = ch->ctx->loop;

	zt_connect_cancel(ch->conn);
	ch->conn = NULL;
	if (ch->fd >= 0) {
		zt_io_del(l, &ch->io);
		close(ch->fd);
		ch->fd = -1;
	}
	zt_task_cancel(l, &ch->flush_task);
	SSL_free(ch->ssl);
	ch->ssl = NULL;
	if (!ch->in_dispatch) /* else chan_read frees it once the message is done */
		zt_buf_free(&ch->in);
	ch->skip = 0;
	zt_buf_free(&ch->out);
	zt_chan_sched_free(ch);
	zt_timer_stop(l, &ch->latency_timer);
	zt_timer_stop(l, &ch->io_timer);
	zt_timer_stop(l, &ch->mark_timer);
	zt_timer_stop(l, &ch->token_timer);
	ch->latency_outstanding = false;
	while (ch->pending) {
		struct zt_pending *p = ch->pending;

		ch->pending = p->next;
		free(p);
	}
}

static void drop_map(struct zt_chan *ch, const char *why)
{
	struct zt_hnode **tab = ch->conns;
	unsigned nb = ch->nbuckets;

	ch->conns = NULL;
	ch->nbuckets = 0;
	ch->nconns = 0;
	for (unsigned b = 0; tab && b < nb; b++) {
		struct zt_hnode *h = tab[b];

		while (h) {
			struct zt_hnode *n = h->next;
			void *obj = (void *)((uintptr_t)h->val & ~(uintptr_t)1);

			if ((uintptr_t)h->val & 1)
				zt_listener_chan_lost(obj, why);
			else
				zt_conn_chan_lost(obj, why);
			free(h);
			h = n;
		}
	}
	free(tab);
}

static void backoff_cb(void *arg)
{
	struct zt_chan *ch = arg;

	if (ch->retired) { /* failed, or carries nothing any more */
		struct zt_chan **pp = &ch->ctx->chans;

		zt_log(ch->ctx, 2, "router %s: the replaced API session's channel closed (%u left on it)", ch->name,
		       ch->nconns);
		while (*pp && *pp != ch)
			pp = &(*pp)->next;
		if (*pp)
			*pp = ch->next;
		chan_free(ch, "the API session was replaced");
		return;
	}
	ch->state = ZT_CH_IDLE;
	if (ch->waiters)
		chan_connect(ch);
}

static void chan_fail(struct zt_chan *ch, const char *why)
{
	struct zt_ctx *ctx = ch->ctx;
	bool was_up = ch->state == ZT_CH_UP;

	if (ch->state == ZT_CH_IDLE || ch->state == ZT_CH_BACKOFF)
		return;
	snprintf(ch->last_err, sizeof(ch->last_err), "%s", why);
	zt_log(ctx, was_up ? 1 : 2, "router %s: %s", ch->name, why);
	teardown(ch);
	ch->failures++;
	unsigned d = 100u << (ch->failures < 8 ? ch->failures : 8);

	if (d > ctx->o.backoff_max_ms)
		d = ctx->o.backoff_max_ms;
	d = d / 2 + (unsigned)randombytes_uniform(d / 2 + 1);
	if (was_up && ch->failures == 1)
		d = 0; /* first reconnect after a working period: immediately */
	ch->state = ZT_CH_BACKOFF;
	zt_ctx_cancel_auth_wait(ctx, ch);
	if (was_up) /* the router may have dropped us because the API session is gone */
		zt_ctx_check_session(ctx);
	zt_timer_start(ctx->loop, &ch->backoff_timer, d);
	drop_map(ch, why);
	run_waiters(ch, -ECONNRESET, why);
}

void zt_chan_close(struct zt_chan *ch, const char *why)
{
	chan_fail(ch, why);
}

/*
 * A channel that (re)connected while the API session was already gone (the router may still
 * accept the old token until its own state catches up) is useless once we re-authenticated:
 * the router rejects dials/binds of the new sessions on it and drops it later. Reconnect it
 * now with the new token instead of waiting for the router.
 */
void zt_chan_auth_changed(struct zt_ctx *ctx)
{
	for (struct zt_chan *ch = ctx->chans; ch; ch = ch->next) {
		if (ch->retired || (ch->state != ZT_CH_UP && ch->state != ZT_CH_HELLO) || ch->auth_gen == ctx->auth_gen)
			continue;
		/*
		 * OIDC: the old session's token stays good at the router for the circuits already
		 * on the channel (a v1.6.5 router closes a channel when its API session is revoked,
		 * not when its token expires), so a login from scratch (a refresh token spent by a
		 * refresh whose answer was lost) must not cut the calls on it: make before break.
		 */
		if (ctx->bearer && ch->state == ZT_CH_UP && ch->nconns) {
			ch->retired = true;
			zt_log(ctx, 1, "router %s: API session replaced: the channel keeps its %u circuit(s) and "
			       "terminator(s), new ones go to a new channel", ch->name, ch->nconns);
			continue;
		}
		chan_fail(ch, "API session replaced, reconnecting with the new one");
	}
}

/*
 * The router refused work on @ch for the API session token it holds there (revoked: a refresh
 * it did not take; a v1.6.5 router does not even answer an UpdateToken it cannot apply). New
 * work must go to a channel whose hello carries the current token: one that carries circuits
 * keeps them (retired, make before break), an empty one reconnects at once.
 */
void zt_chan_token_stale(struct zt_chan *ch, const char *why)
{
	char msg[300];

	if (ch->retired || (ch->state != ZT_CH_UP && ch->state != ZT_CH_HELLO))
		return;
	if (ch->nconns) {
		ch->retired = true;
		zt_log(ch->ctx, 1, "router %s: its token for this channel is stale (%s): the channel keeps its %u "
		       "circuit(s) and terminator(s), new ones go to a new channel", ch->name, why, ch->nconns);
		return;
	}
	snprintf(msg, sizeof(msg), "its token for this channel is stale (%.200s): reconnecting with the current one", why);
	chan_fail(ch, msg);
}

void zt_chan_retired_check(struct zt_chan *ch)
{
	if (ch->retired && !ch->nconns)
		zt_timer_start(ch->ctx->loop, &ch->backoff_timer, 0); /* backoff_cb frees it */
}

/*
 * How long a router may take to answer an UpdateToken. A v1.6.5 router answers at once, but
 * sends nothing for some refusals (a channel whose API session it does not hold as a JWT one,
 * a body that is no bearer token: router/xgress_edge/listener.go processTokenUpdate): left
 * unanswered, the channel's token is taken for stale (zt_chan_token_stale), before a dial or
 * a bind on it is refused for it.
 */
#define ZT_TOKEN_REPLY_MS 10000

static char token_tag; /* the arg of UpdateToken replies (zt_chan_cancel_replies) */

static void token_timeout_cb(void *arg)
{
	struct zt_chan *ch = arg;

	zt_chan_cancel_replies(ch, &token_tag);
	zt_chan_token_stale(ch, "no answer to the refreshed token in 10 s");
}

/* OIDC: a router refused the refreshed token: reconnect with it (its hello carries it) */
static void token_reply(void *arg, struct zt_chan *ch, const struct zt_msg *m, int err, const char *why)
{
	char msg[300];

	(void)arg;
	(void)why;
	uint32_t rf = 0;

	if (err)
		return;
	zt_msg_hdr_u32(m, ZT_H_REPLY_FOR, &rf);
	if ((int32_t)rf == ch->token_seq) { /* the latest: the earlier ones no longer matter */
		zt_timer_stop(ch->ctx->loop, &ch->token_timer);
		zt_chan_cancel_replies(ch, &token_tag);
	} else if (zt_timer_armed(&ch->token_timer)) { /* an earlier one: the latest has its full wait */
		zt_timer_start(ch->ctx->loop, &ch->token_timer, ZT_TOKEN_REPLY_MS);
	}
	if (m->content_type == ZT_CT_UPDATE_TOKEN_SUCCESS)
		return;
	snprintf(msg, sizeof(msg), "router refused the refreshed token: %.*s",
		 (int)(m->body_len > 200 ? 200 : m->body_len), (const char *)m->body);
	chan_fail(ch, msg);
}

static void send_token(struct zt_chan *ch)
{
	struct zt_msgb mb;
	int32_t seq = zt_chan_next_seq(ch);
	size_t n = strlen(ch->ctx->api_token);
	uint8_t *b;

	ch->token_stale = false;
	if (zt_msgb_begin(&mb, &ch->out, ZT_CT_UPDATE_TOKEN, seq) || !(b = zt_msgb_body(&mb, n)) ||
	    zt_chan_expect_reply(ch, seq, token_reply, &token_tag)) {
		chan_fail(ch, "out of memory");
		return;
	}
	memcpy(b, ch->ctx->api_token, n);
	zt_chan_flush(ch);
	ch->token_seq = seq;
	if (!zt_timer_armed(&ch->token_timer)) /* one unanswered already: the wait counts from it */
		zt_timer_start(ch->ctx->loop, &ch->token_timer, ZT_TOKEN_REPLY_MS);
}

/*
 * A channel whose hello is still unanswered carried the old token: it gets the new one as
 * soon as the router accepted the hello (hello_reply), or it would run on a token that
 * expires.
 */
void zt_chan_token_refreshed(struct zt_ctx *ctx)
{
	for (struct zt_chan *ch = ctx->chans; ch; ch = ch->next) {
		if (ch->retired) /* another API session's: the router would refuse the token */
			continue;
		if (ch->state == ZT_CH_HELLO)
			ch->token_stale = true;
		else if (ch->state == ZT_CH_UP)
			send_token(ch);
	}
}

/* ---------------- hello ---------------- */

static void hello_reply(void *arg, struct zt_chan *ch, const struct zt_msg *m, int err, const char *why)
{
	bool ok = false;
	char msg[300];

	(void)arg;
	if (err) {
		chan_fail(ch, why);
		return;
	}
	zt_timer_stop(ch->ctx->loop, &ch->io_timer);
	if (m->content_type != ZT_CT_RESULT || !zt_msg_hdr_bool(m, ZT_H_RESULT_SUCCESS, &ok) || !ok) {
		snprintf(msg, sizeof(msg), "router rejected hello: %.*s", (int)(m->body_len > 200 ? 200 : m->body_len),
			 (const char *)m->body);
		chan_fail(ch, msg);
		return;
	}
	const uint8_t *v;
	uint32_t vl;

	if (zt_msg_hdr(m, ZT_H_HELLO_VERSION, &v, &vl))
		zt_log(ch->ctx, 2, "router %s connected (version %.*s)", ch->name, (int)(vl > 80 ? 80 : vl), v);
	ch->state = ZT_CH_UP;
	ch->failures = 0;
	ch->up_since_ms = zt_now_ms();
	ch->rtt_ms = 0;
	zt_chan_rtt_sample(ch, ch->up_since_ms - ch->hello_sent_ms);
	ch->probe_ok_ms = ch->last_rx_ms = ch->up_since_ms;
	ch->last_tx_ms = 0;
	zt_timer_start(ch->ctx->loop, &ch->latency_timer, ZT_CHAN_TICK_MS);
	if (ch->token_stale && ch->ctx->api_token)
		send_token(ch);
	run_waiters(ch, 0, NULL);
}

void zt_chan_send_hello(struct zt_chan *ch)
{
	struct zt_msgb mb;
	int32_t seq = zt_chan_next_seq(ch);
	/*
	 * The hello's body is the channel's id at the router, which keys its state by it (an OIDC
	 * channel's token, replaced by UpdateToken): unique per connection, or two clients' (or
	 * two channels') states overwrite each other.
	 */
	char idtok[48];
	unsigned char rnd[8];

	randombytes_buf(rnd, sizeof(rnd));
	snprintf(idtok, sizeof(idtok), "sipovl-zt-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
		 rnd[4], rnd[5], rnd[6], rnd[7]);

	if (!ch->ctx->api_token) {
		chan_fail(ch, "no API session");
		return;
	}
	if (zt_msgb_begin(&mb, &ch->out, ZT_CT_HELLO, seq) ||
	    zt_msgb_hdr_str(&mb, ZT_H_SESSION_TOKEN, ch->ctx->api_token)) {
		chan_fail(ch, "out of memory");
		return;
	}
	uint8_t *b = zt_msgb_body(&mb, (uint32_t)strlen(idtok));

	if (!b || zt_chan_expect_reply(ch, seq, hello_reply, NULL)) {
		chan_fail(ch, "out of memory");
		return;
	}
	memcpy(b, idtok, strlen(idtok));
	ch->auth_gen = ch->ctx->auth_gen;
	ch->token_stale = false;
	ch->state = ZT_CH_HELLO;
	ch->hello_sent_ms = zt_now_ms();
	zt_chan_flush(ch);
}

/* ---------------- input ---------------- */

static bool chan_live(const struct zt_chan *ch)
{
	return ch->state == ZT_CH_UP || ch->state == ZT_CH_HELLO;
}

/*
 * A message whose body exceeds ZT_MSG_MAX_BODY (m: its headers only): the connection it is
 * for is refused (StateClosed to the router, the reason to the application) and its body
 * skipped, so the channel and every other connection on it go on.
 */
static void refuse_oversize(struct zt_chan *ch, const struct zt_msg *m, uint32_t body_len)
{
	char why[200];
	uint32_t id;
	int tag = -1;

	snprintf(why, sizeof(why), "message too large: %u bytes from the router exceeds the %u-byte limit", body_len,
		 ZT_MSG_MAX_BODY);
	if (!zt_msg_hdr_u32(m, ZT_H_CONN_ID, &id)) {
		zt_log(ch->ctx, 1, "router %s: %s (content type %d, no connection id): skipped", ch->name, why,
		       m->content_type);
		return;
	}
	void *o = zt_chan_map_get(ch, id, &tag);

	zt_log(ch->ctx, 1, "router %s: connection %u: %s: %s", ch->name, id, why,
	       o && tag == 1 ? "skipped (a binding)" : "connection refused");
	if (o && tag == 0)
		zt_conn_refuse(o, why);
	else if (!o)
		zt_send_state_closed(ch, id, "message too large");
}

/*
 * Dispatch every complete message in ch->in. Returns 0, or -1 when the channel is gone
 * (failed on a protocol error, or closed by a handler).
 */
int zt_chan_input(struct zt_chan *ch)
{
	char err[300];

	for (;;) {
		struct zt_msg m;
		size_t used = 0;
		uint32_t blen = 0;

		if (ch->skip) { /* the rest of a refused message */
			size_t n = zt_buf_used(&ch->in) < ch->skip ? zt_buf_used(&ch->in) : (size_t)ch->skip;

			zt_buf_consume(&ch->in, n);
			ch->skip -= n;
			if (ch->skip)
				return 0;
		}
		if (!zt_buf_used(&ch->in))
			return 0;
		int pr = zt_msg_parse(ch->in.data + ch->in.off, zt_buf_used(&ch->in), &m, &used, NULL);

		if (pr == ZT_PARSE_TOO_BIG) {
			pr = zt_msg_parse_head(ch->in.data + ch->in.off, zt_buf_used(&ch->in), &m, &used, &blen);
			if (pr == ZT_PARSE_OK) {
				ch->in_dispatch = true;
				refuse_oversize(ch, &m, blen);
				ch->in_dispatch = false;
				if (!chan_live(ch)) {
					zt_buf_free(&ch->in);
					return -1;
				}
				zt_buf_consume(&ch->in, used);
				ch->skip = blen;
				continue;
			}
		}
		if (pr == ZT_PARSE_MORE)
			return 0;
		if (pr < 0) {
			snprintf(err, sizeof(err), "protocol error from router: %s", zt_parse_strerror(pr));
			chan_fail(ch, err);
			return -1;
		}
		ch->in_dispatch = true;
		zt_chan_dispatch(ch, &m);
		ch->in_dispatch = false;
		if (!chan_live(ch)) {
			zt_buf_free(&ch->in);
			return -1;
		}
		zt_buf_consume(&ch->in, used);
	}
}

/*
 * A read(2) of the channel's socket that returned less than OpenSSL asked for emptied it: the
 * read loop then ends there instead of reading again only to be told EAGAIN (that was one
 * system call of every datagram from the router). epoll is level-triggered: data arriving
 * after the read wakes the loop again.
 */
static long rbio_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
		    size_t *processed)
{
	struct zt_chan *ch = (struct zt_chan *)BIO_get_callback_arg(b);

	(void)argp;
	(void)argi;
	(void)argl;
	if (oper == (BIO_CB_READ | BIO_CB_RETURN))
		ch->rx_drained = ret > 0 && processed && *processed < len;
	return ret;
}

/*
 * Read and dispatch what the router sent, up to ZT_CHAN_READ_BATCH bytes per call: the socket
 * stays readable (level-triggered), so the rest comes in the next loop iteration, after the
 * other ready sockets had their turn. Unbounded, a busy channel starved the flows' sockets of
 * the same process (their datagrams aged in socket buffers). The channel reads ahead (one
 * read(2) for many records, not two per record); what OpenSSL has buffered is invisible to
 * epoll, so that is always drained before returning. It ends, too, once a read(2) emptied the
 * socket and OpenSSL holds nothing (rbio_cb), without a last read(2) for EAGAIN.
 */
static void chan_read(struct zt_chan *ch)
{
	char err[300];
	size_t got = 0;

	while (got < ZT_CHAN_READ_BATCH || SSL_has_pending(ch->ssl)) {
		if (zt_buf_reserve(&ch->in, 65536)) {
			chan_fail(ch, "out of memory");
			return;
		}
		ERR_clear_error();
		int rc = SSL_read(ch->ssl, ch->in.data + ch->in.len, (int)(ch->in.cap - ch->in.len));

		if (rc <= 0) {
			int e = SSL_get_error(ch->ssl, rc);

			if (e == SSL_ERROR_WANT_READ) {
				zt_chan_flush(ch);
				return;
			}
			if (e == SSL_ERROR_WANT_WRITE) {
				zt_io_set(ch->ctx->loop, &ch->io, EPOLLIN | EPOLLOUT);
				return;
			}
			zt_ssl_err(err, sizeof(err), "router connection lost", ch->ssl, rc);
			chan_fail(ch, err);
			return;
		}
		ch->in.len += rc;
		got += (size_t)rc;
		ch->last_rx_ms = zt_loop_now_ms(ch->ctx->loop);
		if (zt_chan_input(ch))
			return;
		if (zt_buf_used(&ch->out)) {
			zt_chan_flush(ch);
			if (!chan_live(ch))
				return;
		}
		if (ch->rx_drained && !SSL_has_pending(ch->ssl)) {
			zt_chan_flush(ch);
			return;
		}
	}
}

static void chan_io(void *arg, uint32_t events)
{
	struct zt_chan *ch = arg;
	char err[300];

	if (ch->state == ZT_CH_CONNECTING) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		getsockopt(ch->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			snprintf(err, sizeof(err), "connect failed: %s", strerror(soerr));
			chan_fail(ch, err);
			return;
		}
		ch->ssl = SSL_new(ch->ctx->id->ssl);
		if (!ch->ssl) {
			chan_fail(ch, "SSL_new failed");
			return;
		}
		SSL_set_fd(ch->ssl, ch->fd);
		ch->rx_drained = false;
		BIO_set_callback_ex(SSL_get_rbio(ch->ssl), rbio_cb);
		BIO_set_callback_arg(SSL_get_rbio(ch->ssl), (char *)ch);
		SSL_set_read_ahead(ch->ssl, 1);
		SSL_set1_host(ch->ssl, ch->host);
		SSL_set_tlsext_host_name(ch->ssl, ch->host);
		SSL_set_alpn_protos(ch->ssl, alpn_ziti_edge, sizeof(alpn_ziti_edge) - 1);
		ch->state = ZT_CH_TLS;
	}
	if (ch->state == ZT_CH_TLS) {
		ERR_clear_error();
		int rc = SSL_connect(ch->ssl);

		if (rc != 1) {
			int e = SSL_get_error(ch->ssl, rc);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				zt_io_set(ch->ctx->loop, &ch->io, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
				return;
			}
			zt_ssl_err(err, sizeof(err), "router TLS", ch->ssl, rc);
			chan_fail(ch, err);
			return;
		}
		zt_io_set(ch->ctx->loop, &ch->io, EPOLLIN);
		zt_chan_send_hello(ch);
		return;
	}
	if (!chan_live(ch))
		return;
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || SSL_has_pending(ch->ssl))
		chan_read(ch);
	if (chan_live(ch) && (events & EPOLLOUT))
		zt_chan_flush(ch);
	else if (chan_live(ch) && zt_buf_used(&ch->out))
		zt_chan_flush(ch);
}

static void io_timeout_cb(void *arg)
{
	struct zt_chan *ch = arg;

	chan_fail(ch, "timed out connecting to router");
}

static void chan_connected(void *arg, int fd, const char *err)
{
	struct zt_chan *ch = arg;

	ch->conn = NULL;
	if (fd < 0) {
		chan_fail(ch, err);
		return;
	}
	ch->fd = fd;
	/*
	 * Data the router does not acknowledge for this long ends the connection (a router host
	 * that is gone; a stopped router process still has its kernel acknowledge, which the
	 * probes of latency_cb catch).
	 */
	unsigned uto = ch->ctx->o.tcp_user_timeout_ms ? ch->ctx->o.tcp_user_timeout_ms : 5000;

	if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto)))
		zt_log(ch->ctx, 2, "router %s: TCP_USER_TIMEOUT: %s", ch->name, strerror(errno));
	zt_chan_sock_tune(fd);
	zt_io_init(&ch->io, ch->fd, chan_io, ch);
	zt_io_set(ch->ctx->loop, &ch->io, EPOLLOUT);
}

static void chan_auth_cb(void *arg, int err, const char *msg)
{
	struct zt_chan *ch = arg;
	char e[300];

	if (ch->state != ZT_CH_CONNECTING || ch->fd >= 0 || ch->conn)
		return;
	if (err) {
		snprintf(e, sizeof(e), "no API session: %s", msg ? msg : "authentication failed");
		chan_fail(ch, e);
		return;
	}
	/* resolve without blocking, then try every address (a third of the connect time each) */
	ch->conn = zt_connect_start(ch->ctx->res, ch->host, ch->port, ch->ctx->o.connect_timeout_ms / 3,
				    chan_connected, ch);
	if (!ch->conn)
		chan_fail(ch, "cannot start connecting (out of memory or bad address)");
}

static void chan_connect(struct zt_chan *ch)
{
	ch->state = ZT_CH_CONNECTING;
	ch->fd = -1;
	ch->seq = 0;
	zt_timer_start(ch->ctx->loop, &ch->io_timer, ch->ctx->o.connect_timeout_ms);
	zt_ctx_need_auth(ch->ctx, chan_auth_cb, ch);
}

void zt_chan_want(struct zt_chan *ch, void (*cb)(void *, struct zt_chan *, int, const char *), void *arg)
{
	if (ch->state == ZT_CH_UP) {
		cb(arg, ch, 0, NULL);
		return;
	}
	struct zt_waiter *w = calloc(1, sizeof(*w));

	if (!w) {
		cb(arg, ch, -ENOMEM, "out of memory");
		return;
	}
	w->cb = cb;
	w->arg = arg;
	/* append (FIFO) */
	struct zt_waiter **pp = &ch->waiters;

	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
	if (ch->state == ZT_CH_IDLE)
		chan_connect(ch);
}

void zt_chan_unwant(struct zt_chan *ch, void *arg)
{
	for (struct zt_waiter **pp = &ch->waiters; *pp;) {
		if ((*pp)->arg == arg) {
			struct zt_waiter *w = *pp;

			*pp = w->next;
			free(w);
		} else {
			pp = &(*pp)->next;
		}
	}
}

struct zt_chan *zt_chan_get(struct zt_ctx *ctx, const char *url, const char *name)
{
	for (struct zt_chan *ch = ctx->chans; ch; ch = ch->next)
		if (!ch->retired && !strcmp(ch->url, url))
			return ch;
	struct zt_chan *ch = calloc(1, sizeof(*ch));
	char *scheme = NULL, *path = NULL;

	if (!ch)
		return NULL;
	if (zt_parse_url(url, &scheme, &ch->host, &ch->port, &path) || strcmp(scheme, "tls")) {
		free(scheme);
		free(path);
		free(ch->host);
		free(ch->port);
		free(ch);
		return NULL;
	}
	free(scheme);
	free(path);
	ch->ctx = ctx;
	ch->url = strdup(url);
	ch->name = strdup(name ? name : url);
	ch->fd = -1;
	ch->state = ZT_CH_IDLE;
	zt_task_init(&ch->flush_task, chan_write, ch);
	zt_timer_init(&ch->latency_timer, zt_chan_latency_tick, ch);
	zt_timer_init(&ch->backoff_timer, backoff_cb, ch);
	zt_timer_init(&ch->io_timer, io_timeout_cb, ch);
	zt_timer_init(&ch->mark_timer, zt_chan_mark_timer_cb, ch);
	zt_timer_init(&ch->token_timer, token_timeout_cb, ch);
	ch->next = ctx->chans;
	ctx->chans = ch;
	return ch;
}

void zt_chan_free_all(struct zt_ctx *ctx)
{
	while (ctx->chans) {
		struct zt_chan *ch = ctx->chans;

		ctx->chans = ch->next;
		chan_free(ch, "context closed");
	}
}

/* ch is unlinked from ctx->chans */
static void chan_free(struct zt_chan *ch, const char *why)
{
	struct zt_ctx *ctx = ch->ctx;
	struct zt_waiter *w = ch->waiters;

	/* best effort: flush pending bytes (StateClosed / Unbind) without blocking */
	if (ch->state == ZT_CH_UP && (zt_buf_used(&ch->out) || zt_buf_used(&ch->bulk) || ch->dgq))
		chan_write(ch);
	zt_ctx_cancel_auth_wait(ctx, ch);
	teardown(ch);
	zt_timer_stop(ctx->loop, &ch->backoff_timer);
	drop_map(ch, why);
	while (w) {
		struct zt_waiter *n = w->next;

		free(w);
		w = n;
	}
	free(ch->url);
	free(ch->host);
	free(ch->port);
	free(ch->name);
	free(ch);
}
