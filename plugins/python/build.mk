# plugins/python/build.mk - make fragment of the Python binding (included by
# the top Makefile). The binding is pure Python: nothing is added to
# UNIT_EXTRA, so `make unit` builds nothing for it; its tests run from
# tests/integration/30-python.sh in `make test`.
#
#   make python-bench    the C loop of bench/python_bench.py, then the
#                        benchmark: Python's cost per check against C's

PY_BENCH_C = $(BUILD)/python/check_loop

$(PY_BENCH_C): plugins/python/bench/check_loop.c include/sluice.h $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libsluice.a $(LDLIBS_ALL)

python-bench: all $(PY_BENCH_C)
	nice /usr/bin/python3 bench/python_bench.py --build $(BUILD)

.PHONY: python-bench
