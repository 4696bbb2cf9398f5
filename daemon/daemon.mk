# SPDX-License-Identifier: GPL-2.0
# sipovld (included by the top-level Makefile).
#
#   $(O)/sipovld              the daemon                                       (USER_PROGS)
#   $(O)/san/sipovld          ASan/UBSan build used by the selftests           (TEST_BUILD)
#   $(O)/san/daemon-unit      parser unit tests (tests/daemon/run.sh)          (TEST_BUILD)
#   $(O)/fuzz/daemon-fuzz     libFuzzer target of the config/app_data parsers  (TEST_BUILD)
#   $(O)/san/dns-unit         DNS message unit tests (tests/daemon/run.sh)     (TEST_BUILD)
#   $(O)/fuzz/dns-fuzz        libFuzzer target of the DNS messages, the zone, (TEST_BUILD)
#                             the responder's handling of a query (dns_respond.c)
#                             and the saved name table (dns_zone_file.c)
#   $(O)/san/sip-unit         SIP/SDP parser and dialog tracker unit tests     (TEST_BUILD)
#   $(O)/fuzz/sip-fuzz        libFuzzer target of the SIP view                 (TEST_BUILD)
#   $(O)/san/rtpq-unit        RTP statistics unit tests (tests/daemon/run.sh)  (TEST_BUILD)
#   $(O)/fuzz/rtpq-fuzz       libFuzzer target of the RTP statistics            (TEST_BUILD)
#   $(O)/san/pool-unit        ip-pool allocator, lease file, pool service,     (TEST_BUILD)
#                             endpoint mode's templates and state file
#
# Links libsipovl ($(CTL_LIB), ctl/ctl.mk) for the kernel and libzt ($(ZT_LIB),
# daemon/ziti/ziti.mk) for Ziti. The configuration model daemon/cfg_*.c (cfg.h) is I/O free:
# the unit tests and the fuzzer link only it (and json-c).

