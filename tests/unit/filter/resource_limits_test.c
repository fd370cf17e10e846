/*
 * resource_limits_test.c - the resource bounds of issue #10 (point 3) that
 * no other test covers, each with its setting and what going over it does:
 *
 *   max_spans (engine)   spans kept per verdict: the rest are still
 *                        applied to the output, and the verdict says it
 *                        was truncated
 *   PCRE2 match limits   a regex that gives up on hostile text: the check
 *                        returns at once, blocked, reason regex_limit, and
 *                        a session stops the same way
 *   max_rules (policy)   a policy with more rules is refused
 *   ledger strings       request metadata over 255 bytes is cut on a
 *                        UTF-8 boundary and the record flagged truncated
 *
 * (max_input: hostile_input_test.c; max_held: session_test.c; max_terms,
 * max_list_bytes: policy_parse_test.c; max_bundle_bytes: bundle_test.c.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sluice.h"
#include "testutil.h"

/* Accepted by the compiler (no unbounded repeat inside a repeat), yet it
   backtracks past PCRE2's match limit on a long run of word characters
   that does not end in '!' where it could. */
static const char LIMIT_POLICY[] =
    "policy: limits\n"
    "version: 1\n"
    "rules:\n"
    "  - {id: words, action: redact, on: original,\n"
    "     regex: '(?:\\w{1,9}){1,60}!'}\n"
    "  - {id: rude, action: redact, terms: [shit]}\n";

typedef struct fx {
    char dir[64];
    sluice_policy *base;     /* policies/baseline */
    sluice_policy *lim;      /* LIMIT_POLICY */
} fx;

static int write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = strlen(s);
    int ok = fwrite(s, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char path[128];
    sluice_error err;
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-limits-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/policy.yaml", f->dir);
    if (write_file(path, LIMIT_POLICY) != 0 ||
        sluice_policy_load(&f->lim, f->dir, NULL, &err) != 0 ||
        sluice_policy_load(&f->base, "policies/baseline", NULL, &err) != 0) {
        fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/policy.yaml", f->dir);
    if (unlink(path) != 0 || rmdir(f->dir) != 0)
        return -1;
    sluice_policy_unref(f->base);
    sluice_policy_unref(f->lim);
    free(f);
    return 0;
}

static sluice_engine *engine(sluice_policy *p, size_t max_spans)
{
    sluice_engine_options o = SLUICE_ENGINE_OPTIONS_INIT;
    sluice_engine *e = NULL;
    o.max_spans = max_spans;
    assert_int_equal(sluice_engine_new(&e, &o, NULL), 0);
    assert_int_equal(sluice_engine_set_policy(e, p), 0);
    return e;
}

static double now_s(void)
{
    struct timespec t;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t), 0);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void spans_over_max_spans_are_dropped_but_still_redacted(
    void **state)
{
    fx *f = *state;
    sluice_engine *e = engine(f->base, 3);
    sluice_verdict *v = NULL;
    char text[2048] = "";
    size_t ol;
    for (int i = 0; i < 40; i++)
        strcat(text, i % 2 ? "shit and " : "fuck or ");
    assert_int_equal(sluice_check(e, text, strlen(text), NULL, &v, NULL), 0);
    assert_int_equal(sluice_verdict_action(v), SLUICE_REDACT);
    assert_int_equal(sluice_verdict_span_count(v), 3);
    assert_int_equal(sluice_verdict_spans_truncated(v), 1);
    const char *o = sluice_verdict_output(v, &ol);
    assert_null(memmem(o, ol, "fuck", 4));     /* all 40 are masked */
    assert_null(memmem(o, ol, "shit", 4));
    sluice_verdict_free(v);

    /* at the limit exactly: nothing is dropped */
    assert_int_equal(sluice_check(e, "fuck shit fuck", 14, NULL, &v, NULL), 0);
    assert_int_equal(sluice_verdict_span_count(v), 3);
    assert_int_equal(sluice_verdict_spans_truncated(v), 0);
    sluice_verdict_free(v);
    sluice_engine_free(e);
}

static void a_regex_over_its_match_limit_blocks_quickly(void **state)
{
    fx *f = *state;
    sluice_engine *e = engine(f->lim, 0);
    sluice_verdict *v = NULL;
    size_t n = 3000;
    char *t = malloc(n + 8);
    char *js = NULL;
    assert_non_null(t);
    memset(t, 'a', n);
    memcpy(t + n, "!b c", 4);
    n += 4;

    double a = now_s();
    assert_int_equal(sluice_check(e, t, n, NULL, &v, NULL), 0);
    double took = now_s() - a;
    assert_true(took < 2.0);                   /* bounded, not exponential */
    assert_int_equal(sluice_verdict_action(v), SLUICE_BLOCK);
    assert_non_null(sluice_verdict_reason(v));
    assert_string_equal(sluice_verdict_reason(v), "regex_limit");
    assert_int_equal(sluice_verdict_json(v, &js, NULL), 0);
    assert_non_null(strstr(js, "\"reason\":\"regex_limit\""));
    free(js);
    sluice_verdict_free(v);

    /* a short run matches normally */
    assert_int_equal(sluice_check(e, "hello!", 6, NULL, &v, NULL), 0);
    assert_int_equal(sluice_verdict_action(v), SLUICE_REDACT);
    assert_null(sluice_verdict_reason(v));
    sluice_verdict_free(v);

    /* streamed: the session stops, nothing past the run is released */
    sluice_session *s = NULL;
    sluice_release rel;
    size_t released = 0;
    int stopped = 0;
    assert_int_equal(sluice_session_new(&s, e, NULL, NULL, NULL), 0);
    for (size_t pos = 0; pos < n && !stopped; pos += 64) {
        size_t c = n - pos < 64 ? n - pos : 64;
        assert_int_equal(sluice_session_feed(s, t + pos, c, &rel), 0);
        if (rel.stop)
            stopped = 1;
        else
            released += rel.len;
    }
    assert_int_equal(sluice_session_finish(s, &rel, &v), 0);
    stopped |= rel.stop;
    assert_true(stopped);
    assert_true(released < n);
    assert_int_equal(sluice_verdict_action(v), SLUICE_BLOCK);
    assert_string_equal(sluice_verdict_reason(v), "regex_limit");
    sluice_verdict_free(v);
    sluice_session_free(s);
    free(t);
    sluice_engine_free(e);
}

