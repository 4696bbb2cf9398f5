// SPDX-License-Identifier: GPL-2.0
/*
 * The edge router's refusals: the error code it sends with a StateClosed (ErrorCodeHeader
 * 1014, a uint32; routers copy it from the controller's answer to their circuit or terminator
 * request; the StructuredError header 1033 carries the same as JSON {"message","code",...}),
 * and what it asks of the client. The numbers are the edge protocol's (openziti/sdk-golang
 * ziti/edge: ErrorCodeInternal 1 ... ErrorCodeEncryptionDataMissing 11), the same in ziti
 * v1.6.x and 2.x. A router that sends no code (older ones, or a refusal of its own) leaves
 * the message text, matched as before.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "zt_internal.h"

const char *zt_edge_err_name(uint32_t code)
{
	switch (code) {
	case ZT_EC_INTERNAL: return "Internal";
	case ZT_EC_INVALID_API_SESSION: return "InvalidApiSession";
	case ZT_EC_INVALID_SESSION: return "InvalidSession";
	case ZT_EC_WRONG_SESSION_TYPE: return "WrongSessionType";
	case ZT_EC_INVALID_EDGE_ROUTER_FOR_SESSION: return "InvalidEdgeRouterForSession";
	case ZT_EC_INVALID_SERVICE: return "InvalidService";
	case ZT_EC_TUNNELING_NOT_ENABLED: return "TunnelingNotEnabled";
	case ZT_EC_INVALID_TERMINATOR: return "InvalidTerminator";
	case ZT_EC_INVALID_PRECEDENCE: return "InvalidPrecedence";
	case ZT_EC_INVALID_COST: return "InvalidCost";
	case ZT_EC_ENCRYPTION_DATA_MISSING: return "EncryptionDataMissing";
	default: return "unknown";
	}
}

/* the code of the StructuredError header's JSON, if it has one */
static bool structured_code(const struct zt_msg *m, uint32_t *code)
{
	const uint8_t *v;
	uint32_t len;
	struct json_tokener *tok;
	struct json_object *o, *c;
	bool ok = false;

	if (!zt_msg_hdr(m, ZT_H_STRUCTURED_ERROR, &v, &len) || !len || len > 4096)
		return false;
	tok = json_tokener_new();
	if (!tok)
		return false;
	o = json_tokener_parse_ex(tok, (const char *)v, (int)len);
	json_tokener_free(tok);
	if (o && json_object_object_get_ex(o, "code", &c) && json_object_is_type(c, json_type_int)) {
		int64_t n = json_object_get_int64(c);

		if (n > 0 && n <= UINT32_MAX) {
			*code = (uint32_t)n;
			ok = true;
		}
	}
	json_object_put(o);
	return ok;
}

/*
 * The controller's words when the API session token the router holds for our channel is no
 * longer good (v1.6.5 controller/env/appenv.go ValidateAccessToken: "access token has been
 * revoked by id"; the router relays the text without a code). It revokes a login's token at its
 * first refresh: a router that did not take the refreshed one (UpdateToken) keeps refusing
 * every dial and bind on the channel. Not "service access token ...": that is the Dial
 * session's (a new session mends it). An expired router copy ("token is expired", no "access
 * token" in the text) is not told apart from an expired Dial session and is not matched.
 */
static bool stale_token_text(const char *why)
{
	const char *p;

	if (!why || strcasestr(why, "service access token"))
		return false;
	p = strcasestr(why, "access token");
	return p && strcasestr(p, "revoked");
}

enum zt_edge_act zt_edge_err(const struct zt_msg *m, const char *why, struct zt_edge_err *e)
{
	memset(e, 0, sizeof(*e));
	if (zt_msg_hdr_u32(m, ZT_H_ERROR_CODE, &e->code) || structured_code(m, &e->code)) {
		e->has_code = true;
		snprintf(e->desc, sizeof(e->desc), "error code %u %s", e->code, zt_edge_err_name(e->code));
		if (e->code == ZT_EC_INTERNAL && stale_token_text(why)) /* the controller's error, relayed */
			return ZT_EDGE_STALE_TOKEN;
		switch (e->code) {
		case ZT_EC_INVALID_API_SESSION:
			return ZT_EDGE_NEW_API_SESSION;
		case ZT_EC_INVALID_SESSION:
		case ZT_EC_WRONG_SESSION_TYPE:
		case ZT_EC_INVALID_EDGE_ROUTER_FOR_SESSION:
			return ZT_EDGE_NEW_SESSION;
		case ZT_EC_INVALID_SERVICE:
			return ZT_EDGE_SERVICE_GONE;
		default:
			return ZT_EDGE_OTHER;
		}
	}
	snprintf(e->desc, sizeof(e->desc), "no error code");
	/* routers that send no code: their text (v1.6.x's messages) */
	if (why && strcasestr(why, "invalid api session"))
		return ZT_EDGE_NEW_API_SESSION;
	if (stale_token_text(why))
		return ZT_EDGE_STALE_TOKEN;
	if (why && (strcasestr(why, "invalid session") || strcasestr(why, "session closed")))
		return ZT_EDGE_NEW_SESSION;
	return ZT_EDGE_UNKNOWN;
}
