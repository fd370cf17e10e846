/*
 * test_mutate.c - `sluice test --mutate`: how robust a policy is against
 * evasions of what its own cases catch, reported per rule and per kind of
 * variant. (cli/mutate.c makes the variants; this file decides what to
 * mutate, checks the variants and reports.)
 *
 * Each selected case expecting redact or block is checked again; a case
 * that fails, or has no span with the expected action, is skipped. For
 * each rule with spans of at least that action, the text of those spans
 * (merged) is mutated, a few variants per kind from a seed drawn from
 * --seed, the case and the rule, and every variant is checked. A variant
 * is caught when its action is at least the expected one and every
 * mutated part is still covered by a span of at least that action, so
 * that another rule firing elsewhere does not count as catching it. The
 * robustness is the share caught; --min-robustness judges it.
 *
 * Ownership: the report owns its counts and the slipping variants'
 * texts; a slip points at its case, so the suite must outlive the
 * report, and rule ids come from the coverage table, which must too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mutate.h"
#include "cli/test_internal.h"

#define MUT_PER_KIND 3     /* random variants per kind (mixes: one more) */

typedef struct mstat {
    size_t tried, caught;
} mstat;

/* A variant that slipped through. */
typedef struct mslip {
    const test_case *tc;
    int kind;
    char detail[48];
    char *text;            /* owned: the variant */
    size_t len;
    cli_mut_region at;     /* its first mutated part */
    int action;            /* what the variant got */
} mslip;

typedef struct mrule {
    mstat all, kind[CLI_MUT_NKINDS];
    size_t cases;          /* cases whose spans of this rule were mutated */
    mslip *slips;
    size_t nslips, cap;
} mrule;

struct test_mutation {
    mrule *r;              /* per rule, in the coverage table's order */
    size_t n;
    mstat all, kind[CLI_MUT_NKINDS];
    size_t cases;          /* cases mutated */
    size_t skipped;        /* redact/block cases not mutated: the case
                              fails, or no span has the expected action */
    int traditional;       /* ICU has Simplified-Traditional */
};

void cli_test_mutate_free(test_mutation *mr)
{
    if (mr == NULL)
        return;
    for (size_t i = 0; i < mr->n; i++) {
        for (size_t k = 0; k < mr->r[i].nslips; k++)
            free(mr->r[i].slips[k].text);
        free(mr->r[i].slips);
    }
    free(mr->r);
    free(mr);
}

void cli_test_mutate_score(const test_mutation *mr, size_t *caught,
    size_t *tried)
{
    *caught = mr != NULL ? mr->all.caught : 0;
    *tried = mr != NULL ? mr->all.tried : 0;
}

/* ------------------------------------------------------------------------
 * Mutating and judging
 * ---------------------------------------------------------------------- */

static void mstat_add(mstat *s, int caught)
{
    s->tried++;
    s->caught += caught != 0;
}

/*
 * Caught: the variant's action is at least `want`, and every mutated part
 * overlaps a span whose action is at least `want` (so that another rule
 * firing elsewhere in the text does not count as catching it).
 */
static int variant_caught(const sluice_verdict *v, int want,
    const cli_mut_variant *var)
{
    sluice_span s;

    if ((int)sluice_verdict_action(v) < want)
        return 0;
    for (size_t i = 0; i < var->nregions; i++) {
        const cli_mut_region *g = &var->regions[i];
        size_t k, n = sluice_verdict_span_count(v);
        for (k = 0; k < n; k++)
            if (sluice_verdict_span(v, k, &s) == 0 && (int)s.action >= want
                && s.start < g->end && g->start < s.end)
                break;
        if (k == n)
            return 0;
    }
    return 1;
}

