// SPDX-License-Identifier: GPL-2.0
/*
 * Table transactions: a whole new table sent over many messages, checked
 * and published at commit in one holding of the namespace's lock.
 */

#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/netlink.h>
#include <linux/rculist.h>
#include <linux/hash.h>
#include <linux/stringhash.h>

#include "netns.h"
#include "table.h"
#include "table_int.h"

#define SIPOVL_MAX_TXNS 16

/* Transactions: whole-table replacement, possibly over many messages. */

struct sipovl_txn *sipovl_txn_begin(struct sipovl_net *sn, u32 portid,
				    struct netlink_ext_ack *extack)
{
	struct sipovl_txn *txn;

	lockdep_assert_held(&sn->lock);
	if (sn->n_txns >= SIPOVL_MAX_TXNS) {
		NL_SET_ERR_MSG(extack, "too many open table transactions");
		return ERR_PTR(-EBUSY);
	}
	txn = kzalloc(sizeof(*txn), GFP_KERNEL_ACCOUNT);
	if (!txn) {
		NL_SET_ERR_MSG(extack, "out of memory");
		return ERR_PTR(-ENOMEM);
	}
	do {
		txn->id = ++sn->next_txn_id;
	} while (!txn->id || sipovl_txn_find(sn, txn->id, portid));
	txn->portid = portid;
	/* RCU: the release notifier looks for its socket's without the lock. */
	list_add_tail_rcu(&txn->node, &sn->txns);
	sn->n_txns++;
	return txn;
}

struct sipovl_txn *sipovl_txn_find(struct sipovl_net *sn, u32 id, u32 portid)
{
	struct sipovl_txn *txn;

	lockdep_assert_held(&sn->lock);
	list_for_each_entry(txn, &sn->txns, node)
		if (txn->id == id && txn->portid == portid)
			return txn;
	return NULL;
}

int sipovl_txn_append(struct sipovl_net *sn, struct sipovl_txn *txn,
		      struct sipovl_intercept *ic, struct netlink_ext_ack *extack)
{
	size_t bytes = sipovl_intercept_bytes(ic);

	lockdep_assert_held(&sn->lock);
	if (txn->n >= SIPOVL_MAX_INTERCEPTS) {
		NL_SET_ERR_MSG(extack, "too many intercepts in the transaction");
		sipovl_intercept_put(ic);
		return -E2BIG;
	}
	if (sn->txn_bytes + bytes > READ_ONCE(sipovl_max_ns_bytes)) {
		SIPOVL_ERR_FMT(extack, "transactions over the namespace limit of %lu bytes",
			       READ_ONCE(sipovl_max_ns_bytes));
		sipovl_intercept_put(ic);
		return -E2BIG;
	}
	if (txn->n == txn->cap) {
		u32 cap = txn->cap ? txn->cap * 2 : 256;
		struct sipovl_intercept **a;

		a = kvmalloc_array(cap, sizeof(*a), GFP_KERNEL_ACCOUNT);
		if (!a) {
			NL_SET_ERR_MSG(extack, "out of memory");
			sipovl_intercept_put(ic);
			return -ENOMEM;
		}
		if (txn->n)
			memcpy(a, txn->ic, txn->n * sizeof(*a));
		kvfree(txn->ic);
		txn->ic = a;
		txn->cap = cap;
	}
	txn->ic[txn->n++] = ic;
	txn->bytes += bytes;
	sn->txn_bytes += bytes;
	return 0;
}

static void txn_free(struct sipovl_txn *txn, bool put)
{
	u32 i;

	for (i = 0; put && i < txn->n; i++)
		sipovl_intercept_put(txn->ic[i]);
	kvfree(txn->ic);
	/* The release notifier may still be reading node and portid. */
	kfree_rcu(txn, rcu);
}

static void txn_unlink(struct sipovl_net *sn, struct sipovl_txn *txn)
{
	lockdep_assert_held(&sn->lock);
	list_del_rcu(&txn->node);
	sn->n_txns--;
	sn->txn_bytes -= txn->bytes;
}

void sipovl_txn_abort(struct sipovl_net *sn, struct sipovl_txn *txn)
{
	txn_unlink(sn, txn);
	txn_free(txn, true);
}

