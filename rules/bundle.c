/*
 * bundle.c - signed policy bundles: building one from policy sources,
 * reading and checking one, and loading the policy it holds.
 *
 * Format (docs/bundles.md has it byte by byte; all integers are
 * little-endian, except the key id, which keeps the byte order of signed
 * notes):
 *
 *   "SLUICEPB" | u32 format (1)
 *   u16 n + policy id | i64 policy version | 32-byte policy hash
 *   i64 created (Unix seconds) | u8 n + signer key name | 4-byte key id
 *   u32 file count | per file: u16 n + path, u64 size
 *   the files' bytes, back to back, in table order
 *   64-byte Ed25519 signature of  "sluice-bundle-v1\0" ||
 *                                 BLAKE2b-256(every byte before it)
 *
 * Design
 *   - Canonical: every field has exactly one encoding (lengths, not
 *     terminators; paths in the normal form psrc->files keeps; no padding,
 *     no trailing bytes; reserved values refused), so a bundle is one
 *     exact byte string and a changed byte is either a structural error
 *     or a signature that no longer verifies. No byte escapes the
 *     signature: the signature covers all bytes before it, and Ed25519 as
 *     libsodium verifies it is not malleable (a changed signature byte
 *     fails too).
 *   - Verify first, parse second: a bundle's structure is checked with a
 *     bounded cursor (ledger/bytes.h), then its signature against the
 *     trust keys, and only a bundle that may load is handed to the YAML
 *     parser, which reads the sources from the bundle's memory
 *     (psrc_load_io with a file table), never from the disk.
 *   - The sources are the policy's, nothing more or less: after parsing,
 *     the files the parser read must be the bundle's file table, in order,
 *     and the hash it computed (docs/policy-hash.md) the manifest's. So a
 *     bundle and its source directory give the same sluice_policy_hash.
 *   - Building captures the files through the parser's on_file hook: the
 *     bytes packed are the bytes parsed and hashed, read once. The
 *     finished bundle is then loaded (signature, parse, compile) before it
 *     is returned, so `sluice build` never writes a bundle that would not
 *     load.
 *   - The key id of the manifest is checked against the trust keys'
 *     name and id only to find the key; the signature decides. Several
 *     trust keys with the same name and id are all tried.
 *
 * Threads and state: no static mutable state; every call keeps its state
 * on its stack or in the objects it returns. A sluice_bundle is immutable.
 * Secrets: the signer's secret key is only read, in place, by
 * crypto_sign_detached; nothing here copies it.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "rules/bundle.h"
#include "rules/policy.h"
#include "ledger/key.h"

#define BUNDLE_MAGIC         "SLUICEPB"
#define BUNDLE_MAGIC_LEN     8
#define BUNDLE_FORMAT        1
#define BUNDLE_SIG_CONTEXT   "sluice-bundle-v1"   /* + its NUL: 17 bytes */
#define BUNDLE_SIG_CTX_LEN   17
#define BUNDLE_MSG_LEN       (BUNDLE_SIG_CTX_LEN + 32)
#define BUNDLE_SIG_BYTES     64
#define BUNDLE_ID_MAX        128
#define BUNDLE_PATH_MAX      4096
#define BUNDLE_MAX_FILES     65536
#define BUNDLE_ENTRY_MIN     11        /* u16 + 1 path byte + u64 */
#define BUNDLE_DEFAULT_MAX   ((size_t)256 << 20)
#define BUNDLE_DEFAULT_FILE  ((size_t)64 << 20)   /* = max_list_bytes */

/* ------------------------------------------------------------------------
 * Options: one shape whatever version the caller passed
 * ---------------------------------------------------------------------- */

typedef struct bopts {
    size_t max_bundle;
    size_t max_file;
    const sluice_key *const *trust;
    size_t ntrust;
    int allow_unsigned;
} bopts;

