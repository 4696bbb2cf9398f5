// SPDX-License-Identifier: GPL-2.0
/*
 * Router channel health: Latency probes (round trip for router selection, liveness of an idle
 * channel, and traffic-aware probes that notice a router gone silent while we send).
 */
#include "zt_internal.h"

#include <stdio.h>
#include <string.h>

static unsigned opt_or(unsigned v, unsigned dflt)
{
	return v ? v : dflt;
}

void zt_chan_rtt_sample(struct zt_chan *ch, uint64_t ms)
{
	ch->rtt_ms = ch->rtt_ms ? (unsigned)((ch->rtt_ms * 7u + ms) / 8u) : (unsigned)(ms ? ms : 1);
}

/* a before b in the channel's sequence (which wraps) */
static bool seq_before_eq(int32_t a, int32_t b)
{
	return (int32_t)((uint32_t)a - (uint32_t)b) <= 0;
}

/*
 * The router answered the Latency probe @seq. It answers Latency probes one at a time, in
 * order, and may skip one that arrives while it answers another; a skipped one is never
 * answered. So this answer also stands for every probe written before it: the read-position
 * probes (zt_sched.c) before it confirm their positions, and the liveness probe, if it was
 * written before, is answered too (the router is alive and read it). Their replies are no
 * longer expected: a pending-reply list that kept them would grow for as long as the
 * channel lives.
 */
void zt_chan_probe_answered(struct zt_chan *ch, int32_t seq)
{
	uint64_t now = zt_now_ms();
	unsigned k = 0;

	while (k < ch->nmarks && seq_before_eq(ch->marks[k].seq, seq)) {
		if (ch->marks[k].pos > ch->stream_acked)
			ch->stream_acked = ch->marks[k].pos;
		if (ch->marks[k].seq != seq)
			zt_chan_drop_reply(ch, ch->marks[k].seq);
		k++;
	}
	if (k) {
		ch->nmarks -= k;
		memmove(ch->marks, ch->marks + k, ch->nmarks * sizeof(ch->marks[0]));
	}
	if (ch->latency_outstanding && seq_before_eq(ch->latency_seq, seq)) {
		ch->latency_outstanding = false;
		ch->probe_ok_ms = now;
		if (ch->latency_seq == seq) {
			zt_chan_rtt_sample(ch, now - ch->latency_sent_ms);
			zt_log(ch->ctx, 3, "router %s latency %llu ms", ch->name,
			       (unsigned long long)(now - ch->latency_sent_ms));
		} else {
			zt_chan_drop_reply(ch, ch->latency_seq);
		}
	}
}

static void latency_reply(void *arg, struct zt_chan *ch, const struct zt_msg *m, int err, const char *why)
{
	(void)arg;
	(void)why;
	if (err || !m)
		return;
	zt_chan_probe_answered(ch, ch->latency_seq);
}

static void send_probe(struct zt_chan *ch, unsigned timeout_ms)
{
	struct zt_msgb mb;
	int32_t seq = zt_chan_next_seq(ch);

	ch->latency_sent_ms = zt_now_ms();
	if (zt_msgb_begin(&mb, &ch->out, ZT_CT_LATENCY, seq) ||
	    zt_msgb_hdr_u64(&mb, ZT_H_REFLECTED, ch->latency_sent_ms) ||
	    zt_chan_expect_reply(ch, seq, latency_reply, NULL))
		return;
	ch->latency_outstanding = true;
	ch->latency_seq = seq;
	ch->probe_wait_ms = timeout_ms;
	ch->probe_deadline_ms = ch->latency_sent_ms + timeout_ms;
	zt_chan_flush(ch);
}

/*
 * Every ZT_CHAN_TICK_MS while UP: a probe every latency_ms when idle (its reply within
 * latency_timeout_ms); and traffic-aware: when we sent since the router last sent us anything
 * and it has been silent probe_silence_ms, a probe now, its reply within probe_timeout_ms. A
 * router that stopped (process stopped, host gone) is so noticed about probe_silence_ms +
 * probe_timeout_ms after the traffic through it stopped, without probing busy channels that
 * answer, nor idle ones more than every latency_ms.
 */
void zt_chan_latency_tick(void *arg)
{
	struct zt_chan *ch = arg;
	const struct zt_opts *o = &ch->ctx->o;
	uint64_t now = zt_now_ms();

	if (ch->state != ZT_CH_UP)
		return;
	if (ch->latency_outstanding) {
		/*
		 * A probe queued behind bulk data we are still writing out (the socket takes
		 * it) is not late: the deadline counts once the queue is written or stalls. Nor is
		 * one whose router keeps sending: the deadline counts from its latest message.
		 */
		if (zt_buf_used(&ch->out) && now - ch->last_tx_ms < opt_or(o->probe_timeout_ms, 1000) &&
		    ch->probe_deadline_ms < now + ch->probe_wait_ms)
			ch->probe_deadline_ms = now + ch->probe_wait_ms;
		if (ch->last_rx_ms > ch->latency_sent_ms && ch->probe_deadline_ms < ch->last_rx_ms + ch->probe_wait_ms)
			ch->probe_deadline_ms = ch->last_rx_ms + ch->probe_wait_ms;
		if (now >= ch->probe_deadline_ms) {
			char why[160];

			snprintf(why, sizeof(why), "latency probe not answered within %llu ms (router unresponsive)",
				 (unsigned long long)(now - ch->latency_sent_ms));
			zt_chan_close(ch, why);
			return;
		}
	} else if (now - ch->probe_ok_ms >= o->latency_ms) {
		send_probe(ch, o->latency_timeout_ms);
	} else if (ch->last_tx_ms > ch->last_rx_ms && now - ch->last_rx_ms >= opt_or(o->probe_silence_ms, 500)) {
		send_probe(ch, opt_or(o->probe_timeout_ms, 1000));
	}
	if (ch->state == ZT_CH_UP)
		zt_timer_start(ch->ctx->loop, &ch->latency_timer, ZT_CHAN_TICK_MS);
}
