/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * sipovl: CIDR + port-range intercepts steered to transparent sockets.
 *
 * Documentation for the generic netlink family "sipovl"
 * ======================================================
 *
 * The family is per network namespace: every command acts on the namespace of
 * the netlink socket it arrives on. Every command requires CAP_NET_ADMIN in the
 * user namespace owning that network namespace. Errors carry an extack message
 * naming the offending attribute; a failed command changes nothing.
 *
 * Objects
 * -------
 *
 * An intercept is { id, name, protocols, destinations, ports, sources, policy }.
 * A TCP or UDP packet matches it when its protocol is in protocols, its
 * destination address is inside one of the destination prefixes, its
 * destination port is inside one of the port ranges and, when sources is not
 * empty, its source address is inside one of the source prefixes.
 *
 * When several intercepts match a packet, the winner is chosen by, in order:
 *   1. the longest matching destination prefix,
 *   2. the narrowest matching port range (high - low),
 *   3. the lowest intercept id.
 *
 * A matched packet that belongs to no existing socket of the daemon is steered
 * to the transparent socket registered for its family and protocol
 * (SIPOVL_CMD_SOCKET_REGISTER). When no socket is registered (or the registered
 * one was closed), the intercept's policy decides: SIPOVL_POLICY_DROP (the
 * default, fail-closed), SIPOVL_POLICY_PASS (fail-open: the packet continues
 * untouched) or SIPOVL_POLICY_REJECT (fail-closed, failing fast: the packet
 * is dropped and answered, as nft's "reject" answers, with a TCP RST, or for
 * UDP an ICMP or ICMPv6 port unreachable; never a RST to a RST, never an
 * ICMP error to a martian source; ICMP errors are rate limited as the
 * kernel's own are). Local traffic (LOCAL_OUT) is rejected the same way: a
 * connect() fails with ECONNREFUSED.
 *
 * Transparent source ranges (SIPOVL_CMD_SOURCES_SET) are the addresses the
 * daemon may use as the source of connections it originates with IP_TRANSPARENT
 * sockets; replies to those addresses are delivered to the originating socket.
 * Packets that transparent sockets send from a non-local address that is
 * neither inside a transparent source range nor a destination matched by an
 * intercept are dropped (counted as src_denied).
 *
 * Sources, conntrack and NAT
 * --------------------------
 *
 * A packet matching an intercept, or a reply for a transparent source range,
 * that arrives from another host with one of the host's own addresses as its
 * source is dropped (IPv4 devices with accept_local excepted). A packet that
 * would start a flow must pass the reverse-path check selected by the ingress
 * device's net.ipv4.conf rp_filter: IPv4 as the kernel applies it (0 none,
 * 1 strict, 2 loose); IPv6 strict for 1, else loose (a unicast route back to
 * the source must exist). These drops count as errors (IPv4 reverse-path
 * drops in the kernel's IPReversePathFilter counter instead).
 *
 * Both hooks (PREROUTING and LOCAL_OUT) run right after destination NAT
 * (priority NF_IP_PRI_NAT_DST + 1): intercepts match the destination a
 * packet has after the admin's DNAT rules, for forwarded and local traffic
 * alike, and a steered packet is not rewritten by NAT afterwards. The daemon
 * sees the client's real source (source NAT applies on the way out, not to
 * packets delivered locally). Conntrack runs before the hooks: a packet in
 * the reply direction of a tracked connection never starts a flow. Steered
 * packets go through the INPUT hooks (their conntrack entry is confirmed
 * there), the daemon's replies through OUTPUT and POSTROUTING. Conntrack
 * helpers are kept off steered flows and off what transparent sockets send
 * (the connection is marked IPS_HELPER so that "ct helper set" rules leave
 * it alone; a helper assigned before is detached): the SIP helper never
 * rewrites or drops the SIP the daemon carries. ICMP errors about packets a
 * socket sent from an address sipovl claims are delivered to the socket that
 * owns the quoted flow (path MTU discovery, port unreachable; icmp_errors).
 *
 * Local users: a flow to an address that is not the host's own is owned only
 * by transparent sockets, and a socket that is not transparent may not send
 * from a non-local address inside a transparent source range or matched by an
 * intercept (dropped, src_denied); IPv6 would let any user bind such an
 * address with IPV6_FREEBIND. SYN cookies: the ACK completing a cookie
 * handshake goes to the registered listener when its cookie is valid.
 *
 * Commands
 * --------
 *
 * SIPOVL_CMD_INTERCEPT_ADD (do): adds one intercept given in
 *     SIPOVL_A_INTERCEPT. If SIPOVL_INTERCEPT_A_ID is absent the kernel picks
 *     the lowest free id. The reply (always sent) carries the new intercept.
 *     Names and ids are unique: -EEXIST otherwise.
 * SIPOVL_CMD_INTERCEPT_REPLACE (do): replaces the intercept with the same id
 *     (or, when no id is given, the same name); -ENOENT if there is none.
 *     Counters are kept.
 * SIPOVL_CMD_INTERCEPT_DEL (do): deletes the intercept given by
 *     SIPOVL_INTERCEPT_A_ID or SIPOVL_INTERCEPT_A_NAME inside
 *     SIPOVL_A_INTERCEPT; -ENOENT if there is none.
 * SIPOVL_CMD_INTERCEPT_GET (do, dump): do returns the intercept selected as for
 *     DEL; dump returns all intercepts in ascending id order, each message
 *     carrying one SIPOVL_A_INTERCEPT. Counters are in
 *     SIPOVL_INTERCEPT_A_STATS. If the table changes during a dump the
 *     messages carry NLM_F_DUMP_INTR; restart the dump.
 * SIPOVL_CMD_INTERCEPT_FLUSH (do): removes every intercept.
 *
 * SIPOVL_CMD_TABLE_BEGIN (do): starts a transaction that will replace the
 *     whole table. The reply carries SIPOVL_A_TXN_ID. The transaction belongs
 *     to the sending netlink socket and is dropped when that socket closes.
 * SIPOVL_CMD_TABLE_ADD (do): SIPOVL_A_TXN_ID and one or more
 *     SIPOVL_A_INTERCEPT attributes, appended to the transaction; each needs
 *     an explicit SIPOVL_INTERCEPT_A_ID. A bad intercept fails this message
 *     and aborts the transaction.
 * SIPOVL_CMD_TABLE_COMMIT (do): SIPOVL_A_TXN_ID; compiles the transaction's
 *     intercepts and publishes them as the new table in one step: a packet is
 *     matched against the old table or the new one, never a mix. Counters of
 *     intercepts whose id and name are unchanged are kept. The reply carries
 *     SIPOVL_A_GENERATION. With SIPOVL_A_SOURCES (as for
 *     SIPOVL_CMD_SOURCES_SET) the commit also replaces the transparent
 *     source ranges, in the same locked step (a concurrent commit or
 *     SOURCES_SET comes entirely before or after it); bad sources fail the
 *     commit and leave the transaction open. The reply then also carries an
 *     empty SIPOVL_A_SOURCES; modules older than this extension ignore the
 *     attribute and do not acknowledge it.
 * SIPOVL_CMD_TABLE_ABORT (do): SIPOVL_A_TXN_ID; drops the transaction.
 *
 * SIPOVL_CMD_SOCKET_REGISTER (do): SIPOVL_A_SOCKET_FD is a socket of the
 *     calling process: a listening TCP socket or a bound, unconnected UDP
 *     socket, IPv4 or IPv6, with IP_TRANSPARENT / IPV6_TRANSPARENT set, in
 *     this network namespace. New flows of a family and protocol go to its
 *     group of registered sockets. Without SIPOVL_F_SOCKET_JOIN in
 *     SIPOVL_A_FLAGS the socket becomes the group's only member, replacing
 *     the previous members; with it, it joins the group (-EEXIST if it is a
 *     member already, -ENOSPC beyond SIPOVL_MAX_GROUP_MEMBERS). Modules
 *     without groups refuse the flag (-EINVAL, reserved bit). The members
 *     share the new flows by rendezvous hashing of the flow's addresses and
 *     ports: every packet of a flow that no socket owns yet (every datagram
 *     of a UDP 5-tuple, a TCP SYN) goes to the same member while the live
 *     members stay the same; a member that leaves moves only its own flows,
 *     each to another member; a member that joins takes about 1/n of the
 *     flows from every member. The kernel holds a reference to the socket,
 *     not to the file: when the daemon closes it, its flows go to the other
 *     members at once; when no live member is left, policies apply.
 * SIPOVL_CMD_SOCKET_UNREGISTER (do): with SIPOVL_A_SOCKET_FD, that socket
 *     leaves its group (-ENOENT if it is not a member). Otherwise
 *     SIPOVL_A_FAMILY and SIPOVL_A_PROTOCOL select the groups to drop;
 *     without them all are dropped.
 *
 * SIPOVL_CMD_SOURCES_SET (do): SIPOVL_A_SOURCES replaces the transparent
 *     source ranges (an empty nest clears them).
 * SIPOVL_CMD_CONFIG_GET (do): returns SIPOVL_A_GENERATION,
 *     SIPOVL_A_INTERCEPT_COUNT, SIPOVL_A_SOURCES and one SIPOVL_A_SOCKET nest
 *     per registered socket (group member).
 * SIPOVL_CMD_STATS_GET (do): returns SIPOVL_A_STATS (global counters).
 *     With SIPOVL_A_FLAGS & SIPOVL_F_RESET_STATS, the global counters and
 *     those of every intercept in the table restart from zero at the read:
 *     the reply carries what was counted up to it, and every packet counted
 *     after it is in the next read. Counting goes on while a reset runs and
 *     no count is lost or reported twice (a reset moves the base reads
 *     subtract; it never writes to the counters). Each counter is reset
 *     exactly; the global and the per-intercept counters are not one
 *     atomic snapshot. A reset that cannot get memory fails (-ENOMEM) and
 *     resets nothing. Any other flag: -EINVAL.
 * SIPOVL_CMD_LOOKUP (do): SIPOVL_A_TUPLE names a packet; returns the
 *     intercept it would match in SIPOVL_A_INTERCEPT, then the generation of
 *     the table that answered in SIPOVL_A_GENERATION, or -ENOENT. Answered
 *     from the published table without waiting for changes in progress. The
 *     daemon uses it to learn which intercept a steered flow matched.
 *
 * Notifications: every successful change (intercepts, tables, sources,
 * socket registrations) is multicast on group SIPOVL_MCGRP_EVENTS as a
 * message with the same command, carrying SIPOVL_A_GENERATION and, for
 * single-intercept commands, SIPOVL_A_INTERCEPT with the id and name.
 *
 * Arrays (SIPOVL_INTERCEPT_A_DESTINATIONS, _PORTS, _SOURCES, SIPOVL_A_SOURCES)
 * are nests of nests; the inner nests' own attribute type is ignored (use 0).
 */

