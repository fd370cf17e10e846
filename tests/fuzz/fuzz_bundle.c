/*
 * fuzz_bundle.c - libFuzzer target for signed policy bundles
 * (rules/bundle.c; format in docs/bundles.md).
 *
 * Input: a bundle file (seeds: bundles of the shipped policies and test
 * fixtures, cut down, signed with the fuzz key of fuzz_common.h). Each run:
 *
 *   1. loads it with the fuzz key trusted and allow_unsigned off: it may
 *      load (signed) only if it is byte for byte a bundle the key signed;
 *   2. opens it for inspection (sluice_bundle_open, through a memfd path),
 *      reads every accessor, and checks the signature with
 *      sluice_bundle_verify, which must agree with 1;
 *   3. if 1 refused it, re-signs a copy with the fuzz key (so that
 *      mutations inside the manifest and files get past the signature)
 *      and loads that, trusted: the structure parser, the source parser
 *      and the manifest match see every mutation;
 *   4. if 3 refused it too, loads the input with allow_unsigned and no
 *      trust keys, which checks no signature (it may load: a mutated
 *      signer name makes 3 untrusted, not malformed).
 *
 * A policy compile costs a few hundred milliseconds (normalization
 * tables from ICU), so each run compiles at most once in the common case.
 *
 * Invariants: errors are negative SLUICE_E* codes with a one-line
 * message; a policy that loads signed says so and names the fuzz key; the
 * inspector and the loader agree on id, version and hash; the inspector's
 * file sizes add up to no more than the bundle.
 */
#include <sodium.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"

static sluice_key *verifier, *signer;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_REQUIRE(sodium_init() >= 0, "sodium");
    verifier = fuzz_key(0);
    signer = fuzz_key(1);
    return 0;
}

static sluice_policy_options limits(void)
{
    sluice_policy_options o = SLUICE_POLICY_OPTIONS_INIT;
    o.max_terms = 5000;
    o.max_rules = 500;
    o.max_list_bytes = 65536;
    o.max_bundle_bytes = 1 << 20;
    return o;
}

static int load(sluice_policy **p, const uint8_t *d, size_t n, int trusted)
{
    sluice_policy_options o = limits();
    const sluice_key *keys[1] = { verifier };
    sluice_error err;
    memset(&err, 0, sizeof err);
    if (trusted) {
        o.trust = keys;
        o.ntrust = 1;
    } else {
        o.allow_unsigned = 1;
    }
    int rc = sluice_policy_load_bundle(p, d, n, "fuzz.bundle", &o, &err);
    if (rc != 0) {
        FUZZ_CHECK(*p == NULL && rc < 0 && err.code == rc &&
            (rc == SLUICE_ENOMEM || err.message[0] != '\0'),
            "load failed with %d, err.code %d '%s'", rc, err.code,
            err.message);
        FUZZ_CHECK(strchr(err.message, '\n') == NULL, "newline in '%s'",
            err.message);
        return rc;
    }
    FUZZ_CHECK(sluice_policy_signed(*p) == trusted, "signed %d, trusted %d",
        sluice_policy_signed(*p), trusted);
    if (trusted) {
        uint32_t id = 0;
        const char *nm = sluice_policy_signer(*p, &id);
        FUZZ_CHECK(nm != NULL && strcmp(nm, "sluice-fuzz") == 0 &&
            id == sluice_key_id(verifier), "signer");
    }
    return 0;
}

/* Replace the last 64 bytes by the fuzz key's signature over the rest
   (docs/bundles.md, "The signature"). Needs a signer secret: done with
   libsodium from the key text, since sluice_key keeps its secret inside. */
