/*
 * bundle_test.c - the spec of rules/bundle.c: building, inspecting and
 * loading signed policy bundles, and the trust rules of
 * sluice_policy_load() (docs/bundles.md).
 *
 * The group setup makes a temporary directory with two fresh key pairs
 * and builds policies/baseline into a bundle once, at a fixed time. The
 * tests also carry their own small encoder of the format, written from
 * docs/bundles.md and docs/policy-hash.md alone (tb_encode), used both to
 * check that Sluice writes exactly the documented bytes and to craft
 * bundles that are validly signed but wrong inside (a file table pointing
 * out of bounds, files the policy does not read, a lying manifest): a
 * signature is no excuse for trusting the structure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "sluice.h"
#include "rules/policy_src.h"
#include "ledger/key.h"
#include "testutil.h"

#define T_CREATED 1714521600      /* 2024-05-01T00:00:00Z */
#define T_MAXFILES 8

/* ------------------------------------------------------------------------
 * Fixture
 * ---------------------------------------------------------------------- */

typedef struct fx {
    char *dir;                 /* temporary directory */
    char baseline[1024];       /* policies/baseline */
    sluice_key *sk;            /* "policy-team" secret */
    sluice_key *pk;            /* its public half */
    sluice_key *other_pk;      /* another key's public half */
    char *bundle;              /* baseline, built at T_CREATED with sk */
    size_t len;
    psrc *src;                 /* baseline parsed from its directory */
} fx;

/* <repository root>/rel, found from this file's path. */
static void repo_path(char *buf, size_t cap, const char *rel)
{
    const char *here = __FILE__, *tail = strstr(here, "tests/unit/rules/");
    int n;

    if (tail == NULL)
        n = snprintf(buf, cap, "%s", rel);
    else
        n = snprintf(buf, cap, "%.*s%s", (int)(tail - here), here, rel);
    assert_true(n > 0 && (size_t)n < cap);
}

static int rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void path_in(char *buf, size_t cap, const char *dir, const char *rel)
{
    int n = snprintf(buf, cap, "%s/%s", dir, rel);
    assert_true(n > 0 && (size_t)n < cap);
}

static sluice_key *load_key(const char *dir, const char *file)
{
    char path[1100];
    sluice_key *k = NULL;
    sluice_error e;

    path_in(path, sizeof path, dir, file);
    memset(&e, 0, sizeof e);
    if (sluice_key_load(&k, path, &e) != 0)
        print_error("%s: %s\n", path, e.message);
    assert_non_null(k);
    return k;
}

static char *build_ok(const char *policy, const sluice_key *k,
    int64_t created, size_t *len)
{
    sluice_bundle_options bo = SLUICE_BUNDLE_OPTIONS_INIT;
    sluice_error e;
    char *out = NULL;
    int rc;

    memset(&e, 0, sizeof e);
    bo.signer = k;
    bo.created = created;
    rc = sluice_bundle_build(&out, len, policy, &bo, &e);
    if (rc != 0)
        print_error("build %s: %d %s: %s\n", policy, rc, e.file, e.message);
    assert_int_equal(rc, 0);
    assert_non_null(out);
    return out;
}

static int setup(void **state)
{
    char tmpl[] = "/tmp/sluice-bundle-test-XXXXXX", prefix[1100];
    sluice_error e;
    fx *f = calloc(1, sizeof *f);

    if (f == NULL || sodium_init() < 0 || mkdtemp(tmpl) == NULL ||
        (f->dir = strdup(tmpl)) == NULL)
        return -1;
    repo_path(f->baseline, sizeof f->baseline, "policies/baseline");
    memset(&e, 0, sizeof e);
    path_in(prefix, sizeof prefix, f->dir, "policy");
    if (sluice_keygen(prefix, "policy-team", 0, &e) != 0)
        return -1;
    path_in(prefix, sizeof prefix, f->dir, "other");
    if (sluice_keygen(prefix, "other-team", 0, &e) != 0)
        return -1;
    f->sk = load_key(f->dir, "policy.key");
    f->pk = load_key(f->dir, "policy.pub");
    f->other_pk = load_key(f->dir, "other.pub");
    f->bundle = build_ok(f->baseline, f->sk, T_CREATED, &f->len);
    if (psrc_load(&f->src, f->baseline, NULL, &e) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    if (f == NULL)
        return 0;
    sluice_key_free(f->sk);
    sluice_key_free(f->pk);
    sluice_key_free(f->other_pk);
    free(f->bundle);
    psrc_free(f->src);
    if (f->dir != NULL)
        (void)nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f->dir);
    free(f);
    return 0;
}

/* Options trusting keys[n] (allow_unsigned as given). */
static sluice_policy_options trusting(const sluice_key **keys, size_t n,
    int allow_unsigned)
{
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;

    po.trust = keys;
    po.ntrust = n;
    po.allow_unsigned = allow_unsigned;
    return po;
}