/* Keep a slipping variant: takes var->text. Returns 0 or -1. */
static int keep_slip(mrule *mr, const test_case *tc, cli_mut_variant *var,
    int action)
{
    if (mr->nslips == mr->cap) {
        size_t cap = mr->cap ? mr->cap * 2 : 16;
        mslip *q = realloc(mr->slips, cap * sizeof *q);
        if (q == NULL)
            return -1;
        mr->slips = q;
        mr->cap = cap;
    }
    mslip *s = &mr->slips[mr->nslips++];
    s->tc = tc;
    s->kind = var->kind;
    memcpy(s->detail, var->detail, sizeof s->detail);
    s->text = var->text;
    s->len = var->len;
    s->at = var->nregions > 0 ? var->regions[0] :
        (cli_mut_region){ 0, 0 };
    s->action = action;
    var->text = NULL;
    return 0;
}

/* Check each variant; count it for rule `ri` and overall. */
static int judge_variants(sluice_engine *e, const test_case *tc, size_t ri,
    cli_mut_set *set, test_mutation *mr)
{
    for (size_t i = 0; i < set->n; i++) {
        cli_mut_variant *var = &set->v[i];
        sluice_verdict *v = NULL;
        int rc = sluice_check(e, var->text, var->len, NULL, &v, NULL);
        if (rc == SLUICE_ENOMEM)
            return -1;
        if (rc != 0)
            continue;   /* e.g. over max_input: not a variant we can judge */
        int ok = variant_caught(v, tc->action, var);
        int action = (int)sluice_verdict_action(v);
        sluice_verdict_free(v);
        mstat_add(&mr->all, ok);
        mstat_add(&mr->kind[var->kind], ok);
        mstat_add(&mr->r[ri].all, ok);
        mstat_add(&mr->r[ri].kind[var->kind], ok);
        if (!ok && keep_slip(&mr->r[ri], tc, var, action) != 0)
            return -1;
    }
    return 0;
}

/* The merged spans of rule ri with an action of at least `want`. */
static size_t rule_regions(const sluice_verdict *v, const size_t *rix,
    size_t ri, int want, cli_mut_region *out)
{
    size_t n = 0;
    sluice_span s;

    for (size_t i = 0; i < sluice_verdict_span_count(v); i++) {
        if (rix[i] != ri || sluice_verdict_span(v, i, &s) != 0 ||
            (int)s.action < want || s.start >= s.end)
            continue;
        if (n > 0 && s.start < out[n - 1].end) {
            if (s.end > out[n - 1].end)
                out[n - 1].end = s.end;
        } else {
            out[n].start = s.start;
            out[n].end = s.end;
            n++;
        }
    }
    return n;
}

/* Mutate one case (expected action redact or block), rule by rule. */
static int mutate_case(sluice_engine *e, cli_mutator *m,
    const test_coverage *t, const test_opts *o, const test_case *tc,
    test_mutation *mr)
{
    sluice_verdict *v = NULL;
    size_t *rix = NULL, ns, done = 0;
    cli_mut_region *reg = NULL;
    int rc = sluice_check(e, tc->input, tc->input_len, NULL, &v, NULL);

    if (rc == SLUICE_ENOMEM)
        return cli_test_nomem();
    if (rc != 0 || (int)sluice_verdict_action(v) != tc->action) {
        mr->skipped++;
        sluice_verdict_free(v);
        return 0;
    }
    ns = sluice_verdict_span_count(v);
    rix = calloc(ns ? ns : 1, sizeof *rix);
    reg = calloc(ns ? ns : 1, sizeof *reg);
    rc = rix == NULL || reg == NULL ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < ns; i++) {
        sluice_span s;
        rix[i] = sluice_verdict_span(v, i, &s) == 0 ?
            cli_test_coverage_rule_find(t, s.rule) : SIZE_MAX;
    }
    for (size_t ri = 0; rc == 0 && ri < mr->n; ri++) {
        size_t nreg = rule_regions(v, rix, ri, tc->action, reg);
        cli_mut_set set = { NULL, 0, 0 };
        if (nreg == 0)
            continue;
        uint64_t seed = cli_test_hash_str(cli_test_hash_str(
            cli_test_hash_str(o->seed, cli_test_base_name(tc->file)),
            tc->name), cli_test_coverage_rule_id(t, ri));
        rc = cli_mutate(m, tc->input, tc->input_len, reg, nreg, seed,
            MUT_PER_KIND, &set);
        if (rc == 0)
            rc = judge_variants(e, tc, ri, &set, mr);
        cli_mut_set_free(&set);
        mr->r[ri].cases++;
        done++;
    }
    if (done > 0)
        mr->cases++;
    else
        mr->skipped++;
    free(rix);
    free(reg);
    sluice_verdict_free(v);
    return rc == 0 ? 0 : cli_test_nomem();
}

