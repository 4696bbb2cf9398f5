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
	struct sipovl_table *t = rcu_dereference_protected(sn->table, true);
	struct sipovl_srcset *s = rcu_dereference_protected(sn->sources, true);
	bool active = (t && t->n) || (s && s->n);
	int i, j;

	for (i = 0; i < SIPOVL_NFAMILIES; i++)
		for (j = 0; j < SIPOVL_NPROTOS; j++)
			active |= !!rcu_access_pointer(sn->sk[i][j]);
	WRITE_ONCE(sn->active, active);
	if (active)
		WRITE_ONCE(sn->policing, true);
}

static int __net_init sipovl_net_init(struct net *net)
{
	struct sipovl_net *sn = sipovl_pernet(net);
	int ret;

	sn->net = net;
	sn->generation = 1;
	mutex_init(&sn->lock);
	INIT_LIST_HEAD(&sn->txns);
	sn->stats = alloc_percpu(struct sipovl_gstats);
	if (!sn->stats)
		return -ENOMEM;
	ret = sipovl_steer_netns_init(sn);
	if (ret)
		goto err_stats;
	ret = sipovl_hooks_register(sn);
	if (ret)
		goto err_steer;
	return 0;

err_steer:
	sipovl_steer_release_routes(sn);
err_stats:
	free_percpu(sn->stats);
	return ret;
}

/*
 * Before the namespace's devices go: no packet reaches the hooks afterwards
 * (unregistering waits for those in flight), then the routes holding the
 * loopback device are released.
 */
static void __net_exit sipovl_net_pre_exit(struct net *net)
{
	struct sipovl_net *sn = sipovl_pernet(net);

	sipovl_hooks_unregister(sn);
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
