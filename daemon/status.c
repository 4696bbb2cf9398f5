// SPDX-License-Identifier: GPL-2.0
/* sipovld: the status document of the control socket ("status" request, sipovld.8.md). */
#include <json-c/json.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/endpoint.h"
#include "daemon/dns_server.h"
#include "daemon/sipovld.h"
#include "daemon/workers.h"

static const char *proto_names(uint32_t p)
{
	return p == (SIPOVL_PROTO_TCP | SIPOVL_PROTO_UDP) ? "tcp,udp" : p == SIPOVL_PROTO_TCP ? "tcp" : "udp";
}

static struct json_object *jprefixes(const struct sipovl_prefix *v, size_t n)
{
	struct json_object *a = json_object_new_array();
	char b[64];

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(cfg_fmt_prefix(&v[i], b, sizeof(b))));
	return a;
}

static struct json_object *jports(const struct sipovl_portrange *v, size_t n)
{
	struct json_object *a = json_object_new_array();
	char b[16];

	for (size_t i = 0; i < n; i++) {
		if (v[i].low == v[i].high)
			snprintf(b, sizeof(b), "%u", v[i].low);
		else
			snprintf(b, sizeof(b), "%u-%u", v[i].low, v[i].high);
		json_object_array_add(a, json_object_new_string(b));
	}
	return a;
}


static struct json_object *jtime(int64_t t)
{
	char b[40];
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !gmtime_r(&tt, &tm) || !strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return NULL;
	return JS(b);
}

/* The identity certificate's validity and renewal state. */
static struct json_object *cert_json(struct zt_ctx *ctx)
{
	struct json_object *c = json_object_new_object();
	struct zt_cert_status cs;
	int64_t now = time(NULL);

	zt_ctx_cert_status(ctx, &cs);
	JADD(c, "not_before", jtime(cs.not_before));
	JADD(c, "not_after", jtime(cs.not_after));
	JADD(c, "expires_in_s", JI(cs.not_after - now));
	JADD(c, "fingerprint", JS(cs.fingerprint));
	JADD(c, "renewal", JS(cs.state));
	if (cs.renew_at) {
		JADD(c, "renew_at", jtime(cs.renew_at));
		JADD(c, "renew_in_s", JI(cs.renew_at > now ? cs.renew_at - now : 0));
	}
	JADD(c, "renewals", JI(cs.renewals));
	if (cs.last_renewal)
		JADD(c, "last_renewal", jtime(cs.last_renewal));
	JADD(c, "failures", JI(cs.failures));
	if (cs.last_error[0])
		JADD(c, "last_error", JS(cs.last_error));
	return c;
}

struct json_object *status_json(void)
{
	struct json_object *o = json_object_new_object(), *ids = json_object_new_array(),
			   *svcs = json_object_new_array(), *c = json_object_new_object(), *fl = json_object_new_object(),
			   *k = json_object_new_object(), *m = json_object_new_object(),
			   *cf = json_object_new_object();
	struct sipovl_stats st;
	struct sipovl_config kc;
	/* every worker's counters and flows (their last reports, at most about a second old) */
	struct counters sum = D.c;
	unsigned nf[4] = { D.n_flows[0], D.n_flows[1], D.n_flows[2], D.n_flows[3] };
	uint64_t mem = D.mem_used;
	int64_t late = 0;

	workers_sum(&sum, nf, &mem, &late);