/* Load data[len] from memory; returns the status, *out the policy. */
static int load_mem(const void *data, size_t len,
    const sluice_policy_options *po, sluice_policy **out, sluice_error *e)
{
    memset(e, 0, sizeof *e);
    return sluice_policy_load_bundle(out, data, len, "t.bundle", po, e);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* ------------------------------------------------------------------------
 * An encoder written from docs/bundles.md alone
 * ---------------------------------------------------------------------- */

typedef struct tfile {
    const char *path;
    const unsigned char *data;
    size_t len;
} tfile;

typedef struct tbuf {
    unsigned char *p;
    size_t len;
} tbuf;

static void tb_put(tbuf *b, const void *s, size_t n)
{
    unsigned char *q = realloc(b->p, b->len + n + 1);
    assert_non_null(q);
    b->p = q;
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void tb_le(tbuf *b, uint64_t v, int bytes)
{
    unsigned char c[8];
    for (int i = 0; i < bytes; i++)
        c[i] = (unsigned char)(v >> (8 * i));
    tb_put(b, c, (size_t)bytes);
}

/* The policy hash of docs/policy-hash.md over files[n]. */
static void tb_policy_hash(const tfile *files, size_t n, unsigned char out[32])
{
    crypto_generichash_state st;

    assert_int_equal(crypto_generichash_init(&st, NULL, 0, 32), 0);
    assert_int_equal(crypto_generichash_update(&st,
        (const unsigned char *)"sluice-policy-v1\n", 17), 0);
    for (size_t i = 0; i < n; i++) {
        unsigned char le[8];
        for (int k = 0; k < 8; k++)
            le[k] = (unsigned char)((uint64_t)files[i].len >> (8 * k));
        assert_int_equal(crypto_generichash_update(&st,
            (const unsigned char *)files[i].path, strlen(files[i].path) + 1),
            0);
        assert_int_equal(crypto_generichash_update(&st, le, 8), 0);
        assert_int_equal(crypto_generichash_update(&st, files[i].data,
            files[i].len), 0);
    }
    assert_int_equal(crypto_generichash_final(&st, out, 32), 0);
}

/* Append the signature of b->p[0..len) by k, as the docs say. */
static void tb_sign(tbuf *b, const sluice_key *k)
{
    unsigned char msg[17 + 32], sig[64];

    memcpy(msg, "sluice-bundle-v1\0", 17);
    assert_int_equal(crypto_generichash(msg + 17, 32, b->p, b->len, NULL, 0),
        0);
    assert_int_equal(crypto_sign_detached(sig, NULL, msg, sizeof msg,
        k->nk.sk), 0);
    tb_put(b, sig, sizeof sig);
}

/* A whole bundle: hash NULL means the true policy hash of files. */
static tbuf tb_encode(const tfile *files, size_t n, const char *id,
    int64_t version, const unsigned char *hash, int64_t created,
    const sluice_key *k)
{
    unsigned char h[32], kid[4];
    uint32_t id32 = sluice_key_id(k);
    const char *name = sluice_key_name(k);
    tbuf b = { NULL, 0 };

    if (hash == NULL) {
        tb_policy_hash(files, n, h);
        hash = h;
    }
    tb_put(&b, "SLUICEPB", 8);
    tb_le(&b, 1, 4);
    tb_le(&b, strlen(id), 2);
    tb_put(&b, id, strlen(id));
    tb_le(&b, (uint64_t)version, 8);
    tb_put(&b, hash, 32);
    tb_le(&b, (uint64_t)created, 8);
    tb_le(&b, strlen(name), 1);
    tb_put(&b, name, strlen(name));
    kid[0] = (unsigned char)(id32 >> 24);
    kid[1] = (unsigned char)(id32 >> 16);
    kid[2] = (unsigned char)(id32 >> 8);
    kid[3] = (unsigned char)id32;
    tb_put(&b, kid, 4);
    tb_le(&b, n, 4);
    for (size_t i = 0; i < n; i++) {
        tb_le(&b, strlen(files[i].path), 2);
        tb_put(&b, files[i].path, strlen(files[i].path));
        tb_le(&b, files[i].len, 8);
    }
    for (size_t i = 0; i < n; i++)
        tb_put(&b, files[i].data, files[i].len);
    tb_sign(&b, k);
    return b;
}

/* The baseline's sources, in psrc->files order, read from disk. */
typedef struct tsrc {
    tfile f[T_MAXFILES];
    char *data[T_MAXFILES];
    size_t n;
} tsrc;

static void tsrc_read(tsrc *t, const char *dir, const psrc *src)
{
    char path[1100];

    assert_true(src->nfiles <= T_MAXFILES);
    t->n = src->nfiles;
    for (size_t i = 0; i < t->n; i++) {
        path_in(path, sizeof path, dir, src->files[i]);
        t->data[i] = test_read_file(path, &t->f[i].len);
        assert_non_null(t->data[i]);
        t->f[i].path = src->files[i];
        t->f[i].data = (const unsigned char *)t->data[i];
    }
}

static void tsrc_free(tsrc *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->data[i]);
}

/* Expect data[len] to be refused with `code` and `phrase` in the reason,
 * under the policy key. */
static void expect_refused(const fx *f, const void *data, size_t len,
    int code, const char *phrase)
{
    const sluice_key *trust[1] = { f->pk };
    sluice_policy_options po = trusting(trust, 1, 0);
    sluice_policy *p = (sluice_policy *)&p;
    sluice_error e;
    int rc = load_mem(data, len, &po, &p, &e);

    if (rc != code || strstr(e.message, phrase) == NULL)
        print_error("want %d '%s', got %d: %s\n", code, phrase, rc,
            e.message);
    assert_int_equal(rc, code);
    assert_null(p);
    assert_non_null(strstr(e.message, phrase));
    /* the bundle, or a file in it ("t.bundle/policy.yaml") */
    assert_int_equal(strncmp(e.file, "t.bundle", 8), 0);
}

/* ------------------------------------------------------------------------
 * Building and loading
 * ---------------------------------------------------------------------- */

static void test_a_bundle_loads_signed_with_its_directorys_hash(
    void **state)
{
    fx *f = *state;
    const sluice_key *trust[1] = { f->pk };
    sluice_policy_options po = trusting(trust, 1, 0);
    sluice_policy *dirp = NULL, *bp = NULL;
    sluice_error e;
    uint32_t id = 1;

    memset(&e, 0, sizeof e);
    assert_int_equal(sluice_policy_load(&dirp, f->baseline, NULL, &e), 0);
    assert_int_equal(load_mem(f->bundle, f->len, &po, &bp, &e), 0);
    assert_int_equal(sluice_policy_signed(bp), 1);
    assert_int_equal(sluice_policy_signed(dirp), 0);
    assert_string_equal(sluice_policy_hash(bp), sluice_policy_hash(dirp));
    assert_string_equal(sluice_policy_id(bp), sluice_policy_id(dirp));
    assert_int_equal(sluice_policy_version(bp), sluice_policy_version(dirp));
    assert_int_equal(sluice_policy_rule_count(bp),
        sluice_policy_rule_count(dirp));
    assert_int_equal(sluice_policy_term_count(bp),
        sluice_policy_term_count(dirp));
    assert_string_equal(sluice_policy_signer(bp, &id), "policy-team");
    assert_int_equal(id, sluice_key_id(f->pk));
    assert_null(sluice_policy_signer(dirp, &id));
    assert_int_equal(id, 0);
    sluice_policy_unref(dirp);
    sluice_policy_unref(bp);
}

/* The verdict JSON of `text` under p, up to its "signed" field (what a
   bundle and its directory must agree on; the signature part differs). */
static char *verdict_of(sluice_policy *p, const char *text)
{
    sluice_engine *eng = NULL;
    sluice_verdict *v = NULL;
    sluice_error e;
    char *js = NULL, *at;
    size_t len = 0;

    memset(&e, 0, sizeof e);
    assert_int_equal(sluice_engine_new(&eng, NULL, &e), 0);
    assert_int_equal(sluice_engine_set_policy(eng, p), 0);
    assert_int_equal(sluice_check(eng, text, strlen(text), NULL, &v, &e), 0);
    assert_int_equal(sluice_verdict_json(v, &js, &len), 0);
    sluice_verdict_free(v);
    sluice_engine_free(eng);
    at = strstr(js, "\"signed\":");
    assert_non_null(at);
    *at = '\0';
    return js;
}

static void test_a_bundle_gives_the_verdicts_of_its_directory(void **state)
{
    static const char *const texts[] = {
        "我的身份证号是11010519491231002X",
        "what the ｆ.ｕ.ｃ.ｋ is this",
        "The weather in Scunthorpe is mild.",
        "这是炸药的配方",
        "call me at 13812345678",
        "nothing to see here",
    };
    fx *f = *state;
    const sluice_key *trust[1] = { f->pk };
    sluice_policy_options po = trusting(trust, 1, 0);
    sluice_policy *dirp = NULL, *bp = NULL;
    sluice_error e;

    memset(&e, 0, sizeof e);
    assert_int_equal(sluice_policy_load(&dirp, f->baseline, NULL, &e), 0);
    assert_int_equal(load_mem(f->bundle, f->len, &po, &bp, &e), 0);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char *a = verdict_of(dirp, texts[i]), *b = verdict_of(bp, texts[i]);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    sluice_policy_unref(dirp);
    sluice_policy_unref(bp);
}

static void test_a_bundle_verdict_says_signed_true(void **state)
{
    fx *f = *state;
    const sluice_key *trust[1] = { f->pk };
    sluice_policy_options po = trusting(trust, 1, 0);
    sluice_engine *eng = NULL;
    sluice_verdict *v = NULL;
    sluice_policy *bp = NULL;
    sluice_error e;
    char *js = NULL;
    size_t len = 0;

    assert_int_equal(load_mem(f->bundle, f->len, &po, &bp, &e), 0);
    assert_int_equal(sluice_engine_new(&eng, NULL, &e), 0);
    assert_int_equal(sluice_engine_set_policy(eng, bp), 0);
    assert_int_equal(sluice_check(eng, "x", 1, NULL, &v, &e), 0);
    assert_int_equal(sluice_verdict_json(v, &js, &len), 0);
    assert_non_null(strstr(js, "\"signed\":true"));
    free(js);
    sluice_verdict_free(v);
    sluice_engine_free(eng);
    sluice_policy_unref(bp);
}

static void test_sluice_writes_exactly_the_documented_bytes(void **state)
{
    fx *f = *state;
    tsrc t;
    tbuf b;

    tsrc_read(&t, f->baseline, f->src);
    b = tb_encode(t.f, t.n, f->src->id, f->src->version, NULL, T_CREATED,
        f->sk);
    assert_int_equal(b.len, f->len);
    assert_memory_equal(b.p, f->bundle, f->len);
    free(b.p);
    tsrc_free(&t);
}

static void test_building_is_reproducible_for_a_fixed_time(void **state)
{
    fx *f = *state;
    size_t la = 0, lb = 0;
    char *a = build_ok(f->baseline, f->sk, T_CREATED, &la);
    char *b = build_ok(f->baseline, f->sk, T_CREATED + 1, &lb);

    assert_int_equal(la, f->len);
    assert_memory_equal(a, f->bundle, la);
    assert_int_equal(lb, la);
    assert_memory_not_equal(b, a, la);
    free(a);
    free(b);
}

static void test_another_key_is_refused_and_allow_unsigned_loads_unsigned(
    void **state)
{
    fx *f = *state;
    const sluice_key *trust[1] = { f->other_pk };
    sluice_policy_options po = trusting(trust, 1, 0);
    sluice_policy *p = NULL;
    sluice_error e;
    uint32_t id = 1;

    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e),
        SLUICE_EPOLICY);
    assert_null(p);
    assert_non_null(strstr(e.message, "untrusted bundle"));
    assert_non_null(strstr(e.message, "'policy-team'"));
    assert_non_null(strstr(e.message, "'other-team'"));
    po.allow_unsigned = 1;
    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e), 0);
    assert_int_equal(sluice_policy_signed(p), 0);
    assert_null(sluice_policy_signer(p, &id));
    assert_int_equal(id, 0);
    sluice_policy_unref(p);
}

