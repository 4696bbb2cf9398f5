// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld: the configured identities. Each has a Ziti context (started, restarted after a
 * failure, stopped when the identity leaves the configuration) whose services services.c
 * follows, and a name ($tunneler_id.name) used by host.v1 templates.
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/endpoint.h"
#include "daemon/pool_check.h"
#include "daemon/sipovld.h"
#include "daemon/workers.h"

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
	struct tpl_vars v = { .tunneler_name = id->name, .attr = ident_attr, .attr_arg = id,
			      .pool_name = endpoint_pool(), .pool_addr = endpoint_addr_text() };

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
int zt_log_level(void)
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
	if (!err && !D.worker) /* renewed here: the workers take the new certificate from the file */
		workers_send_cert(id->path);
}

void idents_adopt_cert(const char *path)
{
	for (struct ident *id = D.idents; id; id = id->next)
		if (id->ctx && !strcmp(id->path, path) && !zt_ctx_adopt_cert(id->ctx))
			logm(L_DEBUG, "identity %s (%s): told of a renewal, this worker presents the file's certificate "
			     "already", id->path, id->name);
}

static void ident_stop(struct ident *id)
{
	while (id->svcs) {
		struct svc *s = id->svcs;

		id->svcs = s->next;
		svc_free(s);
	}
	endpoint_ident_stop(id);
	pool_check_ident_stop(id);
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
		.token_refresh_ms = D.cfg.token_refresh_ms,
		.log_level = zt_log_level(),
		.app_id = "sipovld",
		.save_ctrls = !D.worker,
		.renew_off = D.worker != 0, /* the primary renews; two writers of one identity's files would race */
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


void ident_free(struct ident *id)
{
	zt_timer_stop(D.loop, &id->restart);
	ident_stop(id);
	free(id->path);
	free(id->name);
	free(id);
}

/* Bring the identity list in line with the configuration. */
void idents_sync(bool name_changed)
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
