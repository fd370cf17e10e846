/*
 * runscan.c - does a text hold long runs of the bytes numbers are written
 * with? The question the run gates ask before a number pattern's
 * prefilter (rules/rx_factor.h, rx_run_of; docs/matching.md,
 * "Prefilters"), for both run classes in one pass over the bytes, with
 * AVX2 where the CPU has it, else SSE2.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "filter/runscan.h"

/*
 * Sixty-four bytes give one bit mask per class; a run inside it is found
 * by and-ing the mask with itself shifted (runs of 2, 4, 8, then want;
 * most masks of text hold no run of 2 and stop there), and runs across
 * masks are carried in *cur. Returns 1 once a run of
 * want (>= 1) is found.
 */
static inline __attribute__((always_inline)) int mask_step(uint64_t m,
    unsigned want, size_t *cur)
{
    uint64_t r = m;
    unsigned have = 1;               /* bit j of r: `have` ones from j on */
    if (m == ~(uint64_t)0)
        return (*cur += 64) >= want;
    if (*cur + (size_t)__builtin_ctzll(~m) >= want)
        return 1;
    if (want >= 2) {
        r &= r >> 1;
        have = 2;
        if (r == 0) {                /* no two in a row (prose's spaces):
                                        only the carry is left to find */
            *cur = (size_t)__builtin_clzll(~m);
            return 0;
        }
    }
    if (want >= 8) {
        r &= r >> 2;
        r &= r >> 4;
        have = 8;
    } else {
        for (; have * 2 <= want; have *= 2)
            r &= r >> have;
    }
    if (want > have && want - have <= have)
        r &= r >> (want - have);
    else
        for (unsigned k = have; k < want && k < 64; k++)
            r &= m >> k;
    if (r != 0 && want <= 64)
        return 1;
    *cur = (size_t)__builtin_clzll(~m);
    return 0;
}

/*
 * The classes still asked for after a 64-byte block's masks m0, m1; c0, c1
 * the runs reaching the block. Both classes by name, not in a loop over
 * arrays: the loop kept the runs in memory (150 instructions a block).
 */
_Static_assert(RX_RUN_CLASSES == 2, "block_step names both classes");

static inline __attribute__((always_inline)) unsigned block_step(
    uint64_t m0, uint64_t m1, const unsigned *want, size_t *c0, size_t *c1,
    unsigned ask)
{
    if ((m0 | m1) == 0) {                /* most blocks of Chinese text */
        *c0 = *c1 = 0;
        return ask;
    }
    if ((ask & 1u) && mask_step(m0, want[RX_RUN_NUMBER], c0))
        ask &= ~1u;
    if ((ask & 2u) && mask_step(m1, want[RX_RUN_DOTTED], c1))
        ask &= ~2u;
    return ask;
}

/* Byte by byte, from s[i] on, with the runs reaching it in cur[]. */
static unsigned run_tail(const unsigned char *s, size_t i, size_t n,
    const unsigned *want, size_t *cur, unsigned ask)
{
    for (; i < n && ask != 0; i++)
        for (int k = 0; k < RX_RUN_CLASSES; k++) {
            cur[k] = rx_run_byte(k, s[i]) ? cur[k] + 1 : 0;
            if ((ask >> k & 1) && cur[k] >= want[k])
                ask &= ~(1u << k);
        }
    return ask;
}

/*
 * The last n (< 64) bytes in a 64-byte block padded with zeros, which
 * are in no class: the runs they end are exactly the text's.
 */
static const unsigned char *pad_tail(unsigned char *pad,
    const unsigned char *s, size_t n)
{
    memcpy(pad, s, n);
    memset(pad + n, 0, 64 - n);
    return pad;
}

static unsigned asked(const unsigned *want)
{
    unsigned ask = 0;
    for (int k = 0; k < RX_RUN_CLASSES; k++)
        if (want[k] != 0)
            ask |= 1u << k;
    return ask;
}

/* The two class masks of a 64-byte block: numbers, dotted. */
typedef void (*block_masks_fn)(const unsigned char *b, uint64_t *mn,
    uint64_t *md);

/*
 * The scan over 64-byte blocks, the last one padded, whatever builds the
 * masks: inlined into each instruction set's finder, its masks with it.
 */