#ifndef _UAPI_LINUX_SIPOVL_H
#define _UAPI_LINUX_SIPOVL_H

#include <linux/types.h>

#define SIPOVL_GENL_NAME "sipovl"
#define SIPOVL_GENL_VERSION 1
#define SIPOVL_MCGRP_EVENTS "events"

#define SIPOVL_NAME_MAXLEN 64		/* including the terminating NUL */
#define SIPOVL_MAX_PREFIXES 256	/* destinations or sources per intercept */
#define SIPOVL_MAX_PORT_RANGES 256	/* port ranges per intercept */
#define SIPOVL_MAX_INTERCEPTS (1U << 20) /* per network namespace */
#define SIPOVL_MAX_TRANSPARENT_SOURCES 4096
#define SIPOVL_MAX_GROUP_MEMBERS 64	/* sockets per family and protocol */

enum sipovl_cmd {
	SIPOVL_CMD_UNSPEC,
	SIPOVL_CMD_INTERCEPT_ADD,
	SIPOVL_CMD_INTERCEPT_REPLACE,
	SIPOVL_CMD_INTERCEPT_DEL,
	SIPOVL_CMD_INTERCEPT_GET,
	SIPOVL_CMD_INTERCEPT_FLUSH,
	SIPOVL_CMD_TABLE_BEGIN,
	SIPOVL_CMD_TABLE_ADD,
	SIPOVL_CMD_TABLE_COMMIT,
	SIPOVL_CMD_TABLE_ABORT,
	SIPOVL_CMD_SOCKET_REGISTER,
	SIPOVL_CMD_SOCKET_UNREGISTER,
	SIPOVL_CMD_SOURCES_SET,
	SIPOVL_CMD_CONFIG_GET,
	SIPOVL_CMD_STATS_GET,
	SIPOVL_CMD_LOOKUP,
	__SIPOVL_CMD_MAX
};
#define SIPOVL_CMD_MAX (__SIPOVL_CMD_MAX - 1)

