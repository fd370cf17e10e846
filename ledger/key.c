/*
 * key.c - sluice_key: loading, parsing, generating and freeing keys, and
 * the keyed output digest (formats: ledger/note.h, docs/ledger.md).
 *
 * A signer key also yields the default digest key:
 *   crypto_kdf_derive_from_key(32, id 1, context "sluicedg", seed),
 * so one secret file is enough to run a ledger; a deployment that wants
 * one digest key across writers (so an operator can find a text's
 * records on every writer) makes a PREFIX.digest and passes it.
 *
 * The digest key id is the first 4 bytes, big-endian, of
 * BLAKE2b-256(key = digest key, message "sluice-digest-key-id"): it names
 * the key in records without revealing anything about it.
 *
 * Secrets (seeds, secret keys, digest keys, their text) are wiped with
 * sodium_memzero on every path out, including errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/key.h"
#include "ledger/util.h"

#define KEY_FILE_MAX 4096
#define DIGEST_PREFIX "SLUICE+DIGEST+KEY+"

static uint32_t digest_id(const unsigned char dkey[DIGEST_KEY_BYTES])
{
    static const char msg[] = "sluice-digest-key-id";
    unsigned char h[32];
    (void)crypto_generichash(h, sizeof h, (const unsigned char *)msg,
        sizeof msg - 1, dkey, DIGEST_KEY_BYTES);
    return ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) |
        ((uint32_t)h[2] << 8) | h[3];
}

void key_digest(const unsigned char dkey[DIGEST_KEY_BYTES], const char *text,
    size_t len, unsigned char out[32])
{
    (void)crypto_generichash_blake2b_salt_personal(out, 32,
        (const unsigned char *)text, len, dkey, DIGEST_KEY_BYTES, NULL,
        (const unsigned char *)DIGEST_PERSONAL);
}

/* Parse "SLUICE+DIGEST+KEY+<name>+<id>+<base64 32 bytes>". */
static int parse_digest(sluice_key *k, const char *s, size_t len,
    const char **why)
{
    const char *p = s + strlen(DIGEST_PREFIX), *end = s + len, *p1, *p2;
    uint32_t id = 0;
    p1 = memchr(p, '+', (size_t)(end - p));
    p2 = p1 ? memchr(p1 + 1, '+', (size_t)(end - p1 - 1)) : NULL;
    if (p2 == NULL || !note_name_valid(p, (size_t)(p1 - p)) ||
        p2 - p1 - 1 != 8) {
        *why = "not a digest key (SLUICE+DIGEST+KEY+<name>+<id>+<key>)";
        return -1;
    }
    for (const char *c = p1 + 1; c < p2; c++) {
        int d = (*c >= '0' && *c <= '9') ? *c - '0' :
            (*c >= 'a' && *c <= 'f') ? *c - 'a' + 10 : -1;
        if (d < 0) {
            *why = "bad digest key id";
            return -1;
        }
        id = (id << 4) | (uint32_t)d;
    }
    if (b64_decode_exact(k->dkey, DIGEST_KEY_BYTES, p2 + 1,
            (size_t)(end - p2 - 1)) != 0) {
        *why = "bad digest key data (base64 of 32 bytes)";
        return -1;
    }
    k->did = digest_id(k->dkey);
    if (k->did != id) {
        *why = "digest key id does not match the key";
        return -1;
    }
    memcpy(k->dname, p, (size_t)(p1 - p));
    k->dname[p1 - p] = '\0';
    k->kind = SLUICE_KEY_DIGEST;
    return 0;
}

/* Derive the default digest key from a signer's seed. */
static void derive_digest(sluice_key *k)
{
    (void)crypto_kdf_derive_from_key(k->dkey, DIGEST_KEY_BYTES,
        DIGEST_KDF_ID, DIGEST_KDF_CONTEXT, k->nk.sk);
    k->did = digest_id(k->dkey);
}

