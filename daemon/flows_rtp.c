// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld: RTP quality of UDP flows (daemon/rtpq.c per direction). Every UDP flow has two
 * struct rtpq_dir, allocated with the flow (counted in its memory, nothing per packet):
 * RTPQ_TO_ZITI for what its socket reads (the local endpoint's stream), RTPQ_FROM_ZITI for
 * what the overlay delivers. A stream whose two circuits were merged (flows_pair.c) is
 * accounted on the flow that carries it. Datagrams read from a socket carry the kernel's
 * receive time (SO_TIMESTAMPNS), so the event loop's own delays do not enter the jitter.
 *
 * One-way audio: one direction without RTP for rtp_oneway_s while the other sends is logged
 * (a journal line) when it starts and when it ends. Closed flows' figures are added to the
 * totals the metrics endpoint exports (metrics.c).
 */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon/flows_int.h"
#include "daemon/rtpq.h"

struct rtp_totals rtp_totals;

static const char *const dir_name[2] = { "to_ziti", "from_ziti" };

/* the arrival time of what the loop's batch handles (zt_loop_now_us: read once per batch) */
uint64_t rtp_now_us(void)
{
	return zt_loop_now_us(D.loop);
}

static struct flow *carrier(struct flow *f)
{
	return f->via && !f->via->dead ? f->via : f;
}

static void oneway_event(struct flow *f, int dir, int e)
{
	char d[200];
	struct rtpq_snap s;

	flow_desc(f, d, sizeof(d));
	if (e > 0) {
		rtp_totals.oneway_events++;
		rtpq_snapshot(&f->rq[!dir], NULL, rtp_now_us(), &s);
		logm(L_WARN, "flow %s: one-way audio: no RTP %s for %u s while the other direction sends (ssrc %08x, %s)",
		     d, dir == RTPQ_TO_ZITI ? "from the local side" : "from the overlay", D.cfg.rtp_oneway_ms / 1000,
		     s.ssrc, s.codec[0] ? s.codec : "unknown codec");
	} else {
		logm(L_NOTICE, "flow %s: one-way audio over: RTP %s again", d,
		     dir == RTPQ_TO_ZITI ? "from the local side" : "from the overlay");
	}
}

void rtp_account(struct flow *f, int dir, const uint8_t *p, size_t n, uint64_t now_us)
{
	uint64_t silent;
	int e;

	f = carrier(f);
	if (f->xw) /* a worker's flow carries this stream (flows_xpair.c) */
		return;
	if (!f->rq || rtpq_update(&f->rq[dir], p, n, now_us) != RTPQ_RTP)
		return;
	silent = (uint64_t)D.cfg.rtp_oneway_ms * 1000u;
	e = rtpq_oneway(&f->rq[!dir], &f->rq[dir], now_us, silent); /* the other one went silent */
	if (e)
		oneway_event(f, !dir, e);
	e = rtpq_oneway(&f->rq[dir], &f->rq[!dir], now_us, silent); /* this one is back */
	if (e)
		oneway_event(f, dir, e);
}

/*
 * The offset from the realtime clock to the monotonic one, read once per loop batch (both
 * clocks at once: a batch's receive timestamps share it; a step of the realtime clock shows
 * from the next batch on)
 */
int64_t rtp_real_to_mono_ns(void)
{
	static uint64_t batch;
	static int64_t off;
	uint64_t b = zt_loop_batch(D.loop);
	struct timespec r, m;

	if (b && b == batch)
		return off;
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	off = ((int64_t)m.tv_sec - r.tv_sec) * 1000000000 + (m.tv_nsec - r.tv_nsec);
	batch = b;
	return off;
}

static void sa_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* The RTCP flow of an RTP flow (ports + 1, same type), or NULL. */
struct flow *rtp_rtcp_flow(const struct flow *f)
{
	struct sockaddr_storage a = f->a, b = f->b;
	uint16_t pa = cfg_sa_port(&a), pb = cfg_sa_port(&b);

	if (pa == 65535 || pb == 65535)
		return NULL;
	sa_set_port(&a, (uint16_t)(pa + 1));
	sa_set_port(&b, (uint16_t)(pb + 1));
	return udp_find(f->type, &a, &b);
}

/*
 * Both directions' figures at @now; the peer's reports about direction i come from the other
 * direction of the RTCP flow (ports + 1) if there is one, else of this flow (RFC 5761 mux).
 */
void rtp_flow_snap(const struct flow *f, uint64_t now, struct rtpq_snap s[2])
{
	const struct flow *r = rtp_rtcp_flow(f);

	for (int i = 0; i < 2; i++)
		rtpq_snapshot(&f->rq[i], r && r->rq ? &r->rq[!i] : &f->rq[!i], now, &s[i]);
}

static struct json_object *jd(double v, int prec)
{
	char b[32];

	snprintf(b, sizeof(b), "%.*f", prec, v);
	return json_object_new_double_s(v, b);
}

struct json_object *rtp_flow_json(const struct flow *f)
{
	struct rtpq_snap s[2];
	struct json_object *o;

	if (!f->rq || (!f->rq[0].packets && !f->rq[1].packets && !f->rq[0].rtcp_packets && !f->rq[1].rtcp_packets))
		return NULL;
	rtp_flow_snap(f, rtp_now_us(), s);
	o = json_object_new_object();
	for (int i = 0; i < 2; i++) {
		struct json_object *d = json_object_new_object();

		JADD(d, "rtp", JB(s[i].rtp));
		if (s[i].packets) {
			char ssrc[12];

			snprintf(ssrc, sizeof(ssrc), "%08x", s[i].ssrc);
			JADD(d, "ssrc", JS(ssrc));
			JADD(d, "payload_type", JI(s[i].pt));
			JADD(d, "codec", JS(s[i].codec));
			JADD(d, "clock_hz", JI(s[i].clock_hz));
		}
		JADD(d, "packets", JI(s[i].packets));
		JADD(d, "bytes", JI(s[i].bytes));
		JADD(d, "expected", JI(s[i].expected));
		JADD(d, "lost", JI(s[i].lost));
		JADD(d, "loss_percent", jd(100 * s[i].loss_ratio, 3));
		JADD(d, "reordered", JI(s[i].reordered));
		JADD(d, "duplicates", JI(s[i].duplicates));
		JADD(d, "jitter_ms", jd(s[i].jitter_ms, 3));
		JADD(d, "rtcp_packets", JI(s[i].rtcp_packets));
		JADD(d, "other_packets", JI(s[i].other));
		JADD(d, "invalid_packets", JI(s[i].invalid));
		if (s[i].ssrc_changes)
			JADD(d, "ssrc_changes", JI(s[i].ssrc_changes));
		if (s[i].rr) {
			struct json_object *r = json_object_new_object();

			JADD(r, "fraction_lost_percent", jd(100 * s[i].rr_fraction_lost, 2));
			JADD(r, "cumulative_lost", JI(s[i].rr_cum_lost));
			JADD(r, "jitter_ms", jd(s[i].rr_jitter_ms, 3));
			JADD(r, "age_ms", JI(s[i].rr_age_us / 1000));
			JADD(d, "peer_report", r);
		}
		if (s[i].rtp) {
			JADD(d, "mos", jd(s[i].mos, 2));
			JADD(d, "r_factor", jd(s[i].r_factor, 1));
		}
		if (s[i].idle_us != UINT64_MAX)
			JADD(d, "idle_ms", JI(s[i].idle_us / 1000));
		JADD(d, "one_way_silent", JB(f->rq[i].oneway));
		JADD(o, dir_name[i], d);
	}
	return o;
}

/* A flow ends: its figures join the totals. */
void rtp_flow_closed(const struct flow *f)
{
	struct rtpq_snap s[2];

	if (!f->rq)
		return;
	rtp_flow_snap(f, rtp_now_us(), s);
	for (int i = 0; i < 2; i++) {
		struct rtp_dir_totals *t = &rtp_totals.dir[i];

		if (!s[i].rtp)
			continue;
		t->streams++;
		t->packets += s[i].packets;
		t->bytes += s[i].bytes;
		t->expected += s[i].expected;
		t->lost += s[i].lost > 0 ? (uint64_t)s[i].lost : 0;
		t->reordered += s[i].reordered;
		t->duplicates += s[i].duplicates;
		t->rtcp += s[i].rtcp_packets;
	}
}
