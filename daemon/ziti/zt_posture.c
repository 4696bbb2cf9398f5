// SPDX-License-Identifier: GPL-2.0
/*
 * Posture responses. A service policy may require posture checks; the controller then lists
 * the checks as the service's postureQueries (per policy: isPassing, and per query its id,
 * queryType and isPassing) and refuses sessions of that policy until the client has answered
 * them (POST <edge>/posture-response-bulk, a JSON array of responses, each with the query's
 * id and typeId). This client answers three checks:
 *   OS   {"type": "Linux", "version": "6.1.0", "build": "#1 SMP ..."} (uname: the release's
 *        leading numbers, so that ">=6.1.0" holds for "6.1.0-57-amd64", whose "-57" a
 *        semantic-version comparison would read as a pre-release below 6.1.0)
 *   MAC  {"macAddresses": ["52:54:00:12:34:56", ...]} (every non-loopback interface with a
 *        6-byte hardware address)
 *   PROCESS and PROCESS_MULTI, for their Linux executables (osType "Linux"):
 *        {"path": "/usr/sbin/x", "isRunning": true, "hash": "<SHA-512 of the file>",
 *        "signerFingerprints": []} per query and path, a multi check's paths each under its id
 *        (as the OpenZiti clients answer them; Linux binaries carry no signer certificate);
 *        zt_posture_proc.c reads /proc and hashes. A process may start or stop at any time:
 *        while the listing has PROCESS queries, their facts are read again every
 *        posture_process_ms (default 10 s) and the services listed again (so answered) when
 *        they changed.
 * (zt_services.c says which checks it cannot answer: MFA, DOMAIN, a Windows domain).
 *
 * Responses go after every service listing whose answers differ from the last ones sent in
 * this API session, and once more with each new API session (as ziti-sdk-c does; the v1.6
 * controllers keep OS and MAC data per identity, seen here: a second client of an identity
 * passed without answering, so this costs one request per session), then the services are
 * listed again so that the checks' new isPassing is seen;
 * a context is reported ready only after that, so a dial right after start-up is not refused.
 * The controller keeps the answers in memory only: a restarted controller, or another member
 * of an HA cluster, has none while the API session (the key of what was sent) lives on. So
 * they are sent again when a session request is refused 409 INVALID_POSTURE and when the
 * controller answers again after failed requests (zt_posture_resend).
 * POSTs are at least posture_min_ms apart (a later need waits for the rest of the interval),
 * and none goes while a failed one waits out its backoff. MAC addresses are sorted, so that
 * the answer does not change with the order the kernel lists interfaces in.
 * An answer the controller still finds failing (a MAC the check does not list) is not resent
 * until the answers or the session change: it is logged once per check with what was sent.
 *
 * zt_posture_build() is free of I/O (unit tests); zt_posture_facts_read() reads the host.
 */
#include "zt_internal.h"

#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <json-c/json.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

int zt_posture_facts_read(struct zt_posture_facts *f)
{
	struct utsname u;
	struct ifaddrs *ifa = NULL;

	memset(f, 0, sizeof(*f));
	snprintf(f->os_type, sizeof(f->os_type), "Linux");
	if (uname(&u) == 0) {
		zt_posture_os_version(u.release, f->os_version, sizeof(f->os_version));
		snprintf(f->os_build, sizeof(f->os_build), "%s", u.version);
	}
	if (getifaddrs(&ifa))
		return -errno;
	for (struct ifaddrs *i = ifa; i && f->n_macs < ZT_POSTURE_MAX_MACS; i = i->ifa_next) {
		const struct sockaddr_ll *ll = (const void *)i->ifa_addr;
		char mac[18];
		bool zero = true, dup = false;

		if (!ll || ll->sll_family != AF_PACKET || ll->sll_halen != 6 || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		for (int k = 0; k < 6; k++)
			zero &= !ll->sll_addr[k];
		if (zero)
			continue;
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", ll->sll_addr[0], ll->sll_addr[1],
			 ll->sll_addr[2], ll->sll_addr[3], ll->sll_addr[4], ll->sll_addr[5]);
		for (size_t k = 0; k < f->n_macs && !dup; k++)
			dup = !strcmp(f->macs[k], mac);
		if (!dup)
			memcpy(f->macs[f->n_macs++], mac, sizeof(mac));
	}
	freeifaddrs(ifa);
	return 0;
}