int sluice_key_parse(sluice_key **out, const char *text, size_t len,
    sluice_error *err)
{
    const char *why = NULL;
    sluice_key *k;
    if (out == NULL || text == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_key_parse: out and text are required");
    *out = NULL;
    if (sodium_init() < 0)
        return ledger_error(err, SLUICE_EINTERNAL, NULL,
            "libsodium failed to initialize");
    /* one line; a final newline (or CRLF) is allowed */
    if (len > 0 && text[len - 1] == '\n')
        len--;
    if (len > 0 && text[len - 1] == '\r')
        len--;
    if (memchr(text, '\n', len) != NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "a key file holds one line");
    k = sodium_malloc(sizeof *k);
    if (k == NULL)
        return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    memset(k, 0, sizeof *k);
    if (len > strlen(DIGEST_PREFIX) &&
        memcmp(text, DIGEST_PREFIX, strlen(DIGEST_PREFIX)) == 0) {
        if (parse_digest(k, text, len, &why) != 0)
            goto bad;
    } else {
        if (note_key_parse(text, len, &k->nk, &why) != 0)
            goto bad;
        k->kind = k->nk.has_secret ? SLUICE_KEY_SIGNER : SLUICE_KEY_VERIFIER;
        if (k->kind == SLUICE_KEY_SIGNER)
            derive_digest(k);
    }
    *out = k;
    return 0;
bad:
    sodium_free(k);    /* wipes */
    return ledger_error(err, SLUICE_EINVAL, NULL, "%s", why);
}

int sluice_key_load(sluice_key **out, const char *path, sluice_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc;
    if (out == NULL || path == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_key_load: out and path are required");
    *out = NULL;
    if (read_file(path, KEY_FILE_MAX, &text, &len) != 0)
        return ledger_error(err, SLUICE_EIO, path, "%s",
            errno == EFBIG ? "too big for a key file" : strerror(errno));
    rc = sluice_key_parse(out, text, len, err);
    sodium_memzero(text, len);
    free(text);
    if (rc == 0 && (*out)->kind != SLUICE_KEY_VERIFIER) {
        /* a secret anyone else can read is not one (ssh refuses too) */
        struct stat st;
        if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
            sluice_key_free(*out);
            *out = NULL;
            return ledger_error(err, SLUICE_EINVAL, path, "secret key file "
                "is readable by group or others (mode %04o): chmod 600 it",
                (unsigned)(st.st_mode & 07777));
        }
    }
    if (rc != 0 && err != NULL)
        snprintf(err->file, sizeof err->file, "%s", path);
    return rc;
}

void sluice_key_free(sluice_key *k)
{
    if (k != NULL)
        sodium_free(k);    /* wipes the whole object */
}

sluice_key_kind sluice_key_type(const sluice_key *k)
{
    return k ? k->kind : (sluice_key_kind)0;
}

const char *sluice_key_name(const sluice_key *k)
{
    if (k == NULL)
        return "";
    return k->kind == SLUICE_KEY_DIGEST ? k->dname : k->nk.name;
}

uint32_t sluice_key_id(const sluice_key *k)
{
    if (k == NULL)
        return 0;
    return k->kind == SLUICE_KEY_DIGEST ? k->did : k->nk.id;
}

int sluice_digest(const sluice_key *k, const char *text, size_t len,
    unsigned char out[32], uint32_t *key_id)
{
    if (k == NULL || out == NULL || (text == NULL && len > 0) ||
        k->kind == SLUICE_KEY_VERIFIER)
        return SLUICE_EINVAL;
    key_digest(k->dkey, text ? text : "", len, out);
    if (key_id != NULL)
        *key_id = k->did;
    return 0;
}

/* ---- keygen ------------------------------------------------------------ */

/* Create `path` exclusively with `mode` and write text + "\n". */
static int write_new(const char *path, int mode, const lbuf *text,
    sluice_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return ledger_error(err, SLUICE_EIO, path, "%s%s", strerror(errno),
            errno == EEXIST ? " (keys are never overwritten)" : "");
    if (write_all(fd, text->p, text->len) != 0 || write_all(fd, "\n", 1) != 0
        || fsync(fd) != 0) {
        int e = errno;
        (void)close(fd);
        (void)unlink(path);
        return ledger_error(err, SLUICE_EIO, path, "%s", strerror(e));
    }
    if (close(fd) != 0) {
        int e = errno;
        (void)unlink(path);
        return ledger_error(err, SLUICE_EIO, path, "%s", strerror(e));
    }
    return 0;
}

static int keygen_pair(const char *prefix, const char *name,
    sluice_error *err)
{
    char kpath[4096], ppath[4096];
    note_key nk;
    lbuf sec = {0}, pub = {0};
    int rc;
    snprintf(kpath, sizeof kpath, "%s.key", prefix);
    snprintf(ppath, sizeof ppath, "%s.pub", prefix);
    memset(&nk, 0, sizeof nk);
    memcpy(nk.name, name, strlen(name) + 1);
    (void)crypto_sign_keypair(nk.pk, nk.sk);
    nk.has_secret = 1;
    nk.id = note_key_id(nk.name, nk.pk);
    if (note_key_format(&nk, 1, &sec) != 0 ||
        note_key_format(&nk, 0, &pub) != 0) {
        rc = ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
        goto out;
    }
    if ((rc = write_new(kpath, 0600, &sec, err)) != 0)
        goto out;
    if ((rc = write_new(ppath, 0644, &pub, err)) != 0)
        (void)unlink(kpath);
out:
    sodium_memzero(&nk, sizeof nk);
    if (sec.p != NULL)
        sodium_memzero(sec.p, sec.cap);
    lbuf_free(&sec);
    lbuf_free(&pub);
    return rc;
}

static int keygen_digest(const char *prefix, const char *name,
    sluice_error *err)
{
    char path[4096], b64[64], head[128];
    unsigned char dk[DIGEST_KEY_BYTES];
    lbuf text = {0};
    int rc;
    snprintf(path, sizeof path, "%s.digest", prefix);
    randombytes_buf(dk, sizeof dk);
    b64_encode(b64, sizeof b64, dk, sizeof dk);
    snprintf(head, sizeof head, DIGEST_PREFIX "%s+%08x+", name,
        (unsigned)digest_id(dk));
    lbuf_str(&text, head);
    lbuf_str(&text, b64);
    rc = text.oom ? ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory") :
        write_new(path, 0600, &text, err);
    sodium_memzero(dk, sizeof dk);
    sodium_memzero(b64, sizeof b64);
    if (text.p != NULL)
        sodium_memzero(text.p, text.cap);
    lbuf_free(&text);
    return rc;
}

int sluice_keygen(const char *prefix, const char *name, int digest,
    sluice_error *err)
{
    if (prefix == NULL || prefix[0] == '\0')
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_keygen: a file prefix is required");
    if (strlen(prefix) > 4000)
        return ledger_error(err, SLUICE_EINVAL, NULL, "prefix too long");
    if (name == NULL)
        name = "sluice";
    if (!note_name_valid(name, strlen(name)))
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "bad key name '%s': 1 to 64 printable ASCII characters, no '+' "
            "or space", name);
    if (sodium_init() < 0)
        return ledger_error(err, SLUICE_EINTERNAL, NULL,
            "libsodium failed to initialize");
    return digest ? keygen_digest(prefix, name, err) :
        keygen_pair(prefix, name, err);
}
