// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld data plane: intercepted TCP connections and UDP flows (from the sockets registered
 * with sipovl.ko) dialed into Ziti, and hosted dials originated to their targets, with the
 * caller's address as the source when allowed (transparent sockets).
 *
 * Every flow is one socket and one Ziti connection. TCP: bytes are pumped both ways with
 * half-close; socket reads pause while the Ziti side is congested. UDP: one datagram is one
 * Ziti message; intercepted flows are keyed by their 5-tuple and have a per-flow socket bound
 * to the original destination and connected to the client (the kernel then delivers the
 * flow's datagrams to it); flows end after the configured idle time. TCP flows end when both
 * ends were silent for tcp_idle_timeout_s, or tcp_half_closed_timeout_s once either sent FIN,
 * and their sockets carry TCP keepalive (a vanished peer is an error). Memory (flow state and
 * buffered bytes) is bounded by the configured limit: when it is reached new flows are
 * refused, datagrams dropped, and mem_limit_hits counts it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/sipovld.h"

enum ftype { F_ITCP, F_IUDP, F_HTCP, F_HUDP };
static const char *const ftype_name[] = { "intercept-tcp", "intercept-udp", "host-tcp", "host-udp" };

struct qbuf {
	struct qbuf *next;
	size_t len, off;
	uint8_t data[];
};

struct flow {
	struct flow *next, *prev;     /* all flows */
	struct flow *hnext;           /* UDP intercept hash chain */
	enum ftype type;
	struct svc *svc;
	int fd;
	struct zt_io io;
	struct zt_conn *zc;
	struct zt_dial_req *dreq;     /* host TCP: the router's Dial, answered when connect completes */
	struct zt_timer timer;        /* dial / connect timeout, then UDP or TCP idle */
	struct sockaddr_storage a, b; /* intercept: client, original destination; host: source, target */
	bool spoofed;                 /* host side: originating from the caller's address */
	bool zt_up, sock_up;          /* Ziti connected; host TCP socket connected */
	bool sock_eof, zt_eof;        /* read 0 from the socket; FIN from Ziti */
	bool zt_fin_sent, sock_fin_sent, zt_blocked, dead, hup;
	struct qbuf *q, *qtail;       /* towards the socket (TCP), or pending towards Ziti (UDP) */
	size_t qbytes;
	unsigned qcount;
	uint64_t last_ms, created_ms;
	uint64_t to_zt, from_zt;      /* bytes */
	uint64_t pk_to_zt, pk_from_zt;
	size_t mem;
	struct host_alt *alt;         /* host TCP to a name: the addresses not tried yet */
};

/* A hosted TCP target given by name: the next address is tried when a connect fails. */
struct host_alt {
	struct zt_addrs addrs;
	unsigned next;
	bool has_src;
	struct sockaddr_storage src;
	unsigned attempt_ms;
};

#define FLOW_MEM (sizeof(struct flow) + 2048) /* our state + the library's connection state */
#define UDP_PENDING_MAX 64                    /* datagrams queued while the dial completes */
#define TCP_QUEUE_MAX (4u << 20)              /* bytes queued towards one TCP socket */

static struct zt_io tcp_io[2], udp_io[2];
static int tcp_fd[2] = { -1, -1 }, udp_fd[2] = { -1, -1 };

/* ------------------------------------------------------------------ UDP flow table */

static struct flow **htab;
static size_t hsize, hcount;

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t key_hash(const struct sockaddr_storage *c, const struct sockaddr_storage *d)
{
	uint32_t h = 2166136261u;
	uint16_t cp = cfg_sa_port(c), dp = cfg_sa_port(d);
	size_t al = c->ss_family == AF_INET ? 4 : 16;

	h = fnv(h, &c->ss_family, sizeof(c->ss_family));
	h = fnv(h, cfg_sa_addr(c), al);
	h = fnv(h, cfg_sa_addr(d), al);
	h = fnv(h, &cp, 2);
	return fnv(h, &dp, 2);
}

static bool sa_eq(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	return x->ss_family == y->ss_family && cfg_sa_port(x) == cfg_sa_port(y) &&
	       !memcmp(cfg_sa_addr(x), cfg_sa_addr(y), x->ss_family == AF_INET ? 4 : 16);
}

static struct flow *udp_find(const struct sockaddr_storage *c, const struct sockaddr_storage *d)
{
	if (!hsize)
		return NULL;
	for (struct flow *f = htab[key_hash(c, d) & (hsize - 1)]; f; f = f->hnext)
		if (sa_eq(&f->a, c) && sa_eq(&f->b, d))
			return f;
	return NULL;
}

static int udp_insert(struct flow *f)
{
	if (hcount + 1 > hsize / 2) {
		size_t ns = hsize ? hsize * 2 : 256;
		struct flow **nt = calloc(ns, sizeof(*nt));

		if (!nt)
			return -1;
		for (size_t i = 0; i < hsize; i++)
			for (struct flow *x = htab[i], *nx; x; x = nx) {
				nx = x->hnext;
				size_t b = key_hash(&x->a, &x->b) & (ns - 1);

				x->hnext = nt[b];
				nt[b] = x;
			}
		free(htab);
		htab = nt;
		hsize = ns;
	}
	size_t b = key_hash(&f->a, &f->b) & (hsize - 1);

	f->hnext = htab[b];
	htab[b] = f;
	hcount++;
	return 0;
}

static void udp_remove(struct flow *f)
{
	if (!hsize)
		return;
	for (struct flow **pp = &htab[key_hash(&f->a, &f->b) & (hsize - 1)]; *pp; pp = &(*pp)->hnext)
		if (*pp == f) {
			*pp = f->hnext;
			hcount--;
			return;
		}
}

/* ------------------------------------------------------------------ memory */

static bool mem_take(size_t n)
{
	if (D.mem_used + n > D.cfg.memory_limit) {
		D.c.mem_limit_hits++;
		return false;
	}
	D.mem_used += n;
	return true;
}

/*
 * Log a refusal at the memory limit at most once a second (a refused UDP flow's every datagram
 * would log otherwise); mem_limit_hits counts them all.
 */
static bool mem_log_now(void)
{
	static uint64_t last_ms;
	uint64_t now = zt_now_ms();

	if (last_ms && now - last_ms < 1000)
		return false;
	last_ms = now;
	return true;
}

static void mem_give(size_t n)
{
	D.mem_used = n > D.mem_used ? 0 : D.mem_used - n;
}

static void q_free(struct flow *f)
{
	while (f->q) {
		struct qbuf *b = f->q;

		f->q = b->next;
		mem_give(sizeof(*b) + b->len);
		free(b);
	}
	f->qtail = NULL;
	f->qbytes = 0;
	f->qcount = 0;
}

static bool q_push(struct flow *f, const void *p, size_t n)
{
	struct qbuf *b;

	if (!mem_take(sizeof(*b) + n))
		return false;
	b = malloc(sizeof(*b) + n);
	if (!b) {
		mem_give(sizeof(*b) + n);
		return false;
	}
	b->next = NULL;
	b->len = n;
	b->off = 0;
	memcpy(b->data, p, n);
	if (f->qtail)
		f->qtail->next = b;
	else
		f->q = b;
	f->qtail = b;
	f->qbytes += n;
	f->qcount++;
	return true;
}

/* ------------------------------------------------------------------ lifecycle */

static const char *flow_desc(const struct flow *f, char *buf, size_t n)
{
	char x[64], y[64];

	snprintf(buf, n, "%s %s %s -> %s", ftype_name[f->type], f->svc ? f->svc->name : "?",
		 cfg_fmt_sa(&f->a, x, sizeof(x)), cfg_fmt_sa(&f->b, y, sizeof(y)));
	return buf;
}

static void flow_free_cb(void *p)
{
	struct flow *f = p;

	free(f->alt);
	free(f);
}

static void flow_close(struct flow *f, int prio, const char *why)
{
	char d[200];

	if (f->dead)
		return;
	f->dead = true;
	logm(prio, "flow %s closed: %s (%llu bytes to ziti, %llu from ziti)", flow_desc(f, d, sizeof(d)), why,
	     (unsigned long long)f->to_zt, (unsigned long long)f->from_zt);
	if (f->type == F_IUDP)
		udp_remove(f);
	zt_timer_stop(D.loop, &f->timer);
	if (f->fd >= 0) {
		zt_io_del(D.loop, &f->io);
		close(f->fd);
		f->fd = -1;
	}
	if (f->zc) {
		zt_close(f->zc);
		f->zc = NULL;
	}
	if (f->dreq) {
		zt_reject(f->dreq, why);
		f->dreq = NULL;
	}
	q_free(f);
	if (f->prev)
		f->prev->next = f->next;
	else
		D.flows = f->next;
	if (f->next)
		f->next->prev = f->prev;
	D.n_flows[f->type]--;
	if (f->svc)
		f->svc->active--;
	mem_give(f->mem);
	zt_loop_defer_free(D.loop, flow_free_cb, f);
}

/* Reset the client's TCP connection instead of a FIN (the dial failed). */
static void tcp_rst(struct flow *f)
{
	struct linger lg = { 1, 0 };

	if (f->fd >= 0)
		setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	D.c.tcp_reset++;
}

static void io_cb(void *arg, uint32_t ev);
static void timer_cb(void *arg);

static struct flow *flow_new(enum ftype t, struct svc *s, int fd)
{
	struct flow *f;

	if (!mem_take(FLOW_MEM))
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f) {
		mem_give(FLOW_MEM);
		return NULL;
	}
	f->mem = FLOW_MEM;
	f->type = t;
	f->svc = s;
	f->fd = fd;
	f->created_ms = f->last_ms = zt_now_ms();
	zt_io_init(&f->io, fd, io_cb, f);
	zt_timer_init(&f->timer, timer_cb, f);
	f->next = D.flows;
	if (D.flows)
		D.flows->prev = f;
	D.flows = f;
	D.n_flows[t]++;
	if (s)
		s->active++;
	return f;
}