# daemon/ziti/ziti.mk is included after this file: prerequisites name its files directly.
D_ZT_LIB := $(O)/libzt.a
D_ZT_HDRS := $(wildcard daemon/ziti/*.h)
D_ZT_SRCS := $(filter-out daemon/ziti/zt_tool%.c,$(wildcard daemon/ziti/zt_*.c))
D_CFG_SRCS := $(wildcard daemon/cfg_*.c) daemon/pool.c daemon/pool_msg.c
D_CFG_HDRS := daemon/cfg.h daemon/cfg_internal.h daemon/pool.h daemon/pool_int.h daemon/pool_store.h daemon/pool_writer.h daemon/errf.h
# The SIP view's I/O-free part (parsers, dialog tracker, a call's RTP): unit tests and fuzzer link only it.
D_SIP_SRCS := daemon/sip_msg.c daemon/sip_sdp.c daemon/calls.c daemon/call_rtp.c daemon/rtpq.c
D_SIP_HDRS := daemon/sip_msg.h daemon/sip_sdp.h daemon/calls.h daemon/call_rtp.h daemon/rtpq.h daemon/errf.h
D_HDRS := ctl/libsipovl_int.h ctl/request.h daemon/sipovld.h daemon/rtp_rxtime.h daemon/endpoint.h daemon/pool_check.h daemon/dns_msg.h daemon/dns_zone.h daemon/dns_zone_int.h daemon/dns_names_store.h daemon/dns_guard.h daemon/dns_respond.h daemon/dns_server.h daemon/rtpq.h daemon/metrics.h daemon/reqsrv.h daemon/workers.h \
	$(D_CFG_HDRS) $(D_SIP_HDRS) daemon/sip_view.h daemon/sip_view_int.h daemon/flows_int.h daemon/flows_pair.h ctl/libsipovl.h uapi/linux/sipovl.h $(D_ZT_HDRS)
D_SRCS := daemon/sipovld.c daemon/workers.c daemon/worker_names.c daemon/idents.c daemon/services.c daemon/kernel_table.c daemon/pool_server.c daemon/pool_excl.c daemon/endpoint.c daemon/endpoint_if.c daemon/pool_check.c daemon/pool_store.c daemon/pool_writer.c daemon/status.c daemon/primary.c daemon/control.c daemon/priv.c daemon/flows.c daemon/flows_udp.c daemon/flows_tcp.c daemon/flows_host.c \
	daemon/flows_intercept.c daemon/flows_pair.c daemon/flows_xpair.c daemon/flows_rtp.c daemon/rtp_rxtime.c daemon/metrics.c daemon/metrics_http.c daemon/reqsrv.c daemon/sip_view.c daemon/sip_view_json.c daemon/sip_view_workers.c \
	daemon/dns_msg.c daemon/dns_zone.c daemon/dns_zone_file.c daemon/dns_guard.c daemon/dns_respond.c daemon/dns_server.c daemon/dns_guard_if.c daemon/dns_names_store.c $(D_CFG_SRCS) $(D_SIP_SRCS)
D_VERSION := $(shell git -C $(TOP) describe --always --dirty 2>/dev/null || echo $(SIPOVL_RELEASE))
D_DEFS := -DSIPOVLD_VERSION='"$(D_VERSION)"'
D_LDLIBS = $(ZT_LDLIBS) $(CTL_LDLIBS) -lcap -pthread

USER_PROGS += $(O)/sipovld
TEST_BUILD += $(O)/sipovld $(O)/san/sipovld $(O)/san/daemon-unit $(O)/fuzz/daemon-fuzz
TEST_BUILD += $(O)/san/dns-unit $(O)/fuzz/dns-fuzz
TEST_BUILD += $(O)/san/rtpq-unit $(O)/fuzz/rtpq-fuzz
TEST_BUILD += $(O)/san/sip-unit $(O)/fuzz/sip-fuzz
TEST_BUILD += $(O)/san/pool-unit

$(O)/sipovld: $(D_SRCS) $(D_HDRS) $(CTL_LIB) $(D_ZT_LIB)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(ZT_CFLAGS) $(CTL_CFLAGS) $(D_DEFS) $(D_SRCS) -o $@ $(LDFLAGS) $(D_ZT_LIB) $(CTL_LIB) $(D_LDLIBS)

# Sanitizer build: the libraries are compiled in, instrumented too.
$(O)/san/sipovld: $(D_SRCS) $(D_HDRS) $(D_ZT_SRCS) $(CTL_LIB_SRCS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $(ZT_CFLAGS) $(CTL_CFLAGS) $(D_DEFS) $(D_SRCS) $(D_ZT_SRCS) \
		$(CTL_LIB_SRCS) -o $@ $(D_LDLIBS)

$(O)/san/daemon-unit: tests/daemon/unit.c tests/daemon/tap.h $(D_CFG_SRCS) $(D_CFG_HDRS) daemon/flows_pair.c daemon/flows_pair.h ctl/objects.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $(ZT_CFLAGS) tests/daemon/unit.c $(D_CFG_SRCS) daemon/flows_pair.c ctl/objects.c \
		-o $@ $(ZT_LDLIBS)

$(O)/fuzz/daemon-fuzz: tests/daemon/fuzz.c $(D_CFG_SRCS) $(D_CFG_HDRS) ctl/objects.c
	@mkdir -p $(@D)
	if command -v clang >/dev/null 2>&1; then \
		clang $(CSTD) $(WARN) -O1 -g -I$(TOP)/uapi -I$(TOP) $(ZT_CFLAGS) \
			-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
			tests/daemon/fuzz.c $(D_CFG_SRCS) ctl/objects.c -o $@ $(ZT_LDLIBS); \
	else \
		printf '#!/bin/sh\necho "daemon-fuzz: clang not installed" >&2\nexit 77\n' >$@; \
		chmod +x $@; \
	fi

# The DNS responder's message code (daemon/dns_msg.c) is I/O free like the configuration model.
D_DNS_MSG := daemon/dns_msg.c daemon/dns_msg.h
D_DNS_ZONE := daemon/dns_zone.c daemon/dns_zone_file.c daemon/dns_zone.h daemon/dns_zone_int.h
# who is answered and how often (dns_guard.c), and a query into its answer (dns_respond.c): I/O free too
D_DNS_RESP := daemon/dns_guard.c daemon/dns_guard.h daemon/dns_respond.c daemon/dns_respond.h
$(O)/san/dns-unit: tests/daemon/dns_unit.c tests/daemon/dns_names_unit.h tests/daemon/dns_guard_unit.h tests/daemon/tap.h \
		$(D_DNS_MSG) $(D_DNS_ZONE) $(D_DNS_RESP) $(D_CFG_SRCS) $(D_CFG_HDRS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $(ZT_CFLAGS) tests/daemon/dns_unit.c daemon/dns_msg.c daemon/dns_zone.c \
		daemon/dns_zone_file.c daemon/dns_guard.c daemon/dns_respond.c $(D_CFG_SRCS) ctl/objects.c -o $@ $(ZT_LDLIBS)

$(O)/fuzz/dns-fuzz: tests/daemon/dns_fuzz.c $(D_DNS_MSG) $(D_DNS_ZONE) $(D_DNS_RESP)
	@mkdir -p $(@D)
	if command -v clang >/dev/null 2>&1; then \
		clang $(CSTD) $(WARN) -O1 -g -I$(TOP)/uapi -I$(TOP) \
			-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
			tests/daemon/dns_fuzz.c daemon/dns_msg.c daemon/dns_zone.c daemon/dns_zone_file.c daemon/dns_guard.c \
				daemon/dns_respond.c -o $@; \
	else \
		printf '#!/bin/sh\necho "dns-fuzz: clang not installed" >&2\nexit 77\n' >$@; \
		chmod +x $@; \
	fi

$(O)/san/sip-unit: tests/daemon/sip_unit.c tests/daemon/tap.h tests/daemon/sip_msgs.h $(D_SIP_SRCS) $(D_SIP_HDRS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) tests/daemon/sip_unit.c $(D_SIP_SRCS) -o $@ -lm

$(O)/fuzz/sip-fuzz: tests/daemon/sip_fuzz.c $(D_SIP_SRCS) $(D_SIP_HDRS)
	@mkdir -p $(@D)
	if command -v clang >/dev/null 2>&1; then \
		clang $(CSTD) $(WARN) -O1 -g -I$(TOP)/uapi -I$(TOP) \
			-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
			tests/daemon/sip_fuzz.c $(D_SIP_SRCS) -o $@; \
	else \
		printf '#!/bin/sh\necho "sip-fuzz: clang not installed" >&2\nexit 77\n' >$@; \
		chmod +x $@; \
	fi

# RTP statistics (daemon/rtpq.c, I/O free): unit tests and fuzzer link only it.
$(O)/san/rtpq-unit: tests/daemon/rtpq_unit.c tests/daemon/tap.h daemon/rtpq.c daemon/rtpq.h daemon/rtp_rxtime.c \
		daemon/rtp_rxtime.h daemon/ziti/zt_loop.c daemon/ziti/zt_loop.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) tests/daemon/rtpq_unit.c daemon/rtpq.c daemon/rtp_rxtime.c daemon/ziti/zt_loop.c \
		-o $@ -lm

$(O)/fuzz/rtpq-fuzz: tests/daemon/rtpq_fuzz.c daemon/rtpq.c daemon/rtpq.h
	@mkdir -p $(@D)
	if command -v clang >/dev/null 2>&1; then \
		clang $(CSTD) $(WARN) -O1 -g -I$(TOP) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
			tests/daemon/rtpq_fuzz.c daemon/rtpq.c -o $@; \
	else \
		printf '#!/bin/sh\necho "rtpq-fuzz: clang not installed" >&2\nexit 77\n' >$@; \
		chmod +x $@; \
	fi

# The ip-pool (daemon/pool.c, I/O free) and its lease file (pool_store.c): unit tests.
$(O)/san/pool-unit: tests/daemon/pool_unit.c tests/daemon/endpoint_unit.h tests/daemon/tap.h daemon/pool_store.c \
		daemon/pool_store.h daemon/pool_writer.c daemon/pool_writer.h daemon/ziti/zt_loop.c \
		$(D_CFG_SRCS) $(D_CFG_HDRS) ctl/objects.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $(ZT_CFLAGS) tests/daemon/pool_unit.c daemon/pool_store.c \
		daemon/pool_writer.c daemon/ziti/zt_loop.c $(D_CFG_SRCS) ctl/objects.c -o $@ $(ZT_LDLIBS) -lpthread

.PHONY: daemon-check
daemon-check: $(O)/sipovld $(O)/san/sipovld $(O)/san/daemon-unit $(O)/fuzz/daemon-fuzz $(O)/san/dns-unit $(O)/fuzz/dns-fuzz \
	$(O)/san/sip-unit $(O)/fuzz/sip-fuzz \
	$(O)/san/rtpq-unit $(O)/fuzz/rtpq-fuzz $(O)/san/pool-unit
	tests/daemon/run.sh

# The VM selftest's Ziti network, provisioned on the host once (tests/daemon/vmnet.sh says
# why). Needs root and the ziti test binary; without them the selftest bails out saying so.
TEST_BUILD += $(O)/daemon-zitinet.tar.gz
$(O)/daemon-zitinet.tar.gz: tests/daemon/vmnet.sh
	@mkdir -p $(@D)
	tests/daemon/vmnet.sh prepare $@ || echo "warning: $@ not built: the sipovld VM selftest will bail out" >&2
# The same services on a three-controller cluster (selftests/sipovl/daemon-ha.sh). Not in
# TEST_BUILD: the file is not in make check's VM list yet (SIPOVL_VM_EXCLUDE), and the
# cluster's provisioning costs 90 s or more; `make daemon-ha-net` builds it.
.PHONY: daemon-ha-net
daemon-ha-net: $(O)/daemon-zitinet-ha.tar.gz
$(O)/daemon-zitinet-ha.tar.gz: tests/daemon/vmnet.sh
	@mkdir -p $(@D)
	tests/daemon/vmnet.sh prepare-ha $@ || echo "warning: $@ not built: the sipovld HA VM selftest will bail out" >&2
