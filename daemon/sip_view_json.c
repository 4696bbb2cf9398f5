// SPDX-License-Identifier: GPL-2.0
/* sipovld's SIP view: the "calls" document of the control socket (see sip_view.h). */
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

#define T sipv_T
#define vc sipv_vc

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
		struct json_object *o, *r;
		struct flow *rtp, *rtcp;
		char a[64], b[64];

		if (!x->port || !y->port || !x->has_addr || !y->has_addr)
			continue;
		o = json_object_new_object();
		JADD(o, "media", JS(x->media));
		JADD(o, "caller_rtp", JS(cfg_fmt_sa(&x->rtp, a, sizeof(a))));
		JADD(o, "callee_rtp", JS(cfg_fmt_sa(&y->rtp, b, sizeof(b))));
		rtp = sipv_flow_between(&x->rtp, &y->rtp);
		rtcp = x->rtcp_mux && y->rtcp_mux ? NULL : sipv_flow_between(&x->rtcp, &y->rtcp);
		if (rtp)
			JADD(o, "rtp", flow_ref(rtp));
		else if ((r = workers_rtp_flow(a, b))) /* another worker's flow (its last report) */
			JADD(o, "rtp", r);
		if (rtcp && rtcp != rtp) {
			JADD(o, "rtcp", flow_ref(rtcp));
		} else if (!rtcp && !(x->rtcp_mux && y->rtcp_mux)) {
			r = workers_rtp_flow(cfg_fmt_sa(&x->rtcp, a, sizeof(a)), cfg_fmt_sa(&y->rtcp, b, sizeof(b)));
			if (r)
				JADD(o, "rtcp", r);
		}
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
		const struct call_rtp_final *e = sipv_endq_find(c->seq);

		if (e) {
			struct json_object *mq = json_object_new_array();

			for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
				struct json_object *qo;

				if (!(e->has & 1u << i))
					continue;
				qo = json_object_new_object();
				JADD(qo, "index", JI(i));
				JADD(qo, "media", JS(i < c->sdp[0].n_media ? c->sdp[0].m[i].media : ""));
				JADD(qo, "caller_to_callee", snap_json(&e->q[i][0]));
				JADD(qo, "callee_to_caller", snap_json(&e->q[i][1]));
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
	JADD(st, "worker_messages_dropped", JI(workers_msg_dropped));
	if (calls_last_error(T)[0])
		JADD(st, "last_error", JS(calls_last_error(T)));
	JADD(o, "stats", st);
	return o;
}

struct json_object *sipv_report_flows(unsigned worker, unsigned max)
{
	struct json_object *arr = json_object_new_array();
	unsigned n = 0;

	for (struct flow *f = D.flows; f && n < max; f = f->next) {
		struct json_object *o;

		if ((f->type != F_IUDP && f->type != F_HUDP) || f->dead || !f->rq ||
		    !(f->rq[0].packets || f->rq[1].packets || f->rq[0].rtcp_packets || f->rq[1].rtcp_packets))
			continue;
		o = flow_ref(f);
		JADD(o, "worker", JI(worker));
		json_object_array_add(arr, o);
		n++;
	}
	return arr;
}