void flows_reconfigure(void)
{
	for (struct flow *f = D.flows; f; f = f->next)
		if (!f->dead && f->zt_up && (f->type == F_IUDP || f->type == F_HUDP || f->sock_up))
			zt_timer_start(D.loop, &f->timer, 0); /* timer_cb re-arms with the new timeout */
}

/*
 * TCP keepalive on a flow's socket: probes after tcp_keepalive_s of silence, every sixth of
 * it, five of them; TCP_USER_TIMEOUT to the same total bounds unacknowledged data too. A
 * peer that vanished (no RST) then surfaces as ETIMEDOUT and the flow is closed.
 */
static void tcp_keepalive(int fd)
{
	int one = 1, idle = (int)D.cfg.tcp_keepalive_s, intvl = idle / 6 ? idle / 6 : 1, cnt = 5;
	unsigned uto = (unsigned)(idle + intvl * cnt) * 1000;

	if (!idle)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
}

/* The idle bound of an established TCP flow: shorter once either end has sent FIN. */
static bool tcp_half_closed(const struct flow *f)
{
	return f->sock_eof || f->zt_eof;
}

static uint64_t tcp_idle_bound(const struct flow *f)
{
	return tcp_half_closed(f) ? D.cfg.tcp_half_closed_ms : D.cfg.tcp_idle_ms;
}

