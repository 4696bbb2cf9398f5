// SPDX-License-Identifier: GPL-2.0
/*
 * Per network namespace state. Registered as a pernet *device* subsystem so
 * that its exit runs before the namespace's loopback device goes away: the
 * local-delivery routes hold a reference to it.
 */

#include <linux/slab.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <net/netns/generic.h>
#include <net/genetlink.h>

#include "compat.h"
#include "hooks.h"
#include "netns.h"
#include "steer.h"
#include "table.h"

static unsigned int sipovl_net_id __read_mostly;

struct sipovl_net *sipovl_pernet(const struct net *net)
{
	return net_generic(net, sipovl_net_id);
}

/* Called with sn->lock held after every configuration change. */
void sipovl_update_active(struct sipovl_net *sn)
{
	struct sipovl_table *t = rcu_dereference_protected(sn->table,
						lockdep_is_held(&sn->lock));
	struct sipovl_srcset *s = rcu_dereference_protected(sn->sources,
						lockdep_is_held(&sn->lock));
	bool active = (t && t->n) || (s && s->n);
	int i, j;

	for (i = 0; i < SIPOVL_NFAMILIES; i++)
		for (j = 0; j < SIPOVL_NPROTOS; j++)
			active |= !!rcu_access_pointer(sn->groups[i][j]);
	WRITE_ONCE(sn->active, active);
	/*
	 * Policing continues past the configuration while a socket that was
	 * registered here is open (netns.h, policing).
	 */
	if (active || !list_empty(&sn->known) || sn->police_stuck)
		WRITE_ONCE(sn->policing, true);
	else
		WRITE_ONCE(sn->policing, false);
}

static int __net_init sipovl_net_init(struct net *net)
{
	struct sipovl_net *sn = sipovl_pernet(net);
	int cpu, ret;

	sn->net = net;
	sn->generation = 1;
	mutex_init(&sn->lock);
	INIT_LIST_HEAD(&sn->txns);
	INIT_LIST_HEAD(&sn->known);
	/* Any user can create namespaces: charged to its memory cgroup. */
	sn->stats = alloc_percpu_gfp(struct sipovl_gstats_pcpu,
				     GFP_KERNEL_ACCOUNT);
	if (!sn->stats)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(sn->stats, cpu)->syncp);
	ret = sipovl_steer_netns_init(sn);
	if (ret) {
		free_percpu(sn->stats);
		return ret;
	}
	return 0;
}

/*
 * The netfilter hooks and IPv4/IPv6 defragmentation are registered in a
 * namespace by its first configuration change, not in every namespace (any
 * user can create namespaces; those that never use sipovl pay nothing).
 * Returns 1 if this call registered them: the caller undoes that with
 * sipovl_net_unuse() when its change then fails. 0 if they already were.
 * They stay registered until the namespace goes.
 */
int sipovl_net_use(struct sipovl_net *sn, struct netlink_ext_ack *extack)
{
	int ret;

	lockdep_assert_held(&sn->lock);
	if (sn->hooks_on)
		return 0;
	ret = sipovl_hooks_register(sn);
	if (ret) {
		sipovl_set_err(extack, "cannot register the netfilter hooks");
		return ret;
	}
	sn->hooks_on = true;
	return 1;
}

void sipovl_net_unuse(struct sipovl_net *sn, int used)
{
	lockdep_assert_held(&sn->lock);
	if (used <= 0 || sn->active)
		return;
	sipovl_hooks_unregister(sn);
	sn->hooks_on = false;
}

/*
 * Before the namespace's devices go: no packet reaches the hooks afterwards
 * (unregistering waits for those in flight), then the routes holding the
 * loopback device are released.
 */
static void __net_exit sipovl_net_pre_exit(struct net *net)
{
	struct sipovl_net *sn = sipovl_pernet(net);

	/* No netlink request runs in a namespace that is going away. */
	if (sn->hooks_on)
		sipovl_hooks_unregister(sn);
	sn->hooks_on = false;
	sipovl_steer_netns_stop(sn);
	sipovl_steer_release_routes(sn);
}

static void __net_exit sipovl_net_exit(struct net *net)
{
	struct sipovl_net *sn = sipovl_pernet(net);

	mutex_lock(&sn->lock);
	sipovl_table_netns_exit(sn);
	sipovl_steer_netns_exit(sn);
	WRITE_ONCE(sn->active, false);
	mutex_unlock(&sn->lock);
	free_percpu(sn->stats);
}

static struct pernet_operations sipovl_net_ops = {
	.init = sipovl_net_init,
	.pre_exit = sipovl_net_pre_exit,
	.exit = sipovl_net_exit,
	.id = &sipovl_net_id,
	.size = sizeof(struct sipovl_net),
};

/* Transactions die with the netlink socket that opened them. */
static int sipovl_netlink_event(struct notifier_block *nb, unsigned long event,
				void *ptr)
{
	struct netlink_notify *n = ptr;
	struct sipovl_net *sn;

	if (event != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC)
		return NOTIFY_DONE;
	sn = sipovl_pernet(n->net);
	/*
	 * Every generic netlink socket of the host comes here when it closes:
	 * take the lock (which a commit holds for seconds) only when this
	 * socket has a transaction. Its TABLE_BEGIN returned before the socket
	 * could be released, so the transaction is on the list by now.
	 */
	if (!sipovl_txn_portid_has(sn, n->portid))
		return NOTIFY_DONE;
	mutex_lock(&sn->lock);
	sipovl_txn_release_portid(sn, n->portid);
	mutex_unlock(&sn->lock);
	return NOTIFY_DONE;
}

static struct notifier_block sipovl_netlink_nb = {
	.notifier_call = sipovl_netlink_event,
};

int sipovl_netns_init(void)
{
	int ret;

	ret = register_pernet_device(&sipovl_net_ops);
	if (ret)
		return ret;
	ret = netlink_register_notifier(&sipovl_netlink_nb);
	if (ret)
		unregister_pernet_device(&sipovl_net_ops);
	return ret;
}

void sipovl_netns_exit(void)
{
	netlink_unregister_notifier(&sipovl_netlink_nb);
	unregister_pernet_device(&sipovl_net_ops);
}
