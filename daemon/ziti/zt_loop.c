// SPDX-License-Identifier: GPL-2.0
#include "zt_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct zt_loop {
	int epfd;
	bool stop;
	struct zt_timer **heap;
	int nheap, capheap;
	struct zt_deferred *deferred;
	struct zt_task *tasks, **tasks_tail;
	bool in_batch; /* running ready events, timers and tasks */
	uint64_t batch_us, batch; /* the batch clock (zt_loop_now_us) and the batch's number */
};

struct zt_deferred {
	struct zt_deferred *next;
	void (*fn)(void *);
	void *obj;
};

void zt_loop_defer_free(struct zt_loop *l, void (*fn)(void *), void *obj)
{
	struct zt_deferred *d = malloc(sizeof(*d));

	if (!d) {
		fn(obj); /* best effort */
		return;
	}
	d->fn = fn;
	d->obj = obj;
	d->next = l->deferred;
	l->deferred = d;
}

static void run_deferred(struct zt_loop *l)
{
	while (l->deferred) {
		struct zt_deferred *d = l->deferred;

		l->deferred = d->next;
		d->fn(d->obj);
		free(d);
	}
}

void zt_task_init(struct zt_task *t, void (*cb)(void *), void *arg)
{
	t->next = NULL;
	t->cb = cb;
	t->arg = arg;
	t->queued = false;
}

bool zt_task_post(struct zt_loop *l, struct zt_task *t)
{
	if (!l->in_batch)
		return false;
	if (t->queued)
		return true;
	t->queued = true;
	t->next = NULL;
	if (!l->tasks)
		l->tasks_tail = &l->tasks;
	*l->tasks_tail = t;
	l->tasks_tail = &t->next;
	return true;
}

void zt_task_cancel(struct zt_loop *l, struct zt_task *t)
{
	if (!t->queued)
		return;
	for (struct zt_task **pp = &l->tasks; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			if (l->tasks_tail == &t->next)
				l->tasks_tail = pp;
			break;
		}
	t->queued = false;
	t->next = NULL;
}

/* Tasks may post tasks (they run in this same pass). */
static void run_tasks(struct zt_loop *l)
{
	while (l->tasks) {
		struct zt_task *t = l->tasks;

		l->tasks = t->next;
		if (!l->tasks)
			l->tasks_tail = &l->tasks;
		t->next = NULL;
		t->queued = false;
		t->cb(t->arg);
	}
}

uint64_t zt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t zt_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t zt_loop_now_us(const struct zt_loop *l)
{
	return l && l->in_batch ? l->batch_us : zt_now_us();
}

uint64_t zt_loop_now_ms(const struct zt_loop *l)
{
	return zt_loop_now_us(l) / 1000;
}

uint64_t zt_loop_batch(const struct zt_loop *l)
{
	return l && l->in_batch ? l->batch : 0;
}

struct zt_loop *zt_loop_new(void)
{
	struct zt_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void zt_loop_free(struct zt_loop *l)
{
	if (!l)
		return;
	run_deferred(l);
	for (int i = 0; i < l->nheap; i++)
		l->heap[i]->idx = -1;
	close(l->epfd);
	free(l->heap);
	free(l);
}

void zt_loop_stop(struct zt_loop *l)
{
	l->stop = true;
}

int zt_io_init(struct zt_io *io, int fd, zt_io_cb cb, void *arg)
{
	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	return 0;
}

int zt_io_set(struct zt_loop *l, struct zt_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (io->added && io->events == events)
		return 0;
	if (epoll_ctl(l->epfd, io->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, io->fd, &ev) < 0)
		return -errno;
	io->added = true;
	io->events = events;
	return 0;
}

void zt_io_del(struct zt_loop *l, struct zt_io *io)
{
	if (io->added)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->added = false;
	io->events = 0;
}

/* ---- timer min-heap ---- */

static void heap_swap(struct zt_loop *l, int a, int b)
{
	struct zt_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->idx = a;
	l->heap[b]->idx = b;
}

static void heap_up(struct zt_loop *l, int i)
{
	while (i > 0) {
		int p = (i - 1) / 2;

		if (l->heap[p]->due_ms <= l->heap[i]->due_ms)
			break;
		heap_swap(l, p, i);
		i = p;
	}
}

static void heap_down(struct zt_loop *l, int i)
{
	for (;;) {
		int c = 2 * i + 1, m = i;

		if (c < l->nheap && l->heap[c]->due_ms < l->heap[m]->due_ms)
			m = c;
		if (c + 1 < l->nheap && l->heap[c + 1]->due_ms < l->heap[m]->due_ms)
			m = c + 1;
		if (m == i)
			break;
		heap_swap(l, i, m);
		i = m;
	}
}

void zt_timer_init(struct zt_timer *t, zt_timer_cb cb, void *arg)
{
	t->cb = cb;
	t->arg = arg;
	t->idx = -1;
	t->due_ms = 0;
}

void zt_timer_stop(struct zt_loop *l, struct zt_timer *t)
{
	int i = t->idx;

	if (i < 0)
		return;
	l->nheap--;
	if (i != l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->heap[i]->idx = i;
		heap_up(l, i);
		heap_down(l, l->heap[i]->idx);
	}
	t->idx = -1;
}

void zt_timer_start(struct zt_loop *l, struct zt_timer *t, uint64_t delay_ms)
{
	zt_timer_stop(l, t);
	if (l->nheap == l->capheap) {
		int nc = l->capheap ? l->capheap * 2 : 64;
		struct zt_timer **n = realloc(l->heap, sizeof(*n) * nc);

		if (!n)
			abort(); /* timers are essential; out of memory is fatal */
		l->heap = n;
		l->capheap = nc;
	}
	t->due_ms = zt_now_ms() + delay_ms;
	t->idx = l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, t->idx);
}

static void run_timers(struct zt_loop *l)
{
	uint64_t now = zt_loop_now_ms(l);

	while (l->nheap > 0 && l->heap[0]->due_ms <= now && !l->stop) {
		struct zt_timer *t = l->heap[0];

		zt_timer_stop(l, t);
		t->cb(t->arg);
	}
}

int zt_loop_run(struct zt_loop *l, int timeout_ms)
{
	struct epoll_event evs[64];
	uint64_t end = timeout_ms >= 0 ? zt_now_ms() + (uint64_t)timeout_ms : 0;

	l->stop = false;
	while (!l->stop) {
		int wait = -1;
		uint64_t now = zt_now_ms();

		if (l->nheap > 0)
			wait = l->heap[0]->due_ms > now ? (int)(l->heap[0]->due_ms - now) : 0;
		if (timeout_ms >= 0) {
			if (now >= end)
				break;
			int left = (int)(end - now);

			if (wait < 0 || left < wait)
				wait = left;
		}
		int n = epoll_wait(l->epfd, evs, 64, wait);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->batch_us = zt_now_us();
		l->batch++;
		l->in_batch = true;
		for (int i = 0; i < n && !l->stop; i++) {
			struct zt_io *io = evs[i].data.ptr;

			if (io->added)
				io->cb(io->arg, evs[i].events);
		}
		run_tasks(l);
		run_deferred(l);
		run_timers(l);
		run_tasks(l);
		l->in_batch = false;
		run_deferred(l);
	}
	return 0;
}
