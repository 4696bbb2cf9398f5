/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sipovld ip-pool (I/O free): the leases of one named pool of overlay addresses, the lease file's
 * text form, and the pool service's request/reply messages. Design: Documentation/design.md,
 * "Endpoints and the ip-pool".
 *
 * A lease maps one Ziti identity (its id) to one address of the pool's range; an identity holds
 * at most one lease of a pool, an address belongs to at most one identity. The terminator
 * identity of an endpoint (listenOptions.identity "$ip_pool[NAME]") is its address's text form.
 */
#ifndef SIPOVL_DAEMON_POOL_H
#define SIPOVL_DAEMON_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/libsipovl.h"

#define POOL_NAME_MAX 32        /* pool names: [A-Za-z0-9._-], 1-32 */
#define POOL_OWNER_MAX 64       /* Ziti identity ids: [A-Za-z0-9._-], 1-64 */
#define POOL_MAX_ADDRS 65536    /* usable addresses of one pool at most */
#define POOL_MAX_LEASES 4096

enum pool_err {
	POOL_OK = 0,
	POOL_E_INVAL,           /* malformed request, owner or address */
	POOL_E_RANGE,           /* the address asked for is not in the pool */
	POOL_E_TAKEN,           /* the address asked for is leased to another identity */
	POOL_E_FULL,            /* no free address (or POOL_MAX_LEASES reached) */
	POOL_E_NOLEASE,         /* release of an identity that holds no lease */
	POOL_E_NOMEM,
	POOL_E_STORE,           /* the change could not be written to the lease file: undone */
	POOL_E_WAIT,            /* the pool server holds new leases back (pool.hold): ask again later */
};

struct pool_lease {
	uint32_t off;                   /* offset of the address in the range (1 .. size-1/-2) */
	char owner[POOL_OWNER_MAX + 1];
	int64_t seen;                   /* its last claim or renewal, on the pool's clock (s) */
};

struct pool {
	char name[POOL_NAME_MAX + 1];
	struct sipovl_prefix range;     /* IPv4 /16../30 or IPv6 /112../126 */
	uint32_t size;                  /* addresses in the range, 2^(bits - len) */
	struct pool_lease *leases;      /* sorted by off */
	size_t n;
	uint64_t gen;                   /* incremented by every change (the caller persists on change) */
	/*
	 * The hold (ip_pool.hold_s after the pool server's start): its lease file may be older than
	 * the leases the endpoints hold (restored from a backup), so an address free here may be
	 * on an endpoint's interface. Meanwhile only renewals and claims that change nothing are
	 * served; any other claim is POOL_E_WAIT, until every endpoint renewed what it holds.
	 */
	bool hold;
	const char *hold_why;           /* the text of POOL_E_WAIT's reply when not the usual one */
	/*
	 * Expiry (ip_pool.lease_s): every claim or renewal stamps its lease with @now (the caller's
	 * clock, seconds); pool_expire() removes the leases not stamped for lease_s (an identity
	 * deleted at the controller can no longer renew). The lease file has wall-clock times:
	 * @now + @wall_off. @seen_dirty: a stamp changed since the caller last wrote the file and cleared it (no change of
	 * @gen: the caller writes the file when it suits it).
	 */
	int64_t now, wall_off;
	bool seen_dirty;
	/*
	 * ip_pool.lease_s, told in every "ok ADDRESS" of a claim or renewal ("lease_s=N", 0: never
	 * expires) so that an endpoint withdraws its address in time whatever its own
	 * endpoint.lease_s says (the caller sets it before pool_serve()).
	 */
	unsigned lease_s;
};

const char *pool_strerror(enum pool_err e);
bool pool_name_ok(const char *s);
bool pool_owner_ok(const char *s);

/* A pool NAME of RANGE, with no lease. Returns 0, or -1 with @err saying what was wrong. */
int pool_init(struct pool *p, const char *name, const struct sipovl_prefix *range, char *err, size_t errlen);
void pool_fini(struct pool *p);

/* The lease of @owner. When @owner holds one, that address (stable; @want ignored unless it
 * names another address, then POOL_E_TAKEN if that one is someone else's, else the lease moves).
 * Otherwise @want when given (the address the endpoint held before, e.g. after the pool's lease
 * file was restored from an older backup), else the first free address from a start derived
 * from @owner (so a lost lease file still tends to give the same address). @out: the address. */
enum pool_err pool_claim(struct pool *p, const char *owner, const struct sipovl_prefix *want,
			 struct sipovl_prefix *out);
/* An endpoint re-confirms the address it holds (on its interface): POOL_OK when @addr is
 * @owner's, or free (a lease the server lost: @owner's again, its old one, if any, moved);
 * POOL_E_TAKEN when another identity holds it (the endpoint must withdraw it), POOL_E_RANGE.
 * Served during the hold too. */
enum pool_err pool_renew(struct pool *p, const char *owner, const struct sipovl_prefix *addr,
			 struct sipovl_prefix *out);
