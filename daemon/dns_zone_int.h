/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The name table's insides, shared by dns_zone.c (the names and their answers) and
 * dns_zone_file.c (the table as text, for sipovld's state directory). I/O free.
 */
#ifndef SIPOVLD_DNS_ZONE_INT_H
#define SIPOVLD_DNS_ZONE_INT_H

#include "daemon/dns_zone.h"

#define DZ_OMAP 8192 /* slots of the offset map: a power of 2, twice DNS_ZONE_MAX_NAMES */

struct zsvc {
	uint32_t kid;
	char **patterns;                /* lower case, no trailing dot */
	size_t n_patterns;
	uint32_t protos;
	struct sipovl_portrange *ports;
	size_t n_ports;
};

struct zname {
	char *name;
	uint32_t idx;                   /* offset in the ranges, 1 .. z->space */
	uint64_t last;                  /* the zone's clock when last asked for or seen with a live flow */
	uint64_t hold;                  /* restored: kept until then though no service has it (0: not) */
};

struct dns_zone {
	struct sipovl_prefix r4, r6;
	bool has4, has6;
	uint32_t space;                 /* offsets 1..space usable in both ranges */
	uint32_t max;                   /* names at once: DNS_ZONE_MAX_NAMES, or space when smaller */
	struct zsvc *svcs;
	size_t n_svcs;
	struct zname *names;
	size_t n_names;
	/* by offset (linear probing on a hash of the offset): 1 + the index in names of its holder; 0 free */
	uint32_t omap[DZ_OMAP];
	uint64_t now;                   /* seconds (dns_zone_clock) */
	unsigned idle;                  /* a name idle this long may be reclaimed */
	uint64_t next_scan;             /* no name can be reclaimed before */
	uint64_t gen;                   /* incremented when a name gets or loses its offset */
	void (*live)(struct dns_zone *z, void *arg);
	void *live_arg;
	struct dns_zone_stats st;
};

/* 1 + the index in z->names of the holder of offset @idx, or 0 */
uint32_t dz_holder(const struct dns_zone *z, uint32_t idx);
/* gives @name (lower case, its own) offset @idx (free): 0, or -1 out of memory */
int dz_add(struct dns_zone *z, const char *name, uint32_t idx);
/* drops names[@i]: its offset is free again */
void dz_drop(struct dns_zone *z, size_t i);
/* offset @idx as an address of @family; the offset of @addr (0: none of ours) */
void dz_addr_of(const struct dns_zone *z, uint32_t idx, int family, uint8_t *out);
uint32_t dz_idx_of(const struct dns_zone *z, int family, const uint8_t *addr);

#endif