/* Top-level attributes. */
enum sipovl_attr {
	SIPOVL_A_UNSPEC,
	SIPOVL_A_INTERCEPT,		/* nest: enum sipovl_intercept_attr */
	SIPOVL_A_TXN_ID,		/* u32 */
	SIPOVL_A_GENERATION,		/* u32: bumped on every table change */
	SIPOVL_A_INTERCEPT_COUNT,	/* u32 */
	SIPOVL_A_SOCKET_FD,		/* s32: fd in the calling process */
	SIPOVL_A_SOCKET,		/* nest: enum sipovl_socket_attr */
	SIPOVL_A_FAMILY,		/* u16: AF_INET or AF_INET6 */
	SIPOVL_A_PROTOCOL,		/* u8: IPPROTO_TCP or IPPROTO_UDP */
	SIPOVL_A_SOURCES,		/* nest of nests: enum sipovl_prefix_attr */
	SIPOVL_A_STATS,			/* nest: enum sipovl_stats_attr */
	SIPOVL_A_FLAGS,			/* u32: enum sipovl_flags */
	SIPOVL_A_TUPLE,			/* nest: enum sipovl_tuple_attr */
	SIPOVL_A_PAD,
	__SIPOVL_A_MAX
};
#define SIPOVL_A_MAX (__SIPOVL_A_MAX - 1)

