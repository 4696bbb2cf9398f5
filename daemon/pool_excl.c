// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld: is this the only pool server? (Documentation/design.md, "Exactly one pool server".)
 * Two servers hosting the pool's service would each give addresses the other gave. Every
 * ip_pool.exclusive_check_s the pool server lists its service's terminators (client API,
 * zt_terms.c) and counts them against its own, router by router (pool_excl_verdict): new leases
 * are given only while the last listing, made after every terminator of this server was
 * confirmed and with no binding of it made or lost since, showed them all and no other, and is
 * at most three periods old. Two servers that start together each see the other's terminator
 * (each lists after its own was created), so neither gives a lease; a server started while
 * another serves sees the older one before it gives any. A terminator that is not this
 * server's is another pool server's or this server's own from before a restart that its router
 * has not dropped yet: the listing cannot tell them apart (it does not name the hosting
 * identity), so both hold new leases (logged at ERR with the terminators' ids for `ziti edge
 * delete terminator`), and expiry is suspended, until it is gone; then the hold of
 * ip_pool.hold_s lets the endpoints renew here first. Its own terminators of a binding it made
 * anew since the last clean listing (a router reconnected) are known by their ids.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/pool.h"
#include "daemon/sipovld.h"

#define PX_OURS_MAX 16   /* terminators of this server counted (3 per identity by default) */
#define PX_LIST_MAX 256  /* terminators of a listing looked at (more: others, whatever they are) */
#define PX_SHOW_MAX 8    /* terminators not this server's kept for the status and the log */
#define PX_RETRY_MS 5000 /* listing again after a failure, or while not sure */
#define PX_AGAIN_MS 500  /* listing again after a binding changed under a listing */
/* other terminators seen this long with no change of this server's bindings: a second server
 * (before: one of this server's own whose BindSuccess is on its way, say) */
#define PX_CONFIRM_MS 4000

static struct {
	bool on;
	struct zt_timer timer;
	struct zt_terms_req *req;
	struct zt_ctx *req_ctx; /* the identity it was asked through */
	uint64_t sig_start;     /* this server's bindings when the listing was asked for */
	/* the last verdict, and what it was made with */
	enum pool_excl verdict;
	bool have_verdict;
	uint64_t verdict_ms, sig;
	size_t ours, listed, others, stale;
	struct zt_term_info shown[PX_SHOW_MAX];
	size_t nshown;
	/*
	 * The terminator ids of two "only" listings in a row with the same bindings of this server
	 * (all its own: a terminator of another server listed in the place of one of its own that
	 * the controller does not list yet is not listed so twice) and its newest binding then
	 */
	char known[PX_OURS_MAX * 2][64];
	size_t nknown;
	uint64_t known_seq;
	/* the last listing, if it was "only": its bindings and ids (known: those in the next too) */
	uint64_t only_sig;
	bool only_sig_set;
	char pend[PX_OURS_MAX * 2][64];
	size_t npend;
	/* the ids counted as others by the listings since the last "only" one (more: oids_more) */
	char oids[PX_SHOW_MAX * 2][64];
	size_t noids;
	bool oids_more;
	/* listings in a row with terminators not this server's, the same bindings of its own */
	unsigned others_in_row;
	uint64_t others_since_ms, others_sig;
	bool conflict;          /* confirmed (seen for PX_CONFIRM_MS), logged at ERR, until a clean listing */
	uint64_t unsure_since_ms;
	bool unsure_logged;
	unsigned fails_in_row;
	uint64_t checks, conflicts, errors;
	char err[256];
} px;

/* the pool service's confirmed terminators of this sipovld (one listener per identity with Bind
 * permission) and a signature of its bindings (changes when one is made anew, lost or added) */
static size_t px_ours(struct zt_lsn_term *t, size_t max, uint64_t *sig, struct zt_ctx **ctx)
{
	size_t n = 0;
	uint64_t h = 1469598103934665603ull;

	if (ctx)
		*ctx = NULL;
	for (struct ident *id = D.idents; id; id = id->next)
		for (struct svc *s = id->svcs; s; s = s->next) {
			size_t k;

			if (!s->lsn || !pool_server_service(s->name))
				continue;
			if (ctx && !*ctx)
				*ctx = id->ctx;
			k = zt_listener_terms(s->lsn, t + (n < max ? n : max), n < max ? max - n : 0);
			for (size_t i = n; i < n + k && i < max; i++)
				h = (h ^ t[i].seq) * 1099511628211ull;
			n += k;
		}
	*sig = (h ^ n) * 1099511628211ull;
	return n;
}

static void px_schedule(unsigned ms)
{
	if (px.on)
		zt_timer_start(D.loop, &px.timer, ms);
}

static void px_log_others(int level, const char *what)
{
	char list[PX_SHOW_MAX * 200], *w = list;
	size_t left = sizeof(list);

	list[0] = 0;
	for (size_t i = 0; i < px.nshown && left > 1; i++) {
		int k = snprintf(w, left, "%s%s (router %s, created %s)", i ? ", " : "", px.shown[i].id,
				 px.shown[i].router[0] ? px.shown[i].router : px.shown[i].router_id,
				 px.shown[i].created[0] ? px.shown[i].created : "?");

		if (k < 0 || (size_t)k >= left)
			break;
		w += k;
		left -= (size_t)k;
	}
	logm(level, "ip_pool %s: %s: service %s has %zu terminator%s, %zu of them this server's: %zu other%s: %s%s; "
	     "another pool server hosts the service (only one identity may have Bind on it), or these are this "
	     "server's own from before a restart that the router still holds (`ziti edge delete terminator ID`); "
	     "new leases are held and none expires until they are gone", D.cfg.pool_server.name, what,
	     D.cfg.pool_server.service, px.listed, px.listed == 1 ? "" : "s", px.listed - px.others, px.others,
	     px.others == 1 ? "" : "s", list, px.others > px.nshown ? ", ..." : "");
}

/* the ids this listing counts as others, added to those since the last "only" listing */
static void px_note_others(const struct zt_term_info *t, const bool *mine, size_t n, size_t total)
{
	if (total > n) /* others beyond the page: not all noted */
		px.oids_more = true;
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (mine[i])
			continue;
		for (k = 0; k < px.noids && strcmp(px.oids[k], t[i].id); k++)
			;
		if (k < px.noids)
			continue;
		if (px.noids == PX_SHOW_MAX * 2)
			px.oids_more = true;
		else
			snprintf(px.oids[px.noids++], sizeof(px.oids[0]), "%s", t[i].id);
	}
}

/*
 * A clean listing after listings that counted others: unless every one of those is listed now
 * as this server's own (its terminator listed before its BindSuccess, say), another server's went
 * (it may have served meanwhile): the endpoints renew first
 */
static void px_others_gone(const struct zt_term_info *t, const bool *mine, size_t n)
{
	bool gone = px.conflict || px.oids_more;

	for (size_t k = 0; k < px.noids && !gone; k++) {
		size_t i;

		for (i = 0; i < n && strcmp(t[i].id, px.oids[k]); i++)
			;
		gone = i == n || !mine[i];
	}
	if (px.conflict)
		logm(L_NOTICE, "ip_pool %s: the terminators of %s are this server's alone again (%zu)",
		     D.cfg.pool_server.name, D.cfg.pool_server.service, px.ours);
	px.conflict = false;
	px.others_in_row = 0;
	px.noids = 0;
	px.oids_more = false;
	if (gone)
		pool_server_excl_cleared();
}

static void px_listed(void *arg, int err, const char *msg, const struct zt_term_info *t, size_t n, size_t total)
{
	struct zt_lsn_term ours[PX_OURS_MAX];
	struct pool_excl_own own[PX_OURS_MAX];
	struct pool_excl_listed listed[PX_LIST_MAX];
	const char *known[PX_OURS_MAX * 2];
	bool mine[PX_LIST_MAX];
	uint64_t sig, maxseq = 0;
	size_t nours, others, stale;
	enum pool_excl v;

	(void)arg;
	px.req = NULL;
	px.req_ctx = NULL;
	px.checks++;
	if (err) {
		px.errors++;
		snprintf(px.err, sizeof(px.err), "%s", msg ? msg : "listing failed");
		if (!px.fails_in_row++)
			logm(L_WARN, "ip_pool %s: cannot count the terminators of %s: %s (asked again every %u s; new "
			     "leases stop %u s after the last count)", D.cfg.pool_server.name, D.cfg.pool_server.service,
			     px.err, PX_RETRY_MS / 1000, 3 * D.cfg.pool_server.excl_ms / 1000);
		px_schedule(PX_RETRY_MS);
		return;
	}
	if (px.fails_in_row)
		logm(L_NOTICE, "ip_pool %s: the terminators of %s counted again (after %u failed listings)",
		     D.cfg.pool_server.name, D.cfg.pool_server.service, px.fails_in_row);
	px.fails_in_row = 0;
	px.err[0] = 0;
	nours = px_ours(ours, PX_OURS_MAX, &sig, NULL);
	if (sig != px.sig_start) {
		px_schedule(PX_AGAIN_MS); /* a binding changed meanwhile: the listing may predate it */
		return;
	}
	if (n > PX_LIST_MAX) {
		total = total > n ? total : n;
		n = PX_LIST_MAX;
	}
	for (size_t i = 0; i < n; i++) {
		listed[i].id = t[i].id;
		listed[i].router = t[i].router;
	}
	for (size_t i = 0; i < nours && i < PX_OURS_MAX; i++) {
		own[i].router = ours[i].router;
		own[i].before = px.nknown && ours[i].seq <= px.known_seq;
		maxseq = ours[i].seq > maxseq ? ours[i].seq : maxseq;
	}
	for (size_t k = 0; k < px.nknown; k++)
		known[k] = px.known[k];
	v = nours > PX_OURS_MAX ? POOL_EXCL_UNSURE :
	    pool_excl_verdict(own, nours, listed, n, total, known, px.nknown, mine, &others, &stale);
	px.have_verdict = true;
	px.verdict = v;
	px.verdict_ms = zt_now_ms();
	px.sig = sig;
	px.ours = nours;
	px.listed = total;
	px.others = v == POOL_EXCL_OTHERS ? others : 0;
	px.stale = stale;
	px.nshown = 0;
	for (size_t i = 0; i < n && v == POOL_EXCL_OTHERS && px.nshown < PX_SHOW_MAX; i++)
		if (!mine[i])
			px.shown[px.nshown++] = t[i];
	if (v != POOL_EXCL_UNSURE) {
		px.unsure_since_ms = 0;
		px.unsure_logged = false;
	}
	if (v != POOL_EXCL_ONLY)
		px.only_sig_set = false; /* known ids only from two "only" listings in a row */
	if (v == POOL_EXCL_OTHERS) {
		px_note_others(t, mine, n, total);
		if (!px.others_in_row || sig != px.others_sig) {
			px.others_in_row = 0;
			px.others_since_ms = px.verdict_ms;
			px.others_sig = sig;
		}
		if (++px.others_in_row == 1)
			px_log_others(L_INFO, "possibly a second pool server");
		if (px.others_in_row >= 2 && px.verdict_ms - px.others_since_ms >= PX_CONFIRM_MS && !px.conflict) {
			px.conflict = true;
			px.conflicts++;
			px_log_others(L_ERR, "a second pool server");
		}
		px_schedule(PX_RETRY_MS);
		return;
	}
	if (v == POOL_EXCL_UNSURE) {
		if (!px.unsure_since_ms)
			px.unsure_since_ms = px.verdict_ms;
		if (!px.unsure_logged && px.verdict_ms - px.unsure_since_ms > 3ull * D.cfg.pool_server.excl_ms) {
			px.unsure_logged = true;
			logm(L_WARN, "ip_pool %s: for %llu s the listing of %s's terminators has not shown this server's "
			     "%zu confirmed ones (%s): new leases are held", D.cfg.pool_server.name,
			     (unsigned long long)((px.verdict_ms - px.unsure_since_ms) / 1000), D.cfg.pool_server.service,
			     nours, nours > PX_OURS_MAX ? "too many to count" : "deleted at the controller, or the "
			     "controller behind");
		}
		px_schedule(PX_RETRY_MS);
		return;
	}
	/* only this server's; the second such listing with the same bindings: their ids are known
	 * from now on (a router that keeps one after a reconnect is then not taken for another
	 * server) */
	if (px.only_sig_set && px.only_sig == sig) {
		char both[PX_OURS_MAX * 2][64];
		size_t nb = 0;

		for (size_t i = 0; i < n && nb < PX_OURS_MAX * 2; i++) {
			size_t k;

			for (k = 0; k < px.npend && strcmp(px.pend[k], t[i].id); k++)
				;
			if (k < px.npend) /* in both listings */
				snprintf(both[nb++], sizeof(both[0]), "%s", t[i].id);
		}
		/* each binding of its own has one terminator, the same id in both: fewer in both than
		 * its bindings, and one of the listings was not what it seemed: nothing learnt */
		if (nb >= nours) {
			memcpy(px.known, both, sizeof(both[0]) * nb);
			px.nknown = nb;
			px.known_seq = maxseq;
		}
	}
	px.npend = 0;
	for (size_t i = 0; i < n && px.npend < PX_OURS_MAX * 2; i++)
		snprintf(px.pend[px.npend++], sizeof(px.pend[0]), "%s", t[i].id);
	px.only_sig = sig;
	px.only_sig_set = true;
	if (px.others_in_row || px.noids || px.oids_more)
		px_others_gone(t, mine, n);
	px_schedule(D.cfg.pool_server.excl_ms);
}

static void px_check(void *unused)
{
	struct zt_lsn_term ours[PX_OURS_MAX];
	struct zt_ctx *ctx;
	size_t n;

	(void)unused;
	if (px.req || !D.cfg.pool_server.excl_ms)
		return;
	n = px_ours(ours, PX_OURS_MAX, &px.sig_start, &ctx);
	if (!ctx || !n) { /* not hosting yet: the listener's status kicks a check */
		px_schedule(PX_RETRY_MS);
		return;
	}
	px.req = zt_service_terminators(ctx, D.cfg.pool_server.service, px_listed, NULL);
	px.req_ctx = px.req ? ctx : NULL;
	if (!px.req) {
		snprintf(px.err, sizeof(px.err), "the controller cannot be asked now (not authenticated)");
		px_schedule(PX_RETRY_MS);
	}
}

void pool_excl_start(void)
{
	memset(&px, 0, sizeof(px));
	if (!D.cfg.pool_server.excl_ms)
		return;
	px.on = true;
	zt_timer_init(&px.timer, px_check, NULL);
	px_schedule(PX_AGAIN_MS);
}

void pool_excl_stop(void)
{
	if (px.on)
		zt_timer_stop(D.loop, &px.timer);
	zt_terms_cancel(px.req);
	memset(&px, 0, sizeof(px));
}

/* @ctx's identity stops (its requests end with it, without a callback): a listing through it ends now */
void pool_excl_ctx_gone(struct zt_ctx *ctx)
{
	if (!px.req || px.req_ctx != ctx)
		return;
	zt_terms_cancel(px.req);
	px.req = NULL;
	px.req_ctx = NULL;
	px_schedule(PX_AGAIN_MS);
}

void pool_excl_kick(void)
{
	if (px.on && !px.req)
		px_schedule(0);
}

/* may new leases be given? (@why: why not) @stale: the verdict was made on other bindings, or is old */
static bool px_ok(const char **why, bool *stale)
{
	struct zt_lsn_term ours[PX_OURS_MAX];
	uint64_t sig, age;
	size_t n;

	*why = NULL;
	*stale = false;
	if (!px.on || !D.cfg.pool_server.excl_ms) /* 0 on reload: turned off (on again needs a restart) */
		return true;
	n = px_ours(ours, PX_OURS_MAX, &sig, NULL);
	age = px.have_verdict ? zt_now_ms() - px.verdict_ms : 0;
	if (px.have_verdict && px.verdict == POOL_EXCL_ONLY && sig == px.sig && n == px.ours &&
	    age < 3ull * D.cfg.pool_server.excl_ms)
		return true;
	/* a binding of its own made or lost since: list again now (an old listing: the timer's) */
	*stale = px.have_verdict && sig != px.sig;
	if (px.have_verdict && px.verdict == POOL_EXCL_OTHERS)
		*why = "another pool server may host this pool's service: new leases held";
	else
		*why = "this pool server has not yet confirmed that it is the only one: new leases wait";
	return false;
}

bool pool_excl_ok(const char **why)
{
	bool stale;

	if (px_ok(why, &stale))
		return true;
	if (stale)
		pool_excl_kick(); /* a binding changed, or the listing is old: list again now */
	return false;
}

struct json_object *pool_excl_json(bool held)
{
	struct json_object *o = json_object_new_object(), *a;
	const char *why;
	bool stale;

	if (!o)
		return NULL;
	JADD(o, "check_s", JI(D.cfg.pool_server.excl_ms / 1000));
	if (!px.on)
		return o;
	JADD(o, "leases_given", JB(!held && px_ok(&why, &stale)));
	JADD(o, "verdict", JS(!px.have_verdict ? "none" : px.verdict == POOL_EXCL_ONLY ? "only" :
			      px.verdict == POOL_EXCL_OTHERS ? "others" : "unsure"));
	JADD(o, "age_s", JI(px.have_verdict ? (zt_now_ms() - px.verdict_ms) / 1000 : 0));
	JADD(o, "terminators", JI(px.listed));
	JADD(o, "ours", JI(px.ours));
	JADD(o, "others", JI(px.others));
	JADD(o, "stale_own", JI(px.stale));
	JADD(o, "conflict", JB(px.conflict));
	JADD(o, "checks", JI(px.checks));
	JADD(o, "conflicts", JI(px.conflicts));
	JADD(o, "errors", JI(px.errors));
	if (px.err[0])
		JADD(o, "error", JS(px.err));
	a = json_object_new_array();
	for (size_t i = 0; a && i < px.nshown; i++) {
		struct json_object *t = json_object_new_object();

		if (!t)
			break;
		JADD(t, "id", JS(px.shown[i].id));
		JADD(t, "router_id", JS(px.shown[i].router_id));
		JADD(t, "router", JS(px.shown[i].router));
		JADD(t, "created", JS(px.shown[i].created));
		json_object_array_add(a, t);
	}
	if (a)
		JADD(o, "other_terminators", a);
	return o;
}