	JADD(o, "version", JS(SIPOVLD_VERSION));
	JADD(o, "pid", JI(getpid()));
	JADD(o, "uptime_s", JI((zt_now_ms() - D.started_ms) / 1000));
	JADD(o, "dns", dns_status_json()); /* dns_server.c */
	if (D.cfg.has_pool_server)
		JADD(o, "ip_pool", pool_server_json()); /* pool_server.c */
	if (D.cfg.has_endpoint)
		JADD(o, "endpoint", endpoint_json()); /* endpoint.c */
	if (D.cfg.has_primary)
		JADD(o, "primary_address", primary_json()); /* primary.c */
	for (struct ident *id = D.idents; id; id = id->next) {
		struct json_object *j = json_object_new_object();

		JADD(j, "file", JS(id->path));
		JADD(j, "name", JS(id->name));
		JADD(j, "ready", JB(id->ready));
		if (id->err[0])
			JADD(j, "error", JS(id->err));
		if (id->ctx) {
			uint64_t full, resumed, switches;
			char cbuf[300];

			zt_ctx_api_tls_stats(id->ctx, &full, &resumed);
			JADD(j, "controller_tls_full", JI((int64_t)full));
			JADD(j, "controller_tls_resumed", JI((int64_t)resumed));
			JADD(j, "controller_requests", JI((int64_t)zt_ctx_api_requests(id->ctx)));
			JADD(j, "auth", json_object_new_string(zt_ctx_auth_method(id->ctx)));
			JADD(j, "token_refreshes", JI((int64_t)zt_ctx_token_refreshes(id->ctx)));
			JADD(j, "logins", JI((int64_t)zt_ctx_logins(id->ctx)));
			JADD(j, "controller", JS(zt_ctx_controller(id->ctx, cbuf, sizeof(cbuf), &switches)));
			JADD(j, "controller_switches", JI((int64_t)switches));
			JADD(j, "datagrams_dropped_late", JI((int64_t)zt_ctx_dgram_dropped(id->ctx)));
			JADD(j, "certificate", cert_json(id->ctx));
		}
		json_object_array_add(ids, j);
		for (struct svc *s = id->svcs; s; s = s->next) {
			struct json_object *sj = json_object_new_object(), *p = json_object_new_array();
			uint64_t v[5] = { s->dials, s->dial_failed, s->accepted, s->refused, s->active }; /* all workers */

			workers_svc_sum(id->path, s->name, v);

			JADD(sj, "name", JS(s->name));
			JADD(sj, "identity", JS(id->name));
			if (s->perms & ZT_PERM_DIAL)
				json_object_array_add(p, JS("dial"));
			if (s->perms & ZT_PERM_BIND)
				json_object_array_add(p, JS("bind"));
			JADD(sj, "permissions", p);
			if (s->has_icpt || s->icpt_err[0]) {
				struct json_object *ij = json_object_new_object();

				JADD(ij, "kernel_id", JI(s->kid));
				JADD(ij, "kernel_name", JS(s->kname));
				JADD(ij, "installed", JB(s->in_kernel));
				if (s->in_kernel)
					JADD(ij, "installed_prefixes", JI(s->kernel_dsts));
				if (s->own_addr_only)
					JADD(ij, "note", JS("only this endpoint's own address: nothing to intercept"));
				if (s->has_icpt) {
					JADD(ij, "protocols", JS(proto_names(s->icpt.protos)));
					JADD(ij, "addresses", jprefixes(s->icpt.dsts, s->icpt.n_dsts));
					JADD(ij, "ports", jports(s->icpt.ports, s->icpt.n_ports));
					if (s->icpt.n_srcs)
						JADD(ij, "sources", jprefixes(s->icpt.srcs, s->icpt.n_srcs));
					if (s->icpt.n_skipped) {
						struct json_object *sk = json_object_new_array();

						for (size_t i = 0; i < s->icpt.n_skipped; i++)
							json_object_array_add(sk, JS(s->icpt.skipped[i]));
						JADD(ij, "skipped", sk);
					}
					if (s->icpt.dial_identity)
						JADD(ij, "dial_identity", JS(s->icpt.dial_identity));
					if (s->icpt.source_ip)
						JADD(ij, "source_ip", JS(s->icpt.source_ip));
					JADD(ij, "connect_timeout_ms", JI(s->icpt.connect_timeout_ms));
				}
				if (s->icpt_err[0])
					JADD(ij, "error", JS(s->icpt_err));
				JADD(ij, "dials", JI(v[0]));
				JADD(ij, "dials_failed", JI(v[1]));
				JADD(sj, "intercept", ij);
			}
			if (s->has_host || s->host_err[0]) {
				struct json_object *hj = json_object_new_object();

				JADD(hj, "listening", JB(s->lsn_up));
				if (s->term_id[0])
					JADD(hj, "terminator_identity", JS(s->term_id));
				if (s->has_host) {
					uint8_t p = host_precedence(s);

					JADD(hj, "precedence", JS(p == ZT_PREC_REQUIRED ? "required" :
								 p == ZT_PREC_FAILED ? "failed" : "default"));
					JADD(hj, "cost", JI(s->host.cost));
				}
				if (s->has_host && s->host.n_allowed_srcs)
					JADD(hj, "allowed_sources", jprefixes(s->host.allowed_srcs, s->host.n_allowed_srcs));
				if (s->host_err[0])
					JADD(hj, "error", JS(s->host_err));
				JADD(hj, "accepted", JI(v[2]));
				JADD(hj, "refused", JI(v[3]));
				JADD(sj, "host", hj);
			}
			JADD(sj, "active_flows", JI(v[4]));
			json_object_array_add(svcs, sj);
		}
	}
	JADD(o, "identities", ids);
	JADD(o, "services", svcs);
	JADD(fl, "intercept_tcp", JI(nf[0]));
	JADD(fl, "intercept_udp", JI(nf[1]));
	JADD(fl, "host_tcp", JI(nf[2]));
	JADD(fl, "host_udp", JI(nf[3]));
	JADD(o, "flows", fl);
#define C(x) JADD(c, #x, JI(sum.x))
	C(tcp_intercepted);
	C(udp_intercepted);
	C(unmatched);
	C(dials_ok);
	C(dials_failed);
	C(dial_timeouts);
	C(hosted_tcp);
	C(hosted_udp);
	C(hosted_refused);
	C(hosted_src_refused);
	C(hosted_connect_failed);
	C(tcp_expired);
	C(mem_limit_hits);
	C(udp_dropped);
	C(udp_circuits_merged);
	C(hosted_udp_redialed);
	C(hosted_udp_late_attempts);
	C(hosted_udp_taken_over);
	C(worker_name_questions);
	C(worker_name_timeouts);
	C(tcp_reset);
	C(bytes_to_ziti);
	C(bytes_from_ziti);
	C(packets_to_ziti);
	C(packets_from_ziti);
#undef C
	for (struct ident *id = D.idents; id; id = id->next)
		if (id->ctx)
			late += (int64_t)zt_ctx_dgram_dropped(id->ctx);
	JADD(c, "datagrams_dropped_late", JI(late));
	JADD(o, "counters", c);
	JADD(m, "used", JI(mem));
	JADD(m, "limit", JI(D.cfg.memory_limit));
	struct mallinfo2 mi = mallinfo2(); /* the allocator's view: heap in use, for comparison */

