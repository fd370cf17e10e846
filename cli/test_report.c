/*
 * test_report.c - how `sluice test` reports: one reporter per output
 * format, called for each case as it runs, then once after the cases.
 *
 *   human (the default)  failing cases with an expected-vs-got diff (-v:
 *                        passing ones too), then the mutation and
 *                        coverage reports, the thresholds and a summary
 *                        line
 *   TAP (--tap)          "ok N - file: name" per case, the diff as "#"
 *                        diagnostics, the reports as comments, each
 *                        threshold as one more test, then the plan
 *   JSON (--json)        one object per line: a "case" per case, then
 *                        the mutation objects, "coverage" and "summary"
 *
 * The diff of a failed case names each field that differs with what was
 * expected and what came, the rules that fired with the text and term
 * they matched and the text around it («span» bracketed), and how a
 * streaming run differed; JUnit (test_junit.c) shows the same diff.
 * Everything goes to stdout, as it is produced: the reporters keep no
 * state of their own.
 */
#include <math.h>
#include <string.h>

#include "cli/test_internal.h"

/* ------------------------------------------------------------------------
 * Pieces of a diff: lines, sets, spans
 * ---------------------------------------------------------------------- */

/* Each line of text, prefixed. */
static void put_lines(FILE *f, const char *pfx, const char *text)
{
    while (*text != '\0') {
        const char *nl = strchr(text, '\n');
        size_t len = nl != NULL ? (size_t)(nl - text) : strlen(text);
        fprintf(f, "%s%.*s\n", pfx, (int)len, text);
        text += len + (nl != NULL);
    }
}

static void put_set(FILE *f, const test_strset *s)
{
    fputc('[', f);
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "%s%s", i ? ", " : "", s->v[i]);
    fputc(']', f);
}

/* "(missing: a; not expected: b)" after a set diff, when there are any. */
static void put_set_delta(FILE *f, const test_strset *want,
    const sluice_verdict *v, size_t (*count)(const sluice_verdict *),
    const char *(*get)(const sluice_verdict *, size_t))
{
    size_t n = count(v), nmiss = 0, nextra = 0;

    for (size_t i = 0; i < want->n; i++) {
        size_t j = 0;
        while (j < n && strcmp(get(v, j), want->v[i]) != 0)
            j++;
        if (j == n)
            fprintf(f, "%s%s", nmiss++ ? ", " : " (missing: ", want->v[i]);
    }
    for (size_t j = 0; j < n; j++)
        if (!cli_test_strset_has(want, get(v, j)))
            fprintf(f, "%s%s", nextra++ ? ", " : nmiss ?
                "; not expected: " : " (not expected: ", get(v, j));
    if (nmiss + nextra > 0)
        fputc(')', f);
}

static void put_want_spans(FILE *f, const test_case *tc)
{
    fputc('[', f);
    for (size_t i = 0; i < tc->nspans; i++) {
        const test_span *s = &tc->spans[i];
        fprintf(f, "%s%zu-%zu", i ? ", " : "", s->start, s->end);
        if (s->rule != NULL)
            fprintf(f, " %s", s->rule);
    }
    fputc(']', f);
}

/* ------------------------------------------------------------------------
 * Human and TAP reports: a diff per failed case
 * ---------------------------------------------------------------------- */

static void put_output_diff(FILE *f, const char *pfx, const test_result *r)
{
    size_t len = 0;
    const char *out = sluice_verdict_output(r->v, &len);

    fprintf(f, "%soutput:     expected ", pfx);
    cli_test_put_quoted(f, r->tc->output, r->tc->output_len);
    fprintf(f, "\n%s            got      ", pfx);
    cli_test_put_quoted(f, out, len);
    fprintf(f, "\n%s            (first difference at byte %zu)\n", pfx,
        cli_test_first_diff(r->tc->output, r->tc->output_len, out, len));
}

/* The spans that fired: rule, action, offsets, the original text, the
 * term the policy wrote (or that a regex matched), and the text around. */
static void put_fired(FILE *f, const char *pfx, const test_result *r)
{
    size_t n = sluice_verdict_span_count(r->v);
    const test_case *tc = r->tc;
    sluice_span s;

    if (n == 0)
        fprintf(f, "%sfired:      nothing\n", pfx);
    for (size_t i = 0; i < n && i < TEST_FIRED_MAX; i++) {
        if (sluice_verdict_span(r->v, i, &s) != 0)
            continue;
        int inside = s.start <= s.end && s.end <= tc->input_len;
        fprintf(f, "%s%s %s (%s) at %zu-%zu ", pfx, i ? "           " :
            "fired:     ", s.rule, sluice_action_name(s.action), s.start,
            s.end);
        if (inside)
            cli_test_put_quoted(f, tc->input + s.start, s.end - s.start);
        if (s.term != NULL) {
            fputs(", term ", f);
            cli_test_put_quoted(f, s.term, strlen(s.term));
        } else {
            fputs(", a regex match", f);
        }
        fputc('\n', f);
        if (inside) {
            fprintf(f, "%s              in ", pfx);
            cli_test_put_context(f, tc->input, tc->input_len, s.start, s.end);
            fputc('\n', f);
        }
    }
    if (n > TEST_FIRED_MAX)
        fprintf(f, "%s            ... and %zu more\n", pfx,
            n - TEST_FIRED_MAX);
}