static void tcp_idle_arm(struct flow *f)
{
	uint64_t idle = zt_now_ms() - f->last_ms, b = tcp_idle_bound(f);

	if (!f->dead)
		zt_timer_start(D.loop, &f->timer, idle >= b ? 0 : b - idle + 1);
}

static void hres_cancel(struct svc *s, const char *why);

void flows_close_svc(struct svc *s, const char *why)
{
	hres_cancel(s, why);
	for (struct flow *f = D.flows, *n; f; f = n) {
		n = f->next;
		if (f->svc == s)
			flow_close(f, L_INFO, why);
	}
}

static bool is_udp(const struct flow *f)
{
	return f->type == F_IUDP || f->type == F_HUDP;
}

/* Recompute the epoll interest of a flow's socket. */
static void flow_io(struct flow *f)
{
	uint32_t ev = 0;

	if (f->dead || f->fd < 0)
		return;
	if (f->hup && (!f->zt_up || f->zt_blocked)) {
		/* level-triggered HUP while we cannot read: wait for Ziti before listening again */
		zt_io_del(D.loop, &f->io);
		return;
	}
	if (is_udp(f)) {
		ev = EPOLLIN;
	} else {
		if (!f->sock_up)
			ev = EPOLLOUT; /* host TCP connect in progress */
		else {
			if (f->zt_up && !f->sock_eof && !f->zt_blocked)
				ev |= EPOLLIN;
			if (f->q)
				ev |= EPOLLOUT;
		}
	}
	zt_io_set(D.loop, &f->io, ev);
}

static bool host_retry(struct flow *f, const char *why);

static void timer_cb(void *arg)
{
	struct flow *f = arg;
	uint64_t now = zt_now_ms();

	if (f->dead)
		return;
	if (!f->zt_up && (f->type == F_ITCP || f->type == F_IUDP)) {
		D.c.dial_timeouts++;
		D.c.dials_failed++;
		if (f->svc)
			f->svc->dial_failed++;
		if (f->type == F_ITCP)
			tcp_rst(f);
		flow_close(f, L_WARN, "ziti dial timed out");
		return;
	}
	if (f->type == F_HTCP && !f->sock_up) {
		char m[160], y[64];

		snprintf(m, sizeof(m), "timed out after %u ms", f->alt ? f->alt->attempt_ms : 0);
		if (host_retry(f, m))
			return;
		D.c.hosted_connect_failed++;
		snprintf(m, sizeof(m), "connect %s: timed out after %llu ms", cfg_fmt_sa(&f->b, y, sizeof(y)),
			 (unsigned long long)(now - f->created_ms));
		flow_close(f, L_WARN, m);
		return;
	}
	if (is_udp(f)) {
		if (now - f->last_ms >= D.cfg.udp_idle_ms) {
			flow_close(f, L_DEBUG, "idle");
			return;
		}
		zt_timer_start(D.loop, &f->timer, D.cfg.udp_idle_ms - (now - f->last_ms) + 1);
		return;
	}
	if (f->zt_up && f->sock_up) { /* an established TCP flow */
		uint64_t b = tcp_idle_bound(f);
		char m[96];

		if (now - f->last_ms < b) {
			zt_timer_start(D.loop, &f->timer, b - (now - f->last_ms) + 1);
			return;
		}
		D.c.tcp_expired++;
		snprintf(m, sizeof(m), "%s for %llu s", tcp_half_closed(f) ? "half-closed and silent" : "idle",
			 (unsigned long long)(b / 1000));
		tcp_rst(f);
		flow_close(f, L_INFO, m);
	}
}

/* ------------------------------------------------------------------ pumping */

