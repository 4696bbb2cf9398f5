// SPDX-License-Identifier: GPL-2.0
/*
 * Intercept tables: immutable, compiled, published with RCU.
 *
 * Every change builds a complete new table (the intercept objects themselves
 * are shared by reference), compiles it with the matcher and swaps the
 * per-namespace pointer. Readers see the old table or the new one, never a
 * mix. Old tables are freed from a work item after a grace period.
 */

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/netlink.h>
#include <linux/rcupdate.h>
#include <linux/cpumask.h>
#include <linux/percpu.h>
#include <linux/mutex.h>
#include <linux/hash.h>
#include <linux/stringhash.h>

#include "netns.h"
#include "table.h"
#include "table_int.h"

unsigned long sipovl_max_ns_bytes __read_mostly = 256UL << 20;
module_param_named(max_ns_bytes, sipovl_max_ns_bytes, ulong, 0644);
MODULE_PARM_DESC(max_ns_bytes,
		 "Bytes of intercepts one network namespace may hold in its table and, separately, in its open transactions (default 256 MiB)");

static struct workqueue_struct *sipovl_wq;

int sipovl_table_init(void)
{
	sipovl_wq = alloc_workqueue("sipovl", WQ_UNBOUND, 0);
	return sipovl_wq ? 0 : -ENOMEM;
}

void sipovl_table_exit(void)
{
	/* Wait for pending call_rcu()s of queue_rcu_work(), then drain. */
	rcu_barrier();
	destroy_workqueue(sipovl_wq);
	sipovl_counters_exit();
}

/*
 * One allocation per intercept: the header, then its port ranges, prefixes
 * and name (@name_size bytes, at least 1), sized to what it holds: a typical
 * intercept (one prefix, one range, a short name) fits kmalloc-96, not
 * kmalloc-192 as with a fixed name buffer (memory every allocation zeroes
 * with init_on_alloc, the Debian default).
 */
struct sipovl_intercept *sipovl_intercept_alloc(u32 n_dst, u32 n_ports,
						u32 n_src, u32 name_size)
{
	struct sipovl_intercept *ic;
	size_t sz = sizeof(*ic);

	if (!name_size)
		name_size = 1;
	sz += (size_t)n_ports * sizeof(struct mt_portrange);
	sz += (size_t)(n_dst + n_src) * sizeof(struct mt_prefix);
	sz += name_size;
	/* The arrays are filled by the caller: zero only the header. */
	ic = kvmalloc(sz, GFP_KERNEL_ACCOUNT);
	if (!ic)
		return NULL;
	memset(ic, 0, sizeof(*ic));
	refcount_set(&ic->ref, 1);
	ic->n_dst = n_dst;
	ic->n_src = n_src;
	ic->n_ports = n_ports;
	ic->ports = (struct mt_portrange *)(ic + 1);
	ic->dst = (struct mt_prefix *)(ic->ports + n_ports);
	ic->src = ic->dst + n_dst;
	ic->name = (char *)(ic->src + n_src);
	ic->name[0] = '\0';
	return ic;
}

/* What an intercept counts against max_ns_bytes: its allocation. */
size_t sipovl_intercept_bytes(const struct sipovl_intercept *ic)
{
	return sizeof(*ic) + ic->n_ports * sizeof(struct mt_portrange) +
	       (size_t)(ic->n_dst + ic->n_src) * sizeof(struct mt_prefix) +
	       strlen(ic->name) + 1;
}

void sipovl_intercept_put(struct sipovl_intercept *ic)
{
	if (ic && refcount_dec_and_test(&ic->ref)) {
		sipovl_counters_put(ic->ctr);
		kvfree(ic);
	}
}

static void table_free(struct sipovl_table *t)
{
	u32 i;

	mt_destroy(t->mt);
	for (i = 0; i < t->n; i++) {
		sipovl_intercept_put(t->ic[i]);
		if (!(i & 1023))
			cond_resched();
	}
	kvfree(t);
}

static void table_free_work(struct work_struct *w)
{
	table_free(container_of(to_rcu_work(w), struct sipovl_table, rwork));
}

static void table_free_rcu(struct sipovl_table *t)
{
	INIT_RCU_WORK(&t->rwork, table_free_work);
	queue_rcu_work(sipovl_wq, &t->rwork);
}

static void srcset_free(struct sipovl_srcset *s)
{
	mt_destroy(s->mt);
	kvfree(s);
}