enum sipovl_flags {
	SIPOVL_F_RESET_STATS = 1U << 0,	/* STATS_GET */
	SIPOVL_F_SOCKET_JOIN = 1U << 1,	/* SOCKET_REGISTER: join the group */
	__SIPOVL_F_ALL = SIPOVL_F_RESET_STATS | SIPOVL_F_SOCKET_JOIN
};

/* Protocol bits of SIPOVL_INTERCEPT_A_PROTOCOLS. */
enum sipovl_proto {
	SIPOVL_PROTO_TCP = 1U << 0,
	SIPOVL_PROTO_UDP = 1U << 1,
	__SIPOVL_PROTO_ALL = SIPOVL_PROTO_TCP | SIPOVL_PROTO_UDP
};

/*
 * What happens to a matched new flow when no daemon socket can take it.
 * Modules before SIPOVL_POLICY_REJECT refuse it (-ERANGE).
 */
enum sipovl_policy {
	SIPOVL_POLICY_DROP = 0,		/* fail-closed (default) */
	SIPOVL_POLICY_PASS = 1,		/* fail-open */
	SIPOVL_POLICY_REJECT = 2,	/* fail-closed: TCP RST, ICMP unreachable */
	__SIPOVL_POLICY_MAX = SIPOVL_POLICY_REJECT
};