/* Every selected case that expects redact or block is mutated. */
int cli_test_mutate_run(sluice_engine *e, const test_coverage *t,
    const test_suite *s, const test_opts *o, test_mutation **out)
{
    size_t n = cli_test_coverage_rule_count(t);
    test_mutation *mr = calloc(1, sizeof *mr);
    cli_mutator *m = NULL;
    int rc = 0;

    *out = NULL;
    if (mr != NULL)
        mr->r = calloc(n ? n : 1, sizeof *mr->r);
    if (mr == NULL || mr->r == NULL || cli_mutator_new(&m) != 0) {
        cli_test_mutate_free(mr);
        return cli_test_nomem();
    }
    mr->n = n;
    mr->traditional = cli_mutator_has_traditional(m);
    for (size_t i = 0; i < s->ncases && rc == 0; i++) {
        const test_case *tc = &s->cases[i];
        if (o->filter != NULL && strstr(tc->name, o->filter) == NULL)
            continue;
        if (!(tc->has & TEST_F_ACTION) || (tc->action != SLUICE_REDACT &&
                tc->action != SLUICE_BLOCK))
            continue;
        rc = mutate_case(e, m, t, o, tc, mr);
    }
    cli_mutator_free(m);
    if (rc != 0) {
        cli_test_mutate_free(mr);
        return -1;
    }
    *out = mr;
    return 0;
}

/* ------------------------------------------------------------------------
 * The report for people
 * ---------------------------------------------------------------------- */

static int id_width(const test_coverage *t, const test_mutation *mr)
{
    size_t w = 8;
    for (size_t i = 0; i < mr->n; i++)
        if (mr->r[i].all.tried > 0 &&
            strlen(cli_test_coverage_rule_id(t, i)) > w)
            w = strlen(cli_test_coverage_rule_id(t, i));
    return w > 60 ? 60 : (int)w;
}

static void put_stat_row(FILE *f, const char *pfx, int w, const char *name,
    const char *cases, const mstat *s)
{
    fprintf(f, "%s  %-*s %6s %9zu %7zu %10.1f%%\n", pfx, w, name, cases,
        s->tried, s->caught,
        cli_test_pct_shown(cli_test_pct(s->caught, s->tried)));
}

/* "slipped: fullwidth 4 of 4, space 2 of 12" for one rule. */
static void put_slipped_kinds(FILE *f, const mrule *r)
{
    size_t k, n = 0;

    for (k = 0; k < CLI_MUT_NKINDS; k++) {
        const mstat *s = &r->kind[k];
        if (s->tried == s->caught)
            continue;
        fprintf(f, "%s%s %zu of %zu", n++ ? ", " : "", cli_mut_kind_name(
            (int)k), s->tried - s->caught, s->tried);
    }
    if (n > 0)
        fputc('\n', f);
}

/* One slipping variant: where, which kind, the text around it, what it
 * got. Invisible and look-alike characters are escaped. */