void zt_posture_os_version(const char *release, char *out, size_t len)
{
	unsigned v[3] = { 0, 0, 0 };
	int n = 0;
	const char *p = release;

	while (n < 3 && isdigit((unsigned char)*p)) {
		unsigned long x = strtoul(p, (char **)&p, 10);

		v[n++] = x > 999999 ? 999999 : (unsigned)x;
		if (*p != '.')
			break;
		p++;
	}
	snprintf(out, len, "%u.%u.%u", v[0], v[1], v[2]);
}

static void add_unsupported(char *buf, size_t len, const char *type)
{
	size_t tl = strlen(type), off = strlen(buf);

	for (const char *p = buf; (p = strstr(p, type)); p += tl)
		if ((p == buf || p[-1] == ' ') && (p[tl] == ',' || !p[tl]))
			return;
	snprintf(buf + off, len - off, "%s%s", off ? ", " : "", type);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool have_response(struct json_object *arr, const char *id)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++)
	{
		const char *have = zt_jstr(json_object_array_get_idx(arr, i), "id");

		if (have && !strcmp(have, id))
			return true;
	}
	return false;
}

static bool os_linux(struct json_object *proc)
{
	const char *os = zt_jstr(proc, "osType");

	return !os || !strcasecmp(os, "Linux");
}

/* the Linux processes of a PROCESS or PROCESS_MULTI query: calls @fn(arg, path) for each */
static size_t query_procs(struct json_object *q, void (*fn)(void *arg, const char *path), void *arg)
{
	struct json_object *one = zt_jget(q, "process"), *many = zt_jget(q, "processes");
	size_t n = 0, nm = json_object_is_type(many, json_type_array) ? json_object_array_length(many) : 0;
	const char *path;

	if (json_object_is_type(one, json_type_object) && (path = zt_jstr(one, "path")) && *path) {
		n++;
		if (os_linux(one))
			fn(arg, path);
	}
	for (size_t k = 0; k < nm; k++) {
		struct json_object *pr = json_object_array_get_idx(many, k);

		if (!(path = zt_jstr(pr, "path")) || !*path)
			continue;
		n++;
		if (os_linux(pr))
			fn(arg, path);
	}
	return n;
}

static bool is_proc_query(const char *t)
{
	return t && (!strcmp(t, "PROCESS") || !strcmp(t, "PROCESS_MULTI"));
}

/* every query of every policy of every service: @fn(arg, query) */
static void each_query(struct json_object *services, void (*fn)(void *arg, struct json_object *q), void *arg)
{
	size_t ns = json_object_is_type(services, json_type_array) ? json_object_array_length(services) : 0;

	for (size_t s = 0; s < ns; s++) {
		struct json_object *sets = zt_jget(json_object_array_get_idx(services, s), "postureQueries");
		size_t nsets = json_object_is_type(sets, json_type_array) ? json_object_array_length(sets) : 0;

		for (size_t i = 0; i < nsets; i++) {
			struct json_object *qs = zt_jget(json_object_array_get_idx(sets, i), "postureQueries");
			size_t nq = json_object_is_type(qs, json_type_array) ? json_object_array_length(qs) : 0;

			for (size_t j = 0; j < nq; j++)
				fn(arg, json_object_array_get_idx(qs, j));
		}
	}
}

struct paths_acc {
	char (*paths)[ZT_POSTURE_PATH_MAX];
	size_t n, max;
};

