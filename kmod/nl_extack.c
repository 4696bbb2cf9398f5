// SPDX-License-Identifier: GPL-2.0
/*
 * Formatted extack messages before 6.2 (SIPOVL_ERR_FMT, kmod/compat.h).
 */

#include <linux/kernel.h>
#include <linux/hashtable.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <net/genetlink.h>

#include "nl_int.h"

#ifndef NL_SET_ERR_MSG_FMT
/*
 * Formatted extack messages before 6.2, whose struct netlink_ext_ack has no
 * buffer for them. netlink_ack() reads the message after the handler has
 * returned, twice (to size the ack, then to copy it) with an allocation that
 * may sleep in between, so the message must outlive the handler and nothing
 * may write it until then. A buffer shared between requests (there may be
 * any number at once: the family has parallel_ops) would hand one request,
 * in any namespace, the message of another.
 *
 * So each task (thread) formats into a buffer of its own. A task is in one
 * request at a time, and netlink_rcv_skb() writes a request's ack before it
 * calls the next handler; a dump writes a message in the same call of
 * netlink_dump() that formatted it. When the task formats its next message,
 * nobody reads its buffer any more. Buffers are found by the task's struct
 * pid (a reference each); those of tasks that have gone are freed when
 * buffers are added, once their number has doubled since the last sweep,
 * and all of them at module exit, after the family is unregistered (when
 * no request runs any more).
 */
#define SIPOVL_EXTACK_LEN 80

struct sipovl_extack_buf {
	struct hlist_node node;
	struct pid *pid;
	char msg[SIPOVL_EXTACK_LEN];
};

static DEFINE_SPINLOCK(extack_lock);
static DEFINE_HASHTABLE(extack_bufs, 8);
static unsigned int extack_n, extack_sweep_at = 64;

static struct sipovl_extack_buf *extack_buf_find(struct pid *pid)
{
	struct sipovl_extack_buf *b;

	hash_for_each_possible(extack_bufs, b, node, (unsigned long)pid)
		if (b->pid == pid)
			return b;
	return NULL;
}

/* Unhashes the buffers of tasks that have gone onto @dead. */
static void extack_sweep(struct hlist_head *dead)
{
	struct sipovl_extack_buf *b;
	struct hlist_node *tmp;
	int bkt;

	lockdep_assert_held(&extack_lock);
	hash_for_each_safe(extack_bufs, bkt, tmp, b, node) {
		if (pid_has_task(b->pid, PIDTYPE_PID))
			continue;
		hash_del(&b->node);
		hlist_add_head(&b->node, dead);
		extack_n--;
	}
	extack_sweep_at = max(2 * extack_n, 64U);
}

static void extack_free(struct hlist_head *list)
{
	struct sipovl_extack_buf *b;
	struct hlist_node *tmp;

	hlist_for_each_entry_safe(b, tmp, list, node) {
		put_pid(b->pid);
		kfree(b);
	}
}

/* The calling task's buffer, NULL without memory. Process context. */
static struct sipovl_extack_buf *extack_buf(void)
{
	struct pid *pid = task_pid(current);
	struct sipovl_extack_buf *b;
	HLIST_HEAD(dead);

	spin_lock(&extack_lock);
	b = extack_buf_find(pid);
	spin_unlock(&extack_lock);
	if (b)
		return b;

	/* Only this task adds its own buffer: no one can have meanwhile. */
	b = kmalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
	if (!b)
		return NULL;
	b->pid = get_pid(pid);
	spin_lock(&extack_lock);
	if (extack_n >= extack_sweep_at)
		extack_sweep(&dead);
	hash_add(extack_bufs, &b->node, (unsigned long)pid);
	extack_n++;
	spin_unlock(&extack_lock);
	extack_free(&dead);
	return b;
}

void sipovl_extack_fmt(struct netlink_ext_ack *extack, const char *fmt, ...)
{
	struct sipovl_extack_buf *b;
	va_list ap;

	if (!extack)
		return;
	b = extack_buf();
	if (!b) {
		/* Without memory: the message unformatted, better than none. */
		extack->_msg = fmt;
		return;
	}
	va_start(ap, fmt);
	vscnprintf(b->msg, sizeof(b->msg), fmt, ap);
	va_end(ap);
	extack->_msg = b->msg;
}

void sipovl_extack_bufs_free(void)
{
	struct sipovl_extack_buf *b;
	struct hlist_node *tmp;
	HLIST_HEAD(all);
	int bkt;

	hash_for_each_safe(extack_bufs, bkt, tmp, b, node) {
		hash_del(&b->node);
		hlist_add_head(&b->node, &all);
	}
	extack_n = 0;
	extack_free(&all);
}
#else
void sipovl_extack_bufs_free(void)
{
}
#endif
