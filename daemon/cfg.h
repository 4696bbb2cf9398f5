/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sipovld configuration model: the Ziti tunneler configs (intercept.v1, host.v1), the
 * tunneler app_data, template expansion, host-side target computation and the daemon's own
 * config file. Everything here is free of I/O (no sockets, no files, no logging) so that it
 * is unit-tested and fuzzed on the host (tests/daemon/).
 *
 * Semantics follow ziti-edge-tunnel (ziti-tunnel-sdk-c) so that one Ziti configuration serves
 * both; see Documentation/admin-guide.md "Ziti configuration reference".
 */
#ifndef SIPOVLD_CFG_H
#define SIPOVLD_CFG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctl/libsipovl.h"

#define CFG_ERRLEN 160

/* ---- addresses ---- */

/* "10.1.0.0/16", "fd00::/48", "10.0.0.1" (host prefix). Host bits are cleared. 0 or -1. */
int cfg_parse_prefix(const char *s, struct sipovl_prefix *p);
/* An IPv4 or IPv6 literal (no brackets, no port) into @p as a host prefix. 0 or -1. */
int cfg_parse_ip(const char *s, struct sipovl_prefix *p);
bool cfg_prefix_contains(const struct sipovl_prefix *p, uint16_t family, const uint8_t *addr);
bool cfg_prefixes_contain(const struct sipovl_prefix *v, size_t n, uint16_t family, const uint8_t *addr);
/*
 * @in without the one address @addr (of @family): prefixes that hold it are split into the
 * prefixes covering the rest (a /24 becomes /25, /26 ... /32: 8). *@out is malloc'd (NULL when
 * nothing is left). 0, or -1 when out of memory.
 */
int cfg_prefixes_without(const struct sipovl_prefix *in, size_t n, uint16_t family, const uint8_t *addr,
			 struct sipovl_prefix **out, size_t *nout);
bool cfg_ports_contain(const struct sipovl_portrange *v, size_t n, uint16_t port);
/* "ip", "ip:port", "[v6]:port", "[v6]"; port 0 when absent. 0 or -1. */
int cfg_parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* "10.1.0.2" / "fd01::2" (no port) */
const char *cfg_fmt_ip(const struct sockaddr_storage *ss, char *buf, size_t n);
/* "10.1.0.2:5060" / "[fd01::2]:5060" */
const char *cfg_fmt_sa(const struct sockaddr_storage *ss, char *buf, size_t n);
const char *cfg_fmt_prefix(const struct sipovl_prefix *p, char *buf, size_t n);
uint16_t cfg_sa_port(const struct sockaddr_storage *ss);
/* Pointer to the 4 or 16 address bytes of @ss. */
const uint8_t *cfg_sa_addr(const struct sockaddr_storage *ss);
socklen_t cfg_sa_len(const struct sockaddr_storage *ss);

/* ---- templates ---- */

/*
 * Variables of dialOptions.identity, sourceIp and listenOptions.identity templates. A NULL
 * member is "not available": its variable is left as written and reported as unknown.
 * $intercepted_ip (the 2020 SIP/RTP design's name) is an alias of $dst_ip.
 * $tunneler_id.tag[KEY] and $tunneler_id.appData[KEY] are the tunneler identity's tags and
 * appData at the controller, looked up through @attr (kind "tag" or "appData"; NULL: no
 * such key, reported like an unknown variable).
 * $ip_pool[NAME] is an endpoint's address of its pool (endpoint in sipovld.conf): @pool_name
 * is that pool's name (NULL: not an endpoint, every $ip_pool[...] is unknown), @pool_addr the
 * address's text (NULL until the pool server answered the claim: no value yet).
 */
struct tpl_vars {
	const char *dst_protocol, *dst_ip, *dst_port, *dst_hostname;
	const char *src_ip, *src_port, *tunneler_name;
	const char *(*attr)(void *arg, const char *kind, const char *key);
	void *attr_arg;
	const char *pool_name, *pool_addr;
};