static void a_policy_over_max_rules_is_refused(void **state)
{
    fx *f = *state;
    sluice_policy_options o = SLUICE_POLICY_OPTIONS_INIT;
    sluice_policy *p = NULL;
    sluice_error err;
    o.max_rules = 1;                           /* LIMIT_POLICY has 2 */
    assert_int_equal(sluice_policy_load(&p, f->dir, &o, &err),
        SLUICE_ETOOBIG);
    assert_null(p);
    assert_non_null(strstr(err.message, "max_rules"));
    o.max_rules = 2;
    assert_int_equal(sluice_policy_load(&p, f->dir, &o, &err), 0);
    sluice_policy_unref(p);
}

typedef struct got {
    int n;
    int truncated;
    size_t rid_len, tenant_len;
    int rid_valid;
} got;

static int valid_utf8_end(const char *s, size_t n)
{
    /* the cut must not leave a partial sequence at the end */
    size_t i = n;
    size_t k = 0;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && k < 4) {
        i--;
        k++;
    }
    if (i == 0)
        return k == 0;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead < 0x80 ? 0 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
    return (lead < 0x80 && k == 0) || want == k;
}

static int on_record(const sluice_record *r, void *payload)
{
    got *g = payload;
    if (r->type != SLUICE_RECORD_VERDICT)
        return 0;
    g->n++;
    g->truncated = r->truncated;
    g->rid_len = strlen(r->request_id);
    g->tenant_len = strlen(r->tenant);
    g->rid_valid = valid_utf8_end(r->request_id, g->rid_len);
    return 0;
}

static void long_metadata_is_cut_in_ledger_records_and_flagged(void **state)
{
    fx *f = *state;
    char dir[] = "/tmp/sluice-limits-ledger-XXXXXX", path[256], cmd[300];
    sluice_key *k = NULL;
    sluice_ledger *l = NULL;
    sluice_engine *e = engine(f->base, 0);
    sluice_verdict *v = NULL;
    char rid[1001];
    got g = { 0, 0, 0, 0, 0 };
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/k", dir);
    assert_int_equal(sluice_keygen(path, "limits", 0, NULL), 0);
    snprintf(path, sizeof path, "%s/k.key", dir);
    assert_int_equal(sluice_key_load(&k, path, NULL), 0);
    sluice_ledger_options lo = SLUICE_LEDGER_OPTIONS_INIT;
    snprintf(path, sizeof path, "%s/ledger", dir);
    lo.dir = path;
    lo.signer = k;
    lo.no_thread = 1;
    assert_int_equal(sluice_ledger_open(&l, &lo, NULL), 0);
    assert_int_equal(sluice_engine_set_ledger(e, l, SLUICE_FAIL_CLOSED), 0);

    /* 333 three-byte characters and one more byte: a cut at 255 bytes
       falls on a character boundary only if the writer looks for one */
    rid[0] = 'x';
    for (int i = 0; i < 333; i++)
        memcpy(rid + 1 + 3 * i, "\xE4\xB8\xAD", 3);
    rid[1000] = '\0';
    sluice_meta m = { rid, "tenant", NULL, NULL };
    assert_int_equal(sluice_check(e, "hello", 5, &m, &v, NULL), 0);
    assert_int_equal(sluice_verdict_record(v, NULL, NULL), 1);
    sluice_verdict_free(v);
    assert_int_equal(sluice_engine_set_ledger(e, NULL, SLUICE_FAIL_CLOSED),
        0);
    assert_int_equal(sluice_ledger_close(l, NULL), 0);
    sluice_ledger_free(l);

    assert_int_equal(sluice_ledger_foreach(path, NULL, on_record, &g, NULL),
        0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.truncated, 1);
    assert_true(g.rid_len <= 255 && g.rid_len >= 252);
    assert_true(g.rid_valid);
    assert_int_equal(g.tenant_len, 6);

    sluice_verify_options vo = SLUICE_VERIFY_OPTIONS_INIT;
    sluice_verify_report rep;
    vo.key = k;
    assert_int_equal(sluice_ledger_verify(path, &vo, &rep, NULL), 0);
    assert_int_equal(rep.ok, 1);
    sluice_key_free(k);
    sluice_engine_free(e);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spans_over_max_spans_are_dropped_but_still_redacted),
        cmocka_unit_test(a_regex_over_its_match_limit_blocks_quickly),
        cmocka_unit_test(a_policy_over_max_rules_is_refused),
        cmocka_unit_test(long_metadata_is_cut_in_ledger_records_and_flagged),
    };
    return cmocka_run_group_tests_name("resource_limits", tests, setup,
        teardown);
}
