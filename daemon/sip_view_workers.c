// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld's SIP view across worker processes (Documentation/design.md "Workers").
 *
 * The kernel's flow hash puts a call's SIP flow and its RTP flows at different workers. So
 * every process follows every call: the SIP a process reads from its own flows goes to the
 * primary, which gives it to its own dialog tracker and to every other worker (workers.c,
 * WMSG_SIP). The process that carries a stream's flow then finds the call of its SDP
 * addresses in its own tracker, as with one worker: the a=rtpmap and the call's interval of
 * the flow (call_rtp.h) are applied where the RTP is.
 *
 * When a call ends, every process ends the interval of the streams it carries. The CDR is
 * written once, by the call's origin (the process that read its INVITE): the others send it
 * their streams' final figures (WMSG_FIN, through the primary, which keeps them for the calls
 * view too). The origin writes the CDR when every stream with addresses on both sides has
 * figures, or after FIN_WAIT_MS with what came (a stream no process carried: "-").
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/flows_int.h"
#include "daemon/sip_view.h"
#include "daemon/sip_view_int.h"

#define T sipv_T
#define PEND_N 64
#define FIN_WAIT_MS 2000
#define PEND_TICK_MS 100

static struct pend {
	bool used;
	unsigned want;       /* bit i: the i-th media has addresses on both sides */
	uint64_t deadline_ms;
	struct call c;       /* a copy: the tracker may drop the call before its CDR */
	struct call_rtp_final fin;
} pend[PEND_N];
static unsigned n_pend;
static struct zt_timer pend_timer;
static bool pend_timer_init;

void sipv_remote_sip(unsigned origin, const struct sockaddr_storage *src, const struct sockaddr_storage *dst,
		     const char *p, size_t n)
{
	static struct sip_msg m;
	char err[128];

	if (!T || sip_parse(p, n, false, &m, err, sizeof(err)) != SIP_OK) /* it parsed where it was read */
		return;
	calls_set_origin(T, origin);
	calls_msg(T, &m, src, dst, zt_now_ms());
	calls_set_origin(T, D.worker);
}

static void pend_write(struct pend *e)
{
	sipv_cdr(&e->c, &e->fin);
	e->used = false;
	n_pend--;
}

static void pend_cb(void *arg)
{
	uint64_t now = zt_now_ms();

	(void)arg;
	for (unsigned i = 0; i < PEND_N; i++)
		if (pend[i].used && now >= pend[i].deadline_ms)
			pend_write(&pend[i]);
	if (n_pend)
		zt_timer_start(D.loop, &pend_timer, PEND_TICK_MS);
}

static void merge(struct call_rtp_final *into, const struct call_rtp_final *fin)
{
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
		if ((fin->has & 1u << i) && !(into->has & 1u << i)) {
			memcpy(into->q[i], fin->q[i], sizeof(fin->q[i]));
			into->has |= 1u << i;
		}
}

/*
 * The primary while stopping: the workers' final figures of calls still going on here, kept
 * until those calls end as "stopped" (not in the calls view's ring of ENDQ_N: every call
 * that is up stops at once).
 */
static struct stop_fin {
	uint64_t seq;
	struct call_rtp_final fin;
} *stop_fins;
static size_t n_stop_fins, cap_stop_fins;

static struct stop_fin *stop_fin_find(uint64_t seq)
{
	for (size_t i = 0; i < n_stop_fins; i++)
		if (stop_fins[i].seq == seq)
			return &stop_fins[i];
	return NULL;
}

static void stop_fin_keep(uint64_t seq, const struct call_rtp_final *fin)
{
	struct stop_fin *e = stop_fin_find(seq);

	if (e) {
		merge(&e->fin, fin);
		return;
	}
	if (n_stop_fins == cap_stop_fins) {
		size_t nc = cap_stop_fins ? 2 * cap_stop_fins : 64;
		struct stop_fin *n = realloc(stop_fins, nc * sizeof(*n));

		if (!n)
			return;
		stop_fins = n;
		cap_stop_fins = nc;
	}
	stop_fins[n_stop_fins].seq = seq;
	memset(&stop_fins[n_stop_fins].fin, 0, sizeof(stop_fins[n_stop_fins].fin));
	merge(&stop_fins[n_stop_fins++].fin, fin);
}

void sipv_stop_fin_add(uint64_t seq, struct call_rtp_final *fin)
{
	const struct stop_fin *e = stop_fin_find(seq);

	if (e)
		merge(fin, &e->fin);
}

void sipv_remote_fin(const char *call_id, const struct call_rtp_final *fin)
{
	const struct call *c = T ? calls_find(T, call_id) : NULL;

	if (c && stopping && !D.worker)
		stop_fin_keep(c->seq, fin);
	if (c) /* kept for the calls view (read once the call has ended here too) */
		sipv_endq_merge(c->seq, fin);
	for (unsigned i = 0; i < PEND_N; i++) {
		struct pend *e = &pend[i];

		if (!e->used || strcmp(e->c.call_id, call_id))
			continue;
		merge(&e->fin, fin);
		if (!(e->want & ~e->fin.has))
			pend_write(e);
		return;
	}
}

bool sipv_pend(const struct call *c, const struct call_rtp_final *fin)
{
	unsigned want = 0;
	const struct sdp_media *x, *y;

	if (D.n_workers < 2 || stopping)
		return false;
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
		if (sipv_media_pair(c, i, &x, &y))
			want |= 1u << i;
	if (!(want & ~fin->has))
		return false;
	for (unsigned i = 0; i < PEND_N; i++) {
		struct pend *e = &pend[i];

		if (e->used)
			continue;
		e->used = true;
		e->want = want;
		e->deadline_ms = zt_now_ms() + FIN_WAIT_MS;
		e->c = *c;
		e->c.next = e->c.prev = e->c.hnext = NULL;
		e->fin = *fin;
		if (!pend_timer_init) {
			zt_timer_init(&pend_timer, pend_cb, NULL);
			pend_timer_init = true;
		}
		if (!n_pend++)
			zt_timer_start(D.loop, &pend_timer, PEND_TICK_MS);
		return true;
	}
	return false; /* too many waiting: written now with this process's figures */
}

void sipv_pend_flush(void)
{
	free(stop_fins);
	stop_fins = NULL;
	n_stop_fins = cap_stop_fins = 0;
	for (unsigned i = 0; i < PEND_N; i++)
		if (pend[i].used)
			pend_write(&pend[i]);
	if (pend_timer_init)
		zt_timer_stop(D.loop, &pend_timer);
}
