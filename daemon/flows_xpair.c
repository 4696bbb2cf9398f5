// SPDX-License-Identifier: GPL-2.0
/*
 * One UDP stream, one circuit across worker processes (design.md "Workers"; flows_pair.c is
 * the tie-break). Only the primary hosts, and the kernel's flow hash puts an intercepted flow
 * at any worker, so a stream's intercepted flow (client D -> destination C, at worker w) and
 * its hosted flow (source C -> target D, at the primary) can be in two processes. Both own a
 * transparent UDP socket connected on the same address pair, and the kernel gives the
 * stream's packets to the newer one. So:
 *
 * - a worker tells the primary of each intercepted UDP flow (WMSG_PAIR_ADD, before its
 *   socket exists) and of its end (WMSG_PAIR_DEL); the primary keeps them by address pair;
 * - the primary, hosting a dial from C to D (it first reads what its workers sent), or told
 *   of an intercepted D -> C while it hosts C -> D, applies the tie-break once:
 *   - the dialed circuit stays (always when the hosted dialer's claim to C was not checked
 *     against the source_map): the hosted flow's socket is disconnected, so the worker's
 *     connected one gets the stream; the hosted flow still sends what its circuit brings (to
 *     D, from C); what its socket read of the stream goes to the worker (WMSG_PAIR_DATA),
 *     which sends it over the dialed circuit;
 *   - the hosted circuit stays: the worker is told to close its flow (WMSG_PAIR_MERGE), after
 *     sending the primary what it queued and what its socket holds (WMSG_PAIR_DATA); the
 *     kernel then gives the stream to the hosted flow's socket again.
 * - the worker's flow ends (or the worker dies): a hosted flow it made disconnect connects
 *   again (as a flow whose via ended carries its own stream: flows.c flow_close).
 *
 * A datagram for a pair the other process carries is sent as one message; one that does not
 * fit in the channel (full: a stuck process) is dropped and counted (udp_dropped).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/flows_int.h"
#include "daemon/workers.h"

struct wmsg_pair {
	struct wmsg_hdr h;
	struct sockaddr_storage a, b; /* the intercepted flow's client and original destination */
};

/* ------------------------------------------------------------------ primary: the workers' pairs */

struct xent {
	struct xent *next;
	struct sockaddr_storage a, b;
	unsigned worker;
};

#define XTAB_SIZE 1024
static struct xent *xtab[XTAB_SIZE];

static struct xent **xfind(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct xent **pp = &xtab[udp_key_hash(a, b) & (XTAB_SIZE - 1)];

	for (; *pp; pp = &(*pp)->next)
		if (udp_sa_eq(&(*pp)->a, a) && udp_sa_eq(&(*pp)->b, b))
			return pp;
	return pp;
}

static bool msg_pair(uint8_t type, const struct sockaddr_storage *a, const struct sockaddr_storage *b,
		     unsigned to, const uint8_t *p, size_t n)
{
	static uint8_t buf[sizeof(struct wmsg_pair) + 65536];
	struct wmsg_pair m = { { type, (uint8_t)D.worker, (uint8_t)to, 0 }, *a, *b };

	if (n > 65535)
		return false;
	memcpy(buf, &m, sizeof(m));
	if (n)
		memcpy(buf + sizeof(m), p, n);
	return D.worker ? workers_send_raw(buf, sizeof(m) + n) : workers_send_to(to, buf, sizeof(m) + n);
}

/* a hosted flow the worker's dialed circuit won: it carries its own stream again */
static void x_release(struct flow *h)
{
	char d[200];

	if (!h->xw)
		return;
	h->xw = 0;
	if (h->fd >= 0 && connect(h->fd, (const struct sockaddr *)&h->b, cfg_sa_len(&h->b)))
		logm(L_WARN, "flow %s: connecting its socket again: %s", flow_desc(h, d, sizeof(d)), strerror(errno));
}

/* the stream's two circuits: h hosted here, the one dialed for client a -> dst b at worker w */
static void x_resolve(struct flow *h, const struct sockaddr_storage *a, const struct sockaddr_storage *b, unsigned w)
{
	bool keep_dialed = flow_pair_dialed_survives(a, b, h->src_checked);
	char d[200];

	if (h->dead || h->xw || h->via || h->via_of || h->fd < 0)
		return;
	if (!keep_dialed) {
		if (!msg_pair(WMSG_PAIR_MERGE, a, b, w, NULL, 0)) {
			logm(L_WARN, "flow %s: one stream, two circuits: worker %u's channel is full: its flow of the "
			     "stream is not closed", flow_desc(h, d, sizeof(d)), w);
			return;
		}
		D.c.udp_circuits_merged++;
		logm(L_INFO, "flow %s: one stream, two circuits: keeping the one dialed by the other side (worker %u's flow)",
		     flow_desc(h, d, sizeof(d)), w);
		return;
	}
	/* the worker's connected socket gets the stream; this one only sends */
	struct sockaddr_storage none = { .ss_family = AF_UNSPEC };

	if (connect(h->fd, (const struct sockaddr *)&none, sizeof(none))) {
		logm(L_WARN, "flow %s: one stream, two circuits: disconnecting its socket for worker %u's: %s",
		     flow_desc(h, d, sizeof(d)), w, strerror(errno));
		return;
	}
	h->xw = w;
	D.c.udp_circuits_merged++;
	logm(L_INFO, "flow %s: one stream, two circuits: keeping the one dialed here (worker %u's flow)",
	     flow_desc(h, d, sizeof(d)), w);
	udp_read(h); /* what it read of the stream goes to the worker */
}