	JADD(m, "heap_in_use", JI((int64_t)(mi.uordblks + mi.hblkhd)));
	JADD(o, "memory", m);
	JADD(cf, "log_level", JI(D.cfg.log_level));
	JADD(cf, "udp_idle_timeout_s", JI(D.cfg.udp_idle_ms / 1000));
	JADD(cf, "sip_idle_timeout_s", JI(D.cfg.sip_idle_ms / 1000));
	JADD(cf, "tcp_idle_timeout_s", JI(D.cfg.tcp_idle_ms / 1000));
	JADD(cf, "tcp_half_closed_timeout_s", JI(D.cfg.tcp_half_closed_ms / 1000));
	JADD(cf, "tcp_keepalive_s", JI(D.cfg.tcp_keepalive_s));
	JADD(cf, "memory_limit_bytes", JI(D.cfg.memory_limit));
	JADD(cf, "workers", JI(D.n_workers));
	JADD(cf, "workers_setting", D.cfg.workers ? JI(D.cfg.workers) : JS("auto"));
	JADD(cf, "cpus_usable", JI(workers_cpus()));
	JADD(cf, "service_poll_s", JI(D.cfg.svc_poll_ms / 1000));
	JADD(cf, "intercept_policy", JS(D.cfg.policy == SIPOVL_POLICY_PASS ? "pass" :
					D.cfg.policy == SIPOVL_POLICY_REJECT ? "reject" : "drop"));
	JADD(o, "config", cf);
	JADD(o, "workers", workers_json());
	JADD(k, "enabled", JB(!D.no_kernel));
	if (!D.no_kernel && D.nl) {
		JADD(k, "generation", JI(D.generation));
		if (!sipovl_config_get(D.nl, &kc)) {
			JADD(k, "intercepts", JI(kc.intercept_count));
			JADD(k, "sources", jprefixes(kc.sources, kc.n_sources));
			JADD(k, "sockets", JI(kc.n_sockets));
			sipovl_config_release(&kc);
		}
		if (!sipovl_stats_get(D.nl, false, &st)) {
			struct json_object *ks = json_object_new_object();

			JADD(ks, "lookups", JI(st.lookups));
			JADD(ks, "steered", JI(st.steered));
			JADD(ks, "passed", JI(st.passed));
			JADD(ks, "dropped", JI(st.dropped));
			JADD(ks, "errors", JI(st.errors));
			JADD(ks, "replies", JI(st.replies));
			JADD(ks, "src_denied", JI(st.src_denied));
			JADD(ks, "rejected", JI(st.rejected));
			JADD(ks, "icmp_errors", JI(st.icmp_errors));
			JADD(k, "stats", ks);
		}
	} else {
		JADD(k, "sources", JI(D.n_sources));
	}
	if (D.kernel_err[0])
		JADD(k, "error", JS(D.kernel_err));
	JADD(o, "kernel", k);
	return o;
}
