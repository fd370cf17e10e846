/*
 * runscan.h - does a text hold a long run of digits, spaces and hyphens
 * (the run gates of number patterns, rules/rx_factor.h)?
 */
#ifndef SLUICE_FILTER_RUNSCAN_H
#define SLUICE_FILTER_RUNSCAN_H

#include <stddef.h>

/* 1 if s[0..n) holds `want` (>= 8) consecutive bytes each a digit, a
   space or '-'; else 0. */
int runscan_has(const unsigned char *s, size_t n, unsigned want);

/* The same with at most a given instruction set (0: none, 1: SSE2, 2:
   AVX2 if the CPU has it), so that tests can compare them. */
int runscan_has_isa(const unsigned char *s, size_t n, unsigned want,
    int isa);

#endif