/* flows_host.c: a hosted flow from the caller's address that no intercepted flow here pairs */
void xpair_hosted(struct flow *h)
{
	if (D.worker || D.n_workers < 2 || !h->spoofed)
		return;
	struct xent *e = *xfind(&h->b, &h->a);

	if (e)
		x_resolve(h, &e->a, &e->b, e->worker);
}

/* the primary, before hosting a UDP dial from the caller's address: the workers' news first */
void xpair_before_host(void)
{
	if (!D.worker && D.n_workers > 1)
		workers_poll();
}

/* flows_udp.c udp_read: a datagram of the stream that worker h->xw carries */
void xpair_forward(struct flow *h, const uint8_t *p, size_t n)
{
	if (!msg_pair(WMSG_PAIR_DATA, &h->b, &h->a, h->xw, p, n))
		D.c.udp_dropped++;
}

static void x_del(struct xent **pp)
{
	struct xent *e = *pp;
	struct flow *h = udp_find(F_HUDP, &e->b, &e->a);

	if (h && h->xw == e->worker)
		x_release(h);
	*pp = e->next;
	free(e);
}

/* a worker died (workers.c): its flows are gone */
void xpair_worker_gone(unsigned w)
{
	for (size_t i = 0; i < XTAB_SIZE; i++)
		for (struct xent **pp = &xtab[i]; *pp;)
			if ((*pp)->worker == w)
				x_del(pp);
			else
				pp = &(*pp)->next;
}

void xpair_free(void)
{
	for (size_t i = 0; i < XTAB_SIZE; i++)
		while (xtab[i]) {
			struct xent *e = xtab[i];

			xtab[i] = e->next;
			free(e);
		}
}

/* ------------------------------------------------------------------ worker: its intercepted flows */

/* flows_udp.c: an intercepted UDP flow client a -> dst b, before its socket is opened */
void xpair_icpt_new(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (D.worker && D.n_workers > 1)
		msg_pair(WMSG_PAIR_ADD, a, b, 0, NULL, 0);
}

/* flows.c flow_close, and udp_new's failures: the intercepted flow client a -> dst b ended */
void xpair_icpt_gone(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (D.worker && D.n_workers > 1)
		msg_pair(WMSG_PAIR_DEL, a, b, 0, NULL, 0);
}

/* a datagram of flow f's stream that the other process read: as if read from f's socket */
static void x_data(struct flow *f, const uint8_t *p, size_t n)
{
	sipv_data(f, true, p, n);
	rtp_account(f, RTPQ_TO_ZITI, p, n, rtp_now_us());
	udp_to_zt(f, p, n);
}

/* the worker's flow lost the tie-break: what it holds goes to the primary's circuit */
static void x_merge(struct flow *i)
{
	static uint8_t buf[65536];

	for (struct qbuf *q = i->q; q; q = q->next)
		if (!msg_pair(WMSG_PAIR_DATA, &i->a, &i->b, 0, q->data + q->off, q->len - q->off))
			D.c.udp_dropped++;
	q_free(i);
	for (int k = 0; i->fd >= 0 && k < 256; k++) {
		ssize_t r = recv(i->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (r < 0 && errno == ECONNREFUSED)
			continue;
		if (r < 0)
			break;
		if (!msg_pair(WMSG_PAIR_DATA, &i->a, &i->b, 0, buf, (size_t)r))
			D.c.udp_dropped++;
	}
	flow_close(i, L_INFO, "merged into the circuit the other side dialed (the primary's)");
}

/* ------------------------------------------------------------------ messages */

void xpair_in(unsigned from, const void *p, size_t n)
{
	struct wmsg_pair m;

	if (n < sizeof(m))
		return;
	memcpy(&m, p, sizeof(m));
	if (m.a.ss_family != m.b.ss_family || (m.a.ss_family != AF_INET && m.a.ss_family != AF_INET6))
		return;
	const uint8_t *data = (const uint8_t *)p + sizeof(m);
	size_t dn = n - sizeof(m);

	if (D.worker) { /* from the primary */
		struct flow *i = udp_find(F_IUDP, &m.a, &m.b);

		if (!i || i->dead)
			return;
		if (m.h.type == WMSG_PAIR_MERGE)
			x_merge(i);
		else if (m.h.type == WMSG_PAIR_DATA)
			x_data(i, data, dn);
		return;
	}
	if (!from || from >= D.n_workers || m.h.origin != from)
		return;
	if (m.h.type == WMSG_PAIR_DATA) {
		struct flow *h = udp_find(F_HUDP, &m.b, &m.a);

		if (h && !h->dead)
			x_data(h, data, dn);
		return;
	}
	struct xent **pp = xfind(&m.a, &m.b);

	if (m.h.type == WMSG_PAIR_DEL) {
		if (*pp && (*pp)->worker == from)
			x_del(pp);
		return;
	}
	if (m.h.type != WMSG_PAIR_ADD || !workers_alive(from)) /* a dead worker's last words: its flows are gone */
		return;
	if (*pp) { /* moved between workers (a join or a death): the newer is the one */
		(*pp)->worker = from;
	} else {
		struct xent *e = calloc(1, sizeof(*e));

		if (!e)
			return;
		e->a = m.a;
		e->b = m.b;
		e->worker = from;
		*pp = e;
	}
	struct flow *h = udp_find(F_HUDP, &m.b, &m.a);

	if (!h || h->dead || !h->spoofed)
		return;
	if (h->xw) /* its stream moved to this worker (a join or a death): the stream is its now */
		h->xw = from;
	else
		x_resolve(h, &m.a, &m.b, from);
}