static void path_add(void *arg, const char *path)
{
	struct paths_acc *a = arg;

	if (strlen(path) >= ZT_POSTURE_PATH_MAX)
		return; /* answered not running (no fact) */
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->paths[i], path))
			return;
	if (a->n < a->max)
		snprintf(a->paths[a->n++], ZT_POSTURE_PATH_MAX, "%s", path);
}

static void paths_of_query(void *arg, struct json_object *q)
{
	if (is_proc_query(zt_jstr(q, "queryType")))
		query_procs(q, path_add, arg);
}

size_t zt_posture_proc_paths(struct json_object *services, char (*paths)[ZT_POSTURE_PATH_MAX], size_t max)
{
	struct paths_acc a = { .paths = paths, .max = max };

	each_query(services, paths_of_query, &a);
	return a.n;
}

static bool have_proc_response(struct json_object *arr, const char *id, const char *path)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		const char *have = zt_jstr(o, "id"), *hp = zt_jstr(o, "path");

		if (have && hp && !strcmp(have, id) && !strcmp(hp, path))
			return true;
	}
	return false;
}

struct proc_resp_acc {
	struct json_object *out;
	const struct zt_posture_facts *f;
	const char *id;
};

static void proc_response(void *arg, const char *path)
{
	struct proc_resp_acc *a = arg;
	const struct zt_posture_proc *fact = NULL;
	struct json_object *r;

	if (have_proc_response(a->out, a->id, path) || !(r = json_object_new_object()))
		return;
	for (size_t i = 0; i < a->f->n_procs && !fact; i++)
		if (!strcmp(a->f->procs[i].path, path))
			fact = &a->f->procs[i];
	json_object_object_add(r, "id", json_object_new_string(a->id));
	json_object_object_add(r, "typeId", json_object_new_string("PROCESS"));
	json_object_object_add(r, "path", json_object_new_string(path));
	json_object_object_add(r, "isRunning", json_object_new_boolean(fact && fact->running));
	json_object_object_add(r, "hash", json_object_new_string(fact ? fact->hash : ""));
	json_object_object_add(r, "signerFingerprints", json_object_new_array());
	json_object_array_add(a->out, r);
}

struct build_acc {
	struct json_object *out;
	const struct zt_posture_facts *f;
	char *unsupported;
	size_t ulen;
};

/* one query's response(s) into a->out (each_query) */
static void build_query(void *arg, struct json_object *q)
{
	struct build_acc *a = arg;
	const struct zt_posture_facts *f = a->f;
	const char *id = zt_jstr(q, "id"), *t = zt_jstr(q, "queryType");
	bool os = t && !strcmp(t, "OS"), mac = t && !strcmp(t, "MAC");
	struct json_object *r;

	if (!id || !t)
		return;
	if (is_proc_query(t)) {
		struct proc_resp_acc pa = { .out = a->out, .f = f, .id = id };

		if (!query_procs(q, proc_response, &pa) && a->ulen)
			add_unsupported(a->unsupported, a->ulen, t); /* no path to answer for */
		return;
	}
	if (!os && !mac) {
		if (a->ulen)
			add_unsupported(a->unsupported, a->ulen, t);
		return;
	}
	if (have_response(a->out, id) || !(r = json_object_new_object()))
		return;
	json_object_object_add(r, "id", json_object_new_string(id));
	json_object_object_add(r, "typeId", json_object_new_string(t));
	if (os) {
		json_object_object_add(r, "type", json_object_new_string(f->os_type));
		json_object_object_add(r, "version", json_object_new_string(f->os_version));
		json_object_object_add(r, "build", json_object_new_string(f->os_build));
	} else {
		struct json_object *m = json_object_new_array();
		const char *sorted[ZT_POSTURE_MAX_MACS];
		size_t nm = f->n_macs < ZT_POSTURE_MAX_MACS ? f->n_macs : ZT_POSTURE_MAX_MACS;

		for (size_t k = 0; k < nm; k++)
			sorted[k] = f->macs[k];
		qsort(sorted, nm, sizeof(sorted[0]), cmp_str);
		for (size_t k = 0; m && k < nm; k++)
			json_object_array_add(m, json_object_new_string(sorted[k]));
		json_object_object_add(r, "macAddresses", m);
	}
	json_object_array_add(a->out, r);
}