enum sipovl_intercept_attr {
	SIPOVL_INTERCEPT_A_UNSPEC,
	SIPOVL_INTERCEPT_A_ID,		/* u32, 1..UINT32_MAX */
	SIPOVL_INTERCEPT_A_NAME,	/* string, < SIPOVL_NAME_MAXLEN */
	SIPOVL_INTERCEPT_A_PROTOCOLS,	/* u32: enum sipovl_proto bits, not 0 */
	SIPOVL_INTERCEPT_A_DESTINATIONS, /* nest of nests: sipovl_prefix_attr */
	SIPOVL_INTERCEPT_A_PORTS,	/* nest of nests: sipovl_portrange_attr */
	SIPOVL_INTERCEPT_A_SOURCES,	/* nest of nests: sipovl_prefix_attr;
					 * absent: any source; empty: refused
					 */
	SIPOVL_INTERCEPT_A_POLICY,	/* u8: enum sipovl_policy */
	SIPOVL_INTERCEPT_A_STATS,	/* nest: sipovl_istats_attr (output) */
	SIPOVL_INTERCEPT_A_PAD,
	__SIPOVL_INTERCEPT_A_MAX
};
#define SIPOVL_INTERCEPT_A_MAX (__SIPOVL_INTERCEPT_A_MAX - 1)

enum sipovl_prefix_attr {
	SIPOVL_PREFIX_A_UNSPEC,
	SIPOVL_PREFIX_A_FAMILY,		/* u16: AF_INET or AF_INET6 */
	SIPOVL_PREFIX_A_ADDR,		/* binary: 4 or 16 bytes, network order */
	SIPOVL_PREFIX_A_LEN,		/* u8: 0..32 or 0..128; host bits 0 */
	__SIPOVL_PREFIX_A_MAX
};
#define SIPOVL_PREFIX_A_MAX (__SIPOVL_PREFIX_A_MAX - 1)

enum sipovl_portrange_attr {
	SIPOVL_PORTRANGE_A_UNSPEC,
	SIPOVL_PORTRANGE_A_LOW,		/* u16, host order */
	SIPOVL_PORTRANGE_A_HIGH,	/* u16, host order, >= LOW */
	__SIPOVL_PORTRANGE_A_MAX
};
#define SIPOVL_PORTRANGE_A_MAX (__SIPOVL_PORTRANGE_A_MAX - 1)

/* Per-intercept counters (all u64). */
enum sipovl_istats_attr {
	SIPOVL_ISTATS_A_UNSPEC,
	SIPOVL_ISTATS_A_PACKETS,	/* packets matched and steered */
	SIPOVL_ISTATS_A_BYTES,		/* bytes of those packets */
	/* new flows: TCP SYNs, UDP datagrams to the daemon's unconnected socket */
	SIPOVL_ISTATS_A_FLOWS,
	SIPOVL_ISTATS_A_DROPS,		/* dropped: no daemon socket, policy drop */
	SIPOVL_ISTATS_A_PASSES,		/* passed: no daemon socket, policy pass */
	SIPOVL_ISTATS_A_PAD,
	/*
	 * rejected: no daemon socket, policy reject (dropped and answered; not
	 * in DROPS). Modules before it do not send it.
	 */
	SIPOVL_ISTATS_A_REJECTS,
	__SIPOVL_ISTATS_A_MAX
};
#define SIPOVL_ISTATS_A_MAX (__SIPOVL_ISTATS_A_MAX - 1)

