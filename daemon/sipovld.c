// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld: OpenZiti services drive sipovl.ko.
 *
 * For every identity: services with Dial permission and an intercept.v1 config become kernel
 * intercepts (one atomic table replace per change, stable ids per service); steered flows are
 * dialed into the service (flows*.c). Services with Bind permission and a host.v1 config are
 * hosted; dials are originated to the computed target, from the caller's address when allowed
 * (the union of allowedSourceAddresses is the kernel's transparent source ranges).
 *
 * See Documentation/sipovld.8.md and Documentation/admin-guide.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libgen.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/dns_server.h"
#include "daemon/sip_view.h"
#include "daemon/metrics.h"
#include "daemon/sipovld.h"

struct daemon D;

/* command-line overrides, re-applied on top of the config file at every reload */
static struct {
	const char *identities[DCFG_MAX_IDENTITIES];
	size_t n_identities;
	const char *name, *ctl, *level, *user;
	long udp_idle_s, mem_mb;
} cli = { .udp_idle_s = -1, .mem_mb = -1 };

static bool reload_pending;
bool stopping;

/* ------------------------------------------------------------------ logging */

void logm(int prio, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (prio > D.cfg.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++) /* one record per line */
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "<%d>%s\n", prio, buf);
}

/* ------------------------------------------------------------------ services */

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
	}
}

static void listener_start(struct svc *s)
{
	char unknown[64];
	struct zt_listener_cbs cbs = { .on_status = l_on_status, .on_dial = host_on_dial };
	struct tpl_vars iv = ident_tpl(s->id);

	listener_stop(s);
	if (host_listen_identity(&s->host, &iv, s->term_id, sizeof(s->term_id), unknown, sizeof(unknown))) {
		snprintf(s->host_err, sizeof(s->host_err), "listenOptions.identity expands beyond %zu bytes",
			 sizeof(s->term_id) - 1);
		logm(L_ERR, "service %s: %s; not hosted", s->name, s->host_err);
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
		.precedence = s->host.precedence,
		.datagram = true, /* one socket read = one message, also for TCP (reads are <= 32 KiB) */
		.max_connections = s->host.max_connections, /* terminators on that many routers */
	};

	s->lsn = zt_listen(s->id->ctx, s->name, &o, &cbs, s);
	if (!s->lsn)
		logm(L_ERR, "service %s: cannot host", s->name);
}

