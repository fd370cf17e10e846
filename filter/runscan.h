/*
 * runscan.h - does a text hold long runs of the bytes numbers are written
 * with (the run gates of number patterns, rules/rx_factor.h)?
 */
#ifndef SLUICE_FILTER_RUNSCAN_H
#define SLUICE_FILTER_RUNSCAN_H

#include <stddef.h>

#include "rules/rx_factor.h"

/* Bit k set if s[0..n) holds want[k] (0: not asked) bytes in a row each
   of run class k (rx_run_byte). */
unsigned runscan_find(const unsigned char *s, size_t n,
    const unsigned want[RX_RUN_CLASSES]);

/* The same with at most a given instruction set (0: none, 1: SSE2, 2:
   AVX2 if the CPU has it), so that tests can compare them. */
unsigned runscan_find_isa(const unsigned char *s, size_t n,
    const unsigned want[RX_RUN_CLASSES], int isa);

#endif
