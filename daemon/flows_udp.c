// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld UDP flows: the table of UDP flows by address pair (intercepted: client and original
 * destination; hosted from the caller's address: caller and target), datagrams between a
 * flow's socket and its Ziti connection, the intercept socket's reads (new flows), and one
 * circuit per stream when both ends started at once (flows_pair.c).
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

#include "daemon/flows_int.h"

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

uint32_t udp_key_hash(const struct sockaddr_storage *c, const struct sockaddr_storage *d)
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

bool udp_sa_eq(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	return x->ss_family == y->ss_family && cfg_sa_port(x) == cfg_sa_port(y) &&
	       !memcmp(cfg_sa_addr(x), cfg_sa_addr(y), x->ss_family == AF_INET ? 4 : 16);
}

/* intercepted: client c, original destination d; hosted: caller's address c, target d */
struct flow *udp_find(enum ftype t, const struct sockaddr_storage *c, const struct sockaddr_storage *d)
{
	if (!hsize)
		return NULL;
	for (struct flow *f = htab[udp_key_hash(c, d) & (hsize - 1)]; f; f = f->hnext)
		if (f->type == t && udp_sa_eq(&f->a, c) && udp_sa_eq(&f->b, d))
			return f;
	return NULL;
}

int udp_insert(struct flow *f)
{
	if (hcount + 1 > hsize / 2) {
		size_t ns = hsize ? hsize * 2 : 256;
		struct flow **nt = calloc(ns, sizeof(*nt));

		if (!nt)
			return -1;
		for (size_t i = 0; i < hsize; i++)
			for (struct flow *x = htab[i], *nx; x; x = nx) {
				nx = x->hnext;
				size_t b = udp_key_hash(&x->a, &x->b) & (ns - 1);

				x->hnext = nt[b];
				nt[b] = x;
			}
		free(htab);
		htab = nt;
		hsize = ns;
	}
	size_t b = udp_key_hash(&f->a, &f->b) & (hsize - 1);

	f->hnext = htab[b];
	htab[b] = f;
	f->hashed = true;
	hcount++;
	sipv_flow_new(f); /* a call's SDP may describe it: its rtpmap */
	return 0;
}

void udp_remove(struct flow *f)
{
	if (!hsize || !f->hashed)
		return;
	f->hashed = false;
	for (struct flow **pp = &htab[udp_key_hash(&f->a, &f->b) & (hsize - 1)]; *pp; pp = &(*pp)->hnext)
		if (*pp == f) {
			*pp = f->hnext;
			hcount--;
			return;
		}
}

/* UDP: datagrams from the flow's socket → Ziti (or the pending queue until connected). */
void udp_to_zt(struct flow *f, const uint8_t *p, size_t n)
{
	f->last_ms = zt_loop_now_ms(D.loop);
	if (f->via) { /* this stream's other circuit */
		udp_to_zt(f->via, p, n);
		return;
	}
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

void udp_read(struct flow *f)
{
	static uint8_t slots[UDP_READ_BATCH][65536];
	struct mmsghdr mm[UDP_READ_BATCH];
	struct iovec iov[UDP_READ_BATCH];
	struct sockaddr_storage from[UDP_READ_BATCH]; /* f->xw: not connected (flows_xpair.c) */
	union { /* the receive time (SO_TIMESTAMPNS, flow_new): RTP jitter (flows_rtp.c) */
		char b[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} cm[UDP_READ_BATCH];

	for (int call = 0; call < UDP_READ_CALLS && !f->dead; call++) {
		for (int i = 0; i < UDP_READ_BATCH; i++) {
			iov[i] = (struct iovec){ slots[i], sizeof(slots[i]) };
			mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1, .msg_control = cm[i].b,
							       .msg_controllen = sizeof(cm[i].b) } };
			if (f->xw) {
				mm[i].msg_hdr.msg_name = &from[i];
				mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
			}
		}
		int n = recvmmsg(f->fd, mm, UDP_READ_BATCH, MSG_DONTWAIT, NULL);
		uint64_t now = rtp_now_us();
		int64_t r2m = n > 0 ? rtp_real_to_mono_ns() : 0;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ECONNREFUSED) /* ICMP port unreachable from the peer: keep the flow */
				continue;
			flow_close(f, L_INFO, strerror(errno));
			return;
		}
		for (int i = 0; i < n && !f->dead; i++) {
			if (f->xw) { /* worker f->xw's circuit carries the stream; nothing else is f's */
				if (mm[i].msg_hdr.msg_namelen && udp_sa_eq(&from[i], &f->b))
					xpair_forward(f, slots[i], mm[i].msg_len);
				continue;
			}
			sipv_data(f, true, slots[i], mm[i].msg_len);
			rtp_account(f, RTPQ_TO_ZITI, slots[i], mm[i].msg_len, rtp_rx_time(&mm[i].msg_hdr, r2m, &now));
			udp_to_zt(f, slots[i], mm[i].msg_len);
		}
		if (n < UDP_READ_BATCH)
			return;
	}
}