/*
 * Expands every known "$variable" of @tpl into @out. Unknown variables ("$ip_pool[x]") and
 * known ones without a value (a tag the identity lacks) are copied literally and the first
 * one is reported in @unknown (up to @unknown_len bytes, "" when none). Returns 0, or -1
 * when @out is too small.
 */
int tpl_expand(const char *tpl, const struct tpl_vars *v, char *out, size_t outlen, char *unknown,
	       size_t unknown_len);
/*
 * When a config is read: 0 when every "$variable" of @tpl is one tpl_expand knows (with
 * @host_side only $tunneler_id.*), else -1 with the first other one in @bad.
 */
int tpl_check(const char *tpl, bool host_side, char *bad, size_t badlen);
/* The same where $ip_pool[@pool] is known too (@pool: this sipovld's endpoint.pool, or NULL). */
int tpl_check_pool(const char *tpl, bool host_side, const char *pool, char *bad, size_t badlen);

/* ---- intercept.v1 ---- */

struct icpt_cfg {
	uint32_t protos;                /* SIPOVL_PROTO_* */
	struct sipovl_prefix *dsts;
	size_t n_dsts;
	struct sipovl_portrange *ports;
	size_t n_ports;
	struct sipovl_prefix *srcs;     /* allowedSourceAddresses */
	size_t n_srcs;
	char **skipped;                 /* hostnames / wildcards not programmed (yet) */
	size_t n_skipped;
	char *dial_identity;            /* dialOptions.identity template, or NULL */
	unsigned connect_timeout_ms;    /* dialOptions.connectTimeoutSeconds (5 s / 15 s defaults) */
	char *source_ip;                /* sourceIp template, or NULL */
};

/* 0, or -1 with a message in @err. On success free with icpt_cfg_free. */
int icpt_cfg_parse(const char *json, struct icpt_cfg *c, char *err, size_t errlen);
/* The same on an endpoint of pool @pool (endpoint.pool; NULL: none): $ip_pool[@pool] is known. */
int icpt_cfg_parse_pool(const char *json, const char *pool, struct icpt_cfg *c, char *err, size_t errlen);
void icpt_cfg_free(struct icpt_cfg *c);

/* Kernel intercept name for a service: the name itself when it fits and is not all digits. */
void icpt_kernel_name(const char *service, uint32_t id, char out[SIPOVL_NAME_MAXLEN]);
/*
 * Fills @out (arrays borrowed from @c, do not release) for SIPOVL table commands.
 * Returns 0, or -1 when the config has nothing the kernel can match (no IP/CIDR address).
 */
int icpt_to_kernel(const struct icpt_cfg *c, uint32_t id, const char *kname, uint8_t policy,
		   struct sipovl_intercept *out);

/* ---- app_data ---- */

#define AD_IPLEN 46
struct app_data {
	char conn_type[16];
	char dst_protocol[8], dst_ip[AD_IPLEN], dst_port[8], dst_hostname[256];
	char src_protocol[8], src_ip[AD_IPLEN], src_port[8];
	char source_addr[128];
	char sipovl_dial[40]; /* "<16 hex: the dial's id>/<attempt>" (sipovld dialers, zt_dial_opts.attempt_key) */
};

/* Compact JSON with every non-empty member; returns the length or -1 if @buflen is too small. */
int app_data_build(const struct app_data *a, char *buf, size_t buflen);
/* 0, or -1 with a message in @err (not an object, non-string values, oversize values). */
int app_data_parse(const void *json, size_t len, struct app_data *a, char *err, size_t errlen);

/*
 * Intercept side: fill @a for a steered flow (proto "tcp"/"udp", client @src, original
 * destination @dst), expanding the intercept's sourceIp template, and expand the terminator
 * identity into @identity ("" when the config has none). @ident gives the tunneler's own
 * variables (tunneler_name, attr; its flow members are ignored). @unknown as for tpl_expand.
 * Returns 0 or -1 (a template expands beyond its buffer).
 */
