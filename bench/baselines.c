/*
 * baselines.c - the two yardsticks Sluice is measured against, built from
 * the same libraries it uses:
 *
 *   hs     raw Hyperscan: hs_compile_lit_multi of the raw terms (literal
 *          mode, block mode, no HS_FLAG_SINGLEMATCH, so every occurrence of
 *          every term is reported) scanning the text as it is, with no
 *          normalization; a callback counts the matches.
 *   pcre2  PCRE2-JIT with the terms as one alternation (metacharacters
 *          escaped, PCRE2_UTF, no normalization), a pcre2_jit_match loop
 *          counting non-overlapping leftmost matches. Debian's libpcre2-8
 *          is built with LINK_SIZE=2, which caps a compiled pattern at 64K
 *          code units; when the alternation does not fit, it is split into
 *          the fewest alternations that do (each half of a pattern that
 *          PCRE2 refuses as too large is tried again), and every one of
 *          them scans the text. The row's note says how many there were.
 *
 * Usage: baselines --engine hs|pcre2 PLAN-OPTIONS (see bench_plan in
 * bench.h: --data DIR --set SET [--cap BYTES] ...). One term set, one
 * engine, one process (so VmHWM belongs to it). Rows go to stdout in the
 * format of bench.h. The caps exist for the PCRE2 alternation, which is
 * far too slow to read 20 MB with tens of thousands of terms.
 */
#define BENCH_IMPLEMENTATION
#include "bench.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* ---- raw Hyperscan ---- */

typedef struct hs_bench {
    hs_database_t *db;
    hs_scratch_t *scratch;
} hs_bench;

static int hs_count(unsigned id, unsigned long long from,
    unsigned long long to, unsigned flags, void *ctx)
{
    (void)id; (void)from; (void)to; (void)flags;
    (*(uint64_t *)ctx)++;
    return 0;
}

static int hs_scan_piece(void *ctx, const char *p, size_t len,
    uint64_t *matches)
{
    hs_bench *h = ctx;
    if (len > UINT32_MAX)
        return -1;
    hs_error_t rc = hs_scan(h->db, p, (unsigned)len, 0, h->scratch,
        hs_count, matches);
    if (rc != HS_SUCCESS) {
        fprintf(stderr, "baselines: hs_scan failed (%d)\n", rc);
        return -1;
    }
    return 0;
}

static int hs_build(hs_bench *h, const bench_terms *t, double *ms)
{
    unsigned *flags = calloc(t->n ? t->n : 1, sizeof *flags);
    unsigned *ids = malloc((t->n ? t->n : 1) * sizeof *ids);
    int rc = -1;
    if (flags == NULL || ids == NULL || t->n > UINT32_MAX)
        goto done;
    for (size_t i = 0; i < t->n; i++)
        ids[i] = (unsigned)i;
    hs_compile_error_t *cerr = NULL;
    double t0 = bench_now();
    if (hs_compile_lit_multi((const char *const *)t->terms, flags, ids,
            t->lens, (unsigned)t->n, HS_MODE_BLOCK, NULL, &h->db,
            &cerr) != HS_SUCCESS) {
        fprintf(stderr, "baselines: hs_compile_lit_multi: %s\n",
            cerr != NULL ? cerr->message : "failed");
        if (hs_free_compile_error(cerr) != HS_SUCCESS)
            fprintf(stderr, "baselines: hs_free_compile_error failed\n");
        goto done;
    }
    *ms = (bench_now() - t0) * 1e3;
    if (hs_alloc_scratch(h->db, &h->scratch) != HS_SUCCESS) {
        fprintf(stderr, "baselines: hs_alloc_scratch failed\n");
        goto done;
    }
    rc = 0;
done:
    free(flags);
    free(ids);
    return rc;
}

static void hs_done(hs_bench *h)
{
    if (h->scratch != NULL && hs_free_scratch(h->scratch) != HS_SUCCESS)
        fprintf(stderr, "baselines: hs_free_scratch failed\n");
    if (h->db != NULL && hs_free_database(h->db) != HS_SUCCESS)
        fprintf(stderr, "baselines: hs_free_database failed\n");
}

/* ---- PCRE2 alternation ---- */

typedef struct pcre_bench {
    pcre2_code **code;
    size_t n, cap;
    pcre2_match_data *md;
    size_t bytes;               /* compiled + JIT sizes */
} pcre_bench;

/* Append term t, every ASCII non-alphanumeric byte escaped. */
static int pcre_append_term(bench_buf *pat, const char *t, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z');
        if (c < 0x80 && !alnum && bench_buf_append(pat, "\\", 1) != 0)
            return -1;
        if (bench_buf_append(pat, &t[i], 1) != 0)
            return -1;
    }
    return 0;
}

/*
 * Compile terms [lo, hi) as one alternation; if PCRE2 finds it too large,
 * compile each half. Adds the patterns to pb. 0 or -1.
 */
