/*
 * test_coverage.c - which of a policy's rules and terms the cases of
 * `sluice test` exercised: a rule is covered when it is in some case's
 * verdict, a term when some span names it (span.term; a regex match
 * names none). The rules and terms no case exercised are reported, and
 * --min-coverage and --min-term-coverage judge the shares.
 *
 * Design: a table built once from the policy's rule accessors, with each
 * rule's terms sorted by text so that a span's term is found by binary
 * search (a list may hold a term twice: both count as matched), and the
 * rule ids sorted for the same lookup from a verdict's names; counting a
 * verdict is then a few searches per rule and span. The same index gives
 * the mutation report (test_mutate.c) its rules, in policy order.
 *
 * Ownership: the table owns its arrays; ids and terms are the policy's
 * strings, so the policy must outlive it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/test_internal.h"

#define TERMS_SHOWN 8      /* uncovered terms listed per rule */

/* A string with an index, for sorted lookups without a context pointer. */
typedef struct keyidx {
    const char *key;
    size_t idx;
} keyidx;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const keyidx *)a)->key, ((const keyidx *)b)->key);
}

typedef struct rinfo {
    const char *id;        /* borrowed from the policy */
    size_t fired;          /* cases whose verdict it is in */
    size_t nterms;
    keyidx *terms;         /* owned array; texts borrowed; sorted by text */
    unsigned char *hit;    /* per term index (policy order) */
    size_t nhit;           /* term indexes hit */
} rinfo;

struct test_coverage {
    const sluice_policy *p;
    rinfo *r;
    size_t n;
    keyidx *by_id;         /* rule indexes sorted by id */
    size_t nterms;         /* terms of all rules */
};

void cli_test_coverage_free(test_coverage *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->r[i].terms);
        free(t->r[i].hit);
    }
    free(t->r);
    free(t->by_id);
    free(t);
}

int cli_test_coverage_new(test_coverage **out, const sluice_policy *p)
{
    size_t n = sluice_policy_rule_count(p);
    test_coverage *t = calloc(1, sizeof *t);

    *out = NULL;
    if (t == NULL)
        return cli_test_nomem();
    t->p = p;
    t->r = calloc(n ? n : 1, sizeof *t->r);
    t->by_id = calloc(n ? n : 1, sizeof *t->by_id);
    if (t->r == NULL || t->by_id == NULL)
        goto nomem;
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        rinfo *ri = &t->r[i];
        const char *id = sluice_policy_rule_id(p, i);
        ri->id = id != NULL ? id : "?";
        t->by_id[i].key = ri->id;
        t->by_id[i].idx = i;
        ri->nterms = sluice_policy_rule_term_count(p, i);
        ri->terms = calloc(ri->nterms ? ri->nterms : 1, sizeof *ri->terms);
        ri->hit = calloc(ri->nterms ? ri->nterms : 1, 1);
        if (ri->terms == NULL || ri->hit == NULL)
            goto nomem;
        for (size_t j = 0; j < ri->nterms; j++) {
            const char *term = sluice_policy_rule_term(p, i, j);
            ri->terms[j].key = term != NULL ? term : "";
            ri->terms[j].idx = j;
        }
        qsort(ri->terms, ri->nterms, sizeof *ri->terms, cmp_key);
        t->nterms += ri->nterms;
    }
    qsort(t->by_id, n, sizeof *t->by_id, cmp_key);
    *out = t;
    return 0;
nomem:
    cli_test_coverage_free(t);
    return cli_test_nomem();
}

size_t cli_test_coverage_rule_count(const test_coverage *t)
{
    return t->n;
}

const char *cli_test_coverage_rule_id(const test_coverage *t, size_t i)
{
    return t->r[i].id;
}

size_t cli_test_coverage_rule_find(const test_coverage *t, const char *id)
{
    keyidx k = { id, 0 };
    const keyidx *f = id != NULL ? bsearch(&k, t->by_id, t->n,
        sizeof *t->by_id, cmp_key) : NULL;
    return f != NULL ? f->idx : SIZE_MAX;
}

/* The term of the policy in policy order: j-th of rule i. */
static const char *rinfo_term(const test_coverage *t, size_t i, size_t j)
{
    const char *s = sluice_policy_rule_term(t->p, i, j);
    return s != NULL ? s : "";
}

/* Mark every term of rule ri equal to `term` (a list may repeat one). */
static void mark_term(rinfo *ri, const char *term)
{
    keyidx k = { term, 0 };
    keyidx *f = bsearch(&k, ri->terms, ri->nterms, sizeof *ri->terms,
        cmp_key);
    if (f == NULL)
        return;
    while (f > ri->terms && strcmp(f[-1].key, term) == 0)
        f--;
    for (; f < ri->terms + ri->nterms && strcmp(f->key, term) == 0; f++) {
        ri->nhit += !ri->hit[f->idx];
        ri->hit[f->idx] = 1;
    }
}