int icpt_dial_params(const struct icpt_cfg *c, const char *proto, const struct sockaddr_storage *src,
		     const struct sockaddr_storage *dst, const struct tpl_vars *ident, struct app_data *a,
		     char *identity, size_t idlen, char *unknown, size_t unknown_len);
/* The same for a flow to an address the DNS responder gave @hostname (NULL: none): app_data's
 * dst_hostname (and $dst_hostname) is that name, dst_ip the address. */
int icpt_dial_params_host(const struct icpt_cfg *c, const char *proto, const struct sockaddr_storage *src,
			  const struct sockaddr_storage *dst, const char *hostname, const struct tpl_vars *ident,
			  struct app_data *a, char *identity, size_t idlen, char *unknown, size_t unknown_len);

/* ---- host.v1 ---- */

struct addr_xlat {
	struct sipovl_prefix from;      /* from/prefixLength */
	uint8_t to[16];                 /* same family as from */
};

struct host_cfg {
	bool fwd_proto;
	uint32_t protos;                /* fixed protocol (one bit) or allowedProtocols */
	bool fwd_addr;
	char *address;                  /* fixed address (IP literal or hostname) */
	struct sipovl_prefix *allowed_addrs;
	size_t n_allowed_addrs;
	char **allowed_hostnames;       /* not forwardable yet: logged */
	size_t n_allowed_hostnames;
	struct addr_xlat *xlats;
	size_t n_xlats;
	bool fwd_port;
	uint16_t port;
	struct sipovl_portrange *allowed_ports;
	size_t n_allowed_ports;
	struct sipovl_prefix *allowed_srcs; /* allowedSourceAddresses */
	size_t n_allowed_srcs;
	/* listenOptions */
	char *listen_identity;          /* template, or NULL */
	bool bind_using_edge_identity;
	uint16_t cost;
	uint8_t precedence;             /* 0 default, 1 required, 2 failed */
	unsigned max_connections;
	unsigned connect_timeout_ms;    /* listenOptions.connectTimeout(Seconds), default 5 s */
};

int host_cfg_parse(const char *json, struct host_cfg *h, char *err, size_t errlen);
/* The same on an endpoint of pool @pool (NULL: none): listenOptions.identity may use $ip_pool[@pool]. */
int host_cfg_parse_pool(const char *json, const char *pool, struct host_cfg *h, char *err, size_t errlen);
void host_cfg_free(struct host_cfg *h);

/* Where and how to originate a hosted connection. */
struct host_target {
	int proto;                      /* IPPROTO_TCP / IPPROTO_UDP */
	struct sockaddr_storage dst;    /* valid when !dst_host[0] */
	char dst_host[256];             /* fixed non-literal address: resolve it */
	uint16_t dst_port;
	bool has_src;                   /* originate from @src (transparent) */
	struct sockaddr_storage src;    /* port 0: any */
};

/*
 * Computes the target of a dial from the host.v1 config and the dialer's app_data (NULL when
 * none was sent). Returns 0, or -1 with the refusal reason in @err (sent as DialFailed).
 */
int host_compute(const struct host_cfg *h, const struct app_data *a, struct host_target *t, char *err,
		 size_t errlen);
/*
 * The terminator identity to bind with ("" for none); @ident as for icpt_dial_params,
 * @unknown as for tpl_expand.
 */
int host_listen_identity(const struct host_cfg *h, const struct tpl_vars *ident, char *out, size_t outlen,
			 char *unknown, size_t unknown_len);

/* ---- sipovld.conf (JSON) ---- */

#define DCFG_MAX_IDENTITIES 16
#define DCFG_MAX_SOURCE_MAP 4096        /* identities in source_map */
#define DCFG_MAX_SOURCE_PREFIXES 256    /* prefixes of one identity */
#define DCFG_MAX_DNS_ADDRS 8            /* dns_listen, dns_upstream */
#define DCFG_MAX_DNS_ALLOW 32           /* dns_allow's prefixes */

