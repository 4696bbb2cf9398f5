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
 *
 * This file: what every flow has (lifecycle, memory, queues, events, the Ziti callbacks,
 * status). flows_udp.c and flows_tcp.c: each protocol's flows; flows_intercept.c and
 * flows_host.c: how flows start on each side; flows_pair.c: one circuit per UDP stream.
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

#include "daemon/flows_int.h"

static const char *const ftype_name[] = { "intercept-tcp", "intercept-udp", "host-tcp", "host-udp" };

/* ------------------------------------------------------------------ memory */

bool mem_take(size_t n)
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
bool mem_log_now(void)
{
	static uint64_t last_ms;
	uint64_t now = zt_now_ms();

	if (last_ms && now - last_ms < 1000)
		return false;
	last_ms = now;
	return true;
}

void mem_give(size_t n)
{
	D.mem_used = n > D.mem_used ? 0 : D.mem_used - n;
}

void q_free(struct flow *f)
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

bool q_push(struct flow *f, const void *p, size_t n)
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

const char *flow_desc(const struct flow *f, char *buf, size_t n)
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
	free(f->rq);
	free(f);
}

void flow_close(struct flow *f, int prio, const char *why)
{
	char d[200];

	if (f->dead)
		return;
	f->dead = true;
	rtp_flow_closed(f);
	logm(prio, "flow %s closed: %s (%llu bytes to ziti, %llu from ziti)", flow_desc(f, d, sizeof(d)), why,
	     (unsigned long long)f->to_zt, (unsigned long long)f->from_zt);
	udp_remove(f);
	if (f->xadd)
		xpair_icpt_gone(&f->a, &f->b);
	sipv_flow_closed(f);
	if (f->via)
		f->via->via_of = NULL;
	if (f->via_of)
		f->via_of->via = NULL;
	zt_timer_stop(D.loop, &f->timer);
	worker_name_cancel(f);
	free(f->hostname);
	f->hostname = NULL;
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

static void timer_cb(void *arg);

struct flow *flow_new(enum ftype t, struct svc *s, int fd)
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
	if (t == F_IUDP || t == F_HUDP) { /* RTP quality (flows_rtp.c); datagrams' receive times */
		int one = 1;

		if (!mem_take(RTPQ_MEM)) {
			mem_give(FLOW_MEM);
			free(f);
			return NULL;
		}
		f->rq = calloc(2, sizeof(*f->rq));
		if (!f->rq) {
			mem_give(RTPQ_MEM + FLOW_MEM);
			free(f);
			return NULL;
		}
		f->mem += RTPQ_MEM;
		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	}
	f->type = t;
	f->svc = s;
	f->fd = fd;
	f->created_ms = f->last_ms = zt_now_ms();
	zt_io_init(&f->io, fd, flow_io_cb, f);
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
	sipv_reconfigure();
	for (struct flow *f = D.flows; f; f = f->next)
		if (!f->dead && f->zt_up && (f->type == F_IUDP || f->type == F_HUDP || f->sock_up))
			zt_timer_start(D.loop, &f->timer, 0); /* timer_cb re-arms with the new timeout */
}

void flows_intercept_dsts(void (*cb)(const struct sockaddr_storage *dst, void *arg), void *arg)
{
	for (struct flow *f = D.flows; f; f = f->next)
		if (!f->dead && (f->type == F_ITCP || f->type == F_IUDP))
			cb(&f->b, arg);
}

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
void flow_io(struct flow *f)
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
		/* SIP signalling may be silent for a call's length: a new flow would have a new circuit
		 * and, hosted from the gateway's own address, a new source port at the far end */
		uint64_t idle = D.cfg.udp_idle_ms;

		if (sipv_flow_is_sip(f) && D.cfg.sip_idle_ms > idle)
			idle = D.cfg.sip_idle_ms;
		if (now - f->last_ms >= idle) {
			flow_close(f, L_DEBUG, "idle");
			return;
		}
		zt_timer_start(D.loop, &f->timer, idle - (now - f->last_ms) + 1);
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

void flow_io_cb(void *arg, uint32_t ev)
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

/* a UDP datagram to the flow's peer (a hosted flow another worker's circuit won: not connected) */
static ssize_t flow_send(const struct flow *f, const uint8_t *p, size_t n)
{
	if (f->xw)
		return sendto(f->fd, p, n, MSG_DONTWAIT, (const struct sockaddr *)&f->b, cfg_sa_len(&f->b));
	return send(f->fd, p, n, MSG_DONTWAIT);
}

static void z_on_data(struct zt_conn *c, const uint8_t *p, size_t n, void *u)
{
	struct flow *f = u;

	(void)c;
	if (f->dead)
		return;
	if (is_udp(f)) {
		if (!n)
			return;
		f->last_ms = zt_loop_now_ms(D.loop);
		sipv_data(f, false, p, n);
		/*
		 * A port unreachable from the peer (sipovl.ko hands ICMP errors about steered
		 * flows to their sockets) fails the next send once, sending nothing: send again.
		 */
		if (flow_send(f, p, n) < 0 && (errno != ECONNREFUSED || flow_send(f, p, n) < 0)) {
			D.c.udp_dropped++;
			return;
		}
		f->from_zt += n;
		f->pk_from_zt++;
		D.c.bytes_from_ziti += n;
		D.c.packets_from_ziti++;
		rtp_account(f, RTPQ_FROM_ZITI, p, n, rtp_now_us());
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
	sipv_data(f, false, p, n);
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

const struct zt_conn_cbs flow_cbs = {
	.on_connect = z_on_connect, .on_data = z_on_data, .on_close = z_on_close, .on_writable = z_on_writable,
};

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
			if (f->via || f->xw) /* its stream's other circuit carries what it reads */
				json_object_object_add(o, "merged", json_object_new_boolean(true));
			if (f->xw) /* that circuit is a worker's (flows_xpair.c) */
				json_object_object_add(o, "merged_worker", json_object_new_int((int)f->xw));
			json_object_object_add(o, "packets_to_ziti", json_object_new_int64((int64_t)f->pk_to_zt));
			json_object_object_add(o, "packets_from_ziti", json_object_new_int64((int64_t)f->pk_from_zt));
			struct json_object *r = rtp_flow_json(f);

			if (r)
				json_object_object_add(o, "rtp", r);
		}
		json_object_object_add(o, "age_ms", json_object_new_int64((int64_t)(now - f->created_ms)));
		json_object_object_add(o, "idle_ms", json_object_new_int64((int64_t)(now - f->last_ms)));
		json_object_array_add(a, o);
	}
	return a;
}
