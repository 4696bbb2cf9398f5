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

/* flow->sip_kind: 0..SIPV_SNIFF-1 undecided (packets looked at), then one of these */
#define KIND_SIP 100
#define KIND_NOT -1

struct sip_tap {
	struct sip_stream st[2]; /* TCP: [0] bytes from f->a, [1] from f->b */
	struct flow *f;
	int dir;
};

static struct calls *T;
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
static struct {
	uint64_t flows_sip, flows_not_sip, tap_refused;
} vc;

/* ------------------------------------------------------------------ CDR */

static struct flow *flow_between(const struct sockaddr_storage *x, const struct sockaddr_storage *y);
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

static bool media_pair(const struct call *c, unsigned i, const struct sdp_media **x, const struct sdp_media **y);

/* call_rtp_find_fn: the flow steered between the two SDP addresses of the @i-th media */
static bool find_media_flow(void *arg, const struct call *c, unsigned i, struct call_rtp *r)
{
	const struct sdp_media *x, *y;
	struct flow *f;

	(void)arg;
	if (!media_pair(c, i, &x, &y))
		return false;
	f = flow_between(&x->rtp, &y->rtp);
	if (!f || !f->rq)
		return false;
	call_view(f, &x->rtp, r);
	return true;
}

/*
 * The RTP quality of a call's media streams from the flows steered for them, for the CDR
 * (call_rtp_end_call: the first stream's "packets=A/B loss_pct=A/B jitter_ms=A/B mos=A/B",
 * or "-" without a flow, then the further streams'); the interval of every stream ends here.
 * Every stream's figures are kept (endq) for the calls view while the call lingers.
 */
static void fmt_quality(const struct call *c, char *b, size_t n)
{
	struct call_rtp_final fin;
	struct endq *e;

	call_rtp_end_call(c, find_media_flow, NULL, rtp_now_us(), b, n, &fin);
	if (!fin.has)
		return;
	e = &endq[endq_next++ % ENDQ_N];
	e->seq = c->seq;
	e->fin = fin;
}

static const struct endq *endq_find(uint64_t seq)
{
	for (unsigned i = 0; i < ENDQ_N; i++)
		if (endq[i].seq == seq)
			return &endq[i];
	return NULL;
}

static bool sa_same(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	return x->ss_family == y->ss_family && cfg_sa_port(x) == cfg_sa_port(y) &&
	       !memcmp(cfg_sa_addr(x), cfg_sa_addr(y), x->ss_family == AF_INET ? 4 : 16);
}

