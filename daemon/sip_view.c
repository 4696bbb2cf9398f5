// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld's read-only view of the SIP it carries (see sip_view.h): flows recognised as SIP,
 * their messages given to the dialog tracker, one journal line per ended call (a CDR), the
 * "calls" control request.
 *
 * Privacy: the CDR names the Call-ID and the parties (user@host of From and To), never other
 * headers nor bodies; with "sip_debug": true each message's start line, Call-ID and CSeq are
 * logged at debug.
 */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/call_rtp.h"
#include "daemon/calls.h"
#include "daemon/flows_int.h"
#include "daemon/rtpq.h"
#include "daemon/sip_view.h"
#include "daemon/sip_view_int.h"
#include "daemon/workers.h"

/* flow->sip_kind: 0..SIPV_SNIFF-1 undecided (packets looked at), then one of these */
#define KIND_SIP 100
#define KIND_NOT -1

struct sip_tap {
	struct sip_stream st[2]; /* TCP: [0] bytes from f->a, [1] from f->b */
	struct flow *f;
	int dir;
};

struct calls *sipv_T; /* the tracker, NULL when the SIP view is off */
#define T sipv_T
static struct zt_timer tick;

/*
 * The final RTP quality of recently ended calls (every media stream with a flow, the CDR's
 * figures), by call number, for the calls view while an ended call lingers (the flows have
 * moved on to the next call's interval by then). A ring: the oldest is overwritten. Static,
 * ENDQ_N x SDP_MAX_MEDIA x 2 snapshots (about 107 KB), not in calls_mem().
 */
#define ENDQ_N 64
static struct endq {
	uint64_t seq;             /* 0: free */
	struct call_rtp_final fin;
} endq[ENDQ_N];
static unsigned endq_next;
struct sipv_counters sipv_vc;
#define vc sipv_vc

/* ------------------------------------------------------------------ CDR */

static bool sa_same(const struct sockaddr_storage *x, const struct sockaddr_storage *y);

/*
 * The call's view of the RTP flow @f steered for a stream whose caller end is @caller_rtp:
 * RTPQ_TO_ZITI is what the flow's socket read, sent by its local end (intercepted: a; hosted: b).
 */
static void call_view(struct flow *f, const struct sockaddr_storage *caller_rtp, struct call_rtp *r)
{
	const struct sockaddr_storage *local = f->type == F_IUDP ? &f->a : &f->b;
	int up = sa_same(local, caller_rtp) ? RTPQ_TO_ZITI : RTPQ_FROM_ZITI;
	struct flow *rf = rtp_rtcp_flow(f);

	for (int i = 0; i < 2; i++) {
		int d = i == 0 ? up : !up;

		r->dir[i] = &f->rq[d];
		/* the peer's reports about direction d: the other direction of the RTCP flow, or of this one (mux) */
		r->rep[i] = rf && rf->rq ? &rf->rq[!d] : &f->rq[!d];
	}
}

/* call_rtp_find_fn: the flow steered between the two SDP addresses of the @i-th media */
static bool find_media_flow(void *arg, const struct call *c, unsigned i, struct call_rtp *r)
{
	const struct sdp_media *x, *y;
	struct flow *f;

	(void)arg;
	if (!sipv_media_pair(c, i, &x, &y))
		return false;
	f = sipv_flow_between(&x->rtp, &y->rtp);
	if (!f || !f->rq)
		return false;
	call_view(f, &x->rtp, r);
	return true;
}

/* An ended call's final figures join those kept for it (a stream's figures come once: the first kept) */
void sipv_endq_merge(uint64_t seq, const struct call_rtp_final *fin)
{
	struct endq *e = NULL;

	for (unsigned i = 0; i < ENDQ_N && !e; i++)
		if (endq[i].seq == seq)
			e = &endq[i];
	if (!e) {
		e = &endq[endq_next++ % ENDQ_N];
		memset(e, 0, sizeof(*e));
		e->seq = seq;
	}
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
		if ((fin->has & 1u << i) && !(e->fin.has & 1u << i)) {
			memcpy(e->fin.q[i], fin->q[i], sizeof(fin->q[i]));
			e->fin.has |= 1u << i;
		}
}

const struct call_rtp_final *sipv_endq_find(uint64_t seq)
{
	for (unsigned i = 0; i < ENDQ_N; i++)
		if (endq[i].seq == seq)
			return &endq[i].fin;
	return NULL;
}

static bool sa_same(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	return x->ss_family == y->ss_family && cfg_sa_port(x) == cfg_sa_port(y) &&
	       !memcmp(cfg_sa_addr(x), cfg_sa_addr(y), x->ss_family == AF_INET ? 4 : 16);
}