struct json_object *zt_posture_build(struct json_object *services, const struct zt_posture_facts *f,
				     char *unsupported, size_t ulen)
{
	struct build_acc a = { .out = json_object_new_array(), .f = f, .unsupported = unsupported, .ulen = ulen };

	if (ulen)
		unsupported[0] = 0;
	if (a.out)
		each_query(services, build_query, &a);
	return a.out;
}

/* ---------------- sending (event loop) ---------------- */

static void noted_clear(struct zt_posture *p)
{
	for (size_t i = 0; i < p->n_noted; i++)
		free(p->noted[i]);
	p->n_noted = 0;
	free(p->noted_for);
	p->noted_for = NULL;
}

/* the answers of a "session-id answers" key */
static const char *key_answers(const char *key)
{
	const char *sp = strchr(key, ' ');

	return sp ? sp + 1 : key;
}

static void post_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_ctx *ctx = arg;
	struct zt_posture *p = &ctx->posture;
	char err[512];

	p->req = NULL;
	if (r->status == 200 || r->status == 201) {
		free(p->sent);
		p->sent = p->pending;
		p->pending = NULL;
		p->failures = 0;
		if (!p->noted_for || strcmp(p->noted_for, key_answers(p->sent))) {
			noted_clear(p); /* other answers: a check still failing is news again */
			p->noted_for = strdup(key_answers(p->sent));
		}
		zt_log(ctx, 2, "posture responses accepted: %s", p->sent);
		zt_services_list(ctx); /* the checks' new isPassing, then ready */
		return;
	}
	free(p->pending);
	p->pending = NULL;
	if (r->status == 401) {
		zt_ctx_token_refused(ctx);
		ctx->list_again = true;
		zt_ctx_need_auth(ctx, NULL, NULL);
		return;
	}
	zt_resp_error(r, err, sizeof(err), "posture responses");
	unsigned d = zt_ctx_backoff_ms(ctx, p->failures++);

	zt_log(ctx, 1, "%s (retrying in %u ms)", err, d);
	zt_timer_start(ctx->loop, &p->retry, d);
	zt_ctx_ready(ctx, 0, "ready"); /* sessions needing the checks will be refused until then */
}

static void retry_cb(void *arg)
{
	zt_services_list(arg);
}

/* what the PROCESS answers say, to tell a change: "path running hash;..." (NULL: none) */
static char *proc_digest(const struct zt_posture_facts *f)
{
	char *d = NULL;
	size_t len = 0;
	FILE *m = f->n_procs ? open_memstream(&d, &len) : NULL;

	if (!m)
		return NULL;
	for (size_t i = 0; i < f->n_procs; i++)
		fprintf(m, "%s %d %s;", f->procs[i].path, f->procs[i].running, f->procs[i].hash);
	fclose(m);
	return d;
}

/* the hasher has every hash: answer them, when a listing or the re-check waited for them */
static void hashes_done(void *arg)
{
	struct zt_ctx *ctx = arg;

	if (!ctx->posture.awaiting_hash)
		return;
	ctx->posture.awaiting_hash = false;
	zt_services_list(ctx);
}

/* CAP_SYS_PTRACE in the effective set: other users' /proc/PID/exe can be read */
static bool may_ptrace(void)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	if (f)
		fclose(f);
	return eff >> 19 & 1; /* CAP_SYS_PTRACE */
}