static inline __attribute__((always_inline)) unsigned find_blocks(
    const unsigned char *s, size_t n, const unsigned *want,
    block_masks_fn masks)
{
    size_t i = 0, c0 = 0, c1 = 0;
    unsigned ask = asked(want), all = ask;
    unsigned char pad[64];
    for (; i < n && ask != 0; i += 64) {
        uint64_t mn, md;
        const unsigned char *b = s + i;
        if (n - i < 64)
            b = pad_tail(pad, s + i, n - i);
        masks(b, &mn, &md);
        ask = block_step(mn, md, want, &c0, &c1, ask);
    }
    return all & ~ask;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"), always_inline))
static inline void masks_avx2(const unsigned char *b, uint64_t *mn,
    uint64_t *md)
{
    const __m256i zero = _mm256_set1_epi8('0'), nine = _mm256_set1_epi8(9),
        sp = _mm256_set1_epi8(' '), hy = _mm256_set1_epi8('-'),
        dot = _mm256_set1_epi8('.');
    __m256i x0 = _mm256_loadu_si256((const __m256i *)b);
    __m256i x1 = _mm256_loadu_si256((const __m256i *)(b + 32));
    __m256i d0 = _mm256_sub_epi8(x0, zero), d1 = _mm256_sub_epi8(x1, zero);
    __m256i g0 = _mm256_cmpeq_epi8(_mm256_min_epu8(d0, nine), d0);
    __m256i g1 = _mm256_cmpeq_epi8(_mm256_min_epu8(d1, nine), d1);
    __m256i n0 = _mm256_or_si256(g0, _mm256_or_si256(
        _mm256_cmpeq_epi8(x0, sp), _mm256_cmpeq_epi8(x0, hy)));
    __m256i n1 = _mm256_or_si256(g1, _mm256_or_si256(
        _mm256_cmpeq_epi8(x1, sp), _mm256_cmpeq_epi8(x1, hy)));
    __m256i t0 = _mm256_or_si256(g0, _mm256_cmpeq_epi8(x0, dot));
    __m256i t1 = _mm256_or_si256(g1, _mm256_cmpeq_epi8(x1, dot));
    *mn = (uint64_t)(uint32_t)_mm256_movemask_epi8(n0) |
        (uint64_t)(uint32_t)_mm256_movemask_epi8(n1) << 32;
    *md = (uint64_t)(uint32_t)_mm256_movemask_epi8(t0) |
        (uint64_t)(uint32_t)_mm256_movemask_epi8(t1) << 32;
}

__attribute__((target("avx2")))
static unsigned find_avx2(const unsigned char *s, size_t n,
    const unsigned *want)
{
    return find_blocks(s, n, want, masks_avx2);
}
#endif

#if defined(__SSE2__)
static inline __attribute__((always_inline)) void masks_sse2(
    const unsigned char *b, uint64_t *mn, uint64_t *md)
{
    const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9),
        sp = _mm_set1_epi8(' '), hy = _mm_set1_epi8('-'),
        dot = _mm_set1_epi8('.');
    *mn = *md = 0;
    for (int k = 0; k < 4; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(b + 16 * k));
        __m128i d = _mm_sub_epi8(x, zero);
        __m128i dg = _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d);
        __m128i num = _mm_or_si128(dg, _mm_or_si128(
            _mm_cmpeq_epi8(x, sp), _mm_cmpeq_epi8(x, hy)));
        __m128i dtd = _mm_or_si128(dg, _mm_cmpeq_epi8(x, dot));
        *mn |= (uint64_t)(unsigned)_mm_movemask_epi8(num) << (16 * k);
        *md |= (uint64_t)(unsigned)_mm_movemask_epi8(dtd) << (16 * k);
    }
}

static unsigned find_sse2(const unsigned char *s, size_t n,
    const unsigned *want)
{
    return find_blocks(s, n, want, masks_sse2);
}
#endif

unsigned runscan_find_isa(const unsigned char *s, size_t n,
    const unsigned want[RX_RUN_CLASSES], int isa)
{
    size_t cur[RX_RUN_CLASSES] = { 0 };
    unsigned all = asked(want);
#if defined(__x86_64__) && defined(__GNUC__)
    if (isa >= 2 && __builtin_cpu_supports("avx2"))
        return find_avx2(s, n, want);
#endif
#if defined(__SSE2__)
    if (isa >= 1)
        return find_sse2(s, n, want);
#endif
    return all & ~run_tail(s, 0, n, want, cur, all);
}

unsigned runscan_find(const unsigned char *s, size_t n,
    const unsigned want[RX_RUN_CLASSES])
{
    return runscan_find_isa(s, n, want, 2);
}
