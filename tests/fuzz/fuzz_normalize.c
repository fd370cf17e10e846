/*
 * fuzz_normalize.c - libFuzzer target for the normalizer (filter/normalize.h).
 *
 * Input: one byte of NORM_* flags (the low 7 bits), one byte seeding the
 * chunking, then the text. Each run checks, against the input:
 *
 *   - the output is well-formed UTF-8 and every array has one entry per
 *     output byte;
 *   - the offset map: every entry's source [src, src_end) is a non-empty
 *     range inside the input, sources never go backwards, every byte of a
 *     code point shares its code point's source, and normalizing that
 *     source range alone (ranges that overlap taken together) gives the
 *     same bytes: the map points at the bytes that made the output, not
 *     merely somewhere near them;
 *   - run is 1 without NORM_REPEAT, gap is 0 without NORM_SKIP_NOISE
 *     (NORM_GAP_START aside);
 *   - feeding the text in random chunks (cut anywhere) gives exactly the
 *     whole-text result, arrays included, and so does a nonzero base
 *     offset, shifted;
 *   - the lazy form has the same text, and norm_window_cover() (one
 *     window that grows or restarts as random entries are asked for)
 *     rebuilds the same entries as the whole normalization for a few
 *     ranges.
 */
#include "fuzz_common.h"
#include "filter/normalize.h"

static norm_tables *tables;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_REQUIRE(norm_tables_new(&tables, NULL) == 0, "norm tables");
    return 0;
}

static size_t cp_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static int same_entry(const norm_out *a, size_t i, const norm_out *b,
    size_t j, uint32_t shift)
{
    return a->text[i] == b->text[j] && a->src[i] + shift == b->src[j] &&
        a->src_end[i] + shift == b->src_end[j] && a->gap[i] == b->gap[j] &&
        a->run[i] == b->run[j];
}

/* The offset map against the input, entry by entry. */
static void check_map(const norm_out *o, unsigned flags, const char *in,
    size_t len, norm_out *scratch)
{
    FUZZ_CHECK(fuzz_utf8_valid(o->text, o->len), "output is not UTF-8");
    size_t i = 0;
    uint32_t last_src = 0, last_end = 0;
    while (i < o->len) {
        size_t k = cp_len(o->text[i]);
        FUZZ_CHECK(i + k <= o->len, "code point cut at %zu", i);
        uint32_t s = o->src[i], e = o->src_end[i];
        FUZZ_CHECK(s < e && e <= len, "entry %zu: source [%u,%u) of %zu",
            i, s, e, len);
        FUZZ_CHECK(s >= last_src && e >= last_end, "entry %zu: source "
            "[%u,%u) goes back from [%u,%u)", i, s, e, last_src, last_end);
        for (size_t j = 1; j < k; j++)
            FUZZ_CHECK(o->src[i + j] == s && o->src_end[i + j] == e &&
                o->run[i + j] == o->run[i], "entry %zu: bytes of one code "
                "point disagree", i);
        FUZZ_CHECK(o->run[i] >= 1, "entry %zu: run 0", i);
        if (!(flags & NORM_REPEAT))
            FUZZ_CHECK(o->run[i] == 1, "entry %zu: run %u without repeat",
                i, o->run[i]);
        if (!(flags & NORM_SKIP_NOISE))
            FUZZ_CHECK((o->gap[i] & ~NORM_GAP_START) == 0,
                "entry %zu: gap %#x without noise skipping", i, o->gap[i]);
        last_src = s;
        last_end = e;
        i += k;
    }
    /* Each source range, alone, gives the bytes mapped to it. Entries
       whose ranges overlap are taken together: with NORM_REPEAT the last
       letter of an expansion ("Æ" -> "ae") runs on into the letters after
       it ("Æe" -> "a", then "e" twice from [Æ, e]). */
    i = 0;
    while (i < o->len) {
        size_t j = i;
        uint32_t s = o->src[i], e = o->src_end[i];
        while (j < o->len && o->src[j] < e) {
            if (o->src_end[j] > e)
                e = o->src_end[j];
            j++;
        }
        norm_out_reset(scratch);
        FUZZ_CHECK(norm_text(tables, flags, in + s, e - s, scratch) == 0,
            "norm_text failed");
        FUZZ_CHECK(scratch->len == j - i &&
            memcmp(scratch->text, o->text + i, j - i) == 0,
            "entries [%zu,%zu) from source [%u,%u): alone it gives %zu "
            "bytes '%.*s', in the text '%.*s'", i, j, s, e, scratch->len,
            (int)scratch->len, scratch->text, (int)(j - i), o->text + i);
        i = j;
    }
}

