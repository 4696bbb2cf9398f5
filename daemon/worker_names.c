// SPDX-License-Identifier: GPL-2.0
/*
 * A worker's intercepted flow to an address the DNS responder gave a name (design.md
 * "Workers"): the responder and its names are the primary's, and the dial must carry the
 * name (app_data dst_hostname, as the primary's own flows do: the hosting side's
 * forwardAddress of a hostname intercept connects to it). So before dialing a flow of a
 * service with hostname intercepts, a worker asks the primary which name the address has
 * (WMSG_NAME_Q), and dials when the answer (WMSG_NAME_A) comes; the flow's datagrams queue
 * meanwhile as for any dial. The primary answers from its zone at once; the name exists
 * there before the client could use the address (the responder gave it out). The question
 * is asked again once, after 200 ms (a full channel drops a message); an answer missing for
 * NAME_WAIT_MS (the primary busy or gone) dials without a name, as the primary does for an
 * address it holds no name for, and is logged.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dns_server.h"
#include "daemon/flows_int.h"
#include "daemon/workers.h"

#define NAME_WAIT_MS 1000
#define NAME_ASK_AGAIN_MS 200

struct name_q {
	struct name_q *next, *prev;
	struct flow *f;
	uint32_t id;
	uint64_t asked_ms;
	bool again;
	char proto[4];
};

struct wmsg_name {
	struct wmsg_hdr h;
	uint32_t id;
	struct sockaddr_storage addr;
	char name[256]; /* the answer: "" none */
};

static struct name_q *head, *tail;
static struct zt_timer timer;
static bool timer_init;
static uint32_t next_id = 1;

static void q_unlink(struct name_q *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		tail = q->prev;
}

static bool ask(struct name_q *q)
{
	struct wmsg_name m = { .h = { WMSG_NAME_Q, (uint8_t)D.worker, 0, 0 }, .id = q->id, .addr = q->f->b };

	return workers_send_raw(&m, offsetof(struct wmsg_name, name));
}

/* the timer for the next thing due: the oldest question's end, or a question's second asking */
static void timer_arm(uint64_t now)
{
	uint64_t due;

	if (!head) {
		zt_timer_stop(D.loop, &timer);
		return;
	}
	due = head->asked_ms + NAME_WAIT_MS;
	for (struct name_q *q = head; q; q = q->next) /* in the order asked */
		if (!q->again) {
			if (q->asked_ms + NAME_ASK_AGAIN_MS < due)
				due = q->asked_ms + NAME_ASK_AGAIN_MS;
			break;
		}
	zt_timer_start(D.loop, &timer, due > now ? due - now : 0);
}

static void timer_cb(void *arg)
{
	uint64_t now = zt_now_ms();

	(void)arg;
	/* each question unanswered for NAME_ASK_AGAIN_MS asked again (a full channel drops several at once) */
	for (struct name_q *q = head; q && now - q->asked_ms >= NAME_ASK_AGAIN_MS; q = q->next)
		if (!q->again) {
			q->again = true;
			ask(q);
		}
	while (head && now - head->asked_ms >= NAME_WAIT_MS) {
		struct name_q *q = head;
		struct flow *f = q->f;
		char d[200];

		q_unlink(q);
		f->name_q = NULL;
		D.c.worker_name_timeouts++;
		logm(L_WARN, "flow %s: no answer from the primary about this address's DNS name in %u ms: dialed "
		     "without one", flow_desc(f, d, sizeof(d)), NAME_WAIT_MS);
		f->name_asked = true;
		if (flow_dial(f, q->proto))
			flow_fail_dial(f);
		free(q);
	}
	timer_arm(now);
}

bool worker_name_needed(const struct flow *f)
{
	return D.worker && f->svc && f->svc->icpt.n_skipped && !f->name_asked;
}

int worker_name_ask(struct flow *f, const char *proto)
{
	struct name_q *q = calloc(1, sizeof(*q));

	if (!q)
		return -1;
	if (!timer_init) {
		zt_timer_init(&timer, timer_cb, NULL);
		timer_init = true;
	}
	q->f = f;
	q->id = next_id++;
	q->asked_ms = zt_now_ms();
	snprintf(q->proto, sizeof(q->proto), "%s", proto);
	q->prev = tail;
	if (tail)
		tail->next = q;
	else
		head = q;
	tail = q;
	f->name_q = q;
	D.c.worker_name_questions++;
	ask(q);
	if (head == q)
		timer_arm(q->asked_ms);
	return 0;
}

void worker_name_cancel(struct flow *f)
{
	struct name_q *q = f->name_q;

	if (!q)
		return;
	q_unlink(q);
	f->name_q = NULL;
	free(q);
}

void worker_names_in(unsigned from, const void *b, size_t n)
{
	struct wmsg_name m;

	if (n < offsetof(struct wmsg_name, name) || n > sizeof(m))
		return;
	memset(&m, 0, sizeof(m));
	memcpy(&m, b, n);
	if (m.h.type == WMSG_NAME_Q && !D.worker) { /* the primary: answer from the zone */
		const char *name = dns_hostname_of(&m.addr);

		m.h.type = WMSG_NAME_A;
		snprintf(m.name, sizeof(m.name), "%s", name ? name : "");
		workers_send_to(from, &m, offsetof(struct wmsg_name, name) + strlen(m.name));
		return;
	}
	if (m.h.type != WMSG_NAME_A || !D.worker)
		return;
	m.name[sizeof(m.name) - 1] = 0;
	for (struct name_q *q = head; q; q = q->next) {
		if (q->id != m.id)
			continue;
		struct flow *f = q->f;

		q_unlink(q);
		f->name_q = NULL;
		f->name_asked = true;
		free(f->hostname);
		f->hostname = m.name[0] ? strdup(m.name) : NULL;
		if (flow_dial(f, q->proto))
			flow_fail_dial(f);
		free(q);
		return;
	}
}