/* the i-th media of both sides' SDP, when both have an address and a port */
bool sipv_media_pair(const struct call *c, unsigned i, const struct sdp_media **x, const struct sdp_media **y)
{
	if (!c->has_sdp[0] || !c->has_sdp[1] || i >= c->sdp[0].n_media || i >= c->sdp[1].n_media)
		return false;
	*x = &c->sdp[0].m[i];
	*y = &c->sdp[1].m[i];
	return (*x)->port && (*y)->port && (*x)->has_addr && (*y)->has_addr;
}

/* The SDP's a=rtpmap to the RTP flows of the call's media (SDP taken, or the flow steered). */
static void on_media(void *arg, const struct call *c, int side)
{
	(void)arg;
	(void)side;
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
		const struct sdp_media *x, *y;
		struct flow *f;
		struct call_rtp r;

		if (!sipv_media_pair(c, i, &x, &y))
			continue;
		f = sipv_flow_between(&x->rtp, &y->rtp);
		if (!f || !f->rq)
			continue;
		call_view(f, &x->rtp, &r);
		call_rtp_rtpmap(&r, c, i);
	}
}

void sipv_flow_new(struct flow *f)
{
	if (!T || !f->rq)
		return;
	for (const struct call *c = calls_first(T); c; c = c->next) {
		const struct sdp_media *x, *y;

		if (c->state == CALL_ENDED)
			continue;
		for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
			if (sipv_media_pair(c, i, &x, &y) && ((sa_same(&f->a, &x->rtp) && sa_same(&f->b, &y->rtp)) ||
							 (sa_same(&f->a, &y->rtp) && sa_same(&f->b, &x->rtp)))) {
				struct call_rtp r;

				/* f itself: sipv_flow_between() may find another flow of the pair, f may carry it later */
				call_view(f, &x->rtp, &r);
				call_rtp_rtpmap(&r, c, i);
				return;
			}
	}
}

static void fmt_media(const struct call *c, int side, char *b, size_t n)
{
	char h[INET6_ADDRSTRLEN];

	b[0] = 0;
	if (!c->has_sdp[side] || !c->sdp[side].n_media || !c->sdp[side].m[0].has_addr) {
		snprintf(b, n, "-");
		return;
	}
	const struct sdp_media *m = &c->sdp[side].m[0];

	snprintf(b, n, "%s", cfg_fmt_sa(&m->rtp, h, sizeof(h)));
}

void sipv_cdr(const struct call *c, const struct call_rtp_final *fin)
{
	uint64_t now = zt_now_ms();
	char ma[80], mb[80], qb[512];

	call_rtp_fmt(c, fin, qb, sizeof(qb));
	fmt_media(c, 0, ma, sizeof(ma));
	fmt_media(c, 1, mb, sizeof(mb));
	logm(L_NOTICE,
	     "call ended: call_id=%s caller=%s callee=%s reason=%s status=%u duration_s=%.1f setup_ms=%llu codec=%s "
	     "media=%s,%s %s reinvites=%u",
	     c->call_id, c->party[0][0] ? c->party[0] : "-", c->party[1][0] ? c->party[1] : "-", call_end_name(c->end),
	     c->status, (double)call_duration_ms(c, now) / 1000.0,
	     (unsigned long long)(c->status >= 200 && c->status < 300 ? c->answer_ms - c->start_ms : 0),
	     call_codec(c)[0] ? call_codec(c) : "-", ma, mb, qb, c->reinvites);
}

/*
 * A call ended: the figures of its streams this process carries (their interval ends), kept
 * for the calls view; the CDR is written by the process that read the call's INVITE (its
 * origin), with the figures of the streams other workers carry (sip_view_workers.c).
 */
static void on_end(void *arg, const struct call *c)
{
	struct call_rtp_final fin;

	(void)arg;
	call_rtp_end_call(c, find_media_flow, NULL, rtp_now_us(), NULL, 0, &fin);
	if (fin.has)
		sipv_endq_merge(c->seq, &fin);
	/* to the origin, and from a worker to the primary too (its calls view) */
	if (fin.has && (D.worker || c->origin != D.worker))
		workers_send_fin(c->origin, c->call_id, &fin);
	/*
	 * Stopping (SIGTERM: the primary stops its workers first, workers.c workers_stop, telling
	 * them so with WMSG_STOP): each worker's calls end as "stopped" and it sends its figures;
	 * the primary, whose calls end after the workers exited and their figures were read,
	 * writes the CDR of every call that ends as "stopped" with all of them (its origin may be
	 * a worker that exited). A call that ended otherwise (a BYE read during the stop) is its
	 * origin's, as always; a worker that stops alone (the primary gone) writes its own.
	 */
	if (c->end == CALL_END_STOPPED && stopping && D.n_workers > 1 && (!D.worker || worker_stop_asked)) {
		if (!D.worker) {
			sipv_stop_fin_add(c->seq, &fin);
			sipv_cdr(c, &fin);
		}
		return;
	}
	if (c->origin != D.worker)
		return;
	if (!sipv_pend(c, &fin))
		sipv_cdr(c, &fin);
}

