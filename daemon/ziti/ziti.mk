# SPDX-License-Identifier: GPL-2.0
# Native OpenZiti edge client (included by the top-level Makefile).
#
#   $(O)/libzt.a              the client library (sipovld links it)        (USER_PROGS)
#   $(O)/zt-tool              dial/host/probe CLI used by tests/ziti         (TEST_BUILD)
#   $(O)/san/zt-tool          ASan/UBSan build of zt-tool                    (TEST_BUILD)
#   $(O)/san/zt-unit          message codec / dispatcher unit tests (ASan)   (TEST_BUILD)
#   $(O)/fuzz/zt-fuzz         libFuzzer target of the channel/edge parser    (TEST_BUILD)
#   $(O)/slowfsync.so         LD_PRELOAD slow disk for tests/ziti/auth.sh    (TEST_BUILD)
#
# Daemon code includes "daemon/ziti/zt.h" and links $(ZT_LIB) $(ZT_LDLIBS).

ZT_PKGS := openssl libsodium json-c libcares libcurl
ZT_CFLAGS := $(shell pkg-config --cflags $(ZT_PKGS) 2>/dev/null)
ZT_LDLIBS := $(shell pkg-config --libs $(ZT_PKGS) 2>/dev/null || echo -lssl -lcrypto -lsodium -ljson-c -lcares -lcurl)
ZT_LIB := $(O)/libzt.a
ZT_CLANG ?= clang

ZT_HDRS := daemon/ziti/zt.h daemon/ziti/zt_internal.h daemon/ziti/zt_msg.h daemon/ziti/zt_loop.h \
	daemon/ziti/zt_resolve.h
ZT_SRCS := daemon/ziti/zt_msg.c daemon/ziti/zt_loop.c daemon/ziti/zt_identity.c daemon/ziti/zt_curl.c daemon/ziti/zt_oidc.c \
	daemon/ziti/zt_ctrls.c daemon/ziti/zt_idapis.c daemon/ziti/zt_tlserr.c daemon/ziti/zt_ctx.c daemon/ziti/zt_session.c daemon/ziti/zt_services.c daemon/ziti/zt_chan.c \
	daemon/ziti/zt_dispatch.c daemon/ziti/zt_conn.c daemon/ziti/zt_host.c daemon/ziti/zt_router.c daemon/ziti/zt_resolve.c \
	daemon/ziti/zt_connect.c daemon/ziti/zt_pki.c daemon/ziti/zt_renew.c daemon/ziti/zt_enroll.c daemon/ziti/zt_sched.c \
	daemon/ziti/zt_health.c daemon/ziti/zt_posture.c daemon/ziti/zt_posture_proc.c daemon/ziti/zt_edgeerr.c \
	daemon/ziti/zt_terms.c
ZT_OBJS := $(patsubst daemon/ziti/%.c,$(O)/ziti/%.o,$(ZT_SRCS))

USER_PROGS += $(ZT_LIB)
TEST_BUILD += $(O)/zt-tool $(O)/san/zt-tool $(O)/san/zt-unit $(O)/fuzz/zt-fuzz $(O)/slowfsync.so

$(O)/ziti/%.o: daemon/ziti/%.c $(ZT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(ZT_CFLAGS) -c $< -o $@

$(ZT_LIB): $(ZT_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

ZT_TOOL_SRCS := daemon/ziti/zt_tool.c daemon/ziti/zt_tool_dial.c daemon/ziti/zt_tool_host.c daemon/ziti/zt_tool_probe.c \
	daemon/ziti/zt_tool_request.c

$(O)/zt-tool: $(ZT_TOOL_SRCS) daemon/ziti/zt_tool.h daemon/ziti/zt_tool_request.h $(ZT_LIB) $(ZT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(ZT_CFLAGS) $(ZT_TOOL_SRCS) -o $@ $(ZT_LIB) $(ZT_LDLIBS)

$(O)/san/zt-tool: $(ZT_TOOL_SRCS) daemon/ziti/zt_tool.h daemon/ziti/zt_tool_request.h $(ZT_SRCS) $(ZT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $(ZT_CFLAGS) $(ZT_TOOL_SRCS) $(ZT_SRCS) -o $@ $(ZT_LDLIBS)

# unit_ctrl.c stands in for the controller: it wraps the HTTP client's entry points.
ZT_UNIT_SRCS := tests/ziti/unit.c tests/ziti/unit_ctrl.c tests/ziti/unit_apis.c tests/ziti/unit_ctrls.c tests/ziti/unit_chan.c \
	tests/ziti/unit_files.c tests/ziti/unit_posture.c tests/ziti/unit_posture_proc.c tests/ziti/unit_posture_ctrl.c tests/ziti/unit_curl.c \
	tests/ziti/unit_oidc.c tests/ziti/unit_errcode.c tests/ziti/unit_terms.c
$(O)/san/zt-unit: $(ZT_UNIT_SRCS) tests/ziti/unit_ctrl.h $(ZT_SRCS) $(ZT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $(ZT_CFLAGS) $(ZT_UNIT_SRCS) $(ZT_SRCS) -o $@ \
		-Wl,--wrap=zt_http_request,--wrap=zt_http_request_ex,--wrap=zt_http_cancel \
		-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=clock_gettime $(ZT_LDLIBS)

# LD_PRELOAD for tests/ziti/auth.sh: a slow fsync(2) of *.tmp files
$(O)/slowfsync.so: tests/ziti/slowfsync.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -fPIC -shared $< -o $@

# The parser is I/O free: the fuzz target links only zt_msg.c.
$(O)/fuzz/zt-fuzz: tests/ziti/fuzz.c daemon/ziti/zt_msg.c daemon/ziti/zt_msg.h
	@mkdir -p $(@D)
	$(ZT_CLANG) $(CSTD) $(WARN) -O1 -g -I$(TOP)/uapi -I$(TOP) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		tests/ziti/fuzz.c daemon/ziti/zt_msg.c -o $@

.PHONY: ziti-tests
ziti-tests: $(O)/zt-tool $(O)/san/zt-tool $(O)/san/zt-unit $(O)/fuzz/zt-fuzz $(O)/slowfsync.so