static void check_chunks(const norm_out *whole, unsigned flags,
    const char *in, size_t len, uint64_t seed, uint32_t base)
{
    norm_out o;
    norm_state st;
    size_t pos = 0;
    norm_out_init(&o);
    norm_state_init(&st, flags, base);
    while (pos < len) {
        size_t n = 1 + fuzz_rng(&seed) % 9;
        if (n > len - pos)
            n = len - pos;
        FUZZ_CHECK(norm_feed(tables, &st, in + pos, n, 0, &o) == 0, "feed");
        pos += n;
    }
    FUZZ_CHECK(norm_feed(tables, &st, "", 0, 1, &o) == 0, "final feed");
    FUZZ_CHECK(o.len == whole->len && o.invalid == whole->invalid,
        "chunked: %zu bytes (%zu invalid), whole: %zu (%zu)", o.len,
        o.invalid, whole->len, whole->invalid);
    for (size_t i = 0; i < o.len; i++)
        FUZZ_CHECK(same_entry(whole, i, &o, i, base),
            "chunked entry %zu differs (base %u)", i, base);
    norm_out_free(&o);
}

static void check_lazy(const norm_out *whole, unsigned flags, const char *in,
    size_t len, uint64_t seed)
{
    norm_out lz, win;
    norm_wcur cur;
    cur.valid = 0;
    norm_out_init(&lz);
    norm_out_init(&win);
    FUZZ_CHECK(norm_text_lazy(tables, flags, in, len, 0, &lz) == 0, "lazy");
    FUZZ_CHECK(lz.len == whole->len && lz.invalid == whole->invalid &&
        (lz.len == 0 || memcmp(lz.text, whole->text, lz.len) == 0),
        "lazy text differs");
    for (int k = 0; k < 3 && lz.lazy && lz.len > 0; k++) {
        size_t a = fuzz_rng(&seed) % lz.len;
        size_t b = a + fuzz_rng(&seed) % 64, base = 0;
        if (b >= lz.len)
            b = lz.len - 1;
        FUZZ_CHECK(norm_window_cover(tables, flags, in, len, &lz, a, b, &win,
            &cur) == 0, "window");
        base = cur.base;
        FUZZ_CHECK(base <= a && base + win.len > b, "window [%zu,%zu) "
            "misses [%zu,%zu]", base, base + win.len, a, b);
        for (size_t q = base; q < base + win.len && q < whole->len; q++)
            FUZZ_CHECK(same_entry(whole, q, &win, q - base, 0),
                "window entry %zu differs", q);
    }
    norm_out_free(&lz);
    norm_out_free(&win);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in fin = { data, size };
    unsigned flags = fuzz_byte(&fin) & 0x7F;
    uint64_t seed = fuzz_byte(&fin);
    const char *in = (const char *)fin.p;
    size_t len = fin.n;
    norm_out whole, scratch;

    norm_out_init(&whole);
    norm_out_init(&scratch);
    FUZZ_CHECK(norm_text(tables, flags, in, len, &whole) == 0, "norm_text");
    check_map(&whole, flags, in, len, &scratch);
    check_chunks(&whole, flags, in, len, seed, 0);
    check_chunks(&whole, flags, in, len, seed + 1, 1000003);
    check_lazy(&whole, flags, in, len, seed);
    norm_out_free(&whole);
    norm_out_free(&scratch);
    return 0;
}
