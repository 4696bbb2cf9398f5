// SPDX-License-Identifier: GPL-2.0
/*
 * What a router channel writes next. Three queues feed the bytes handed to TLS (ch->out):
 *
 *   - control messages (Connect, Dial replies, StateClosed, latency...) go to ch->out directly;
 *   - datagrams wait in ch->dgq, not yet encoded (their end-to-end encryption is a stream
 *     cipher: a datagram encrypted and then dropped would break every later one), each with
 *     the time it was queued;
 *   - stream Data messages wait in ch->bulk, encoded.
 *
 * ch->out is kept short (ZT_CHAN_OUT_LOW/TARGET): it is refilled only when nearly empty,
 * first with every queued datagram, then with whole stream messages up to the target. A
 * datagram thus waits behind at most one refill of stream data, not behind the 4 MiB a bulk
 * transfer keeps queued (ZT_CHAN_HWM still bounds stream data and gives it backpressure).
 * A datagram older than the latency bound when its turn comes is dropped if it waited on the
 * router link (the socket refused data while it was queued: zt_chan_write_blocked), and the
 * oldest are dropped when the queue holds more than ZT_DGQ_MAX_BYTES: late RTP is useless,
 * and counted (zt_ctx_dgram_dropped). One late only because this process did not run (a
 * stalled loop, the socket never full) goes: dropping it would shorten no queue, and the
 * first datagram of a flow (a query, an INVITE) has no retransmission of its own.
 *
 * A queued datagram's node comes from the channel's free list (issue 16: no allocation per
 * RTP packet): nodes hold DG_NODE_BYTES, and up to DG_FREE_MAX spent ones are kept; a larger
 * datagram gets a node of its own, freed when spent.
 */
#include "zt_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct zt_dgram {
	struct zt_dgram *next;
	struct zt_conn *c;
	uint64_t t_ms;
	uint64_t wresumes; /* the channel's when queued */
	uint32_t len, cap;
	uint8_t data[];
};

#define DG_NODE_BYTES 1600 /* an Ethernet MTU's datagram, and then some */
#define DG_FREE_MAX 64     /* spent nodes a channel keeps (about 100 KiB) */

static struct zt_dgram *dg_alloc(struct zt_chan *ch, size_t n)
{
	struct zt_dgram *d = ch->dg_free;
	size_t cap = n > DG_NODE_BYTES ? n : DG_NODE_BYTES;

	if (d && n <= d->cap) {
		ch->dg_free = d->next;
		ch->dg_nfree--;
		return d;
	}
	d = malloc(sizeof(*d) + cap);
	if (d)
		d->cap = (uint32_t)cap;
	return d;
}

static void dg_put(struct zt_chan *ch, struct zt_dgram *d)
{
	if (d->cap != DG_NODE_BYTES || ch->dg_nfree >= DG_FREE_MAX) {
		free(d);
		return;
	}
	d->next = ch->dg_free;
	ch->dg_free = d;
	ch->dg_nfree++;
}

static unsigned max_age_ms(const struct zt_chan *ch)
{
	return ch->ctx->o.dgram_max_age_ms ? ch->ctx->o.dgram_max_age_ms : ZT_DGRAM_MAX_AGE_MS;
}

static struct zt_dgram *dgq_pop(struct zt_chan *ch)
{
	struct zt_dgram *d = ch->dgq;

	ch->dgq = d->next;
	if (!ch->dgq)
		ch->dgq_tail = &ch->dgq;
	ch->dgq_bytes -= d->len;
	return d;
}

static void dgq_drop(struct zt_chan *ch)
{
	dg_put(ch, dgq_pop(ch));
	ch->ctx->dgram_dropped++;
}

int zt_chan_dgram_queue(struct zt_chan *ch, struct zt_conn *c, const void *p, size_t n)
{
	struct zt_dgram *d = dg_alloc(ch, n);

	if (!d)
		return -ENOMEM;
	d->next = NULL;
	d->c = c;
	d->t_ms = zt_loop_now_ms(ch->ctx->loop);
	d->wresumes = ch->wresumes;
	d->len = (uint32_t)n;
	memcpy(d->data, p, n);
	if (!ch->dgq_tail)
		ch->dgq_tail = &ch->dgq;
	*ch->dgq_tail = d;
	ch->dgq_tail = &d->next;
	ch->dgq_bytes += n;
	while (ch->dgq_bytes > ZT_DGQ_MAX_BYTES && ch->dgq != d)
		dgq_drop(ch);
	return 0;
}

/* The socket took no more (SSL_write wants to write): datagrams now wait on the router link. */
void zt_chan_write_blocked(struct zt_chan *ch)
{
	ch->wblocked = true;
}