static void test_without_trust_keys_a_bundle_needs_allow_unsigned(
    void **state)
{
    fx *f = *state;
    sluice_policy_options po = trusting(NULL, 0, 0);
    sluice_policy *p = NULL;
    sluice_error e;

    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e),
        SLUICE_EPOLICY);
    assert_non_null(strstr(e.message, "no trust keys were given"));
    assert_int_equal(load_mem(f->bundle, f->len, NULL, &p, &e),
        SLUICE_EPOLICY);
    po.allow_unsigned = 1;
    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e), 0);
    assert_int_equal(sluice_policy_signed(p), 0);
    sluice_policy_unref(p);
}

static void test_any_of_several_trust_keys_may_sign(void **state)
{
    fx *f = *state;
    const sluice_key *trust[3] = { f->other_pk, f->sk, f->pk };
    sluice_policy_options po = trusting(trust, 3, 0);
    sluice_policy *p = NULL;
    sluice_error e;

    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e), 0);
    assert_int_equal(sluice_policy_signed(p), 1);
    sluice_policy_unref(p);
}

static void test_a_bundle_file_is_found_by_its_magic_not_its_name(
    void **state)
{
    fx *f = *state;
    const sluice_key *trust[1] = { f->pk };
    sluice_policy_options po = trusting(trust, 1, 0);
    sluice_policy *p = NULL;
    sluice_error e;
    char path[1100];

    path_in(path, sizeof path, f->dir, "policy.yaml");
    write_file(path, f->bundle, f->len);
    memset(&e, 0, sizeof e);
    assert_int_equal(sluice_policy_load(&p, path, &po, &e), 0);
    assert_int_equal(sluice_policy_signed(p), 1);
    sluice_policy_unref(p);
    assert_int_equal(unlink(path), 0);
}

