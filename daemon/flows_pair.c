// SPDX-License-Identifier: GPL-2.0
/*
 * One UDP stream, one circuit: the tie-break both gateways of a stream apply alike (I/O free;
 * tests/daemon/unit.c). When both phones of a call send at once, each gateway intercepts its
 * side before the other's dial arrives: two circuits for one address pair. A gateway then
 * holds a flow it dialed (client C -> destination D) and a hosted one for the reverse pair
 * (source D -> target C). Both see the same two endpoints, so each keeps the circuit dialed
 * for the lower endpoint (address family, then address bytes, then port) and moves its
 * sending to it; the gateway that dialed the other one closes that circuit.
 *
 * Who may take the stream: the hosted flow's circuit was dialed by an identity allowed to
 * dial the hosted service with dst as its source, which without a source_map is any such
 * identity, not necessarily the gateway of dst. Its circuit may carry the intercepted
 * stream (and the dialed flow be closed) only when the dialer's claim to dst was checked
 * against the source_map (the dialer owns dst, so the stream still reaches dst's site);
 * otherwise the dialed circuit is kept and what the hosted flow's socket reads of the stream
 * goes over it. Both gateways still agree: a gateway keeps its hosted circuit only when the
 * tie-break gives it, and then the other one keeps its dialed circuit (the same one) in any
 * case. Without a source_map on both sides a stream both ends started at once keeps two
 * circuits, one per direction, and each phone's packets take one of them.
 */
#include <string.h>

#include "daemon/cfg.h"
#include "daemon/flows_pair.h"

int flow_pair_cmp(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	if (x->ss_family != y->ss_family)
		return x->ss_family < y->ss_family ? -1 : 1;
	int c = memcmp(cfg_sa_addr(x), cfg_sa_addr(y), x->ss_family == AF_INET ? 4 : 16);

	if (c)
		return c < 0 ? -1 : 1;
	uint16_t px = cfg_sa_port(x), py = cfg_sa_port(y);

	return px < py ? -1 : px > py;
}

bool flow_pair_dialed_survives(const struct sockaddr_storage *client, const struct sockaddr_storage *dst,
			       bool hosted_checked)
{
	return !hosted_checked || flow_pair_cmp(client, dst) < 0;
}
