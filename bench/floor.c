/*
 * floor.c - how near raw Hyperscan a normalizing pipeline can get: the two
 * stages no check can skip, timed alone on the outputs `pipeline` and
 * `baselines` use (4 KiB pieces of the mixed text and of each corpus).
 *
 *   raw      Hyperscan over the original text with the original terms:
 *            the yardstick of docs/performance.md
 *   hs-norm  Hyperscan over text normalized beforehand, with the terms
 *            normalized the same way (the matcher of checks before the
 *            anchor matcher)
 *   match    Sluice's matcher over the same text: the anchor matcher
 *            (filter/anchor.h) and Hyperscan for the terms it does not
 *            hold, as scan_text runs them
 *   norm     norm_text_lazy alone: the text pass every check makes
 *   both     norm, then Sluice's matcher over its output, as a check
 *            runs them
 *
 * raw / match is the ratio Sluice would reach if normalizing, confirming
 * hits, regexes and verdicts cost nothing; raw / both, if only the last
 * three did. The "room" columns give what a check may spend on
 * everything after these two stages to reach 0.4x and 0.5x of raw
 * (negative: the two stages alone are over). Normalization: the five
 * policy-level steps (NORM_DEFAULT), as in pipeline's policy.
 *
 * Usage: floor --data DIR --set SET (the bench_plan options; BENCH_REPS).
 * Reaches into filter/normalize.h, which is internal: a benchmark of the
 * library's parts, not a user of it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hs.h>

#define BENCH_IMPLEMENTATION
#include "bench.h"
#include "filter/anchor.h"
#include "filter/normalize.h"
#include "rules/policy.h"

typedef struct floor_ctx {
    hs_database_t *db;
    hs_database_t *rest;       /* the terms anc does not hold */
    anchor_set *anc;
    hs_scratch_t *hs;
    const norm_tables *nt;
    norm_out out;
    char **pre;                /* hs-norm: each piece normalized */
    size_t *prelen;
    size_t n, next;            /* pieces, and the one the next call gets */
} floor_ctx;

static int on_match(unsigned int id, unsigned long long from,
    unsigned long long to, unsigned int flags, void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    ++*(uint64_t *)ctx;
    return 0;
}

static int scan_raw(void *ctx, const char *p, size_t len, uint64_t *m)
{
    floor_ctx *c = ctx;
    return hs_scan(c->db, p, (unsigned)len, 0, c->hs, on_match, m) ==
        HS_SUCCESS ? 0 : -1;
}

static int scan_pre(void *ctx, const char *p, size_t len, uint64_t *m)
{
    floor_ctx *c = ctx;
    size_t k = c->next;
    (void)p, (void)len;
    c->next = (k + 1) % c->n;
    return hs_scan(c->db, c->pre[k], (unsigned)c->prelen[k], 0, c->hs,
        on_match, m) == HS_SUCCESS ? 0 : -1;
}

/* Sluice's matcher: Hyperscan for the rest, then the anchors. */
static int match(floor_ctx *c, const char *p, size_t len, uint64_t *m)
{
    return policy_scan_terms(c->rest, c->anc, c->hs, p, len, on_match, m) ==
        HS_SUCCESS ? 0 : -1;
}

static int scan_match(void *ctx, const char *p, size_t len, uint64_t *m)
{
    floor_ctx *c = ctx;
    size_t k = c->next;
    (void)p, (void)len;
    c->next = (k + 1) % c->n;
    return match(c, c->pre[k], c->prelen[k], m);
}

static int scan_norm(void *ctx, const char *p, size_t len, uint64_t *m)
{
    floor_ctx *c = ctx;
    if (norm_text_lazy(c->nt, NORM_DEFAULT, p, len, 0, &c->out) != 0)
        return -1;
    *m += c->out.len;
    return 0;
}

static int scan_both(void *ctx, const char *p, size_t len, uint64_t *m)
{
    floor_ctx *c = ctx;
    if (norm_text_lazy(c->nt, NORM_DEFAULT, p, len, 0, &c->out) != 0)
        return -1;
    return match(c, (const char *)c->out.text, c->out.len, m);
}

