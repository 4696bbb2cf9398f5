// SPDX-License-Identifier: GPL-2.0
/*
 * libsipovl: intercepts (add, replace, del, get, dump, flush) and table
 * transactions (begin, add, commit, abort, replace).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "ctl/libsipovl.h"
#include "ctl/libsipovl_int.h"


/* ---- intercepts ------------------------------------------------------- */

int snl_intercept_reply_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
			      void *data)
{
	const struct nlattr *a = snl_find_attr(nlh, SIPOVL_A_INTERCEPT);
	struct sipovl_intercept *out = data;
	int ret;

	if (!out)
		return 0;
	if (!a)
		return snl_fail(nl, EPROTO);
	sipovl_intercept_release(out);
	ret = snl_decode_intercept(a, out);
	return ret ? snl_fail(nl, -ret) : 0;
}

static int intercept_do(struct sipovl_nl *nl, uint8_t cmd,
			const struct sipovl_intercept *in,
			struct sipovl_intercept *reply)
{
	struct nlmsghdr *nlh = snl_put_req(nl, cmd, NLM_F_ACK);
	int ret = snl_check_intercept(nl, nlh, in);

	if (ret)
		return ret;
	snl_put_intercept(nlh, in);
	return snl_transact(nl, nlh, snl_intercept_reply_cb, reply, NULL);
}

int sipovl_intercept_add(struct sipovl_nl *nl, const struct sipovl_intercept *in,
			 struct sipovl_intercept *reply)
{
	return intercept_do(nl, SIPOVL_CMD_INTERCEPT_ADD, in, reply);
}

int sipovl_intercept_replace(struct sipovl_nl *nl,
			     const struct sipovl_intercept *in)
{
	return intercept_do(nl, SIPOVL_CMD_INTERCEPT_REPLACE, in, NULL);
}

static void put_selector(struct nlmsghdr *nlh, uint32_t id, const char *name)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, SIPOVL_A_INTERCEPT);

	if (id)
		mnl_attr_put_u32(nlh, SIPOVL_INTERCEPT_A_ID, id);
	else
		mnl_attr_put_strz(nlh, SIPOVL_INTERCEPT_A_NAME, name ? name : "");
	mnl_attr_nest_end(nlh, nest);
}

int sipovl_intercept_del(struct sipovl_nl *nl, uint32_t id, const char *name)
{
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_INTERCEPT_DEL, NLM_F_ACK);

	if (!id && (!name || strlen(name) >= SIPOVL_NAME_MAXLEN)) {
		snl_clear_err(nl);
		return snl_fail(nl, EINVAL);
	}
	put_selector(nlh, id, name);
	return snl_transact(nl, nlh, NULL, NULL, NULL);
}

int sipovl_intercept_get(struct sipovl_nl *nl, uint32_t id, const char *name,
			 struct sipovl_intercept *out)
{
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_INTERCEPT_GET, NLM_F_ACK);
	int ret;

	memset(out, 0, sizeof(*out));
	if (!id && (!name || strlen(name) >= SIPOVL_NAME_MAXLEN)) {
		snl_clear_err(nl);
		return snl_fail(nl, EINVAL);
	}
	put_selector(nlh, id, name);
	ret = snl_transact(nl, nlh, snl_intercept_reply_cb, out, NULL);
	if (!ret && !(out->present & SIPOVL_I_ID))
		ret = snl_fail(nl, EPROTO);
	if (ret)
		sipovl_intercept_release(out);
	return ret;
}

struct dump_ctx {
	struct sipovl_intercept *v;
	size_t n, cap;
};

static int dump_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	const struct nlattr *a;
	int ret;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != SIPOVL_A_INTERCEPT)
			continue;
		if (d->n == d->cap) {
			size_t cap = d->cap ? d->cap * 2 : 256;
			void *p = realloc(d->v, cap * sizeof(*d->v));

			if (!p)
				return snl_fail(nl, ENOMEM);
			d->v = p;
			d->cap = cap;
		}
		ret = snl_decode_intercept(a, &d->v[d->n]);
		if (ret)
			return snl_fail(nl, -ret);
		d->n++;
	}
	return 0;
}

