// SPDX-License-Identifier: GPL-2.0
/*
 * Edge router selection for dials and bindings.
 *
 * The candidates are the edge routers of the (Dial or Bind) session. A channel that is up
 * is used at once, the one with the smallest measured round trip (the hello's, then the
 * latency probes' of zt_chan.c) among those up. When none is, up to ZT_ROUTER_PARALLEL
 * candidates are connected to at the same time (those not failing first) and the first to
 * come up is used: a router that is offline or silently dead (its TLS never answers) costs
 * nothing as long as another one answers, where trying them in turn waited out the connect
 * timeout of each. The others keep connecting and are there for the next dial.
 */
#include "zt_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZT_ROUTER_PARALLEL 3

struct zt_rsel {
	struct zt_chan *ch[ZT_ROUTER_PARALLEL];
	unsigned n, left;
	bool setup; /* inside zt_router_want: failures are only counted */
	zt_router_cb cb;
	void *arg;
	char last_err[256];
};

static bool avoided(struct zt_chan *ch, struct zt_chan *const *avoid, size_t navoid)
{
	for (size_t i = 0; i < navoid; i++)
		if (avoid[i] == ch)
			return true;
	return false;
}

/* connecting: ranks before a channel waiting out a backoff after failures */
static int rank(const struct zt_chan *ch)
{
	switch (ch->state) {
	case ZT_CH_UP:
		return 0;
	case ZT_CH_HELLO:
	case ZT_CH_TLS:
	case ZT_CH_CONNECTING:
		return 1;
	case ZT_CH_IDLE:
		return 2;
	default:
		return 3;
	}
}

static void rsel_cb(void *arg, struct zt_chan *ch, int err, const char *msg)
{
	struct zt_rsel *rs = arg;

	if (err) {
		snprintf(rs->last_err, sizeof(rs->last_err), "%s: %s", ch->name, msg ? msg : "failed");
		if (--rs->left || rs->setup)
			return;
		rs->cb(rs->arg, ch, err, rs->last_err);
		free(rs);
		return;
	}
	for (unsigned i = 0; i < rs->n; i++)
		if (rs->ch[i] != ch)
			zt_chan_unwant(rs->ch[i], rs);
	rs->cb(rs->arg, ch, 0, NULL);
	free(rs);
}

bool zt_router_other_up(struct zt_ctx *ctx, struct zt_session *s, const struct zt_chan *ch)
{
	for (size_t i = 0; i < s->ners; i++) {
		struct zt_chan *x = zt_chan_get(ctx, s->ers[i].url, s->ers[i].name);

		if (x && x != ch && x->state == ZT_CH_UP && !x->suspect)
			return true;
	}
	return false;
}

struct zt_rsel *zt_router_want(struct zt_ctx *ctx, struct zt_session *s, struct zt_chan *const *avoid,
			       size_t navoid, zt_router_cb cb, void *arg)
{
	struct zt_chan *best = NULL, *suspect = NULL;
	struct zt_rsel *rs;
	char why[300];

	rs = calloc(1, sizeof(*rs));
	if (!rs) {
		cb(arg, NULL, -ENOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < s->ners; i++) {
		struct zt_chan *ch = zt_chan_get(ctx, s->ers[i].url, s->ers[i].name);

		if (!ch || avoided(ch, avoid, navoid))
			continue;
		if (ch->state == ZT_CH_UP) {
			/* one fallen silent (zt_health.c) only when no other is up */
			struct zt_chan **pick = ch->suspect ? &suspect : &best;

			if (!*pick || ch->rtt_ms < (*pick)->rtt_ms)
				*pick = ch;
			continue;
		}
		/* insertion by rank, at most ZT_ROUTER_PARALLEL */
		unsigned j = rs->n;

		while (j > 0 && rank(rs->ch[j - 1]) > rank(ch))
			j--;
		if (j >= ZT_ROUTER_PARALLEL)
			continue;
		if (rs->n == ZT_ROUTER_PARALLEL)
			rs->n--;
		memmove(&rs->ch[j + 1], &rs->ch[j], (rs->n - j) * sizeof(rs->ch[0]));
		rs->ch[j] = ch;
		rs->n++;
	}
	if (!best && !rs->n)
		best = suspect;
	if (best) {
		free(rs);
		cb(arg, best, 0, NULL);
		return NULL;
	}
	if (!rs->n) {
		free(rs);
		snprintf(why, sizeof(why), "no usable edge router in the session (%zu listed%s)", s->ners,
			 navoid ? ", the others in use" : "");
		cb(arg, NULL, -ENETUNREACH, why);
		return NULL;
	}
	rs->cb = cb;
	rs->arg = arg;
	rs->left = rs->n;
	rs->setup = true;
	for (unsigned i = 0; i < rs->n; i++)
		zt_chan_want(rs->ch[i], rsel_cb, rs); /* none is UP: calls back now only without memory */
	rs->setup = false;
	if (!rs->left) {
		cb(arg, NULL, -ENOMEM, rs->last_err);
		free(rs);
		return NULL;
	}
	return rs;
}

void zt_router_cancel(struct zt_rsel *rs)
{
	if (!rs)
		return;
	for (unsigned i = 0; i < rs->n; i++)
		zt_chan_unwant(rs->ch[i], rs);
	free(rs);
}
