// SPDX-License-Identifier: GPL-2.0
/* A call's RTP, free of I/O (see call_rtp.h). */
#include <stdio.h>
#include <string.h>

#include "daemon/call_rtp.h"

void call_rtp_quality(const struct call_rtp *r, uint64_t now_us, struct rtpq_snap q[2])
{
	for (int i = 0; i < 2; i++)
		rtpq_snapshot_since(r->dir[i], r->rep[i], now_us, &q[i]);
}

/* the interval ends here; the next call's starts when it takes the flow (call_rtp_rtpmap) */
static void end_interval(const struct call_rtp *r)
{
	for (int i = 0; i < 2; i++) {
		rtpq_end(r->dir[i]);
		if (r->rep[i] && r->rep[i] != r->dir[!i])
			rtpq_end(r->rep[i]);
	}
}

void call_rtp_end(const struct call_rtp *r, uint64_t now_us, char *b, size_t n)
{
	struct rtpq_snap q[2];

	call_rtp_quality(r, now_us, q);
	snprintf(b, n, "packets=%llu/%llu loss_pct=%.2f/%.2f jitter_ms=%.1f/%.1f mos=%.2f/%.2f",
		 (unsigned long long)q[0].packets, (unsigned long long)q[1].packets, q[0].loss_ratio * 100,
		 q[1].loss_ratio * 100, q[0].jitter_ms, q[1].jitter_ms, q[0].mos, q[1].mos);
	end_interval(r);
}

void call_rtp_fmt(const struct call *c, const struct call_rtp_final *fin, char *b, size_t n)
{
	size_t len;

	if (fin->has & 1u) {
		const struct rtpq_snap *q = fin->q[0];

		snprintf(b, n, "packets=%llu/%llu loss_pct=%.2f/%.2f jitter_ms=%.1f/%.1f mos=%.2f/%.2f",
			 (unsigned long long)q[0].packets, (unsigned long long)q[1].packets, q[0].loss_ratio * 100,
			 q[1].loss_ratio * 100, q[0].jitter_ms, q[1].jitter_ms, q[0].mos, q[1].mos);
	} else {
		snprintf(b, n, "packets=- loss_pct=- jitter_ms=- mos=-");
	}
	for (unsigned i = 1; i < SDP_MAX_MEDIA; i++) {
		const struct rtpq_snap *q = fin->q[i];

		if (!(fin->has & 1u << i))
			continue;
		len = strlen(b);
		if (len < n)
			snprintf(b + len, n - len, " m%u=%s packets%u=%llu/%llu loss_pct%u=%.2f/%.2f jitter_ms%u=%.1f/%.1f", i,
				 c->sdp[0].m[i].media[0] ? c->sdp[0].m[i].media : "-", i,
				 (unsigned long long)q[0].packets, (unsigned long long)q[1].packets, i,
				 q[0].loss_ratio * 100, q[1].loss_ratio * 100, i, q[0].jitter_ms, q[1].jitter_ms);
		len = strlen(b);
		if (!strcmp(c->sdp[0].m[i].media, "audio") && len < n)
			snprintf(b + len, n - len, " mos%u=%.2f/%.2f", i, q[0].mos, q[1].mos);
	}
}

bool call_rtp_end_call(const struct call *c, call_rtp_find_fn find, void *arg, uint64_t now_us, char *b, size_t n,
		       struct call_rtp_final *fin)
{
	struct call_rtp_final f;
	struct call_rtp r;

	memset(&f, 0, sizeof(f));
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
		if (!find(arg, c, i, &r))
			continue;
		call_rtp_quality(&r, now_us, f.q[i]);
		f.has |= 1u << i;
		end_interval(&r);
	}
	if (b)
		call_rtp_fmt(c, &f, b, n);
	if (fin)
		*fin = f;
	return f.has & 1u;
}

static bool listed(const struct sdp_media *m, unsigned pt)
{
	for (unsigned i = 0; m && i < m->n_pt; i++)
		if (m->pt[i] == pt)
			return true;
	return false;
}

/* @from's maps into @t (n of them): those @other lists too (both: true) or the others */
static unsigned add_maps(struct rtpq_map *t, unsigned n, const struct sdp_media *from, const struct sdp_media *other,
			 bool both)
{
	for (unsigned i = 0; from && i < from->n_map && n < RTPQ_MAX_RTPMAP; i++) {
		const struct sdp_rtpmap *s = &from->map[i];
		bool dup = false;

		if (listed(other, s->pt) != both)
			continue;
		for (unsigned j = 0; j < n; j++)
			dup |= t[j].pt == s->pt;
		if (dup)
			continue;
		t[n].pt = s->pt;
		t[n].clock_hz = s->clock;
		snprintf(t[n].name, sizeof(t[n].name), "%s", s->name);
		n++;
	}
	return n;
}

void call_rtp_rtpmap(const struct call_rtp *r, const struct call *c, unsigned i)
{
	const struct sdp_media *m[2];

	for (int s = 0; s < 2; s++)
		m[s] = c->has_sdp[s] && i < c->sdp[s].n_media ? &c->sdp[s].m[i] : NULL;
	for (int d = 0; d < 2; d++) { /* d = 0: the caller's stream, received by the callee */
		const struct sdp_media *rx = m[!d], *tx = m[d];
		struct rtpq_map t[RTPQ_MAX_RTPMAP] = { 0 };
		unsigned n = 0;

		n = add_maps(t, n, rx, tx, true);
		n = add_maps(t, n, tx, rx, true);
		n = add_maps(t, n, rx, tx, false);
		n = add_maps(t, n, tx, rx, false);
		rtpq_set_rtpmaps(r->dir[d], t, n);
	}
	for (int d = 0; d < 2; d++) { /* the call takes the flow: what came since the last call's end is not its */
		rtpq_claim(r->dir[d]);
		if (r->rep[d] && r->rep[d] != r->dir[!d])
			rtpq_claim(r->rep[d]);
	}
}