/* ------------------------------------------------------------------------
 * Every byte counts
 * ---------------------------------------------------------------------- */

static void test_every_changed_byte_is_refused(void **state)
{
    static const unsigned char masks[] = { 0x01, 0x80, 0xFF };
    fx *f = *state;
    const sluice_key *trust[1] = { f->pk };
    sluice_policy_options po = trusting(trust, 1, 0);
    unsigned char *copy = malloc(f->len);
    size_t i, m, loaded = 0;

    assert_non_null(copy);
    for (m = 0; m < sizeof masks; m++) {
        for (i = 0; i < f->len; i++) {
            sluice_policy *p = NULL;
            sluice_error e;
            memcpy(copy, f->bundle, f->len);
            copy[i] ^= masks[m];
            if (load_mem(copy, f->len, &po, &p, &e) == 0) {
                print_error("byte %zu ^ 0x%02x loaded\n", i, masks[m]);
                loaded++;
                sluice_policy_unref(p);
            }
        }
    }
    assert_int_equal(loaded, 0);
    free(copy);
}

/*
 * With allow_unsigned, a bundle whose signature is not checked (its
 * signer untrusted: only another key is trusted here) may still load,
 * unsigned. (Were its signer trusted, a changed creation time would be a
 * bad signature, always refused.) Which bytes can change and
 * still load is exactly known: the creation time, the signer's name and
 * id, and the signature; every other byte is refused, because the
 * structure, the manifest and the policy hash are checked all the same.
 * Inside those fields one byte each is tried (each load compiles the
 * policy, about 0.1 s), and must load unsigned.
 */
static void test_changed_bytes_never_load_signed_even_when_allowed(
    void **state)
{
    fx *f = *state;
    const sluice_key *trust[1] = { f->other_pk };
    sluice_policy_options po = trusting(trust, 1, 1);
    unsigned char *copy = malloc(f->len);
    size_t created = 8 + 4 + 2 + strlen(f->src->id) + 8 + 32;
    size_t name = created + 8 + 1, nlen = strlen(sluice_key_name(f->sk));
    size_t sig = f->len - 64, i, loaded = 0;

    assert_non_null(copy);
    for (i = 0; i < f->len; i++) {
        int in_created = i >= created && i < created + 8;
        int in_signer = i >= name && i < name + nlen + 4;
        int may_load = in_created || in_signer || i >= sig;
        sluice_policy *p = NULL;
        sluice_error e;
        if (may_load && i != created && i != name && i != sig)
            continue;
        memcpy(copy, f->bundle, f->len);
        copy[i] ^= 0x20;
        if (load_mem(copy, f->len, &po, &p, &e) == 0) {
            if (!may_load)
                print_error("byte %zu loaded\n", i);
            assert_true(may_load);
            assert_int_equal(sluice_policy_signed(p), 0);
            sluice_policy_unref(p);
            loaded++;
        } else {
            if (may_load)
                print_error("byte %zu: %s\n", i, e.message);
            assert_false(may_load);
            assert_null(p);
        }
    }
    assert_int_equal(loaded, 3);
    free(copy);
}