static void reseal(uint8_t *b, size_t n)
{
    static unsigned char sk[64];
    static int have;
    unsigned char digest[32], msg[49];
    if (n < 64)
        return;
    if (!have) {
        const char *t = FUZZ_SIGNER_KEY;
        for (int plus = 0; plus < 4; plus++)     /* PRIVATE+KEY+NAME+ID+ */
            t = strchr(t, '+') + 1;
        unsigned char raw[33], pk[32];
        size_t rl = 0;
        FUZZ_REQUIRE(sodium_base642bin(raw, sizeof raw, t, strlen(t), NULL,
            &rl, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 && rl == 33,
            "key text");
        FUZZ_REQUIRE(crypto_sign_seed_keypair(pk, sk, raw + 1) == 0, "seed");
        have = 1;
    }
    FUZZ_REQUIRE(crypto_generichash(digest, 32, b, n - 64, NULL, 0) == 0,
        "blake2b");
    memcpy(msg, "sluice-bundle-v1", 16);
    msg[16] = 0;
    memcpy(msg + 17, digest, 32);
    FUZZ_REQUIRE(crypto_sign_detached(b + n - 64, NULL, msg, sizeof msg,
        sk) == 0, "sign");
}

/* Open and inspect; returns sluice_bundle_verify's result (or the open's
   error). */
static int inspect(const uint8_t *d, size_t n, const sluice_policy *loaded)
{
    sluice_policy_options o = limits();
    sluice_bundle *b = NULL;
    sluice_error err;
    char path[64];
    int fd = memfd_create("fuzz.bundle", 0);
    FUZZ_REQUIRE(fd >= 0, "memfd_create");
    FUZZ_REQUIRE(n == 0 || write(fd, d, n) == (ssize_t)n, "memfd write");
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rc = sluice_bundle_open(&b, path, &o, &err);
    (void)close(fd);   /* a memfd, already read */
    if (rc != 0) {
        FUZZ_CHECK(b == NULL && rc < 0 && err.code == rc, "open: %d", rc);
        FUZZ_CHECK(loaded == NULL, "a bundle that loads does not open: %s",
            err.message);
        return rc;
    }
    uint64_t total = 0, sz;
    size_t nf = sluice_bundle_file_count(b);
    FUZZ_CHECK(nf >= 1, "no files");
    for (size_t i = 0; i < nf; i++) {
        const char *f = sluice_bundle_file(b, i, &sz);
        FUZZ_CHECK(f != NULL && f[0] != '\0' && strstr(f, "..") != f,
            "file %zu", i);
        total += sz;
        FUZZ_CHECK(total <= n, "file sizes exceed the bundle");
    }
    FUZZ_CHECK(sluice_bundle_file(b, nf, NULL) == NULL, "file past the end");
    FUZZ_CHECK(sluice_bundle_size(b) == n && sluice_bundle_format(b) == 1,
        "size %llu of %zu", (unsigned long long)sluice_bundle_size(b), n);
    const char *h = sluice_bundle_policy_hash(b);
    FUZZ_CHECK(h != NULL && strlen(h) == 64, "hash");
    FUZZ_CHECK(sluice_bundle_policy_id(b) != NULL &&
        sluice_bundle_signer(b, NULL) != NULL, "manifest strings");
    if (loaded != NULL) {
        FUZZ_CHECK(strcmp(h, sluice_policy_hash(loaded)) == 0 &&
            strcmp(sluice_bundle_policy_id(b), sluice_policy_id(loaded)) == 0
            && sluice_bundle_policy_version(b) ==
            sluice_policy_version(loaded), "inspector and loader disagree");
    }
    const sluice_key *keys[1] = { verifier }, *by = NULL;
    rc = sluice_bundle_verify(b, keys, 1, &by, &err);
    FUZZ_CHECK(rc == 0 || rc == SLUICE_EPOLICY, "verify: %d", rc);
    FUZZ_CHECK(rc != 0 || by == verifier, "verified by another key");
    sluice_bundle_free(b);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sluice_policy *signd = NULL, *resealed = NULL, *plain = NULL;
    int rs = load(&signd, data, size, 1);
    int vs = inspect(data, size, signd);
    FUZZ_CHECK(rs != 0 || vs == 0, "loads signed, but its signature does "
        "not verify");
    FUZZ_CHECK(vs != 0 || rs == 0, "the signature verifies, but it does "
        "not load signed");
    int rr = -1;
    if (size >= 64 && rs != 0) {
        uint8_t *copy = malloc(size);
        FUZZ_REQUIRE(copy != NULL, "malloc");
        memcpy(copy, data, size);
        reseal(copy, size);
        rr = load(&resealed, copy, size, 1);
        free(copy);
    }
    /* Unsigned loading compiles whatever is well formed: only when the
       resealed load failed, so that most runs compile at most once. */
    if (rs != 0 && rr != 0) {
        int rp = load(&plain, data, size, 0);
        /* it may: a changed signer name or key id makes the re-signed
           copy untrusted, which allow_unsigned accepts */
        FUZZ_CHECK(rp != 0 || size < 64 || rr == SLUICE_EPOLICY,
            "loads unsigned, but re-signed fails with %d", rr);
    }
    sluice_policy_unref(plain);
    sluice_policy_unref(signd);
    sluice_policy_unref(resealed);
    return 0;
}
