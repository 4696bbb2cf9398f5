// SPDX-License-Identifier: GPL-2.0
/*
 * Per-intercept packet counters: blocks of percpu slots, shared by every
 * namespace, and the reset base that reads subtract.
 */

#include <linux/slab.h>
#include <linux/mutex.h>
#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/cpumask.h>
#include <linux/u64_stats_sync.h>

#include "netns.h"
#include "table.h"
#include "table_int.h"

/* The pool of counter blocks (see sipovl_counters_alloc). */
static DEFINE_MUTEX(ctr_lock);
static LIST_HEAD(ctr_partial);

/*
 * Per-intercept counters come from blocks of CTR_BLOCK slots with one percpu
 * allocation each: an alloc_percpu() per intercept (a global lock with
 * interrupts off and an area search every time) was most of the cost of
 * committing a large table. A slot is handed out zeroed; a freed slot goes
 * back to its block, and a block is freed with its last slot. Slots are freed
 * only when the last intercept using them is freed, i.e. after an RCU grace
 * period following the unpublishing of its last table: nobody counts into a
 * free slot. One pool serves every namespace (tables are freed by work items
 * that may run after their namespace is gone).
 */
#define CTR_BLOCK 256

/*
 * What reads of a slot subtract. Written under the namespace's lock (a
 * reset), read without it (a GET, a LOOKUP): u64_stats, so that a reader on
 * a 32-bit machine does not see half of a value.
 */
struct sipovl_istats_base {
	u64_stats_t c[SIPOVL_IS_MAX];
	struct u64_stats_sync syncp;
};

struct sipovl_ctr_block {
	struct list_head node;		/* on ctr_partial while not full */
	struct sipovl_istats_pcpu __percpu *pc;
	u32 used;			/* slots handed out */
	u32 fresh;			/* slots fresh.. were never handed out */
	u32 free;			/* index + 1 of the first freed slot */
	/*
	 * What reads of each slot subtract: set by a reset instead of writing
	 * to counters other CPUs update. Allocated (zeroed) by the first reset
	 * of any slot, so that tables never reset cost nothing.
	 */
	struct sipovl_istats_base *base;
	struct sipovl_counters c[CTR_BLOCK];
};

struct sipovl_counters *sipovl_counters_alloc(void)
{
	struct sipovl_istats_pcpu *s;
	struct sipovl_ctr_block *b;
	struct sipovl_counters *ctr;
	int cpu, i;

	mutex_lock(&ctr_lock);
	b = list_first_entry_or_null(&ctr_partial, struct sipovl_ctr_block, node);
	if (!b) {
		b = kmalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
		if (!b)
			goto nomem;
		b->pc = __alloc_percpu_gfp(CTR_BLOCK * sizeof(*b->pc),
					   __alignof__(*b->pc),
					   GFP_KERNEL_ACCOUNT);
		if (!b->pc) {
			kfree(b);
			goto nomem;
		}
		b->used = 0;
		b->fresh = 0;
		b->free = 0;
		b->base = NULL;
		list_add(&b->node, &ctr_partial);
	}
	/* Nobody counts into a free slot, nor reads it. */
	if (b->free) {
		ctr = &b->c[b->free - 1];
		b->free = ctr->next_free;
		for_each_possible_cpu(cpu) {
			s = per_cpu_ptr(ctr->pc, cpu);
			for (i = 0; i < SIPOVL_IS_MAX; i++)
				u64_stats_set(&s->c[i], 0);
		}
	} else {
		/* alloc_percpu() zeroed the fresh ones. */
		ctr = &b->c[b->fresh];
		ctr->blk = b;
		ctr->pc = b->pc + b->fresh;
		b->fresh++;
		for_each_possible_cpu(cpu)
			u64_stats_init(&per_cpu_ptr(ctr->pc, cpu)->syncp);
	}
	if (b->base)
		for (i = 0; i < SIPOVL_IS_MAX; i++)
			u64_stats_set(&b->base[ctr - b->c].c[i], 0);
	if (++b->used == CTR_BLOCK)
		list_del(&b->node);
	mutex_unlock(&ctr_lock);
	refcount_set(&ctr->ref, 1);
	return ctr;

nomem:
	mutex_unlock(&ctr_lock);
	return NULL;
}

