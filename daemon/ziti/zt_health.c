// SPDX-License-Identifier: GPL-2.0
/*
 * Router channel health: Latency probes (round trip for router selection, liveness of an idle
 * channel, and traffic-aware probes that notice a router gone silent while we send).
 */
#include "zt_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static unsigned opt_or(unsigned v, unsigned dflt)
{
	return v ? v : dflt;
}

/*
 * The channel socket's TCP_USER_TIMEOUT: tcp_user_timeout_ms normally; while a sole router is
 * kept (keep_alone) lone_timeout_ms, or the kernel would end the connection after 5 s of
 * unacknowledged data before that bound (seen: a TCG guest's router, starved while its
 * controllers elected a leader, silent 10.9 s; the channel ended "Connection timed out" at 5 s
 * and the call's media flow with it). Nothing is gained by closing sooner: there is no other
 * router to go to, and a router host that restarted answers with a reset.
 */
static void set_uto(struct zt_chan *ch, unsigned ms)
{
	if (ch->fd >= 0 && setsockopt(ch->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms)))
		zt_log(ch->ctx, 2, "router %s: TCP_USER_TIMEOUT %u ms: %s", ch->name, ms, strerror(errno));
}

/* the kernel retransmits or probes a zero window on the socket: data of the stall unacknowledged */
static bool tcp_backlogged(int fd)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);

	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l))
		return false;
	return ti.tcpi_retransmits || ti.tcpi_probes || ti.tcpi_backoff;
}

/*
 * Back to tcp_user_timeout_ms once the router answers and the socket is no longer backlogged.
 * The kernel measures the user timeout from the first retransmission or zero-window probe of
 * the current series, not from the setsockopt: lowered while the router, answering again, has
 * not yet acknowledged the data queued during its stall, the connection is ended at once
 * (daemon-ha.sh, 2026-12-06 03:26: r1 'answered after 24569 ms', then at once 'router
 * connection lost: TLS I/O error: Connection timed out', the call's media flow re-dialed during
 * the controllers' election, RTP gaps of 30-32 s). Tried again at each probe sent or answered.
 */
static void uto_settle(struct zt_chan *ch)
{
	if (!ch->uto_raised || ch->lone_wait || tcp_backlogged(ch->fd))
		return;
	set_uto(ch, opt_or(ch->ctx->o.tcp_user_timeout_ms, 5000));
	ch->uto_raised = false;
}

