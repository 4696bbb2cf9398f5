# SPDX-License-Identifier: GPL-2.0
# Ziti client benchmark (bench/ziti/run.sh): our tunneler over libzt.a and the load
# generator/sink, built into $(O)/bench/.
ZB_BENCH := $(O)/bench

$(ZB_BENCH)/zt-tunnel: bench/ziti/zt-tunnel.c $(ZT_LIB) $(ZT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(ZT_CFLAGS) -o $@ $< $(ZT_LIB) $(ZT_LDLIBS)

$(ZB_BENCH)/zt-load: bench/ziti/load.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -o $@ $< -lpthread

BENCH_BUILD += $(ZB_BENCH)/zt-tunnel $(ZB_BENCH)/zt-load

.PHONY: ziti-bench
ziti-bench: $(ZB_BENCH)/zt-tunnel $(ZB_BENCH)/zt-load

# the ceiling of the host-level packet benchmark (bench/ziti/hostpps.sh)
$(ZB_BENCH)/zt-relay: bench/ziti/relay.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(ZT_CFLAGS) -o $@ $< $(ZT_LDLIBS)

BENCH_BUILD += $(ZB_BENCH)/zt-relay
ziti-bench: $(ZB_BENCH)/zt-relay
