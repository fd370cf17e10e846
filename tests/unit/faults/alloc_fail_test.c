/*
 * alloc_fail_test.c - out of memory at every allocation site: each public
 * operation (load a policy, check, stream, record in the ledger, verify,
 * build and load a bundle) is run again and again, the Nth allocation
 * made by Sluice's own code failing in run N, until a run completes with
 * no failure injected. Every run must return 0 or a negative SLUICE_E*
 * code (never crash), succeed when nothing failed, and free everything it
 * allocated (a leak shows as an allocation of Sluice's still live after
 * the operation has freed its objects).
 *
 * How: this program defines malloc, calloc, realloc and free, which every
 * library in the process then uses (glibc supports replacing them), and
 * passes each call on to glibc's own. An allocation counts as Sluice's
 * when its return address lies in this executable's text, where the
 * static libsluice.a is linked: allocations inside ICU, Hyperscan, PCRE2,
 * libyaml or libc (strdup, for one) are never failed, since their own
 * callers' handling is theirs. Test code allocates only while disarmed.
 *
 * The same counting shows what a check allocates once an engine is warm
 * (test_a_steady_state_check_allocates_only_its_verdict).
 *
 * Under AddressSanitizer or ThreadSanitizer, which own malloc, the tests
 * report skips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>

#include "sluice.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NO_INJECTOR 1
#else
#define NO_INJECTOR 0
#endif

/* ---- the injector -------------------------------------------------------- */

#if !NO_INJECTOR
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern char __executable_start[], etext[];

#define LIVE_SLOTS (1u << 16)

static pthread_mutex_t inj_mu = PTHREAD_MUTEX_INITIALIZER;
static int armed;               /* (inj_mu) */
static long fail_at;            /* 1-based index of the allocation to fail */
static long seen;               /* Sluice allocations since arming */
static int injected;            /* the failure was injected this run */
static void *live[LIVE_SLOTS];  /* Sluice allocations not yet freed */
static const void *live_ra[LIVE_SLOTS];   /* ... and where they were made */
static long nlive;
static int live_overflow;

static int ours(const void *ra)
{
    return (const char *)ra >= __executable_start &&
        (const char *)ra < etext;
}

static size_t slot_of(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 40) & (LIVE_SLOTS - 1);
}

static void live_add(void *p, const void *ra)
{
    size_t i = slot_of(p);
    for (size_t k = 0; k < LIVE_SLOTS; k++, i = (i + 1) & (LIVE_SLOTS - 1))
        if (live[i] == NULL || live[i] == (void *)1) {
            live[i] = p;
            live_ra[i] = ra;
            nlive++;
            return;
        }
    live_overflow = 1;
}

static void live_del(void *p)
{
    size_t i = slot_of(p);
    for (size_t k = 0; k < LIVE_SLOTS; k++, i = (i + 1) & (LIVE_SLOTS - 1)) {
        if (live[i] == NULL)
            return;
        if (live[i] == p) {
            live[i] = (void *)1;     /* a tombstone */
            nlive--;
            return;
        }
    }
}

/* 1 if this allocation must fail; counts it. */
static int should_fail(const void *ra, int *track)
{
    int fail = 0;
    *track = 0;
    if (!ours(ra))
        return 0;
    pthread_mutex_lock(&inj_mu);
    if (armed) {
        *track = 1;
        if (++seen == fail_at) {
            fail = 1;
            injected = 1;
        }
    }
    pthread_mutex_unlock(&inj_mu);
    return fail;
}

static void track_add(void *p, const void *ra)
{
    pthread_mutex_lock(&inj_mu);
    if (armed)
        live_add(p, ra);
    pthread_mutex_unlock(&inj_mu);
}

void *malloc(size_t n)
{
    int track;
    void *p;
    if (should_fail(__builtin_return_address(0), &track))
        return NULL;
    p = __libc_malloc(n);
    if (p != NULL && track)
        track_add(p, __builtin_return_address(0));
    return p;
}

void *calloc(size_t n, size_t size)
{
    int track;
    void *p;
    if (should_fail(__builtin_return_address(0), &track))
        return NULL;
    p = __libc_calloc(n, size);
    if (p != NULL && track)
        track_add(p, __builtin_return_address(0));
    return p;
}

void *realloc(void *old, size_t n)
{
    int track;
    void *p;
    if (should_fail(__builtin_return_address(0), &track))
        return NULL;
    p = __libc_realloc(old, n);
    if (p != NULL) {
        pthread_mutex_lock(&inj_mu);
        if (old != NULL)
            live_del(old);
        if (track && armed)
            live_add(p, __builtin_return_address(0));
        pthread_mutex_unlock(&inj_mu);
    }
    return p;
}