static void lone_end(struct zt_chan *ch)
{
	ch->lone_wait = false;
	uto_settle(ch);
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
	ch->mark_wait = false; /* the router answered: it reads the next probe (zt_sched.c) */
	if (ch->stream_sent - ch->stream_acked < ZT_CHAN_UNREAD)
		zt_chan_held_end(ch);
	if (k) {
		ch->nmarks -= k;
		memmove(ch->marks, ch->marks + k, ch->nmarks * sizeof(ch->marks[0]));
	}
	if (ch->latency_outstanding && seq_before_eq(ch->latency_seq, seq)) {
		ch->latency_outstanding = false;
		if (ch->lone_wait)
			zt_log(ch->ctx, 1, "router %s: answered after %llu ms", ch->name,
			       (unsigned long long)(now - ch->latency_sent_ms));
		lone_end(ch);
		ch->probe_silent = ch->suspect = false;
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

static void send_probe(struct zt_chan *ch, unsigned timeout_ms, bool silent)
{
	struct zt_msgb mb;
	int32_t seq = zt_chan_next_seq(ch);

	ch->latency_sent_ms = zt_now_ms();
	if (zt_msgb_begin(&mb, &ch->out, ZT_CT_LATENCY, seq) ||
	    zt_msgb_hdr_u64(&mb, ZT_H_REFLECTED, ch->latency_sent_ms) ||
	    zt_chan_expect_reply(ch, seq, latency_reply, NULL))
		return;
	ch->latency_outstanding = true;
	ch->probe_silent = silent;
	lone_end(ch);
	ch->suspect = false;
	ch->latency_seq = seq;
	ch->probe_wait_ms = timeout_ms;
	ch->probe_deadline_ms = ch->latency_sent_ms + timeout_ms;
	zt_chan_flush(ch);
}

/* another channel that is up and not suspect: somewhere to move datagram flows to */
static bool healthy_other(const struct zt_chan *ch)
{
	for (const struct zt_chan *o = ch->ctx->chans; o; o = o->next)
		if (o != ch && o->state == ZT_CH_UP && !o->suspect && !o->retired &&
		    !(o->url && ch->url && !strcmp(o->url, ch->url))) /* a replaced session's: the same router */
			return true;
	return false;
}

/*
 * The router has been silent probe_silence_ms while we sent, and its probe is unanswered as
 * long again: make before break. Live datagram dials on the channel are dialed again through
 * another router that is up (router selection passes over a suspect channel), and the channel
 * stays until probe_timeout_ms closes it (a router that answers late keeps its other flows).
 * A call's RTP so moves about 2 x probe_silence_ms after its router stopped, instead of
 * probe_silence_ms + probe_timeout_ms.
 */
static void move_datagrams(struct zt_chan *ch, uint64_t now)
{
	struct zt_conn **v;
	unsigned n = 0;
	char why[160];

	ch->suspect = true;
	if (!ch->nconns || !healthy_other(ch))
		return;
	v = calloc(ch->nconns, sizeof(*v));
	if (!v)
		return;
	for (unsigned b = 0; b < ch->nbuckets && n < ch->nconns; b++)
		for (struct zt_hnode *h = ch->conns[b]; h && n < ch->nconns; h = h->next)
			if (!((uintptr_t)h->val & 1))
				v[n++] = h->val;
	snprintf(why, sizeof(why), "router %s silent for %llu ms (probe unanswered)", ch->name,
		 (unsigned long long)(now - ch->last_rx_ms));
	for (unsigned i = 0; i < n; i++)
		zt_conn_move(v[i], why);
	free(v);
}

/*
 * A probe past its deadline, and no other router up and answering: closing the channel would
 * end every circuit on it and gain nothing (the dials would come back to this router). A
 * router that is slow to answer (paused, its host or ours short of CPU, a latency spike, its
 * controllers electing a leader) keeps its circuits until the probe is unanswered
 * lone_timeout_ms. A router host that is gone, or a path that lost its state, is not waited
 * for that long: the probe is unacknowledged data, and TCP_USER_TIMEOUT (tcp_user_timeout_ms)
 * ends the connection first. What is left for this bound is a router process that is stopped
 * or hung (its kernel still acknowledges), which no reconnection would mend sooner. It was
 * tcp_user_timeout_ms (5 s): a sole router silent for 5-9 s under load (1000 concurrent
 * dials at load 19; a cluster's leader election in a TCG guest) had every circuit closed.
 */
static bool keep_alone(struct zt_chan *ch, uint64_t now)
{
	const struct zt_opts *o = &ch->ctx->o;
	unsigned bound = opt_or(o->lone_timeout_ms, 30000);

	if (bound < opt_or(o->probe_timeout_ms, 1000) || healthy_other(ch) || now - ch->latency_sent_ms >= bound)
		return false;
	if (!ch->lone_wait) {
		zt_log(ch->ctx, 1, "router %s: latency probe unanswered for %llu ms; no other router to move to: "
		       "keeping its circuits (closed if still unanswered after %u ms)", ch->name,
		       (unsigned long long)(now - ch->latency_sent_ms), bound);
		set_uto(ch, bound);
		ch->uto_raised = true;
	}
	/* kept for its circuits, but new dials go to the session's other routers (zt_router.c) */
	ch->lone_wait = ch->suspect = true;
	return true;
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
		if (now >= ch->probe_deadline_ms && keep_alone(ch, now))
			goto next;
		if (now >= ch->probe_deadline_ms) {
			char why[160];

			snprintf(why, sizeof(why), "latency probe not answered within %llu ms (router unresponsive)",
				 (unsigned long long)(now - ch->latency_sent_ms));
			zt_chan_close(ch, why);
			return;
		}
		if (ch->probe_silent && !ch->suspect && now - ch->latency_sent_ms >= opt_or(o->probe_silence_ms, 300) &&
		    ch->last_rx_ms <= ch->latency_sent_ms)
			move_datagrams(ch, now);
	} else if (now - ch->probe_ok_ms >= o->latency_ms) {
		send_probe(ch, o->latency_timeout_ms, false);
	} else if (ch->last_tx_ms > ch->last_rx_ms && now - ch->last_rx_ms >= opt_or(o->probe_silence_ms, 300)) {
		send_probe(ch, opt_or(o->probe_timeout_ms, 1000), true);
	}
next:
	if (ch->state == ZT_CH_UP)
		zt_timer_start(ch->ctx->loop, &ch->latency_timer, ZT_CHAN_TICK_MS);
}
