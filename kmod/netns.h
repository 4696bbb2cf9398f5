/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _SIPOVL_NETNS_H
#define _SIPOVL_NETNS_H

#include <linux/mutex.h>
#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/workqueue.h>
#include <linux/netfilter.h>
#include <net/net_namespace.h>

struct sipovl_table;
struct sipovl_srcset;
struct rtable;
struct rt6_info;

#define SIPOVL_NHOOKS 4

enum { SIPOVL_F4, SIPOVL_F6, SIPOVL_NFAMILIES };
enum { SIPOVL_PTCP, SIPOVL_PUDP, SIPOVL_NPROTOS };

/* Global counters, per CPU. Indexes follow enum sipovl_stats_attr - 1. */
enum sipovl_gstat {
	SIPOVL_GS_LOOKUPS,
	SIPOVL_GS_STEERED,
	SIPOVL_GS_PASSED,
	SIPOVL_GS_DROPPED,
	SIPOVL_GS_ERRORS,
	SIPOVL_GS_REPLIES,
	SIPOVL_GS_SRC_DENIED,
	SIPOVL_GS_MAX
};

struct sipovl_gstats {
	u64 c[SIPOVL_GS_MAX];
};

struct sipovl_net {
	struct net *net;
	/* Serialises every configuration change in this namespace. */
	struct mutex lock;
	struct sipovl_table __rcu *table;
	struct sipovl_srcset __rcu *sources;
	struct sock __rcu *sk[SIPOVL_NFAMILIES][SIPOVL_NPROTOS];
	/* Drops registrations whose socket the daemon closed (steer.c). */
	struct delayed_work reaper;
	/* Any intercept, source range or socket configured: hooks do work. */
	bool active;
	/*
	 * Set when the namespace first becomes active, never cleared: the
	 * source policing of LOCAL_OUT stays on when the configuration is
	 * flushed, so the daemon's remaining transparent sockets (hosted
	 * connections) cannot then send from any address.
	 */
	bool policing;
	u32 generation;
	struct list_head txns;
	u32 n_txns;
	u32 next_txn_id;
	struct sipovl_gstats __percpu *stats;
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
};

struct sipovl_net *sipovl_pernet(const struct net *net);
void sipovl_update_active(struct sipovl_net *sn);

/* Generation 0 would defeat dump consistency checks: skip it. */
static inline void sipovl_gen_bump(struct sipovl_net *sn)
{
	if (!++sn->generation)
		sn->generation = 1;
}

static inline void sipovl_gstat_inc(struct sipovl_net *sn, enum sipovl_gstat s)
{
	this_cpu_inc(sn->stats->c[s]);
}

int sipovl_netns_init(void);
void sipovl_netns_exit(void);

#endif /* _SIPOVL_NETNS_H */
