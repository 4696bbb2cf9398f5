// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model (I/O free, see cfg.h): sipovld.conf.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/cfg.h"
#include "daemon/cfg_internal.h"

/* ------------------------------------------------------------------ sipovld.conf */

int cfg_log_level(const char *s)
{
	static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };

	if (!s)
		return -1;
	if (isdigit((unsigned char)s[0]) && !s[1])
		return s[0] - '0' <= 7 ? s[0] - '0' : -1;
	for (int i = 0; i < 8; i++)
		if (!strcasecmp(s, names[i]))
			return i;
	if (!strcasecmp(s, "error"))
		return 3;
	if (!strcasecmp(s, "warn"))
		return 4;
	return -1;
}

void daemon_cfg_defaults(struct daemon_cfg *d)
{
	memset(d, 0, sizeof(*d));
	d->log_level = 6;
	d->udp_idle_ms = 60000;
	d->sip_idle_ms = 3600u * 1000;
	d->tcp_idle_ms = 7200u * 1000;
	d->tcp_half_closed_ms = 120000;
	d->tcp_keepalive_s = 60;
	d->workers = 0; /* "auto": one per usable CPU (daemon_cfg_workers) */
	d->memory_limit = 256ull << 20;
	d->policy = SIPOVL_POLICY_DROP;
	d->svc_poll_ms = 10000;
	d->ziti_auth = 1; /* auto: OIDC when the controller offers it */
	cfg_dns_defaults(d);
	d->calls_max = 1024;
	d->calls_idle_ms = 3600u * 1000;
	d->rtp_oneway_ms = 5000;
}

void daemon_cfg_free(struct daemon_cfg *d)
{
	for (size_t i = 0; i < d->n_identities; i++)
		free(d->identities[i]);
	free(d->name);
	free(d->ctl_socket);
	free(d->user);
	cfg_src_map_free(d);
	cfg_pool_free(d);
	free(d->dns_names_file);
	memset(d, 0, sizeof(*d));
}

static int set_str(char **dst, struct json_object *v, const char *key, char *err, size_t errlen)
{
	const char *s = cfg_str(v);

	if (!s || !*s)
		return cfg_fail(err, errlen, "%s: expected a non-empty string", key);
	free(*dst);
	if (!(*dst = strdup(s)))
		return cfg_fail(err, errlen, "out of memory");
	return 0;
}