/* A datagram on the registered (unconnected) UDP socket: a new flow, or a late one of a flow. */
static void udp_new(int family, const uint8_t *p, size_t n, const struct sockaddr_storage *src,
		    const struct sockaddr_storage *dst)
{
	struct flow *f = udp_find(F_IUDP, src, dst);
	char x[64], y[64];

	if (f) {
		sipv_data(f, true, p, n);
		rtp_account(f, RTPQ_TO_ZITI, p, n, rtp_now_us());
		udp_to_zt(f, p, n);
		return;
	}
	/*
	 * The reverse of a flow hosted from the caller's address (came in on the main socket
	 * before that flow's socket existed): its circuit carries this direction too, when its
	 * dialer owns dst (checked against the source_map). Otherwise any identity allowed to
	 * dial the hosted service could take this stream: it gets its own dial, and what the
	 * hosted flow's socket reads of it goes there too (udp_pair).
	 */
	struct flow *h = udp_find(F_HUDP, dst, src);

	if (h && h->src_checked) {
		sipv_data(h, true, p, n);
		rtp_account(h, RTPQ_TO_ZITI, p, n, rtp_now_us());
		udp_to_zt(h, p, n);
		return;
	}
	struct svc *s = flow_match(IPPROTO_UDP, src, dst);

	if (!s || !s->has_icpt) {
		D.c.unmatched++;
		logm(L_NOTICE, "udp %s -> %s: no service for this intercept (any more); dropped",
		     cfg_fmt_sa(src, x, sizeof(x)), cfg_fmt_sa(dst, y, sizeof(y)));
		return;
	}
	/* a worker: the primary learns of it before its socket takes the stream (flows_xpair.c) */
	xpair_icpt_new(src, dst);
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0) {
		logm(L_WARN, "udp socket: %s", strerror(errno));
		xpair_icpt_gone(src, dst);
		return;
	}
	if (flow_set_transparent(fd, family) || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (const struct sockaddr *)dst, cfg_sa_len(dst)) ||
	    connect(fd, (const struct sockaddr *)src, cfg_sa_len(src))) {
		logm(L_WARN, "udp %s -> %s (%s): per-flow socket: %s; dropped", cfg_fmt_sa(src, x, sizeof(x)),
		     cfg_fmt_sa(dst, y, sizeof(y)), s->name, strerror(errno));
		close(fd);
		xpair_icpt_gone(src, dst);
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
		xpair_icpt_gone(src, dst);
		return;
	}
	f->a = *src;
	f->b = *dst;
	f->xadd = D.worker && D.n_workers > 1;
	if (udp_insert(f)) {
		flow_close(f, L_WARN, "out of memory");
		return;
	}
	D.c.udp_intercepted++;
	sipv_data(f, true, p, n);
	rtp_account(f, RTPQ_TO_ZITI, p, n, rtp_now_us());
	udp_to_zt(f, p, n);
	if (flow_dial(f, "udp")) {
		flow_fail_dial(f);
		return;
	}
	flow_io(f);
	if (h && !h->dead && !f->dead)
		udp_pair(f, h);
}

void udp_main_read(int fd, int family)
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

/*
 * Open the socket to the target t (an address) and start the flow; req may be held. alts:
 * every address of a target given by name (t->dst is alts->a[0]); a TCP connect that fails
 * moves on to the next one.
 */
/*
 * A UDP stream with two circuits (see flows_pair.c): @i dialed here for client -> dst, @h
 * hosted for dst -> client; the hosted circuit is kept only when its dialer was checked as
 * the owner of dst (source_map) and the tie-break says so. Sending moves to the survivor at
 * once: what the loser's socket holds and what it queued while dialing go over the
 * survivor's circuit, and its later reads too (via). A loser dialed here is closed (its circuit's queued datagrams are sent before
 * the StateClosed); a loser hosted here is closed by the other gateway, and until then what
 * arrives on it still reaches the client.
 */
void udp_pair(struct flow *i, struct flow *h)
{
	bool keep_dialed = flow_pair_dialed_survives(&i->a, &i->b, h->src_checked);
	struct flow *win = keep_dialed ? i : h, *lose = keep_dialed ? h : i;
	char d[200];

	D.c.udp_circuits_merged++;
	logm(L_INFO, "flow %s: one stream, two circuits: keeping the one dialed %s", flow_desc(lose, d, sizeof(d)),
	     keep_dialed ? "here" : "by the other side");
	if (lose->via_of) /* via/via_of stay one to one: earlier pairings' links are dropped */
		lose->via_of->via = NULL;
	if (win->via_of && win->via_of != lose)
		win->via_of->via = NULL;
	if (lose->via)
		lose->via->via_of = NULL;
	lose->via = win;
	lose->via_of = NULL;
	win->via_of = lose;
	for (struct qbuf *q = lose->q; q && !win->dead; q = q->next) /* in order: queued, then unread */
		udp_to_zt(win, q->data + q->off, q->len - q->off);
	q_free(lose);
	if (lose->fd >= 0 && !win->dead)
		udp_read(lose);
	if (lose == i)
		flow_close(i, L_INFO, "merged into the circuit the other side dialed");
}

void udp_table_free(void)
{
	free(htab);
	htab = NULL;
	hsize = hcount = 0;
}