static void test_every_truncation_is_refused(void **state)
{
    fx *f = *state;
    const sluice_key *trust[1] = { f->pk };
    sluice_policy_options strict = trusting(trust, 1, 0);
    sluice_policy_options lax = trusting(NULL, 0, 1);
    size_t n;

    for (n = 0; n < f->len; n++) {
        /* a copy of exactly n bytes, so ASan sees any read past it */
        unsigned char *cut = malloc(n ? n : 1);
        sluice_policy *p = NULL;
        sluice_error e;
        assert_non_null(cut);
        memcpy(cut, f->bundle, n);
        assert_int_not_equal(load_mem(cut, n, &strict, &p, &e), 0);
        assert_null(p);
        assert_int_not_equal(load_mem(cut, n, &lax, &p, &e), 0);
        assert_null(p);
        free(cut);
    }
}

static void test_a_byte_after_the_signature_is_refused(void **state)
{
    fx *f = *state;
    char *longer = malloc(f->len + 1);

    assert_non_null(longer);
    memcpy(longer, f->bundle, f->len);
    longer[f->len] = 0;
    expect_refused(f, longer, f->len + 1, SLUICE_EPOLICY,
        "1 bytes after the signature");
    free(longer);
}

/* ------------------------------------------------------------------------
 * Signed but wrong inside
 * ---------------------------------------------------------------------- */

/* Offset of the file count in a bundle of tb_encode, for id and key. */
static size_t count_offset(const char *id, const sluice_key *k)
{
    return 8 + 4 + 2 + strlen(id) + 8 + 32 + 8 + 1 +
        strlen(sluice_key_name(k)) + 4;
}

/* Re-sign b after an edit (drop the old signature first). */
static void resign(tbuf *b, const sluice_key *k)
{
    b->len -= 64;
    tb_sign(b, k);
}

static void test_a_file_table_pointing_out_of_bounds_is_refused(
    void **state)
{
    fx *f = *state;
    size_t at = count_offset(f->src->id, f->sk), last;
    tsrc t;
    tbuf b;

    tsrc_read(&t, f->baseline, f->src);
    /* the last file one byte longer than the data: the sizes now run
       into the signature */
    b = tb_encode(t.f, t.n, f->src->id, f->src->version, NULL, T_CREATED,
        f->sk);
    last = at + 4;
    for (size_t i = 0; i + 1 < t.n; i++)
        last += 2 + strlen(t.f[i].path) + 8;
    last += 2 + strlen(t.f[t.n - 1].path);
    b.p[last] = (unsigned char)(b.p[last] + 1);
    resign(&b, f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "truncated bundle");
    /* a size of 2^64 - 1 */
    memset(b.p + last, 0xFF, 8);
    resign(&b, f->sk);
    expect_refused(f, b.p, b.len, SLUICE_ETOOBIG, "over the limit");
    free(b.p);
    /* a file count of 2^32 - 1 (no allocation of that size happens) */
    b = tb_encode(t.f, t.n, f->src->id, f->src->version, NULL, T_CREATED,
        f->sk);
    memset(b.p + at, 0xFF, 4);
    resign(&b, f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "files (1 to");
    /* a count just above the real one: the table runs into the data */
    b.p[at] = (unsigned char)(t.n + 1);
    memset(b.p + at + 1, 0, 3);
    resign(&b, f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "bundle");
    /* a path length past the end */
    b.p[at] = (unsigned char)t.n;
    b.p[at + 4] = 0xFF;
    b.p[at + 5] = 0xFF;
    resign(&b, f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "bundle");
    free(b.p);
    tsrc_free(&t);
}

static void test_a_signed_bundle_must_hold_exactly_the_files_read(
    void **state)
{
    fx *f = *state;
    tfile files[T_MAXFILES + 1];
    const unsigned char extra[] = "not read\n";
    tsrc t;
    tbuf b;

    tsrc_read(&t, f->baseline, f->src);
    memcpy(files, t.f, t.n * sizeof *files);
    /* an extra file the policy does not read */
    files[t.n].path = "lists/unused.txt";
    files[t.n].data = extra;
    files[t.n].len = sizeof extra - 1;
    b = tb_encode(files, t.n + 1, f->src->id, f->src->version, NULL,
        T_CREATED, f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "does not read");
    free(b.p);
    /* a list missing */
    b = tb_encode(t.f, t.n - 1, f->src->id, f->src->version, NULL,
        T_CREATED, f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "the bundle does not "
        "hold it");
    free(b.p);
    /* two lists in the wrong order */
    files[1] = t.f[2];
    files[2] = t.f[1];
    b = tb_encode(files, t.n, f->src->id, f->src->version, NULL, T_CREATED,
        f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "in the order they are "
        "read");
    free(b.p);
    tsrc_free(&t);
}