/* The fields that differ, the stream diff, the input and what fired. */
void cli_test_put_diff(FILE *f, const char *pfx, const test_result *r)
{
    const test_case *tc = r->tc;
    const sluice_verdict *v = r->v;

    if (v == NULL) {
        fprintf(f, "%serror:      %s\n", pfx, r->error);
        return;
    }
    if (r->mismatch & TEST_F_ACTION)
        fprintf(f, "%saction:     expected %s, got %s\n", pfx,
            sluice_action_name(tc->action),
            sluice_action_name(sluice_verdict_action(v)));
    if (r->mismatch & TEST_F_RULES) {
        fprintf(f, "%srules:      expected ", pfx);
        put_set(f, &tc->rules);
        fputs(", got ", f);
        cli_test_put_names(f, v, sluice_verdict_rule_count,
            sluice_verdict_rule);
        put_set_delta(f, &tc->rules, v, sluice_verdict_rule_count,
            sluice_verdict_rule);
        fputc('\n', f);
    }
    if (r->mismatch & TEST_F_CATEGORIES) {
        fprintf(f, "%scategories: expected ", pfx);
        put_set(f, &tc->categories);
        fputs(", got ", f);
        cli_test_put_names(f, v, sluice_verdict_category_count,
            sluice_verdict_category);
        put_set_delta(f, &tc->categories, v, sluice_verdict_category_count,
            sluice_verdict_category);
        fputc('\n', f);
    }
    if (r->mismatch & TEST_F_OUTPUT)
        put_output_diff(f, pfx, r);
    if (r->mismatch & TEST_F_SPANS) {
        fprintf(f, "%sspans:      expected ", pfx);
        put_want_spans(f, tc);
        fprintf(f, "\n%s            got      ", pfx);
        cli_test_put_spans(f, v);
        fprintf(f, "%s\n", sluice_verdict_spans_truncated(v) ?
            " (truncated: over max_spans)" : "");
    }
    if (r->stream_diff != NULL)
        put_lines(f, pfx, r->stream_diff);
    fprintf(f, "%sinput:      ", pfx);
    cli_test_put_quoted(f, tc->input, tc->input_len);
    fputc('\n', f);
    put_fired(f, pfx, r);
}

static void report_human(const test_result *r, const test_opts *o)
{
    if (cli_test_passed(r)) {
        if (!o->verbose)
            return;
        printf("ok   %s:%d: %s\n", r->tc->file, r->tc->line, r->tc->name);
        if (r->tc->stream)
            printf("       stream: %zu chunking%s (whole, 1-byte, random; "
                "seed %llu) agree with the whole text\n", r->chunkings,
                r->chunkings == 1 ? "" : "s", (unsigned long long)o->seed);
        return;
    }
    printf("FAIL %s:%d: %s\n", r->tc->file, r->tc->line, r->tc->name);
    cli_test_put_diff(stdout, "  ", r);
}

/* A TAP description must stay on one line and must not start a
 * directive: newlines become spaces, '#' is escaped. */
static void put_tap_text(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\n' || *s == '\r')
            putchar(' ');
        else if (*s == '#')
            fputs("\\#", stdout);
        else
            putchar(*s);
    }
}

static void report_tap(const test_result *r)
{
    printf("%sok %zu - ", cli_test_passed(r) ? "" : "not ", r->n);
    put_tap_text(cli_test_base_name(r->tc->file));
    fputs(": ", stdout);
    put_tap_text(r->tc->name);
    putchar('\n');
    if (!cli_test_passed(r)) {
        printf("#   at %s:%d\n", r->tc->file, r->tc->line);
        cli_test_put_diff(stdout, "#   ", r);
    }
}

/* ------------------------------------------------------------------------
 * JSON report: one object per case, then the mutation and coverage
 * objects, then a summary object
 * ---------------------------------------------------------------------- */