static void svc_configure(struct svc *s, const struct zt_service *z)
{
	char err[CFG_ERRLEN];
	bool icpt_changed = false, host_changed = false;
	const char *ij = (z->perms & ZT_PERM_DIAL) ? z->intercept_v1_json : NULL;
	const char *hj = (z->perms & ZT_PERM_BIND) ? z->host_v1_json : NULL;

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
			if (icpt_cfg_parse(ij, &s->icpt, err, sizeof(err))) {
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
			if (host_cfg_parse(hj, &s->host, err, sizeof(err))) {
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

static void svc_free(struct svc *s)
{
	flows_close_svc(s, "service removed");
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

static void on_service(struct zt_ctx *ctx, const struct zt_service *z, int event, void *user)
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

/* ------------------------------------------------------------------ kernel */

static void apply_cb(void *arg)
{
	(void)arg;
	struct sipovl_intercept *v = NULL;
	struct sipovl_prefix *src = NULL;
	size_t n = 0, cap = 0, ns = 0, scap = 0;
	int tries = 0;

	struct sipovl_prefix **xdst = NULL; /* per intercept: its addresses with the DNS names' */
	size_t xcap = 0;

	if (!D.kernel_dirty)
		return;
	D.kernel_dirty = false;
	dns_services_changed();
again:
	n = 0;
	for (struct ident *id = D.idents; id; id = id->next)
		for (struct svc *s = id->svcs; s; s = s->next) {
			s->in_kernel = false;
			if (!s->has_icpt || !(s->perms & ZT_PERM_DIAL) || s->icpt_err[0])
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				struct sipovl_intercept *nv = realloc(v, cap * sizeof(*v));

				if (!nv)
					goto oom;
				v = nv;
			}
			if (n >= xcap) {
				struct sipovl_prefix **nx = realloc(xdst, cap * sizeof(*xdst));

				if (!nx)
					goto oom;
				memset(nx + xcap, 0, (cap - xcap) * sizeof(*nx));
				xdst = nx;
				xcap = cap;
			}
			icpt_kernel_name(s->name, s->kid, s->kname);
			for (size_t i = 0; i < n; i++) /* the same service name under two identities */
				if (!strcmp(v[i].name, s->kname))
					snprintf(s->kname, sizeof(s->kname), "svc%u-%.50s", s->kid, s->name);
			struct icpt_cfg ic = s->icpt;
			size_t nx = 0;

			free(xdst[n]);
			xdst[n] = NULL;
			if (ic.n_skipped && dns_svc_prefixes(s, &xdst[n], &nx) == 0 && nx) { /* dns_server.c */
				struct sipovl_prefix *all = realloc(xdst[n], (nx + ic.n_dsts) * sizeof(*all));

				if (!all)
					goto oom;
				memcpy(all + nx, ic.dsts, ic.n_dsts * sizeof(*all));
				xdst[n] = all;
				ic.dsts = all;
				ic.n_dsts += nx;
			}
			if (icpt_to_kernel(&ic, s->kid, s->kname, D.cfg.policy, &v[n]))
				continue;
			s->in_kernel = true;
			n++;
		}
	/* transparent source ranges: the union of allowedSourceAddresses of hosted services */
	ns = 0;
	for (struct ident *id = D.idents; id; id = id->next)
		for (struct svc *s = id->svcs; s; s = s->next) {
			if (!s->has_host || !(s->perms & ZT_PERM_BIND))
				continue;
			for (size_t i = 0; i < s->host.n_allowed_srcs; i++) {
				bool dup = false;

				for (size_t j = 0; j < ns && !dup; j++)
					dup = !memcmp(&src[j], &s->host.allowed_srcs[i], sizeof(*src));
				if (dup)
					continue;
				if (ns == scap) {
					scap = scap ? scap * 2 : 16;
					struct sipovl_prefix *nsrc = realloc(src, scap * sizeof(*src));

					if (!nsrc)
						goto oom;
					src = nsrc;
				}
				src[ns++] = s->host.allowed_srcs[i];
			}
		}
	if (ns > SIPOVL_MAX_TRANSPARENT_SOURCES) {
		logm(L_ERR, "%zu transparent source ranges, the kernel takes %d: using the first ones", ns,
		     SIPOVL_MAX_TRANSPARENT_SOURCES);
		ns = SIPOVL_MAX_TRANSPARENT_SOURCES;
	}
	if (D.no_kernel) {
		D.n_sources = ns;
		goto out;
	}
	bool src_applied = false;

	if (sipovl_table_replace_sources(D.nl, v, n, src, ns, &D.generation, &src_applied)) {
		const struct sipovl_err *e = sipovl_error(D.nl);
		char msg[300];

		snprintf(msg, sizeof(msg), "%s", e->extack[0] ? e->extack : strerror(e->errnum));
		if (e->index >= 0 && (size_t)e->index < n && tries++ < 8) {
			struct svc *bad = svc_by_kid(v[e->index].id);

			if (bad) {
				snprintf(bad->icpt_err, sizeof(bad->icpt_err), "kernel refused it: %.120s", msg);
				logm(L_ERR, "service %s: the kernel refused its intercept: %s; left out", bad->name, msg);
				goto again;
			}
		}
		snprintf(D.kernel_err, sizeof(D.kernel_err), "table replace failed: %.200s", msg);
		logm(L_ERR, "kernel: %s", D.kernel_err);
		goto out;
	}
	D.kernel_err[0] = 0;
	logm(L_INFO, "kernel: %zu intercepts (generation %u)", n, D.generation);
	/* sources go with the table's commit; a module without that takes them separately */
	if (!src_applied && sipovl_sources_set(D.nl, src, ns)) {
		const struct sipovl_err *e = sipovl_error(D.nl);

		snprintf(D.kernel_err, sizeof(D.kernel_err), "sources set failed: %.200s",
			 e->extack[0] ? e->extack : strerror(e->errnum));
		logm(L_ERR, "kernel: %s", D.kernel_err);
	} else {
		if (ns != D.n_sources)
			logm(L_INFO, "kernel: %zu transparent source ranges", ns);
		D.n_sources = ns;
	}
out:
	for (size_t i = 0; i < xcap; i++)
		free(xdst[i]);
	free(xdst);
	free(v);
	free(src);
	return;
oom:
	logm(L_ERR, "out of memory applying the kernel table");
	D.kernel_dirty = true;
	goto out;
}

void kernel_apply_now(void)
{
	D.kernel_dirty = true;
	apply_cb(NULL);
}

void kernel_schedule_apply(void)
{
	D.kernel_dirty = true;
	if (!zt_timer_armed(&D.apply_timer))
		zt_timer_start(D.loop, &D.apply_timer, 0);
}

static void kernel_clear(void)
{
	if (D.no_kernel || !D.nl)
		return;
	if (sipovl_table_replace(D.nl, NULL, 0, NULL) && sipovl_intercept_flush(D.nl))
		logm(L_ERR, "kernel: cannot remove the intercepts: %s", strerror(sipovl_error(D.nl)->errnum));
	if (sipovl_sources_set(D.nl, NULL, 0))
		logm(L_ERR, "kernel: cannot clear the sources: %s", strerror(sipovl_error(D.nl)->errnum));
	if (sipovl_socket_unregister(D.nl, 0, 0) && sipovl_error(D.nl)->errnum != ENOENT)
		logm(L_ERR, "kernel: cannot unregister the sockets: %s", strerror(sipovl_error(D.nl)->errnum));
}

/* ------------------------------------------------------------------ identities */

static char *default_name(const char *path)
{
	char *dup = strdup(path), *b, *dot, *r;

	if (!dup)
		return NULL;
	b = basename(dup);
	dot = strrchr(b, '.');
	if (dot && dot != b)
		*dot = 0;
	r = strdup(b);
	free(dup);
	return r;
}

/*
 * $tunneler_id.name: the configured name (single identity), else the controller's name for the
 * identity once authenticated (as ziti-edge-tunnel), else the identity file's name.
 */
static char *ident_wanted_name(struct ident *id)
{
	const char *cn = id->ctx ? zt_ctx_identity_name(id->ctx) : NULL;

	if (D.cfg.name && D.cfg.n_identities == 1)
		return strdup(D.cfg.name);
	return cn ? strdup(cn) : default_name(id->path);
}

static const char *ident_attr(void *arg, const char *kind, const char *key)
{
	struct ident *id = arg;

	return id->ctx ? zt_ctx_identity_attr(id->ctx, kind, key) : NULL;
}

struct tpl_vars ident_tpl(struct ident *id)
{
	struct tpl_vars v = { .tunneler_name = id->name, .attr = ident_attr, .attr_arg = id };

	return v;
}

/* Adopt a changed name; hosted services re-bind (terminator identities may change). */
static void ident_rename(struct ident *id)
{
	char *nn = ident_wanted_name(id);

	if (!nn || (id->name && !strcmp(nn, id->name))) {
		free(nn);
		return;
	}
	logm(L_INFO, "identity %s: $tunneler_id.name is '%s'%s%s%s", id->path, nn, id->name ? " (was '" : "",
	     id->name ? id->name : "", id->name ? "')" : "");
	free(id->name);
	id->name = nn;
	for (struct svc *s = id->svcs; s; s = s->next)
		if (s->has_host)
			listener_start(s);
}

static void ident_start(struct ident *id);

static void on_ready(struct zt_ctx *ctx, int err, const char *msg, void *user)
{
	struct ident *id = user;

	(void)ctx;
	if (err) {
		snprintf(id->err, sizeof(id->err), "%s", msg ? msg : "start failed");
		logm(L_ERR, "identity %s: %s (retrying in 10 s)", id->path, id->err);
		zt_timer_start(D.loop, &id->restart, 10000);
		return;
	}
	id->ready = true;
	id->err[0] = 0;
	ident_rename(id);
	logm(L_NOTICE, "identity %s (%s): connected to the controller", id->path, id->name);
}

/* The Ziti library's log level for ours: its debug (3) is too chatty even at our debug. */
static int zt_log_level(void)
{
	return D.cfg.log_level >= L_DEBUG ? 2 : 1;
}

static void on_zlog(struct zt_ctx *ctx, int level, const char *msg, void *user)
{
	struct ident *id = user;

	(void)ctx;
	logm(level <= 0 ? L_ERR : level == 1 ? L_WARN : level == 2 ? L_INFO : L_DEBUG, "ziti %s: %s", id->name, msg);
}

static void on_zctrls(struct zt_ctx *ctx, const char *msg, void *user)
{
	struct ident *id = user;

	(void)ctx;
	logm(L_NOTICE, "identity %s: %s", id->path, msg);
}

static void on_zcert(struct zt_ctx *ctx, int err, const char *msg, void *user)
{
	struct ident *id = user;

	(void)ctx;
	logm(!err ? L_NOTICE : err == -EAGAIN ? L_WARN : L_ERR, "identity %s (%s): %s", id->path, id->name, msg);
}

static void ident_stop(struct ident *id)
{
	while (id->svcs) {
		struct svc *s = id->svcs;

		id->svcs = s->next;
		svc_free(s);
	}
	if (id->ctx) {
		zt_ctx_free(id->ctx);
		id->ctx = NULL;
	}
	id->ready = false;
	kernel_schedule_apply();
}

static void restart_cb(void *arg)
{
	struct ident *id = arg;

	ident_stop(id);
	ident_start(id);
}

static void ident_start(struct ident *id)
{
	char err[512];
	struct zt_identity *zi = NULL;
	const char *keyf;

	if (priv_check_secret(id->path, err, sizeof(err)) ||
	    !(zi = zt_identity_load(id->path, err, sizeof(err))) ||
	    ((keyf = zt_identity_key_file(zi)) && priv_check_secret(keyf, err, sizeof(err)))) {
		zt_identity_free(zi);
		snprintf(id->err, sizeof(id->err), "%.250s", err);
		logm(L_ERR, "identity %s: %s; not used (fix it and send SIGHUP)", id->path, err);
		return;
	}
	/* renewal writes the new files next to the identity and to its key file (file:) */
	for (int i = 0; i < 2 && !id->warned_unwritable; i++) {
		const char *f = i ? zt_identity_key_file(zi) : id->path;

		if (f && priv_check_writable_dir(f, err, sizeof(err))) {
			logm(L_WARN, "identity %s: %s: certificate renewal will fail (it writes the new files there); "
			     "keep identities in a directory sipovld can write (/var/lib/sipovld)", id->path, err);
			id->warned_unwritable = true;
		}
	}
	struct zt_opts o = {
		.svc_poll_ms = D.cfg.svc_poll_ms,
		.auth_mode = D.cfg.ziti_auth == 2 ? ZT_AUTH_MODE_OIDC : D.cfg.ziti_auth == 1 ? ZT_AUTH_MODE_AUTO : ZT_AUTH_MODE_LEGACY,
		.log_level = zt_log_level(),
		.app_id = "sipovld",
		.save_ctrls = true,
	};
	struct zt_ctx_cbs cbs = { .on_ready = on_ready, .on_service = on_service, .on_log = on_zlog,
				  .on_cert = on_zcert, .on_ctrls = on_zctrls };

	id->ctx = zt_ctx_new(D.loop, zi, &o, &cbs, id);
	if (!id->ctx) {
		zt_identity_free(zi);
		snprintf(id->err, sizeof(id->err), "cannot create the Ziti context");
		logm(L_ERR, "identity %s: %s", id->path, id->err);
		return;
	}
	id->err[0] = 0;
	if (zt_ctx_start(id->ctx)) {
		snprintf(id->err, sizeof(id->err), "cannot start the Ziti context");
		logm(L_ERR, "identity %s: %s (retrying in 10 s)", id->path, id->err);
		zt_timer_start(D.loop, &id->restart, 10000);
		return;
	}
	logm(L_INFO, "identity %s: starting as '%s' (%s)", id->path, id->name, zt_identity_api(zi));
}


static void ident_free(struct ident *id)
{
	zt_timer_stop(D.loop, &id->restart);
	ident_stop(id);
	free(id->path);
	free(id->name);
	free(id);
}

/* Bring the identity list in line with the configuration. */
static void idents_sync(bool name_changed)
{
	/* drop identities no longer configured */
	for (struct ident **pp = &D.idents; *pp;) {
		struct ident *id = *pp;
		bool keep = false;

		for (size_t i = 0; i < D.cfg.n_identities; i++)
			keep |= !strcmp(D.cfg.identities[i], id->path);
		if (keep) {
			pp = &id->next;
			continue;
		}
		*pp = id->next;
		logm(L_NOTICE, "identity %s: removed from the configuration", id->path);
		ident_free(id);
	}
	for (size_t i = 0; i < D.cfg.n_identities; i++) {
		struct ident *id = D.idents;

		while (id && strcmp(id->path, D.cfg.identities[i]))
			id = id->next;
		if (id) {
			ident_rename(id);
			if (!id->ctx && !zt_timer_armed(&id->restart)) /* broken before: try again */
				ident_start(id);
			continue;
		}
		id = calloc(1, sizeof(*id));
		if (!id || !(id->path = strdup(D.cfg.identities[i]))) {
			free(id);
			logm(L_ERR, "out of memory");
			continue;
		}
		id->name = ident_wanted_name(id);
		zt_timer_init(&id->restart, restart_cb, id);
		id->next = D.idents;
		D.idents = id;
		ident_start(id);
	}
	(void)name_changed;
}

/* ------------------------------------------------------------------ configuration */

static int load_config(struct daemon_cfg *out)
{
	daemon_cfg_defaults(out);
	if (D.cfg_path) {
		FILE *f = fopen(D.cfg_path, "r");
		char *buf = NULL, err[CFG_ERRLEN];
		size_t n = 0, cap = 0;

		if (!f) {
			logm(L_ERR, "config %s: %s", D.cfg_path, strerror(errno));
			return -1;
		}
		for (;;) {
			if (n + 4096 + 1 > cap) {
				cap = cap ? cap * 2 : 8192;
				char *nb = realloc(buf, cap);

				if (!nb || cap > (1u << 20)) {
					free(nb ? nb : buf);
					fclose(f);
					logm(L_ERR, "config %s: too large", D.cfg_path);
					return -1;
				}
				buf = nb;
			}
			size_t r = fread(buf + n, 1, 4096, f);

			n += r;
			if (r < 4096)
				break;
		}
		fclose(f);
		buf[n] = 0;
		if (daemon_cfg_parse(buf, out, err, sizeof(err))) {
			/* logged first: at start out is D.cfg, whose log level freeing zeroes */
			logm(L_ERR, "config %s: %s", D.cfg_path, err);
			free(buf);
			daemon_cfg_free(out);
			return -1;
		}
		free(buf);
		if (out->has_pool_server || out->has_endpoint) { /* parsed and checked, not acted upon yet */
			logm(L_ERR, "config %s: %s: the ip-pool server and endpoint mode are not built yet (issue 15)",
			     D.cfg_path, out->has_pool_server ? "ip_pool" : "endpoint");
			daemon_cfg_free(out);
			return -1;
		}
	}
	if (cli.n_identities) {
		for (size_t i = 0; i < out->n_identities; i++)
			free(out->identities[i]);
		out->n_identities = 0;
		for (size_t i = 0; i < cli.n_identities; i++)
			out->identities[out->n_identities++] = strdup(cli.identities[i]);
	}
	if (cli.name) {
		free(out->name);
		out->name = strdup(cli.name);
	}
	if (cli.ctl) {
		free(out->ctl_socket);
		out->ctl_socket = strdup(cli.ctl);
	}
	if (cli.user) {
		free(out->user);
		out->user = strdup(cli.user);
	}
	if (cli.level)
		out->log_level = cfg_log_level(cli.level);
	if (cli.udp_idle_s > 0)
		out->udp_idle_ms = (unsigned)cli.udp_idle_s * 1000;
	if (cli.mem_mb > 0)
		out->memory_limit = (uint64_t)cli.mem_mb << 20;
	if (!out->ctl_socket)
		out->ctl_socket = strdup(SIPOVLD_CTL_SOCK_DEFAULT);
	if (out->name && out->n_identities > 1)
		logm(L_WARN, "name \"%s\" ignored: %zu identities, each takes its name at the controller", out->name,
		     out->n_identities);
	return 0;
}

/* Re-read the configuration; 0, or -1 (logged) with the running configuration kept. */
int reload(const char *why)
{
	struct daemon_cfg n;

	logm(L_NOTICE, "reloading (%s)", why);
	if (load_config(&n)) {
		logm(L_ERR, "reload failed: keeping the running configuration");
		return -1;
	}
	bool policy_changed = n.policy != D.cfg.policy;
	bool dns_changed = n.n_dns_listen != D.cfg.n_dns_listen || n.n_dns_upstream != D.cfg.n_dns_upstream ||
			   n.has_dns_upstream != D.cfg.has_dns_upstream || n.dns_timeout_ms != D.cfg.dns_timeout_ms ||
			   memcmp(n.dns_listen, D.cfg.dns_listen, sizeof(n.dns_listen)) ||
			   memcmp(n.dns_upstream, D.cfg.dns_upstream, sizeof(n.dns_upstream)) ||
			   n.has_dns_range4 != D.cfg.has_dns_range4 || n.has_dns_range6 != D.cfg.has_dns_range6 ||
			   memcmp(&n.dns_range4, &D.cfg.dns_range4, sizeof(n.dns_range4)) ||
			   memcmp(&n.dns_range6, &D.cfg.dns_range6, sizeof(n.dns_range6));
	bool name_changed = (!!n.name != !!D.cfg.name) || (n.name && strcmp(n.name, D.cfg.name));

	if (strcmp(n.ctl_socket, D.cfg.ctl_socket))
		logm(L_WARN, "control_socket changes need a restart; still on %s", D.cfg.ctl_socket);
	if ((!!n.user != !!D.cfg.user) || (n.user && strcmp(n.user, D.cfg.user)))
		logm(L_WARN, "user changes need a restart; still running as uid %u", (unsigned)getuid());
	free(n.ctl_socket);
	n.ctl_socket = D.cfg.ctl_socket;
	D.cfg.ctl_socket = NULL;
	unsigned old_idle = D.cfg.udp_idle_ms;
	uint64_t old_mem = D.cfg.memory_limit;
	int old_level = D.cfg.log_level;

	daemon_cfg_free(&D.cfg);
	D.cfg = n;
	for (struct ident *id = D.idents; id; id = id->next)
		if (id->ctx)
			zt_ctx_tune(id->ctx, D.cfg.svc_poll_ms, zt_log_level());
	flows_reconfigure(); /* idle timers with the new bounds */
	metrics_apply();     /* metrics_listen added, changed or removed */
	logm(L_NOTICE, "reloaded: log level %d -> %d, UDP idle %u -> %u s, memory limit %llu -> %llu bytes, service poll %u s, %zu identities",
	     old_level, D.cfg.log_level, old_idle / 1000, D.cfg.udp_idle_ms / 1000, (unsigned long long)old_mem,
	     (unsigned long long)D.cfg.memory_limit, D.cfg.svc_poll_ms / 1000, D.cfg.n_identities);
	idents_sync(name_changed);
	if (dns_changed) { /* addresses given so far go: clients ask again after the TTL */
		dns_start();
		kernel_schedule_apply();
	}
	if (policy_changed)
		kernel_schedule_apply();
	if (!D.no_kernel && D.nl) /* the module may have been reloaded: re-apply the table and sources */
		kernel_schedule_apply();
	return 0;
}

/* ------------------------------------------------------------------ main */

static int sig_fd = -1;
static struct zt_io sig_io;

static void sig_cb(void *arg, uint32_t ev)
{
	struct signalfd_siginfo si;

	(void)arg;
	(void)ev;
	while (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload_pending = true;
		} else {
			logm(L_NOTICE, "%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			stopping = true;
		}
	}
	zt_loop_stop(D.loop);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sipovld [-c CONFIG] [-i IDENTITY.json]... [-n NAME] [-l LEVEL] [--control PATH]\n"
		"               [--udp-idle-timeout S] [--memory-limit MB] [-u USER[:GROUP]] [--no-kernel]\n"
		"       sipovld [--control PATH] --request status|flows|calls|reload\n"
		"       sipovld enroll JWT -o IDENTITY.json [--key-type T] [--cert CERT --key KEY] [--force]\n"
		"See sipovld(8).\n");
}

/* sipovld enroll JWT -o IDENTITY.json [--key-type T] [--cert F --key F] [--force] */
static int enroll_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", 1, 0, 'o' }, { "key-type", 1, 0, 't' }, { "cert", 1, 0, 'c' },
		{ "key", 1, 0, 'k' }, { "force", 0, 0, 'f' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	struct zt_enroll_opts o = { 0 };
	char err[1024];
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'o': o.out = optarg; break;
		case 't': o.key_type = optarg; break;
		case 'c': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'f': o.force = true; break;
		case 'h':
		default:
			fprintf(ch == 'h' ? stdout : stderr,
				"usage: sipovld enroll JWT -o IDENTITY.json [--key-type ec|ec:CURVE|rsa|rsa:BITS] [--force]\n"
				"       sipovld enroll JWT -o IDENTITY.json --cert CERT.pem --key KEY.pem   (ottca)\n");
			return ch == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1 || !o.out || (!!o.cert != !!o.key && o.cert)) {
		fprintf(stderr, "sipovld enroll: %s\n", optind != argc - 1 ? "expected one enrollment token (JWT file)" :
			!o.out ? "-o IDENTITY.json is required" : "--cert needs --key");
		return 2;
	}
	o.jwt = argv[optind];
	if (zt_enroll(&o, err, sizeof(err))) {
		fprintf(stderr, "sipovld enroll: %s\n", err);
		return 1;
	}
	printf("sipovld enroll: enrolled; identity written to %s\n", o.out);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", 1, 0, 'c' },       { "identity", 1, 0, 'i' },   { "name", 1, 0, 'n' },
		{ "log-level", 1, 0, 'l' },    { "control", 1, 0, 'C' },    { "udp-idle-timeout", 1, 0, 'U' },
		{ "memory-limit", 1, 0, 'M' }, { "no-kernel", 0, 0, 'K' },  { "request", 1, 0, 'R' },
		{ "help", 0, 0, 'h' },         { "version", 0, 0, 'V' },    { "user", 1, 0, 'u' },
		{ 0, 0, 0, 0 },
	};
	const char *request = NULL;
	int ch, rc = 0;

	if (argc > 1 && !strcmp(argv[1], "enroll"))
		return enroll_main(argc - 1, argv + 1);
	daemon_cfg_defaults(&D.cfg);
	while ((ch = getopt_long(argc, argv, "c:i:n:l:u:hV", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': D.cfg_path = optarg; break;
		case 'i':
			if (cli.n_identities == DCFG_MAX_IDENTITIES) {
				fprintf(stderr, "sipovld: at most %d identities\n", DCFG_MAX_IDENTITIES);
				return 2;
			}
			cli.identities[cli.n_identities++] = optarg;
			break;
		case 'n': cli.name = optarg; break;
		case 'l':
			if (cfg_log_level(optarg) < 0) {
				fprintf(stderr, "sipovld: bad log level %s\n", optarg);
				return 2;
			}
			cli.level = optarg;
			break;
		case 'C': cli.ctl = optarg; break;
		case 'u': cli.user = optarg; break;
		case 'U':
		case 'M': {
			char *end;
			long v = strtol(optarg, &end, 10), max = ch == 'U' ? 86400 : 1 << 20;

			if (end == optarg || *end || v < 1 || v > max) {
				fprintf(stderr, "sipovld: %s: expected 1-%ld, got '%s'\n",
					ch == 'U' ? "--udp-idle-timeout" : "--memory-limit", max, optarg);
				return 2;
			}
			*(ch == 'U' ? &cli.udp_idle_s : &cli.mem_mb) = v;
			break;
		}
		case 'K': D.no_kernel = true; break;
		case 'R': request = optarg; break;
		case 'V': printf("sipovld %s\n", SIPOVLD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (request)
		return ctl_request(cli.ctl ? cli.ctl : SIPOVLD_CTL_SOCK_DEFAULT, request);
	if (load_config(&D.cfg)) {
		fprintf(stderr, "<3>sipovld: bad configuration, not starting\n");
		return 1;
	}
	struct priv_user user = { 0 };
	char perr[256];

	if (D.cfg.user && priv_user_lookup(D.cfg.user, &user, perr, sizeof(perr))) {
		fprintf(stderr, "<3>sipovld: %s; not starting\n", perr);
		return 1;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	D.started_ms = zt_now_ms();
	D.loop = zt_loop_new();
	zt_timer_init(&D.apply_timer, apply_cb, NULL);
	if (!D.loop)
		return 1;
	char rerr[160];

	D.res = zt_resolver_new(D.loop, 0, rerr, sizeof(rerr));
	if (!D.res) {
		logm(L_ERR, "%s", rerr);
		return 1;
	}
	if (!D.no_kernel) {
		struct sipovl_err e;

		if (sipovl_open(&D.nl, &e)) {
			logm(L_ERR, "%s", e.no_family ? "the sipovl kernel module is not loaded (modprobe sipovl)" :
							 strerror(e.errnum));
			return 1;
		}
		if (flows_init()) {
			logm(L_ERR, "no intercept socket could be registered: not starting");
			kernel_clear();
			return 1;
		}
	}
	sipv_init();
	if (ctl_open(D.cfg.ctl_socket) || (user.set && ctl_chown(D.cfg.ctl_socket, user.uid, user.gid))) {
		kernel_clear();
		return 1;
	}
	if (dns_start()) {
		logm(L_ERR, "dns: a dns_listen address could not be opened; not starting");
		ctl_close(D.cfg.ctl_socket);
		kernel_clear();
		return 1;
	}
	metrics_apply(); /* not fatal: the gateway runs without its metrics endpoint */
	/* start-up is done: from here on only what the daemon uses while running (priv.c) */
	if (priv_drop(&user, perr, sizeof(perr))) {
		logm(L_ERR, "%s; not starting", perr);
		ctl_close(D.cfg.ctl_socket);
		metrics_close();
		kernel_clear();
		return 1;
	}
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sig_fd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	zt_io_init(&sig_io, sig_fd, sig_cb, NULL);
	zt_io_set(D.loop, &sig_io, EPOLLIN);
	if (!D.cfg.n_identities)
		logm(L_WARN, "no identity configured: nothing to do until one is (SIGHUP)");
	idents_sync(false);
	kernel_schedule_apply();
	logm(L_NOTICE, "sipovld %s started (%s, control %s, UDP idle %u s, memory limit %llu MiB)", SIPOVLD_VERSION,
	     D.no_kernel ? "no kernel" : "sipovl.ko", D.cfg.ctl_socket, D.cfg.udp_idle_ms / 1000,
	     (unsigned long long)(D.cfg.memory_limit >> 20));
	while (!stopping) {
		zt_loop_run(D.loop, 1000);
		if (reload_pending && !stopping) {
			reload_pending = false;
			reload("SIGHUP");
		}
	}
	/* SIGTERM: remove everything we installed. The SIP view first: the calls still active end
	 * as "stopped", and their CDRs take the RTP quality from the flows, which are still open. */
	dns_stop();
	sipv_fini();
	flows_fini();
	while (D.idents) {
		struct ident *id = D.idents;

		D.idents = id->next;
		ident_free(id);
	}
	zt_timer_stop(D.loop, &D.apply_timer);
	kernel_clear();
	if (D.nl)
		sipovl_close(D.nl);
	ctl_close(D.cfg.ctl_socket);
	metrics_close();
	zt_io_del(D.loop, &sig_io);
	close(sig_fd);
	zt_resolver_free(D.res);
	zt_loop_free(D.loop);
	logm(L_NOTICE, "stopped");
	daemon_cfg_free(&D.cfg);
	return rc;
}