/* the i-th media of both sides' SDP, when both have an address and a port */
static bool media_pair(const struct call *c, unsigned i, const struct sdp_media **x, const struct sdp_media **y)
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

		if (!media_pair(c, i, &x, &y))
			continue;
		f = flow_between(&x->rtp, &y->rtp);
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
			if (media_pair(c, i, &x, &y) && ((sa_same(&f->a, &x->rtp) && sa_same(&f->b, &y->rtp)) ||
							 (sa_same(&f->a, &y->rtp) && sa_same(&f->b, &x->rtp)))) {
				struct call_rtp r;

				/* f itself: flow_between() may find another flow of the pair, f may carry it later */
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

static void on_end(void *arg, const struct call *c)
{
	uint64_t now = zt_now_ms();
	char ma[80], mb[80], qb[512];

	(void)arg;
	fmt_quality(c, qb, sizeof(qb));
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
	zt_timer_start(D.loop, &tick, 1000);
}

void sipv_fini(void)
{
	zt_timer_stop(D.loop, &tick);
	calls_free(T, zt_now_ms());
	T = NULL;
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

void sipv_data(struct flow *f, bool from_sock, const uint8_t *p, size_t n)
{
	static struct sip_msg m;
	char err[128];
	bool udp = f->type == F_IUDP || f->type == F_HUDP;
	/* intercepted: the socket is the client's (a); hosted: the target's (b) */
	bool from_a = from_sock != is_hosted(f);

	if (!T || f->sip_kind == KIND_NOT || !n)
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

/* ------------------------------------------------------------------ control */

static struct json_object *sa_json(const struct sockaddr_storage *a)
{
	char b[64];

	return JS(cfg_fmt_sa(a, b, sizeof(b)));
}

static struct json_object *media_json(const struct sdp_media *m)
{
	struct json_object *o = json_object_new_object(), *pts = json_object_new_array();

	JADD(o, "media", JS(m->media));
	JADD(o, "proto", JS(m->proto));
	JADD(o, "port", JI(m->port));
	if (m->has_addr && m->port) {
		JADD(o, "rtp", sa_json(&m->rtp));
		JADD(o, "rtcp", sa_json(&m->rtcp));
	}
	for (unsigned i = 0; i < m->n_pt; i++)
		json_object_array_add(pts, JI(m->pt[i]));
	JADD(o, "payload_types", pts);
	JADD(o, "codec", JS(m->codec));
	if (m->clock)
		JADD(o, "clock_rate", JI(m->clock));
	JADD(o, "direction", JS(sdp_dir_name(m->dir)));
	JADD(o, "hold", JB(m->hold));
	return o;
}

/*
 * The UDP flow steered between x and y (either way; intercepted, or hosted from the caller's
 * address), and of a stream merged onto one circuit (flows_pair.c) the flow carrying it.
 */
static struct flow *flow_between(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	struct flow *f = udp_find(F_IUDP, x, y);

	if (!f)
		f = udp_find(F_IUDP, y, x);
	if (!f)
		f = udp_find(F_HUDP, x, y);
	if (!f)
		f = udp_find(F_HUDP, y, x);
	return f && f->via && !f->via->dead ? f->via : f;
}

static struct json_object *snap_json(const struct rtpq_snap *q)
{
	struct json_object *d = json_object_new_object();

	JADD(d, "rtp", JB(q->rtp));
	JADD(d, "packets", JI(q->packets));
	JADD(d, "lost", JI(q->lost));
	JADD(d, "loss_ratio", json_object_new_double(q->loss_ratio));
	JADD(d, "jitter_ms", json_object_new_double(q->jitter_ms));
	JADD(d, "mos", json_object_new_double(q->mos));
	JADD(d, "codec", JS(q->codec));
	return d;
}

static struct json_object *flow_ref(const struct flow *f)
{
	struct json_object *o = json_object_new_object();
	char x[64], y[64];
	bool local_a = f->type == F_IUDP; /* the socket's side: the client (a), or the target (b) */

	JADD(o, "flow", JS(f->type == F_IUDP ? "intercept-udp" : "host-udp"));
	JADD(o, "service", JS(f->svc ? f->svc->name : ""));
	JADD(o, "local", JS(cfg_fmt_sa(local_a ? &f->a : &f->b, x, sizeof(x))));
	JADD(o, "remote", JS(cfg_fmt_sa(local_a ? &f->b : &f->a, y, sizeof(y))));
	JADD(o, "packets_to_ziti", JI(f->pk_to_zt));
	JADD(o, "packets_from_ziti", JI(f->pk_from_zt));
	JADD(o, "bytes_to_ziti", JI(f->to_zt));
	JADD(o, "bytes_from_ziti", JI(f->from_zt));
	if (f->rq) { /* RTP quality of each direction since the flow's previous call ended (call_rtp.h) */
		static const char *const dn[2] = { "to_ziti", "from_ziti" };
		struct rtpq_snap q[2];
		struct json_object *qo = json_object_new_object();
		const struct flow *rf = rtp_rtcp_flow(f);

		for (int i = 0; i < 2; i++)
			rtpq_snapshot_since(&f->rq[i], rf && rf->rq ? &rf->rq[!i] : &f->rq[!i], rtp_now_us(), &q[i]);
		for (int i = 0; i < 2; i++)
			JADD(qo, dn[i], snap_json(&q[i]));
		JADD(o, "quality", qo);
	}
	return o;
}

/*
 * The flows of a call's media: the i-th m= line of each side's SDP (offer and answer pair by
 * position, RFC 3264 §6), its RTP between the two RTP addresses, its RTCP between the RTCP ones.
 */
static struct json_object *media_flows_json(const struct call *c)
{
	struct json_object *arr = json_object_new_array();

	if (!c->has_sdp[0] || !c->has_sdp[1])
		return arr;
	for (unsigned i = 0; i < c->sdp[0].n_media && i < c->sdp[1].n_media; i++) {
		const struct sdp_media *x = &c->sdp[0].m[i], *y = &c->sdp[1].m[i];
		struct json_object *o;
		struct flow *rtp, *rtcp;
		char a[64], b[64];

		if (!x->port || !y->port || !x->has_addr || !y->has_addr)
			continue;
		o = json_object_new_object();
		JADD(o, "media", JS(x->media));
		JADD(o, "caller_rtp", JS(cfg_fmt_sa(&x->rtp, a, sizeof(a))));
		JADD(o, "callee_rtp", JS(cfg_fmt_sa(&y->rtp, b, sizeof(b))));
		rtp = flow_between(&x->rtp, &y->rtp);
		rtcp = x->rtcp_mux && y->rtcp_mux ? NULL : flow_between(&x->rtcp, &y->rtcp);
		if (rtp)
			JADD(o, "rtp", flow_ref(rtp));
		if (rtcp && rtcp != rtp)
			JADD(o, "rtcp", flow_ref(rtcp));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *call_json(const struct call *c, uint64_t now, time_t wall)
{
	struct json_object *o = json_object_new_object(), *streams = json_object_new_array();
	static const char *const sides[] = { "caller", "callee" };
	char ts[32];
	time_t st = wall - (time_t)((now - c->start_ms) / 1000);
	struct tm tm;

	gmtime_r(&st, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	JADD(o, "id", JI(c->seq));
	JADD(o, "call_id", JS(c->call_id));
	JADD(o, "state", JS(call_state_name(c->state)));
	JADD(o, "caller", JS(c->party[0]));
	JADD(o, "callee", JS(c->party[1]));
	if (c->sig[0].ss_family)
		JADD(o, "caller_signalling", sa_json(&c->sig[0]));
	if (c->sig[1].ss_family)
		JADD(o, "callee_signalling", sa_json(&c->sig[1]));
	JADD(o, "started", JS(ts));
	JADD(o, "age_s", JI((now - c->start_ms) / 1000));
	if (c->status)
		JADD(o, "status", JI(c->status));
	if (c->status >= 200 && c->status < 300)
		JADD(o, "setup_ms", JI(c->answer_ms - c->start_ms));
	JADD(o, "duration_s", json_object_new_double((double)call_duration_ms(c, now) / 1000.0));
	if (c->state == CALL_ENDED)
		JADD(o, "end_reason", JS(call_end_name(c->end)));
	JADD(o, "codec", JS(call_codec(c)));
	JADD(o, "early_media", JB(c->early_media));
	JADD(o, "reinvites", JI(c->reinvites));
	for (int s = 0; s < 2; s++) {
		if (!c->has_sdp[s])
			continue;
		for (unsigned i = 0; i < c->sdp[s].n_media; i++) {
			struct json_object *m = media_json(&c->sdp[s].m[i]);

			JADD(m, "side", JS(sides[s]));
			json_object_array_add(streams, m);
		}
	}
	JADD(o, "streams", streams);
	if (c->state != CALL_ENDED) {
		JADD(o, "media_flows", media_flows_json(c));
	} else {
		/* its final figures, as in its CDR (the flow has started the next call's interval) */
		const struct endq *e = endq_find(c->seq);

		if (e) {
			struct json_object *mq = json_object_new_array();

			for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
				struct json_object *qo;

				if (!(e->fin.has & 1u << i))
					continue;
				qo = json_object_new_object();
				JADD(qo, "index", JI(i));
				JADD(qo, "media", JS(i < c->sdp[0].n_media ? c->sdp[0].m[i].media : ""));
				JADD(qo, "caller_to_callee", snap_json(&e->fin.q[i][0]));
				JADD(qo, "callee_to_caller", snap_json(&e->fin.q[i][1]));
				if (i < c->sdp[0].n_media && strcmp(c->sdp[0].m[i].media, "audio")) {
					/* the E-model is for speech: no MOS of video or other media */
					json_object_object_del(json_object_object_get(qo, "caller_to_callee"), "mos");
					json_object_object_del(json_object_object_get(qo, "callee_to_caller"), "mos");
				}
				if (i == 0) /* the first stream's, as before media_quality */
					JADD(o, "quality", json_object_get(qo));
				json_object_array_add(mq, qo);
			}
			JADD(o, "media_quality", mq);
		}
	}
	return o;
}

const struct calls_stats *sipv_stats(void)
{
	return T ? calls_stats(T) : NULL;
}

struct json_object *sipv_calls_json(void)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array(), *st, *ended;
	uint64_t now = zt_now_ms();
	time_t wall = time(NULL);

	JADD(o, "enabled", JB(T != NULL));
	if (!T) {
		JADD(o, "calls", arr);
		return o;
	}
	for (const struct call *c = calls_first(T); c; c = c->next)
		json_object_array_add(arr, call_json(c, now, wall));
	JADD(o, "calls", arr);
	const struct calls_stats *s = calls_stats(T);

	st = json_object_new_object();
	ended = json_object_new_object();
	JADD(st, "messages", JI(s->messages));
	JADD(st, "requests", JI(s->requests));
	JADD(st, "responses", JI(s->responses));
	JADD(st, "malformed", JI(s->malformed));
	JADD(st, "sdp_malformed", JI(s->sdp_malformed));
	JADD(st, "unknown_dialog", JI(s->unknown_dialog));
	JADD(st, "other_dialog", JI(s->other_dialog));
	JADD(st, "calls_started", JI(s->started));
	JADD(st, "calls_active", JI(s->active));
	JADD(st, "calls_lingering", JI(s->lingering));
	for (int e = 1; e < CALL_END__N; e++)
		JADD(ended, call_end_name((enum call_end)e), JI(s->ended[e]));
	JADD(st, "calls_ended", ended);
	JADD(st, "calls_max", JI(D.cfg.calls_max));
	JADD(st, "limit_hits", JI(s->limit_hits));
	JADD(st, "memory_bytes", JI(calls_mem(T)));
	JADD(st, "flows_sip", JI(vc.flows_sip));
	JADD(st, "flows_not_sip", JI(vc.flows_not_sip));
	JADD(st, "tap_refused", JI(vc.tap_refused));
	if (calls_last_error(T)[0])
		JADD(st, "last_error", JS(calls_last_error(T)));
	JADD(o, "stats", st);
	return o;
}