/* About to write again: the datagrams queued so far waited on the full socket until now. */
void zt_chan_write_resumed(struct zt_chan *ch)
{
	if (!ch->wblocked)
		return;
	ch->wblocked = false;
	ch->wresumes++;
}

/*
 * @d waited on the router link: the socket refused data at some time while it was queued
 * (refusing still, or a write resumed after a refusal since; one refusing when @d was queued
 * is either)
 */
static bool dgram_waited_on_link(const struct zt_chan *ch, const struct zt_dgram *d)
{
	return ch->wblocked || d->wresumes != ch->wresumes;
}

/* Encode the queued datagrams of @c (all of them when @c is NULL) into ch->out, in order. */
static void dgq_encode(struct zt_chan *ch, struct zt_conn *only, uint64_t now)
{
	unsigned bound = max_age_ms(ch);

	for (struct zt_dgram **pp = &ch->dgq; *pp;) {
		struct zt_dgram *d = *pp;

		if (only && d->c != only) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		if (ch->dgq_tail == &d->next)
			ch->dgq_tail = pp;
		ch->dgq_bytes -= d->len;
		if (now - d->t_ms > bound && dgram_waited_on_link(ch, d))
			ch->ctx->dgram_dropped++;
		else
			zt_conn_encode_data(d->c, d->data, d->len);
		dg_put(ch, d);
	}
}

void zt_chan_dgram_flush_conn(struct zt_chan *ch, struct zt_conn *c)
{
	dgq_encode(ch, c, zt_loop_now_ms(ch->ctx->loop));
}

void zt_chan_dgram_forget(struct zt_chan *ch, struct zt_conn *c)
{
	for (struct zt_dgram **pp = &ch->dgq; *pp;) {
		struct zt_dgram *d = *pp;

		if (d->c != c) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		if (ch->dgq_tail == &d->next)
			ch->dgq_tail = pp;
		ch->dgq_bytes -= d->len;
		dg_put(ch, d);
	}
}

void zt_chan_sched_free(struct zt_chan *ch)
{
	while (ch->dgq)
		free(dgq_pop(ch));
	while (ch->dg_free) {
		struct zt_dgram *d = ch->dg_free;

		ch->dg_free = d->next;
		free(d);
	}
	ch->dg_nfree = 0;
	ch->wblocked = false; /* a new connection's socket starts empty */
	zt_buf_free(&ch->bulk);
	zt_chan_held_end(ch);
	ch->stream_sent = ch->stream_acked = ch->stream_marked = 0;
	ch->nmarks = 0; /* their pending replies go with the channel's */
	ch->mark_wait = false;
}

/*
 * The router reads a channel in order and answers a Latency probe when it reads it: the
 * answer means every byte written before the probe has left the kernel buffers on the way
 * (the router's receive buffer autotunes to tens of megabytes: a router slower than us kept
 * that much stream data, and every datagram waited behind it).
 */
static void mark_reply(void *arg, struct zt_chan *ch, const struct zt_msg *m, int err, const char *why)
{
	uint32_t rf;

	(void)arg;
	(void)why;
	if (err || !m || !zt_msg_hdr_u32(m, ZT_H_REPLY_FOR, &rf))
		return;
	zt_chan_probe_answered(ch, (int32_t)rf); /* this mark, and the probes before it */
	zt_task_post(ch->ctx->loop, &ch->flush_task); /* write what waited for this */
}

static void mark(struct zt_chan *ch)
{
	struct zt_msgb mb;
	int32_t seq;

	if (ch->nmarks == sizeof(ch->marks) / sizeof(ch->marks[0]) || ch->state != ZT_CH_UP)
		return;
	seq = zt_chan_next_seq(ch);
	if (zt_msgb_begin(&mb, &ch->out, ZT_CT_LATENCY, seq))
		return;
	if (zt_msgb_hdr_u64(&mb, ZT_H_REFLECTED, zt_now_ms()) || zt_chan_expect_reply(ch, seq, mark_reply, ch)) {
		zt_msgb_abort(&mb);
		return;
	}
	ch->mark_wait = true;
	ch->marks[ch->nmarks].seq = seq;
	ch->marks[ch->nmarks].pos = ch->stream_sent;
	ch->nmarks++;
	ch->stream_marked = ch->stream_sent;
}

/* length of the whole message at the start of @b (its header is always complete there) */
static size_t msg_len(const struct zt_buf *b)
{
	const uint8_t *h = b->data + b->off;

	return ZT_MSG_HDR_LEN + (size_t)zt_get_le32(h + 12) + zt_get_le32(h + 16);
}