/* Terms terms[ids[k]] (ids NULL: terms[k]), k < n. */
static hs_database_t *compile(char **terms, size_t *lens, size_t n,
    const uint32_t *pick)
{
    unsigned *flags = calloc(n ? n : 1, sizeof *flags);
    unsigned *ids = malloc((n ? n : 1) * sizeof *ids);
    char **ex = malloc((n ? n : 1) * sizeof *ex);
    size_t *ln = malloc((n ? n : 1) * sizeof *ln);
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    if (flags != NULL && ids != NULL && ex != NULL && ln != NULL) {
        for (size_t i = 0; i < n; i++) {
            size_t j = pick != NULL ? pick[i] : i;
            ids[i] = (unsigned)j;
            ex[i] = terms[j];
            ln[i] = lens[j];
        }
        if (hs_compile_lit_multi((const char *const *)ex, flags, ids,
                ln, (unsigned)n, HS_MODE_BLOCK, NULL, &db, &ce) !=
            HS_SUCCESS) {
            fprintf(stderr, "floor: hs_compile_lit_multi: %s\n",
                ce != NULL ? ce->message : "failed");
            hs_free_compile_error(ce);
            db = NULL;
        }
    }
    free(flags);
    free(ids);
    free(ex);
    free(ln);
    return db;
}

/* One text: the four measurements and a table row. */
static int measure(const bench_plan *pl, floor_ctx *raw, floor_ctx *nrm,
    const char *name, const char *text, size_t len)
{
    bench_pieces pc;
    bench_result r[5];
    int rc = -1;
    if (bench_pieces_cut(&pc, text, len, 4096) != 0)
        return -1;
    nrm->pre = calloc(pc.n ? pc.n : 1, sizeof *nrm->pre);
    nrm->prelen = calloc(pc.n ? pc.n : 1, sizeof *nrm->prelen);
    nrm->n = pc.n;
    nrm->next = 0;
    if (nrm->pre == NULL || nrm->prelen == NULL)
        goto out;
    for (size_t k = 0; k < pc.n; k++) {
        norm_out_reset(&nrm->out);
        if (norm_text(nrm->nt, NORM_DEFAULT, pc.p[k], pc.len[k],
                &nrm->out) != 0 ||
            (nrm->pre[k] = malloc(nrm->out.len + 1)) == NULL)
            goto out;
        memcpy(nrm->pre[k], nrm->out.text, nrm->out.len);
        nrm->prelen[k] = nrm->out.len;
    }
    if (bench_measure(&pc, scan_raw, raw, pl->reps, &r[0]) != 0 ||
        bench_measure(&pc, scan_pre, nrm, pl->reps, &r[1]) != 0 ||
        bench_measure(&pc, scan_match, nrm, pl->reps, &r[2]) != 0 ||
        bench_measure(&pc, scan_norm, nrm, pl->reps, &r[3]) != 0 ||
        bench_measure(&pc, scan_both, nrm, pl->reps, &r[4]) != 0)
        goto out;
    if (r[1].matches != r[2].matches) {
        fprintf(stderr, "floor: %s: Hyperscan found %llu matches over the "
            "normalized text, Sluice's matcher %llu\n", name,
            (unsigned long long)r[1].matches,
            (unsigned long long)r[2].matches);
        goto out;
    }
    double ns[5];
    for (int k = 0; k < 5; k++)
        ns[k] = r[k].seconds * 1e9 / (double)pc.bytes;
    printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.2fx | %.2fx | "
        "%+.2f | %+.2f | %llu / %llu |\n", name, ns[0], ns[1], ns[2], ns[3],
        ns[4], ns[0] / ns[2], ns[0] / ns[4], ns[0] / 0.4 - ns[4],
        ns[0] / 0.5 - ns[4], (unsigned long long)r[0].matches,
        (unsigned long long)r[1].matches);
    fflush(stdout);
    rc = 0;
out:
    for (size_t k = 0; nrm->pre != NULL && k < pc.n; k++)
        free(nrm->pre[k]);
    free(nrm->pre);
    free(nrm->prelen);
    nrm->pre = NULL;
    nrm->prelen = NULL;
    bench_pieces_free(&pc);
    return rc;
}

