/* SPDX-License-Identifier: GPL-2.0 */
/* A small single-threaded epoll event loop with a timer heap. */
#ifndef SIPOVL_ZT_LOOP_H
#define SIPOVL_ZT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct zt_loop;

typedef void (*zt_io_cb)(void *arg, uint32_t events);
struct zt_io {
	int fd;
	uint32_t events; /* EPOLLIN/EPOLLOUT currently registered */
	zt_io_cb cb;
	void *arg;
	bool added;
};

typedef void (*zt_timer_cb)(void *arg);
struct zt_timer {
	uint64_t due_ms;
	zt_timer_cb cb;
	void *arg;
	int idx; /* heap index, -1 when not armed */
};

/*
 * Work run once at the end of the current loop iteration, after the ready events and the due
 * timers and before the loop waits again: e.g. one write for everything a batch queued.
 */
struct zt_task {
	struct zt_task *next;
	void (*cb)(void *arg);
	void *arg;
	bool queued;
};

struct zt_loop *zt_loop_new(void);
void zt_loop_free(struct zt_loop *l);
/* Run until zt_loop_stop() (or timeout_ms elapses if >= 0). Returns 0 or -errno. */
int zt_loop_run(struct zt_loop *l, int timeout_ms);
void zt_loop_stop(struct zt_loop *l);
uint64_t zt_now_ms(void);
uint64_t zt_now_us(void);
/*
 * The batch clock (issue 16: clock reads amortised): while @l runs a batch (the ready
 * events, timers and tasks of one iteration), the monotonic time read once when epoll_wait
 * returned; otherwise (no batch, or @l NULL) the clock now. For the per-datagram
 * timestamps (last activity, queue age, RTP arrival): what a batch handles arrived by the
 * time epoll_wait returned, so the batch's time is nearer its arrival than a read made
 * while handling it. Timers keep zt_now_ms(): a timer started in a batch counts from now.
 * zt_loop_batch: the batch's number (from 1, one per iteration), 0 outside a batch.
 */
uint64_t zt_loop_now_ms(const struct zt_loop *l);
uint64_t zt_loop_now_us(const struct zt_loop *l);
uint64_t zt_loop_batch(const struct zt_loop *l);

int zt_io_init(struct zt_io *io, int fd, zt_io_cb cb, void *arg);
int zt_io_set(struct zt_loop *l, struct zt_io *io, uint32_t events); /* add or modify */
void zt_io_del(struct zt_loop *l, struct zt_io *io);

void zt_timer_init(struct zt_timer *t, zt_timer_cb cb, void *arg);
void zt_timer_start(struct zt_loop *l, struct zt_timer *t, uint64_t delay_ms);
void zt_timer_stop(struct zt_loop *l, struct zt_timer *t);
void zt_task_init(struct zt_task *t, void (*cb)(void *), void *arg);
/* Queue t for the end of this iteration (once). false: no batch is running, do the work now. */
bool zt_task_post(struct zt_loop *l, struct zt_task *t);
void zt_task_cancel(struct zt_loop *l, struct zt_task *t);
/* Free obj with fn after the current epoll batch (objects may still have queued events). */
void zt_loop_defer_free(struct zt_loop *l, void (*fn)(void *), void *obj);

static inline bool zt_timer_armed(const struct zt_timer *t) { return t->idx >= 0; }

#endif
