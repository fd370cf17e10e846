/*
 * fuzz_policy.c - libFuzzer target for the policy loader: policy.yaml and
 * its term lists (rules/policy_parse.c), then compilation
 * (rules/policy_compile.c), then one check with what compiled.
 *
 * Input: policy.yaml, optionally followed by list files, each introduced
 * by a line "#@@ PATH" (PATH relative to the policy directory, e.g.
 * "#@@ lists/zh.txt"); everything up to the first such line is
 * policy.yaml. Sources are handed to the parser from memory (the path the
 * bundles use), so no run touches the disk.
 *
 * Each run checks: the load either succeeds or fails with a negative
 * SLUICE_E* code and a one-line message (no newline, NUL-terminated within
 * the struct) and a line number inside the file; a policy that loads has
 * an id, a 64-hex hash and consistent rule/term accessors; checking the
 * input's own text with it gives a verdict (or SLUICE_ETOOBIG, never
 * another error). Limits are lowered so that one input cannot ask for
 * gigabytes.
 */
#include "fuzz_common.h"

#define MAX_FILES 8

static sluice_engine *engine;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_REQUIRE(sluice_engine_new(&engine, NULL, NULL) == 0, "engine");
    return 0;
}

/* Split the input into memory files; returns how many (>= 1). Paths are
   copied NUL-terminated into names[]. */
static size_t split(const uint8_t *d, size_t n, psrc_memfile *f,
    char names[MAX_FILES][256])
{
    static const char mark[] = "\n#@@ ";
    size_t nf = 0, pos = 0;
    const char *cur = "policy.yaml";
    while (nf < MAX_FILES) {
        const uint8_t *m = NULL;
        if (nf + 1 < MAX_FILES && n - pos >= sizeof mark - 1)
            m = memmem(d + pos, n - pos, mark, sizeof mark - 1);
        size_t end = m ? (size_t)(m - d) + 1 : n;    /* keep the '\n' */
        snprintf(names[nf], sizeof names[nf], "%s", cur);
        f[nf].path = names[nf];
        f[nf].data = d + pos;
        f[nf].len = end - pos;
        nf++;
        if (m == NULL)
            break;
        size_t p = (size_t)(m - d) + sizeof mark - 1;
        const uint8_t *eol = memchr(d + p, '\n', n - p);
        size_t pl = eol ? (size_t)(eol - (d + p)) : n - p;
        if (pl >= 256)
            pl = 255;
        memcpy(names[nf], d + p, pl);
        names[nf][pl] = '\0';
        cur = names[nf];
        pos = eol ? (size_t)(eol - d) + 1 : n;
    }
    return nf;
}

static void check_error(const sluice_error *err, int rc)
{
    FUZZ_CHECK(rc < 0 && rc >= SLUICE_ELIMIT, "load returned %d", rc);
    FUZZ_CHECK(err->code == rc, "err.code %d, returned %d", err->code, rc);
    FUZZ_CHECK(memchr(err->message, '\0', sizeof err->message) != NULL &&
        memchr(err->file, '\0', sizeof err->file) != NULL,
        "unterminated error strings");
    FUZZ_CHECK(strchr(err->message, '\n') == NULL, "message has a newline: "
        "%s", err->message);
    FUZZ_CHECK(err->line >= 0, "line %d", err->line);
    FUZZ_CHECK(rc == SLUICE_ENOMEM || err->message[0] != '\0',
        "no message for %d", rc);
}

static void check_policy(sluice_policy *p, const uint8_t *d, size_t n)
{
    const char *h = sluice_policy_hash(p);
    sluice_verdict *v = NULL;
    size_t nr = sluice_policy_rule_count(p);
    FUZZ_CHECK(sluice_policy_id(p) != NULL && h != NULL && strlen(h) == 64 &&
        strspn(h, "0123456789abcdef") == 64, "hash '%s'", h ? h : "");
    for (size_t i = 0; i < nr; i++) {
        size_t nt = sluice_policy_rule_term_count(p, i);
        FUZZ_CHECK(sluice_policy_rule_id(p, i) != NULL, "rule %zu id", i);
        for (size_t j = 0; j < nt; j++)
            FUZZ_CHECK(sluice_policy_rule_term(p, i, j) != NULL,
                "rule %zu term %zu", i, j);
        FUZZ_CHECK(sluice_policy_rule_term(p, i, nt) == NULL, "term past end");
    }
    FUZZ_CHECK(sluice_policy_rule_id(p, nr) == NULL, "rule past the end");
    FUZZ_CHECK(sluice_engine_set_policy(engine, p) == 0, "set policy");
    int rc = sluice_check(engine, (const char *)d, n, NULL, &v, NULL);
    FUZZ_CHECK(rc == 0, "check returned %d", rc);
    for (size_t i = 0; i < sluice_verdict_span_count(v); i++) {
        sluice_span sp;
        FUZZ_CHECK(sluice_verdict_span(v, i, &sp) == 0 && sp.start < sp.end &&
            sp.end <= n, "span %zu out of bounds", i);
    }
    sluice_verdict_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    psrc_memfile files[MAX_FILES];
    char names[MAX_FILES][256];
    sluice_policy_options o = SLUICE_POLICY_OPTIONS_INIT;
    sluice_policy *p = NULL;
    sluice_error err;
    size_t nf = split(data, size, files, names);
    int rc;

    o.max_terms = 2000;
    o.max_rules = 200;
    o.max_list_bytes = 16384;
    memset(&err, 0, sizeof err);
    rc = fuzz_policy_mem(&p, files, nf, &o, &err);
    if (rc != 0) {
        FUZZ_CHECK(p == NULL, "a failed load left a policy");
        check_error(&err, rc);
        return 0;
    }
    check_policy(p, data, size);
    sluice_policy_unref(p);
    return 0;
}
