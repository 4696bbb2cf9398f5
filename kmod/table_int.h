/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files behind table.h share among themselves: table.c (intercept
 * objects, tables, RCU publication, source ranges), counters.c (per-intercept
 * counters) and txn.c (transactions). Not for the rest of the module.
 */
#ifndef _SIPOVL_TABLE_INT_H
#define _SIPOVL_TABLE_INT_H

#include "table.h"

/* counters.c */
struct sipovl_counters *sipovl_counters_alloc(void);
void sipovl_counters_put(struct sipovl_counters *ctr);
void sipovl_counters_exit(void);

/* table.c */
size_t sipovl_intercept_bytes(const struct sipovl_intercept *ic);
struct sipovl_table *sipovl_table_build(struct sipovl_intercept **ics, u32 n,
					 struct netlink_ext_ack *extack);
void sipovl_table_publish(struct sipovl_net *sn, struct sipovl_table *t);
void sipovl_srcset_publish(struct sipovl_net *sn, struct sipovl_srcset *s);

#endif /* _SIPOVL_TABLE_INT_H */