void free(void *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&inj_mu);
    if (nlive > 0)
        live_del(p);
    pthread_mutex_unlock(&inj_mu);
    __libc_free(p);
}

static void arm(long at)
{
    pthread_mutex_lock(&inj_mu);
    memset(live, 0, sizeof live);
    nlive = 0;
    live_overflow = 0;
    seen = 0;
    injected = 0;
    fail_at = at;
    armed = 1;
    pthread_mutex_unlock(&inj_mu);
}

/* Disarm; returns whether a failure was injected. */
static int disarm(long *nseen, long *leaked)
{
    int inj;
    pthread_mutex_lock(&inj_mu);
    armed = 0;
    inj = injected;
    *nseen = seen;
    *leaked = live_overflow ? -1 : nlive;
    pthread_mutex_unlock(&inj_mu);
    return inj;
}
#endif

/* ---- the driver ------------------------------------------------------------- */

typedef int (*op_fn)(void *ctx);

/*
 * Run op with allocation 1, 2, 3 ... failing, until a run with no failure
 * injected; returns the number of Sluice allocations of a whole run.
 * prep and done (may be NULL) run around each run, disarmed: what op
 * leaves in objects that prep made (a policy's pool of scratch space) is
 * freed by done before the leak check.
 */
static long every_failure(const char *name, op_fn prep, op_fn op,
    op_fn done, void *ctx)
{
#if NO_INJECTOR
    (void)name;
    (void)prep;
    (void)op;
    (void)done;
    (void)ctx;
    return 0;
#else
    long at, nseen = 0, leaked = 0, failed_runs = 0;
    for (at = 1;; at++) {
        assert_int_equal(prep ? prep(ctx) : 0, 0);
        arm(at);
        int rc = op(ctx);
        long dummy;
        int inj = disarm(&nseen, &dummy);
        if (done != NULL)
            (void)done(ctx);
        pthread_mutex_lock(&inj_mu);
        leaked = live_overflow ? -1 : nlive;
        pthread_mutex_unlock(&inj_mu);
        if (leaked != 0) {
            print_error("%s: allocation %ld failing: %ld allocations left "
                "live (rc %d), made at (addr2line -e THIS_PROGRAM):\n", name,
                at, leaked, rc);
            for (size_t i = 0; i < LIVE_SLOTS; i++)
                if (live[i] != NULL && live[i] != (void *)1)
                    print_error("  0x%lx\n", (unsigned long)
                        ((const char *)live_ra[i] - __executable_start));
        }
        assert_int_equal(leaked, 0);
        if (!inj) {
            if (rc != 0)
                print_error("%s: failed (%d) with nothing injected\n", name,
                    rc);
            assert_int_equal(rc, 0);
            break;
        }
        if (rc >= 0)
            failed_runs += 0;  /* absorbed: e.g. a cache that is optional */
        else
            failed_runs++;
        assert_true(rc <= 0);
    }
    printf("# %s: %ld allocation sites per run, %ld runs failed cleanly\n",
        name, nseen, failed_runs);
    return nseen;
#endif
}

/* ---- fixtures ------------------------------------------------------------------- */

typedef struct fx {
    char dir[256];          /* temporary root */
    char policy[300];       /* a small policy using every kind of rule */
    char keyp[300];         /* key prefix (sluice keygen) */
    sluice_policy *p;       /* loaded outside the injector */
    sluice_policy *fresh;   /* loaded before each run (prep_policy) */
    sluice_key *signer;
    sluice_key *pub;
    char *bundle;
    size_t blen;
    int n;                  /* run counter, for fresh directories */
} fx;

