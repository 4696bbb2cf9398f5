// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld: the kernel's intercept table and transparent source ranges, rebuilt from every
 * identity's services and replaced in one commit (sipovl_table_replace_sources) whenever a
 * service, the policy or the DNS responder's names change; an intercept the kernel refuses is
 * left out (and shown in status) and the rest applied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dns_server.h"
#include "daemon/endpoint.h"
#include "daemon/pool.h"
#include "daemon/sipovld.h"

void kernel_apply_cb(void *arg)
{
	(void)arg;
	struct sipovl_intercept *v = NULL;
	struct sipovl_prefix *src = NULL;
	size_t n = 0, cap = 0, ns = 0, scap = 0;
	int tries = 0;

	struct sipovl_prefix **xdst = NULL; /* per intercept: its addresses with the DNS names' */
	size_t xcap = 0;

	/* an endpoint: none before its address is known, and its own address left out of every one
	 * (flows to it are its own terminator's: intercepted, they would loop into the overlay) */
	struct sipovl_prefix me;
	bool hold = endpoint_holds_intercepts(), have_me = endpoint_addr(&me);

	if (!D.kernel_dirty)
		return;
	D.kernel_dirty = false;
	dns_services_changed();
again:
	n = 0;
	for (struct ident *id = D.idents; id; id = id->next)
		for (struct svc *s = id->svcs; s; s = s->next) {
			s->in_kernel = false;
			if (!s->has_icpt || !(s->perms & ZT_PERM_DIAL) || s->icpt_err[0] || hold)
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
			if (have_me && cfg_prefixes_contain(ic.dsts, ic.n_dsts, me.family, me.addr)) {
				struct sipovl_prefix *rest;
				size_t nr;

				if (cfg_prefixes_without(ic.dsts, ic.n_dsts, me.family, me.addr, &rest, &nr))
					goto oom;
				free(xdst[n]);
				xdst[n] = rest;
				ic.dsts = rest;
				ic.n_dsts = nr;
				if (!nr) { /* E8: said once, and in status, not left out silently */
					char t[48];

					if (!s->own_addr_only)
						logm(L_NOTICE, "service %s: its intercept.v1 addresses are only this endpoint's own "
						     "address %s: nothing to intercept (flows to it are its own services'); "
						     "not installed", s->name, pool_fmt(&me, t, sizeof(t)));
					s->own_addr_only = true;
					continue;
				}
			}
			s->own_addr_only = false;
			if (icpt_to_kernel(&ic, s->kid, s->kname, D.cfg.policy, &v[n]))
				continue;
			s->in_kernel = true;
			s->kernel_dsts = (unsigned)ic.n_dsts;
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
	kernel_apply_cb(NULL);
}

void kernel_schedule_apply(void)
{
	if (D.worker) /* the primary alone writes the kernel's table */
		return;
	D.kernel_dirty = true;
	if (!zt_timer_armed(&D.apply_timer))
		zt_timer_start(D.loop, &D.apply_timer, 0);
}

void kernel_clear(void)
{
	if (D.no_kernel || !D.nl || D.worker)
		return;
	if (sipovl_table_replace(D.nl, NULL, 0, NULL) && sipovl_intercept_flush(D.nl))
		logm(L_ERR, "kernel: cannot remove the intercepts: %s", strerror(sipovl_error(D.nl)->errnum));
	if (sipovl_sources_set(D.nl, NULL, 0))
		logm(L_ERR, "kernel: cannot clear the sources: %s", strerror(sipovl_error(D.nl)->errnum));
	if (sipovl_socket_unregister(D.nl, 0, 0) && sipovl_error(D.nl)->errnum != ENOENT)
		logm(L_ERR, "kernel: cannot unregister the sockets: %s", strerror(sipovl_error(D.nl)->errnum));
}