/* ------------------------------------------------------------------ lifecycle */

static struct calls_cfg tracker_cfg(void)
{
	return (struct calls_cfg){
		.max_calls = D.cfg.calls_max,
		.setup_timeout_ms = 180000,
		.idle_timeout_ms = D.cfg.calls_idle_ms,
		.linger_ms = 32000,
		.on_end = on_end,
		.on_media = on_media,
	};
}

static void tick_cb(void *arg)
{
	(void)arg;
	if (!T)
		return;
	calls_tick(T, zt_now_ms());
	zt_timer_start(D.loop, &tick, 1000);
}

void sipv_init(void)
{
	struct calls_cfg c = tracker_cfg();

	zt_timer_init(&tick, tick_cb, NULL);
	memset(endq, 0, sizeof(endq)); /* a new tracker numbers its calls from 1 again */
	if (!D.cfg.calls_max)
		return;
	T = calls_new(&c);
	if (!T) {
		logm(L_WARN, "SIP view: out of memory; calls are not followed");
		return;
	}
	calls_set_origin(T, D.worker);
	zt_timer_start(D.loop, &tick, 1000);
}

void sipv_fini(void)
{
	zt_timer_stop(D.loop, &tick);
	calls_free(T, zt_now_ms());
	T = NULL;
	sipv_pend_flush(); /* what the other workers did not send yet is not waited for */
}

void sipv_reconfigure(void)
{
	struct calls_cfg c = tracker_cfg();

	if (!D.cfg.calls_max) {
		if (T)
			logm(L_INFO, "SIP view off (calls_max 0): calls end as stopped");
		sipv_fini();
		return;
	}
	if (!T) {
		sipv_init();
		return;
	}
	calls_set_cfg(T, &c);
}

/* ------------------------------------------------------------------ the tap */

static void addrs(const struct flow *f, bool from_a, const struct sockaddr_storage **src,
		  const struct sockaddr_storage **dst)
{
	*src = from_a ? &f->a : &f->b;
	*dst = from_a ? &f->b : &f->a;
}

static void debug_msg(const struct sip_msg *m, const struct sockaddr_storage *src, const struct sockaddr_storage *dst)
{
	char x[64], y[64], id[64], line[120];

	if (!D.cfg.sip_debug)
		return;
	sip_str_copy(id, sizeof(id), m->call_id);
	if (m->request)
		sip_str_copy(line, sizeof(line), (struct sip_str){ m->method.p, (size_t)(m->uri.p + m->uri.n - m->method.p) });
	else
		snprintf(line, sizeof(line), "%u", m->status);
	logm(L_DEBUG, "sip %s -> %s: %s (Call-ID %s, CSeq %u %.*s, %zu bytes of body)", cfg_fmt_sa(src, x, sizeof(x)),
	     cfg_fmt_sa(dst, y, sizeof(y)), line, id, m->cseq, (int)(m->cseq_method.n < 16 ? m->cseq_method.n : 16),
	     m->cseq_method.p, m->body.n);
}

static void stream_msg(void *arg, const struct sip_msg *m)
{
	struct sip_tap *t = arg;
	const struct sockaddr_storage *s, *d;

	addrs(t->f, t->dir == 0, &s, &d);
	debug_msg(m, s, d);
	/* to the other workers first: their figures of this call's end come after it */
	workers_send_sip(s, d, m->body.p + m->body.n - m->len, m->len);
	calls_msg(T, m, s, d, zt_now_ms());
}

static void stream_bad(void *arg, const char *why)
{
	char m[160];

	(void)arg;
	snprintf(m, sizeof(m), "TCP stream: %s (no more SIP read from this direction)", why);
	calls_malformed(T, m);
}

static bool stream_mem(void *arg, long d)
{
	(void)arg;
	if (d < 0) {
		mem_give((size_t)-d);
		return true;
	}
	if (!mem_take((size_t)d)) {
		vc.tap_refused++;
		return false;
	}
	return true;
}

