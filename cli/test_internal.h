/*
 * test_internal.h - what the files of `sluice test` share: the parsed
 * suite of test cases, the options, a case's result, and the calls that
 * cross from one file to another. Nothing outside cli/cmd_test.c and
 * cli/test_*.c includes it.
 *
 * The files, each for one job:
 *   cmd_test.c       options, --help, and the run: each case, then the
 *                    reports after the cases and the exit status
 *   test_suite.c     tests/NAME.yaml -> a test_suite (refused whole if a
 *                    file is malformed)
 *   test_run.c       checking a case, whole and streamed in chunkings,
 *                    and comparing its verdict with the expectation
 *   test_report.c    the human, TAP and JSON reporters
 *   test_junit.c     the JUnit XML file (--junit)
 *   test_coverage.c  the policy's rules and terms, and which the cases
 *                    exercised
 *   test_mutate.c    evasion variants of what the cases catch and their
 *                    report (--mutate; cli/mutate.c makes the variants)
 *   test_text.c      what they all print with: escaped and quoted texts,
 *                    verdict lists, percentages, JSON values
 *
 * Ownership: the suite owns its cases and their strings; a result owns
 * its verdict and its stream diff until cli_test_result_free(); the
 * coverage table, the mutation report and the JUnit rows are objects of
 * their own, owned by the run (cmd_test.c). Nothing is global.
 *
 * Threads: `sluice test` runs on one thread; none of this is shared.
 *
 * Errors: calls returning int give 0, or -1 after printing the reason
 * ("sluice: ..." on stderr) unless they say otherwise.
 */
#ifndef SLUICE_CLI_TEST_INTERNAL_H
#define SLUICE_CLI_TEST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

#define TEST_FIRED_MAX 20  /* spans listed under "fired" */

/* ------------------------------------------------------------------------
 * Test cases and suites (test_suite.c)
 * ---------------------------------------------------------------------- */

/* Fields under `expect`: bits of test_case.has and test_result.mismatch. */
enum {
    TEST_F_ACTION = 1u << 0,
    TEST_F_RULES = 1u << 1,
    TEST_F_CATEGORIES = 1u << 2,
    TEST_F_OUTPUT = 1u << 3,
    TEST_F_SPANS = 1u << 4
};
#define TEST_NFIELDS 5

/* The name of field bit i (1u << i) under `expect`, as a test file spells
 * it: "action", "rules", ... Static. Precondition: i < TEST_NFIELDS. */
const char *cli_test_field_name(size_t i);

/* A sorted set of distinct strings; owns them. */
typedef struct test_strset {
    char **v;
    size_t n;
} test_strset;

/* Whether x is in s. */
int cli_test_strset_has(const test_strset *s, const char *x);

typedef struct test_span {
    size_t start, end;
    char *rule;            /* NULL: any rule */
} test_span;

typedef struct test_case {
    const char *file;      /* borrowed from the suite's file list */
    int line;
    char *name;
    char *input;           /* NUL-terminated; may hold NULs ("\0") */
    size_t input_len;
    unsigned has;          /* TEST_F_* present under expect */
    int action;
    test_strset rules, categories;
    char *output;
    size_t output_len;
    test_span *spans;
    size_t nspans;
    int stream;            /* also run through sessions in chunkings */
} test_case;

typedef struct test_suite {
    char **files;          /* paths as shown in messages, sorted */
    size_t nfiles;
    test_case *cases;
    size_t ncases, cap;
} test_suite;

/*
 * Parse every test file of the policy at `policy` (a directory, or its
 * policy.yaml: the files are its tests/NAME.yaml and .yml, in name order)
 * into `s`, which must be zeroed. Every malformed file is reported
 * ("file:line: reason"); then the call fails: no case may run. A missing
 * tests/ directory is no error: the suite stays empty. On failure `s` may
 * hold cases all the same; cli_test_suite_free() it either way.
 */
int cli_test_suite_load(const char *policy, test_suite *s);

/* Free what the suite owns and zero it. A zeroed suite is a no-op. */
void cli_test_suite_free(test_suite *s);

/* ------------------------------------------------------------------------
 * Options (cmd_test.c)
 * ---------------------------------------------------------------------- */

typedef enum { TEST_FMT_HUMAN, TEST_FMT_TAP, TEST_FMT_JSON } test_format;

typedef struct test_opts {
    const char *policy;
    const char *filter;
    const char *junit;     /* JUnit XML file, or NULL */
    test_format fmt;
    int verbose;
    int mutate;
    int coverage;          /* list the rules and terms no case exercised */
    uint64_t seed;         /* chunkings and variants */
    size_t slips;          /* slipping variants listed per rule */
    double min_robustness; /* percent; < 0: not asked for */
    double min_coverage;
    double min_term_coverage;
} test_opts;

/* ------------------------------------------------------------------------
 * Running a case (test_run.c)
 * ---------------------------------------------------------------------- */