/* source_map: the sources one dialing identity (name or id) may claim (app_data source_addr) */
struct src_map_entry {
	char *identity;
	struct sipovl_prefix *srcs;
	size_t n_srcs;
};

/* an endpoint re-confirms its lease every renew_s; a pool server just started holds new leases
 * back for hold_s, which must exceed every endpoint's renew_s (design.md) */
#define CFG_EP_RENEW_S 60
#define CFG_POOL_HOLD_S 150
/* a lease not renewed for lease_s expires (an identity deleted at the controller cannot renew) */
#define CFG_POOL_LEASE_S 86400
/* how often the pool server counts its service's terminators (exclusive_check_s) */
#define CFG_POOL_EXCL_S 30

/* ip_pool: this sipovld serves a pool (cfg_pool.c) */
struct cfg_pool_server {
	char name[33];                  /* POOL_NAME_MAX */
	struct sipovl_prefix range;
	char *service;                  /* the Ziti service it hosts */
	char *lease_file;
	bool trust_caller;              /* routers before ziti 2.0: the dialer's self-set caller id */
	unsigned idle_ms;               /* a connection open this long is closed (idle_timeout_s, 10 s) */
	unsigned hold_ms;               /* after start, only renewals and unchanged leases (hold_s, 150 s) */
	unsigned lease_s;               /* a lease not renewed this long expires (lease_s, 86400; 0 never) */
	/* the service's terminators counted every this often; new leases only while they are all
	 * this server's (exclusive_check_s, 30; 0: not checked) */
	unsigned excl_ms;
};

/* endpoint: this sipovld holds an address of a pool (cfg_pool.c) */
struct cfg_endpoint {
	char pool[33];
	char *service;                  /* the pool server's Ziti service */
	char ifname[16];                /* IFNAMSIZ */
	char *state_file;
	unsigned renew_ms;              /* the lease re-confirmed this often (renew_s, 60 s) */
	unsigned lease_s;               /* the pool server's ip_pool.lease_s (86400; 0 never): the
					 * address is withdrawn lease_s/2 after the last renewal confirmed */
};