int sipovl_intercept_dump(struct sipovl_nl *nl, struct sipovl_intercept **out,
			  size_t *n)
{
	int tries, ret;

	*out = NULL;
	*n = 0;
	for (tries = 0; tries < DUMP_RETRIES; tries++) {
		struct dump_ctx d = { 0 };
		struct nlmsghdr *nlh;
		bool intr = false;

		nlh = snl_put_req(nl, SIPOVL_CMD_INTERCEPT_GET, NLM_F_DUMP);
		ret = snl_transact(nl, nlh, dump_cb, &d, &intr);
		nl->err.restarts = (unsigned int)tries;
		if (ret || intr) {
			sipovl_intercepts_free(d.v, d.n);
			if (ret)
				return ret;
			continue;
		}
		*out = d.v;
		*n = d.n;
		return 0;
	}
	snl_clear_err(nl);
	nl->err.restarts = (unsigned int)tries;
	nl->err.dump_retries = true;
	return snl_fail(nl, EAGAIN);
}

int sipovl_intercept_flush(struct sipovl_nl *nl)
{
	return snl_transact(nl, snl_put_req(nl, SIPOVL_CMD_INTERCEPT_FLUSH, NLM_F_ACK),
			NULL, NULL, NULL);
}

/* ---- table transactions ---------------------------------------------- */

static int u32_reply_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
			void *data)
{
	struct { uint16_t type; uint32_t *val; bool seen; } *r = data;
	const struct nlattr *a = snl_find_attr(nlh, r->type);

	if (!a)
		return 0;
	if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return snl_fail(nl, EPROTO);
	if (r->val)
		*r->val = mnl_attr_get_u32(a);
	r->seen = true;
	return 0;
}

int sipovl_table_begin(struct sipovl_nl *nl, uint32_t *txn)
{
	struct { uint16_t type; uint32_t *val; bool seen; } r = {
		SIPOVL_A_TXN_ID, txn, false
	};
	int ret;

	ret = snl_transact(nl, snl_put_req(nl, SIPOVL_CMD_TABLE_BEGIN, NLM_F_ACK),
		       u32_reply_cb, &r, NULL);
	if (!ret && !r.seen)
		ret = snl_fail(nl, EPROTO);
	return ret;
}

int sipovl_table_add(struct sipovl_nl *nl, uint32_t txn,
		     const struct sipovl_intercept *v, size_t n)
{
	size_t i = 0, first, nb, k;
	int ret;

	while (i < n) {
		struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_TABLE_ADD, NLM_F_ACK);

		mnl_attr_put_u32(nlh, SIPOVL_A_TXN_ID, txn);
		ret = snl_check_intercept(nl, nlh, &v[i]);
		if (ret) {
			nl->err.index = (long)i;
			return ret;
		}
		/* At least one intercept per message, then fill to the target. */
		first = i;
		nb = 0;
		do {
			nl->batch_off[nb++] = nlh->nlmsg_len;
			snl_put_intercept(nlh, &v[i]);
			i++;
		} while (i < n && nb < BATCH_MAX &&
			 v[i].n_dsts <= SIPOVL_MAX_PREFIXES &&
			 v[i].n_srcs <= SIPOVL_MAX_PREFIXES &&
			 v[i].n_ports <= SIPOVL_MAX_PORT_RANGES &&
			 nlh->nlmsg_len + snl_intercept_size(&v[i]) <= TXN_MSG_TARGET);
		ret = snl_transact(nl, nlh, NULL, NULL, NULL);
		if (ret) {
			/* Map the offending attribute back to the intercept. */
			if (nl->err.bad_offset >= nl->batch_off[0]) {
				for (k = 0; k + 1 < nb; k++)
					if (nl->batch_off[k + 1] > nl->err.bad_offset)
						break;
				nl->err.index = (long)(first + k);
			}
			return ret;
		}
	}
	return 0;
}