typedef struct test_result {
    const test_case *tc;
    size_t n;              /* 1-based number among the cases run */
    sluice_verdict *v;     /* NULL when the check itself failed */
    unsigned mismatch;     /* TEST_F_* that differ */
    char error[600];       /* why the check failed, when v is NULL */
    size_t chunkings;      /* streaming runs made */
    char *stream_diff;     /* malloc'd: how a streaming run differed from
                              the whole text; NULL when none did */
    double secs;           /* checking time, streaming included */
} test_result;

/*
 * Check case `tc` with `e` into `r` (zeroed by the caller, r->n set),
 * compare the verdict with the expectation, and for a `stream: true` case
 * also run it through sessions in up to ten chunkings drawn from o->seed.
 * A failed check is a failed case (r->error says why), not an error of
 * the run; -1 only when memory runs out (reported). Either way the caller
 * frees the result with cli_test_result_free().
 */
int cli_test_run(sluice_engine *e, const test_opts *o, const test_case *tc,
    test_result *r);

/* Whether the case passed: checked, as expected, every chunking agreed. */
int cli_test_passed(const test_result *r);

/* Free the verdict and the stream diff r owns (r->tc is borrowed). */
void cli_test_result_free(test_result *r);

/* ------------------------------------------------------------------------
 * Coverage: the policy's rules and terms, and which the cases exercised
 * (test_coverage.c). Also the rule index of the mutation report.
 * ---------------------------------------------------------------------- */

typedef struct test_coverage test_coverage;

/*
 * A table of p's rules and terms, none exercised yet. p is borrowed and
 * must outlive the table; rule ids and terms are p's strings. Returns 0,
 * or -1 when out of memory (reported; *out is then NULL).
 */
int cli_test_coverage_new(test_coverage **out, const sluice_policy *p);

/* NULL is a no-op. */
void cli_test_coverage_free(test_coverage *t);

/* Count the rules and the terms that verdict v exercised. */
void cli_test_coverage_add(test_coverage *t, const sluice_verdict *v);

/* Rules fired in some case and all rules; terms matched and all terms. */
void cli_test_coverage_rules(const test_coverage *t, size_t *fired,
    size_t *total);
void cli_test_coverage_terms(const test_coverage *t, size_t *hit,
    size_t *total);

/* The number of rules; the id of rule i (< that number), the policy's;
 * the index of rule `id` (NULL allowed), or SIZE_MAX if there is none. */
size_t cli_test_coverage_rule_count(const test_coverage *t);
const char *cli_test_coverage_rule_id(const test_coverage *t, size_t i);
size_t cli_test_coverage_rule_find(const test_coverage *t, const char *id);

/* "coverage: ..." (each line starting with pfx) and, with `detail`, the
 * rules and terms no case exercised (all of them with `verbose`). */
void cli_test_coverage_print(FILE *f, const char *pfx,
    const test_coverage *t, int detail, int verbose);

/* The {"type":"coverage", ...} object, or NULL when out of memory. */
cJSON *cli_test_coverage_json(const test_coverage *t);

/* ------------------------------------------------------------------------
 * Mutation: evasion variants of what the cases catch (test_mutate.c)
 * ---------------------------------------------------------------------- */

typedef struct test_mutation test_mutation;

/*
 * Check every selected case of `s` that expects redact or block, then
 * variants of what each of its rules matched, with `e`; t gives the rule
 * index (it must outlive the report, as must `s`: slips point at cases).
 * *out (the caller's; cli_test_mutate_free) holds the counts and the
 * slipping variants. Returns 0, or -1 when out of memory (reported; *out
 * is then NULL).
 */
int cli_test_mutate_run(sluice_engine *e, const test_coverage *t,
    const test_suite *s, const test_opts *o, test_mutation **out);

/* NULL is a no-op. */
void cli_test_mutate_free(test_mutation *m);

/* Variants caught and variants tried, over all rules. */
void cli_test_mutate_score(const test_mutation *m, size_t *caught,
    size_t *tried);

/* The report for people: robustness per rule and per kind, and the
 * slipping variants (o->slips per rule, or all with o->verbose). */
void cli_test_mutate_print(FILE *f, const char *pfx, const test_coverage *t,
    const test_mutation *m, const test_opts *o);

/* The report as JSON lines on stdout: one "mutate_rule" object per rule
 * mutated, then the "mutate" summary. */
int cli_test_mutate_json(const test_coverage *t, const test_mutation *m,
    const test_opts *o);

/* ------------------------------------------------------------------------
 * Reports (test_report.c)
 * ---------------------------------------------------------------------- */

/* A threshold asked for (--min-robustness, ...), judged after the cases. */
typedef struct test_threshold {
    const char *what;      /* "robustness", "rule coverage", ... */
    const char *option;    /* "--min-robustness", ... */
    double value, min;     /* percent */
    int ok;
} test_threshold;

#define TEST_MAX_THRESHOLDS 3