struct daemon_cfg {
	char *identities[DCFG_MAX_IDENTITIES];
	size_t n_identities;
	char *name;                     /* $tunneler_id.name (default: identity file base name) */
	int log_level;                  /* 3 err .. 7 debug (syslog numbers) */
	unsigned udp_idle_ms;           /* intercepted and hosted UDP flows */
	unsigned sip_idle_ms;           /* UDP flows that carry SIP (sip_view.c), if longer */
	unsigned tcp_idle_ms;           /* TCP flows with no byte either way (default 2 h) */
	unsigned tcp_half_closed_ms;    /* ... once either end sent FIN (default 120 s) */
	unsigned tcp_keepalive_s;       /* TCP keepalive idle time of flow sockets (60 s; 0: off) */
	unsigned workers;               /* worker processes, 1-64; 0: "auto" (the default, daemon_cfg_workers) */
	uint64_t memory_limit;          /* bytes, for flows and their buffers */
	char *ctl_socket;
	char *user;                     /* "USER[:GROUP]" sipovld becomes after start-up (NULL: stays) */
	uint8_t policy;                 /* SIPOVL_POLICY_* of programmed intercepts */
	unsigned svc_poll_ms;
	int ziti_auth;                  /* 0 legacy, 1 auto (default), 2 oidc */
	unsigned token_refresh_ms;      /* OIDC: refresh tokens at least this often (0: at half their life) */
	struct src_map_entry *src_map;  /* sorted by identity */
	size_t n_src_map;
	bool has_src_map;               /* "source_map" given (even empty) */
	bool src_trust_caller;          /* source_identity "caller": the dialer's own caller id */
	/* DNS responder (cfg_dns.c): off while dns_listen is empty */
	struct sockaddr_storage dns_listen[DCFG_MAX_DNS_ADDRS];
	size_t n_dns_listen;
	struct sipovl_prefix dns_range4, dns_range6; /* virtual ranges (default 100.64.0.0/10, none) */
	bool has_dns_range4, has_dns_range6;
	struct sockaddr_storage dns_upstream[DCFG_MAX_DNS_ADDRS];
	size_t n_dns_upstream;
	bool has_dns_upstream;          /* given (even empty); else /etc/resolv.conf's servers */
	unsigned dns_timeout_ms;        /* per upstream attempt */
	unsigned dns_name_idle_s;       /* a name unused this long may lose its address to a new one */
	char *dns_names_file;           /* where the names' addresses are kept ("": nowhere) ... */
	bool has_dns_names_file;        /* ... given; else $STATE_DIRECTORY/dns-names (dns_server.c) */
	struct sipovl_prefix dns_allow[DCFG_MAX_DNS_ALLOW]; /* the clients answered (host bits cleared) */
	size_t n_dns_allow;
	bool dns_allow_connected;       /* and the dns_listen addresses' subnets, loopback ("connected", default) */
	unsigned dns_rate_limit;        /* UDP answers a second per client (0: no limit) */
	unsigned dns_rate_slip;         /* one in N answers over the limit truncated, the others dropped */
	unsigned calls_max;             /* SIP view: calls tracked at most (0: the SIP view is off) */
	unsigned calls_idle_ms;         /* a confirmed call with no SIP for this long has ended */
	bool sip_debug;                 /* log each SIP message seen (headers, no body) at debug */
	bool has_metrics;               /* metrics_listen given: the OpenMetrics endpoint (metrics.c) */
	struct sockaddr_storage metrics_addr;
	unsigned rtp_oneway_ms;         /* one-way audio: a direction silent this long (rtp_oneway_s) */
	/*
	 * primary_address: while this address is on one of the gateway's interfaces (the site's
	 * VRRP address), the services it hosts with the callers' source addresses bind with
	 * precedence required, otherwise default (services.c, primary.c)
	 */
	bool has_primary;
	struct sipovl_prefix primary;   /* the address (len 32 or 128) */
	bool has_pool_server, has_endpoint; /* "ip_pool", "endpoint" given (not acted upon yet) */
	struct cfg_pool_server pool_server;
	struct cfg_endpoint endpoint;
};

void daemon_cfg_defaults(struct daemon_cfg *d);
/* Merges the JSON text @json into @d (keys given override). 0, or -1 with @err. */
int daemon_cfg_parse(const char *json, struct daemon_cfg *d, char *err, size_t errlen);
/*
 * The worker processes to run for the "workers" setting (cfg; 0: "auto") on cpus usable CPUs
 * (the process's affinity mask): an explicit count as it is (an endpoint runs one: its flows
 * are its interface's); "auto" one per usable CPU, at most 64, but one where nothing would be
 * spread over more: with --no-kernel (no intercept sockets; only the primary hosts) and in
 * endpoint mode. *why (may be NULL): what kept it below the setting or the CPUs, else NULL.
 */
unsigned daemon_cfg_workers(unsigned cfg, long cpus, bool no_kernel, bool endpoint, const char **why);
void daemon_cfg_free(struct daemon_cfg *d);

/*
 * May a hosted dial originate from @src (its app_data source_addr)? @rid/@rname: the dialer's
 * identity id and name as the router authenticated them (NULL: the router sent none, routers
 * before ziti 2.0); @caller: the caller id the dialer sent about itself (NULL: none). Without
 * a source_map every source allowedSourceAddresses admits is allowed (*@unchecked set). With
 * one, the identity (router-given; the caller id only with source_identity "caller") must be
 * in the map with a prefix containing @src. 0 allowed, or -1 with the refusal in @err; @who
 * gets the identity the decision was about ("" when none).
 */
int cfg_source_allowed(const struct daemon_cfg *d, const char *rid, const char *rname, const char *caller,
		       const struct sockaddr_storage *src, char *who, size_t wholen, bool *unchecked, char *err,
		       size_t errlen);

/* "err"/"warning"/"info"/"debug" or 3..7 → syslog level; -1 if unknown. */
int cfg_log_level(const char *s);

#endif
