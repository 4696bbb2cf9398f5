// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld: the ip-pool server (`ip_pool` in sipovld.conf; design.md, "Endpoints and the
 * ip-pool"). The pool and its lease file are loaded at start (a file that does not parse, or is
 * for another pool, stops sipovld with the line named); every identity with Bind permission on
 * `ip_pool.service` hosts it. One request line and one reply line per Ziti connection
 * (pool.c's pool_serve; pool_store.c writes a change before its "ok" is sent), except that
 * after a "who" (pool_check.c's questions) the next request line may follow on the same
 * connection. The owner of a
 * claim is the dialer's identity id as the edge router authenticated it (routers from ziti 2.0
 * on); routers before 2.0 send only the caller id the dialer chose, taken only with
 * `ip_pool.trust_caller` (otherwise the dial is refused, saying so).
 *
 * A change is written to the lease file by pool_writer.c's thread and answered when it is on
 * disk; meanwhile the loop goes on, and the requests that come in wait in arrival order (each
 * is served on the pool as the previous one left it, so a change that could not be written is
 * undone before the next request sees the pool).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/errf.h"
#include "daemon/pool.h"
#include "daemon/pool_store.h"
#include "daemon/pool_writer.h"
#include "daemon/sipovld.h"

#define PSRV_REQ_MAX 128 /* pool_serve's longest request line */
#define PSRV_CONNS_MAX 64 /* open connections at most (each is answered, then FIN; after a "who", the next question) */

struct pconn {
	struct pconn *next, **pprev;
	struct svc *svc;       /* the hosted service it came in on */
	struct zt_conn *c;
	struct zt_timer idle;  /* ip_pool.idle_timeout_s from the dial: closed then */
	char owner[POOL_OWNER_MAX + 1];
	char buf[PSRV_REQ_MAX];
	size_t len;
	bool complete;         /* its request line is in: served in turn (ps.waiting) */
	bool answered;
	unsigned whos;         /* "who" questions answered (the connection stays open after each) */
	bool fin;              /* the dialer sent FIN while its request waited */
	struct pconn *wnext;   /* ps.waiting */
	char reply[160];       /* served, waiting for the lease file: the reply then */
	size_t rlen;
};

static struct {
	bool on;
	struct pool pool;
	uint64_t served, refused, conns, idle_closed;
	unsigned open;
	struct pconn *pconns;  /* the open connections */
	struct pconn *waiting, **wtail; /* complete requests not yet served, in arrival order */
	bool writing;          /* a change is being written (pool_writer.c) ... */
	struct pconn *wconn;   /* ... for this connection (NULL: it went meanwhile) */
	struct pool_lease *undo; /* the leases before that change: put back if it is not written */
	size_t undo_n;
	uint64_t undo_gen;
	uint64_t writes, write_errors;
	struct zt_timer hold;  /* the end of ip_pool.hold_s */
	uint64_t hold_until;   /* zt_now_ms() then, 0 when over */
	bool excl_hold;        /* that hold follows another pool server's terminators gone */
	struct zt_timer sweep; /* ip_pool.lease_s: expired leases removed, renewal times written */
	uint64_t expired, admin_released;
	bool reachable;        /* a request was served since the start: the expiry's clock runs */
} ps;

/* the pool's clock: monotonic seconds (a wall clock step expires nothing); the lease file has
 * wall-clock times (pool.wall_off, taken at start) */
static int64_t ps_now(void)
{
	return (int64_t)(zt_now_ms() / 1000);
}

static unsigned ps_sweep_ms(void)
{
	unsigned ms = D.cfg.pool_server.lease_s * 250u; /* a quarter of lease_s, 1 to 60 s */

	return ms < 1000 ? 1000 : ms > 60000 ? 60000 : ms;
}

static void ps_written(int rc, const char *err, void *unused);

/*
 * New leases are held during ip_pool.hold_s after a start (or after another pool server's
 * terminators went) and while this server cannot confirm that it is the only one (pool_excl.c);
 * so is expiry (pool.hold)
 */
static void ps_hold_update(void)
{
	const char *why = NULL;
	bool only = pool_excl_ok(&why);

	ps.pool.hold = ps.hold_until || !only;
	ps.pool.hold_why = !only ? why : ps.hold_until && ps.excl_hold ? "another pool server was seen: the endpoints "
		"renew their addresses here first, new leases wait" : NULL;
}

/* keeps the leases as they are (put back if the change is not written) */
static int ps_save_undo(void)
{
	free(ps.undo);
	ps.undo = malloc((ps.pool.n ? ps.pool.n : 1) * sizeof(*ps.undo));
	if (!ps.undo)
		return -1;
	if (ps.pool.n)
		memcpy(ps.undo, ps.pool.leases, ps.pool.n * sizeof(*ps.undo));
	ps.undo_n = ps.pool.n;
	ps.undo_gen = ps.pool.gen;
	return 0;
}

/* writes the pool to the lease file for @p's request (NULL: no request's) */
static void ps_write(struct pconn *p)
{
	size_t len;
	char *text = pool_store_dump(&ps.pool, &len);
	int rc;

	ps.pool.seen_dirty = false; /* the renewal times are in this write */
	rc = text ? pool_writer_submit(D.loop, D.cfg.pool_server.lease_file, text, len, ps_written, NULL) : -ENOMEM;
	ps.writing = true;
	ps.wconn = p;
	if (rc) /* not submitted: undone and refused as a failed write */
		ps_written(-1, text ? "the lease file writer could not start" : "out of memory", NULL);
}

static void ps_expired_log(const struct pool *p, const struct pool_lease *l, void *unused)
{
	struct sipovl_prefix a;
	char abuf[64];

	(void)unused;
	pool_addr(p, l->off, &a);
	logm(L_NOTICE, "ip_pool %s: the lease of %s on %s expired: not renewed for %lld s (ip_pool.lease_s %u); "
	     "the address is free", p->name, l->owner, pool_fmt(&a, abuf, sizeof(abuf)), (long long)(p->now - l->seen),
	     D.cfg.pool_server.lease_s);
}

/* every ps_sweep_ms: leases not renewed for lease_s expire; the renewal times are written */
static void ps_sweep(void *unused)
{
	size_t n;

	(void)unused;
	zt_timer_start(D.loop, &ps.sweep, ps_sweep_ms());
	ps_hold_update();
	if (ps.writing || ps.pool.hold || !ps.reachable) /* next time */
		return;
	ps.pool.now = ps_now();
	if (ps_save_undo())
		return;
	n = pool_expire(&ps.pool, D.cfg.pool_server.lease_s, ps_expired_log, NULL);
	ps.expired += n;
	if (!n && !ps.pool.seen_dirty) {
		free(ps.undo);
		ps.undo = NULL;
		return;
	}
	ps_write(NULL);
}

static void ps_hold_end(void *unused)
{
	const char *why;

	(void)unused;
	ps.hold_until = 0;
	ps.excl_hold = false;
	ps_hold_update();
	if (pool_excl_ok(&why))
		logm(L_NOTICE, "ip_pool %s: hold over (%zu leases confirmed or on file); new leases are served",
		     ps.pool.name, ps.pool.n);
	else
		logm(L_NOTICE, "ip_pool %s: hold over (%zu leases confirmed or on file); %s", ps.pool.name, ps.pool.n,
		     why);
}

void pool_server_excl_cleared(void)
{
	const struct cfg_pool_server *c = &D.cfg.pool_server;

	if (!ps.on || !c->hold_ms)
		return;
	/* the other server may have renewed leases this one let lapse, or given some: renewals first */
	ps.hold_until = zt_now_ms() + c->hold_ms;
	ps.excl_hold = true;
	zt_timer_start(D.loop, &ps.hold, c->hold_ms);
	ps_hold_update();
	logm(L_NOTICE, "ip_pool %s: another pool server's terminators are gone: holding new leases for %u s "
	     "(ip_pool.hold_s): the endpoints renew the addresses they hold here first", c->name, c->hold_ms / 1000);
}

/*
 * The pool's "created" marker, LEASE_FILE.created: written once, when a start finds neither it
 * nor the lease file (a new pool). A start that finds it but no lease file (lost, deleted, moved
 * aside for a range change) cannot know which addresses the running endpoints hold: it holds.
 * 1: the pool is new (marker written now), 0: not new, -1: the marker could not be written
 * (@err; held as not new).
 */
static int ps_marker(const char *lease_file, bool has_file, char *err, size_t errlen)
{
	const struct cfg_pool_server *c = &D.cfg.pool_server;
	char *path = NULL, text[160], r[64];
	struct stat st;
	int rc, n;

	if (asprintf(&path, "%s.created", lease_file) < 0)
		return errf(err, errlen, "out of memory");
	if (!lstat(path, &st) || errno != ENOENT) {
		free(path);
		return 0;
	}
	n = snprintf(text, sizeof(text), "sipovl-pool-created %s %s/%u %lld\n", c->name, pool_fmt(&c->range, r, sizeof(r)),
		     c->range.len, (long long)time(NULL));
	rc = pool_store_write_buf(path, text, (size_t)n, err, errlen);
	free(path);
	return rc ? -1 : !has_file;
}

int pool_server_start(void)
{
	const struct cfg_pool_server *c = &D.cfg.pool_server;
	char err[512];
	int rc;

	if (!D.cfg.has_pool_server)
		return 0;
	if (pool_init(&ps.pool, c->name, &c->range, err, sizeof(err))) {
		logm(L_ERR, "ip_pool %s: %s", c->name, err);
		return -1;
	}
	ps.pool.now = ps_now();
	ps.pool.wall_off = (int64_t)time(NULL) - ps.pool.now;
	rc = pool_store_read(c->lease_file, &ps.pool, err, sizeof(err));
	if (rc < 0) {
		logm(L_ERR, "ip_pool %s: %s", c->name, err);
		pool_fini(&ps.pool);
		return -1;
	}
	ps.on = true;
	int isnew = ps_marker(c->lease_file, rc == 0, err, sizeof(err));

	if (isnew < 0)
		logm(L_ERR, "ip_pool %s: %s: the pool's created marker cannot be written; held as a pool that is not new",
		     c->name, err);
	logm(L_NOTICE, "ip_pool %s: %s/%u, %zu leases %s %s%s; served as Ziti service %s", c->name,
	     pool_fmt(&c->range, err, sizeof(err)), c->range.len, ps.pool.n, rc ? "(new lease file" : "from",
	     c->lease_file, rc ? ")" : "", c->service);
	zt_timer_init(&ps.hold, ps_hold_end, NULL);
	/*
	 * Only a new pool (neither lease file nor created marker) is known to have no address on an
	 * endpoint; any other start (a lease file restored from a backup, or one that is lost,
	 * deleted or moved aside) holds while the running endpoints renew what they hold
	 */
	if (c->hold_ms && isnew == 1) {
		logm(L_NOTICE, "ip_pool %s: a new pool (no lease file, no %s.created): no hold, new leases are served at "
		     "once", c->name, c->lease_file);
	} else if (c->hold_ms) {
		if (rc)
			logm(L_WARN, "ip_pool %s: no lease file %s, but the pool was created before (%s.created): the "
			     "leases are lost or were moved aside; the endpoints renew the addresses they hold first",
			     c->name, c->lease_file, c->lease_file);
		/* the file may be older than what the endpoints hold: they renew first */
		ps.pool.hold = true;
		ps.hold_until = zt_now_ms() + c->hold_ms;
		zt_timer_start(D.loop, &ps.hold, c->hold_ms);
		logm(L_NOTICE, "ip_pool %s: holding new leases for %u s (ip_pool.hold_s): the endpoints renew the "
		     "addresses they hold first", c->name, c->hold_ms / 1000);
	}
	zt_timer_init(&ps.sweep, ps_sweep, NULL);
	if (c->lease_s)
		zt_timer_start(D.loop, &ps.sweep, ps_sweep_ms());
	pool_excl_start();
	if (!c->excl_ms)
		logm(L_WARN, "ip_pool %s: ip_pool.exclusive_check_s is 0: a second pool server hosting %s would not be "
		     "noticed", c->name, c->service);
	ps_hold_update();
	return 0;
}

void pool_server_stop(void)
{
	pool_writer_stop(); /* a change served and being written is on disk when this returns */
	pool_excl_stop();
	if (ps.on) {
		zt_timer_stop(D.loop, &ps.hold);
		zt_timer_stop(D.loop, &ps.sweep);
		pool_fini(&ps.pool);
	}
	free(ps.undo);
	memset(&ps, 0, sizeof(ps));
}

bool pool_server_service(const char *name)
{
	return ps.on && !strcmp(name, D.cfg.pool_server.service);
}

static void pc_free(struct pconn *p)
{
	if (p == ps.wconn)
		ps.wconn = NULL; /* its change is still written */
	if (p->complete && !p->answered) {
		struct pconn **pp = &ps.waiting;

		while (*pp && *pp != p)
			pp = &(*pp)->wnext;
		if (*pp) {
			*pp = p->wnext;
			if (ps.wtail == &p->wnext)
				ps.wtail = pp;
		}
	}
	zt_timer_stop(D.loop, &p->idle);
	if (p->c)
		zt_close(p->c);
	*p->pprev = p->next;
	if (p->next)
		p->next->pprev = p->pprev;
	ps.open--;
	free(p);
}

/* a dialer that neither completes its request nor closes does not hold a slot for ever */
static void pc_idle(void *arg)
{
	struct pconn *p = arg;

	logm(L_INFO, "ip_pool %s: %s: connection closed after %u s (%s)", ps.pool.name, p->owner,
	     D.cfg.pool_server.idle_ms / 1000,
	     p->answered ? "answered, not closed by the dialer" : p->whos ? "no question since the last" : "no request");
	ps.idle_closed++;
	pc_free(p);
}

/*
 * The service @s stops being hosted (removed, or its identity stopped: zt_ctx_free would close
 * the connections under us, with no on_close): its connections end here.
 */
void pool_server_close_svc(struct svc *s)
{
	struct pconn *p = ps.pconns, *next;

	if (ps.on && pool_server_service(s->name) && s->id)
		pool_excl_ctx_gone(s->id->ctx);

	for (; p; p = next) {
		next = p->next;
		if (p->svc == s)
			pc_free(p);
	}
}

/* the dialer closed (after reading the reply), or the circuit went */
static void pc_on_close(struct zt_conn *c, int err, const char *reason, void *user)
{
	struct pconn *p = user;

	(void)c;
	(void)err;
	if (!p->answered && (p->len || !p->whos))
		logm(L_DEBUG, "ip_pool: %s closed before a complete request (%s)", p->owner, reason ? reason : "?");
	pc_free(p);
}

/*
 * The reply to @p's request: logged, counted, sent, then FIN; after a "who" the connection
 * stays open for the next question (pool_check.c keeps one while it has questions), its idle
 * time starting again.
 */
static void pc_answer(struct pconn *p, const char *reply, size_t n)
{
	/* not when the dialer sent FIN meanwhile: it reads until the end (a pool_check.c from before
	 * sessions, zt-tool request) */
	bool who = !p->fin && p->len > 4 && !memcmp(p->buf, "who ", 4) && memchr(p->buf, '\n', p->len);

	p->answered = true;
	if (n >= sizeof(p->reply))
		n = sizeof(p->reply) - 1;
	if (!strncmp(reply, "ok", 2))
		ps.served++;
	else
		ps.refused++;
	/* the request up to its newline; the buffer is not a string (full without one) */
	const char *rnl = memchr(p->buf, '\n', p->len);
	int shown = rnl ? (int)(rnl - p->buf) : (int)p->len;

	logm(L_INFO, "ip_pool %s: %s: %.*s -> %.*s", ps.pool.name, p->owner, p->len ? shown : 11,
	     p->len ? p->buf : "(malformed)", (int)strcspn(reply, "\n"), reply);
	if (zt_write(p->c, reply, n))
		return;
	if (!who) {
		zt_close_write(p->c);
		return;
	}
	p->len = 0;
	p->complete = false;
	p->answered = false;
	p->whos++;
	zt_timer_start(D.loop, &p->idle, D.cfg.pool_server.idle_ms);
}

static void ps_pump(void);

/* on the loop: the change served to ps.wconn is on disk, or could not be written */
static void ps_written(int rc, const char *err, void *unused)
{
	struct pconn *p = ps.wconn;

	(void)unused;
	ps.writing = false;
	ps.wconn = NULL;
	if (rc) {
		ps.write_errors++;
		logm(L_ERR, "ip_pool %s: %s; the change is undone", ps.pool.name, err);
		free(ps.pool.leases);
		ps.pool.leases = ps.undo;
		ps.pool.n = ps.undo_n;
		ps.pool.gen = ps.undo_gen;
		ps.pool.seen_dirty = true; /* the renewal times were not written either */
		ps.undo = NULL;
		if (p)
			p->rlen = pool_reply_err(p->reply, sizeof(p->reply), POOL_E_STORE);
	} else {
		ps.writes++;
		free(ps.undo);
		ps.undo = NULL;
	}
	if (p)
		pc_answer(p, p->reply, p->rlen);
	ps_pump();
}

/* Serves @p's request; a change is answered once written (ps_written). */
static void ps_serve(struct pconn *p)
{
	uint64_t gen = ps.pool.gen;

	if (ps_save_undo()) {
		pc_answer(p, p->reply, pool_reply_err(p->reply, sizeof(p->reply), POOL_E_NOMEM));
		return;
	}
	ps.pool.now = ps_now();
	if (!ps.reachable && D.cfg.pool_server.lease_s) {
		/*
		 * The first request since the start: the service is reachable now. The endpoints could
		 * not renew while this server was down or starting: every lease gets lease_s/2 from now
		 */
		ps.reachable = true;
		pool_seen_floor(&ps.pool, ps.pool.now - (int64_t)(D.cfg.pool_server.lease_s / 2));
	}
	ps.pool.lease_s = D.cfg.pool_server.lease_s; /* told in the reply */
	ps_hold_update();
	p->rlen = pool_serve(&ps.pool, p->owner, p->buf, p->len, p->reply, sizeof(p->reply));
	if (ps.pool.gen == gen) { /* nothing changed: answered at once (a renewal's time: the next sweep) */
		free(ps.undo);
		ps.undo = NULL;
		pc_answer(p, p->reply, p->rlen);
		return;
	}
	ps_write(p);
}

/* Serves the waiting requests in turn while no change is being written. */
static void ps_pump(void)
{
	while (!ps.writing && ps.waiting) {
		struct pconn *p = ps.waiting;

		ps.waiting = p->wnext;
		if (!ps.waiting)
			ps.wtail = &ps.waiting;
		p->wnext = NULL;
		ps_serve(p);
	}
}

static void pc_on_data(struct zt_conn *c, const uint8_t *data, size_t len, void *user)
{
	struct pconn *p = user;
	char reply[160];

	(void)c;
	if (p->answered || p->complete) { /* more after the request line: ignored; FIN: kept */
		if (!len)
			p->fin = true;
		return;
	}
	if (len == 0 && !p->len && p->whos) { /* the end of a session of questions */
		pc_free(p);
		return;
	}
	if (len == 0) { /* FIN before a newline: an incomplete request, refused */
		pc_answer(p, reply, pool_reply_err(reply, sizeof(reply), POOL_E_INVAL));
		return;
	}
	const uint8_t *nl = memchr(data, '\n', len);
	size_t take = nl ? (size_t)(nl - data) + 1 : len;

	if (p->len + take > sizeof(p->buf) || (nl && take != len)) { /* too long, or more than one line */
		pc_answer(p, reply, pool_reply_err(reply, sizeof(reply), POOL_E_INVAL));
		return;
	}
	memcpy(p->buf + p->len, data, take);
	p->len += take;
	if (!nl)
		return;
	p->complete = true;
	if (!ps.wtail)
		ps.wtail = &ps.waiting;
	*ps.wtail = p;
	ps.wtail = &p->wnext;
	ps_pump();
}

static const struct zt_conn_cbs pc_cbs = { .on_data = pc_on_data, .on_close = pc_on_close };

void pool_server_on_dial(struct zt_listener *l, struct zt_dial_req *req, void *user)
{
	struct svc *s = user;
	char id[POOL_OWNER_MAX + 1], name[128];
	const char *caller = zt_dial_req_caller(req);
	struct pconn *p;

	(void)l;
	ps.conns++;
	if (ps.open >= PSRV_CONNS_MAX) {
		logm(L_WARN, "ip_pool %s: dial refused: %u connections open", ps.pool.name, ps.open);
		ps.refused++;
		zt_reject(req, "ip_pool: busy");
		return;
	}
	if (!zt_dial_req_dialer(req, id, sizeof(id), name, sizeof(name)) || !id[0]) {
		if (!D.cfg.pool_server.trust_caller || !caller || !*caller) {
			logm(L_WARN, "ip_pool %s: dial on %s refused: the router did not say who dials (routers "
			     "before ziti 2.0) and ip_pool.trust_caller is off", ps.pool.name, s->name);
			ps.refused++;
			zt_reject(req, "ip_pool: no authenticated dialer identity");
			return;
		}
		snprintf(id, sizeof(id), "%s", caller);
	}
	if (!pool_owner_ok(id)) {
		logm(L_WARN, "ip_pool %s: dial on %s refused: dialer '%.64s' is not a valid owner", ps.pool.name, s->name,
		     id);
		ps.refused++;
		zt_reject(req, "ip_pool: bad dialer identity");
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		zt_reject(req, "ip_pool: out of memory");
		return;
	}
	snprintf(p->owner, sizeof(p->owner), "%s", id);
	p->svc = s;
	zt_timer_init(&p->idle, pc_idle, p);
	p->next = ps.pconns;
	if (p->next)
		p->next->pprev = &p->next;
	p->pprev = &ps.pconns;
	ps.pconns = p;
	ps.open++;
	p->c = zt_accept(req, &pc_cbs, p);
	if (!p->c) {
		pc_free(p);
		return;
	}
	zt_timer_start(D.loop, &p->idle, D.cfg.pool_server.idle_ms);
}

/* status "ip_pool": the pool, its leases, what was served */
struct json_object *pool_server_json(void)
{
	struct json_object *o;
	char buf[64];

	if (!ps.on || !(o = json_object_new_object()))
		return NULL;
	JADD(o, "name", JS(ps.pool.name));
	JADD(o, "range", JS(pool_fmt_range(&ps.pool.range, buf, sizeof(buf))));
	JADD(o, "service", JS(D.cfg.pool_server.service));
	JADD(o, "lease_file", JS(D.cfg.pool_server.lease_file));
	JADD(o, "size", JI(ps.pool.size));
	JADD(o, "leases", JI(ps.pool.n));
	JADD(o, "served", JI(ps.served));
	JADD(o, "refused", JI(ps.refused));
	JADD(o, "connections", JI(ps.conns));
	JADD(o, "connections_open", JI(ps.open));
	JADD(o, "connections_idle_closed", JI(ps.idle_closed));
	JADD(o, "lease_file_writes", JI(ps.writes));
	JADD(o, "lease_file_write_errors", JI(ps.write_errors));
	JADD(o, "lease_s", JI(D.cfg.pool_server.lease_s));
	JADD(o, "expired", JI(ps.expired));
	JADD(o, "admin_released", JI(ps.admin_released));
	JADD(o, "hold_s_left", JI(ps.hold_until > zt_now_ms() ? (ps.hold_until - zt_now_ms() + 999) / 1000 : 0));
	JADD(o, "exclusive", pool_excl_json(ps.hold_until != 0));
	return o;
}

/* control request "ip-pool release ADDRESS": the admin frees the lease on ADDRESS, whoever holds
 * it (an identity deleted at the controller, before its lease expires) */
struct json_object *pool_server_release(const char *arg)
{
	struct json_object *o = json_object_new_object();
	struct sipovl_prefix a;
	char owner[POOL_OWNER_MAX + 1], abuf[64];
	enum pool_err e;

	if (!o)
		return NULL;
	if (!ps.on) {
		JADD(o, "error", JS("ip-pool release: this sipovld serves no pool (no ip_pool in its configuration)"));
		return o;
	}
	if (cfg_parse_ip(arg, &a)) {
		JADD(o, "error", JS("ip-pool release: expected an address of the pool, e.g. ip-pool release 100.127.0.5"));
		return o;
	}
	if (ps.writing) {
		JADD(o, "error", JS("ip-pool release: the lease file is being written; ask again"));
		return o;
	}
	if (ps_save_undo()) {
		JADD(o, "error", JS("out of memory"));
		return o;
	}
	ps.pool.now = ps_now();
	e = pool_release_addr(&ps.pool, &a, owner, sizeof(owner));
	if (e) {
		free(ps.undo);
		ps.undo = NULL;
		json_object_put(o);
		o = json_object_new_object();
		if (o)
			JADD(o, "error", JS(e == POOL_E_RANGE ? "ip-pool release: the address is not in the pool's range" :
					    "ip-pool release: no lease on that address"));
		return o;
	}
	ps.admin_released++;
	pool_fmt(&a, abuf, sizeof(abuf));
	logm(L_NOTICE, "ip_pool %s: the lease of %s on %s released by the admin (control socket)", ps.pool.name, owner,
	     abuf);
	ps_write(NULL);
	JADD(o, "ok", JB(true));
	JADD(o, "address", JS(abuf));
	JADD(o, "owner", JS(owner));
	return o;
}
