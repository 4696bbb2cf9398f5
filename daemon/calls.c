// SPDX-License-Identifier: GPL-2.0
/* SIP dialog tracker, free of I/O (see calls.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/calls.h"

#define HBITS 10
#define HSIZE (1u << HBITS)

struct calls {
	struct calls_cfg cfg;
	struct call *list;
	struct call *h[HSIZE];
	unsigned n;
	uint64_t seq;
	unsigned origin;
	struct calls_stats st;
	char last_error[128];
};

static const char *const state_names[] = { "trying", "proceeding", "early", "confirmed", "ended" };
static const char *const end_names[] = { "", "bye-caller", "bye-callee", "cancelled", "rejected",
					 "setup-timeout", "idle-timeout", "stopped" };

const char *call_state_name(enum call_state s)
{
	return state_names[s];
}

const char *call_end_name(enum call_end e)
{
	return end_names[e];
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h & (HSIZE - 1);
}

struct calls *calls_new(const struct calls_cfg *cfg)
{
	struct calls *t = calloc(1, sizeof(*t));

	if (t)
		t->cfg = *cfg;
	return t;
}

void calls_set_cfg(struct calls *t, const struct calls_cfg *cfg)
{
	t->cfg = *cfg;
}

static void unlink_call(struct calls *t, struct call *c)
{
	for (struct call **pp = &t->h[hash(c->call_id)]; *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	if (c->prev)
		c->prev->next = c->next;
	else
		t->list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->state == CALL_ENDED)
		t->st.lingering--;
	else
		t->st.active--;
	t->n--;
	free(c);
}

static void end_call(struct calls *t, struct call *c, enum call_end why, uint64_t now)
{
	if (c->state == CALL_ENDED)
		return;
	c->state = CALL_ENDED;
	c->end = why;
	c->end_ms = now;
	t->st.active--;
	t->st.lingering++;
	t->st.ended[why]++;
	if (t->cfg.on_end)
		t->cfg.on_end(t->cfg.arg, c);
}

void calls_free(struct calls *t, uint64_t now)
{
	if (!t)
		return;
	/* still up as far as the SIP shows: a confirmed call lasted until now, not until its ACK */
	for (struct call *c = t->list; c; c = c->next)
		end_call(t, c, CALL_END_STOPPED, now > c->last_ms ? now : c->last_ms);
	while (t->list)
		unlink_call(t, t->list);
	free(t);
}

static struct call *find(const struct calls *t, const char *id)
{
	for (struct call *c = t->h[hash(id)]; c; c = c->hnext)
		if (!strcmp(c->call_id, id))
			return c;
	return NULL;
}

/* the oldest lingering call, to make room */
static struct call *oldest_ended(struct calls *t)
{
	struct call *o = NULL;

	for (struct call *c = t->list; c; c = c->next)
		if (c->state == CALL_ENDED && (!o || c->end_ms < o->end_ms))
			o = c;
	return o;
}

static struct call *new_call(struct calls *t, const char *id, uint64_t now)
{
	struct call *c;

	if (t->n >= t->cfg.max_calls) {
		struct call *o = oldest_ended(t);

		if (!o) {
			t->st.limit_hits++;
			return NULL;
		}
		unlink_call(t, o);
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		t->st.limit_hits++;
		return NULL;
	}
	snprintf(c->call_id, sizeof(c->call_id), "%s", id);
	c->seq = ++t->seq;
	c->origin = t->origin;
	c->start_ms = c->last_ms = now;
	c->hnext = t->h[hash(id)];
	t->h[hash(id)] = c;
	c->next = t->list;
	if (t->list)
		t->list->prev = c;
	t->list = c;
	t->n++;
	t->st.active++;
	t->st.started++;
	return c;
}

void calls_malformed(struct calls *t, const char *why)
{
	t->st.malformed++;
	snprintf(t->last_error, sizeof(t->last_error), "%s", why);
}