static const struct sip_stream_ops *ops_for(struct sip_tap *t, int dir)
{
	static struct sip_stream_ops o;

	t->dir = dir;
	o = (struct sip_stream_ops){ stream_msg, stream_bad, stream_mem, t };
	return &o;
}

static bool is_hosted(const struct flow *f)
{
	return f->type == F_HTCP || f->type == F_HUDP;
}

/*
 * a UDP flow whose both ends sent SIP and that carried an ACK (an INVITE's dialog was
 * confirmed): a call's signalling, not a scan's probe, answered or not
 */
bool sipv_flow_is_sip(const struct flow *f)
{
	return f->sip_kind == KIND_SIP && f->sip_dirs == 7;
}

/* a UDP flow's SIP, looked at until both ends sent some and an ACK passed (sipv_flow_is_sip) */
static void sip_dir_seen(struct flow *f, bool from_a, const uint8_t *p, size_t n)
{
	uint8_t bit = from_a ? 1 : 2;

	if (sip_keepalive((const char *)p, n) || !sip_sniff((const char *)p, n))
		return;
	f->sip_dirs |= bit;
	if (n >= 4 && !memcmp(p, "ACK ", 4))
		f->sip_dirs |= 4;
}

void sipv_data(struct flow *f, bool from_sock, const uint8_t *p, size_t n)
{
	static struct sip_msg m;
	char err[128];
	bool udp = f->type == F_IUDP || f->type == F_HUDP;
	/* intercepted: the socket is the client's (a); hosted: the target's (b) */
	bool from_a = from_sock != is_hosted(f);

	/* without the call tracker a UDP flow is still told SIP or not, for its idle timeout */
	if (f->sip_kind == KIND_NOT || !n || (!T && (!udp || f->sip_dirs == 7)))
		return;
	if (udp && f->sip_kind == KIND_SIP && f->sip_dirs != 7)
		sip_dir_seen(f, from_a, p, n);
	if (!T && f->sip_kind == KIND_SIP)
		return;
	if (f->sip_kind != KIND_SIP) {
		if (sip_keepalive((const char *)p, n))
			return;
		if (!sip_sniff((const char *)p, n)) {
			if (!udp || ++f->sip_kind >= SIPV_SNIFF) {
				f->sip_kind = KIND_NOT;
				vc.flows_not_sip++;
			}
			return;
		}
		if (!udp) {
			if (!mem_take(sizeof(struct sip_tap))) {
				vc.tap_refused++;
				f->sip_kind = KIND_NOT;
				return;
			}
			f->sip = calloc(1, sizeof(*f->sip));
			if (!f->sip) {
				mem_give(sizeof(struct sip_tap));
				f->sip_kind = KIND_NOT;
				return;
			}
			f->sip->f = f;
		}
		f->sip_kind = KIND_SIP;
		vc.flows_sip++;
		if (udp)
			sip_dir_seen(f, from_a, p, n);
		if (!T)
			return;
	}
	if (!udp) {
		int dir = from_a ? 0 : 1;

		sip_stream_feed(&f->sip->st[dir], p, n, ops_for(f->sip, dir));
		return;
	}
	if (sip_keepalive((const char *)p, n))
		return;
	const struct sockaddr_storage *s, *d;

	addrs(f, from_a, &s, &d);
	if (sip_parse((const char *)p, n, false, &m, err, sizeof(err)) != SIP_OK) {
		calls_malformed(T, err);
		return;
	}
	debug_msg(&m, s, d);
	workers_send_sip(s, d, (const char *)p, n);
	calls_msg(T, &m, s, d, zt_now_ms());
}

void sipv_flow_closed(struct flow *f)
{
	if (!f->sip)
		return;
	for (int i = 0; i < 2; i++)
		sip_stream_free(&f->sip->st[i], ops_for(f->sip, i));
	free(f->sip);
	f->sip = NULL;
	mem_give(sizeof(struct sip_tap));
}

/*
 * The UDP flow steered between x and y (either way; intercepted, or hosted from the caller's
 * address), and of a stream merged onto one circuit (flows_pair.c) the flow carrying it.
 */
struct flow *sipv_flow_between(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	struct flow *f = udp_find(F_IUDP, x, y);

	if (!f)
		f = udp_find(F_IUDP, y, x);
	if (!f)
		f = udp_find(F_HUDP, x, y);
	if (!f)
		f = udp_find(F_HUDP, y, x);
	if (f && f->xw) /* a worker's flow carries the stream (flows_xpair.c): its figures come from there */
		return NULL;
	return f && f->via && !f->via->dead ? f->via : f;
}