static int bopts_get(bopts *o, const sluice_policy_options *in,
    sluice_error *err)
{
    size_t i;

    memset(o, 0, sizeof *o);
    o->max_bundle = BUNDLE_DEFAULT_MAX;
    o->max_file = BUNDLE_DEFAULT_FILE;
    if (in == NULL)
        return 0;
    if (in->version < 1 || in->version > SLUICE_POLICY_OPTIONS_VERSION)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0, "unsupported "
            "sluice_policy_options version %u", in->version);
    if (in->max_list_bytes)
        o->max_file = in->max_list_bytes;
    if (in->version < 2)
        return 0;
    if (in->max_bundle_bytes)
        o->max_bundle = in->max_bundle_bytes;
    o->allow_unsigned = in->allow_unsigned != 0;
    o->trust = in->trust;
    o->ntrust = in->ntrust;
    if (o->ntrust > 0 && o->trust == NULL)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0, "sluice_policy_"
            "options: ntrust is %zu but trust is NULL", o->ntrust);
    for (i = 0; i < o->ntrust; i++) {
        sluice_key_kind kind;
        if (o->trust[i] == NULL)
            return psrc_error(err, SLUICE_EINVAL, NULL, 0, "sluice_policy_"
                "options: trust[%zu] is NULL", i);
        kind = sluice_key_type(o->trust[i]);
        if (kind != SLUICE_KEY_VERIFIER && kind != SLUICE_KEY_SIGNER)
            return psrc_error(err, SLUICE_EINVAL, NULL, 0, "trust key %zu "
                "('%s') is a digest key; trust keys are public keys "
                "(PREFIX.pub from sluice keygen)", i,
                sluice_key_name(o->trust[i]));
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Reading: the structure
 * ---------------------------------------------------------------------- */

/* A bundle's structure, checked. Pointers go into the bundle's bytes,
 * except the paths, which are NUL-terminated copies in `paths`. */
typedef struct bview {
    const unsigned char *data;
    size_t len;
    unsigned format;
    char id[BUNDLE_ID_MAX + 1];
    int64_t version;
    unsigned char hash[32];
    int64_t created;
    char key_name[NOTE_NAME_MAX + 1];
    uint32_t key_id;
    psrc_memfile *files;
    size_t nfiles;
    char *paths;
    size_t signed_len;       /* bytes covered by the signature */
    const unsigned char *sig;
} bview;

static void bview_free(bview *v)
{
    free(v->files);
    free(v->paths);
    memset(v, 0, sizeof *v);
}

static int truncated(sluice_error *err, const char *origin, const char *what,
    size_t len)
{
    return psrc_error(err, SLUICE_EPOLICY, origin, 0, "truncated bundle: "
        "it ends inside the %s (%zu bytes in all)", what, len);
}

static int malformed(sluice_error *err, const char *origin, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
static int malformed(sluice_error *err, const char *origin, const char *fmt,
    ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof msg, fmt, ap);   /* a cut only shortens */
    va_end(ap);
    return psrc_error(err, SLUICE_EPOLICY, origin, 0, "malformed bundle: %s",
        msg);
}

static int valid_policy_id(const unsigned char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > BUNDLE_ID_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

/* 1 if s[n] is well-formed UTF-8 without control characters. */
static int clean_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0, k, need;

    while (i < n) {
        unsigned char b = s[i], lo = 0x80, hi = 0xBF;
        if (b < 0x80) {
            if (b < 0x20 || b == 0x7F)
                return 0;
            i++;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF)
            need = 1;
        else if (b >= 0xE0 && b <= 0xEF)
            need = 2;
        else if (b >= 0xF0 && b <= 0xF4)
            need = 3;
        else
            return 0;
        lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
        hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
        if (n - i <= need || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

/*
 * Why path s[n] is not one the parser could have read (NULL if it is):
 * relative, '/'-separated, no empty, '.' or '..' segment, clean UTF-8;
 * the policy file (first) has no directory part.
 */
static const char *path_problem(const unsigned char *s, size_t n, int first)
{
    size_t i = 0;

    if (n == 0)
        return "is empty";
    if (!clean_utf8(s, n))
        return "is not UTF-8 without control characters";
    if (first && memchr(s, '/', n) != NULL)
        return "(the policy file) is not at the top of the policy";
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        if (j == i || (j - i == 1 && s[i] == '.'))
            return "is not in normal form (an empty or '.' segment)";
        if (j - i == 2 && s[i] == '.' && s[i + 1] == '.')
            return "leaves the policy directory ('..')";
        i = j + 1;
    }
    return NULL;
}

/* The manifest up to the file count. */
static int parse_head(bview *v, lcur *c, const char *origin,
    sluice_error *err)
{
    const unsigned char *s;
    uint64_t u;
    size_t n;

    v->format = lcur_u32(c);
    if (c->bad)
        return truncated(err, origin, "format version", v->len);
    if (v->format != BUNDLE_FORMAT)
        return psrc_error(err, SLUICE_EPOLICY, origin, 0, "bundle format "
            "version %u is not supported (this Sluice reads version %d)",
            v->format, BUNDLE_FORMAT);
    n = lcur_u16(c);
    if ((s = lcur_take(c, n)) == NULL)
        return truncated(err, origin, "policy id", v->len);
    if (!valid_policy_id(s, n))
        return malformed(err, origin, "the policy id is not 1 to %d of "
            "[A-Za-z0-9._-]", BUNDLE_ID_MAX);
    memcpy(v->id, s, n);
    v->id[n] = '\0';
    u = lcur_u64(c);
    if ((s = lcur_take(c, 32)) == NULL)
        return truncated(err, origin, "policy version and hash", v->len);
    if (u > (uint64_t)INT64_MAX)
        return malformed(err, origin, "negative policy version");
    v->version = (int64_t)u;
    memcpy(v->hash, s, 32);
    u = lcur_u64(c);
    n = lcur_u8(c);
    if ((s = lcur_take(c, n)) == NULL)
        return truncated(err, origin, "creation time and signer name",
            v->len);
    if (u > (uint64_t)INT64_MAX)
        return malformed(err, origin, "negative creation time");
    v->created = (int64_t)u;
    if (!note_name_valid((const char *)s, n))
        return malformed(err, origin, "the signer key name is not 1 to %d "
            "printable ASCII characters without '+'", NOTE_NAME_MAX);
    memcpy(v->key_name, s, n);
    v->key_name[n] = '\0';
    if ((s = lcur_take(c, 4)) == NULL)
        return truncated(err, origin, "signer key id", v->len);
    v->key_id = ((uint32_t)s[0] << 24) | ((uint32_t)s[1] << 16) |
        ((uint32_t)s[2] << 8) | s[3];
    return 0;
}

/*
 * The file table: check every entry (first pass, counting path bytes),
 * then copy the paths and point each file at its bytes. On return
 * c->off is the start of the file data and *total their sum.
 */
static int parse_table(bview *v, lcur *c, const bopts *o, const char *origin,
    sluice_error *err, uint64_t *total)
{
    size_t start, i, pbytes = 0, off;
    uint64_t sum = 0;
    char *w;

    v->nfiles = lcur_u32(c);
    if (c->bad)
        return truncated(err, origin, "file count", v->len);
    if (v->nfiles == 0 || v->nfiles > BUNDLE_MAX_FILES)
        return malformed(err, origin, "%zu files (1 to %d allowed)",
            v->nfiles, BUNDLE_MAX_FILES);
    if (v->nfiles > (c->len - c->off) / BUNDLE_ENTRY_MIN)
        return truncated(err, origin, "file table", v->len);
    start = c->off;
    for (i = 0; i < v->nfiles; i++) {
        size_t n = lcur_u16(c);
        const unsigned char *s = lcur_take(c, n);
        uint64_t size = lcur_u64(c);
        const char *why;
        if (c->bad)
            return truncated(err, origin, "file table", v->len);
        if ((why = path_problem(s, n, i == 0)) != NULL)
            return malformed(err, origin, "file %zu: its path %s", i + 1,
                why);
        if (n > BUNDLE_PATH_MAX)
            return malformed(err, origin, "file %zu: path over %d bytes",
                i + 1, BUNDLE_PATH_MAX);
        if (size > o->max_file)
            return psrc_error(err, SLUICE_ETOOBIG, origin, 0, "file %zu "
                "('%.*s') is %" PRIu64 " bytes, over the limit of %zu "
                "(max_list_bytes)", i + 1, (int)n, (const char *)s, size,
                o->max_file);
        if (size > v->len - sum)
            return truncated(err, origin, "file data", v->len);
        sum += size;
        pbytes += n + 1;
    }
    if ((v->files = calloc(v->nfiles, sizeof *v->files)) == NULL ||
        (v->paths = malloc(pbytes)) == NULL)
        return psrc_error(err, SLUICE_ENOMEM, NULL, 0,
            "out of memory while reading the bundle");
    off = c->off;
    for (i = 0, w = v->paths, c->off = start; i < v->nfiles; i++) {
        size_t n = lcur_u16(c);
        memcpy(w, lcur_take(c, n), n);
        w[n] = '\0';
        v->files[i].path = w;
        v->files[i].len = (size_t)lcur_u64(c);
        w += n + 1;
    }
    assert(c->off == off && !c->bad);
    *total = sum;
    return 0;
}

/*
 * Check the structure of data[len] (borrowed; v points into it) against
 * the limits in o. Errors name `origin`. On error v is freed.
 */
static int bview_parse(bview *v, const unsigned char *data, size_t len,
    const bopts *o, const char *origin, sluice_error *err)
{
    lcur c = { data, len, 0, 0 };
    uint64_t total = 0;
    size_t i, at;
    int rc;

    memset(v, 0, sizeof *v);
    v->data = data;
    v->len = len;
    if (len > o->max_bundle)
        return psrc_error(err, SLUICE_ETOOBIG, origin, 0, "bundle is %zu "
            "bytes, over the limit of %zu (max_bundle_bytes)", len,
            o->max_bundle);
    if (len < BUNDLE_MAGIC_LEN || memcmp(data, BUNDLE_MAGIC,
            BUNDLE_MAGIC_LEN) != 0)
        return psrc_error(err, SLUICE_EPOLICY, origin, 0, "not a Sluice "
            "policy bundle (it does not start with \"" BUNDLE_MAGIC "\")");
    c.off = BUNDLE_MAGIC_LEN;
    if ((rc = parse_head(v, &c, origin, err)) != 0 ||
        (rc = parse_table(v, &c, o, origin, err, &total)) != 0)
        goto fail;
    at = c.off;
    if (total + BUNDLE_SIG_BYTES > len - at) {
        rc = truncated(err, origin, total > len - at ? "file data" :
            "signature", len);
        goto fail;
    }
    if (total + BUNDLE_SIG_BYTES < len - at) {
        rc = malformed(err, origin, "%" PRIu64 " bytes after the "
            "signature", (uint64_t)(len - at) - total - BUNDLE_SIG_BYTES);
        goto fail;
    }
    for (i = 0; i < v->nfiles; i++) {
        v->files[i].data = data + at;
        at += v->files[i].len;
    }
    v->signed_len = at;
    v->sig = data + at;
    return 0;
fail:
    bview_free(v);
    return rc;
}

/* ------------------------------------------------------------------------
 * Signatures and trust
 * ---------------------------------------------------------------------- */

/* The message signed: the context string, its NUL, the digest. */
static int sig_message(unsigned char msg[BUNDLE_MSG_LEN],
    const unsigned char *data, size_t n)
{
    memcpy(msg, BUNDLE_SIG_CONTEXT, BUNDLE_SIG_CTX_LEN);
    return crypto_generichash(msg + BUNDLE_SIG_CTX_LEN, 32, data, n, NULL, 0);
}

enum { TRUST_OK = 0, TRUST_UNKNOWN = 1, TRUST_BAD = 2 };

/*
 * Which of keys[n] signed the bundle: TRUST_OK (*by set), TRUST_UNKNOWN
 * (no key has the signer's name and id) or TRUST_BAD (one has, and the
 * signature does not verify under any of them); -1 if hashing failed.
 */
static int trust_check(const bview *v, const sluice_key *const *keys,
    size_t n, const sluice_key **by)
{
    unsigned char msg[BUNDLE_MSG_LEN];
    int matched = 0;
    size_t i;

    *by = NULL;
    if (sig_message(msg, v->data, v->signed_len) != 0)
        return -1;
    for (i = 0; i < n; i++) {
        const sluice_key *k = keys[i];
        if (k == NULL || (k->kind != SLUICE_KEY_VERIFIER &&
                k->kind != SLUICE_KEY_SIGNER) || k->nk.id != v->key_id ||
            strcmp(k->nk.name, v->key_name) != 0)
            continue;
        matched = 1;
        if (crypto_sign_verify_detached(v->sig, msg, sizeof msg,
                k->nk.pk) == 0) {
            *by = k;
            return TRUST_OK;
        }
    }
    return matched ? TRUST_BAD : TRUST_UNKNOWN;
}

/* "'a' (id 0123abcd), 'b' (...)" for messages; cut short if need be. */
static void key_list(char *buf, size_t cap, const sluice_key *const *keys,
    size_t n)
{
    size_t used = 0, i;

    buf[0] = '\0';
    for (i = 0; i < n && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s'%s' (id %08" PRIx32 ")",
            i ? ", " : "", sluice_key_name(keys[i]), sluice_key_id(keys[i]));
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* The refusal for a bundle that trust_check did not accept. */
static int refuse(const bview *v, int t, const bopts *o, const char *origin,
    sluice_error *err)
{
    char keys[200];

    if (t < 0)
        return psrc_error(err, SLUICE_EINTERNAL, origin, 0,
            "BLAKE2b failed while checking the bundle signature");
    if (t == TRUST_BAD)
        return psrc_error(err, SLUICE_EPOLICY, origin, 0, "bad bundle "
            "signature: trusted key '%s' (id %08" PRIx32 ") does not "
            "verify it, so the bundle was changed after it was signed (or "
            "signed by another key of the same name and id)", v->key_name,
            v->key_id);
    if (o->ntrust == 0)
        return psrc_error(err, SLUICE_EPOLICY, origin, 0, "bundle signed by "
            "key '%s' (id %08" PRIx32 ") and no trust keys were given to "
            "check it: give its public key (--trust KEY.pub), or allow "
            "unsigned policies for development (--allow-unsigned)",
            v->key_name, v->key_id);
    key_list(keys, sizeof keys, o->trust, o->ntrust);
    return psrc_error(err, SLUICE_EPOLICY, origin, 0, "untrusted bundle: "
        "signed by key '%s' (id %08" PRIx32 "), which is not a trusted key "
        "(trusted: %s)", v->key_name, v->key_id, keys);
}

/* ------------------------------------------------------------------------
 * Loading
 * ---------------------------------------------------------------------- */

/* The parsed sources must be the bundle's: same files in the same order,
 * same hash, id and version as the manifest says. */
static int bview_match(const bview *v, const psrc *src, const char *origin,
    sluice_error *err)
{
    size_t i;

    for (i = 0; i < v->nfiles || i < src->nfiles; i++) {
        if (i >= src->nfiles)
            return malformed(err, origin, "it holds '%s', which the policy "
                "does not read", v->files[i].path);
        if (i >= v->nfiles || strcmp(v->files[i].path, src->files[i]) != 0)
            return malformed(err, origin, "file %zu is '%s' but the policy "
                "reads '%s' there (files come in the order they are read)",
                i + 1, i < v->nfiles ? v->files[i].path : "(none)",
                src->files[i]);
    }
    if (memcmp(v->hash, src->hash, sizeof v->hash) != 0)
        return malformed(err, origin, "the manifest's policy hash is not "
            "the hash of the files it holds");
    if (strcmp(v->id, src->id) != 0 || v->version != src->version)
        return malformed(err, origin, "the manifest names policy '%s' "
            "version %" PRId64 " but the sources say '%s' version %" PRId64,
            v->id, v->version, src->id, src->version);
    return 0;
}

int bundle_load_mem(sluice_policy **out, const char *origin,
    const unsigned char *data, size_t len, const sluice_policy_options *opts,
    sluice_error *err)
{
    const sluice_key *by = NULL;
    psrc *src = NULL;
    psrc_io io;
    bopts o;
    bview v;
    int rc, t;

    assert(out != NULL && origin != NULL && (data != NULL || len == 0));
    *out = NULL;
    memset(&v, 0, sizeof v);
    if (sodium_init() < 0)
        return psrc_error(err, SLUICE_EINTERNAL, NULL, 0,
            "libsodium failed to initialize");
    if ((rc = bopts_get(&o, opts, err)) != 0 ||
        (rc = bview_parse(&v, data, len, &o, origin, err)) != 0)
        return rc;
    t = trust_check(&v, o.trust, o.ntrust, &by);
    if (t != TRUST_OK && (t != TRUST_UNKNOWN || !o.allow_unsigned)) {
        rc = refuse(&v, t, &o, origin, err);
        goto done;
    }
    memset(&io, 0, sizeof io);
    io.files = v.files;
    io.nfiles = v.nfiles;
    if ((rc = psrc_load_io(&src, origin, &io, opts, err)) != 0 ||
        (rc = bview_match(&v, src, origin, err)) != 0)
        goto done;
    rc = policy_compile(out, src, err);
    src = NULL;                       /* taken, freed on failure */
    if (rc == 0 && t == TRUST_OK) {
        (*out)->is_signed = 1;
        (void)snprintf((*out)->signer, sizeof (*out)->signer, "%s",
            by->nk.name);
        (*out)->signer_id = by->nk.id;
    }
done:
    psrc_free(src);
    bview_free(&v);
    return rc;
}

/* Read regular file `path` whole (at most `max` bytes) into *out. */
static int read_bundle(const char *path, size_t max, unsigned char **out,
    size_t *len, sluice_error *err)
{
    struct stat st;
    unsigned char *buf = NULL, extra;
    size_t got = 0;
    int fd, rc = 0, eno = 0;

    *out = NULL;
    *len = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return psrc_error(err, SLUICE_EIO, path, 0, "cannot read bundle: %s",
            strerror(errno));
    if (fstat(fd, &st) != 0) {
        eno = errno;
        rc = psrc_error(err, SLUICE_EIO, path, 0, "cannot read bundle: %s",
            strerror(eno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = psrc_error(err, SLUICE_EIO, path, 0, "cannot read bundle: not "
            "a regular file");
        goto done;
    }
    if ((uint64_t)st.st_size > (uint64_t)max) {
        rc = psrc_error(err, SLUICE_ETOOBIG, path, 0, "bundle is %llu bytes, "
            "over the limit of %zu (max_bundle_bytes)",
            (unsigned long long)st.st_size, max);
        goto done;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        rc = psrc_error(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
        goto done;
    }
    while (got < (size_t)st.st_size + 1) {
        ssize_t r = read(fd, got < (size_t)st.st_size ? buf + got : &extra,
            got < (size_t)st.st_size ? (size_t)st.st_size - got : 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = psrc_error(err, SLUICE_EIO, path, 0, "cannot read bundle: "
                "%s", strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got != (size_t)st.st_size) {
        rc = psrc_error(err, SLUICE_EIO, path, 0, "cannot read bundle: it "
            "changed while being read");
        goto done;
    }
    *out = buf;
    *len = got;
    buf = NULL;
done:
    free(buf);
    (void)close(fd);       /* read-only: nothing to lose */
    return rc;
}

int bundle_load_file(sluice_policy **out, const char *path,
    const sluice_policy_options *opts, sluice_error *err)
{
    unsigned char *data = NULL;
    size_t len = 0;
    bopts o;
    int rc;

    *out = NULL;
    if ((rc = bopts_get(&o, opts, err)) != 0 ||
        (rc = read_bundle(path, o.max_bundle, &data, &len, err)) != 0)
        return rc;
    rc = bundle_load_mem(out, path, data, len, opts, err);
    free(data);
    return rc;
}

int bundle_sniff(const char *path)
{
    char head[BUNDLE_MAGIC_LEN];
    struct stat st;
    size_t got = 0;
    int fd;

    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
        (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    while (got < sizeof head) {
        ssize_t r = read(fd, head + got, sizeof head - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    (void)close(fd);
    return got == sizeof head && memcmp(head, BUNDLE_MAGIC, got) == 0;
}

int bundle_check_unsigned(const char *path, const sluice_policy_options *opts,
    sluice_error *err)
{
    struct stat st;
    bopts o;
    int rc;

    if ((rc = bopts_get(&o, opts, err)) != 0)
        return rc;
    if (o.ntrust == 0 || o.allow_unsigned || stat(path, &st) != 0)
        return 0;                /* a missing path: the parser says so */
    return psrc_error(err, SLUICE_EPOLICY, path, 0, "refusing unsigned "
        "policy sources: trust keys were given, so only a bundle signed by "
        "one of them loads (build one with 'sluice build --sign'), unless "
        "unsigned policies are allowed (--allow-unsigned)");
}

int sluice_policy_load_bundle(sluice_policy **out, const void *data,
    size_t len, const char *name, const sluice_policy_options *opts,
    sluice_error *err)
{
    if (out == NULL || (data == NULL && len > 0))
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_policy_load_bundle: out and data are required");
    *out = NULL;
    return bundle_load_mem(out, name != NULL ? name : "bundle",
        (const unsigned char *)data, len, opts, err);
}

/* ------------------------------------------------------------------------
 * Building
 * ---------------------------------------------------------------------- */

/* The sources as the parser read them, in order (the on_file hook). */
typedef struct capture {
    psrc_memfile *f;        /* path and data malloc'd */
    size_t n, cap;
} capture;

static int capture_file(void *payload, const char *rel,
    const unsigned char *data, size_t len)
{
    capture *c = payload;
    char *path;
    unsigned char *copy;
    size_t plen = strlen(rel);

    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        psrc_memfile *f = realloc(c->f, cap * sizeof *f);
        if (f == NULL)
            return -1;
        c->f = f;
        c->cap = cap;
    }
    if ((path = malloc(plen + 1)) == NULL)
        return -1;
    if ((copy = malloc(len ? len : 1)) == NULL) {
        free(path);
        return -1;
    }
    memcpy(path, rel, plen + 1);
    if (len > 0)
        memcpy(copy, data, len);
    c->f[c->n].path = path;
    c->f[c->n].data = copy;
    c->f[c->n].len = len;
    c->n++;
    return 0;
}

static void capture_free(capture *c)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        free((char *)c->f[i].path);
        free((unsigned char *)c->f[i].data);
    }
    free(c->f);
}

/* A writer over a buffer sized beforehand (so it cannot overflow). */
typedef struct bw {
    unsigned char *p;
    size_t off;
} bw;

static void bw_put(bw *w, const void *s, size_t n)
{
    if (n > 0)
        memcpy(w->p + w->off, s, n);
    w->off += n;
}

static void bw_u64(bw *w, uint64_t v)
{
    le64_put(w->p + w->off, v);
    w->off += 8;
}

static void bw_u32(bw *w, uint32_t v)
{
    le32_put(w->p + w->off, v);
    w->off += 4;
}

static void bw_u16(bw *w, uint16_t v)
{
    le16_put(w->p + w->off, v);
    w->off += 2;
}

/*
 * Encode and sign the bundle of `src` (whose files are in cap) into a
 * malloc'd *out of *len bytes.
 */
static int encode(const psrc *src, const capture *cap, const sluice_key *k,
    int64_t created, const bopts *o, const char *policy, unsigned char **out,
    size_t *len, sluice_error *err)
{
    unsigned char msg[BUNDLE_MSG_LEN], kid[4];
    size_t total, i, idlen = strlen(src->id), nlen = strlen(k->nk.name);
    bw w = { NULL, 0 };

    if (cap->n != src->nfiles)
        return psrc_error(err, SLUICE_EINTERNAL, policy, 0, "the parser "
            "reported %zu files but read %zu", src->nfiles, cap->n);
    if (cap->n == 0 || cap->n > BUNDLE_MAX_FILES)
        return psrc_error(err, SLUICE_EINVAL, policy, 0, "a bundle holds 1 "
            "to %d files, the policy reads %zu", BUNDLE_MAX_FILES, cap->n);
    /* invariant in the loop: total <= max_bundle */
    total = BUNDLE_MAGIC_LEN + 4 + 2 + idlen + 8 + 32 + 8 + 1 + nlen + 4 + 4 +
        BUNDLE_SIG_BYTES;
    if (total > o->max_bundle)
        goto toobig;
    for (i = 0; i < cap->n; i++) {
        size_t plen = strlen(cap->f[i].path), add = 2 + plen + 8;
        if (plen > BUNDLE_PATH_MAX)
            return psrc_error(err, SLUICE_EINVAL, policy, 0, "file path "
                "'%s' is over %d bytes", cap->f[i].path, BUNDLE_PATH_MAX);
        if (add > o->max_bundle - total ||
            cap->f[i].len > o->max_bundle - total - add)
            goto toobig;
        total += add + cap->f[i].len;
    }
    if ((w.p = malloc(total)) == NULL)
        return psrc_error(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
    bw_put(&w, BUNDLE_MAGIC, BUNDLE_MAGIC_LEN);
    bw_u32(&w, BUNDLE_FORMAT);
    bw_u16(&w, (uint16_t)idlen);
    bw_put(&w, src->id, idlen);
    bw_u64(&w, (uint64_t)src->version);
    bw_put(&w, src->hash, 32);
    bw_u64(&w, (uint64_t)created);
    w.p[w.off++] = (unsigned char)nlen;
    bw_put(&w, k->nk.name, nlen);
    kid[0] = (unsigned char)(k->nk.id >> 24);
    kid[1] = (unsigned char)(k->nk.id >> 16);
    kid[2] = (unsigned char)(k->nk.id >> 8);
    kid[3] = (unsigned char)k->nk.id;
    bw_put(&w, kid, 4);
    bw_u32(&w, (uint32_t)cap->n);
    for (i = 0; i < cap->n; i++) {
        bw_u16(&w, (uint16_t)strlen(cap->f[i].path));
        bw_put(&w, cap->f[i].path, strlen(cap->f[i].path));
        bw_u64(&w, (uint64_t)cap->f[i].len);
    }
    for (i = 0; i < cap->n; i++)
        bw_put(&w, cap->f[i].data, cap->f[i].len);
    assert(w.off == total - BUNDLE_SIG_BYTES);
    if (sig_message(msg, w.p, w.off) != 0 ||
        crypto_sign_detached(w.p + w.off, NULL, msg, sizeof msg,
            k->nk.sk) != 0) {
        free(w.p);
        return psrc_error(err, SLUICE_EINTERNAL, NULL, 0,
            "signing the bundle failed");
    }
    *out = w.p;
    *len = total;
    return 0;
toobig:
    return psrc_error(err, SLUICE_ETOOBIG, policy, 0, "the bundle would be "
        "over the limit of %zu bytes (max_bundle_bytes)", o->max_bundle);
}

/* Load the new bundle as a user will, trusting only its signer. `dir`
 * (the sources' directory) names it, so that an error found only now (a
 * regex that does not compile) reads as it would for the directory. */
static int self_check(const unsigned char *data, size_t len,
    const char *dir, const sluice_key *k, const bopts *o, const psrc *src,
    sluice_error *err)
{
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    const sluice_key *trust[1];
    sluice_policy *p = NULL;
    int rc;

    trust[0] = k;
    po.max_list_bytes = o->max_file;
    po.max_bundle_bytes = o->max_bundle;
    po.trust = trust;
    po.ntrust = 1;
    if ((rc = bundle_load_mem(&p, dir, data, len, &po, err)) != 0)
        return rc;
    if (!p->is_signed || memcmp(p->src->hash, src->hash, 32) != 0)
        rc = psrc_error(err, SLUICE_EINTERNAL, dir, 0, "the bundle built "
            "does not load as signed with the same hash");
    sluice_policy_unref(p);
    return rc;
}

/* Copy the limit fields of a caller's options into a version 1 struct,
 * whatever version the caller's is (the parser reads no more). */
static sluice_policy_options parse_opts(const sluice_policy_options *in)
{
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;

    if (in != NULL) {
        po.max_terms = in->max_terms;
        po.max_list_bytes = in->max_list_bytes;
        po.max_rules = in->max_rules;
    }
    return po;
}

int sluice_bundle_build(char **out, size_t *len, const char *policy,
    const sluice_bundle_options *opts, sluice_error *err)
{
    sluice_policy_options po;
    const sluice_key *k;
    unsigned char *data = NULL;
    capture cap = { NULL, 0, 0 };
    psrc *src = NULL;
    psrc_io io;
    int64_t created;
    bopts o;
    int rc;

    if (out == NULL || len == NULL || policy == NULL || opts == NULL)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0, "sluice_bundle_build:"
            " out, len, policy and opts are required");
    *out = NULL;
    *len = 0;
    if (opts->version != SLUICE_BUNDLE_OPTIONS_VERSION)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0, "sluice_bundle_"
            "options.version is %u, expected %d", opts->version,
            SLUICE_BUNDLE_OPTIONS_VERSION);
    k = opts->signer;
    if (sluice_key_type(k) != SLUICE_KEY_SIGNER)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0, "a bundle is signed "
            "with a secret policy key (PREFIX.key from sluice keygen)%s",
            k == NULL ? "; none was given" : ", not a public or digest key");
    created = opts->created;
    if (created == SLUICE_BUNDLE_CREATED_NOW)
        created = (int64_t)time(NULL);
    if (created < 0)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0, "the creation time "
            "must be Unix seconds >= 0, got %" PRId64, opts->created);
    if ((rc = bopts_get(&o, opts->policy, err)) != 0)
        return rc;
    if (bundle_sniff(policy))
        return psrc_error(err, SLUICE_EINVAL, policy, 0, "this is a bundle "
            "already; build from the policy's sources (its directory)");
    if (sodium_init() < 0)
        return psrc_error(err, SLUICE_EINTERNAL, NULL, 0,
            "libsodium failed to initialize");
    memset(&io, 0, sizeof io);
    io.on_file = capture_file;
    io.payload = &cap;
    po = parse_opts(opts->policy);
    if ((rc = psrc_load_io(&src, policy, &io, &po, err)) != 0 ||
        (rc = encode(src, &cap, k, created, &o, policy, &data, len,
            err)) != 0 ||
        (rc = self_check(data, *len, src->dir, k, &o, src, err)) != 0) {
        free(data);
        data = NULL;
        *len = 0;
    }
    *out = (char *)data;
    psrc_free(src);
    capture_free(&cap);
    return rc;
}

/* Sync the directory holding `path`, so that a rename in it lasts. */
static int sync_parent(const char *path, sluice_error *err)
{
    size_t cut = strlen(path);
    char *dir;
    int dfd, rc = 0;

    while (cut > 0 && path[cut - 1] != '/')
        cut--;
    if ((dir = cut == 0 ? strdup(".") : strndup(path, cut)) == NULL)
        return psrc_error(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        fsync(dfd) != 0)
        rc = psrc_error(err, SLUICE_EIO, path, 0, "written, but its "
            "directory could not be synced: %s", strerror(errno));
    if (dfd >= 0)
        (void)close(dfd);     /* synced, or the failure is reported */
    free(dir);
    return rc;
}

/* Write data[len] to `path` through a synced temporary file + rename. */
static int write_atomic(const char *path, const unsigned char *data,
    size_t len, sluice_error *err)
{
    size_t plen = strlen(path), off = 0;
    char *tmp = malloc(plen + 12);
    int fd, rc;

    if (tmp == NULL)
        return psrc_error(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmpXXXXXX", 11);
    if ((fd = mkstemp(tmp)) < 0) {
        rc = psrc_error(err, SLUICE_EIO, path, 0, "cannot create a file "
            "beside it: %s", strerror(errno));
        free(tmp);
        return rc;
    }
    if (fchmod(fd, 0644) != 0)
        goto ioerr;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto ioerr;
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto ioerr;
    rc = close(fd);
    fd = -1;
    if (rc != 0 || rename(tmp, path) != 0)
        goto ioerr;
    free(tmp);
    return sync_parent(path, err);
ioerr:
    rc = psrc_error(err, SLUICE_EIO, path, 0, "cannot write the bundle: %s",
        strerror(errno));
    if (fd >= 0)
        (void)close(fd);      /* the file is removed anyway */
    (void)unlink(tmp);        /* best effort: it may not exist */
    free(tmp);
    return rc;
}

int sluice_bundle_write(const char *path, const char *policy,
    const sluice_bundle_options *opts, sluice_error *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc;

    if (path == NULL)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_bundle_write: an output path is required");
    if ((rc = sluice_bundle_build(&data, &len, policy, opts, err)) != 0)
        return rc;
    rc = write_atomic(path, (const unsigned char *)data, len, err);
    free(data);
    return rc;
}

/* ------------------------------------------------------------------------
 * Inspecting: sluice_bundle
 * ---------------------------------------------------------------------- */

struct sluice_bundle {
    char *path;              /* as opened, for messages */
    unsigned char *data;
    size_t len;
    bview v;                 /* points into data */
    char hash_hex[65];
};

int sluice_bundle_open(sluice_bundle **out, const char *path,
    const sluice_policy_options *opts, sluice_error *err)
{
    static const char hex[] = "0123456789abcdef";
    sluice_bundle *b;
    bopts o;
    int rc;
    size_t i;

    if (out == NULL || path == NULL)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_bundle_open: out and path are required");
    *out = NULL;
    if ((rc = bopts_get(&o, opts, err)) != 0)
        return rc;
    if ((b = calloc(1, sizeof *b)) == NULL ||
        (b->path = strdup(path)) == NULL) {
        free(b);
        return psrc_error(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
    }
    if ((rc = read_bundle(path, o.max_bundle, &b->data, &b->len, err)) != 0 ||
        (rc = bview_parse(&b->v, b->data, b->len, &o, path, err)) != 0) {
        sluice_bundle_free(b);
        return rc;
    }
    for (i = 0; i < 32; i++) {
        b->hash_hex[2 * i] = hex[b->v.hash[i] >> 4];
        b->hash_hex[2 * i + 1] = hex[b->v.hash[i] & 15];
    }
    b->hash_hex[64] = '\0';
    *out = b;
    return 0;
}

void sluice_bundle_free(sluice_bundle *b)
{
    if (b == NULL)
        return;
    bview_free(&b->v);
    free(b->data);
    free(b->path);
    free(b);
}

const char *sluice_bundle_policy_id(const sluice_bundle *b)
{
    return b != NULL ? b->v.id : NULL;
}

int64_t sluice_bundle_policy_version(const sluice_bundle *b)
{
    return b != NULL ? b->v.version : -1;
}

const char *sluice_bundle_policy_hash(const sluice_bundle *b)
{
    return b != NULL ? b->hash_hex : NULL;
}

int64_t sluice_bundle_created(const sluice_bundle *b)
{
    return b != NULL ? b->v.created : -1;
}

const char *sluice_bundle_signer(const sluice_bundle *b, uint32_t *id)
{
    if (id != NULL)
        *id = b != NULL ? b->v.key_id : 0;
    return b != NULL ? b->v.key_name : NULL;
}

uint64_t sluice_bundle_size(const sluice_bundle *b)
{
    return b != NULL ? (uint64_t)b->len : 0;
}

unsigned sluice_bundle_format(const sluice_bundle *b)
{
    return b != NULL ? b->v.format : 0;
}

size_t sluice_bundle_file_count(const sluice_bundle *b)
{
    return b != NULL ? b->v.nfiles : 0;
}

const char *sluice_bundle_file(const sluice_bundle *b, size_t i,
    uint64_t *size)
{
    if (b == NULL || i >= b->v.nfiles) {
        if (size != NULL)
            *size = 0;
        return NULL;
    }
    if (size != NULL)
        *size = (uint64_t)b->v.files[i].len;
    return b->v.files[i].path;
}

int sluice_bundle_verify(const sluice_bundle *b,
    const sluice_key *const *keys, size_t nkeys, const sluice_key **by,
    sluice_error *err)
{
    const sluice_key *who = NULL;
    bopts o;
    int t;

    if (by != NULL)
        *by = NULL;
    if (b == NULL || (keys == NULL && nkeys > 0))
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_bundle_verify: a bundle (and keys) are required");
    if (sodium_init() < 0)
        return psrc_error(err, SLUICE_EINTERNAL, NULL, 0,
            "libsodium failed to initialize");
    t = trust_check(&b->v, keys, nkeys, &who);
    if (t == TRUST_OK) {
        if (by != NULL)
            *by = who;
        return 0;
    }
    memset(&o, 0, sizeof o);
    o.trust = keys;
    o.ntrust = nkeys;
    return refuse(&b->v, t, &o, b->path, err);
}
