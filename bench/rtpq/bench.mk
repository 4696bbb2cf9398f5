# SPDX-License-Identifier: GPL-2.0
# RTP statistics benchmark (bench/rtpq/run.sh): -O2 -g as sipovld.
$(O)/bench/rtpq: bench/rtpq/bench.c daemon/rtpq.c daemon/rtpq.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -o $@ bench/rtpq/bench.c daemon/rtpq.c

BENCH_BUILD += $(O)/bench/rtpq

.PHONY: rtpq-bench
rtpq-bench: $(O)/bench/rtpq