int sipovl_table_commit(struct sipovl_nl *nl, uint32_t txn, uint32_t *generation)
{
	struct { uint16_t type; uint32_t *val; bool seen; } r = {
		SIPOVL_A_GENERATION, generation, false
	};
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_TABLE_COMMIT, NLM_F_ACK);

	mnl_attr_put_u32(nlh, SIPOVL_A_TXN_ID, txn);
	return snl_transact(nl, nlh, u32_reply_cb, &r, NULL);
}

struct commit_reply {
	uint32_t *generation;
	bool *applied;
};

static int commit_reply_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
			   void *data)
{
	struct commit_reply *r = data;
	const struct nlattr *a = snl_find_attr(nlh, SIPOVL_A_GENERATION);

	if (a) {
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return snl_fail(nl, EPROTO);
		if (r->generation)
			*r->generation = mnl_attr_get_u32(a);
	}
	if (snl_find_attr(nlh, SIPOVL_A_SOURCES))
		*r->applied = true;
	return 0;
}

int sipovl_table_commit_sources(struct sipovl_nl *nl, uint32_t txn,
				const struct sipovl_prefix *v, size_t n,
				uint32_t *generation, bool *applied)
{
	struct commit_reply r = { generation, applied };
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_TABLE_COMMIT, NLM_F_ACK);

	*applied = false;
	if (n > SIPOVL_MAX_TRANSPARENT_SOURCES ||
	    snl_prefixes_size(v, n) > snl_sbuf_room(nlh)) {
		snl_clear_err(nl);
		return snl_fail(nl, E2BIG);
	}
	mnl_attr_put_u32(nlh, SIPOVL_A_TXN_ID, txn);
	snl_put_prefixes(nlh, SIPOVL_A_SOURCES, v, n);
	return snl_transact(nl, nlh, commit_reply_cb, &r, NULL);
}

int sipovl_table_abort(struct sipovl_nl *nl, uint32_t txn)
{
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_TABLE_ABORT, NLM_F_ACK);

	mnl_attr_put_u32(nlh, SIPOVL_A_TXN_ID, txn);
	return snl_transact(nl, nlh, NULL, NULL, NULL);
}

static int table_replace(struct sipovl_nl *nl, const struct sipovl_intercept *v, size_t n,
			 const struct sipovl_prefix *src, size_t nsrc, bool with_sources,
			 uint32_t *generation, bool *applied)
{
	struct sipovl_err saved;
	uint32_t txn;
	int ret;

	ret = sipovl_table_begin(nl, &txn);
	if (ret)
		return ret;
	ret = sipovl_table_add(nl, txn, v, n);
	if (!ret)
		ret = with_sources ?
			sipovl_table_commit_sources(nl, txn, src, nsrc, generation, applied) :
			sipovl_table_commit(nl, txn, generation);
	if (ret) {
		/*
		 * A failed TABLE_ADD already aborted the transaction in the
		 * kernel; abort anyway (closing the socket would too) and
		 * keep the first error.
		 */
		saved = nl->err;
		sipovl_table_abort(nl, txn);
		nl->err = saved;
	}
	return ret;
}

int sipovl_table_replace(struct sipovl_nl *nl, const struct sipovl_intercept *v,
			 size_t n, uint32_t *generation)
{
	return table_replace(nl, v, n, NULL, 0, false, generation, NULL);
}

int sipovl_table_replace_sources(struct sipovl_nl *nl, const struct sipovl_intercept *v,
				 size_t n, const struct sipovl_prefix *src, size_t nsrc,
				 uint32_t *generation, bool *applied)
{
	return table_replace(nl, v, n, src, nsrc, true, generation, applied);
}