/* the SDP body of m, if any, into the side's media */
static void take_sdp(struct calls *t, struct call *c, int side, const struct sip_msg *m)
{
	static struct sdp s;
	char err[96];

	if (!m->body.n)
		return;
	if (m->content_type.n && !(m->content_type.n >= 15 && !strncasecmp(m->content_type.p, "application/sdp", 15)))
		return; /* multipart bodies are not looked into */
	if (sdp_parse(m->body.p, m->body.n, &s, err, sizeof(err))) {
		t->st.sdp_malformed++;
		snprintf(t->last_error, sizeof(t->last_error), "SDP: %s", err);
		return;
	}
	c->sdp[side] = s;
	c->has_sdp[side] = true;
	if (t->cfg.on_media)
		t->cfg.on_media(t->cfg.arg, c, side);
}

static void tag_of(struct sip_str hv, char *dst, size_t n)
{
	struct sip_str v;

	if (sip_hdr_param(hv, "tag", &v))
		sip_str_copy(dst, n, v);
	else
		dst[0] = 0;
}

/*
 * Once the call is answered, its dialog is the tags of the caller and of the 2xx that made it.
 * A forked INVITE may be answered in other dialogs too (other phones, other To tags): the
 * caller ACKs and ends those at once (RFC 3261 13.2.2.4); their messages are not the call's.
 * A message with no To tag (tags are mandatory; some UAs forget) keeps matching by Call-ID.
 */
static bool other_dialog(const struct call *c, const char *ftag, const char *ttag)
{
	if (c->state != CALL_CONFIRMED || !*ttag)
		return false;
	return !((!strcmp(ftag, c->tag[0]) && !strcmp(ttag, c->tag[1])) ||
		 (!strcmp(ftag, c->tag[1]) && !strcmp(ttag, c->tag[0])));
}

static void request(struct calls *t, struct call *c, const struct sip_msg *m, const char *ftag,
		    const char *ttag, const struct sockaddr_storage *src, const struct sockaddr_storage *dst,
		    uint64_t now)
{
	bool invite = sip_str_eq(m->method, "INVITE");
	int side;

	if (!c) {
		if (!invite || *ttag) {
			t->st.unknown_dialog++;
			return;
		}
		char id[CALL_ID_LEN];

		sip_str_copy(id, sizeof(id), m->call_id);
		c = new_call(t, id, now);
		if (!c)
			return;
		snprintf(c->tag[0], sizeof(c->tag[0]), "%s", ftag);
		sip_str_copy(c->party[0], sizeof(c->party[0]), sip_uri_aor(sip_hdr_uri(m->from)));
		sip_str_copy(c->party[1], sizeof(c->party[1]), sip_uri_aor(sip_hdr_uri(m->to)));
		if (src)
			c->sig[0] = *src;
		if (dst)
			c->sig[1] = *dst;
		c->invite_cseq = m->cseq;
		take_sdp(t, c, 0, m);
		return;
	}
	if (other_dialog(c, ftag, ttag)) {
		t->st.other_dialog++;
		return;
	}
	c->last_ms = now;
	side = !strcmp(ftag, c->tag[0]) ? 0 : 1;
	if (c->state == CALL_ENDED)
		return; /* retransmitted BYE, ACK of the final response, ... */
	if (invite) {
		if (side == 0 && !*ttag) /* retransmission of the first INVITE (or a new one, forked) */
			return;
		if (c->state == CALL_CONFIRMED)
			c->reinvites++;
		take_sdp(t, c, side, m);
	} else if (sip_str_eq(m->method, "BYE")) {
		end_call(t, c, side == 0 ? CALL_END_BYE_CALLER : CALL_END_BYE_CALLEE, now);
	} else if (sip_str_eq(m->method, "CANCEL")) {
		if (c->state != CALL_CONFIRMED)
			c->cancel_seen = true;
	} else if (sip_str_eq(m->method, "ACK") || sip_str_eq(m->method, "UPDATE") ||
		   sip_str_eq(m->method, "PRACK")) {
		take_sdp(t, c, side, m);
	}
}

