/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _SIPOVL_NETNS_H
#define _SIPOVL_NETNS_H

#include <linux/mutex.h>
#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/u64_stats_sync.h>
#include <linux/workqueue.h>
#include <linux/netfilter.h>
#include <net/net_namespace.h>

struct sipovl_table;
struct sipovl_srcset;
struct sipovl_group;
struct rtable;
struct rt6_info;

#define SIPOVL_NHOOKS 4

enum { SIPOVL_F4, SIPOVL_F6, SIPOVL_NFAMILIES };
enum { SIPOVL_PTCP, SIPOVL_PUDP, SIPOVL_NPROTOS };

/*
 * Global counters, per CPU (struct sipovl_gstats_pcpu); sent as the enum
 * sipovl_stats_attr of the same name (netlink.c). The DROP_ ones count per
 * reason.
 */
enum sipovl_gstat {
	SIPOVL_GS_LOOKUPS,
	SIPOVL_GS_STEERED,
	SIPOVL_GS_PASSED,
	SIPOVL_GS_DROPPED,
	SIPOVL_GS_ERRORS,
	SIPOVL_GS_REPLIES,
	SIPOVL_GS_SRC_DENIED,
	SIPOVL_GS_DROP_NO_SOCKET,
	SIPOVL_GS_DROP_NOT_NEW,
	SIPOVL_GS_DROP_MARTIAN,
	SIPOVL_GS_DROP_LOCAL_SRC,
	SIPOVL_GS_DROP_RP_FILTER,
	SIPOVL_GS_MALFORMED,
	SIPOVL_GS_REJECTED,
	SIPOVL_GS_ICMP_ERRORS,
	SIPOVL_GS_MAX
};

/* Sums of the global counters (and what a reset subtracts from them). */
struct sipovl_gstats {
	u64 c[SIPOVL_GS_MAX];
};

/*
 * The global counters of one CPU. u64_stats: a reader on a 32-bit machine
 * never sees half an update (sipovl_gstat_inc(), sipovl_nl_stats_get()).
 */
struct sipovl_gstats_pcpu {
	u64_stats_t c[SIPOVL_GS_MAX];
	struct u64_stats_sync syncp;
};

/*
 * Per-namespace state. Locking, field by field ("lock" is sn->lock, a mutex
 * taken by netlink handlers, the reaper and namespace exit; "RCU" readers
 * are the netfilter hooks, in the receive/transmit RCU sections, and
 * SIPOVL_CMD_LOOKUP under rcu_read_lock()):
 *
 *  net            set once at init.
 *  lock           -
 *  table, sources written under lock (rcu_replace_pointer with
 *                 lockdep_is_held), read under lock or RCU; the old object
 *                 is freed after a grace period (table.c).
 *  groups         written under lock (a new immutable group replaces the
 *                 old one, steer.c); read under lock or RCU
 *                 (sipovl_socket_get takes a reference).
 *  hash_seed      set once at init.
 *  reaper         scheduled under lock; cancelled (sync) in pre_exit.
 *  active         written under lock (sipovl_update_active), read without
 *                 it by the hooks (READ_ONCE): a hint, the hooks then read
 *                 the RCU pointers.
 *  policing       the same.
 *  known, n_known, police_stuck: lock.
 *  generation     lock. Published tables keep their own copy (LOOKUP).
 *  txns           written under lock (RCU list operations); read under
 *                 lock, or under RCU by the netlink release notifier
 *                 (portid only) to skip the lock for sockets without one.
 *  n_txns, next_txn_id, txn_bytes: lock.
 *  stats          per-CPU, written by the hooks without locks.
 *  stats_base     lock.
 *  lo_rt4, lo_rt6 set at init, released in pre_exit.
 *  hook_ops, n_hooks, hooks_on: lock (sipovl_net_use); pre_exit reads
 *                 them without it, when no request can run any more.
 */
struct sipovl_net {
	struct net *net;
	/* Serialises every configuration change in this namespace. */
	struct mutex lock;
	struct sipovl_table __rcu *table;
	struct sipovl_srcset __rcu *sources;
	/* The daemon's sockets for new flows, per family and protocol. */
	struct sipovl_group __rcu *groups[SIPOVL_NFAMILIES][SIPOVL_NPROTOS];
	/* Seed of the flow hash that picks a group member (steer.c). */
	u32 hash_seed;
	/* Drops registrations whose socket the daemon closed (steer.c). */
	struct delayed_work reaper;
	/* Any intercept, source range or socket configured: hooks do work. */
	bool active;
	/*
	 * The source policing of LOCAL_OUT is on: while the namespace is
	 * active, and after that for as long as a socket once registered
	 * here is still open (on known), so the daemon's remaining
	 * transparent sockets (hosted connections) cannot send from any
	 * address once its configuration is gone. It ends with the last of
	 * them (the reaper notices), so another TPROXY program is not policed
	 * for good by a sipovl that was once used (sipovl_update_active).
	 */
	bool policing;
	/*
	 * Sockets registered here and still open (struct sipovl_known, a
	 * reference each; steer.c), at most SIPOVL_MAX_KNOWN. police_stuck:
	 * one could not be tracked (the limit, no memory), so the policing
	 * stays on until the namespace goes, as it fails closed.
	 */
	struct list_head known;
	unsigned int n_known;
	bool police_stuck;
	u32 generation;
	struct list_head txns;
	u32 n_txns;
	u32 next_txn_id;
	/* Bytes of intercepts in open transactions (max_ns_bytes, table.c). */
	size_t txn_bytes;
	struct sipovl_gstats_pcpu __percpu *stats;
	/*
	 * Subtracted from the sums of stats (under lock): a reset sets it to
	 * the sums instead of writing to other CPUs' counters (netlink.c).
	 */
	struct sipovl_gstats stats_base;
	/* Local-delivery routes through the loopback device. */
	struct rtable *lo_rt4;
	struct rt6_info *lo_rt6;
	struct nf_hook_ops hook_ops[SIPOVL_NHOOKS];
	unsigned int n_hooks;
	/* hook_ops and defragmentation registered (sipovl_net_use). */
	bool hooks_on;
};

struct sipovl_net *sipovl_pernet(const struct net *net);
void sipovl_update_active(struct sipovl_net *sn);
struct netlink_ext_ack;
int sipovl_net_use(struct sipovl_net *sn, struct netlink_ext_ack *extack);
void sipovl_net_unuse(struct sipovl_net *sn, int used);

/* Generation 0 would defeat dump consistency checks: skip it. */
static inline void sipovl_gen_bump(struct sipovl_net *sn)
{
	if (!++sn->generation)
		sn->generation = 1;
}

/*
 * From the hooks: in softirq context (PREROUTING) or, for LOCAL_OUT, in a
 * task that softirqs of the same CPU may interrupt. The update section
 * keeps them from nesting on one CPU (interrupts off, on 32-bit only).
 */
static inline void sipovl_gstat_inc(struct sipovl_net *sn, enum sipovl_gstat s)
{
	struct sipovl_gstats_pcpu *st = get_cpu_ptr(sn->stats);
	unsigned long flags;

	flags = u64_stats_update_begin_irqsave(&st->syncp);
	u64_stats_inc(&st->c[s]);
	u64_stats_update_end_irqrestore(&st->syncp, flags);
	put_cpu_ptr(sn->stats);
}

int sipovl_netns_init(void);
void sipovl_netns_exit(void);

#endif /* _SIPOVL_NETNS_H */