void cli_test_coverage_add(test_coverage *t, const sluice_verdict *v)
{
    sluice_span s;

    for (size_t i = 0; i < sluice_verdict_rule_count(v); i++) {
        size_t k = cli_test_coverage_rule_find(t, sluice_verdict_rule(v, i));
        if (k != SIZE_MAX)
            t->r[k].fired++;
    }
    for (size_t i = 0; i < sluice_verdict_span_count(v); i++) {
        if (sluice_verdict_span(v, i, &s) != 0 || s.term == NULL)
            continue;
        size_t k = cli_test_coverage_rule_find(t, s.rule);
        if (k != SIZE_MAX)
            mark_term(&t->r[k], s.term);
    }
}

static size_t rules_fired(const test_coverage *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->r[i].fired > 0;
    return n;
}

static size_t terms_hit(const test_coverage *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->r[i].nhit;
    return n;
}

void cli_test_coverage_rules(const test_coverage *t, size_t *fired,
    size_t *total)
{
    *fired = rules_fired(t);
    *total = t->n;
}

void cli_test_coverage_terms(const test_coverage *t, size_t *hit,
    size_t *total)
{
    *hit = terms_hit(t);
    *total = t->nterms;
}

void cli_test_coverage_print(FILE *f, const char *pfx,
    const test_coverage *t, int detail, int verbose)
{
    size_t rf = rules_fired(t), th = terms_hit(t), nunfired = 0;

    fprintf(f, "%scoverage: %zu of %zu rule%s fired (%.1f%%)", pfx, rf,
        t->n, t->n == 1 ? "" : "s",
        cli_test_pct_shown(cli_test_pct(rf, t->n)));
    if (t->nterms > 0)
        fprintf(f, ", %zu of %zu term%s matched (%.1f%%)", th, t->nterms,
            t->nterms == 1 ? "" : "s",
            cli_test_pct_shown(cli_test_pct(th, t->nterms)));
    if (!detail && (rf < t->n || th < t->nterms))
        fputs("; --coverage lists what no case exercised", f);
    fputc('\n', f);
    if (!detail)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->r[i].fired > 0)
            continue;
        if (nunfired++ == 0)
            fprintf(f, "%s  rules no case made fire: ", pfx);
        else
            fputs(", ", f);
        fputs(t->r[i].id, f);
    }
    if (nunfired > 0)
        fputc('\n', f);
    for (size_t i = 0; i < t->n; i++) {
        const rinfo *ri = &t->r[i];
        size_t shown = 0, miss = ri->nterms - ri->nhit;
        if (miss == 0)
            continue;
        fprintf(f, "%s  terms of %s no case matched: %zu of %zu:", pfx,
            ri->id, miss, ri->nterms);
        for (size_t j = 0; j < ri->nterms; j++) {
            if (ri->hit[j])
                continue;
            if (!verbose && shown == TERMS_SHOWN) {
                fprintf(f, " ... (-v lists all)");
                break;
            }
            const char *term = rinfo_term(t, i, j);
            fputs(shown++ ? ", " : " ", f);
            cli_test_put_quoted(f, term, strlen(term));
        }
        fputc('\n', f);
    }
}

cJSON *cli_test_coverage_json(const test_coverage *t)
{
    cJSON *o = cJSON_CreateObject(), *r = NULL, *tm = NULL, *un = NULL,
        *um = NULL;
    size_t rf = rules_fired(t), th = terms_hit(t);
    int bad = o == NULL ||
        cli_test_json_put(o, "type", cJSON_CreateString("coverage")) ||
        cli_test_json_put(o, "rules", r = cJSON_CreateObject()) ||
        cli_test_json_put(r, "total", cJSON_CreateNumber((double)t->n)) ||
        cli_test_json_put(r, "fired", cJSON_CreateNumber((double)rf)) ||
        cli_test_json_put(r, "percent", cli_test_json_pct(rf, t->n)) ||
        cli_test_json_put(r, "unfired", un = cJSON_CreateArray()) ||
        cli_test_json_put(o, "terms", tm = cJSON_CreateObject()) ||
        cli_test_json_put(tm, "total",
            cJSON_CreateNumber((double)t->nterms)) ||
        cli_test_json_put(tm, "matched", cJSON_CreateNumber((double)th)) ||
        cli_test_json_put(tm, "percent", cli_test_json_pct(th, t->nterms)) ||
        cli_test_json_put(tm, "unmatched", um = cJSON_CreateObject());

    for (size_t i = 0; !bad && i < t->n; i++) {
        const rinfo *ri = &t->r[i];
        cJSON *list = NULL;
        if (ri->fired == 0)
            bad = cli_test_json_add(un, cJSON_CreateString(ri->id));
        if (!bad && ri->nhit < ri->nterms)
            bad = cli_test_json_put(um, ri->id, list = cJSON_CreateArray());
        for (size_t j = 0; !bad && list != NULL && j < ri->nterms; j++)
            if (!ri->hit[j])
                bad = cli_test_json_add(list,
                    cJSON_CreateString(rinfo_term(t, i, j)));
    }
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