/* A lease for @owner on any address but @avoid (it is local on the endpoint's host already, on
 * another interface): @owner's lease when elsewhere, else moved to (or made on) a free address
 * after @avoid. POOL_E_WAIT during the hold, POOL_E_FULL. */
enum pool_err pool_claim_other(struct pool *p, const char *owner, const struct sipovl_prefix *avoid,
			       struct sipovl_prefix *out);
enum pool_err pool_release(struct pool *p, const char *owner);
/* The owner of @addr, or NULL. */
const char *pool_owner_of(const struct pool *p, const struct sipovl_prefix *addr);
/* Who holds @addr: POOL_OK and @owner, POOL_E_NOLEASE (a usable address of the pool that no
 * identity holds), POOL_E_RANGE (not a usable address of the pool). */
enum pool_err pool_who(const struct pool *p, const struct sipovl_prefix *addr, const char **owner);
/* Releases the leases of identities not in @live (the network's identity ids, e.g. after an
 * identity was deleted); *@released: how many. POOL_E_INVAL, nothing released, when @live is
 * empty (a failed listing must not free every address) or holds a malformed id. */
enum pool_err pool_reconcile(struct pool *p, const char *const *live, size_t n_live, size_t *released);

/* Removes the leases of @p not claimed or renewed for @lease_s seconds at @p->now (0: never;
 * none during the hold), calling @gone for each before it goes. Returns how many (@gen
 * incremented when any). */
size_t pool_expire(struct pool *p, unsigned lease_s,
		   void (*gone)(const struct pool *p, const struct pool_lease *l, void *arg), void *arg);
/* Every lease stamped before @floor is stamped @floor (a restarted server: the endpoints may
 * not have reached it while it was down; they get time to renew before anything expires). */
void pool_seen_floor(struct pool *p, int64_t floor);
/* Releases the lease on @addr, whoever holds it (the admin's "ip-pool release"): POOL_OK and
 * its owner in @owner, POOL_E_RANGE, POOL_E_NOLEASE when it is free. */
enum pool_err pool_release_addr(struct pool *p, const struct sipovl_prefix *addr, char *owner, size_t ownerlen);

/* The lease file: "sipovl-pool 1 NAME RANGE\n" then one "ADDRESS OWNER [SEEN]\n" per lease
 * (SEEN: the wall-clock time of its last claim or renewal, seconds since 1970; a line without it
 * is stamped @p->now when loaded).
 * pool_load replaces @p's leases with the file's; any error leaves @p unchanged and names the
 * line. pool_dump returns the length written (truncated: >= @cap, as snprintf). */
int pool_load(struct pool *p, const char *buf, size_t len, char *err, size_t errlen);
size_t pool_dump(const struct pool *p, char *buf, size_t cap);

/* The pool service (one request, one reply per Ziti connection; after a "who" the connection
 * stays open for the next):
 *   "claim POOL [ADDRESS]\n" -> "ok ADDRESS lease_s=N range=CIDR\n" | "err CODE text\n"
 *   "claim POOL not ADDRESS\n" -> "ok ADDRESS lease_s=N range=CIDR\n" | "err CODE text\n" (pool_claim_other)
 *   "renew POOL ADDRESS\n"   -> "ok ADDRESS lease_s=N range=CIDR\n" | "err CODE text\n"   (pool_renew)
 *   "release POOL\n"         -> "ok\n" | "err CODE text\n"
 *   "who POOL ADDRESS\n"     -> "ok OWNER\n" | "err nolease text\n" | "err range text\n" (pool_who: a
 *                              hosting endpoint checks a dialer's claimed source, pool_check.c)
 * An address may be followed by KEY=VALUE options; lease_s is the server's @p->lease_s, range
 * the pool's (an endpoint asks "who" only about addresses in it), and a reader ignores keys it
 * does not know (a newer server's). Servers before lease_s or range sent none.
 * The owner is @caller, the dialer's authenticated identity id, never a field of the request:
 * an identity cannot claim or release another's lease. Returns the reply's length. */
size_t pool_serve(struct pool *p, const char *caller, const char *req, size_t len, char *reply, size_t cap);
/* The reply "err CODE text\n" of @e. */
size_t pool_reply_err(char *reply, size_t cap, enum pool_err e);
/* Parses a reply: 0 and @out (claim) on "ok", with @lease_s (if not NULL) the server's lease_s
 * or -1 when the reply has none and @range (if not NULL) the pool's range (family 0 when the
 * reply has none: a server before range=); else the pool_err code (>0) with its text in @err,
 * -1 when malformed. */
int pool_parse_reply(const char *buf, size_t len, struct sipovl_prefix *out, long *lease_s,
		     struct sipovl_prefix *range, char *err, size_t errlen);