int main(int argc, char **argv)
{
    bench_plan pl;
    bench_terms t;
    bench_corpora c;
    norm_tables *nt = NULL;
    sluice_error err;
    floor_ctx raw = { 0 }, nrm = { 0 };
    char **nterms = NULL;
    size_t *nlens = NULL, n = 0, nrest = 0;
    unsigned char *pool = NULL;
    uint32_t *poff = NULL, *plen = NULL, *rest = NULL;
    int rc = 1;
    memset(&c, 0, sizeof c);
    memset(&t, 0, sizeof t);
    if (bench_plan_parse(&pl, argc, argv, NULL, NULL) != 0) {
        fprintf(stderr, "usage: floor --data DIR --set SET\n");
        return 2;
    }
    if (bench_terms_load(&t, pl.data, pl.set) != 0 ||
        bench_corpora_load(&c, pl.data, pl.mixed_bytes) != 0)
        goto done;
    if (norm_tables_new(&nt, &err) != 0) {
        fprintf(stderr, "floor: %s\n", err.message);
        goto done;
    }
    norm_out_init(&nrm.out);
    nrm.nt = nt;             /* raw needs only its database */
    nterms = calloc(t.n ? t.n : 1, sizeof *nterms);
    nlens = calloc(t.n ? t.n : 1, sizeof *nlens);
    if (nterms == NULL || nlens == NULL)
        goto done;
    for (size_t i = 0; i < t.n; i++) {
        norm_out_reset(&nrm.out);
        if (norm_text(nt, NORM_DEFAULT, t.terms[i], t.lens[i], &nrm.out) != 0)
            goto done;
        if (nrm.out.len == 0)
            continue;              /* all noise: Sluice refuses it too */
        if ((nterms[n] = malloc(nrm.out.len)) == NULL)
            goto done;
        memcpy(nterms[n], nrm.out.text, nrm.out.len);
        nlens[n++] = nrm.out.len;
    }
    /* the anchor matcher over the normalized terms, back to back */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += nlens[i];
    pool = malloc(total ? total : 1);
    poff = malloc((n ? n : 1) * sizeof *poff);
    plen = malloc((n ? n : 1) * sizeof *plen);
    rest = malloc((n ? n : 1) * sizeof *rest);
    if (pool == NULL || poff == NULL || plen == NULL || rest == NULL)
        goto done;
    total = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(pool + total, nterms[i], nlens[i]);
        poff[i] = (uint32_t)total;
        plen[i] = (uint32_t)nlens[i];
        total += nlens[i];
    }
    if (anchor_build(pool, poff, plen, n, &nrm.anc, rest, &nrest) != 0)
        goto done;
    if ((raw.db = compile(t.terms, t.lens, t.n, NULL)) == NULL ||
        (nrm.db = compile(nterms, nlens, n, NULL)) == NULL ||
        (nrest > 0 && (nrm.rest = compile(nterms, nlens, nrest, rest)) ==
            NULL) ||
        hs_alloc_scratch(raw.db, &raw.hs) != HS_SUCCESS ||
        hs_alloc_scratch(nrm.db, &nrm.hs) != HS_SUCCESS ||
        (nrm.rest != NULL && hs_alloc_scratch(nrm.rest, &nrm.hs) !=
            HS_SUCCESS))
        goto done;

    printf("Floor: %s (%zu terms, %zu after normalization, %zu of them in "
        "Hyperscan beside the anchor matcher), 4 KiB outputs, ns per byte "
        "of input (median of %d passes)\n\n", pl.set, t.n, n, nrest,
        pl.reps);
    printf("| text | raw Hyperscan | Hyperscan over normalized text | "
        "Sluice's matcher over normalized text | normalization | "
        "normalization + Sluice's matcher | raw / matcher | raw / both | "
        "room at 0.4x | room at 0.5x | matches raw / normalized |\n"
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    if (measure(&pl, &raw, &nrm, "mixed", c.mixed.p, c.mixed.len) != 0)
        goto done;
    for (int k = 0; pl.corpora && k < BENCH_NCORPORA; k++)
        if (measure(&pl, &raw, &nrm, c.c[k].name, c.c[k].text.p,
                c.c[k].text.len) != 0)
            goto done;
    rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "floor: failed\n");
    for (size_t i = 0; i < n; i++)
        free(nterms[i]);
    free(nterms);
    free(nlens);
    free(pool);
    free(poff);
    free(plen);
    free(rest);
    anchor_free(nrm.anc);
    hs_free_database(nrm.rest);
    hs_free_scratch(raw.hs);
    hs_free_scratch(nrm.hs);
    hs_free_database(raw.db);
    hs_free_database(nrm.db);
    norm_out_free(&nrm.out);
    norm_tables_free(nt);
    bench_corpora_free(&c);
    bench_terms_free(&t);
    return rc;
}