static void test_a_signed_manifest_that_lies_is_refused(void **state)
{
    fx *f = *state;
    unsigned char zero[32] = { 0 };
    tfile files[T_MAXFILES];
    tsrc t;
    tbuf b;

    tsrc_read(&t, f->baseline, f->src);
    b = tb_encode(t.f, t.n, f->src->id, f->src->version, zero, T_CREATED,
        f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "is not the hash of the "
        "files");
    free(b.p);
    b = tb_encode(t.f, t.n, "another-id", f->src->version, NULL, T_CREATED,
        f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "manifest names policy "
        "'another-id'");
    free(b.p);
    b = tb_encode(t.f, t.n, f->src->id, f->src->version + 1, NULL, T_CREATED,
        f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "but the sources say");
    free(b.p);
    /* paths not in the normal form the parser keeps */
    memcpy(files, t.f, t.n * sizeof *files);
    files[1].path = "lists/./profanity-en.txt";
    b = tb_encode(files, t.n, f->src->id, f->src->version, NULL, T_CREATED,
        f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "normal form");
    free(b.p);
    files[1].path = "../profanity-en.txt";
    b = tb_encode(files, t.n, f->src->id, f->src->version, NULL, T_CREATED,
        f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "leaves the policy");
    free(b.p);
    files[1] = t.f[1];
    files[0].path = "sub/policy.yaml";
    b = tb_encode(files, t.n, f->src->id, f->src->version, NULL, T_CREATED,
        f->sk);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "not at the top");
    free(b.p);
    tsrc_free(&t);
}

static void test_an_error_inside_a_bundle_names_the_file_in_it(
    void **state)
{
    static const unsigned char yaml[] =
        "policy: t\nversion: 1\nrules:\n  - id: r\n    action: block\n"
        "    terms: lists/a.txt\n";
    static const unsigned char list[] = "ok\n\xff\n";
    fx *f = *state;
    const sluice_key *trust[1] = { f->pk };
    sluice_policy_options po = trusting(trust, 1, 0);
    tfile files[2] = {
        { "policy.yaml", yaml, sizeof yaml - 1 },
        { "lists/a.txt", list, sizeof list - 1 },
    };
    sluice_policy *p = NULL;
    sluice_error e;
    tbuf b = tb_encode(files, 2, "t", 1, NULL, T_CREATED, f->sk);

    assert_int_equal(load_mem(b.p, b.len, &po, &p, &e), SLUICE_EPOLICY);
    assert_string_equal(e.file, "t.bundle/lists/a.txt");
    assert_int_equal(e.line, 2);
    assert_non_null(strstr(e.message, "invalid UTF-8"));
    free(b.p);
}

static void test_a_signature_by_another_key_of_the_same_name_and_id_fails(
    void **state)
{
    fx *f = *state;
    unsigned char seed[32];
    sluice_key *fake = NULL;
    tsrc t;
    tbuf b;

    /* A key whose name and id claim to be policy-team's: sign with a
       random secret, keep the manifest's name and id. */
    fake = sodium_malloc(sizeof *fake);
    assert_non_null(fake);
    memcpy(fake, f->sk, sizeof *fake);
    randombytes_buf(seed, sizeof seed);
    assert_int_equal(crypto_sign_seed_keypair(fake->nk.pk, fake->nk.sk,
        seed), 0);
    tsrc_read(&t, f->baseline, f->src);
    b = tb_encode(t.f, t.n, f->src->id, f->src->version, NULL, T_CREATED,
        fake);
    expect_refused(f, b.p, b.len, SLUICE_EPOLICY, "bad bundle signature");
    free(b.p);
    tsrc_free(&t);
    sodium_memzero(seed, sizeof seed);
    sodium_free(fake);
}

/* ------------------------------------------------------------------------
 * Directories, options, limits
 * ---------------------------------------------------------------------- */

static void test_a_directory_with_trust_keys_is_refused_unless_allowed(
    void **state)
{
    fx *f = *state;
    const sluice_key *trust[1] = { f->pk };
    sluice_policy_options po = trusting(trust, 1, 0);
    sluice_policy *p = NULL;
    sluice_error e;
    char yaml[1100];

    memset(&e, 0, sizeof e);
    assert_int_equal(sluice_policy_load(&p, f->baseline, &po, &e),
        SLUICE_EPOLICY);
    assert_null(p);
    assert_non_null(strstr(e.message, "refusing unsigned policy sources"));
    assert_string_equal(e.file, f->baseline);
    path_in(yaml, sizeof yaml, f->baseline, "policy.yaml");
    assert_int_equal(sluice_policy_load(&p, yaml, &po, &e), SLUICE_EPOLICY);
    po.allow_unsigned = 1;
    assert_int_equal(sluice_policy_load(&p, f->baseline, &po, &e), 0);
    assert_int_equal(sluice_policy_signed(p), 0);
    sluice_policy_unref(p);
}

static void test_version_1_options_load_as_before(void **state)
{
    /* A caller built against version 1 passes the smaller struct. */
    struct v1 {
        unsigned version;
        size_t max_terms, max_list_bytes, max_rules;
    } *o1 = malloc(sizeof *o1);
    fx *f = *state;
    sluice_policy *p = NULL;
    sluice_error e;

    assert_non_null(o1);
    o1->version = 1;
    o1->max_terms = o1->max_list_bytes = o1->max_rules = 0;
    memset(&e, 0, sizeof e);
    assert_int_equal(sluice_policy_load(&p, f->baseline,
        (const sluice_policy_options *)(void *)o1, &e), 0);
    sluice_policy_unref(p);
    /* and a bundle needs allow_unsigned, which v1 cannot say */
    assert_int_equal(sluice_policy_load_bundle(&p, f->bundle, f->len, NULL,
        (const sluice_policy_options *)(void *)o1, &e), SLUICE_EPOLICY);
    assert_string_equal(e.file, "bundle");
    free(o1);
}