/* TCP: socket → Ziti while Ziti accepts. */
static void tcp_read(struct flow *f)
{
	uint8_t buf[ZT_MAX_CHUNK];

	if (!f->zt_up) {
		flow_io(f);
		return;
	}
	for (int i = 0; i < 16 && !f->dead && !f->sock_eof; i++) {
		if (!zt_writable(f->zc)) {
			f->zt_blocked = true;
			break;
		}
		f->zt_blocked = false;
		ssize_t n = recv(f->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			int rc = zt_write(f->zc, buf, (size_t)n);

			if (rc) {
				flow_close(f, L_INFO, zt_strerror(rc));
				return;
			}
			f->to_zt += (uint64_t)n;
			D.c.bytes_to_ziti += (uint64_t)n;
			f->last_ms = zt_now_ms();
		} else if (n == 0) {
			f->sock_eof = true;
			f->last_ms = zt_now_ms();
			tcp_idle_arm(f); /* the half-closed bound from now */
			if (!f->zt_fin_sent) {
				f->zt_fin_sent = true;
				zt_close_write(f->zc);
			}
		} else {
			if (errno == EAGAIN || errno == EINTR)
				break;
			flow_close(f, L_INFO, strerror(errno));
			return;
		}
	}
	if (f->sock_eof && f->zt_eof && !f->q) {
		flow_close(f, L_DEBUG, "done");
		return;
	}
	flow_io(f);
}

/* TCP: queued Ziti data → socket. */
static void tcp_flush(struct flow *f)
{
	while (f->q) {
		struct qbuf *b = f->q;
		ssize_t n = send(f->fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			flow_close(f, L_INFO, strerror(errno));
			return;
		}
		b->off += (size_t)n;
		f->qbytes -= (size_t)n;
		if (b->off == b->len) {
			f->q = b->next;
			if (!f->q)
				f->qtail = NULL;
			f->qcount--;
			mem_give(sizeof(*b) + b->len);
			free(b);
		}
	}
	if (!f->q && f->zt_eof && !f->sock_fin_sent) {
		f->sock_fin_sent = true;
		shutdown(f->fd, SHUT_WR);
		if (f->sock_eof) {
			flow_close(f, L_DEBUG, "done");
			return;
		}
	}
	flow_io(f);
}

/* UDP: datagrams from the flow's socket → Ziti (or the pending queue until connected). */
static void udp_to_zt(struct flow *f, const uint8_t *p, size_t n)
{
	f->last_ms = zt_now_ms();
	if (!f->zt_up) {
		if (f->qcount >= UDP_PENDING_MAX || !q_push(f, p, n))
			D.c.udp_dropped++;
		return;
	}
	if (!zt_writable(f->zc)) {
		D.c.udp_dropped++;
		return;
	}
	int rc = zt_write(f->zc, p, n);

	if (rc) {
		D.c.udp_dropped++;
		return;
	}
	f->to_zt += n;
	f->pk_to_zt++;
	D.c.bytes_to_ziti += n;
	D.c.packets_to_ziti++;
}

/*
 * Up to UDP_READ_BATCH datagrams per recvmmsg(2), UDP_READ_CALLS calls per wakeup: one system
 * call per wakeup when a flow has one datagram waiting (recv(2) took a second one to learn
 * that there was no more), and the other ready sockets get their turn after a burst. The
 * slots take the largest UDP payload, so nothing is truncated.
 */
#define UDP_READ_BATCH 8
#define UDP_READ_CALLS 8

static void udp_read(struct flow *f)
{
	static uint8_t slots[UDP_READ_BATCH][65536];
	struct mmsghdr mm[UDP_READ_BATCH];
	struct iovec iov[UDP_READ_BATCH];

	for (int call = 0; call < UDP_READ_CALLS && !f->dead; call++) {
		for (int i = 0; i < UDP_READ_BATCH; i++) {
			iov[i] = (struct iovec){ slots[i], sizeof(slots[i]) };
			mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		int n = recvmmsg(f->fd, mm, UDP_READ_BATCH, MSG_DONTWAIT, NULL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ECONNREFUSED) /* ICMP port unreachable from the peer: keep the flow */
				continue;
			flow_close(f, L_INFO, strerror(errno));
			return;
		}
		for (int i = 0; i < n && !f->dead; i++)
			udp_to_zt(f, slots[i], mm[i].msg_len);
		if (n < UDP_READ_BATCH)
			return;
	}
}

static const struct zt_conn_cbs flow_cbs;

/*
 * Host TCP: the target accepted the connection; now answer the router's Dial with
 * DialSuccess. Returns nonzero when the flow was closed (the Dial went stale meanwhile).
 */
static int host_answer(struct flow *f)
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

static void io_cb(void *arg, uint32_t ev)
{
	struct flow *f = arg;

	if (f->dead)
		return;
	if (is_udp(f)) {
		if (ev & (EPOLLIN | EPOLLERR))
			udp_read(f);
		return;
	}
	if (!f->sock_up) { /* host TCP connect completed */
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (!err) {
			struct sockaddr_storage peer;
			socklen_t pl = sizeof(peer);

			if (getpeername(f->fd, (struct sockaddr *)&peer, &pl) && errno == ENOTCONN)
				return; /* still in progress */
		}
		if (err && host_retry(f, strerror(err)))
			return;
		if (err) {
			char m[160], y[64];

			D.c.hosted_connect_failed++;
			snprintf(m, sizeof(m), "connect %s: %s", cfg_fmt_sa(&f->b, y, sizeof(y)), strerror(err));
			flow_close(f, L_WARN, m);
			return;
		}
		f->sock_up = true;
		zt_timer_stop(D.loop, &f->timer);
		if (f->dreq && host_answer(f))
			return;
		tcp_idle_arm(f);
		tcp_flush(f);
		if (!f->dead)
			tcp_read(f);
		return;
	}
	if (ev & EPOLLERR) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		flow_close(f, L_INFO, err ? strerror(err) : "socket error");
		return;
	}
	if (ev & EPOLLHUP)
		f->hup = true;
	if (ev & EPOLLOUT) {
		tcp_flush(f);
		if (f->dead)
			return;
	}
	if (ev & (EPOLLIN | EPOLLHUP))
		tcp_read(f);
}

