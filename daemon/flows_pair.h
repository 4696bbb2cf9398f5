/* SPDX-License-Identifier: GPL-2.0 */
/* One UDP stream, one circuit: the tie-break of flows_pair.c (I/O free). */
#ifndef SIPOVLD_FLOWS_PAIR_H
#define SIPOVLD_FLOWS_PAIR_H

#include <stdbool.h>
#include <sys/socket.h>

/* total order of endpoints: family, address bytes, port */
int flow_pair_cmp(const struct sockaddr_storage *x, const struct sockaddr_storage *y);
/*
 * A gateway holding a flow it dialed (client -> dst) and a hosted flow for the reverse pair
 * (dst -> client): true when the dialed circuit is the one kept. hosted_checked: the hosted
 * flow's dialer was checked against the source_map as the owner of dst (flows_pair.c).
 */
bool flow_pair_dialed_survives(const struct sockaddr_storage *client, const struct sockaddr_storage *dst,
			       bool hosted_checked);

#endif
