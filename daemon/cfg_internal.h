/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the configuration parsers (daemon/cfg_*.c); not part of the cfg.h API.
 * I/O free like the rest of the configuration model.
 */
#ifndef SIPOVLD_CFG_INTERNAL_H
#define SIPOVLD_CFG_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/cfg.h"

/* Clears the host bits of @p. */
void cfg_prefix_mask(struct sipovl_prefix *p);
/* A decimal port 0-65535: 0, else -1. */
int cfg_parse_port(const char *s, uint16_t *port);
/* Formats into @err (when given) and returns -1. */
#include "daemon/errf.h"
#define cfg_fail errf /* message into err, -1 */
/* One JSON object (not another type, no trailing data); NULL with @err. */
struct json_object *cfg_parse_json(const char *json, size_t len, char *err, size_t errlen);
bool cfg_get(struct json_object *o, const char *key, struct json_object **v);
/* The string value, or NULL when @v is not a string. */
const char *cfg_str(struct json_object *v);
/* An integer (or an integral string) in [lo, hi]: 0, else -1. */
int cfg_int(struct json_object *v, long long lo, long long hi, long long *out);
int cfg_bool(struct json_object *v, bool *out);
int cfg_protos(struct json_object *v, const char *what, uint32_t *out, char *err, size_t errlen);
bool cfg_looks_like_ip(const char *s);
bool cfg_valid_hostname(const char *s);
int cfg_push_str(char ***v, size_t *n, const char *s);
void cfg_free_strs(char **v, size_t n);
/*
 * Addresses: IPs and CIDRs into @pv; hostnames and wildcards into @hv when @hv is not NULL
 * (else an error). @max bounds the prefixes.
 */
int cfg_addrs(struct json_object *v, const char *what, bool required, size_t max, struct sipovl_prefix **pv,
	      size_t *pn, char ***hv, size_t *hn, char *err, size_t errlen);
int cfg_ports(struct json_object *v, const char *what, struct sipovl_portrange **pv, size_t *pn, char *err,
	      size_t errlen);

/* " (this sipovld's endpoint.pool is P)" or " (...: not an endpoint)" when @bad is a $ip_pool[...]
 * variable, else "": the second half of an "unknown template variable" message */
const char *tpl_pool_hint(const char *bad, const char *pool, char *buf, size_t n);

/* sipovld.conf "source_map" (@v: an object) into @d, replacing its map. 0, or -1 with @err. */
int cfg_src_map_parse(struct json_object *v, struct daemon_cfg *d, char *err, size_t errlen);
void cfg_src_map_free(struct daemon_cfg *d);
/* cfg_dns.c: a dns_* key of sipovld.conf: 0, -1 (with @err), or 1 when @key is not one */
int cfg_dns_key(const char *key, struct json_object *v, struct daemon_cfg *d, char *err, size_t errlen);
void cfg_dns_defaults(struct daemon_cfg *d);
/* cfg_pool.c: "ip_pool" or "endpoint": 0, -1 (with @err), or 1 when @key is neither */
int cfg_pool_key(const char *key, struct json_object *v, struct daemon_cfg *d, char *err, size_t errlen);
void cfg_pool_free(struct daemon_cfg *d);

#endif