static const char POLICY[] =
    "policy: oom\n"
    "version: 3\n"
    "categories:\n"
    "  - {id: pii, action: redact, severity: high}\n"
    "rules:\n"
    "  - {id: bad.en, action: block, terms: [badword, 'two words'],"
    " variants: [leet, repeat]}\n"
    "  - {id: bad.zh, action: block, terms: [坏词, 敏感]}\n"
    "  - {id: mild, action: redact, terms: lists/mild.txt, boundary: word}\n"
    "  - {id: pii.phone, category: pii, regex: '1[3-9][0-9]{9}',"
    " validate: cn_mobile, on: original}\n"
    "  - {id: combo, action: label, all: [alpha, beta], within: 20}\n"
    "allow: [notbadwordy]\n"
    "label:\n"
    "  producer: OomTest\n"
    "escalation:\n"
    "  row: 3\n"
    "  suspend: 1h\n";

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char path[400];
    sluice_error err;
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-oom-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->policy, sizeof f->policy, "%s/policy", f->dir);
    snprintf(path, sizeof path, "%s/lists", f->policy);
    if (mkdir(f->policy, 0700) != 0 || mkdir(path, 0700) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/policy.yaml", f->policy);
    write_text(path, POLICY);
    snprintf(path, sizeof path, "%s/lists/mild.txt", f->policy);
    write_text(path, "# mild words\nspamword\ndarn it\n");
    snprintf(f->keyp, sizeof f->keyp, "%s/k", f->dir);
    memset(&err, 0, sizeof err);
    if (sluice_keygen(f->keyp, "oom", 0, &err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s.key", f->keyp);
    if (sluice_key_load(&f->signer, path, &err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s.pub", f->keyp);
    if (sluice_key_load(&f->pub, path, &err) != 0)
        return -1;
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    po.allow_unsigned = 1;
    if (sluice_policy_load(&f->p, f->policy, &po, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fx *f = *state;
    sluice_policy_unref(f->p);
    sluice_key_free(f->signer);
    sluice_key_free(f->pub);
    free(f->bundle);
    (void)nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- operations ------------------------------------------------------------------- */

static int prep_policy(void *ctx)
{
    fx *f = ctx;
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_error err;
    po.allow_unsigned = 1;
    return sluice_policy_load(&f->fresh, f->policy, &po, &err);
}

static int done_policy(void *ctx)
{
    fx *f = ctx;
    sluice_policy_unref(f->fresh);
    f->fresh = NULL;
    return 0;
}

static int op_load(void *ctx)
{
    fx *f = ctx;
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_policy *p = NULL;
    sluice_error err;
    po.allow_unsigned = 1;
    int rc = sluice_policy_load(&p, f->policy, &po, &err);
    if (rc == 0 && p == NULL)
        return SLUICE_EINTERNAL;
    sluice_policy_unref(p);
    return rc;
}

static const char *const TEXTS[] = {
    "hello, a clean answer",
    "call 13812345678 or say spamword, darn it",
    "b4dw0rd is here and baaadword too",
    "这是一个坏词，还有敏感内容",
    "alpha then beta: a label",
    "notbadwordy is allowed",
    "\xff\xfe invalid bytes then badword",
};

static int op_check(void *ctx)
{
    fx *f = ctx;
    sluice_engine *e = NULL;
    sluice_error err;
    int rc = sluice_engine_new(&e, NULL, &err);
    if (rc == 0)
        rc = sluice_engine_set_policy(e, f->fresh);
    for (size_t i = 0; rc == 0 && i < sizeof TEXTS / sizeof TEXTS[0]; i++) {
        sluice_verdict *v = NULL;
        char *js = NULL;
        rc = sluice_check(e, TEXTS[i], strlen(TEXTS[i]), NULL, &v, &err);
        if (rc == 0)
            rc = sluice_verdict_json(v, &js, NULL);
        free(js);
        sluice_verdict_free(v);
    }
    sluice_engine_free(e);
    return rc;
}

static int op_stream(void *ctx)
{
    fx *f = ctx;
    sluice_engine *e = NULL;
    sluice_error err;
    int rc = sluice_engine_new(&e, NULL, &err);
    if (rc == 0)
        rc = sluice_engine_set_policy(e, f->fresh);
    for (size_t i = 0; rc == 0 && i < sizeof TEXTS / sizeof TEXTS[0]; i++) {
        sluice_session *s = NULL;
        sluice_verdict *v = NULL;
        sluice_release r;
        const char *t = TEXTS[i];
        size_t n = strlen(t);
        rc = sluice_session_new(&s, e, NULL, NULL, &err);
        for (size_t at = 0; rc == 0 && at < n; at += 3) {
            rc = sluice_session_feed(s, t + at, n - at < 3 ? n - at : 3, &r);
            if (rc == 0 && r.stop)
                break;
        }
        if (rc == 0)
            rc = sluice_session_finish(s, &r, &v);
        sluice_verdict_free(v);
        sluice_session_free(s);
    }
    sluice_engine_free(e);
    return rc;
}

/* Checks recorded in a ledger (no thread), closed, then verified. */
static int op_ledger(void *ctx)
{
    fx *f = ctx;
    sluice_ledger_options lo = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_ledger *l = NULL;
    sluice_engine *e = NULL;
    sluice_verify_options vo = SLUICE_VERIFY_OPTIONS_INIT;
    sluice_verify_report rep;
    sluice_error err;
    char dir[400];
    snprintf(dir, sizeof dir, "%s/ledger-%d", f->dir, f->n++);
    lo.dir = dir;
    lo.signer = f->signer;
    lo.no_thread = 1;
    int rc = sluice_ledger_open(&l, &lo, &err);
    if (rc == 0)
        rc = sluice_engine_new(&e, NULL, &err);
    if (rc == 0)
        rc = sluice_engine_set_policy(e, f->fresh);
    if (rc == 0)
        rc = sluice_engine_set_ledger(e, l, SLUICE_FAIL_CLOSED);
    for (size_t i = 0; rc == 0 && i < sizeof TEXTS / sizeof TEXTS[0]; i++) {
        sluice_verdict *v = NULL;
        rc = sluice_check(e, TEXTS[i], strlen(TEXTS[i]), NULL, &v, &err);
        sluice_verdict_free(v);
    }
    sluice_engine_free(e);
    if (l != NULL) {
        int crc = sluice_ledger_close(l, &err);
        if (rc == 0)
            rc = crc;
        sluice_ledger_free(l);
    }
    if (rc == 0) {
        vo.key = f->pub;
        rc = sluice_ledger_verify(dir, &vo, &rep, &err);
        if (rc == 0 && !rep.ok)
            rc = SLUICE_EINTERNAL;
    }
    return rc;
}

static int op_bundle(void *ctx)
{
    fx *f = ctx;
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_policy *p = NULL;
    const sluice_key *trust[1] = { f->pub };
    sluice_error err;
    char *b = NULL;
    size_t blen = 0;
    sluice_bundle_options bo = SLUICE_BUNDLE_OPTIONS_INIT;
    bo.signer = f->signer;
    int rc = sluice_bundle_build(&b, &blen, f->policy, &bo, &err);
    po.trust = trust;
    po.ntrust = 1;
    if (rc == 0)
        rc = sluice_policy_load_bundle(&p, b, blen, NULL, &po, &err);
    if (rc == 0 && !sluice_policy_signed(p))
        rc = SLUICE_EINTERNAL;
    sluice_policy_unref(p);
    free(b);
    return rc;
}

/* ---- tests ------------------------------------------------------------------------ */

#define OOM_TEST(name, prep, op, done)                              \
    static void name(void **state)                                  \
    {                                                               \
        if (NO_INJECTOR)                                            \
            skip();                                                 \
        assert_true(every_failure(#op, prep, op, done, *state) > 0); \
    }

OOM_TEST(test_loading_a_policy_survives_every_failed_allocation, NULL,
    op_load, NULL)
OOM_TEST(test_whole_text_checks_survive_every_failed_allocation,
    prep_policy, op_check, done_policy)
OOM_TEST(test_streaming_survives_every_failed_allocation, prep_policy,
    op_stream, done_policy)
OOM_TEST(test_the_ledger_survives_every_failed_allocation, prep_policy,
    op_ledger, done_policy)
OOM_TEST(test_bundles_survive_every_failed_allocation, NULL, op_bundle,
    NULL)

/*
 * Steady state: once an engine has checked a text of each kind (scratch
 * space grown, pools filled), a whole-text check allocates only what it
 * hands to the caller: the verdict and one block with its lists (rules,
 * categories, spans) and its output; a redacted output is made apart,
 * and a label rewrites the output once more.
 * Counted over every text of TEXTS.
 */
static void test_a_steady_state_check_allocates_only_its_verdict(void **state)
{
#if NO_INJECTOR
    (void)state;
    skip();
#else
    fx *f = *state;
    sluice_engine *e = NULL;
    sluice_error err;
    const size_t nt = sizeof TEXTS / sizeof TEXTS[0];
    long nseen = 0, leaked = 0;
    assert_int_equal(prep_policy(f), 0);
    assert_int_equal(sluice_engine_new(&e, NULL, &err), 0);
    assert_int_equal(sluice_engine_set_policy(e, f->fresh), 0);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < nt; i++) {
            sluice_verdict *v = NULL;
            if (round == 1)
                arm(0);                 /* count, never fail */
            assert_int_equal(sluice_check(e, TEXTS[i], strlen(TEXTS[i]),
                NULL, &v, &err), 0);
            sluice_action act = sluice_verdict_action(v);
            sluice_verdict_free(v);
            if (round == 1) {
                (void)disarm(&nseen, &leaked);
                print_message("%ld allocations: \"%s\"\n", nseen, TEXTS[i]);
                /* a redaction makes its output apart from the lists; an
                   explicit label rewrites the output once (label.c) */
                assert_true(nseen <= 2 + (act == SLUICE_REDACT) +
                    (strstr(TEXTS[i], "label") != NULL));
                assert_int_equal(leaked, 0);
            }
        }
    }
    sluice_engine_free(e);
    done_policy(f);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_steady_state_check_allocates_only_its_verdict),
        cmocka_unit_test(test_loading_a_policy_survives_every_failed_allocation),
        cmocka_unit_test(test_whole_text_checks_survive_every_failed_allocation),
        cmocka_unit_test(test_streaming_survives_every_failed_allocation),
        cmocka_unit_test(test_the_ledger_survives_every_failed_allocation),
        cmocka_unit_test(test_bundles_survive_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
