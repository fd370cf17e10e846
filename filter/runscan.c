/*
 * runscan.c - does a text hold a long run of digits, spaces and hyphens?
 * The question a run gate asks before a number pattern's prefilter
 * (rules/rx_factor.h, rx_run_of; docs/matching.md, "Prefilters"). One
 * pass over the bytes, with AVX2 where the CPU has it, else SSE2.
 */
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "filter/runscan.h"

static inline int run_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || c == ' ' || c == '-';
}

/*
 * Sixty-four bytes give one bit mask; a run inside it is found by and-ing
 * the mask with itself shifted (runs of 2, 4, 8, then want), and runs
 * across masks are carried in *cur. mask_step returns 1 once a run is
 * found.
 */
static inline __attribute__((always_inline)) int mask_step(uint64_t m,
    unsigned want, size_t *cur)
{
    uint64_t r;
    if (m == ~(uint64_t)0)
        return (*cur += 64) >= want;
    if (*cur + (size_t)__builtin_ctzll(~m) >= want)
        return 1;
    r = m & m >> 1;
    r &= r >> 2;
    r &= r >> 4;                     /* bit j: eight ones from j on */
    if (want <= 16)
        r &= r >> (want - 8);
    else
        for (unsigned k = 8; k < want && k < 64; k++)
            r &= m >> k;
    if (r != 0 && want <= 64)
        return 1;
    *cur = (size_t)__builtin_clzll(~m);
    return 0;
}

static int run_tail(const unsigned char *s, size_t i, size_t n,
    unsigned want, size_t cur)
{
    for (; i < n; i++) {
        cur = run_byte(s[i]) ? cur + 1 : 0;
        if (cur >= want)
            return 1;
    }
    return 0;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2")))
static int runscan_avx2(const unsigned char *s, size_t n, unsigned want)
{
    size_t i = 0, cur = 0;
    const __m256i zero = _mm256_set1_epi8('0'), nine = _mm256_set1_epi8(9),
        sp = _mm256_set1_epi8(' '), hy = _mm256_set1_epi8('-');
    for (; n - i >= 64; i += 64) {
        uint64_t m = 0;
        for (int k = 0; k < 2; k++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(s + i + 32 * k));
            __m256i d = _mm256_sub_epi8(x, zero);
            __m256i in = _mm256_or_si256(
                _mm256_cmpeq_epi8(_mm256_min_epu8(d, nine), d),
                _mm256_or_si256(_mm256_cmpeq_epi8(x, sp),
                    _mm256_cmpeq_epi8(x, hy)));
            m |= (uint64_t)(uint32_t)_mm256_movemask_epi8(in) << (32 * k);
        }
        if (mask_step(m, want, &cur))
            return 1;
    }
    return run_tail(s, i, n, want, cur);
}
#endif

#if defined(__SSE2__)
static int runscan_sse2(const unsigned char *s, size_t n, unsigned want)
{
    size_t i = 0, cur = 0;
    const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9),
        sp = _mm_set1_epi8(' '), hy = _mm_set1_epi8('-');
    for (; n - i >= 64; i += 64) {
        uint64_t m = 0;
        for (int k = 0; k < 4; k++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(s + i + 16 * k));
            __m128i d = _mm_sub_epi8(x, zero);
            __m128i in = _mm_or_si128(
                _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d),
                _mm_or_si128(_mm_cmpeq_epi8(x, sp), _mm_cmpeq_epi8(x, hy)));
            m |= (uint64_t)(unsigned)_mm_movemask_epi8(in) << (16 * k);
        }
        if (mask_step(m, want, &cur))
            return 1;
    }
    return run_tail(s, i, n, want, cur);
}
#endif

int runscan_has_isa(const unsigned char *s, size_t n, unsigned want,
    int isa)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (isa >= 2 && __builtin_cpu_supports("avx2"))
        return runscan_avx2(s, n, want);
#endif
#if defined(__SSE2__)
    if (isa >= 1)
        return runscan_sse2(s, n, want);
#endif
    return run_tail(s, 0, n, want, 0);
}

int runscan_has(const unsigned char *s, size_t n, unsigned want)
{
    return runscan_has_isa(s, n, want, 2);
}