void sipovl_counters_put(struct sipovl_counters *ctr)
{
	struct sipovl_ctr_block *b;

	if (!ctr || !refcount_dec_and_test(&ctr->ref))
		return;
	b = ctr->blk;
	mutex_lock(&ctr_lock);
	ctr->next_free = b->free;
	b->free = ctr - b->c + 1;
	if (b->used-- == CTR_BLOCK)
		list_add(&b->node, &ctr_partial);
	if (!b->used) {
		list_del(&b->node);
		free_percpu(b->pc);
		kfree(b->base);
		kfree(b);
	}
	mutex_unlock(&ctr_lock);
}

void sipovl_counters_exit(void)
{
	/* Every intercept is gone, and with it every block of counters. */
	WARN_ON_ONCE(!list_empty(&ctr_partial));
}

static void counters_sum(const struct sipovl_counters *ctr,
			 struct sipovl_istats *out)
{
	struct sipovl_istats v;
	unsigned int start;
	int cpu, i;

	memset(out, 0, sizeof(*out));
	for_each_possible_cpu(cpu) {
		const struct sipovl_istats_pcpu *s = per_cpu_ptr(ctr->pc, cpu);

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			for (i = 0; i < SIPOVL_IS_MAX; i++)
				v.c[i] = u64_stats_read(&s->c[i]);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		for (i = 0; i < SIPOVL_IS_MAX; i++)
			out->c[i] += v.c[i];
	}
}

/*
 * Counters are only ever written by the CPU that counts (ic_count()); a
 * reset does not zero them but moves the base that reads subtract, so that
 * no packet counted while it runs is lost or counted twice.
 */
void sipovl_counters_read(const struct sipovl_intercept *ic,
			  struct sipovl_istats *out)
{
	const struct sipovl_istats_base *base;
	struct sipovl_istats v;
	unsigned int start;
	int i;

	memset(out, 0, sizeof(*out));
	if (!ic->ctr)
		return;
	counters_sum(ic->ctr, out);
	/* Pairs with the release in prepare_rebase: an initialised array. */
	base = smp_load_acquire(&ic->ctr->blk->base);
	if (!base)
		return;
	base += ic->ctr - ic->ctr->blk->c;
	do {
		start = u64_stats_fetch_begin(&base->syncp);
		for (i = 0; i < SIPOVL_IS_MAX; i++)
			v.c[i] = u64_stats_read(&base->c[i]);
	} while (u64_stats_fetch_retry(&base->syncp, start));
	for (i = 0; i < SIPOVL_IS_MAX; i++)
		out->c[i] -= v.c[i];
}

int sipovl_counters_prepare_rebase(const struct sipovl_intercept *ic)
{
	struct sipovl_istats_base *base;
	struct sipovl_ctr_block *b;
	int i;

	/* Pairs with the release below (a reset in another namespace). */
	if (!ic->ctr || smp_load_acquire(&ic->ctr->blk->base))
		return 0;
	b = ic->ctr->blk;
	base = kcalloc(CTR_BLOCK, sizeof(*base), GFP_KERNEL_ACCOUNT);
	if (!base)
		return -ENOMEM;
	for (i = 0; i < CTR_BLOCK; i++)
		u64_stats_init(&base[i].syncp);
	/* Blocks are shared by namespaces: another reset may be first. */
	mutex_lock(&ctr_lock);
	if (!b->base) {
		/* Initialised before readers without the lock can see it. */
		smp_store_release(&b->base, base);
		base = NULL;
	}
	mutex_unlock(&ctr_lock);
	kfree(base);
	return 0;
}

/* Under the lock of the intercept's namespace: the slot's only writer. */
void sipovl_counters_rebase(const struct sipovl_intercept *ic)
{
	struct sipovl_istats_base *base;
	struct sipovl_istats sum;
	unsigned long flags;
	int i;

	if (!ic->ctr)
		return;
	base = ic->ctr->blk->base + (ic->ctr - ic->ctr->blk->c);
	counters_sum(ic->ctr, &sum);
	flags = u64_stats_update_begin_irqsave(&base->syncp);
	for (i = 0; i < SIPOVL_IS_MAX; i++)
		u64_stats_set(&base->c[i], sum.c[i]);
	u64_stats_update_end_irqrestore(&base->syncp, flags);
}