static void procs_read(struct zt_ctx *ctx, struct zt_posture_facts *f)
{
	struct zt_posture *p = &ctx->posture;

	if (!p->n_proc_paths) {
		f->n_procs = 0;
		return;
	}
	if (!p->hashes)
		p->hashes = calloc(ZT_POSTURE_HASH_CACHE, sizeof(*p->hashes));
	if (p->hashes && !p->hasher)
		p->hasher = zt_hasher_new(ctx->loop, p->hashes, hashes_done, ctx); /* NULL: hashed here */
	zt_posture_procs_read(f, (const char (*)[ZT_POSTURE_PATH_MAX])p->proc_paths, p->n_proc_paths, p->hashes,
			      p->hasher);
	if (f->hash_pending)
		p->awaiting_hash = true;
	/*
	 * Other users' processes: their exe links are refused (EACCES, counted) or, with /proc
	 * mounted hidepid=invisible (the unit's ProtectProc=invisible), they are not listed at all.
	 */
	for (size_t i = 0; i < f->n_procs && !p->hidden_logged; i++) {
		if (f->procs[i].running || may_ptrace())
			continue;
		p->hidden_logged = true;
		zt_log(ctx, 1, "PROCESS posture check: %s is not running as far as this client can see; it cannot see "
			       "the processes of other users (no CAP_SYS_PTRACE%s; sipovld(8), \"Posture checks\")",
		       f->procs[i].path, f->procs_hidden ? ", some refused" : "");
	}
}

/* PROCESS checks: read their facts again; a change is answered through a new listing */
static void proc_timer_cb(void *arg)
{
	struct zt_ctx *ctx = arg;
	struct zt_posture *p = &ctx->posture;
	struct zt_posture_facts f;
	char *d;

	if (!p->n_proc_paths)
		return;
	memset(&f, 0, sizeof(f));
	procs_read(ctx, &f);
	d = f.hash_pending ? NULL : proc_digest(&f); /* pending: the hasher lists when it is done */
	if (d && p->proc_digest && strcmp(d, p->proc_digest)) {
		zt_log(ctx, 2, "posture: a PROCESS check's facts changed: listing the services to answer it");
		free(p->proc_digest);
		p->proc_digest = NULL; /* set again by the listing's answer */
		free(d);
		zt_services_list(ctx);
	} else {
		free(d);
	}
	zt_timer_start(ctx->loop, &p->proc_timer, ctx->o.posture_process_ms);
}

/* the PROCESS paths of this listing: kept for the re-check; its timer runs while there are some */
static void procs_track(struct zt_ctx *ctx, struct json_object *services)
{
	struct zt_posture *p = &ctx->posture;

	if (!p->proc_paths)
		p->proc_paths = calloc(ZT_POSTURE_MAX_PROCS, sizeof(*p->proc_paths));
	p->n_proc_paths = p->proc_paths ? zt_posture_proc_paths(services, p->proc_paths, ZT_POSTURE_MAX_PROCS) : 0;
	if (!p->n_proc_paths)
		zt_timer_stop(ctx->loop, &p->proc_timer);
	else if (!zt_timer_armed(&p->proc_timer))
		zt_timer_start(ctx->loop, &p->proc_timer, ctx->o.posture_process_ms);
}