void zt_chan_refill(struct zt_chan *ch)
{
	if (zt_buf_used(&ch->out) >= ZT_CHAN_OUT_LOW)
		return;
	if (ch->dgq)
		dgq_encode(ch, NULL, zt_loop_now_ms(ch->ctx->loop));
	while (zt_buf_used(&ch->bulk) && zt_buf_used(&ch->out) < ZT_CHAN_OUT_TARGET &&
	       ch->stream_sent - ch->stream_acked < ZT_CHAN_UNREAD) {
		size_t n = msg_len(&ch->bulk);

		if (zt_buf_append(&ch->out, ch->bulk.data + ch->bulk.off, n))
			return;
		zt_buf_consume(&ch->bulk, n);
		ch->stream_sent += n;
	}
	bool held = zt_buf_used(&ch->bulk) && ch->stream_sent - ch->stream_acked >= ZT_CHAN_UNREAD;

	/*
	 * One read-position probe at a time. A router answers Latency probes one at a time and
	 * skips one it reads while an answer is still to be sent (openziti/channel v4,
	 * latency.LatencyHandler), and it reads a burst of our data before that answer goes: a
	 * probe every 64 KiB had most of them skipped, often the last one before the window
	 * closed, and the stream then waited for the 20 ms re-probe. The next probe goes once an
	 * answer came back (zt_chan_probe_answered), after ZT_CHAN_MARK_EVERY more bytes or when
	 * held back (right after the last byte: its answer releases all).
	 */
	if (!ch->mark_wait && ch->stream_marked < ch->stream_sent &&
	    (held || ch->stream_sent - ch->stream_marked >= ZT_CHAN_MARK_EVERY))
		mark(ch);
	/* held back: if no answer comes, probe again (the router may still skip one) */
	if (held && !ch->held_since_us) {
		ch->held++;
		ch->held_since_us = zt_now_us();
		if (ch->ctx->loop)
			zt_timer_start(ch->ctx->loop, &ch->mark_timer, ZT_CHAN_MARK_RETRY_MS);
	}
}

void zt_chan_mark_timer_cb(void *arg)
{
	struct zt_chan *ch = arg;

	if (!zt_buf_used(&ch->bulk) || ch->stream_sent - ch->stream_acked < ZT_CHAN_UNREAD)
		return;
	if (ch->nmarks == sizeof(ch->marks) / sizeof(ch->marks[0])) { /* unanswered: forget the oldest */
		zt_chan_drop_reply(ch, ch->marks[0].seq);
		ch->nmarks--;
		memmove(ch->marks, ch->marks + 1, ch->nmarks * sizeof(ch->marks[0]));
	}
	ch->mark_retries++;
	mark(ch); /* at the same position: its answer confirms all that was sent */
	zt_chan_flush(ch);
	if (ch->state == ZT_CH_UP)
		zt_timer_start(ch->ctx->loop, &ch->mark_timer, ZT_CHAN_MARK_RETRY_MS);
}

/* stream data no longer held back (released, or the channel is gone): count the time */
void zt_chan_held_end(struct zt_chan *ch)
{
	if (ch->held_since_us)
		ch->held_us += zt_now_us() - ch->held_since_us;
	ch->held_since_us = 0;
}

bool zt_chan_congested(const struct zt_chan *ch)
{
	return zt_buf_used(&ch->out) + zt_buf_used(&ch->bulk) >= ZT_CHAN_HWM;
}

/*
 * The kernel's send queue is a FIFO too: without a bound it takes megabytes of stream data
 * (autotuned send buffer) that every datagram then waits behind. With TCP_NOTSENT_LOWAT the
 * socket stops taking data (EAGAIN) once this much is unsent, and the rest waits here, where
 * datagrams can overtake it.
 */
void zt_chan_sock_tune(int fd)
{
	int v = ZT_CHAN_NOTSENT;

	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof(v));
}

uint64_t zt_ctx_dgram_dropped(const struct zt_ctx *ctx)
{
	return ctx->dgram_dropped;
}

bool zt_ctx_router_at(const struct zt_ctx *ctx, size_t i, struct zt_router_info *ri)
{
	const struct zt_chan *ch = ctx->chans;

	while (ch && i--)
		ch = ch->next;
	if (!ch)
		return false;
	ri->name = ch->name ? ch->name : ch->url ? ch->url : "?";
	ri->up = ch->state == ZT_CH_UP;
	ri->rtt_ms = ch->rtt_ms;
	ri->conns = ch->nconns;
	ri->dgram_queued_bytes = ch->dgq_bytes;
	ri->stream_held = ch->held;
	ri->stream_held_us = ch->held_us + (ch->held_since_us ? zt_now_us() - ch->held_since_us : 0);
	ri->mark_retries = ch->mark_retries;
	return true;
}
