// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld's DNS responder on the event loop: UDP and TCP listeners on dns_listen, answers for
 * the intercepted services' names from dns_zone.c (their addresses installed in the kernel's
 * intercepts before the answer leaves), every other query relayed unchanged to the upstream
 * resolvers under a fresh query id (bounded pending table; an upstream that does not answer in
 * dns_timeout_ms passes the query to the next one; after the last, SERVFAIL). The answers that
 * gave names new addresses in one read burst wait for one kernel apply (not one each). Nothing blocks:
 * sockets are non-blocking, a TCP client that does not read is closed when its output bound
 * is reached. What a query gets (answer, relay, nothing) is dns_respond.c's: only the clients of
 * dns_allow are answered, each one's UDP answers within dns_rate_limit (dns_guard.c). The names'
 * addresses outlive a restart (dns_names_store.c keeps the table in a file) and a restart of the
 * responder on reload (the new zone takes the old one's names).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/dns_guard.h"
#include "daemon/dns_msg.h"
#include "daemon/dns_names_store.h"
#include "daemon/dns_server.h"
#include "daemon/dns_zone.h"
#include "daemon/sipovld.h"
#include "daemon/workers.h"

#define RELAY_MAX 256           /* queries relayed and not answered yet */
#define TCP_CONNS_MAX 32
#define TCP_IDLE_MS 10000       /* RFC 7766 6.2.3: a few seconds */
#define TCP_OUT_MAX (256u << 10)
#define NEW_MAX 64              /* answers waiting for one kernel apply (a UDP read burst) */

struct tconn {
	struct tconn *next;
	int fd;
	struct sockaddr_storage sa;     /* the client */
	socklen_t salen;
	struct zt_io io;
	struct zt_timer idle;
	uint8_t in[2 + DNS_TCP_MAX];
	size_t inlen;
	uint8_t *out;
	size_t outlen;
	bool reading;   /* tc_read is handling its queries: closing waits for it */
	bool dead;      /* to be closed once tc_read's loop is back (a bound passed) */
};

struct client {
	int ufd;                        /* UDP: the listener's socket; -1 for TCP */
	struct sockaddr_storage sa;
	socklen_t salen;
	struct tconn *tc;
};

struct pend {
	bool used;
	uint16_t id, client_id;
	unsigned upstream, tries;
	struct client c;
	struct dns_query q;
	uint8_t *msg;                   /* the query as received (resent to the next upstream) */
	size_t len;
	struct zt_timer timer;
};

struct lsock {
	int fd;
	struct zt_io io;
};

/* an answer for a name given a new address: sent after the kernel has the address */
struct new_ans {
	struct client c;
	uint8_t *m;
	size_t len;
	char name[DNS_NAME_STRLEN];
};

static struct {
	bool on;
	struct dns_zone *zone;
	struct lsock udp[DCFG_MAX_DNS_ADDRS], tcp[DCFG_MAX_DNS_ADDRS];
	size_t n_listen;
	struct lsock up[2];             /* upstream sockets, IPv4 and IPv6 */
	struct sockaddr_storage ups[DCFG_MAX_DNS_ADDRS];
	size_t n_ups;
	unsigned timeout_ms;
	struct pend pend[RELAY_MAX];
	struct tconn *tconns;
	unsigned n_tconns;
	struct new_ans news[NEW_MAX];
	size_t n_news;
	uint64_t logged_reclaimed;
	struct dns_stats st;
} S;

static uint8_t obuf[DNS_TCP_MAX];

static void tc_close(struct tconn *t);

/* ------------------------------------------------------------------ sending */

static void reply(struct client *c, const uint8_t *m, size_t len)
{
	if (c->ufd >= 0) {
		if (sendto(c->ufd, m, len, MSG_DONTWAIT, (struct sockaddr *)&c->sa, c->salen) < 0)
			S.st.send_errors++;
		return;
	}
	struct tconn *t = c->tc;

	if (!t || t->dead)
		return;
	if (t->outlen + 2 + len > TCP_OUT_MAX) {
		logm(L_INFO, "dns: TCP client does not read its answers: closed");
		/*
		 * Within tc_read's loop the same read's later queries still hold t: it
		 * closes t once handle() is back, and they answer nothing.
		 */
		if (t->reading)
			t->dead = true;
		else
			tc_close(t);
		return;
	}
	uint8_t *no = realloc(t->out, t->outlen + 2 + len);

	if (!no)
		return;
	t->out = no;
	dns_put16(no + t->outlen, (uint16_t)len);
	memcpy(no + t->outlen + 2, m, len);
	t->outlen += 2 + len;
	zt_io_set(D.loop, &t->io, EPOLLIN | EPOLLOUT);
}

static void reply_error(struct client *c, const struct dns_query *q, int rcode)
{
	size_t l = dns_error(obuf, sizeof(obuf), q, rcode);

	if (rcode == DNS_R_SERVFAIL)
		S.st.servfail++;
	else if (rcode == DNS_R_REFUSED)
		S.st.refused++;
	else
		S.st.formerr++;
	if (l)
		reply(c, obuf, l);
}

/* ------------------------------------------------------------------ relay */

static void pend_free(struct pend *p)
{
	zt_timer_stop(D.loop, &p->timer);
	free(p->msg);
	p->msg = NULL;
	p->used = false;
}

static int relay_send(struct pend *p)
{
	const struct sockaddr_storage *u = &S.ups[p->upstream];
	int fd = S.up[u->ss_family == AF_INET6].fd;

	dns_put16(p->msg, p->id);
	if (fd < 0 || sendto(fd, p->msg, p->len, MSG_DONTWAIT, (const struct sockaddr *)u, cfg_sa_len(u)) < 0)
		return -1;
	zt_timer_start(D.loop, &p->timer, S.timeout_ms);
	return 0;
}

/* the upstream did not answer in time (or could not be sent to): the next one, or SERVFAIL */
static void relay_next(void *arg)
{
	struct pend *p = arg;

	while (++p->tries < S.n_ups) {
		p->upstream = (p->upstream + 1) % (unsigned)S.n_ups;
		if (!relay_send(p))
			return;
	}
	S.st.upstream_timeouts++;
	dns_put16(p->msg, p->client_id);
	reply_error(&p->c, &p->q, DNS_R_SERVFAIL);
	pend_free(p);
}

static void relay_start(const uint8_t *m, size_t len, const struct dns_query *q, struct client *c)
{
	struct pend *p = NULL;
	uint16_t id;

	for (size_t i = 0; i < RELAY_MAX && !p; i++)
		if (!S.pend[i].used)
			p = &S.pend[i];
	if (!p || !(p->msg = malloc(len))) {
		S.st.relay_full++;
		reply_error(c, q, DNS_R_SERVFAIL);
		return;
	}
	for (bool dup = true; dup;) { /* a random id no other pending query has */
		id = (uint16_t)randombytes_uniform(65536);
		dup = false;
		for (size_t i = 0; i < RELAY_MAX && !dup; i++)
			dup = S.pend[i].used && S.pend[i].id == id;
	}
	memcpy(p->msg, m, len);
	p->len = len;
	p->used = true;
	p->id = id;
	p->client_id = q->id;
	p->c = *c;
	p->q = *q;
	p->tries = 0;
	p->upstream = (unsigned)randombytes_uniform((uint32_t)S.n_ups);
	zt_timer_init(&p->timer, relay_next, p);
	S.st.relayed++;
	if (relay_send(p)) {
		p->tries = 0;
		relay_next(p);
	}
}

static void up_cb(void *arg, uint32_t ev)
{
	struct lsock *u = arg;
	uint8_t m[65536];
	struct sockaddr_storage from;
	socklen_t fl;
	ssize_t r;

	(void)ev;
	for (int burst = 0; burst < 64; burst++) {
		fl = sizeof(from);
		r = recvfrom(u->fd, m, sizeof(m), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (r < 0)
			return;
		if (r < DNS_HDRLEN)
			continue;
		uint16_t id = dns_get16(m);
		struct pend *p = NULL;

		for (size_t i = 0; i < RELAY_MAX && !p; i++)
			if (S.pend[i].used && S.pend[i].id == id)
				p = &S.pend[i];
		if (!p)
			continue;
		/* from the upstream it was sent to, about the question asked */
		const struct sockaddr_storage *want = &S.ups[p->upstream];
		char name[DNS_NAME_STRLEN];
		size_t next;

		if (from.ss_family != want->ss_family || cfg_sa_port(&from) != cfg_sa_port(want) ||
		    memcmp(cfg_sa_addr(&from), cfg_sa_addr(want), from.ss_family == AF_INET ? 4 : 16)) {
			S.st.upstream_mismatch++;
			continue;
		}
		if (!(dns_get16(m + 2) & DNS_F_QR) || dns_get16(m + 4) != 1 ||
		    dns_name_read(m, (size_t)r, DNS_HDRLEN, name, sizeof(name), &next, NULL, 0) || strcmp(name, p->q.name) ||
		    next + 4 > (size_t)r || dns_get16(m + next) != p->q.qtype) {
			S.st.upstream_mismatch++;
			continue;
		}
		dns_put16(m, p->client_id);
		reply(&p->c, m, (size_t)r);
		S.st.relay_answers++;
		pend_free(p);
	}
}

/* ------------------------------------------------------------------ queries */

/*
 * A client that asks for a service's name is about to dial it: fetch the services' Dial
 * sessions now, so that the first packet does not wait for the controller (a phone sends its
 * INVITE right after the lookup; a dial that waits longer than T1 gets the INVITE retransmitted).
 */
#define PREPARE_EVERY_MS 5000

static void prepare_dials(const char *name)
{
	uint32_t kids[8];
	size_t n = dns_zone_kids(S.zone, name, kids, 8);

	for (size_t i = 0; i < n; i++) {
		struct svc *s = svc_by_kid(kids[i]);

		if (!s)
			continue;
		if (svc_prepare_dial(s))
			logm(L_DEBUG, "dns: %s: fetching service %s's Dial session before its first dial", name, s->name);
		/* sipovl.ko may steer the flow to any worker: at most once per PREPARE_EVERY_MS each */
		uint64_t now = zt_now_ms();

		if (!s->prepare_sent_ms || now - s->prepare_sent_ms >= PREPARE_EVERY_MS) {
			s->prepare_sent_ms = now;
			workers_send_prepare(s->kname);
		}
	}
}

/*
 * The answers of the names given addresses since the last flush: one kernel apply for all of
 * them (a flood of new names costs one apply per read burst, not one per name), then the answers.
 */
static void news_flush(void)
{
	dns_names_changed(); /* names given addresses (or reclaimed): the file follows */
	if (!S.n_news)
		return;
	S.st.kernel_applies++;
	if (S.n_news == 1)
		logm(L_INFO, "dns: %s given an address (%zu names); intercepts updated", S.news[0].name,
		     dns_zone_names(S.zone));
	else
		logm(L_INFO, "dns: %zu names given addresses (%s, ...; %zu names); intercepts updated", S.n_news,
		     S.news[0].name, dns_zone_names(S.zone));
	if (S.zone) {
		struct dns_zone_stats zs;

		dns_zone_stats(S.zone, &zs);
		if (zs.reclaimed != S.logged_reclaimed)
			logm(L_INFO, "dns: %llu names not used for %u s and without flows reclaimed (%llu so far)",
			     (unsigned long long)(zs.reclaimed - S.logged_reclaimed), D.cfg.dns_name_idle_s,
			     (unsigned long long)zs.reclaimed);
		S.logged_reclaimed = zs.reclaimed;
	}
	kernel_apply_now();
	for (size_t i = 0; i < S.n_news; i++) {
		struct new_ans *a = &S.news[i];

		reply(&a->c, a->m, a->len);
		free(a->m);
		a->m = NULL;
		if (S.zone)
			prepare_dials(a->name);
	}
	S.n_news = 0;
}

static void handle(const uint8_t *m, size_t len, struct client *c)
{
	struct dns_query q;
	size_t l;
	uint64_t now = zt_now_ms();
	struct dns_responder r = { S.zone, dns_guard_acl(), dns_guard_rrl(), S.n_ups > 0, &S.st };
	uint64_t refused = S.st.refused_source;
	enum dns_action act;

	dns_guard_allowed(&c->sa, now); /* "connected" read again when the client is new to it */
	act = dns_respond(&r, m, len, &c->sa, c->ufd < 0, now, &q, obuf, sizeof(obuf), &l);
	if (S.st.refused_source != refused)
		dns_guard_refused(&c->sa, now, S.st.refused_source);
	switch (act) {
	case DNS_ACT_NONE:
		return;
	case DNS_ACT_RELAY:
		relay_start(m, len, &q, c);
		return;
	case DNS_ACT_ANSWER_NEW: { /* the intercepts must include the address before the client has it */
		struct new_ans *a;

		if (S.n_news == NEW_MAX)
			news_flush();
		a = &S.news[S.n_news];
		if ((a->m = malloc(l))) {
			memcpy(a->m, obuf, l);
			a->len = l;
			a->c = *c;
			snprintf(a->name, sizeof(a->name), "%s", q.name);
			S.n_news++;
			return; /* sent by news_flush, at the end of this read */
		}
		S.st.kernel_applies++;
		kernel_apply_now(); /* obuf is not touched by the apply: it holds the answer still */
		reply(c, obuf, l);
		prepare_dials(q.name);
		return;
	}
	case DNS_ACT_ANSWER:
		reply(c, obuf, l);
		prepare_dials(q.name);
		return;
	case DNS_ACT_REPLY:
		reply(c, obuf, l);
		return;
	}
}

static void udp_cb(void *arg, uint32_t ev)
{
	struct lsock *ls = arg;
	uint8_t m[65536];
	struct client c = { .ufd = ls->fd };

	(void)ev;
	for (int burst = 0; burst < 64; burst++) {
		c.salen = sizeof(c.sa);
		ssize_t r = recvfrom(ls->fd, m, sizeof(m), MSG_DONTWAIT, (struct sockaddr *)&c.sa, &c.salen);

		if (r < 0)
			break;
		handle(m, (size_t)r, &c);
	}
	news_flush();
}

/* ------------------------------------------------------------------ TCP */

static void tc_close(struct tconn *t)
{
	for (size_t i = 0; i < RELAY_MAX; i++) /* answers still to come go nowhere */
		if (S.pend[i].used && S.pend[i].c.tc == t)
			pend_free(&S.pend[i]);
	for (size_t i = 0; i < S.n_news; i++) /* nor those waiting for news_flush's apply */
		if (S.news[i].c.tc == t)
			S.news[i].c.tc = NULL;
	for (struct tconn **pp = &S.tconns; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	S.n_tconns--;
	zt_io_del(D.loop, &t->io);
	zt_timer_stop(D.loop, &t->idle);
	close(t->fd);
	free(t->out);
	zt_loop_defer_free(D.loop, free, t);
}

static void tc_idle(void *arg)
{
	tc_close(arg);
}

static void tc_read(struct tconn *t, uint32_t ev)
{
	ssize_t r;

	if (ev & EPOLLOUT) {
		r = t->outlen ? send(t->fd, t->out, t->outlen, MSG_DONTWAIT | MSG_NOSIGNAL) : 0;
		if (r < 0 && errno != EAGAIN) {
			tc_close(t);
			return;
		}
		if (r > 0) {
			memmove(t->out, t->out + r, t->outlen - (size_t)r);
			t->outlen -= (size_t)r;
		}
		if (!t->outlen)
			zt_io_set(D.loop, &t->io, EPOLLIN);
	}
	if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	r = recv(t->fd, t->in + t->inlen, sizeof(t->in) - t->inlen, MSG_DONTWAIT);
	if (r == 0 || (r < 0 && errno != EAGAIN)) {
		tc_close(t);
		return;
	}
	if (r < 0)
		return;
	t->inlen += (size_t)r;
	zt_timer_start(D.loop, &t->idle, TCP_IDLE_MS);
	for (;;) {
		size_t ml;
		long used = dns_tcp_next(t->in, t->inlen, &ml);
		struct client c = { .ufd = -1, .sa = t->sa, .salen = t->salen, .tc = t };

		if (used < 0) {
			tc_close(t);
			return;
		}
		if (!used)
			return;
		t->reading = true;
		handle(t->in + 2, ml, &c);
		t->reading = false;
		if (t->dead) {
			tc_close(t);
			return;
		}
		memmove(t->in, t->in + used, t->inlen - (size_t)used);
		t->inlen -= (size_t)used;
	}
}

static void tc_cb(void *arg, uint32_t ev)
{
	tc_read(arg, ev);
	news_flush(); /* t may be closed: its answers are dropped (tc_close), the apply is made */
}

static void accept_cb(void *arg, uint32_t ev)
{
	struct lsock *ls = arg;

	(void)ev;
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		int fd = accept4(ls->fd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (!dns_guard_allowed(&sa, zt_now_ms())) { /* outside dns_allow: closed at once */
			S.st.refused_source++;
			dns_guard_refused(&sa, zt_now_ms(), S.st.refused_source);
			close(fd);
			continue;
		}
		struct tconn *t = S.n_tconns < TCP_CONNS_MAX ? calloc(1, sizeof(*t)) : NULL;

		if (!t) {
			S.st.tcp_refused++;
			close(fd);
			continue;
		}
		t->fd = fd;
		t->sa = sa;
		t->salen = salen;
		zt_io_init(&t->io, fd, tc_cb, t);
		zt_timer_init(&t->idle, tc_idle, t);
		zt_io_set(D.loop, &t->io, EPOLLIN);
		zt_timer_start(D.loop, &t->idle, TCP_IDLE_MS);
		t->next = S.tconns;
		S.tconns = t;
		S.n_tconns++;
		S.st.tcp_conns++;
	}
}

/* ------------------------------------------------------------------ start, stop */

static int sock_open(const struct sockaddr_storage *a, int type, struct lsock *ls, zt_io_cb cb)
{
	int one = 1, fd = socket(a->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	char b[64];

	ls->fd = -1;
	if (fd < 0)
		return -1;
	if (type == SOCK_STREAM) /* not for UDP: two daemons would share the port silently */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)a, cfg_sa_len(a)) || (type == SOCK_STREAM && listen(fd, 64))) {
		logm(L_ERR, "dns: cannot listen on %s/%s: %s", cfg_fmt_sa(a, b, sizeof(b)),
		     type == SOCK_STREAM ? "tcp" : "udp", strerror(errno));
		close(fd);
		return -1;
	}
	ls->fd = fd;
	zt_io_init(&ls->io, fd, cb, ls);
	zt_io_set(D.loop, &ls->io, EPOLLIN);
	return 0;
}

static void sock_close(struct lsock *ls)
{
	if (ls->fd < 0)
		return;
	zt_io_del(D.loop, &ls->io);
	close(ls->fd);
	ls->fd = -1;
}

/* /etc/resolv.conf's name servers, read once when the responder starts (a small local file) */
static void resolv_conf(void)
{
	FILE *f = fopen("/etc/resolv.conf", "re");
	char line[256], a[128];

	if (!f)
		return;
	while (S.n_ups < DCFG_MAX_DNS_ADDRS && fgets(line, sizeof(line), f))
		if (sscanf(line, " nameserver %127s", a) == 1 && !strchr(a, '%') &&
		    !cfg_parse_hostport(a, &S.ups[S.n_ups], NULL)) {
			struct sockaddr_storage *u = &S.ups[S.n_ups];

			if (u->ss_family == AF_INET)
				((struct sockaddr_in *)u)->sin_port = htons(53);
			else
				((struct sockaddr_in6 *)u)->sin6_port = htons(53);
			S.n_ups++;
		}
	fclose(f);
}

static void touch_dst(const struct sockaddr_storage *dst, void *arg)
{
	dns_zone_touch(arg, dst->ss_family, cfg_sa_addr(dst));
}

/* before a reclaim: the names with live intercepted flows are in use now */
static void live_flows(struct dns_zone *z, void *arg)
{
	(void)arg;
	flows_intercept_dsts(touch_dst, z);
}

void dns_stop(void)
{
	if (!S.on)
		return;
	dns_names_stop();
	for (size_t i = 0; i < S.n_news; i++)
		free(S.news[i].m);
	S.n_news = 0;
	for (size_t i = 0; i < RELAY_MAX; i++)
		if (S.pend[i].used)
			pend_free(&S.pend[i]);
	while (S.tconns)
		tc_close(S.tconns);
	for (size_t i = 0; i < S.n_listen; i++) {
		sock_close(&S.udp[i]);
		sock_close(&S.tcp[i]);
	}
	sock_close(&S.up[0]);
	sock_close(&S.up[1]);
	dns_zone_free(S.zone);
	S.zone = NULL;
	dns_guard_stop();
	S.on = false;
}

int dns_start(void)
{
	const struct daemon_cfg *d = &D.cfg;
	int ok = 0;
	size_t carry_len = 0;
	char *carry = S.zone ? dns_zone_dump(S.zone, &carry_len) : NULL, pbuf[4200]; /* a reload: the names so far */
	bool had_zone = S.zone;

	dns_stop();
	if (!d->n_dns_listen) {
		free(carry);
		return 0;
	}
	S.logged_reclaimed = 0;
	S.zone = dns_zone_new(d->has_dns_range4 ? &d->dns_range4 : NULL, d->has_dns_range6 ? &d->dns_range6 : NULL);
	if (!S.zone) {
		logm(L_WARN, "dns: no virtual range (dns_range4, dns_range6): every query is relayed");
	} else {
		dns_zone_set_idle(S.zone, d->dns_name_idle_s ? d->dns_name_idle_s : DNS_ZONE_IDLE_S);
		dns_zone_set_live(S.zone, live_flows, NULL);
		dns_zone_clock(S.zone, zt_now_ms() / 1000);
		if (had_zone && !carry)
			logm(L_ERR, "dns: out of memory: names get new addresses");
		dns_names_start(S.zone, dns_names_path(d, pbuf, sizeof(pbuf)), carry, carry_len);
	}
	free(carry);
	S.on = true;
	S.n_listen = d->n_dns_listen;
	for (size_t i = 0; i < S.n_listen; i++) {
		ok += !sock_open(&d->dns_listen[i], SOCK_DGRAM, &S.udp[i], udp_cb);
		ok += !sock_open(&d->dns_listen[i], SOCK_STREAM, &S.tcp[i], accept_cb);
	}
	S.n_ups = 0;
	if (d->has_dns_upstream) {
		memcpy(S.ups, d->dns_upstream, sizeof(S.ups));
		S.n_ups = d->n_dns_upstream;
	} else {
		resolv_conf();
	}
	for (size_t i = 0; i < S.n_ups;) { /* never relay to ourselves */
		bool self = false;

		for (size_t j = 0; j < S.n_listen; j++)
			self |= !memcmp(&S.ups[i], &d->dns_listen[j], cfg_sa_len(&S.ups[i]));
		if (self)
			S.ups[i] = S.ups[--S.n_ups];
		else
			i++;
	}
	for (int f = 0; f < 2; f++) {
		struct sockaddr_storage any = { .ss_family = f ? AF_INET6 : AF_INET };

		sock_open(&any, SOCK_DGRAM, &S.up[f], up_cb);
	}
	S.timeout_ms = d->dns_timeout_ms ? d->dns_timeout_ms : 2000;
	dns_guard_apply(true);
	logm(ok == 2 * (int)S.n_listen ? L_NOTICE : L_ERR, "dns: responder on %d of %zu sockets, %zu upstream resolvers",
	     ok, 2 * S.n_listen, S.n_ups);
	dns_services_changed();
	return ok == 2 * (int)S.n_listen ? 0 : -1;
}

/* ------------------------------------------------------------------ services */

void dns_services_changed(void)
{
	struct dns_zsvc *v = NULL;
	size_t n = 0;
	int dropped;

	if (!S.zone)
		return;
	dns_zone_clock(S.zone, zt_now_ms() / 1000); /* restored names are kept a while without a service */
	for (struct ident *id = D.idents; id; id = id->next)
		for (struct svc *s = id->svcs; s; s = s->next) {
			if (!s->has_icpt || !(s->perms & ZT_PERM_DIAL) || !s->icpt.n_skipped)
				continue;
			struct dns_zsvc *nv = realloc(v, (n + 1) * sizeof(*v));

			if (!nv) {
				free(v);
				logm(L_ERR, "dns: out of memory");
				return;
			}
			v = nv;
			v[n++] = (struct dns_zsvc){ s->kid, s->icpt.skipped, s->icpt.n_skipped, s->icpt.protos,
						    s->icpt.ports, s->icpt.n_ports };
		}
	dropped = dns_zone_set(S.zone, v, n);
	free(v);
	if (dropped > 0)
		logm(L_INFO, "dns: %d names released (no service has them any more)", dropped);
	dns_names_changed();
}

bool dns_on(void)
{
	return S.on && S.zone;
}

int dns_svc_prefixes(const struct svc *s, struct sipovl_prefix **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return S.zone ? dns_zone_prefixes(S.zone, s->kid, out, n) : 0;
}

const char *dns_hostname_of(const struct sockaddr_storage *dst)
{
	return S.zone ? dns_zone_name_of(S.zone, dst->ss_family, cfg_sa_addr(dst)) : NULL;
}

void dns_get_stats(struct dns_stats *st)
{
	*st = S.st;
	st->names = S.zone ? dns_zone_names(S.zone) : 0;
	if (S.zone) {
		struct dns_zone_stats zs;

		dns_zone_stats(S.zone, &zs);
		st->names_reclaimed = zs.reclaimed;
		st->names_refused = zs.refused;
		st->names_collisions = zs.collisions;
		st->names_restored = zs.restored;
	}
	st->pending = 0;
	for (size_t i = 0; i < RELAY_MAX; i++)
		st->pending += S.pend[i].used;
}

struct json_object *dns_status_json(void)
{
	struct json_object *j = json_object_new_object();
	struct dns_stats st;

	dns_get_stats(&st);
	JADD(j, "enabled", JB(S.on));
	JADD(j, "services", JI(S.zone ? dns_zone_services(S.zone) : 0));
	JADD(j, "names", JI(st.names));
	JADD(j, "names_max", JI(DNS_ZONE_MAX_NAMES));
	JADD(j, "names_reclaimed", JI(st.names_reclaimed));
	JADD(j, "names_refused", JI(st.names_refused));
	JADD(j, "names_collisions", JI(st.names_collisions));
	JADD(j, "names_restored", JI(st.names_restored));
	struct dns_names_stats ns;

	dns_names_stats(&ns);
	JADD(j, "names_file", ns.path ? json_object_new_string(ns.path) : NULL);
	JADD(j, "names_file_writes", JI(ns.writes));
	JADD(j, "names_file_errors", JI(ns.write_errors));
	JADD(j, "kernel_applies", JI(st.kernel_applies));
	JADD(j, "upstreams", JI(S.n_ups));
	JADD(j, "queries", JI(st.queries));
	JADD(j, "answered", JI(st.answered));
	JADD(j, "relayed", JI(st.relayed));
	JADD(j, "relay_answers", JI(st.relay_answers));
	JADD(j, "pending", JI(st.pending));
	JADD(j, "upstream_timeouts", JI(st.upstream_timeouts));
	JADD(j, "upstream_mismatch", JI(st.upstream_mismatch));
	JADD(j, "relay_full", JI(st.relay_full));
	JADD(j, "formerr", JI(st.formerr));
	JADD(j, "servfail", JI(st.servfail));
	JADD(j, "refused", JI(st.refused));
	JADD(j, "dropped", JI(st.dropped));
	JADD(j, "tcp_connections", JI(st.tcp_conns));
	JADD(j, "tcp_refused", JI(st.tcp_refused));
	JADD(j, "refused_source", JI(st.refused_source));
	JADD(j, "rate_limited_tc", JI(st.rate_limited_tc));
	JADD(j, "rate_limited_dropped", JI(st.rate_limited_dropped));
	dns_guard_status(j);
	return j;
}