bool zt_posture_after_list(struct zt_ctx *ctx, struct json_object *services)
{
	struct zt_posture *p = &ctx->posture;
	struct zt_posture_facts f;
	char path[512];

	if (p->req)
		return true; /* its reply lists the services again */
	if (zt_timer_armed(&p->retry))
		return false; /* a failed POST waits out its backoff, or the interval is not over */
	procs_track(ctx, services);
	zt_posture_facts_read(&f);
	procs_read(ctx, &f);
	if (f.hash_pending)
		return true; /* an executable is being hashed: the services are listed again after it */
	free(p->proc_digest);
	p->proc_digest = proc_digest(&f);
	struct json_object *resp = zt_posture_build(services, &f, NULL, 0);

	if (!resp || !json_object_array_length(resp)) {
		json_object_put(resp);
		return false;
	}
	/* what was sent is keyed by the API session: answered again in a new one */
	char *key = NULL;

	if (asprintf(&key, "%s %s", ctx->api_session_id ? ctx->api_session_id : "-",
		     json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN)) < 0) {
		json_object_put(resp);
		return false;
	}
	if (p->sent && !strcmp(p->sent, key)) {
		free(key);
		json_object_put(resp);
		return false;
	}
	uint64_t now = zt_now_ms();

	if (p->posted_ms && now < p->posted_ms + ctx->o.posture_min_ms) {
		/* answered a moment ago: the listing at the end of the interval answers this */
		zt_timer_start(ctx->loop, &p->retry, p->posted_ms + ctx->o.posture_min_ms - now);
		free(key);
		json_object_put(resp);
		return false;
	}
	snprintf(path, sizeof(path), "%s/posture-response-bulk", ctx->edge_path);
	p->req = zt_http_request(ctx, "POST", path, json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN),
				 post_cb, ctx);
	json_object_put(resp);
	if (!p->req) {
		free(key);
		zt_log(ctx, 1, "posture responses: request could not be issued");
		return false;
	}
	free(p->pending);
	p->pending = key;
	p->posted_ms = now;
	return true;
}

void zt_posture_resend(struct zt_ctx *ctx, const char *why)
{
	struct zt_posture *p = &ctx->posture;
	uint64_t now = zt_now_ms(), due;

	if (!p->sent || p->req)
		return; /* nothing answered yet, or an answer on its way (its reply lists again) */
	free(p->sent);
	p->sent = NULL;
	/* a check that really fails refuses every session: each time again, twice as late */
	due = p->posted_ms + ((uint64_t)ctx->o.posture_min_ms << (p->resends < 6 ? p->resends : 6));
	p->resends++;
	zt_log(ctx, 2, "posture responses: sending them again in %llu ms (%s)",
	       (unsigned long long)(due > now ? due - now : 0), why);
	zt_timer_start(ctx->loop, &p->retry, due > now ? due - now : 0); /* re-arms one pending */
}

void zt_posture_session_ok(struct zt_ctx *ctx)
{
	ctx->posture.resends = 0;
}

/* A check sipovld answered and the controller still finds failing: once per check and answer. */
void zt_posture_note_failing(struct zt_ctx *ctx, const char *service, const char *type)
{
	struct zt_posture *p = &ctx->posture;
	char *k = NULL;

	if (!p->noted_for || asprintf(&k, "%s/%s", service, type) < 0)
		return;
	for (size_t i = 0; i < p->n_noted; i++)
		if (!strcmp(p->noted[i], k)) {
			free(k);
			return;
		}
	if (p->n_noted == ZT_POSTURE_NOTED_MAX) {
		free(k); /* that many failing checks: the first ones were logged */
		return;
	}
	p->noted[p->n_noted++] = k;
	zt_log(ctx, 1, "service %s: its %s posture check still fails with this host's answer (%s)", service, type,
	       p->noted_for);
}

void zt_posture_init(struct zt_ctx *ctx)
{
	zt_timer_init(&ctx->posture.retry, retry_cb, ctx);
	zt_timer_init(&ctx->posture.proc_timer, proc_timer_cb, ctx);
}

void zt_posture_free(struct zt_ctx *ctx)
{
	struct zt_posture *p = &ctx->posture;

	zt_timer_stop(ctx->loop, &p->retry);
	zt_timer_stop(ctx->loop, &p->proc_timer);
	zt_hasher_free(p->hasher);
	free(p->proc_paths);
	free(p->proc_digest);
	free(p->hashes);
	zt_http_cancel(p->req);
	p->req = NULL;
	free(p->sent);
	free(p->pending);
	noted_clear(p);
	memset(p, 0, sizeof(*p));
}