/* ------------------------------------------------------------------ Ziti callbacks */

static void z_on_data(struct zt_conn *c, const uint8_t *p, size_t n, void *u)
{
	struct flow *f = u;

	(void)c;
	if (f->dead)
		return;
	if (is_udp(f)) {
		if (!n)
			return;
		f->last_ms = zt_now_ms();
		if (send(f->fd, p, n, MSG_DONTWAIT) < 0) {
			D.c.udp_dropped++;
			return;
		}
		f->from_zt += n;
		f->pk_from_zt++;
		D.c.bytes_from_ziti += n;
		D.c.packets_from_ziti++;
		return;
	}
	if (!n) {
		f->zt_eof = true;
		f->last_ms = zt_now_ms();
		if (f->sock_up) {
			tcp_idle_arm(f); /* the half-closed bound from now */
			tcp_flush(f);
		}
		return;
	}
	f->from_zt += n;
	D.c.bytes_from_ziti += n;
	f->last_ms = zt_now_ms();
	if (f->qbytes + n > TCP_QUEUE_MAX || !q_push(f, p, n)) {
		tcp_rst(f);
		flow_close(f, L_WARN, "too much data queued towards the socket (memory limit)");
		return;
	}
	if (f->sock_up)
		tcp_flush(f);
}

static void z_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	struct flow *f = u;
	char m[300];

	(void)c;
	if (f->dead)
		return;
	if (!is_udp(f) && f->sock_up && f->q) /* deliver what we have */
		tcp_flush(f);
	if (f->dead)
		return;
	snprintf(m, sizeof(m), "ziti connection closed%s%s", reason ? ": " : "", reason ? reason : "");
	if (!is_udp(f) && err)
		tcp_rst(f);
	flow_close(f, L_DEBUG, m);
}

static void z_on_writable(struct zt_conn *c, void *u)
{
	struct flow *f = u;

	(void)c;
	if (f->dead || is_udp(f))
		return;
	f->zt_blocked = false;
	tcp_read(f);
}

static void z_on_connect(struct zt_conn *c, int err, const char *reason, void *u)
{
	struct flow *f = u;

	(void)c;
	if (f->dead)
		return;
	if (err) {
		char m[400];

		D.c.dials_failed++;
		if (f->svc)
			f->svc->dial_failed++;
		snprintf(m, sizeof(m), "ziti dial failed: %s", reason ? reason : zt_strerror(err));
		if (f->type == F_ITCP)
			tcp_rst(f);
		flow_close(f, L_WARN, m);
		return;
	}
	f->zt_up = true;
	D.c.dials_ok++;
	if (is_udp(f)) {
		struct qbuf *q = f->q;

		f->q = f->qtail = NULL;
		f->qbytes = 0;
		f->qcount = 0;
		while (q) {
			struct qbuf *n = q->next;

			if (!f->dead)
				udp_to_zt(f, q->data, q->len);
			mem_give(sizeof(*q) + q->len);
			free(q);
			q = n;
		}
		if (!f->dead) {
			zt_timer_start(D.loop, &f->timer, D.cfg.udp_idle_ms);
			flow_io(f);
		}
		return;
	}
	f->sock_up = true;
	tcp_idle_arm(f);
	tcp_read(f);
}

static const struct zt_conn_cbs flow_cbs = {
	.on_connect = z_on_connect, .on_data = z_on_data, .on_close = z_on_close, .on_writable = z_on_writable,
};

/* ------------------------------------------------------------------ intercept side */

static int set_transparent(int fd, int family)
{
	int one = 1;

	if (family == AF_INET)
		return setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one));
	return setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one));
}

/* Which service's intercept a tuple matched (kernel LOOKUP). */
static struct svc *match(int proto, const struct sockaddr_storage *src, const struct sockaddr_storage *dst)
{
	struct sipovl_tuple t = { .family = src->ss_family, .protocol = (uint8_t)proto, .has_sport = true };
	char name[SIPOVL_NAME_MAXLEN];
	uint32_t id = 0;
	size_t al = src->ss_family == AF_INET ? 4 : 16;

	memcpy(t.src, cfg_sa_addr(src), al);
	memcpy(t.dst, cfg_sa_addr(dst), al);
	t.sport = cfg_sa_port(src);
	t.dport = cfg_sa_port(dst);
	if (!D.nl || sipovl_lookup(D.nl, &t, &id, name))
		return NULL;
	struct svc *s = svc_by_kid(id);

	return s && !strcmp(s->kname, name) ? s : NULL;
}

