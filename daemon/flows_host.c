// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld hosting side: a router's Dial for a hosted service becomes a connection (TCP) or a
 * flow (UDP) to its target, from the caller's address where allowed; targets given by name
 * are resolved without blocking.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/endpoint.h"
#include "daemon/flows_int.h"
#include "daemon/pool_check.h"

/*
 * Host TCP: the target accepted the connection; now answer the router's Dial with
 * DialSuccess. Returns nonzero when the flow was closed (the Dial went stale meanwhile).
 */
int host_answer(struct flow *f)
{
	struct zt_dial_req *r = f->dreq;

	f->dreq = NULL;
	f->zc = zt_accept(r, &flow_cbs, f);
	if (!f->zc) {
		flow_close(f, L_WARN, "the router's dial went away while connecting to the target");
		return -1;
	}
	f->zt_up = true;
	if (f->svc)
		f->svc->accepted++;
	D.c.hosted_tcp++;
	return 0;
}

/* ------------------------------------------------------------------ host side */

static void host_refuse(struct svc *s, struct zt_dial_req *req, const char *caller, const char *reason)
{
	s->refused++;
	D.c.hosted_refused++;
	logm(L_WARN, "service %s: refused a dial from '%s': %s", s->name, caller, reason);
	zt_reject(req, reason);
}

/*
 * A socket to dst (from t->src when t->has_src) with its connect started. 0: in progress or
 * *connected; -1: could not set it up; -2: the connect failed at once. reason says why.
 */