static int pcre_compile_range(pcre_bench *pb, const bench_terms *t,
    size_t lo, size_t hi)
{
    bench_buf pat = { NULL, 0, 0 };
    for (size_t i = lo; i < hi; i++)
        if ((i > lo && bench_buf_append(&pat, "|", 1) != 0) ||
            pcre_append_term(&pat, t->terms[i], t->lens[i]) != 0) {
            bench_buf_free(&pat);
            return -1;
        }
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat.p, pat.len, PCRE2_UTF,
        &ec, &eo, NULL);
    bench_buf_free(&pat);
    if (code == NULL && ec == 120 && hi - lo > 1) {  /* pattern too large */
        size_t mid = lo + (hi - lo) / 2;
        return pcre_compile_range(pb, t, lo, mid) != 0 ? -1 :
            pcre_compile_range(pb, t, mid, hi);
    }
    if (code == NULL) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(ec, msg, sizeof msg) < 0)
            msg[0] = '\0';
        fprintf(stderr, "baselines: pcre2_compile: %s at %zu\n",
            (const char *)msg, (size_t)eo);
        return -1;
    }
    int jrc = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    size_t sz = 0, jsz = 0;
    if (jrc != 0 || pcre2_pattern_info(code, PCRE2_INFO_SIZE, &sz) != 0 ||
        pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jsz) != 0) {
        fprintf(stderr, "baselines: pcre2_jit_compile failed (%d)\n", jrc);
        pcre2_code_free(code);
        return -1;
    }
    if (pb->n == pb->cap) {
        size_t cap = pb->cap ? 2 * pb->cap : 16;
        pcre2_code **nc = realloc(pb->code, cap * sizeof *nc);
        if (nc == NULL) {
            pcre2_code_free(code);
            return -1;
        }
        pb->code = nc;
        pb->cap = cap;
    }
    pb->code[pb->n++] = code;
    pb->bytes += sz + jsz;
    return 0;
}

/*
 * Start with alternations of about 24 KB of pattern text (most fit in
 * 64K units of compiled code at once); halves are tried when not.
 */
static int pcre_build(pcre_bench *pb, const bench_terms *t, double *ms)
{
    double t0 = bench_now();
    size_t lo = 0;
    while (lo < t->n) {
        size_t hi = lo, text = 0;
        while (hi < t->n && (hi == lo || text + t->lens[hi] < 24000))
            text += t->lens[hi++] + 1;
        if (pcre_compile_range(pb, t, lo, hi) != 0)
            return -1;
        lo = hi;
    }
    *ms = (bench_now() - t0) * 1e3;
    pb->md = pcre2_match_data_create(1, NULL);
    return pb->md != NULL ? 0 : -1;
}

static int pcre_scan_piece(void *ctx, const char *p, size_t len,
    uint64_t *matches)
{
    pcre_bench *pb = ctx;
    for (size_t k = 0; k < pb->n; k++) {
        size_t off = 0;
        while (off < len) {
            int rc = pcre2_jit_match(pb->code[k], (PCRE2_SPTR)p, len, off, 0,
                pb->md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH)
                break;
            if (rc < 0) {
                fprintf(stderr, "baselines: pcre2_jit_match: %d\n", rc);
                return -1;
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(pb->md);
            (*matches)++;
            off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
            while (off < len && ((unsigned char)p[off] & 0xC0) == 0x80)
                off++;
        }
    }
    return 0;
}

static void pcre_done(pcre_bench *pb)
{
    for (size_t k = 0; k < pb->n; k++)
        pcre2_code_free(pb->code[k]);
    free(pb->code);
    pcre2_match_data_free(pb->md);
}

/* ---- driver ---- */

static int engine_arg(void *payload, const char *key, const char *val)
{
    if (strcmp(key, "--engine") != 0)
        return 0;
    *(const char **)payload = val;
    return 1;
}

int main(int argc, char **argv)
{
    bench_plan pl;
    const char *engine = NULL;
    if (bench_plan_parse(&pl, argc, argv, engine_arg, &engine) != 0 ||
        engine == NULL) {
        fprintf(stderr, "usage: baselines --data DIR --set SET "
            "--engine hs|pcre2 [--cap BYTES]\n"
            "       [--corpus-cap BYTES] [--corpora yes|no] "
            "[--one-mb yes|no]\n");
        return 2;
    }
    bench_corpora c;
    bench_terms t;
    int rc = 1;
    memset(&t, 0, sizeof t);
    if (bench_corpora_load(&c, pl.data, pl.mixed_bytes) != 0 ||
        bench_terms_load(&t, pl.data, pl.set) != 0)
        goto done;
    bench_row row;
    bench_row_init(&row);
    row.set = pl.set;
    row.engine = engine;
    row.nterms = t.n;
    long hwm;
    bench_mem_kb(&row.rss_base_kb, &hwm);
    if (strcmp(engine, "hs") == 0) {
        bench_terms_note(&t, pl.set);
        hs_bench h = { NULL, NULL };
        size_t dbsz = 0;
        if (hs_build(&h, &t, &row.compile_ms) == 0 &&
            hs_database_size(h.db, &dbsz) == HS_SUCCESS) {
            row.db_bytes = (long long)dbsz;
            bench_mem_kb(&row.rss_loaded_kb, &hwm);
            rc = bench_run_all(&pl, &c, &row, hs_scan_piece, &h) != 0;
        }
        hs_done(&h);
    } else if (strcmp(engine, "pcre2") == 0) {
        pcre_bench pb;
        memset(&pb, 0, sizeof pb);
        char note[96];
        if (pcre_build(&pb, &t, &row.compile_ms) == 0) {
            int n = snprintf(note, sizeof note, "%zu alternation%s",
                pb.n, pb.n == 1 ? "" : "s");
            row.note = n > 0 ? note : "";
            row.db_bytes = (long long)pb.bytes;
            bench_mem_kb(&row.rss_loaded_kb, &hwm);
            rc = bench_run_all(&pl, &c, &row, pcre_scan_piece, &pb) != 0;
        }
        pcre_done(&pb);
    } else {
        fprintf(stderr, "baselines: unknown engine %s\n", engine);
    }
done:
    bench_terms_free(&t);
    bench_corpora_free(&c);
    return rc;
}