static void srcset_free_work(struct work_struct *w)
{
	srcset_free(container_of(to_rcu_work(w), struct sipovl_srcset, rwork));
}

struct sipovl_table *sipovl_table_get_locked(struct sipovl_net *sn)
{
	return rcu_dereference_protected(sn->table, lockdep_is_held(&sn->lock));
}

s32 sipovl_table_index(const struct sipovl_table *t, u32 id)
{
	u32 lo = 0, hi = t ? t->n : 0;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (t->ic[mid]->id == id)
			return mid;
		if (t->ic[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

struct sipovl_intercept *sipovl_table_find(const struct sipovl_table *t,
					   u32 id, const char *name)
{
	u32 i;
	s32 idx;

	if (!t)
		return NULL;
	if (id) {
		idx = sipovl_table_index(t, id);
		return idx < 0 ? NULL : t->ic[idx];
	}
	if (!name || !*name)
		return NULL;
	for (i = 0; i < t->n; i++)
		if (!strcmp(t->ic[i]->name, name))
			return t->ic[i];
	return NULL;
}

/*
 * Build a table from @ics (sorted by id, unique ids and names, counters
 * attached). On success the table owns the references in @ics.
 */
struct sipovl_table *sipovl_table_build(struct sipovl_intercept **ics, u32 n,
					 struct netlink_ext_ack *extack)
{
	size_t max = READ_ONCE(sipovl_max_ns_bytes), bytes, rules_bytes;
	struct sipovl_table *t;
	struct mt_rule *rules = NULL;
	const char *msg = NULL;
	u32 i;
	int ret;

	/*
	 * Everything the table holds but the compiled matcher, and the rules
	 * array alive during the compile, are known before it: the compile
	 * gets what is left of the limit, so that the peak of the build stays
	 * within it too (not only the table it leaves).
	 */
	rules_bytes = array_size(n, sizeof(*rules));
	bytes = struct_size(t, ic, n);
	for (i = 0; i < n; i++)
		bytes += sipovl_intercept_bytes(ics[i]);
	if (bytes > max || rules_bytes > max - bytes)
		goto over;

	/* Not zeroed: ic[] is copied below, and nothing else is read early. */
	t = kvmalloc(struct_size(t, ic, n), GFP_KERNEL_ACCOUNT);
	if (!t)
		goto nomem;
	t->mt = NULL;
	t->n = 0;
	if (n) {
		rules = kvmalloc_array(n, sizeof(*rules), GFP_KERNEL_ACCOUNT);
		if (!rules)
			goto nomem;
	}
	for (i = 0; i < n; i++) {
		const struct sipovl_intercept *ic = ics[i];

		rules[i] = (struct mt_rule){
			.id = ic->id,
			.protos = ic->protos,
			.n_dst = ic->n_dst,
			.n_ports = ic->n_ports,
			.n_src = ic->n_src,
			.dst = ic->dst,
			.ports = ic->ports,
			.src = ic->src,
		};
	}
	ret = mt_compile_limit(rules, n, max - bytes - rules_bytes, &t->mt, &msg);
	kvfree(rules);
	if (ret) {
		kvfree(t);
		if (msg == mt_err_limit)
			goto over;
		sipovl_set_err(extack, msg ? msg : "cannot compile the intercept table");
		return ERR_PTR(ret);
	}
	t->bytes = bytes + mt_memory(t->mt);
	if (t->bytes > max) {
		mt_destroy(t->mt);
		kvfree(t);
		goto over;
	}
	t->n = n;
	if (n)
		memcpy(t->ic, ics, n * sizeof(*ics));
	return t;

over:
	SIPOVL_ERR_FMT(extack, "table over the namespace limit of %zu bytes", max);
	return ERR_PTR(-E2BIG);

nomem:
	kvfree(t);
	NL_SET_ERR_MSG(extack, "out of memory building the intercept table");
	return ERR_PTR(-ENOMEM);
}

void sipovl_table_publish(struct sipovl_net *sn, struct sipovl_table *t)
{
	struct sipovl_table *old;

	lockdep_assert_held(&sn->lock);
	sipovl_gen_bump(sn);
	t->generation = sn->generation;
	old = rcu_replace_pointer(sn->table, t, lockdep_is_held(&sn->lock));
	sipovl_update_active(sn);
	if (old)
		table_free_rcu(old);
}

/*
 * Publish a copy of the current table where position @pos is replaced by
 * @ic (@replace), @ic is inserted before @pos, or (@ic == NULL) position
 * @pos is removed. Consumes the reference to @ic.
 */
static int table_edit(struct sipovl_net *sn, u32 pos, bool replace,
		      struct sipovl_intercept *ic, struct netlink_ext_ack *extack)
{
	struct sipovl_table *old = sipovl_table_get_locked(sn), *t;
	struct sipovl_intercept **ics;
	u32 n_old = old ? old->n : 0, n, i, j = 0;

	n = n_old + (ic && !replace ? 1 : 0) - (!ic ? 1 : 0);
	ics = kvmalloc_array(n ? n : 1, sizeof(*ics), GFP_KERNEL_ACCOUNT);
	if (!ics) {
		sipovl_intercept_put(ic);
		NL_SET_ERR_MSG(extack, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n_old; i++) {
		if (i == pos) {
			if (ic)
				ics[j++] = ic;
			if (!ic || replace)
				continue;
		}
		ics[j++] = old->ic[i];
	}
	if (ic && !replace && pos >= n_old)
		ics[j++] = ic;

	t = sipovl_table_build(ics, n, extack);
	if (IS_ERR(t)) {
		kvfree(ics);
		sipovl_intercept_put(ic);
		return PTR_ERR(t);
	}
	/* The new table holds its own reference to every kept intercept. */
	for (i = 0; i < n; i++)
		if (t->ic[i] != ic)
			refcount_inc(&t->ic[i]->ref);
	kvfree(ics);
	sipovl_table_publish(sn, t);
	return 0;
}

static u32 lowest_free_id(const struct sipovl_table *t)
{
	u32 i, want = 1;

	for (i = 0; t && i < t->n; i++) {
		if (t->ic[i]->id != want)
			break;
		want++;
	}
	return want;
}

static u32 insert_pos(const struct sipovl_table *t, u32 id)
{
	u32 lo = 0, hi = t ? t->n : 0;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (t->ic[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int sipovl_table_add(struct sipovl_net *sn, struct sipovl_intercept *ic,
		     struct netlink_ext_ack *extack)
{
	struct sipovl_table *old = sipovl_table_get_locked(sn);
	struct sipovl_intercept *dup;

	lockdep_assert_held(&sn->lock);

	if (old && old->n >= SIPOVL_MAX_INTERCEPTS) {
		NL_SET_ERR_MSG(extack, "too many intercepts in this namespace");
		goto err_put;
	}
	if (!ic->id)
		ic->id = lowest_free_id(old);
	if (!ic->id) {
		NL_SET_ERR_MSG(extack, "no free intercept id");
		goto err_put;
	}
	dup = sipovl_table_find(old, ic->id, NULL);
	if (dup) {
		SIPOVL_ERR_FMT(extack, "intercept id %u already exists", ic->id);
		sipovl_intercept_put(ic);
		return -EEXIST;
	}
	dup = sipovl_table_find(old, 0, ic->name);
	if (dup) {
		SIPOVL_ERR_FMT(extack, "name \"%s\" already used by intercept %u",
				       ic->name, dup->id);
		sipovl_intercept_put(ic);
		return -EEXIST;
	}
	ic->ctr = sipovl_counters_alloc();
	if (!ic->ctr) {
		sipovl_intercept_put(ic);
		NL_SET_ERR_MSG(extack, "out of memory");
		return -ENOMEM;
	}
	return table_edit(sn, insert_pos(old, ic->id), false, ic, extack);

err_put:
	sipovl_intercept_put(ic);
	return -E2BIG;
}

int sipovl_table_replace(struct sipovl_net *sn, struct sipovl_intercept *ic,
			 struct netlink_ext_ack *extack)
{
	struct sipovl_table *old = sipovl_table_get_locked(sn);
	struct sipovl_intercept *cur, *dup;
	s32 pos;

	lockdep_assert_held(&sn->lock);

	cur = sipovl_table_find(old, ic->id, ic->name);
	if (!cur) {
		if (ic->id)
			SIPOVL_ERR_FMT(extack, "no intercept with id %u", ic->id);
		else
			SIPOVL_ERR_FMT(extack, "no intercept named \"%s\"", ic->name);
		sipovl_intercept_put(ic);
		return -ENOENT;
	}
	ic->id = cur->id;
	/* A replacement always carries a name (sipovl_nl_parse_intercept, NEED_FULL). */
	dup = sipovl_table_find(old, 0, ic->name);
	if (dup && dup != cur) {
		SIPOVL_ERR_FMT(extack, "name \"%s\" already used by intercept %u",
				       ic->name, dup->id);
		sipovl_intercept_put(ic);
		return -EEXIST;
	}
	pos = sipovl_table_index(old, cur->id);
	refcount_inc(&cur->ctr->ref);
	ic->ctr = cur->ctr;
	return table_edit(sn, pos, true, ic, extack);
}

int sipovl_table_del(struct sipovl_net *sn, u32 id, const char *name,
		     struct netlink_ext_ack *extack)
{
	struct sipovl_table *old = sipovl_table_get_locked(sn);
	struct sipovl_intercept *cur = sipovl_table_find(old, id, name);

	lockdep_assert_held(&sn->lock);

	if (!cur) {
		if (id)
			SIPOVL_ERR_FMT(extack, "no intercept with id %u", id);
		else
			SIPOVL_ERR_FMT(extack, "no intercept named \"%s\"",
					       name ? name : "");
		return -ENOENT;
	}
	return table_edit(sn, sipovl_table_index(old, cur->id), false, NULL, extack);
}

int sipovl_table_flush(struct sipovl_net *sn)
{
	struct sipovl_table *t = sipovl_table_build(NULL, 0, NULL);

	lockdep_assert_held(&sn->lock);

	if (IS_ERR(t))
		return PTR_ERR(t);
	sipovl_table_publish(sn, t);
	return 0;
}

/* Compiles transparent source ranges, to be published with sipovl_srcset_publish. */
struct sipovl_srcset *sipovl_srcset_build(const struct mt_prefix *p, u32 n,
					  struct netlink_ext_ack *extack)
{
	struct mt_portrange all = { .lo = 0, .hi = 65535 };
	struct mt_rule rule = {
		.id = 1,
		.protos = MT_PROTO_TCP | MT_PROTO_UDP,
		.n_dst = n,
		.n_ports = 1,
		.dst = p,
		.ports = &all,
	};
	struct sipovl_srcset *s;
	const char *msg = NULL;
	int ret;

	s = kvzalloc(struct_size(s, p, n), GFP_KERNEL_ACCOUNT);
	if (!s) {
		NL_SET_ERR_MSG(extack, "out of memory");
		return ERR_PTR(-ENOMEM);
	}
	ret = mt_compile(&rule, n ? 1 : 0, &s->mt, &msg);
	if (ret) {
		sipovl_set_err(extack, msg ? msg : "cannot compile the source ranges");
		kvfree(s);
		return ERR_PTR(ret);
	}
	s->n = n;
	if (n)
		memcpy(s->p, p, n * sizeof(*p));
	return s;
}

void sipovl_srcset_free(struct sipovl_srcset *s)
{
	if (s)
		srcset_free(s);
}

void sipovl_srcset_publish(struct sipovl_net *sn, struct sipovl_srcset *s)
{
	struct sipovl_srcset *old;

	lockdep_assert_held(&sn->lock);
	old = rcu_replace_pointer(sn->sources, s, lockdep_is_held(&sn->lock));
	sipovl_gen_bump(sn);
	sipovl_update_active(sn);
	if (old) {
		INIT_RCU_WORK(&old->rwork, srcset_free_work);
		queue_rcu_work(sipovl_wq, &old->rwork);
	}
}

int sipovl_sources_set(struct sipovl_net *sn, const struct mt_prefix *p,
		       u32 n, struct netlink_ext_ack *extack)
{
	struct sipovl_srcset *s = sipovl_srcset_build(p, n, extack);

	lockdep_assert_held(&sn->lock);

	if (IS_ERR(s))
		return PTR_ERR(s);
	sipovl_srcset_publish(sn, s);
	return 0;
}

void sipovl_table_netns_exit(struct sipovl_net *sn)
{
	struct sipovl_table *t;
	struct sipovl_srcset *s;
	struct sipovl_txn *txn, *tmp;

	lockdep_assert_held(&sn->lock);
	list_for_each_entry_safe(txn, tmp, &sn->txns, node)
		sipovl_txn_abort(sn, txn);
	t = rcu_replace_pointer(sn->table, NULL, lockdep_is_held(&sn->lock));
	if (t)
		table_free_rcu(t);
	s = rcu_replace_pointer(sn->sources, NULL, lockdep_is_held(&sn->lock));
	if (s) {
		INIT_RCU_WORK(&s->rwork, srcset_free_work);
		queue_rcu_work(sipovl_wq, &s->rwork);
	}
}