static int host_open(const struct host_target *t, const struct sockaddr_storage *dst, int *fdp, bool *connected,
		     char *reason, size_t rlen)
{
	char x[64], y[64];
	int one = 1, fd = socket(dst->ss_family, (t->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) |
				 SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	*connected = false;
	if (fd < 0) {
		snprintf(reason, rlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (t->has_src) {
		if (flow_set_transparent(fd, t->src.ss_family) ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(fd, (const struct sockaddr *)&t->src, cfg_sa_len(&t->src))) {
			snprintf(reason, rlen, "cannot originate from %s: %s", cfg_fmt_sa(&t->src, x, sizeof(x)),
				 strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (t->proto == IPPROTO_TCP) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		tcp_keepalive(fd);
	}
	if (connect(fd, (const struct sockaddr *)dst, cfg_sa_len(dst))) {
		if (errno != EINPROGRESS) {
			snprintf(reason, rlen, "connect %s: %s", cfg_fmt_sa(dst, y, sizeof(y)), strerror(errno));
			close(fd);
			return -2;
		}
	} else {
		*connected = true;
	}
	*fdp = fd;
	return 0;
}

/*
 * Host TCP to a name: the connect to f->b failed (why); try the addresses left. false when
 * none is left (the socket is then closed: the caller closes the flow).
 */
bool host_retry(struct flow *f, const char *why)
{
	struct host_alt *h = f->alt;
	char y[64], reason[300];

	if (!h || f->sock_up || f->dead)
		return false;
	logm(L_INFO, "service %s: connect %s: %s; trying the next address", f->svc ? f->svc->name : "?",
	     cfg_fmt_sa(&f->b, y, sizeof(y)), why);
	zt_io_del(D.loop, &f->io);
	close(f->fd);
	f->fd = -1;
	while (h->next < h->addrs.n) {
		struct host_target t = { .proto = IPPROTO_TCP, .has_src = h->has_src, .src = h->src };
		const struct sockaddr_storage *dst = &h->addrs.a[h->next++];
		bool connected;
		int fd;

		f->b = *dst;
		if (host_open(&t, dst, &fd, &connected, reason, sizeof(reason))) {
			logm(L_INFO, "service %s: %s", f->svc ? f->svc->name : "?", reason);
			continue;
		}
		struct sockaddr_storage local = { 0 };
		socklen_t ll = sizeof(local);

		f->fd = fd;
		if (!getsockname(fd, (struct sockaddr *)&local, &ll))
			f->a = local;
		zt_io_init(&f->io, fd, flow_io_cb, f);
		flow_io(f); /* EPOLLOUT: fires at once when already connected */
		zt_timer_start(D.loop, &f->timer, h->attempt_ms);
		return true;
	}
	return false;
}

/*
 * Who dialed a hosted flow: the router-authenticated identity, else the caller id; checked:
 * its claimed source was checked against the source_map (it owns that address).
 */
struct host_dialer {
	char id[256];
	bool checked;
	uint64_t dial_id; /* app_data's sipovl_dial (attempt 0: none) */
	unsigned attempt;
};

/* app_data's sipovl_dial "<16 hex digits>/<attempt>"; anything else (or none) is no attempt */
static void host_dial_attempt(const char *v, struct host_dialer *who)
{
	char *end;
	unsigned long long id;
	unsigned long n;

	who->dial_id = 0;
	who->attempt = 0;
	if (strspn(v, "0123456789abcdef") != 16 || v[16] != '/')
		return;
	id = strtoull(v, &end, 16);
	n = strtoul(v + 17, &end, 10);
	if (*end || !n || n > 1000000 || v[17] < '1' || v[17] > '9')
		return;
	who->dial_id = id;
	who->attempt = (unsigned)n;
}

/*
 * A hosted UDP flow from the caller's address has the same key (source, target) as a live
 * one: the same dialer's re-dial (its circuit moved to another router) replaces the old
 * flow, whose socket would otherwise share the four-tuple with the new one and take part of
 * the target's datagrams to a circuit being closed; another dialer's is refused. So is an
 * earlier attempt of the dial the live flow is hosting (sipovl_dial: the dialer gave it up
 * unanswered and sent it again; it reached us late): replacing the live flow would send the
 * target's datagrams into a circuit the dialer has given up. false: go on; true: refused
 * (reason written).
 */
static bool host_udp_redial(const struct host_target *t, const struct host_dialer *who, char *reason,
			    size_t rlen)
{
	struct flow *old = udp_find(F_HUDP, &t->src, &t->dst);
	char x[64], y[64];

	if (!old || old->dead)
		return false;
	if (strcmp(old->dialer, who->id)) {
		/* a SIP flow silent past udp_idle_timeout_s lives on only for its dialog
		 * (sip_idle_timeout_s): another dialer may take it over as it could take a closed
		 * flow's place (e.g. the phones' gateway address moved to a second gateway after
		 * the first died), unless only the old claim was checked against the source_map */
		if (zt_now_ms() - old->last_ms >= D.cfg.udp_idle_ms && (who->checked || !old->src_checked)) {
			char m[600];

			D.c.hosted_udp_taken_over++;
			snprintf(m, sizeof(m), "taken over by %s's dial (dialer %s): silent past udp_idle_timeout_s", who->id,
				 old->dialer);
			flow_close(old, L_NOTICE, m);
			return false;
		}
		snprintf(reason, rlen, "udp %s -> %s is already hosted for another dialer", cfg_fmt_sa(&t->src, x, sizeof(x)),
			 cfg_fmt_sa(&t->dst, y, sizeof(y)));
		return true;
	}
	if (who->attempt && old->dial_attempt && who->dial_id == old->dial_id && who->attempt <= old->dial_attempt) {
		D.c.hosted_udp_late_attempts++;
		snprintf(reason, rlen, "attempt %u of this dial came late: attempt %u is hosted (udp %s -> %s)",
			 who->attempt, old->dial_attempt, cfg_fmt_sa(&t->src, x, sizeof(x)), cfg_fmt_sa(&t->dst, y, sizeof(y)));
		return true;
	}
	D.c.hosted_udp_redialed++;
	flow_close(old, L_INFO, "replaced by a new dial of the same dialer (re-dial)");
	return false;
}

static void host_dial_target(struct svc *s, struct zt_dial_req *req, const struct host_target *tp, const char *caller,
			     const struct zt_addrs *alts, const struct host_dialer *who)
{
	struct host_target t = *tp;
	char x[64], y[64], reason[300];
	int fd = -1, rc;
	unsigned ai = 0;
	bool connected = false;

	if (t.proto == IPPROTO_UDP && t.has_src && host_udp_redial(&t, who, reason, sizeof(reason)))
		goto refuse;
	if (t.proto == IPPROTO_UDP && t.has_src)
		xpair_before_host(); /* a worker's flow of the reverse pair is known before this socket exists */
	for (;;) {
		rc = host_open(&t, &t.dst, &fd, &connected, reason, sizeof(reason));
		if (rc != -2 || !alts || t.proto != IPPROTO_TCP || ai + 1 >= alts->n)
			break;
		logm(L_INFO, "service %s: %s; trying the next address", s->name, reason);
		t.dst = alts->a[++ai];
	}
	if (rc == -1) {
		fd = -1;
		goto refuse;
	}
	if (rc == -2) {
		D.c.hosted_connect_failed++; /* the target's failure, as when it fails later */
		logm(L_WARN, "service %s: a dial from '%s' failed: %s", s->name, caller, reason);
		zt_reject(req, reason);
		return;
	}
	struct flow *f = flow_new(t.proto == IPPROTO_TCP ? F_HTCP : F_HUDP, s, fd);

	if (!f) {
		snprintf(reason, sizeof(reason), "memory limit reached");
		goto refuse;
	}
	struct sockaddr_storage local = { 0 };
	socklen_t ll = sizeof(local);

	f->a = t.src;
	if (!getsockname(fd, (struct sockaddr *)&local, &ll))
		f->a = local;
	f->b = t.dst;
	f->spoofed = t.has_src;
	f->src_checked = t.has_src && who->checked;
	snprintf(f->dialer, sizeof(f->dialer), "%s", who->id);
	f->dial_id = who->dial_id;
	f->dial_attempt = who->attempt;
	unsigned timeout_ms = s->host.connect_timeout_ms ? s->host.connect_timeout_ms : 5000;

	if (alts && t.proto == IPPROTO_TCP && !connected && ai + 1 < alts->n) {
		f->alt = calloc(1, sizeof(*f->alt));
		if (f->alt) { /* each address gets its share of the connect timeout (at least 1 s) */
			f->alt->addrs = *alts;
			f->alt->next = ai + 1;
			f->alt->has_src = t.has_src;
			f->alt->src = t.src;
			f->alt->attempt_ms = timeout_ms / alts->n > 1000 ? timeout_ms / alts->n : 1000;
			timeout_ms = f->alt->attempt_ms;
		}
	}
	/*
	 * TCP: answer the Dial once the target has accepted (or refused) the connection, as
	 * ziti-edge-tunnel does, so a dead target reaches the dialer as a DialFailed with the
	 * reason. UDP has nothing to wait for.
	 */
	if (t.proto == IPPROTO_TCP && !connected)
		f->dreq = zt_dial_req_hold(req);
	if (f->dreq) {
		zt_timer_start(D.loop, &f->timer, timeout_ms);
	} else {
		f->zc = zt_accept(req, &flow_cbs, f);
		if (!f->zc) {
			flow_close(f, L_WARN, "accept failed");
			return;
		}
		zt_conn_set_lossy(f->zc, f->type == F_HUDP); /* RTP: its own queue, before stream data */
		f->zt_up = true;
		s->accepted++;
		if (t.proto == IPPROTO_TCP) {
			D.c.hosted_tcp++;
			f->sock_up = connected;
			if (!connected)
				zt_timer_start(D.loop, &f->timer, timeout_ms);
			else
				tcp_idle_arm(f);
		} else {
			D.c.hosted_udp++;
			zt_timer_start(D.loop, &f->timer, D.cfg.udp_idle_ms);
		}
	}
	flow_io(f);
	if (t.proto == IPPROTO_UDP && f->spoofed && !udp_insert(f)) {
		struct flow *i = udp_find(F_IUDP, &f->b, &f->a);

		if (i && !i->dead)
			udp_pair(i, f);
		else
			xpair_hosted(f); /* a worker's (flows_xpair.c) */
	}
	logm(L_INFO, "service %s: hosting a %s dial from '%s' to %s from %s%s", s->name,
	     t.proto == IPPROTO_TCP ? "tcp" : "udp", caller, cfg_fmt_sa(&t.dst, y, sizeof(y)),
	     cfg_fmt_sa(&f->a, x, sizeof(x)), t.has_src ? " (caller's address)" : "");
	return;
refuse:
	if (fd >= 0)
		close(fd);
	host_refuse(s, req, caller, reason);
}

/*
 * A hosted dial is held (the router's Dial unanswered) while it waits: on an endpoint for the
 * pool server's word on its claimed source (pool_check.c), then, to a host name, for the
 * resolver (zt_resolve.h: never blocks the loop, answers cached for their TTL).
 */
struct hres {
	struct hres *next, *prev;
	struct svc *s;
	struct zt_dial_req *req; /* held */
	struct pool_check *pc;   /* first, on an endpoint: the claimed source's lease (pool_check.c) */
	struct zt_resolve_req *rq;
	struct host_target t;
	struct host_dialer who;
	char caller[256];
};

static struct hres *hres_list;

static void hres_unlink(struct hres *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		hres_list = h->next;
	if (h->next)
		h->next->prev = h->prev;
}

static void hres_done(void *arg, int err, const char *msg, const struct zt_addrs *addrs)
{
	struct hres *h = arg;

	hres_unlink(h);
	if (!zt_dial_req_valid(h->req)) { /* the binding went away meanwhile */
		zt_reject(h->req, "binding closed");
		free(h);
		return;
	}
	if (err) {
		host_refuse(h->s, h->req, h->caller, msg);
		free(h);
		return;
	}
	h->t.dst = addrs->a[0];
	host_dial_target(h->s, h->req, &h->t, h->caller, addrs, &h->who);
	free(h);
}

/* after the lease check: resolve the target's name, or dial it */
static void hold_go_on(struct hres *h)
{
	if (!h->t.dst_host[0]) {
		hres_unlink(h);
		host_dial_target(h->s, h->req, &h->t, h->caller, NULL, &h->who);
		free(h);
		return;
	}
	h->rq = zt_resolve(D.res, h->t.dst_host, h->t.dst_port, h->t.has_src ? h->t.src.ss_family : AF_UNSPEC,
			   hres_done, h);
	if (!h->rq) {
		hres_unlink(h);
		host_refuse(h->s, h->req, h->caller, "out of memory");
		free(h);
	}
}

static void host_lease_refused(struct hres *h, const char *why)
{
	h->s->refused++;
	D.c.hosted_refused++;
	D.c.hosted_src_refused++;
	logm(L_WARN, "service %s: refused a dial from identity '%s': %s", h->s->name, h->who.id, why);
	zt_reject(h->req, why);
}

static void hchk_done(void *arg, const char *refusal)
{
	struct hres *h = arg;

	h->pc = NULL;
	if (!zt_dial_req_valid(h->req)) { /* the binding went away meanwhile */
		hres_unlink(h);
		zt_reject(h->req, "binding closed");
		free(h);
		return;
	}
	if (refusal) {
		hres_unlink(h);
		host_lease_refused(h, refusal);
		free(h);
		return;
	}
	hold_go_on(h);
}

/* cancel the held dials of one service (s) or all (NULL), refusing them */
void hres_cancel(struct svc *s, const char *why)
{
	for (struct hres *h = hres_list, *n; h; h = n) {
		n = h->next;
		if (s && h->s != s)
			continue;
		hres_unlink(h);
		pool_check_cancel(h->pc);
		if (h->rq)
			zt_resolve_cancel(h->rq);
		zt_reject(h->req, why);
		free(h);
	}
}

/*
 * The source a dialer claims must be one of its identity's (source_map): refused and logged
 * (identity, claimed source, service) otherwise. dw: who dialed, and whether the claim was
 * checked (false without a source_map).
 */
static bool host_source_refused(struct svc *s, struct zt_dial_req *req, const struct host_target *t, const char *caller,
				struct host_dialer *dw)
{
	char rid[128], rname[256], who[256], err[400], ip[64];
	bool unchecked, auth = zt_dial_req_dialer(req, rid, sizeof(rid), rname, sizeof(rname));

	if (!cfg_source_allowed(&D.cfg, auth ? rid : NULL, auth ? rname : NULL, strcmp(caller, "?") ? caller : NULL,
				&t->src, who, sizeof(who), &unchecked, err, sizeof(err))) {
		dw->checked = !unchecked;
		if (!unchecked) {
			snprintf(dw->id, sizeof(dw->id), "%s", who);
			logm(L_DEBUG, "service %s: identity '%s' may originate from %s (source_map)", s->name, who,
			     cfg_fmt_ip(&t->src, ip, sizeof(ip)));
		}
		return false;
	}
	s->refused++;
	D.c.hosted_refused++;
	D.c.hosted_src_refused++;
	logm(L_WARN, "service %s: refused a dial from identity '%s': %s", s->name, who[0] ? who : caller, err);
	zt_reject(req, err);
	return true;
}

void host_on_dial(struct zt_listener *l, struct zt_dial_req *req, void *user)
{
	struct svc *s = user;
	struct app_data ad;
	struct host_target t;
	char err[CFG_ERRLEN], reason[300];
	size_t adl = 0;
	const uint8_t *adp = zt_dial_req_app_data(req, &adl);
	const char *caller = zt_dial_req_caller(req);
	struct host_dialer who = { .checked = false };
	char rid[128], rname[256];
	bool auth;

	(void)l;
	if (!caller || !*caller)
		caller = "?";
	/* who dialed: the router's word when it gives one (ziti >= 2.0), else the caller id (read
	 * here: a held request no longer has the router's message, zt_dial_req_hold) */
	auth = zt_dial_req_dialer(req, rid, sizeof(rid), rname, sizeof(rname)) && rid[0];
	if (auth || rname[0])
		snprintf(who.id, sizeof(who.id), "%s", rname[0] ? rname : rid);
	else
		snprintf(who.id, sizeof(who.id), "%s", caller);
	if (app_data_parse(adp, adl, &ad, err, sizeof(err))) {
		snprintf(reason, sizeof(reason), "malformed app_data: %s", err);
		host_refuse(s, req, caller, reason);
		return;
	}
	host_dial_attempt(ad.sipovl_dial, &who);
	if (host_compute(&s->host, adl ? &ad : NULL, &t, err, sizeof(err))) {
		host_refuse(s, req, caller, err);
		return;
	}
	if (t.has_src && host_source_refused(s, req, &t, caller, &who))
		return;
	bool lease = t.has_src && endpoint_pool();

	if (!lease && !t.dst_host[0]) {
		host_dial_target(s, req, &t, caller, NULL, &who);
		return;
	}
	/* held: the claimed source's lease (an endpoint), a fixed host name to resolve (numeric-only
	 * services never get here), without blocking */
	struct hres *h = calloc(1, sizeof(*h));
	struct zt_dial_req *held = h ? zt_dial_req_hold(req) : NULL;

	if (!held) {
		free(h);
		host_refuse(s, req, caller, "out of memory");
		return;
	}
	h->s = s;
	h->req = held;
	h->t = t;
	h->who = who;
	snprintf(h->caller, sizeof(h->caller), "%s", caller);
	h->next = hres_list;
	if (hres_list)
		hres_list->prev = h;
	hres_list = h;
	if (lease) {
		/* the lease's owner is named as the pool server names it: the router-authenticated
		 * id, else the caller id where source_identity "caller" trusts it */
		const char *dialer = auth ? rid : D.cfg.src_trust_caller && strcmp(caller, "?") ? caller : NULL;
		char why[400];
		int rc = pool_check_source(&t.src, dialer, hchk_done, h, &h->pc, why, sizeof(why));

		if (rc == 1)
			return;
		if (rc < 0) {
			hres_unlink(h);
			host_lease_refused(h, why);
			free(h);
			return;
		}
	}
	hold_go_on(h);
}