int daemon_cfg_parse(const char *json, struct daemon_cfg *d, char *err, size_t errlen)
{
	struct json_object *o = cfg_parse_json(json, strlen(json), err, errlen);
	int rc = -1;

	if (!o)
		return -1;
	json_object_object_foreach(o, key, v) {
		long long x;
		int dns = cfg_dns_key(key, v, d, err, errlen);

		if (dns > 0)
			dns = cfg_pool_key(key, v, d, err, errlen);
		if (dns <= 0) {
			if (dns)
				goto out;
			continue;
		}
		if (!strcmp(key, "identities") || !strcmp(key, "identity")) {
			size_t n = 1;
			bool arr = json_object_is_type(v, json_type_array);

			if (arr)
				n = json_object_array_length(v);
			if (!n || n > DCFG_MAX_IDENTITIES) {
				cfg_fail(err, errlen, "%s: 1 to %d identity files", key, DCFG_MAX_IDENTITIES);
				goto out;
			}
			for (size_t i = 0; i < d->n_identities; i++)
				free(d->identities[i]);
			d->n_identities = 0;
			for (size_t i = 0; i < n; i++) {
				char *s = NULL;

				if (set_str(&s, arr ? json_object_array_get_idx(v, i) : v, key, err, errlen))
					goto out;
				d->identities[d->n_identities++] = s;
			}
		} else if (!strcmp(key, "name")) {
			if (set_str(&d->name, v, key, err, errlen))
				goto out;
		} else if (!strcmp(key, "log_level")) {
			int l = json_object_is_type(v, json_type_int) ? (cfg_int(v, 0, 7, &x) ? -1 : (int)x) :
									  cfg_log_level(cfg_str(v));

			if (l < 0) {
				cfg_fail(err, errlen, "log_level: expected err, warning, notice, info, debug or 0-7");
				goto out;
			}
			d->log_level = l;
		} else if (!strcmp(key, "udp_idle_timeout_s")) {
			if (cfg_int(v, 1, 86400, &x)) {
				cfg_fail(err, errlen, "%s: expected 1-86400", key);
				goto out;
			}
			d->udp_idle_ms = (unsigned)x * 1000;
		} else if (!strcmp(key, "sip_idle_timeout_s")) {
			if (cfg_int(v, 1, 86400, &x)) {
				cfg_fail(err, errlen, "%s: expected 1-86400", key);
				goto out;
			}
			d->sip_idle_ms = (unsigned)x * 1000;
		} else if (!strcmp(key, "tcp_idle_timeout_s")) {
			if (cfg_int(v, 1, 604800, &x)) {
				cfg_fail(err, errlen, "%s: expected 1-604800", key);
				goto out;
			}
			d->tcp_idle_ms = (unsigned)x * 1000;
		} else if (!strcmp(key, "tcp_half_closed_timeout_s")) {
			if (cfg_int(v, 1, 86400, &x)) {
				cfg_fail(err, errlen, "%s: expected 1-86400", key);
				goto out;
			}
			d->tcp_half_closed_ms = (unsigned)x * 1000;
		} else if (!strcmp(key, "tcp_keepalive_s")) {
			if (cfg_int(v, 0, 7200, &x)) {
				cfg_fail(err, errlen, "%s: expected 0 (off) or 1-7200", key);
				goto out;
			}
			d->tcp_keepalive_s = (unsigned)x;
		} else if (!strcmp(key, "workers")) {
			/* SIPOVL_MAX_GROUP_MEMBERS: sockets in a kernel group; "auto" (0): daemon_cfg_workers */
			if (json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), "auto")) {
				d->workers = 0;
			} else if (cfg_int(v, 1, 64, &x)) {
				cfg_fail(err, errlen, "%s: expected 1-64 or \"auto\"", key);
				goto out;
			} else {
				d->workers = (unsigned)x;
			}
		} else if (!strcmp(key, "memory_limit_mb")) {
			if (cfg_int(v, 1, 1 << 20, &x)) {
				cfg_fail(err, errlen, "%s: expected 1-1048576", key);
				goto out;
			}
			d->memory_limit = (uint64_t)x << 20;
		} else if (!strcmp(key, "memory_limit_bytes")) { /* tests */
			if (cfg_int(v, 4096, LLONG_MAX, &x)) {
				cfg_fail(err, errlen, "%s: expected at least 4096", key);
				goto out;
			}
			d->memory_limit = (uint64_t)x;
		} else if (!strcmp(key, "control_socket")) {
			if (set_str(&d->ctl_socket, v, key, err, errlen))
				goto out;
		} else if (!strcmp(key, "user")) {
			if (set_str(&d->user, v, key, err, errlen))
				goto out;
		} else if (!strcmp(key, "intercept_policy")) {
			const char *s = cfg_str(v);

			if (s && !strcmp(s, "drop"))
				d->policy = SIPOVL_POLICY_DROP;
			else if (s && !strcmp(s, "pass"))
				d->policy = SIPOVL_POLICY_PASS;
			else if (s && !strcmp(s, "reject"))
				d->policy = SIPOVL_POLICY_REJECT;
			else {
				cfg_fail(err, errlen, "intercept_policy: expected \"drop\", \"pass\" or \"reject\"");
				goto out;
			}
		} else if (!strcmp(key, "ziti_auth")) {
			const char *s = cfg_str(v);

			if (s && !strcmp(s, "legacy"))
				d->ziti_auth = 0;
			else if (s && !strcmp(s, "auto"))
				d->ziti_auth = 1;
			else if (s && !strcmp(s, "oidc"))
				d->ziti_auth = 2;
			else {
				cfg_fail(err, errlen, "ziti_auth: expected \"legacy\", \"auto\" or \"oidc\"");
				goto out;
			}
		} else if (!strcmp(key, "ziti_token_refresh_s")) {
			if (cfg_int(v, 1, 86400, &x)) {
				cfg_fail(err, errlen, "%s: expected 1-86400", key);
				goto out;
			}
			d->token_refresh_ms = (unsigned)x * 1000;
		} else if (!strcmp(key, "service_poll_s")) {
			if (cfg_int(v, 1, 3600, &x)) {
				cfg_fail(err, errlen, "%s: expected 1-3600", key);
				goto out;
			}
			d->svc_poll_ms = (unsigned)x * 1000;
		} else if (!strcmp(key, "calls_max")) {
			if (cfg_int(v, 0, 1000000, &x)) {
				cfg_fail(err, errlen, "%s: expected 0 (SIP view off) or 1-1000000", key);
				goto out;
			}
			d->calls_max = (unsigned)x;
		} else if (!strcmp(key, "calls_idle_timeout_s")) {
			if (cfg_int(v, 1, 604800, &x)) {
				cfg_fail(err, errlen, "%s: expected 1-604800", key);
				goto out;
			}
			d->calls_idle_ms = (unsigned)x * 1000;
		} else if (!strcmp(key, "sip_debug")) {
			if (!json_object_is_type(v, json_type_boolean)) {
				cfg_fail(err, errlen, "%s: expected true or false", key);
				goto out;
			}
			d->sip_debug = json_object_get_boolean(v);
		} else if (!strcmp(key, "source_map")) {
			if (cfg_src_map_parse(v, d, err, errlen))
				goto out;
		} else if (!strcmp(key, "source_identity")) {
			const char *s = cfg_str(v);

			if (s && !strcmp(s, "router"))
				d->src_trust_caller = false;
			else if (s && !strcmp(s, "caller"))
				d->src_trust_caller = true;
			else {
				cfg_fail(err, errlen, "source_identity: expected \"router\" or \"caller\"");
				goto out;
			}
		} else if (!strcmp(key, "primary_address")) {
			struct sipovl_prefix pa;

			if (json_object_is_type(v, json_type_null)) {
				d->has_primary = false;
			} else if (cfg_parse_ip(cfg_str(v), &pa)) {
				cfg_fail(err, errlen, "primary_address: expected an IPv4 or IPv6 address (the site's VRRP address), or null");
				goto out;
			} else {
				d->primary = pa;
				d->has_primary = true;
			}
		} else if (!strcmp(key, "metrics_listen")) {
			const char *s = cfg_str(v);
			struct sockaddr_storage ma;

			if (!s || cfg_parse_hostport(s, &ma, NULL) || !cfg_sa_port(&ma)) {
				cfg_fail(err, errlen, "metrics_listen: expected ADDRESS:PORT (an IP address, a port 1-65535)");
				goto out;
			}
			d->metrics_addr = ma;
			d->has_metrics = true;
		} else if (!strcmp(key, "rtp_oneway_s")) {
			if (cfg_int(v, 1, 3600, &x)) {
				cfg_fail(err, errlen, "%s: expected 1-3600", key);
				goto out;
			}
			d->rtp_oneway_ms = (unsigned)x * 1000;
		} else {
			cfg_fail(err, errlen, "unknown key \"%.40s\"", key);
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

unsigned daemon_cfg_workers(unsigned cfg, long cpus, bool no_kernel, bool endpoint, const char **why)
{
	const char *w = NULL;
	unsigned n;

	if (endpoint) {
		n = 1;
		if (cfg != 1)
			w = "an endpoint's flows are its interface's";
	} else if (cfg) {
		n = cfg;
	} else if (no_kernel) {
		n = 1;
		if (cpus > 1)
			w = "no kernel: no intercepted flow to spread, only the primary hosts";
	} else {
		n = cpus < 1 ? 1 : cpus > SIPOVL_MAX_GROUP_MEMBERS ? SIPOVL_MAX_GROUP_MEMBERS : (unsigned)cpus;
		if ((long)n < cpus)
			w = "at most 64";
	}
	if (why)
		*why = w;
	return n;
}
