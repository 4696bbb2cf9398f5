// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld: an identity's services. The Ziti context reports each service with its permissions
 * and its intercept.v1/host.v1 configs; a service keeps its kernel intercept id (kid) while it
 * exists, its intercept goes to the kernel table (kernel_table.c), its host.v1 becomes a
 * listener whose dials flows_host.c originates.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/dns_server.h"
#include "daemon/endpoint.h"
#include "daemon/sipovld.h"

static struct svc *svc_find(struct ident *id, const char *name)
{
	for (struct svc *s = id->svcs; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

struct svc *svc_by_kid(uint32_t kid)
{
	for (struct ident *id = D.idents; id; id = id->next)
		for (struct svc *s = id->svcs; s; s = s->next)
			if (s->kid == kid && s->has_icpt)
				return s;
	return NULL;
}

/*
 * A worker's service for a kernel intercept name (the primary's naming: the service name, or
 * "svcID-NAME" for a long, empty or numeric one; kernel_table.c); the first identity's when two
 * identities have a service of that name.
 */
struct svc *svc_by_kname(const char *kname)
{
	const char *rest = NULL;

	if (!strncmp(kname, "svc", 3) && kname[3] >= '0' && kname[3] <= '9') {
		rest = kname + 3;
		while (*rest >= '0' && *rest <= '9')
			rest++;
		rest = *rest == '-' ? rest + 1 : NULL;
	}
	for (struct ident *id = D.idents; id; id = id->next)
		for (struct svc *s = id->svcs; s; s = s->next)
			if (s->has_icpt && (!strcmp(s->name, kname) || (rest && !strncmp(s->name, rest, 50) &&
									 strlen(rest) == (strlen(s->name) < 50 ? strlen(s->name) : 50))))
				return s;
	return NULL;
}

bool svc_prepare_dial(struct svc *s)
{
	return s->id->ctx && zt_dial_prepare(s->id->ctx, s->name) == 2;
}

/* Lowest id not used by any service (ids stay with their service until it is removed). */
static uint32_t kid_alloc(void)
{
	for (uint32_t k = 1;; k++) {
		bool used = false;

		for (struct ident *id = D.idents; id && !used; id = id->next)
			for (struct svc *s = id->svcs; s && !used; s = s->next)
				used = s->kid == k;
		if (!used)
			return k;
	}
}

static void listener_stop(struct svc *s)
{
	if (s->lsn) {
		zt_listener_close(s->lsn);
		s->lsn = NULL;
	}
	s->lsn_up = false;
}

static void l_on_status(struct zt_listener *l, int err, const char *msg, void *user)
{
	struct svc *s = user;

	(void)l;
	if (err) {
		s->lsn_up = false;
		logm(L_WARN, "service %s: hosting: %s", s->name, msg);
	} else {
		if (!s->lsn_up)
			logm(L_INFO, "service %s: hosting (terminator%s%s)", s->name, s->term_id[0] ? " identity " : "",
			     s->term_id);
		s->lsn_up = true;
		if (pool_server_service(s->name))
			pool_excl_kick(); /* count the service's terminators now */
	}
}

void listener_start(struct svc *s)
{
	char unknown[64];
	struct zt_listener_cbs cbs = { .on_status = l_on_status, .on_dial = host_on_dial };
	struct tpl_vars iv = ident_tpl(s->id);

	listener_stop(s);
	if (D.worker) /* the primary hosts (Documentation/design.md "Workers") */
		return;
	if (host_listen_identity(&s->host, &iv, s->term_id, sizeof(s->term_id), unknown, sizeof(unknown))) {
		snprintf(s->host_err, sizeof(s->host_err), "listenOptions.identity expands beyond %zu bytes",
			 sizeof(s->term_id) - 1);
		logm(L_ERR, "service %s: %s; not hosted", s->name, s->host_err);
		return;
	}
	if (unknown[0] && !strncmp(unknown, "$ip_pool[", 9) && endpoint_pool()) {
		snprintf(s->host_err, sizeof(s->host_err), "listenOptions.identity: waiting for the ip-pool address (%s)",
			 unknown);
		logm(L_INFO, "service %s: not hosted until the pool server gives this endpoint its address", s->name);
		return;
	}
	if (unknown[0]) {
		snprintf(s->host_err, sizeof(s->host_err), "listenOptions.identity: template variable %s has no value "
			 "for identity %s", unknown, s->id->name ? s->id->name : "?");
		logm(L_ERR, "service %s: %s; not hosted", s->name, s->host_err);
		return;
	}
	struct zt_listen_opts o = {
		.terminator_identity = s->term_id[0] ? s->term_id : NULL,
		.cost = s->host.cost,
		.precedence = host_precedence(s), /* primary.c: primary_address */
		.datagram = true, /* one socket read = one message, also for TCP (reads are <= 32 KiB) */
		.max_connections = s->host.max_connections, /* terminators on that many routers */
	};

	s->host_err[0] = 0;
	s->lsn = zt_listen(s->id->ctx, s->name, &o, &cbs, s);
	if (!s->lsn)
		logm(L_ERR, "service %s: cannot host", s->name);
}

/* The ip-pool service (pool_server.c): hosted by every identity with Bind permission on it. */
static void pool_listener_start(struct svc *s)
{
	struct zt_listener_cbs cbs = { .on_status = l_on_status, .on_dial = pool_server_on_dial };
	struct zt_listen_opts o = { 0 };

	listener_stop(s);
	s->lsn = zt_listen(s->id->ctx, s->name, &o, &cbs, s);
	if (!s->lsn)
		logm(L_ERR, "service %s: cannot host the ip-pool", s->name);
}

static void svc_configure(struct svc *s, const struct zt_service *z)
{
	char err[CFG_ERRLEN];
	bool icpt_changed = false, host_changed = false;
	const char *ij = (z->perms & ZT_PERM_DIAL) ? z->intercept_v1_json : NULL;
	const char *hj = (z->perms & ZT_PERM_BIND) ? z->host_v1_json : NULL;
	bool pool = pool_server_service(s->name);

	if (pool && hj) {
		if (!s->host_json)
			logm(L_WARN, "service %s: its host.v1 config is ignored: sipovld serves the ip-pool on it", s->name);
		hj = NULL;
	}
	if (pool && !(z->perms & ZT_PERM_BIND) && s->lsn) {
		logm(L_WARN, "service %s: no Bind permission any more: the ip-pool is not served", s->name);
		listener_stop(s);
	} else if (pool && (z->perms & ZT_PERM_BIND) && !s->lsn && !D.worker) { /* the primary serves the pool */
		pool_listener_start(s);
	}
	s->perms = z->perms;
	if (!!ij != !!s->icpt_json || (ij && strcmp(ij, s->icpt_json)))
		icpt_changed = true;
	if (!!hj != !!s->host_json || (hj && strcmp(hj, s->host_json)))
		host_changed = true;
	if (icpt_changed) {
		free(s->icpt_json);
		s->icpt_json = ij ? strdup(ij) : NULL;
		if (s->has_icpt)
			icpt_cfg_free(&s->icpt);
		s->has_icpt = false;
		s->icpt_err[0] = 0;
		if (ij) {
			if (icpt_cfg_parse_pool(ij, endpoint_pool(), &s->icpt, err, sizeof(err))) {
				snprintf(s->icpt_err, sizeof(s->icpt_err), "%s", err);
				logm(L_ERR, "service %s: bad intercept.v1 config: %s; not intercepted", s->name, err);
			} else {
				s->has_icpt = true;
				for (size_t i = 0; i < s->icpt.n_skipped; i++)
					logm(dns_on() ? L_INFO : L_WARN, "service %s: intercept address \"%s\" %s", s->name,
					     s->icpt.skipped[i], dns_on() ? "answered by the DNS responder" :
					     "skipped (hostnames need the DNS responder: dns_listen)");
				if (!s->icpt.n_dsts && !(s->icpt.n_skipped && dns_on())) {
					snprintf(s->icpt_err, sizeof(s->icpt_err), "no IP or CIDR address to intercept");
					logm(L_WARN, "service %s: %s", s->name, s->icpt_err);
				}
			}
		}
		kernel_schedule_apply();
	}
	if (host_changed) {
		free(s->host_json);
		s->host_json = hj ? strdup(hj) : NULL;
		listener_stop(s);
		if (s->has_host)
			host_cfg_free(&s->host);
		s->has_host = false;
		s->host_err[0] = 0;
		if (hj) {
			if (host_cfg_parse_pool(hj, endpoint_pool(), &s->host, err, sizeof(err))) {
				snprintf(s->host_err, sizeof(s->host_err), "%s", err);
				logm(L_ERR, "service %s: bad host.v1 config: %s; not hosted", s->name, err);
			} else {
				s->has_host = true;
				listener_start(s);
			}
		}
		kernel_schedule_apply(); /* transparent source ranges */
	}
}

void svc_free(struct svc *s)
{
	flows_close_svc(s, "service removed");
	pool_server_close_svc(s);
	listener_stop(s);
	if (s->has_icpt)
		icpt_cfg_free(&s->icpt);
	if (s->has_host)
		host_cfg_free(&s->host);
	free(s->icpt_json);
	free(s->host_json);
	free(s->name);
	free(s);
}

void on_service(struct zt_ctx *ctx, const struct zt_service *z, int event, void *user)
{
	struct ident *id = user;
	struct svc *s = svc_find(id, z->name);

	(void)ctx;
	if (event == ZT_SVC_REMOVED) {
		if (!s)
			return;
		for (struct svc **pp = &id->svcs; *pp; pp = &(*pp)->next)
			if (*pp == s) {
				*pp = s->next;
				break;
			}
		logm(L_INFO, "service %s removed", s->name);
		svc_free(s);
		kernel_schedule_apply();
		return;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s || !(s->name = strdup(z->name))) {
			free(s);
			logm(L_ERR, "out of memory");
			return;
		}
		s->id = id;
		s->kid = kid_alloc();
		s->next = id->svcs;
		id->svcs = s;
		logm(L_INFO, "service %s: %s%s%s%s", s->name, (z->perms & ZT_PERM_DIAL) ? "dial" : "",
		     (z->perms & ZT_PERM_BIND) ? " bind" : "", z->intercept_v1_json ? " intercept.v1" : "",
		     z->host_v1_json ? " host.v1" : "");
	} else {
		logm(L_INFO, "service %s changed", s->name);
	}
	svc_configure(s, z);
}