/* Dial the service for a new intercepted flow. */
static int dial(struct flow *f, const char *proto)
{
	struct svc *s = f->svc;
	struct app_data ad;
	char identity[256], unknown[64], json[1024], d[200];
	struct tpl_vars iv = ident_tpl(s->id);
	int jl;

	if (icpt_dial_params(&s->icpt, proto, &f->a, &f->b, &iv, &ad, identity, sizeof(identity), unknown,
			     sizeof(unknown))) {
		logm(L_WARN, "service %s: dialOptions.identity or sourceIp expands beyond its limit", s->name);
		return -1;
	}
	if (unknown[0]) { /* a tag or appData key our identity lacks: a wrong source is worse than none */
		uint64_t now = zt_now_ms();

		if (!s->tpl_warned_ms || now - s->tpl_warned_ms >= 10000) {
			s->tpl_warned_ms = now;
			logm(L_WARN, "service %s: sourceIp/dialOptions.identity: template variable %s has no value for "
			     "identity %s; flows are not dialed", s->name, unknown, s->id->name ? s->id->name : "?");
		}
		return -1;
	}
	jl = app_data_build(&ad, json, sizeof(json));
	if (jl < 0)
		return -1;
	struct zt_dial_opts o = {
		.terminator_identity = identity[0] ? identity : NULL,
		.app_data = json,
		.app_data_len = (size_t)jl,
		.datagram = f->type == F_IUDP,
	};

	f->zc = zt_dial(s->id->ctx, s->name, &o, &flow_cbs, f);
	if (!f->zc)
		return -1;
	s->dials++;
	zt_timer_start(D.loop, &f->timer, s->icpt.connect_timeout_ms);
	logm(L_DEBUG, "flow %s: dialing%s%s app_data=%s", flow_desc(f, d, sizeof(d)), identity[0] ? " terminator " : "",
	     identity, json);
	return 0;
}

static void tcp_accept(int lfd)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage src, dst;
		socklen_t sl = sizeof(src), dl = sizeof(dst);
		int fd = accept4(lfd, (struct sockaddr *)&src, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		char x[64], y[64];

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				logm(L_WARN, "accept: %s", strerror(errno));
			return;
		}
		if (getsockname(fd, (struct sockaddr *)&dst, &dl)) {
			close(fd);
			continue;
		}
		struct svc *s = match(IPPROTO_TCP, &src, &dst);
		struct linger lg = { 1, 0 };

		if (!s || !s->has_icpt) {
			D.c.unmatched++;
			logm(L_NOTICE, "tcp %s -> %s: no service for this intercept (any more); reset",
			     cfg_fmt_sa(&src, x, sizeof(x)), cfg_fmt_sa(&dst, y, sizeof(y)));
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
			continue;
		}
		struct flow *f = flow_new(F_ITCP, s, fd);

		if (!f) {
			if (mem_log_now())
				logm(L_WARN, "tcp %s -> %s (%s): memory limit reached (%llu of %llu bytes, mem_limit_hits %llu); reset",
				     cfg_fmt_sa(&src, x, sizeof(x)), cfg_fmt_sa(&dst, y, sizeof(y)), s->name,
				     (unsigned long long)D.mem_used, (unsigned long long)D.cfg.memory_limit,
				     (unsigned long long)D.c.mem_limit_hits);
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
			continue;
		}
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		tcp_keepalive(fd);
		f->a = src;
		f->b = dst;
		f->sock_up = true; /* connected; nothing is read before the dial completes */
		D.c.tcp_intercepted++;
		if (dial(f, "tcp")) {
			tcp_rst(f);
			flow_close(f, L_WARN, "cannot dial");
			continue;
		}
		flow_io(f);
	}
}

/* A datagram on the registered (unconnected) UDP socket: a new flow, or a late one of a flow. */
static void udp_new(int family, const uint8_t *p, size_t n, const struct sockaddr_storage *src,
		    const struct sockaddr_storage *dst)
{
	struct flow *f = udp_find(src, dst);
	char x[64], y[64];

	if (f) {
		udp_to_zt(f, p, n);
		return;
	}
	struct svc *s = match(IPPROTO_UDP, src, dst);

	if (!s || !s->has_icpt) {
		D.c.unmatched++;
		logm(L_NOTICE, "udp %s -> %s: no service for this intercept (any more); dropped",
		     cfg_fmt_sa(src, x, sizeof(x)), cfg_fmt_sa(dst, y, sizeof(y)));
		return;
	}
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0) {
		logm(L_WARN, "udp socket: %s", strerror(errno));
		return;
	}
	if (set_transparent(fd, family) || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (const struct sockaddr *)dst, cfg_sa_len(dst)) ||
	    connect(fd, (const struct sockaddr *)src, cfg_sa_len(src))) {
		logm(L_WARN, "udp %s -> %s (%s): per-flow socket: %s; dropped", cfg_fmt_sa(src, x, sizeof(x)),
		     cfg_fmt_sa(dst, y, sizeof(y)), s->name, strerror(errno));
		close(fd);
		return;
	}
	f = flow_new(F_IUDP, s, fd);
	if (!f) {
		if (mem_log_now())
			logm(L_WARN, "udp %s -> %s (%s): memory limit reached (%llu of %llu bytes, mem_limit_hits %llu); dropped",
			     cfg_fmt_sa(src, x, sizeof(x)), cfg_fmt_sa(dst, y, sizeof(y)), s->name,
			     (unsigned long long)D.mem_used, (unsigned long long)D.cfg.memory_limit,
			     (unsigned long long)D.c.mem_limit_hits);
		close(fd);
		return;
	}
	f->a = *src;
	f->b = *dst;
	if (udp_insert(f)) {
		flow_close(f, L_WARN, "out of memory");
		return;
	}
	D.c.udp_intercepted++;
	udp_to_zt(f, p, n);
	if (dial(f, "udp")) {
		flow_close(f, L_WARN, "cannot dial");
		return;
	}
	flow_io(f);
}