static void test_bad_trust_options_are_refused(void **state)
{
    fx *f = *state;
    sluice_key *dk = NULL;
    const sluice_key *trust[1] = { NULL };
    sluice_policy_options po = trusting(trust, 1, 0);
    sluice_policy *p = NULL;
    sluice_error e;
    char prefix[1100];

    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e),
        SLUICE_EINVAL);
    po.trust = NULL;
    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e),
        SLUICE_EINVAL);
    path_in(prefix, sizeof prefix, f->dir, "dep");
    assert_int_equal(sluice_keygen(prefix, "dep", 1, &e), 0);
    dk = load_key(f->dir, "dep.digest");
    trust[0] = dk;
    po.trust = trust;
    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e),
        SLUICE_EINVAL);
    assert_non_null(strstr(e.message, "digest key"));
    sluice_key_free(dk);
    po.version = 99;
    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e),
        SLUICE_EINVAL);
}

static void test_limits_refuse_big_bundles_and_files(void **state)
{
    fx *f = *state;
    const sluice_key *trust[1] = { f->pk };
    sluice_policy_options po = trusting(trust, 1, 0);
    sluice_bundle_options bo = SLUICE_BUNDLE_OPTIONS_INIT;
    sluice_policy *p = NULL;
    sluice_error e;
    char *out = NULL;
    size_t len = 0;

    po.max_bundle_bytes = f->len - 1;
    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e),
        SLUICE_ETOOBIG);
    assert_non_null(strstr(e.message, "max_bundle_bytes"));
    po.max_bundle_bytes = f->len;
    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e), 0);
    sluice_policy_unref(p);
    po.max_list_bytes = 100;         /* policy.yaml is larger */
    assert_int_equal(load_mem(f->bundle, f->len, &po, &p, &e),
        SLUICE_ETOOBIG);
    assert_non_null(strstr(e.message, "max_list_bytes"));
    /* and when building */
    po = trusting(NULL, 0, 0);
    po.max_bundle_bytes = 1000;
    bo.signer = f->sk;
    bo.policy = &po;
    assert_int_equal(sluice_bundle_build(&out, &len, f->baseline, &bo, &e),
        SLUICE_ETOOBIG);
    assert_null(out);
    po.max_bundle_bytes = 10;        /* less than a header */
    assert_int_equal(sluice_bundle_build(&out, &len, f->baseline, &bo, &e),
        SLUICE_ETOOBIG);
}

/* ------------------------------------------------------------------------
 * Building: refusals, files, inspecting
 * ---------------------------------------------------------------------- */

static void test_building_needs_a_secret_key_and_sources(void **state)
{
    fx *f = *state;
    sluice_bundle_options bo = SLUICE_BUNDLE_OPTIONS_INIT;
    sluice_error e;
    char *out = NULL, path[1100], bad[1100];
    size_t len = 0;

    memset(&e, 0, sizeof e);
    assert_int_equal(sluice_bundle_build(&out, &len, f->baseline, &bo, &e),
        SLUICE_EINVAL);
    bo.signer = f->pk;
    assert_int_equal(sluice_bundle_build(&out, &len, f->baseline, &bo, &e),
        SLUICE_EINVAL);
    assert_non_null(strstr(e.message, "secret policy key"));
    bo.signer = f->sk;
    bo.created = -5;
    assert_int_equal(sluice_bundle_build(&out, &len, f->baseline, &bo, &e),
        SLUICE_EINVAL);
    bo.created = T_CREATED;
    path_in(path, sizeof path, f->dir, "b.bundle");
    write_file(path, f->bundle, f->len);
    assert_int_equal(sluice_bundle_build(&out, &len, path, &bo, &e),
        SLUICE_EINVAL);
    assert_non_null(strstr(e.message, "a bundle already"));
    /* a policy that does not compile is not built */
    path_in(bad, sizeof bad, f->dir, "bad.yaml");
    {
        static const char y[] = "policy: x\nversion: 1\nrules:\n  - id: r\n"
            "    action: block\n    regex: 'a(b'\n";
        write_file(bad, y, sizeof y - 1);
    }
    assert_int_not_equal(sluice_bundle_build(&out, &len, bad, &bo, &e), 0);
    assert_null(out);
    assert_string_equal(e.file, bad);      /* as loading it would say */
    assert_int_equal(e.line, 6);
    assert_int_equal(unlink(bad), 0);
    assert_int_equal(unlink(path), 0);
}

static void test_a_policy_file_of_another_name_builds_and_loads(
    void **state)
{
    static const char yaml[] = "policy: named\nversion: 3\nrules:\n"
        "  - id: r\n    action: block\n    terms: [forbidden]\n";
    fx *f = *state;
    const sluice_key *trust[1] = { f->pk };
    sluice_policy_options po = trusting(trust, 1, 0);
    sluice_policy *p = NULL, *d = NULL;
    sluice_error e;
    char path[1100], *b;
    size_t len = 0;

    path_in(path, sizeof path, f->dir, "custom.yaml");
    write_file(path, yaml, sizeof yaml - 1);
    b = build_ok(path, f->sk, T_CREATED, &len);
    assert_int_equal(load_mem(b, len, &po, &p, &e), 0);
    assert_int_equal(sluice_policy_load(&d, path, NULL, &e), 0);
    assert_string_equal(sluice_policy_hash(p), sluice_policy_hash(d));
    assert_int_equal(sluice_policy_version(p), 3);
    sluice_policy_unref(p);
    sluice_policy_unref(d);
    free(b);
    assert_int_equal(unlink(path), 0);
}