/*
 * A hosting endpoint's verdict on a dialer's claimed source @ip (pool_check.c), given the pool
 * server's answer to "who" (@who_rc: pool_parse_who's return, or -2 when it could not be asked
 * or did not answer, @why_no saying why) and @dialer, the dialing identity as the lease's owner
 * is named (the router-authenticated id; the caller id with source_identity "caller"; NULL when
 * neither). 0: allowed (the dialer's own lease, or not an address of the pool: the other checks
 * apply); -1 with the refusal in @why: another identity's lease, a free address of the pool, a
 * dialer that cannot be told, or no answer (refused: a claim that cannot be checked is not
 * taken).
 */
int pool_check_decide(int who_rc, const char *owner, const char *why_no, const char *dialer, const char *ip,
		      const char *pool, char *why, size_t whylen);
/*
 * Is this pool server the only one hosting its service (pool_excl.c)? @ours: its terminators
 * that their routers confirmed, by router name, @before set for those bound before its last
 * "only" listing (their terminators are among the @known ids that listing showed); @listed: the
 * @n terminators the controller lists for the service (@total of them in all: more than @n, a
 * page), each by id and router ("" when unknown). Router by router: the listed ids not @known
 * are this server's terminators bound since (as many as it has there) or another server's; the
 * @known ones are its terminators bound before, or its own left over from a binding it made
 * anew since (@stale of them: a router that still holds the terminator of a connection this
 * server lost). @mine[i] (n entries) is set for each listed terminator that is this server's.
 * POOL_EXCL_OTHERS when some are not (@others of them: another pool server, or this server's
 * own from before a restart, which it cannot know), else POOL_EXCL_UNSURE when none of its own
 * is confirmed yet, or one is not listed (yet: the controller behind), else POOL_EXCL_ONLY.
 */
enum pool_excl { POOL_EXCL_ONLY, POOL_EXCL_UNSURE, POOL_EXCL_OTHERS };
struct pool_excl_own {
	const char *router;
	bool before;
};
struct pool_excl_listed {
	const char *id, *router;
};
enum pool_excl pool_excl_verdict(const struct pool_excl_own *ours, size_t nours, const struct pool_excl_listed *listed,
				 size_t n, size_t total, const char *const *known, size_t nknown, bool *mine,
				 size_t *others, size_t *stale);
/* An address a pool server may hand an endpoint: not unspecified, loopback, multicast,
 * link-local, the IPv4 limited broadcast or an IPv4-mapped IPv6 address (0 ok; -1 with the
 * reason in @err). Put on the endpoint's interface, such an address would break the host. */
int pool_addr_usable(const struct sipovl_prefix *a, char *err, size_t errlen);

/* The endpoint's side (endpoint.c):
 * pool_claim_req: "claim POOL [WANT]\n" (@want: the address held before, or NULL); the length.
 * The state file (endpoint.state_file): "sipovl-endpoint 1 POOL ADDRESS\n", the address this
 * endpoint held last, asked for again when it claims (so a pool server whose lease file was
 * restored from an older backup gives it back). pool_state_parse: 0 and @out, 1 (with @err)
 * when the file is for another pool (ignored), -1 (with @err) when malformed. */
size_t pool_claim_req(const char *pool, const struct sipovl_prefix *want, char *buf, size_t cap);
/* "claim POOL not ADDRESS\n": any address but @avoid (local on this host already) */
size_t pool_claim_other_req(const char *pool, const struct sipovl_prefix *avoid, char *buf, size_t cap);
/* "renew POOL ADDRESS\n": the endpoint re-confirms the address it holds (every endpoint.renew_s) */
size_t pool_renew_req(const char *pool, const struct sipovl_prefix *a, char *buf, size_t cap);
/* "who POOL ADDRESS\n": who holds @a (a hosting endpoint checking a dialer's claimed source) */
size_t pool_who_req(const char *pool, const struct sipovl_prefix *a, char *buf, size_t cap);
/* Parses the reply to "who": 0 and @owner (a valid owner) on "ok OWNER"; the pool_err code (>0)
 * with its text in @err on "err"; -1 (with @err) when malformed. */
int pool_parse_who(const char *buf, size_t len, char *owner, size_t ownerlen, char *err, size_t errlen);
size_t pool_state_fmt(const char *pool, const struct sipovl_prefix *a, char *buf, size_t cap);
int pool_state_parse(const char *buf, size_t len, const char *pool, struct sipovl_prefix *out, char *err,
		     size_t errlen);

/* @a as text ("100.127.0.5"), @a from an offset of @p */
const char *pool_fmt(const struct sipovl_prefix *a, char *buf, size_t n);
/* "ADDRESS/LEN" */
const char *pool_fmt_range(const struct sipovl_prefix *r, char *buf, size_t n);
/* a pool's shape: IPv4 /16 to /30, IPv6 /112 to /126 (pool_init's rule) */
bool pool_range_ok(const struct sipovl_prefix *r);
void pool_addr(const struct pool *p, uint32_t off, struct sipovl_prefix *out);

#endif