static void put_slip(FILE *f, const char *pfx, const char *rule,
    const mslip *s)
{
    fprintf(f, "%s    %s: %s, %s:%d: ", pfx, rule, s->detail,
        cli_test_base_name(s->tc->file), s->tc->line);
    cli_test_put_context(f, s->text, s->len, s->at.start, s->at.end);
    fprintf(f, " -> %s\n", sluice_action_name(s->action));
}

void cli_test_mutate_print(FILE *f, const char *pfx,
    const test_coverage *t, const test_mutation *mr, const test_opts *o)
{
    int w = id_width(t, mr);
    char cases[32];
    size_t listed = 0;

    fprintf(f, "%smutations (seed %llu): %zu case%s, %zu variants, %zu "
        "caught: robustness %.1f%%\n", pfx, (unsigned long long)o->seed,
        mr->cases, mr->cases == 1 ? "" : "s", mr->all.tried, mr->all.caught,
        cli_test_pct_shown(cli_test_pct(mr->all.caught, mr->all.tried)));
    if (mr->skipped > 0)
        fprintf(f, "%s  (%zu redact/block case%s not mutated: failing, or "
            "no span with the expected action)\n", pfx, mr->skipped,
            mr->skipped == 1 ? "" : "s");
    if (!mr->traditional)
        fprintf(f, "%s  (ICU has no Simplified-Traditional transliterator: "
            "no traditional variants)\n", pfx);
    if (mr->all.tried == 0)
        return;
    fprintf(f, "%s  %-*s %6s %9s %7s %11s\n", pfx, w, "rule", "cases",
        "variants", "caught", "robustness");
    for (size_t i = 0; i < mr->n; i++) {
        const mrule *r = &mr->r[i];
        if (r->all.tried == 0)
            continue;
        snprintf(cases, sizeof cases, "%zu", r->cases);
        put_stat_row(f, pfx, w, cli_test_coverage_rule_id(t, i), cases,
            &r->all);
        if (r->all.caught < r->all.tried) {
            fprintf(f, "%s  %-*s slipped: ", pfx, w, "");
            put_slipped_kinds(f, r);
        }
    }
    snprintf(cases, sizeof cases, "%zu", mr->cases);
    put_stat_row(f, pfx, w, "overall", cases, &mr->all);
    fprintf(f, "%s  %-*s %6s %9s %7s %11s\n", pfx, w, "kind", "",
        "variants", "caught", "robustness");
    for (int k = 0; k < CLI_MUT_NKINDS; k++)
        if (mr->kind[k].tried > 0)
            put_stat_row(f, pfx, w, cli_mut_kind_name(k), "", &mr->kind[k]);
    for (size_t i = 0; i < mr->n; i++)
        listed += mr->r[i].nslips;
    if (listed == 0 || (!o->verbose && o->slips == 0))
        return;
    if (o->verbose)
        fprintf(f, "%s  slipping variants:\n", pfx);
    else
        fprintf(f, "%s  slipping variants (at most %zu per rule; -v lists "
            "all, --json has all):\n", pfx, o->slips);
    for (size_t i = 0; i < mr->n; i++)
        for (size_t k = 0; k < mr->r[i].nslips &&
             (o->verbose || k < o->slips); k++)
            put_slip(f, pfx, cli_test_coverage_rule_id(t, i),
                &mr->r[i].slips[k]);
}

/* ------------------------------------------------------------------------
 * The report as JSON
 * ---------------------------------------------------------------------- */

