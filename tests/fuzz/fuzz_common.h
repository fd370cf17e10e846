/*
 * fuzz_common.h - helpers shared by the libFuzzer targets in tests/fuzz/
 * and by their seed maker (fuzz_seeds.c): the fixed test key, where the
 * repository is, policies compiled from memory, a byte reader over the
 * fuzzer's input, and FUZZ_CHECK, which turns a broken invariant into a
 * crash that libFuzzer saves.
 *
 * The key below is a test key made once with `sluice keygen --name
 * sluice-fuzz`. It signs nothing outside the fuzzers: it is here so that
 * the seeds a run generates (bundles, ledgers, receipts) verify in the
 * next run, and so that a saved crash input reproduces anywhere.
 *
 * Everything is static: each target is one translation unit.
 */
#ifndef SLUICE_FUZZ_COMMON_H
#define SLUICE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "rules/bundle.h"
#include "rules/policy.h"

#ifndef FUZZ_ROOT
#define FUZZ_ROOT "."
#endif

static const char FUZZ_SIGNER_KEY[] =
    "PRIVATE+KEY+sluice-fuzz+eac44081+"
    "AQhfbIg1DKM72vG7gk6fkTGVXMxOl0BzM4A+B/08c23I";
static const char FUZZ_VERIFIER_KEY[] =
    "sluice-fuzz+eac44081+AVVq+3h2C8u3vAuApb0M+9SaGK0kKqn4Fccm4sJnD/Xi";

/* A broken invariant: print why and abort, so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...)                                               \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, \
                __LINE__, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* Setup that cannot fail in a sane environment: report and exit. */
#define FUZZ_REQUIRE(cond, what)                                            \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "fuzz setup failed: %s\n", (what));             \
            exit(2);                                                        \
        }                                                                   \
    } while (0)

/* The repository root: $SLUICE_ROOT, else where the build ran. */
static inline const char *fuzz_root(void)
{
    const char *r = getenv("SLUICE_ROOT");
    return r != NULL && r[0] != '\0' ? r : FUZZ_ROOT;
}

/* A path under the repository root, in buf. */
static inline const char *fuzz_path(char *buf, size_t size, const char *rel)
{
    int n = snprintf(buf, size, "%s/%s", fuzz_root(), rel);
    FUZZ_REQUIRE(n > 0 && (size_t)n < size, "path too long");
    return buf;
}

static inline sluice_key *fuzz_key(int signer)
{
    sluice_key *k = NULL;
    const char *t = signer ? FUZZ_SIGNER_KEY : FUZZ_VERIFIER_KEY;
    FUZZ_REQUIRE(sluice_key_parse(&k, t, strlen(t), NULL) == 0,
        "the fixed fuzz key does not parse");
    return k;
}

/*
 * Parse and compile a policy held in memory: files[0] is policy.yaml,
 * the rest its lists. Returns sluice_policy_load's codes; *out is the
 * caller's on success. `opts` may be NULL.
 */
static inline int fuzz_policy_mem(sluice_policy **out,
    const psrc_memfile *files, size_t nfiles,
    const sluice_policy_options *opts, sluice_error *err)
{
    psrc *src = NULL;
    psrc_io io;
    int rc;
    memset(&io, 0, sizeof io);
    io.files = files;
    io.nfiles = nfiles;
    *out = NULL;
    if ((rc = psrc_load_io(&src, "fuzz", &io, opts, err)) != 0)
        return rc;
    return policy_compile(out, src, err);   /* takes src */
}

/* One policy.yaml alone, from a C string. */
static inline sluice_policy *fuzz_policy_yaml(const char *yaml)
{
    sluice_policy *p = NULL;
    sluice_error err;
    psrc_memfile f = { "policy.yaml", (const unsigned char *)yaml,
        strlen(yaml) };
    if (fuzz_policy_mem(&p, &f, 1, NULL, &err) != 0) {
        fprintf(stderr, "fuzz policy: %s:%d: %s\n", err.file, err.line,
            err.message);
        exit(2);
    }
    return p;
}

/* A policy from the repository (a directory or a bundle). */
static inline sluice_policy *fuzz_policy_path(const char *rel)
{
    sluice_policy *p = NULL;
    sluice_error err;
    char path[4096];
    if (sluice_policy_load(&p, fuzz_path(path, sizeof path, rel), NULL,
            &err) != 0) {
        fprintf(stderr, "fuzz policy: %s:%d: %s\n", err.file, err.line,
            err.message);
        exit(2);
    }
    return p;
}

static inline sluice_engine *fuzz_engine(sluice_policy *p)
{
    sluice_engine *e = NULL;
    FUZZ_REQUIRE(sluice_engine_new(&e, NULL, NULL) == 0, "engine");
    FUZZ_REQUIRE(sluice_engine_set_policy(e, p) == 0, "set policy");
    return e;
}

/* 1 if s[0..n) is well-formed UTF-8 (no surrogates, overlongs, > U+10FFFF). */
static inline int fuzz_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1; cp = c & 0x1F; min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2; cp = c & 0x0F; min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Reading the fuzzer's input as a little program: bytes, then the rest. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

static inline unsigned fuzz_byte(fuzz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/* splitmix64: chunk lengths and the like from a seed taken from the input. */
static inline uint64_t fuzz_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