static void test_write_then_open_shows_the_manifest(void **state)
{
    fx *f = *state;
    sluice_bundle_options bo = SLUICE_BUNDLE_OPTIONS_INIT;
    const sluice_key *keys[2] = { f->other_pk, f->pk }, *by = NULL;
    sluice_bundle *b = NULL;
    sluice_error e;
    char path[1100], hex[65];
    uint64_t size = 0;
    uint32_t id = 0;
    struct stat st;
    size_t i;

    path_in(path, sizeof path, f->dir, "w.bundle");
    bo.signer = f->sk;
    bo.created = T_CREATED;
    memset(&e, 0, sizeof e);
    assert_int_equal(sluice_bundle_write(path, f->baseline, &bo, &e), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal((size_t)st.st_size, f->len);
    assert_int_equal(sluice_bundle_open(&b, path, NULL, &e), 0);
    assert_string_equal(sluice_bundle_policy_id(b), f->src->id);
    assert_int_equal(sluice_bundle_policy_version(b), f->src->version);
    for (i = 0; i < 32; i++)
        (void)snprintf(hex + 2 * i, 3, "%02x", f->src->hash[i]);
    assert_string_equal(sluice_bundle_policy_hash(b), hex);
    assert_int_equal(sluice_bundle_created(b), T_CREATED);
    assert_string_equal(sluice_bundle_signer(b, &id), "policy-team");
    assert_int_equal(id, sluice_key_id(f->pk));
    assert_int_equal(sluice_bundle_size(b), f->len);
    assert_int_equal(sluice_bundle_format(b), 1);
    assert_int_equal(sluice_bundle_file_count(b), f->src->nfiles);
    for (i = 0; i < f->src->nfiles; i++)
        assert_string_equal(sluice_bundle_file(b, i, &size),
            f->src->files[i]);
    assert_null(sluice_bundle_file(b, i, &size));
    assert_int_equal(size, 0);
    assert_int_equal(sluice_bundle_verify(b, keys, 2, &by, &e), 0);
    assert_ptr_equal(by, f->pk);
    assert_int_equal(sluice_bundle_verify(b, keys, 1, &by, &e),
        SLUICE_EPOLICY);
    assert_null(by);
    assert_string_equal(e.file, path);
    sluice_bundle_free(b);
    sluice_bundle_free(NULL);
    /* rewriting replaces the file */
    bo.created = T_CREATED + 60;
    assert_int_equal(sluice_bundle_write(path, f->baseline, &bo, &e), 0);
    assert_int_equal(sluice_bundle_open(&b, path, NULL, &e), 0);
    assert_int_equal(sluice_bundle_created(b), T_CREATED + 60);
    sluice_bundle_free(b);
    assert_int_equal(unlink(path), 0);
}

static void test_opening_a_non_bundle_says_so(void **state)
{
    fx *f = *state;
    sluice_bundle *b = (sluice_bundle *)&b;
    sluice_error e;
    char path[1100];

    memset(&e, 0, sizeof e);
    path_in(path, sizeof path, f->baseline, "policy.yaml");
    assert_int_equal(sluice_bundle_open(&b, path, NULL, &e), SLUICE_EPOLICY);
    assert_null(b);
    assert_non_null(strstr(e.message, "not a Sluice policy bundle"));
    assert_int_equal(sluice_bundle_open(&b, f->baseline, NULL, &e),
        SLUICE_EIO);
    path_in(path, sizeof path, f->dir, "missing.bundle");
    assert_int_equal(sluice_bundle_open(&b, path, NULL, &e), SLUICE_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_bundle_loads_signed_with_its_directorys_hash),
        cmocka_unit_test(test_a_bundle_gives_the_verdicts_of_its_directory),
        cmocka_unit_test(test_a_bundle_verdict_says_signed_true),
        cmocka_unit_test(test_sluice_writes_exactly_the_documented_bytes),
        cmocka_unit_test(test_building_is_reproducible_for_a_fixed_time),
        cmocka_unit_test(
            test_another_key_is_refused_and_allow_unsigned_loads_unsigned),
        cmocka_unit_test(
            test_without_trust_keys_a_bundle_needs_allow_unsigned),
        cmocka_unit_test(test_any_of_several_trust_keys_may_sign),
        cmocka_unit_test(
            test_a_bundle_file_is_found_by_its_magic_not_its_name),
        cmocka_unit_test(test_every_changed_byte_is_refused),
        cmocka_unit_test(
            test_changed_bytes_never_load_signed_even_when_allowed),
        cmocka_unit_test(test_every_truncation_is_refused),
        cmocka_unit_test(test_a_byte_after_the_signature_is_refused),
        cmocka_unit_test(test_a_file_table_pointing_out_of_bounds_is_refused),
        cmocka_unit_test(
            test_a_signed_bundle_must_hold_exactly_the_files_read),
        cmocka_unit_test(test_a_signed_manifest_that_lies_is_refused),
        cmocka_unit_test(test_an_error_inside_a_bundle_names_the_file_in_it),
        cmocka_unit_test(
            test_a_signature_by_another_key_of_the_same_name_and_id_fails),
        cmocka_unit_test(
            test_a_directory_with_trust_keys_is_refused_unless_allowed),
        cmocka_unit_test(test_version_1_options_load_as_before),
        cmocka_unit_test(test_bad_trust_options_are_refused),
        cmocka_unit_test(test_limits_refuse_big_bundles_and_files),
        cmocka_unit_test(test_building_needs_a_secret_key_and_sources),
        cmocka_unit_test(test_a_policy_file_of_another_name_builds_and_loads),
        cmocka_unit_test(test_write_then_open_shows_the_manifest),
        cmocka_unit_test(test_opening_a_non_bundle_says_so),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
