include $(wildcard bench/*/bench.mk)