/* Global counters (all u64). */
enum sipovl_stats_attr {
	SIPOVL_STATS_A_UNSPEC,
	SIPOVL_STATS_A_LOOKUPS,		/* table lookups */
	SIPOVL_STATS_A_STEERED,		/* packets given to a daemon socket */
	SIPOVL_STATS_A_PASSED,		/* matched, passed by policy */
	SIPOVL_STATS_A_DROPPED,		/* matched, dropped by policy */
	/*
	 * malformed or unparseable packets; packets dropped for their source:
	 * martian, one of the host's own addresses from another host, or (IPv6)
	 * failing the reverse-path check
	 */
	SIPOVL_STATS_A_ERRORS,
	/* replies delivered to transparent originating sockets */
	SIPOVL_STATS_A_REPLIES,
	/*
	 * packets of transparent sockets with a source outside the ranges, and
	 * of other sockets with a foreign source inside them
	 */
	SIPOVL_STATS_A_SRC_DENIED,
	SIPOVL_STATS_A_PAD,
	/*
	 * Drop reasons: the packets sipovl.ko dropped, one counter per reason
	 * (SIPOVL_STATS_A_DROPPED is NO_SOCKET + NOT_NEW; SIPOVL_STATS_A_ERRORS
	 * counts MALFORMED + MARTIAN + LOCAL_SRC + the IPv6 part of
	 * RP_FILTER). Modules before these attributes do not send them.
	 */
	/* a new flow of a drop-policy intercept without a live daemon socket */
	SIPOVL_STATS_A_DROP_NO_SOCKET,
	/* a TCP segment other than a SYN that no socket owns (drop policy) */
	SIPOVL_STATS_A_DROP_NOT_NEW,
	/* a new flow from a martian source */
	SIPOVL_STATS_A_DROP_MARTIAN,
	/* a remote packet claiming one of the host's own addresses */
	SIPOVL_STATS_A_DROP_LOCAL_SRC,
	/* a new flow failing the reverse-path check (IPv4 and IPv6) */
	SIPOVL_STATS_A_DROP_RP_FILTER,
	/* packets the hooks could not parse (passed on, not dropped) */
	SIPOVL_STATS_A_MALFORMED,
	/*
	 * matched, rejected by policy: dropped and answered with a TCP RST or
	 * an ICMP error where the kernel's rules allow one (not in DROPPED nor
	 * in the drop reasons). Modules before it do not send it.
	 */
	SIPOVL_STATS_A_REJECTED,
	/*
	 * ICMP and ICMPv6 errors (fragmentation needed, packet too big, port
	 * unreachable, ...) about packets a socket sent from an address sipovl
	 * claims, delivered to the socket owning that flow (they are addressed
	 * to that foreign address). Modules before it do not send it.
	 */
	SIPOVL_STATS_A_ICMP_ERRORS,
	__SIPOVL_STATS_A_MAX
};
#define SIPOVL_STATS_A_MAX (__SIPOVL_STATS_A_MAX - 1)

enum sipovl_socket_attr {
	SIPOVL_SOCKET_A_UNSPEC,
	SIPOVL_SOCKET_A_FAMILY,		/* u16 */
	SIPOVL_SOCKET_A_PROTOCOL,	/* u8 */
	SIPOVL_SOCKET_A_PORT,		/* u16: local port, host order */
	SIPOVL_SOCKET_A_ALIVE,		/* u8: 0 once the daemon closed it */
	SIPOVL_SOCKET_A_MEMBER,		/* u32: index in its group, from 0 */
	SIPOVL_SOCKET_A_MEMBERS,	/* u32: members in its group */
	SIPOVL_SOCKET_A_INODE,		/* u64: the socket's inode (ss, fstat) */
	SIPOVL_SOCKET_A_PAD,
	__SIPOVL_SOCKET_A_MAX
};
#define SIPOVL_SOCKET_A_MAX (__SIPOVL_SOCKET_A_MAX - 1)

enum sipovl_tuple_attr {
	SIPOVL_TUPLE_A_UNSPEC,
	SIPOVL_TUPLE_A_FAMILY,		/* u16 */
	SIPOVL_TUPLE_A_PROTOCOL,	/* u8: IPPROTO_TCP or IPPROTO_UDP */
	SIPOVL_TUPLE_A_SRC,		/* binary: 4 or 16 bytes */
	SIPOVL_TUPLE_A_DST,		/* binary: 4 or 16 bytes */
	SIPOVL_TUPLE_A_SPORT,		/* u16, host order (optional) */
	SIPOVL_TUPLE_A_DPORT,		/* u16, host order */
	__SIPOVL_TUPLE_A_MAX
};
#define SIPOVL_TUPLE_A_MAX (__SIPOVL_TUPLE_A_MAX - 1)

#endif /* _UAPI_LINUX_SIPOVL_H */