static void udp_main_read(int fd, int family)
{
	uint8_t buf[65536];

	for (int i = 0; i < 64; i++) {
		char cbuf[256];
		struct sockaddr_storage src = { 0 }, dst = { 0 };
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_name = &src, .msg_namelen = sizeof(src), .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(fd, &mh, 0);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				logm(L_WARN, "udp recvmsg: %s", strerror(errno));
			return;
		}
		bool have = false;

		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR) ||
			    (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR)) {
				size_t l = c->cmsg_len - CMSG_LEN(0);

				memcpy(&dst, CMSG_DATA(c), l < sizeof(dst) ? l : sizeof(dst));
				have = true;
			}
		}
		if (!have || dst.ss_family != family || src.ss_family != family)
			continue;
		udp_new(family, buf, (size_t)n, &src, &dst);
	}
}

static void main_io_cb(void *arg, uint32_t ev)
{
	intptr_t k = (intptr_t)arg; /* 0/1: tcp v4/v6, 2/3: udp v4/v6 */

	(void)ev;
	if (k < 2)
		tcp_accept(tcp_fd[k]);
	else
		udp_main_read(udp_fd[k - 2], k == 2 ? AF_INET : AF_INET6);
}

static int open_main(int family, int type)
{
	struct sockaddr_storage a = { 0 };
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	a.ss_family = (sa_family_t)family;
	if (set_transparent(fd, family) || (family == AF_INET6 &&
					    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))))
		goto fail;
	if (type == SOCK_DGRAM &&
	    (family == AF_INET ? setsockopt(fd, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one)) :
				 setsockopt(fd, SOL_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one))))
		goto fail;
	if (bind(fd, (struct sockaddr *)&a, cfg_sa_len(&a)) || (type == SOCK_STREAM && listen(fd, 4096)))
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Open and register the intercept sockets (per family; a missing IPv6 stack is only logged). */
int flows_init(void)
{
	int fams[2] = { AF_INET, AF_INET6 }, ok = 0;

	if (D.no_kernel)
		return 0;
	for (int i = 0; i < 2; i++) {
		tcp_fd[i] = open_main(fams[i], SOCK_STREAM);
		udp_fd[i] = open_main(fams[i], SOCK_DGRAM);
		if (tcp_fd[i] < 0 || udp_fd[i] < 0) {
			logm(i ? L_WARN : L_ERR, "cannot open the %s intercept sockets: %s", i ? "IPv6" : "IPv4",
			     strerror(errno));
			goto skip;
		}
		if (sipovl_socket_register(D.nl, tcp_fd[i]) || sipovl_socket_register(D.nl, udp_fd[i])) {
			const struct sipovl_err *e = sipovl_error(D.nl);

			logm(L_ERR, "cannot register the %s sockets with sipovl.ko: %s", i ? "IPv6" : "IPv4",
			     e->extack[0] ? e->extack : strerror(e->errnum));
			goto skip;
		}
		zt_io_init(&tcp_io[i], tcp_fd[i], main_io_cb, (void *)(intptr_t)i);
		zt_io_init(&udp_io[i], udp_fd[i], main_io_cb, (void *)(intptr_t)(i + 2));
		zt_io_set(D.loop, &tcp_io[i], EPOLLIN);
		zt_io_set(D.loop, &udp_io[i], EPOLLIN);
		ok++;
		continue;
skip:
		if (tcp_fd[i] >= 0)
			close(tcp_fd[i]);
		if (udp_fd[i] >= 0)
			close(udp_fd[i]);
		tcp_fd[i] = udp_fd[i] = -1;
	}
	return ok ? 0 : -1;
}

void flows_fini(void)
{
	hres_cancel(NULL, "sipovld stopping");
	while (D.flows)
		flow_close(D.flows, L_DEBUG, "sipovld stopping");
	for (int i = 0; i < 2; i++) {
		if (tcp_fd[i] >= 0) {
			zt_io_del(D.loop, &tcp_io[i]);
			close(tcp_fd[i]);
		}
		if (udp_fd[i] >= 0) {
			zt_io_del(D.loop, &udp_io[i]);
			close(udp_fd[i]);
		}
		tcp_fd[i] = udp_fd[i] = -1;
	}
	free(htab);
	htab = NULL;
	hsize = hcount = 0;
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
		if (set_transparent(fd, t->src.ss_family) ||
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
static bool host_retry(struct flow *f, const char *why)
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
		zt_io_init(&f->io, fd, io_cb, f);
		flow_io(f); /* EPOLLOUT: fires at once when already connected */
		zt_timer_start(D.loop, &f->timer, h->attempt_ms);
		return true;
	}
	return false;
}