static cJSON *json_kinds(const mstat *kinds)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; o != NULL && k < CLI_MUT_NKINDS; k++) {
        cJSON *s = NULL;
        if (kinds[k].tried == 0)
            continue;
        if (cli_test_json_put(o, cli_mut_kind_name(k),
                s = cJSON_CreateObject()) ||
            cli_test_json_put(s, "variants", cJSON_CreateNumber(
                (double)kinds[k].tried)) ||
            cli_test_json_put(s, "caught", cJSON_CreateNumber(
                (double)kinds[k].caught)) ||
            cli_test_json_put(s, "robustness",
                cli_test_json_pct(kinds[k].caught, kinds[k].tried))) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* A variant as text with invisible characters escaped (for reading). */
static cJSON *json_escaped(const char *s, size_t n)
{
    test_mstream ms;
    if (cli_test_ms_open(&ms) != 0)
        return NULL;
    cli_test_put_escaped(ms.f, s, n, SIZE_MAX);
    char *t = cli_test_ms_close(&ms);
    cJSON *j = t != NULL ? cJSON_CreateString(t) : NULL;
    free(t);
    return j;
}

static cJSON *json_slip(const mslip *s)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL ||
        cli_test_json_put(o, "file", cJSON_CreateString(s->tc->file)) ||
        cli_test_json_put(o, "line", cJSON_CreateNumber(s->tc->line)) ||
        cli_test_json_put(o, "name", cJSON_CreateString(s->tc->name)) ||
        cli_test_json_put(o, "kind",
            cJSON_CreateString(cli_mut_kind_name(s->kind))) ||
        cli_test_json_put(o, "detail", cJSON_CreateString(s->detail)) ||
        cli_test_json_put(o, "input", cli_test_json_str(s->text, s->len)) ||
        cli_test_json_put(o, "escaped", json_escaped(s->text, s->len)) ||
        cli_test_json_put(o, "action", cJSON_CreateString(
            sluice_action_name(s->action)))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int cli_test_mutate_json(const test_coverage *t, const test_mutation *mr,
    const test_opts *o)
{
    for (size_t i = 0; i < mr->n; i++) {
        const mrule *r = &mr->r[i];
        cJSON *j = NULL, *sl = NULL;
        if (r->all.tried == 0)
            continue;
        int bad = (j = cJSON_CreateObject()) == NULL ||
            cli_test_json_put(j, "type",
                cJSON_CreateString("mutate_rule")) ||
            cli_test_json_put(j, "rule",
                cJSON_CreateString(cli_test_coverage_rule_id(t, i))) ||
            cli_test_json_put(j, "cases",
                cJSON_CreateNumber((double)r->cases)) ||
            cli_test_json_put(j, "variants",
                cJSON_CreateNumber((double)r->all.tried)) ||
            cli_test_json_put(j, "caught",
                cJSON_CreateNumber((double)r->all.caught)) ||
            cli_test_json_put(j, "robustness",
                cli_test_json_pct(r->all.caught, r->all.tried)) ||
            cli_test_json_put(j, "kinds", json_kinds(r->kind)) ||
            cli_test_json_put(j, "slipped", sl = cJSON_CreateArray());
        for (size_t k = 0; !bad && k < r->nslips; k++)
            bad = cli_test_json_add(sl, json_slip(&r->slips[k]));
        if (bad) {
            cJSON_Delete(j);
            return cli_test_nomem();
        }
        if (cli_test_json_emit(j) != 0)
            return -1;
    }
    cJSON *s = cJSON_CreateObject();
    if (s == NULL ||
        cli_test_json_put(s, "type", cJSON_CreateString("mutate")) ||
        cli_test_json_put(s, "seed", cJSON_CreateNumber((double)o->seed)) ||
        cli_test_json_put(s, "cases",
            cJSON_CreateNumber((double)mr->cases)) ||
        cli_test_json_put(s, "skipped",
            cJSON_CreateNumber((double)mr->skipped)) ||
        cli_test_json_put(s, "variants",
            cJSON_CreateNumber((double)mr->all.tried)) ||
        cli_test_json_put(s, "caught",
            cJSON_CreateNumber((double)mr->all.caught)) ||
        cli_test_json_put(s, "robustness",
            cli_test_json_pct(mr->all.caught, mr->all.tried)) ||
        cli_test_json_put(s, "kinds", json_kinds(mr->kind))) {
        cJSON_Delete(s);
        return cli_test_nomem();
    }
    return cli_test_json_emit(s);
}

