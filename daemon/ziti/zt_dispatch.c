// SPDX-License-Identifier: GPL-2.0
/*
 * Router channel: the connection id map, replies awaited by sequence, and the dispatcher of
 * what a router sends (no I/O: replies go to ch->out; exported for the unit tests).
 */
#include "zt_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- id map ---------------- */

static unsigned hslot(const struct zt_chan *ch, uint32_t id)
{
	return (id * 2654435761u) & (ch->nbuckets - 1);
}

int zt_chan_map_add(struct zt_chan *ch, uint32_t id, void *obj, int tag)
{
	if (!ch->conns) {
		ch->nbuckets = 1024;
		ch->conns = calloc(ch->nbuckets, sizeof(*ch->conns));
		if (!ch->conns)
			return -ENOMEM;
	}
	struct zt_hnode *n = malloc(sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->key = id;
	n->val = (void *)((uintptr_t)obj | (uintptr_t)tag);
	unsigned s = hslot(ch, id);

	n->next = ch->conns[s];
	ch->conns[s] = n;
	ch->nconns++;
	return 0;
}

void *zt_chan_map_get(struct zt_chan *ch, uint32_t id, int *tag)
{
	if (!ch->conns)
		return NULL;
	for (struct zt_hnode *n = ch->conns[hslot(ch, id)]; n; n = n->next)
		if (n->key == id) {
			*tag = (int)((uintptr_t)n->val & 1);
			return (void *)((uintptr_t)n->val & ~(uintptr_t)1);
		}
	return NULL;
}

void zt_chan_map_del(struct zt_chan *ch, uint32_t id)
{
	if (!ch->conns)
		return;
	for (struct zt_hnode **pp = &ch->conns[hslot(ch, id)]; *pp; pp = &(*pp)->next)
		if ((*pp)->key == id) {
			struct zt_hnode *n = *pp;

			*pp = n->next;
			free(n);
			ch->nconns--;
			zt_chan_retired_check(ch);
			return;
		}
}

/* ---------------- pending replies ---------------- */

int zt_chan_expect_reply(struct zt_chan *ch, int32_t seq, zt_reply_cb cb, void *arg)
{
	struct zt_pending *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->seq = seq;
	p->cb = cb;
	p->arg = arg;
	p->next = ch->pending;
	ch->pending = p;
	return 0;
}

void zt_chan_cancel_replies(struct zt_chan *ch, void *arg)
{
	for (struct zt_pending **pp = &ch->pending; *pp;) {
		if ((*pp)->arg == arg) {
			struct zt_pending *p = *pp;

			*pp = p->next;
			free(p);
		} else {
			pp = &(*pp)->next;
		}
	}
}

static struct zt_pending *take_pending(struct zt_chan *ch, int32_t seq)
{
	for (struct zt_pending **pp = &ch->pending; *pp; pp = &(*pp)->next)
		if ((*pp)->seq == seq) {
			struct zt_pending *p = *pp;

			*pp = p->next;
			return p;
		}
	return NULL;
}

/* a reply that will not come (a Latency probe the router skipped): no longer expected */
void zt_chan_drop_reply(struct zt_chan *ch, int32_t seq)
{
	free(take_pending(ch, seq));
}

/* ---------------- dispatcher ---------------- */

void zt_send_state_closed(struct zt_chan *ch, uint32_t conn_id, const char *why)
{
	struct zt_msgb mb;

	if (zt_msgb_begin(&mb, &ch->out, ZT_CT_STATE_CLOSED, zt_chan_next_seq(ch)) ||
	    zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, conn_id))
		return;
	uint8_t *b = zt_msgb_body(&mb, (uint32_t)strlen(why));

	if (b)
		memcpy(b, why, strlen(why));
}

void zt_send_dial_failed_to(struct zt_chan *ch, uint32_t bind_id, int32_t dial_seq, const char *reason)
{
	struct zt_msgb mb;

	if (zt_msgb_begin(&mb, &ch->out, ZT_CT_DIAL_FAILED, zt_chan_next_seq(ch)) ||
	    zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, bind_id) || zt_msgb_hdr_u32(&mb, ZT_H_REPLY_FOR, (uint32_t)dial_seq))
		return;
	uint8_t *b = zt_msgb_body(&mb, (uint32_t)strlen(reason));

	if (b)
		memcpy(b, reason, strlen(reason));
}

void zt_send_dial_failed(struct zt_chan *ch, const struct zt_msg *dial, const char *reason)
{
	uint32_t bind_id = 0;

	zt_msg_hdr_u32(dial, ZT_H_CONN_ID, &bind_id);
	zt_send_dial_failed_to(ch, bind_id, dial->seq, reason);
}

void zt_chan_dispatch(struct zt_chan *ch, const struct zt_msg *m)
{
	uint32_t rf, conn_id;

	if (zt_msg_hdr_u32(m, ZT_H_REPLY_FOR, &rf)) {
		struct zt_pending *p = take_pending(ch, (int32_t)rf);

		if (p) {
			zt_reply_cb cb = p->cb;
			void *arg = p->arg;

			free(p);
			cb(arg, ch, m, 0, NULL);
			return;
		}
	}
	switch (m->content_type) {
	case ZT_CT_LATENCY: {
		/* a peer probing us: answer with a reply echoing the reflected header */
		struct zt_msgb mb;
		const uint8_t *v;
		uint32_t vl;

		if (zt_msgb_begin(&mb, &ch->out, ZT_CT_RESULT, zt_chan_next_seq(ch)) ||
		    zt_msgb_hdr_u32(&mb, ZT_H_REPLY_FOR, (uint32_t)m->seq) || zt_msgb_hdr_u8(&mb, ZT_H_RESULT_SUCCESS, 1))
			return;
		if (zt_msg_hdr(m, ZT_H_REFLECTED, &v, &vl))
			zt_msgb_hdr(&mb, ZT_H_REFLECTED, v, vl);
		zt_chan_flush(ch);
		return;
	}
	case ZT_CT_DATA:
	case ZT_CT_STATE_CONNECTED:
	case ZT_CT_STATE_CLOSED:
	case ZT_CT_DIAL:
	case ZT_CT_BIND_SUCCESS:
	case ZT_CT_CONN_INSPECT_REQUEST: {
		int tag = 0;

		if (!zt_msg_hdr_u32(m, ZT_H_CONN_ID, &conn_id)) {
			zt_log(ch->ctx, 1, "router %s: %s without ConnId ignored", ch->name, zt_ct_name(m->content_type));
			return;
		}
		void *obj = zt_chan_map_get(ch, conn_id, &tag);

		if (obj && tag == 0) {
			zt_conn_on_msg(obj, m);
		} else if (obj && tag == 1) {
			zt_listener_on_msg(obj, ch, m);
		} else if (m->content_type == ZT_CT_DIAL) {
			zt_log(ch->ctx, 1, "router %s: Dial for unknown binding %u rejected", ch->name, conn_id);
			zt_send_dial_failed(ch, m, "no such binding (service not hosted here)");
			zt_chan_flush(ch);
		} else if (m->content_type == ZT_CT_DATA || m->content_type == ZT_CT_STATE_CONNECTED) {
			zt_log(ch->ctx, 3, "router %s: %s for unknown conn %u", ch->name, zt_ct_name(m->content_type), conn_id);
			zt_send_state_closed(ch, conn_id, "unknown connection");
			zt_chan_flush(ch);
		}
		return;
	}
	default:
		zt_log(ch->ctx, 3, "router %s: ignoring message type %d", ch->name, m->content_type);
	}
}