/*
 * Open the socket to the target t (an address) and start the flow; req may be held. alts:
 * every address of a target given by name (t->dst is alts->a[0]); a TCP connect that fails
 * moves on to the next one.
 */
static void host_dial_target(struct svc *s, struct zt_dial_req *req, const struct host_target *tp, const char *caller,
			     const struct zt_addrs *alts)
{
	struct host_target t = *tp;
	char x[64], y[64], reason[300];
	int fd = -1, rc;
	unsigned ai = 0;
	bool connected = false;

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
 * A hosted dial to a host name waits for the resolver (zt_resolve.h: never blocks the loop,
 * answers cached for their TTL), holding the router's Dial meanwhile.
 */
struct hres {
	struct hres *next, *prev;
	struct svc *s;
	struct zt_dial_req *req; /* held */
	struct zt_resolve_req *rq;
	struct host_target t;
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
	host_dial_target(h->s, h->req, &h->t, h->caller, addrs);
	free(h);
}

/* cancel the resolutions of one service (s) or all (NULL), refusing their dials */
static void hres_cancel(struct svc *s, const char *why)
{
	for (struct hres *h = hres_list, *n; h; h = n) {
		n = h->next;
		if (s && h->s != s)
			continue;
		hres_unlink(h);
		zt_resolve_cancel(h->rq);
		zt_reject(h->req, why);
		free(h);
	}
}

/*
 * The source a dialer claims must be one of its identity's (source_map): refused and logged
 * (identity, claimed source, service) otherwise.
 */
static bool host_source_refused(struct svc *s, struct zt_dial_req *req, const struct host_target *t, const char *caller)
{
	char rid[128], rname[256], who[256], err[400], ip[64];
	bool unchecked, auth = zt_dial_req_dialer(req, rid, sizeof(rid), rname, sizeof(rname));

	if (!cfg_source_allowed(&D.cfg, auth ? rid : NULL, auth ? rname : NULL, strcmp(caller, "?") ? caller : NULL,
				&t->src, who, sizeof(who), &unchecked, err, sizeof(err))) {
		if (!unchecked)
			logm(L_DEBUG, "service %s: identity '%s' may originate from %s (source_map)", s->name, who,
			     cfg_fmt_ip(&t->src, ip, sizeof(ip)));
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

	(void)l;
	if (!caller || !*caller)
		caller = "?";
	if (app_data_parse(adp, adl, &ad, err, sizeof(err))) {
		snprintf(reason, sizeof(reason), "malformed app_data: %s", err);
		host_refuse(s, req, caller, reason);
		return;
	}
	if (host_compute(&s->host, adl ? &ad : NULL, &t, err, sizeof(err))) {
		host_refuse(s, req, caller, err);
		return;
	}
	if (t.has_src && host_source_refused(s, req, &t, caller))
		return;
	if (!t.dst_host[0]) {
		host_dial_target(s, req, &t, caller, NULL);
		return;
	}
	/* a fixed host name (numeric-only services never get here): resolve without blocking */
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
	snprintf(h->caller, sizeof(h->caller), "%s", caller);
	h->rq = zt_resolve(D.res, t.dst_host, t.dst_port, t.has_src ? t.src.ss_family : AF_UNSPEC, hres_done, h);
	if (!h->rq) {
		free(h);
		host_refuse(s, held, caller, "out of memory");
		return;
	}
	h->next = hres_list;
	if (hres_list)
		hres_list->prev = h;
	hres_list = h;
}

/* ------------------------------------------------------------------ status */

struct json_object *flows_json(void)
{
	struct json_object *a = json_object_new_array();
	uint64_t now = zt_now_ms();

	for (struct flow *f = D.flows; f; f = f->next) {
		struct json_object *o = json_object_new_object();
		char x[64], y[64];
		bool host = f->type == F_HTCP || f->type == F_HUDP;

		json_object_object_add(o, "type", json_object_new_string(ftype_name[f->type]));
		json_object_object_add(o, "service", json_object_new_string(f->svc ? f->svc->name : ""));
		json_object_object_add(o, host ? "source" : "client", json_object_new_string(cfg_fmt_sa(&f->a, x, sizeof(x))));
		json_object_object_add(o, host ? "target" : "destination",
				       json_object_new_string(cfg_fmt_sa(&f->b, y, sizeof(y))));
		if (host)
			json_object_object_add(o, "transparent", json_object_new_boolean(f->spoofed));
		json_object_object_add(o, "connected", json_object_new_boolean(f->zt_up));
		json_object_object_add(o, "bytes_to_ziti", json_object_new_int64((int64_t)f->to_zt));
		json_object_object_add(o, "bytes_from_ziti", json_object_new_int64((int64_t)f->from_zt));
		if (is_udp(f)) {
			json_object_object_add(o, "packets_to_ziti", json_object_new_int64((int64_t)f->pk_to_zt));
			json_object_object_add(o, "packets_from_ziti", json_object_new_int64((int64_t)f->pk_from_zt));
		}
		json_object_object_add(o, "age_ms", json_object_new_int64((int64_t)(now - f->created_ms)));
		json_object_object_add(o, "idle_ms", json_object_new_int64((int64_t)(now - f->last_ms)));
		json_object_array_add(a, o);
	}
	return a;
}
