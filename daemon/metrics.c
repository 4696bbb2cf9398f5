// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld metrics: the Prometheus text exposition format (version 0.0.4) of the gateway,
 * its identities and edge routers, services (intercept and host sides), flows, the kernel's
 * counters and the RTP quality of UDP flows. Served by metrics_http.c. Names follow the
 * Prometheus conventions: a sipovld_ (daemon) or sipovl_kernel_ (sipovl.ko) prefix, base units
 * in the name (_seconds, _bytes, _ratio), _total on counters; label values are bounded:
 * identities, services and routers of the configuration and the network, fixed enumerations
 * (direction, type, result, quality band), never a flow, an address or a call.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/calls.h"
#include "daemon/flows_int.h"
#include "daemon/metrics.h"
#include "daemon/rtpq.h"
#include "daemon/workers.h"

struct mw {
	FILE *f;
	const char *family; /* the family whose HELP/TYPE were written last */
};

static void fam(struct mw *w, const char *name, const char *type, const char *help)
{
	if (w->family && !strcmp(w->family, name))
		return;
	w->family = name;
	fprintf(w->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* a label value, escaped (\\, \", \n) */
static void lv(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

/* name{k1="v1",k2="v2"} value: labels as "k", "v" pairs, NULL-terminated */
static void sample(struct mw *w, const char *name, double v, ...)
{
	va_list ap;
	const char *k;
	bool first = true;

	fputs(name, w->f);
	va_start(ap, v);
	while ((k = va_arg(ap, const char *))) {
		const char *val = va_arg(ap, const char *);

		fputs(first ? "{" : ",", w->f);
		first = false;
		fprintf(w->f, "%s=\"", k);
		lv(w->f, val ? val : "");
		fputc('"', w->f);
	}
	va_end(ap);
	if (!first)
		fputc('}', w->f);
	if (v == (double)(int64_t)v && v < 9e15 && v > -9e15)
		fprintf(w->f, " %lld\n", (long long)v);
	else
		fprintf(w->f, " %.6g\n", v);
}

#define M(w, name, type, help, v, ...)                   \
	do {                                             \
		fam(w, name, type, help);                \
		sample(w, name, (double)(v), __VA_ARGS__); \
	} while (0)

static void gateway(struct mw *w)
{
	uint64_t up_ms = zt_now_ms() - D.started_ms;

	M(w, "sipovld_info", "gauge", "sipovld version", 1, "version", SIPOVLD_VERSION, NULL);
	M(w, "sipovld_start_time_seconds", "gauge", "Start time of sipovld since the Unix epoch",
	  (double)time(NULL) - (double)(up_ms / 1000), NULL);
	uint64_t mem = D.mem_used;
	struct counters unused = { 0 };
	unsigned nf[4] = { 0 };

	workers_sum(&unused, nf, &mem, NULL);
	M(w, "sipovld_memory_used_bytes", "gauge", "Memory counted against memory_limit (flow state, buffers; all workers)",
	  mem, NULL);
	M(w, "sipovld_memory_limit_bytes", "gauge", "The configured memory_limit", D.cfg.memory_limit, NULL);
	for (struct ident *id = D.idents; id; id = id->next)
		M(w, "sipovld_identity_ready", "gauge", "1 when the identity is authenticated and has its services",
		  id->ready, "identity", id->name, NULL);
	for (struct ident *id = D.idents; id; id = id->next)
		if (id->ctx) {
			struct zt_cert_status cs;

			zt_ctx_cert_status(id->ctx, &cs);
			if (cs.not_after)
				M(w, "sipovld_identity_certificate_expiry_timestamp_seconds", "gauge",
				  "notAfter of the identity certificate", cs.not_after, "identity", id->name, NULL);
		}
	for (struct ident *id = D.idents; id; id = id->next)
		if (id->ctx)
			M(w, "sipovld_controller_requests_total", "counter", "Requests to the controller completed",
			  zt_ctx_api_requests(id->ctx), "identity", id->name, NULL);
	for (struct ident *id = D.idents; id; id = id->next)
		if (id->ctx)
			M(w, "sipovld_datagrams_dropped_late_total", "counter",
			  "Datagrams dropped because they waited too long for their router", zt_ctx_dgram_dropped(id->ctx),
			  "identity", id->name, NULL);
}

static void routers(struct mw *w)
{
	/*
	 * The last three: stream data held back once ZT_CHAN_UNREAD bytes of it wait for the router's
	 * read confirmation (zt_sched.c), how often, for how long in all (a hold in progress counts
	 * up to now), and the read-position probes sent again because the router left one unanswered.
	 * Per channel: they start at 0 when the channel to the router is made again.
	 */
	static const char *const names[] = { "sipovld_router_up", "sipovld_router_rtt_seconds",
					     "sipovld_router_connections", "sipovld_router_datagram_queue_bytes",
					     "sipovld_router_stream_held_back_total",
					     "sipovld_router_stream_held_back_seconds_total",
					     "sipovld_router_read_probe_retries_total" };
	static const char *const helps[] = {
		"1 when the channel to the edge router is up", "Smoothed latency probe round trip to the edge router",
		"Connections and bindings on the router channel", "Datagrams waiting to be written to the router",
		"Times stream data was held back until the edge router confirmed reading what was sent",
		"Time stream data was held back for the edge router's read confirmation",
		"Read-position probes sent again because the edge router left one unanswered",
	};

	for (int m = 0; m < 7; m++)
		for (struct ident *id = D.idents; id; id = id->next) {
			struct zt_router_info ri;

			for (size_t i = 0; id->ctx && zt_ctx_router_at(id->ctx, i, &ri); i++) {
				double v = m == 0   ? ri.up
					   : m == 1 ? ri.rtt_ms / 1000.0
					   : m == 2 ? ri.conns
					   : m == 3 ? (double)ri.dgram_queued_bytes
					   : m == 4 ? (double)ri.stream_held
					   : m == 5 ? ri.stream_held_us / 1e6
						    : (double)ri.mark_retries;

				M(w, names[m], m < 4 ? "gauge" : "counter", helps[m], v, "identity", id->name, "router",
				  ri.name, NULL);
			}
		}
}

static void services(struct mw *w)
{
	static const char *const names[] = { "sipovld_service_active_flows", "sipovld_service_dials_total",
					     "sipovld_service_dial_failures_total", "sipovld_service_hosted_accepted_total",
					     "sipovld_service_hosted_refused_total" };
	static const char *const types[] = { "gauge", "counter", "counter", "counter", "counter" };
	static const char *const helps[] = {
		"Flows of the service now", "Dials of the service (intercept side)", "Failed dials of the service",
		"Dials to the service accepted (host side)", "Dials to the service refused (host side)",
	};

	for (int m = 0; m < 5; m++)
		for (struct ident *id = D.idents; id; id = id->next)
			for (struct svc *s = id->svcs; s; s = s->next) {
				uint64_t v = m == 0 ? s->active : m == 1 ? s->dials : m == 2 ? s->dial_failed :
					     m == 3 ? s->accepted : s->refused;

				M(w, names[m], types[m], helps[m], v, "identity", id->name, "service", s->name, NULL);
			}
	unsigned installed = 0;

	for (struct ident *id = D.idents; id; id = id->next)
		for (struct svc *s = id->svcs; s; s = s->next)
			installed += s->in_kernel;
	M(w, "sipovld_intercepts_installed", "gauge", "Services whose intercept is in sipovl.ko", installed, NULL);
}

static void flows(struct mw *w)
{
	static const char *const tn[] = { "intercept-tcp", "intercept-udp", "host-tcp", "host-udp" };
	struct counters sum = D.c; /* every worker's (workers.c) */
	unsigned nf[4] = { D.n_flows[0], D.n_flows[1], D.n_flows[2], D.n_flows[3] };
	uint64_t mem = 0;
	const struct counters *c = &sum;

	workers_sum(&sum, nf, &mem, NULL);
	for (int i = 0; i < 4; i++)
		M(w, "sipovld_flows", "gauge", "Flows now, by type", nf[i], "type", tn[i], NULL);
	M(w, "sipovld_intercepted_flows_total", "counter", "Intercepted flows", c->tcp_intercepted, "protocol", "tcp", NULL);
	M(w, "sipovld_intercepted_flows_total", "counter", "", c->udp_intercepted, "protocol", "udp", NULL);
	M(w, "sipovld_hosted_flows_total", "counter", "Hosted flows (dials answered)", c->hosted_tcp, "protocol", "tcp", NULL);
	M(w, "sipovld_hosted_flows_total", "counter", "", c->hosted_udp, "protocol", "udp", NULL);
	M(w, "sipovld_dials_total", "counter", "Ziti dials of intercepted flows", c->dials_ok, "result", "ok", NULL);
	M(w, "sipovld_dials_total", "counter", "", c->dials_failed, "result", "failed", NULL);
#define C(name, field, help) M(w, name, "counter", help, c->field, NULL)
	C("sipovld_dial_timeouts_total", dial_timeouts, "Dials that timed out");
	C("sipovld_unmatched_datagrams_total", unmatched, "Intercepted datagrams without a service");
	C("sipovld_hosted_refused_total", hosted_refused, "Hosted dials refused");
	C("sipovld_hosted_source_refused_total", hosted_src_refused, "Hosted dials whose source the source_map refused");
	C("sipovld_hosted_connect_failures_total", hosted_connect_failed, "Hosted TCP connects that failed");
	C("sipovld_tcp_expired_total", tcp_expired, "TCP flows closed by the idle bounds");
	C("sipovld_tcp_resets_total", tcp_reset, "TCP flows reset");
	C("sipovld_memory_limit_hits_total", mem_limit_hits, "Allocations refused at the memory limit");
	C("sipovld_udp_dropped_datagrams_total", udp_dropped, "UDP datagrams dropped (queue full, send failed)");
	C("sipovld_udp_circuits_merged_total", udp_circuits_merged, "UDP streams that had two circuits, one kept");
#undef C
	M(w, "sipovld_ziti_bytes_total", "counter", "Bytes through the overlay", c->bytes_to_ziti, "direction", "to_ziti", NULL);
	M(w, "sipovld_ziti_bytes_total", "counter", "", c->bytes_from_ziti, "direction", "from_ziti", NULL);
	M(w, "sipovld_ziti_datagrams_total", "counter", "Datagrams through the overlay", c->packets_to_ziti, "direction",
	  "to_ziti", NULL);
	M(w, "sipovld_ziti_datagrams_total", "counter", "", c->packets_from_ziti, "direction", "from_ziti", NULL);
}

static void kernel(struct mw *w)
{
	struct sipovl_stats st;

	if (D.no_kernel || !D.nl || sipovl_stats_get(D.nl, false, &st))
		return;
	M(w, "sipovl_kernel_lookups_total", "counter", "Packets looked up in the intercept table", st.lookups, NULL);
	M(w, "sipovl_kernel_packets_total", "counter", "Packets by what sipovl.ko did", st.steered, "action", "steered", NULL);
	M(w, "sipovl_kernel_packets_total", "counter", "", st.passed, "action", "passed", NULL);
	M(w, "sipovl_kernel_packets_total", "counter", "", st.dropped, "action", "dropped", NULL);
	M(w, "sipovl_kernel_packets_total", "counter", "", st.rejected, "action", "rejected", NULL);
	M(w, "sipovl_kernel_replies_total", "counter", "Reply packets of steered flows", st.replies, NULL);
	M(w, "sipovl_kernel_icmp_errors_total", "counter", "ICMP errors delivered to the sockets of steered flows",
	  st.icmp_errors, NULL);
	M(w, "sipovl_kernel_errors_total", "counter", "Steering errors", st.errors, NULL);
	M(w, "sipovl_kernel_source_denied_total", "counter", "Packets from sources not allowed", st.src_denied, NULL);
	if (!st.has_drops) /* a module older than the per-reason counters */
		return;
	M(w, "sipovl_kernel_drops_total", "counter", "Packets sipovl.ko dropped, by reason", st.drops.no_socket, "reason",
	  "no_socket", NULL);
	M(w, "sipovl_kernel_drops_total", "counter", "", st.drops.not_new, "reason", "not_new", NULL);
	M(w, "sipovl_kernel_drops_total", "counter", "", st.drops.martian, "reason", "martian", NULL);
	M(w, "sipovl_kernel_drops_total", "counter", "", st.drops.local_src, "reason", "local_src", NULL);
	M(w, "sipovl_kernel_drops_total", "counter", "", st.drops.rp_filter, "reason", "rp_filter", NULL);
	M(w, "sipovl_kernel_malformed_total", "counter", "Packets the hooks could not parse (passed on)", st.malformed,
	  NULL);
}

/* R-factor bands of ITU-T G.107 Annex B (user satisfaction) */
static const char *const band[] = { "best", "high", "medium", "low", "poor" };

static int band_of(double r)
{
	return r >= 90 ? 0 : r >= 80 ? 1 : r >= 70 ? 2 : r >= 60 ? 3 : 4;
}

#define RTP_ACTIVE_US 10000000u /* a direction with RTP in the last 10 s counts as a stream now */

/* The RTP figures of one process's flows (a worker reports them, the primary adds them up). */
struct rtp_agg {
	struct rtp_dir_totals sum[2];
	unsigned active[2], oneway[2], bands[2][5];
	double mos_min[2], jit_max[2], loss_max[2];
	uint64_t oneway_events;
};

static void agg_local(struct rtp_agg *a)
{
	uint64_t now = rtp_now_us();

	memset(a, 0, sizeof(*a));
	memcpy(a->sum, rtp_totals.dir, sizeof(a->sum));
	a->oneway_events = rtp_totals.oneway_events;
	for (struct flow *f = D.flows; f; f = f->next) {
		struct rtpq_snap s[2];

		if (!f->rq || f->dead)
			continue;
		rtp_flow_snap(f, now, s);
		for (int i = 0; i < 2; i++) {
			a->oneway[i] += f->rq[i].oneway;
			if (!s[i].rtp)
				continue;
			a->sum[i].packets += s[i].packets;
			a->sum[i].bytes += s[i].bytes;
			a->sum[i].expected += s[i].expected;
			a->sum[i].lost += s[i].lost > 0 ? (uint64_t)s[i].lost : 0;
			a->sum[i].reordered += s[i].reordered;
			a->sum[i].duplicates += s[i].duplicates;
			a->sum[i].rtcp += s[i].rtcp_packets;
			if (s[i].idle_us > RTP_ACTIVE_US)
				continue;
			if (!a->active[i] || s[i].mos < a->mos_min[i])
				a->mos_min[i] = s[i].mos;
			if (s[i].jitter_ms / 1000 > a->jit_max[i])
				a->jit_max[i] = s[i].jitter_ms / 1000;
			if (s[i].loss_ratio > a->loss_max[i])
				a->loss_max[i] = s[i].loss_ratio;
			a->active[i]++;
			a->bands[i][band_of(s[i].r_factor)]++;
		}
	}
}

static const char *const agg_u64[] = { "streams", "packets", "bytes", "expected", "lost", "reordered", "duplicates",
				       "rtcp" };

static uint64_t *agg_field(struct rtp_dir_totals *t, size_t k)
{
	uint64_t *f[] = { &t->streams, &t->packets, &t->bytes, &t->expected, &t->lost, &t->reordered, &t->duplicates,
			  &t->rtcp };

	return f[k];
}

struct json_object *metrics_rtp_report(void)
{
	struct rtp_agg a;
	struct json_object *o = json_object_new_object(), *d = json_object_new_array();

	agg_local(&a);
	for (int i = 0; i < 2; i++) {
		struct json_object *x = json_object_new_object(), *b = json_object_new_array();

		for (size_t k = 0; k < sizeof(agg_u64) / sizeof(agg_u64[0]); k++)
			JADD(x, agg_u64[k], JI(*agg_field(&a.sum[i], k)));
		JADD(x, "active", JI(a.active[i]));
		JADD(x, "oneway", JI(a.oneway[i]));
		for (int q = 0; q < 5; q++)
			json_object_array_add(b, JI(a.bands[i][q]));
		JADD(x, "bands", b);
		JADD(x, "mos_min", json_object_new_double(a.mos_min[i]));
		JADD(x, "jitter_max_s", json_object_new_double(a.jit_max[i]));
		JADD(x, "loss_max", json_object_new_double(a.loss_max[i]));
		json_object_array_add(d, x);
	}
	JADD(o, "directions", d);
	JADD(o, "oneway_events", JI(a.oneway_events));
	return o;
}

static int64_t jnum(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static double jdbl(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : 0;
}

/* a worker's report (metrics_rtp_report) into @a */
static void agg_merge(struct rtp_agg *a, struct json_object *o)
{
	struct json_object *d, *b;

	a->oneway_events += (uint64_t)jnum(o, "oneway_events");
	if (!json_object_object_get_ex(o, "directions", &d) || json_object_array_length(d) != 2)
		return;
	for (int i = 0; i < 2; i++) {
		struct json_object *x = json_object_array_get_idx(d, (size_t)i);
		unsigned act = (unsigned)jnum(x, "active");

		for (size_t k = 0; k < sizeof(agg_u64) / sizeof(agg_u64[0]); k++)
			*agg_field(&a->sum[i], k) += (uint64_t)jnum(x, agg_u64[k]);
		a->oneway[i] += (unsigned)jnum(x, "oneway");
		if (json_object_object_get_ex(x, "bands", &b))
			for (int q = 0; q < 5 && q < (int)json_object_array_length(b); q++)
				a->bands[i][q] += (unsigned)json_object_get_int64(json_object_array_get_idx(b, (size_t)q));
		if (act && (!a->active[i] || jdbl(x, "mos_min") < a->mos_min[i]))
			a->mos_min[i] = jdbl(x, "mos_min");
		if (jdbl(x, "jitter_max_s") > a->jit_max[i])
			a->jit_max[i] = jdbl(x, "jitter_max_s");
		if (jdbl(x, "loss_max") > a->loss_max[i])
			a->loss_max[i] = jdbl(x, "loss_max");
		a->active[i] += act;
	}
}

/* the RTP of every worker's flows (Documentation/design.md "Workers") */
static void rtp(struct mw *w)
{
	static const char *const dn[2] = { "to_ziti", "from_ziti" };
	struct rtp_agg a;
	struct json_object *r;
	unsigned wi = 0;

	agg_local(&a);
	while ((r = workers_rtp_metrics(&wi)))
		agg_merge(&a, r);
	struct rtp_dir_totals *sum = a.sum;
	unsigned *active = a.active, *oneway = a.oneway, (*bands)[5] = a.bands;
	double *mos_min = a.mos_min, *jit_max = a.jit_max, *loss_max = a.loss_max;

	for (int i = 0; i < 2; i++)
		M(w, "sipovld_rtp_streams", "gauge", "RTP streams (flow directions) with a packet in the last 10 s", active[i],
		  "direction", dn[i], NULL);
	for (int i = 0; i < 2; i++)
		for (int b = 0; b < 5; b++)
			M(w, "sipovld_rtp_streams_by_quality", "gauge",
			  "RTP streams now by E-model R band (G.107 Annex B: best >= 90, high >= 80, medium >= 70, low >= 60, poor)",
			  bands[i][b], "direction", dn[i], "quality", band[b], NULL);
	for (int i = 0; i < 2; i++)
		if (active[i])
			M(w, "sipovld_rtp_mos_min", "gauge", "Lowest estimated MOS (E-model) of the RTP streams now", mos_min[i],
			  "direction", dn[i], NULL);
	for (int i = 0; i < 2; i++)
		M(w, "sipovld_rtp_jitter_seconds_max", "gauge", "Highest interarrival jitter (RFC 3550) of the RTP streams now",
		  jit_max[i], "direction", dn[i], NULL);
	for (int i = 0; i < 2; i++)
		M(w, "sipovld_rtp_loss_ratio_max", "gauge", "Highest packet loss ratio of the RTP streams now", loss_max[i],
		  "direction", dn[i], NULL);
	for (int i = 0; i < 2; i++)
		M(w, "sipovld_rtp_streams_one_way", "gauge", "RTP directions silent while the other direction sends",
		  oneway[i], "direction", dn[i], NULL);
	M(w, "sipovld_rtp_one_way_events_total", "counter", "One-way audio events raised", a.oneway_events, NULL);
	for (int i = 0; i < 2; i++)
		M(w, "sipovld_rtp_streams_ended_total", "counter", "RTP streams (flow directions) of closed flows",
		  sum[i].streams, "direction", dn[i], NULL);
#define R(name, field, help)                                                                     \
	for (int i = 0; i < 2; i++)                                                              \
		M(w, name, "counter", help, sum[i].field, "direction", dn[i], NULL);
	R("sipovld_rtp_packets_total", packets, "RTP packets")
	R("sipovld_rtp_bytes_total", bytes, "RTP datagram bytes")
	R("sipovld_rtp_expected_packets_total", expected, "RTP packets expected from sequence numbers")
	R("sipovld_rtp_lost_packets_total", lost, "RTP packets lost (expected - received; late packets may lower it)")
	R("sipovld_rtp_reordered_packets_total", reordered, "RTP packets arrived after a later one")
	R("sipovld_rtp_duplicate_packets_total", duplicates, "Duplicate RTP packets")
	R("sipovld_rtp_rtcp_packets_total", rtcp, "RTCP packets")
#undef R
}

/* calls followed in the SIP carried (sip_view.c); labels: end reasons, a fixed enumeration */
static void calls(struct mw *w)
{
	const struct calls_stats *s = sipv_stats();

	if (!s)
		return;
	M(w, "sipovld_calls_active", "gauge", "Calls followed in the SIP carried, not ended", s->active, NULL);
	M(w, "sipovld_calls_started_total", "counter", "Calls followed (INVITEs that started a dialog)", s->started, NULL);
	for (int e = 1; e < CALL_END__N; e++)
		M(w, "sipovld_calls_ended_total", "counter", "Calls ended, by reason", s->ended[e], "reason",
		  call_end_name((enum call_end)e), NULL);
	M(w, "sipovld_calls_limit_hits_total", "counter", "Calls not followed: calls_max reached", s->limit_hits, NULL);
	M(w, "sipovld_sip_messages_total", "counter", "SIP messages read", s->messages, NULL);
	M(w, "sipovld_sip_malformed_total", "counter", "SIP messages that did not parse", s->malformed, NULL);
	M(w, "sipovld_sip_sdp_malformed_total", "counter", "SDP bodies that did not parse", s->sdp_malformed, NULL);
}

int metrics_text(char **out, size_t *len)
{
	struct mw w = { 0 };

	*out = NULL;
	*len = 0;
	w.f = open_memstream(out, len);
	if (!w.f)
		return -1;
	gateway(&w);
	routers(&w);
	services(&w);
	flows(&w);
	kernel(&w);
	rtp(&w);
	calls(&w);
	if (fclose(w.f)) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
