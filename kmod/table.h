/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _SIPOVL_TABLE_H
#define _SIPOVL_TABLE_H

#include <linux/types.h>
#include <linux/refcount.h>
#include <linux/u64_stats_sync.h>
#include <linux/workqueue.h>
#include <uapi/linux/sipovl.h>

#include "matcher.h"

struct sipovl_net;
struct netlink_ext_ack;

/*
 * Per-intercept counters; sent as the enum sipovl_istats_attr of the same
 * name (netlink.c).
 */
enum sipovl_istat {
	SIPOVL_IS_PACKETS,
	SIPOVL_IS_BYTES,
	SIPOVL_IS_FLOWS,
	SIPOVL_IS_DROPS,
	SIPOVL_IS_PASSES,
	SIPOVL_IS_REJECTS,
	SIPOVL_IS_MAX
};

/* Sums of an intercept's counters. */
struct sipovl_istats {
	u64 c[SIPOVL_IS_MAX];
};

/*
 * An intercept's counters on one CPU. u64_stats: a reader on a 32-bit
 * machine never sees half an update (ic_count() in hooks.c, table.c).
 */
struct sipovl_istats_pcpu {
	u64_stats_t c[SIPOVL_IS_MAX];
	struct u64_stats_sync syncp;
};

struct sipovl_ctr_block;

/*
 * Shared by the generations of an intercept whose id and name are kept. A
 * slot of a block of counters (table.c): pc points into the block's percpu
 * array.
 */
struct sipovl_counters {
	refcount_t ref;
	u32 next_free;			/* free list of the block (index + 1) */
	struct sipovl_istats_pcpu __percpu *pc;
	struct sipovl_ctr_block *blk;
};

/*
 * One intercept. Immutable once it is in a published table; shared by
 * reference between successive tables.
 */
struct sipovl_intercept {
	refcount_t ref;
	u32 id;
	u8 protos;
	u8 policy;
	u32 n_dst, n_ports, n_src;
	char *name;			/* NUL-terminated, in the same allocation */
	struct mt_prefix *dst;
	struct mt_prefix *src;
	struct mt_portrange *ports;
	struct sipovl_counters *ctr;
};

/*
 * The published, immutable lookup table: ic[i] is matcher rule i.
 * @generation is sn->generation right after it was published: what
 * SIPOVL_CMD_LOOKUP reports as the table it answered from.
 */
struct sipovl_table {
	struct rcu_work rwork;
	struct mt_table *mt;
	u32 generation;
	u32 n;
	size_t bytes;			/* intercepts + compiled matcher */
	struct sipovl_intercept *ic[];
};

/* The transparent source ranges, compiled. */
struct sipovl_srcset {
	struct rcu_work rwork;
	struct mt_table *mt;
	u32 n;
	struct mt_prefix p[];
};

struct sipovl_txn {
	struct list_head node;		/* sn->txns: lock, or RCU for reading */
	struct rcu_head rcu;
	u32 id;
	u32 portid;			/* immutable */
	u32 n, cap;
	size_t bytes;			/* of its intercepts, in sn->txn_bytes */
	struct sipovl_intercept **ic;
};

/*
 * What one namespace may make the kernel hold in intercepts (module
 * parameter max_ns_bytes): its table (intercepts and compiled matcher) and,
 * separately, its open transactions together.
 */
extern unsigned long sipovl_max_ns_bytes;

int sipovl_table_init(void);
void sipovl_table_exit(void);

struct sipovl_intercept *sipovl_intercept_alloc(u32 n_dst, u32 n_ports,
						u32 n_src, u32 name_size);
void sipovl_intercept_put(struct sipovl_intercept *ic);

/* Callers hold sn->lock. Functions taking an intercept consume the caller's
 * reference, on success and on failure.
 */
struct sipovl_table *sipovl_table_get_locked(struct sipovl_net *sn);
struct sipovl_intercept *sipovl_table_find(const struct sipovl_table *t,
					   u32 id, const char *name);
s32 sipovl_table_index(const struct sipovl_table *t, u32 id);
int sipovl_table_add(struct sipovl_net *sn, struct sipovl_intercept *ic,
		     struct netlink_ext_ack *extack);
int sipovl_table_replace(struct sipovl_net *sn, struct sipovl_intercept *ic,
			 struct netlink_ext_ack *extack);
int sipovl_table_del(struct sipovl_net *sn, u32 id, const char *name,
		     struct netlink_ext_ack *extack);
int sipovl_table_flush(struct sipovl_net *sn);

int sipovl_sources_set(struct sipovl_net *sn, const struct mt_prefix *p,
		       u32 n, struct netlink_ext_ack *extack);

struct sipovl_txn *sipovl_txn_begin(struct sipovl_net *sn, u32 portid,
				    struct netlink_ext_ack *extack);
struct sipovl_txn *sipovl_txn_find(struct sipovl_net *sn, u32 id, u32 portid);
int sipovl_txn_append(struct sipovl_net *sn, struct sipovl_txn *txn,
		      struct sipovl_intercept *ic, struct netlink_ext_ack *extack);
struct sipovl_srcset *sipovl_srcset_build(const struct mt_prefix *p, u32 n,
					  struct netlink_ext_ack *extack);
void sipovl_srcset_free(struct sipovl_srcset *s);
int sipovl_txn_commit(struct sipovl_net *sn, struct sipovl_txn *txn,
		      struct sipovl_srcset *srcs,
		      struct netlink_ext_ack *extack);
void sipovl_txn_abort(struct sipovl_net *sn, struct sipovl_txn *txn);
void sipovl_txn_release_portid(struct sipovl_net *sn, u32 portid);
bool sipovl_txn_portid_has(struct sipovl_net *sn, u32 portid);

void sipovl_counters_read(const struct sipovl_intercept *ic,
			  struct sipovl_istats *out);
/*
 * Reset support (sn->lock held): prepare allocates what a rebase needs (it
 * can fail, -ENOMEM; nothing changes then); rebase makes the counters of @ic
 * read as zero from now on and cannot fail after a prepare.
 */
int sipovl_counters_prepare_rebase(const struct sipovl_intercept *ic);
void sipovl_counters_rebase(const struct sipovl_intercept *ic);

/* Netns teardown: frees every table, source set and transaction. */
void sipovl_table_netns_exit(struct sipovl_net *sn);

#endif /* _SIPOVL_TABLE_H */