/* Without sn->lock: whether @portid may have a transaction. */
bool sipovl_txn_portid_has(struct sipovl_net *sn, u32 portid)
{
	struct sipovl_txn *txn;
	bool found = false;

	rcu_read_lock();
	list_for_each_entry_rcu(txn, &sn->txns, node) {
		if (txn->portid == portid) {
			found = true;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

void sipovl_txn_release_portid(struct sipovl_net *sn, u32 portid)
{
	struct sipovl_txn *txn, *tmp;

	list_for_each_entry_safe(txn, tmp, &sn->txns, node)
		if (txn->portid == portid)
			sipovl_txn_abort(sn, txn);
}

static int cmp_id(const void *a, const void *b)
{
	const struct sipovl_intercept *x = *(const struct sipovl_intercept **)a;
	const struct sipovl_intercept *y = *(const struct sipovl_intercept **)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static bool sorted_by_id(struct sipovl_intercept **ic, u32 n)
{
	u32 i;

	for (i = 1; i < n; i++)
		if (ic[i - 1]->id > ic[i]->id)
			return false;
	return true;
}

/*
 * Sorts the transaction by id (sipovlctl sends files in id order: then this
 * is one pass) and checks that ids and names are unique: ids on the sorted
 * array, names with an open-addressing hash set of indexes.
 */
static int txn_check_unique(struct sipovl_txn *txn,
			    struct netlink_ext_ack *extack)
{
	struct sipovl_intercept **ic = txn->ic;
	u32 i, j, bits, mask, *set;
	int ret = 0;

	if (!sorted_by_id(ic, txn->n))
		sort(ic, txn->n, sizeof(*ic), cmp_id, NULL);
	for (i = 1; i < txn->n; i++) {
		if (ic[i]->id == ic[i - 1]->id) {
			SIPOVL_ERR_FMT(extack, "duplicate intercept id %u", ic[i]->id);
			return -EEXIST;
		}
	}
	if (txn->n < 2)
		return 0;
	/* At most half full; slots hold index + 1, 0 is empty. */
	bits = ilog2(txn->n) + 2;
	mask = (1U << bits) - 1;
	set = kvcalloc(mask + 1, sizeof(*set), GFP_KERNEL_ACCOUNT);
	if (!set) {
		NL_SET_ERR_MSG(extack, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < txn->n; i++) {
		const char *name = ic[i]->name;

		j = hash_32(full_name_hash(NULL, name, strlen(name)), bits);
		for (; set[j]; j = (j + 1) & mask) {
			const struct sipovl_intercept *o = ic[set[j] - 1];

			if (!strcmp(o->name, name)) {
				SIPOVL_ERR_FMT(extack,
					       "name \"%s\" used by intercepts %u and %u",
					       name, o->id, ic[i]->id);
				ret = -EEXIST;
				goto out;
			}
		}
		set[j] = i + 1;
		if (!(i & 4095))
			cond_resched();
	}
out:
	kvfree(set);
	return ret;
}

/*
 * Publishes the transaction's table and, with @srcs, these transparent source
 * ranges, in one holding of sn->lock: two applies that commit concurrently
 * leave one's table and sources, never one's table with the other's sources.
 * Takes @srcs on success; on failure nothing changed and @srcs is the
 * caller's.
 */
int sipovl_txn_commit(struct sipovl_net *sn, struct sipovl_txn *txn,
		      struct sipovl_srcset *srcs, struct netlink_ext_ack *extack)
{
	struct sipovl_table *old = sipovl_table_get_locked(sn), *t;
	u32 i;
	int ret;

	lockdep_assert_held(&sn->lock);
	ret = txn_check_unique(txn, extack);
	if (ret)
		goto err;

	/* Keep the counters of intercepts whose id and name are unchanged. */
	for (i = 0; i < txn->n; i++) {
		struct sipovl_intercept *ic = txn->ic[i];
		s32 j = sipovl_table_index(old, ic->id);

		if (ic->ctr)
			continue;
		if (j >= 0 && !strcmp(old->ic[j]->name, ic->name)) {
			refcount_inc(&old->ic[j]->ctr->ref);
			ic->ctr = old->ic[j]->ctr;
		} else {
			ic->ctr = sipovl_counters_alloc();
			if (!ic->ctr) {
				NL_SET_ERR_MSG(extack, "out of memory");
				ret = -ENOMEM;
				goto err;
			}
		}
		if (!(i & 1023))
			cond_resched();
	}

	t = sipovl_table_build(txn->ic, txn->n, extack);
	if (IS_ERR(t)) {
		ret = PTR_ERR(t);
		goto err;
	}
	txn_unlink(sn, txn);
	txn_free(txn, false);
	/* Sources first: the generation the commit returns is the table's. */
	if (srcs)
		sipovl_srcset_publish(sn, srcs);
	sipovl_table_publish(sn, t);
	return 0;

err:
	sipovl_txn_abort(sn, txn);
	return ret;
}
