/*
 * sha256.c - SHA-256 with the x86 SHA extensions (SHA-NI), falling back to
 * libsodium's portable implementation.
 *
 * Why: verifying a ledger hashes every record and about one Merkle node
 * per record; libsodium's portable SHA-256 tops out near 400k records/s,
 * the SHA extensions give several times that (docs/ledger.md, bench).
 *
 * Design: the dispatch asks the CPU-feature data libgcc keeps
 * (__builtin_cpu_supports) on every call: a load and a bit test, and no
 * state of our own. The block function is the well-known four-rounds-per-
 * step SHA-NI schedule (Intel's reference, as in the Linux kernel), written
 * as a loop over the 16 steps with the message words kept in four rotating
 * registers. Padding and the final block are done here, byte-exact to
 * FIPS 180-4.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "ledger/sha256.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_SHANI 1
#include <immintrin.h>
#endif


#ifdef HAVE_SHANI

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

typedef struct ni_ctx {
    uint32_t h[8];
    unsigned char buf[64];
    size_t buflen;
    uint64_t total;
} ni_ctx;

/* Process `blocks` 64-byte blocks of `data` into state h. */
__attribute__((target("sha,sse4.1,ssse3")))
static void ni_blocks(uint32_t h[8], const unsigned char *data, size_t blocks)
{
    const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
        0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);
    __m128i st1 = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);           /* CDAB */
    st1 = _mm_shuffle_epi32(st1, 0x1B);           /* EFGH */
    __m128i st0 = _mm_alignr_epi8(tmp, st1, 8);   /* ABEF */
    st1 = _mm_blend_epi16(st1, tmp, 0xF0);        /* CDGH */

    while (blocks-- > 0) {
        __m128i abef = st0, cdgh = st1, w[4], msg;
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            if (i < 4)
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128(
                    (const __m128i *)(const void *)(data + 16 * i)), mask);
            msg = _mm_add_epi32(w[i & 3], _mm_loadu_si128(
                (const __m128i *)(const void *)&K256[4 * i]));
            st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
            if (i >= 3 && i <= 14) {
                __m128i t = _mm_alignr_epi8(w[i & 3], w[(i + 3) & 3], 4);
                w[(i + 1) & 3] = _mm_add_epi32(w[(i + 1) & 3], t);
                w[(i + 1) & 3] = _mm_sha256msg2_epu32(w[(i + 1) & 3],
                    w[i & 3]);
            }
            msg = _mm_shuffle_epi32(msg, 0x0E);
            st0 = _mm_sha256rnds2_epu32(st0, st1, msg);
            if (i >= 1 && i <= 12)
                w[(i + 3) & 3] = _mm_sha256msg1_epu32(w[(i + 3) & 3],
                    w[i & 3]);
        }
        st0 = _mm_add_epi32(st0, abef);
        st1 = _mm_add_epi32(st1, cdgh);
        data += 64;
    }

    tmp = _mm_shuffle_epi32(st0, 0x1B);           /* FEBA */
    st1 = _mm_shuffle_epi32(st1, 0xB1);           /* DCHG */
    st0 = _mm_blend_epi16(tmp, st1, 0xF0);        /* DCBA */
    st1 = _mm_alignr_epi8(st1, tmp, 8);           /* ABEF */
    _mm_storeu_si128((__m128i *)(void *)&h[0], st0);
    _mm_storeu_si128((__m128i *)(void *)&h[4], st1);
}

static void ni_init(ni_ctx *c)
{
    static const uint32_t iv[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    memcpy(c->h, iv, sizeof iv);
    c->buflen = 0;
    c->total = 0;
}

static void ni_update(ni_ctx *c, const unsigned char *p, size_t n)
{
    c->total += n;
    if (c->buflen > 0) {
        size_t take = 64 - c->buflen < n ? 64 - c->buflen : n;
        memcpy(c->buf + c->buflen, p, take);
        c->buflen += take;
        p += take;
        n -= take;
        if (c->buflen < 64)
            return;
        ni_blocks(c->h, c->buf, 1);
        c->buflen = 0;
    }
    if (n >= 64) {
        ni_blocks(c->h, p, n / 64);
        p += n & ~(size_t)63;
        n &= 63;
    }
    if (n > 0)
        memcpy(c->buf, p, n);
    c->buflen = n;
}

static void ni_final(ni_ctx *c, unsigned char out[SHA256_BYTES])
{
    unsigned char pad[128];
    uint64_t bits = c->total * 8;
    size_t n = c->buflen;
    size_t padlen = n < 56 ? 64 : 128;
    memcpy(pad, c->buf, n);
    memset(pad + n, 0, padlen - n);
    pad[n] = 0x80;
    for (int i = 0; i < 8; i++)
        pad[padlen - 1 - i] = (unsigned char)(bits >> (8 * i));
    ni_blocks(c->h, pad, padlen / 64);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

int ledger_sha256_accelerated(void)
{
    return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1")
        && __builtin_cpu_supports("ssse3");
}

#else

int ledger_sha256_accelerated(void)
{
    return 0;
}

#endif

void ledger_sha256_2(unsigned char out[SHA256_BYTES], const void *a,
    size_t alen, const void *b, size_t blen)
{
#ifdef HAVE_SHANI
    if (ledger_sha256_accelerated()) {
        ni_ctx c;
        ni_init(&c);
        ni_update(&c, a, alen);
        ni_update(&c, b, blen);
        ni_final(&c, out);
        return;
    }
#endif
    crypto_hash_sha256_state st;
    (void)crypto_hash_sha256_init(&st);
    (void)crypto_hash_sha256_update(&st, a, alen);
    (void)crypto_hash_sha256_update(&st, b, blen);
    (void)crypto_hash_sha256_final(&st, out);
}

void ledger_sha256(unsigned char out[SHA256_BYTES], const void *in, size_t len)
{
#ifdef HAVE_SHANI
    if (ledger_sha256_accelerated()) {
        ni_ctx c;
        ni_init(&c);
        ni_update(&c, in, len);
        ni_final(&c, out);
        return;
    }
#endif
    (void)crypto_hash_sha256(out, in, len);
}