static void response(struct calls *t, struct call *c, const struct sip_msg *m, const char *ftag,
		     const char *ttag, uint64_t now)
{
	int side;

	if (!c) {
		t->st.unknown_dialog++;
		return;
	}
	if (other_dialog(c, ftag, ttag)) { /* another fork's answer, or a response in its dialog */
		t->st.other_dialog++;
		return;
	}
	c->last_ms = now;
	if (c->state == CALL_ENDED || !sip_str_eq(m->cseq_method, "INVITE"))
		return;
	side = !strcmp(ftag, c->tag[0]) ? 1 : 0; /* the responder: the other side of the request */
	if (c->state == CALL_CONFIRMED) { /* a re-INVITE's response */
		if (m->status >= 200 && m->status < 300)
			take_sdp(t, c, side, m);
		return;
	}
	if (m->cseq != c->invite_cseq)
		return;
	if (m->status < 200) {
		if (m->status > 100 && *ttag) {
			snprintf(c->tag[1], sizeof(c->tag[1]), "%s", ttag);
			c->state = CALL_EARLY;
			if (m->body.n) {
				take_sdp(t, c, 1, m);
				c->early_media |= c->has_sdp[1];
			}
		} else if (c->state == CALL_TRYING) {
			c->state = CALL_PROCEEDING;
		}
		return;
	}
	c->status = m->status;
	if (m->status < 300) {
		snprintf(c->tag[1], sizeof(c->tag[1]), "%s", ttag);
		c->state = CALL_CONFIRMED;
		c->answer_ms = now;
		take_sdp(t, c, 1, m);
		return;
	}
	end_call(t, c, c->cancel_seen && m->status == 487 ? CALL_END_CANCELLED : CALL_END_REJECTED, now);
}

void calls_msg(struct calls *t, const struct sip_msg *m, const struct sockaddr_storage *src,
	       const struct sockaddr_storage *dst, uint64_t now)
{
	char id[CALL_ID_LEN], ftag[CALL_TAG_LEN], ttag[CALL_TAG_LEN];
	struct call *c;

	t->st.messages++;
	if (m->request)
		t->st.requests++;
	else
		t->st.responses++;
	sip_str_copy(id, sizeof(id), m->call_id);
	tag_of(m->from, ftag, sizeof(ftag));
	tag_of(m->to, ttag, sizeof(ttag));
	c = find(t, id);
	if (m->request)
		request(t, c, m, ftag, ttag, src, dst, now);
	else
		response(t, c, m, ftag, ttag, now);
}

void calls_tick(struct calls *t, uint64_t now)
{
	for (struct call *c = t->list, *nx; c; c = nx) {
		nx = c->next;
		if (c->state == CALL_ENDED) {
			if (now - c->end_ms >= t->cfg.linger_ms)
				unlink_call(t, c);
		} else if (c->state != CALL_CONFIRMED && now - c->last_ms >= t->cfg.setup_timeout_ms) {
			end_call(t, c, CALL_END_SETUP_TIMEOUT, now);
		} else if (c->state == CALL_CONFIRMED && now - c->last_ms >= t->cfg.idle_timeout_ms) {
			end_call(t, c, CALL_END_IDLE_TIMEOUT, now);
		}
	}
}

void calls_set_origin(struct calls *t, unsigned origin)
{
	t->origin = origin;
}

const struct call *calls_find(const struct calls *t, const char *call_id)
{
	return find(t, call_id);
}

const struct calls_stats *calls_stats(const struct calls *t)
{
	return &t->st;
}

const struct call *calls_first(const struct calls *t)
{
	return t->list;
}

const char *calls_last_error(const struct calls *t)
{
	return t->last_error;
}

size_t calls_mem(const struct calls *t)
{
	return sizeof(*t) + t->n * sizeof(struct call);
}

const char *call_codec(const struct call *c)
{
	for (int s = 1; s >= 0; s--)
		if (c->has_sdp[s] && c->sdp[s].n_media && c->sdp[s].m[0].port)
			return c->sdp[s].m[0].codec;
	return "";
}

uint64_t call_duration_ms(const struct call *c, uint64_t now)
{
	if (c->status < 200 || c->status >= 300)
		return 0;
	return (c->state == CALL_ENDED ? c->end_ms : now) - c->answer_ms;
}
