// SPDX-License-Identifier: GPL-2.0
/*
 * Edge router selection for dials and bindings.
 */
#include "zt_internal.h"

struct zt_chan *zt_router_pick(struct zt_ctx *ctx, struct zt_session *s)
{
	struct zt_chan *best = NULL;

	for (size_t i = 0; i < s->ners; i++) {
		struct zt_chan *ch = zt_chan_get(ctx, s->ers[i].url, s->ers[i].name);

		if (!ch)
			continue;
		if (ch->state == ZT_CH_UP)
			return ch;
		if (!best || (best->state == ZT_CH_BACKOFF && ch->state != ZT_CH_BACKOFF))
			best = ch;
	}
	return best;
}