static cJSON *json_span(size_t start, size_t end, const char *rule)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL ||
        cli_test_json_put(o, "start", cJSON_CreateNumber((double)start)) ||
        cli_test_json_put(o, "end", cJSON_CreateNumber((double)end)) ||
        (rule != NULL &&
         cli_test_json_put(o, "rule", cJSON_CreateString(rule)))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *json_expected(const test_case *tc)
{
    cJSON *o = cJSON_CreateObject(), *sp = NULL;
    int bad = o == NULL;

    if (!bad && (tc->has & TEST_F_ACTION))
        bad = cli_test_json_put(o, "action",
            cJSON_CreateString(sluice_action_name(tc->action)));
    if (!bad && (tc->has & TEST_F_RULES))
        bad = cli_test_json_put(o, "rules", cJSON_CreateStringArray(
            (const char *const *)tc->rules.v, (int)tc->rules.n));
    if (!bad && (tc->has & TEST_F_CATEGORIES))
        bad = cli_test_json_put(o, "categories", cJSON_CreateStringArray(
            (const char *const *)tc->categories.v, (int)tc->categories.n));
    if (!bad && (tc->has & TEST_F_OUTPUT))
        bad = cli_test_json_put(o, "output",
            cli_test_json_str(tc->output, tc->output_len));
    if (!bad && (tc->has & TEST_F_SPANS))
        bad = cli_test_json_put(o, "spans", sp = cJSON_CreateArray());
    for (size_t i = 0; !bad && sp != NULL && i < tc->nspans; i++)
        bad = cli_test_json_add(sp, json_span(tc->spans[i].start,
            tc->spans[i].end, tc->spans[i].rule));
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *json_names(const sluice_verdict *v,
    size_t (*count)(const sluice_verdict *),
    const char *(*get)(const sluice_verdict *, size_t))
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < count(v); i++) {
        if (cli_test_json_add(a, cJSON_CreateString(get(v, i))) != 0) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* Spans that fired, each with the original text it covers and the term. */
static cJSON *json_got_spans(const test_result *r)
{
    cJSON *a = cJSON_CreateArray();
    sluice_span s;

    for (size_t i = 0; a != NULL && i < sluice_verdict_span_count(r->v);
         i++) {
        if (sluice_verdict_span(r->v, i, &s) != 0)
            continue;
        cJSON *o = json_span(s.start, s.end, s.rule);
        int bad = o == NULL ||
            (s.start <= s.end && s.end <= r->tc->input_len &&
             cli_test_json_put(o, "text", cli_test_json_str(
                r->tc->input + s.start, s.end - s.start))) ||
            (s.term != NULL && cli_test_json_put(o, "term",
                cJSON_CreateString(s.term)));
        if (bad || cli_test_json_add(a, o) != 0) {
            if (bad)
                cJSON_Delete(o);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static cJSON *json_got(const test_result *r)
{
    size_t len = 0;
    const char *out = sluice_verdict_output(r->v, &len);
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || cli_test_json_put(o, "action", cJSON_CreateString(
            sluice_action_name(sluice_verdict_action(r->v)))) ||
        cli_test_json_put(o, "rules", json_names(r->v,
            sluice_verdict_rule_count, sluice_verdict_rule)) ||
        cli_test_json_put(o, "categories", json_names(r->v,
            sluice_verdict_category_count, sluice_verdict_category)) ||
        cli_test_json_put(o, "output", cli_test_json_str(out, len)) ||
        cli_test_json_put(o, "spans", json_got_spans(r))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *json_mismatches(unsigned m)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < TEST_NFIELDS; i++) {
        if ((m & (1u << i)) &&
            cli_test_json_add(a, cJSON_CreateString(
                cli_test_field_name(i))) != 0) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* {"chunkings": N, "seed": S, "status": "pass"|"fail", "diff": "..."} */
static cJSON *json_stream(const test_result *r, const test_opts *o)
{
    cJSON *s = cJSON_CreateObject();
    if (s == NULL ||
        cli_test_json_put(s, "chunkings",
            cJSON_CreateNumber((double)r->chunkings)) ||
        cli_test_json_put(s, "seed", cJSON_CreateNumber((double)o->seed)) ||
        cli_test_json_put(s, "status", cJSON_CreateString(
            r->stream_diff != NULL ? "fail" : "pass")) ||
        (r->stream_diff != NULL && cli_test_json_put(s, "diff",
            cJSON_CreateString(r->stream_diff)))) {
        cJSON_Delete(s);
        return NULL;
    }
    return s;
}


static int report_json(const test_result *r, const test_opts *opts)
{
    const test_case *tc = r->tc;
    cJSON *o = cJSON_CreateObject();

    if (o == NULL ||
        cli_test_json_put(o, "type", cJSON_CreateString("case")) ||
        cli_test_json_put(o, "n", cJSON_CreateNumber((double)r->n)) ||
        cli_test_json_put(o, "file", cJSON_CreateString(tc->file)) ||
        cli_test_json_put(o, "line", cJSON_CreateNumber(tc->line)) ||
        cli_test_json_put(o, "name", cJSON_CreateString(tc->name)) ||
        cli_test_json_put(o, "status", cJSON_CreateString(
            cli_test_passed(r) ? "pass" : r->v == NULL ? "error" : "fail")) ||
        cli_test_json_put(o, "input",
            cli_test_json_str(tc->input, tc->input_len)) ||
        cli_test_json_put(o, "expected", json_expected(tc)) ||
        (r->v != NULL && cli_test_json_put(o, "mismatches",
            json_mismatches(r->mismatch))) ||
        (r->v != NULL && cli_test_json_put(o, "got", json_got(r))) ||
        (r->v != NULL && tc->stream && cli_test_json_put(o, "stream",
            json_stream(r, opts))) ||
        (r->v == NULL &&
         cli_test_json_put(o, "error", cJSON_CreateString(r->error)))) {
        cJSON_Delete(o);
        return cli_test_nomem();
    }
    return cli_test_json_emit(o);
}

int cli_test_report_case(const test_opts *o, const test_result *r)
{
    switch (o->fmt) {
    case TEST_FMT_TAP: report_tap(r); return 0;
    case TEST_FMT_JSON: return report_json(r, o);
    default: report_human(r, o); return 0;
    }
}

/* ------------------------------------------------------------------------
 * After the cases: thresholds and the summary
 * ---------------------------------------------------------------------- */

/* "robustness 68.7% is below --min-robustness 80%" or "... >= ...". */
static void put_threshold(FILE *f, const test_threshold *t)
{
    fprintf(f, "%s %.1f%% %s %s %g%%", t->what, cli_test_pct_shown(t->value),
        t->ok ? "meets" : "is below", t->option, t->min);
}

static cJSON *json_thresholds(const test_tally *tally)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < tally->nth; i++) {
        const test_threshold *t = &tally->th[i];
        cJSON *o = cJSON_CreateObject();
        if (cli_test_json_add(a, o) != 0 ||
            cli_test_json_put(o, "name", cJSON_CreateString(t->what)) ||
            cli_test_json_put(o, "option", cJSON_CreateString(t->option)) ||
            cli_test_json_put(o, "min", cJSON_CreateNumber(t->min)) ||
            cli_test_json_put(o, "value", cJSON_CreateNumber(
                floor(t->value * 100.0 + 0.5) / 100.0)) ||
            cli_test_json_put(o, "ok", cJSON_CreateBool(t->ok))) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static int summary_json(const test_tally *tally)
{
    size_t nfail = tally->run - tally->npass;
    cJSON *s = cJSON_CreateObject();

    if (s == NULL ||
        cli_test_json_put(s, "type", cJSON_CreateString("summary")) ||
        cli_test_json_put(s, "cases",
            cJSON_CreateNumber((double)tally->run)) ||
        cli_test_json_put(s, "passed",
            cJSON_CreateNumber((double)tally->npass)) ||
        cli_test_json_put(s, "failed", cJSON_CreateNumber((double)nfail)) ||
        (tally->nth > 0 &&
         cli_test_json_put(s, "thresholds", json_thresholds(tally)))) {
        cJSON_Delete(s);
        return cli_test_nomem();
    }
    return cli_test_json_emit(s);
}

int cli_test_report_tail(const test_opts *o, const test_coverage *t,
    const test_mutation *m, const test_tally *tally)
{
    size_t run = tally->run, nfail = tally->run - tally->npass;
    const char *pfx = o->fmt == TEST_FMT_TAP ? "# " : "";

    if (o->fmt == TEST_FMT_JSON) {
        if ((m != NULL && cli_test_mutate_json(t, m, o) != 0) ||
            cli_test_json_emit(cli_test_coverage_json(t)) != 0)
            return -1;
        return summary_json(tally);
    }
    if (m != NULL)
        cli_test_mutate_print(stdout, pfx, t, m, o);
    cli_test_coverage_print(stdout, pfx, t, o->coverage, o->verbose);
    for (size_t i = 0; i < tally->nth; i++) {
        if (o->fmt == TEST_FMT_TAP)
            printf("%sok %zu - ", tally->th[i].ok ? "" : "not ", run + i + 1);
        else
            fputs(tally->th[i].ok ? "ok   " : "FAIL ", stdout);
        put_threshold(stdout, &tally->th[i]);
        putchar('\n');
    }
    if (o->fmt == TEST_FMT_TAP)
        printf("1..%zu\n# %zu case%s, %zu passed, %zu failed\n",
            run + tally->nth, run, run == 1 ? "" : "s", tally->npass, nfail);
    else
        printf("%zu case%s, %zu passed, %zu failed\n", run,
            run == 1 ? "" : "s", tally->npass, nfail);
    return 0;
}