/* What the run came to, for the reports after the cases. */
typedef struct test_tally {
    size_t run, npass;     /* cases run, cases passed */
    test_threshold th[TEST_MAX_THRESHOLDS];
    size_t nth;
} test_tally;

/* Report one case on stdout in o->fmt. */
int cli_test_report_case(const test_opts *o, const test_result *r);

/* After the cases, on stdout in o->fmt: the mutation report (m: NULL when
 * there was none), coverage, the thresholds and the summary. */
int cli_test_report_tail(const test_opts *o, const test_coverage *t,
    const test_mutation *m, const test_tally *tally);

/* Expected-vs-got lines for a failed case, each starting with `pfx`. */
void cli_test_put_diff(FILE *f, const char *pfx, const test_result *r);

/* ------------------------------------------------------------------------
 * JUnit XML (test_junit.c)
 * ---------------------------------------------------------------------- */

typedef struct test_junit test_junit;

/* A JUnit report of a run starting now (its timestamp). Returns 0, or -1
 * when out of memory (reported; *out is then NULL). */
int cli_test_junit_new(test_junit **out);

/* NULL is a no-op. */
void cli_test_junit_free(test_junit *j);

/* Keep what JUnit shows of a reported case; r->tc must outlive j. */
int cli_test_junit_add(test_junit *j, const test_result *r);

/* Write o->junit: a testsuite per test file, one for the thresholds.
 * Returns 0, or EXIT_USAGE (reported) when the file cannot be written. */
int cli_test_junit_write(const test_junit *j, const test_opts *o,
    const sluice_policy *p, const test_tally *tally);

/* ------------------------------------------------------------------------
 * Printing (test_text.c)
 * ---------------------------------------------------------------------- */

/* Print "sluice: out of memory"; returns -1. */
int cli_test_nomem(void);

/* s[0..n) escaped (no quotes): C escapes for controls and bad bytes,
 * \uXXXX for what a reader could not see or tell from ASCII (zero-width
 * characters, Cyrillic look-alikes; cli_mut_plain), at most `max` bytes
 * of s. Returns the bytes of s consumed. */
size_t cli_test_put_escaped(FILE *f, const char *s, size_t n, size_t max);

/* s[0..n) in double quotes, escaped, at most 400 bytes (then how many
 * more). */
void cli_test_put_quoted(FILE *f, const char *s, size_t n);

/* The text s[0..n) around [start, end): "...before «span» after...", a
 * few bytes each side, cut at character starts; nothing if the span is
 * not inside s. */
void cli_test_put_context(FILE *f, const char *s, size_t n, size_t start,
    size_t end);

/* "[a, b]": the names a verdict lists (rules or categories). */
void cli_test_put_names(FILE *f, const sluice_verdict *v,
    size_t (*count)(const sluice_verdict *),
    const char *(*get)(const sluice_verdict *, size_t));

/* "[4-13 words.bad, ...]": a verdict's spans, the first TEST_FIRED_MAX. */
void cli_test_put_spans(FILE *f, const sluice_verdict *v);

/* The offset of the first byte where a[0..an) and b[0..bn) differ. */
size_t cli_test_first_diff(const char *a, size_t an, const char *b,
    size_t bn);

/* Text built with the FILE printers (open_memstream). */
typedef struct test_mstream {
    FILE *f;
    char *p;
    size_t n;
} test_mstream;

/* Open m for writing. Returns 0, or -1 (not reported). */
int cli_test_ms_open(test_mstream *m);

/* Close the stream: its text (malloc'd, the caller's), or NULL if it
 * could not be written (out of memory; not reported). */
char *cli_test_ms_close(test_mstream *m);

/* FNV-1a over a string and a separator, to derive per-case seeds that do
 * not depend on which other cases run or how the policy path is spelt. */
uint64_t cli_test_hash_str(uint64_t h, const char *s);

/* What follows the last '/' of path (borrowed from it). */
const char *cli_test_base_name(const char *path);

/* Percent of a in b (100 when b is 0). */
double cli_test_pct(size_t a, size_t b);

/* A percent for people: rounded to 0.1, except that what is not quite
 * 100 never shows as 100.0 (99.96 -> 99.9). */
double cli_test_pct_shown(double p);

/* A JSON string of s[0..n), NUL bytes included; NULL when out of memory
 * (not reported). */
cJSON *cli_test_json_str(const char *s, size_t n);

/* obj[key] = item; frees item and fails if it is NULL or cannot be
 * added. Returns 0 or -1 (not reported). */
int cli_test_json_put(cJSON *obj, const char *key, cJSON *item);

/* arr[] = item, with cli_test_json_put's rules. */
int cli_test_json_add(cJSON *arr, cJSON *item);

/* A percentage rounded to 0.01 (null when there is nothing to count). */
cJSON *cli_test_json_pct(size_t a, size_t b);

/* Print a JSON object (NULL: out of memory) on one line of stdout and
 * free it. */
int cli_test_json_emit(cJSON *o);

#endif
