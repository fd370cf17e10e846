/*
 * note.c - signed notes, checkpoint bodies and key encodings (formats in
 * note.h and docs/ledger.md), with Ed25519 from libsodium.
 *
 * Strictness: base64 must be canonical (we decode, re-encode and compare),
 * decimal sizes have no sign and no leading zeros, and a note in strict
 * mode must be byte-for-byte what note_sign() produces. Anything else is
 * refused, so no byte of a checkpoint can change without notice.
 */
#include <stdio.h>
#include <string.h>

#include "ledger/note.h"
#include "ledger/sha256.h"

#define EM_DASH "\xe2\x80\x94"

int note_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > NOTE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (name[i] < '!' || name[i] > '~' || name[i] == '+')
            return 0;
    return 1;
}

uint32_t note_key_id(const char *name, const unsigned char pk[32])
{
    unsigned char h[SHA256_BYTES];
    crypto_hash_sha256_state st;
    static const unsigned char sep[2] = {'\n', NOTE_ALG_ED25519};
    (void)crypto_hash_sha256_init(&st);
    (void)crypto_hash_sha256_update(&st, (const unsigned char *)name,
        strlen(name));
    (void)crypto_hash_sha256_update(&st, sep, 2);
    (void)crypto_hash_sha256_update(&st, pk, 32);
    (void)crypto_hash_sha256_final(&st, h);
    return ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) |
        ((uint32_t)h[2] << 8) | h[3];
}

void b64_encode(char *out, size_t size, const unsigned char *in, size_t n)
{
    (void)sodium_bin2base64(out, size, in, n, sodium_base64_VARIANT_ORIGINAL);
}

int b64_decode_exact(unsigned char *out, size_t want, const char *s,
    size_t len)
{
    char again[256];
    size_t got = 0;
    const char *end = NULL;
    if (want > 128 ||
        len != sodium_base64_ENCODED_LEN(want,
            sodium_base64_VARIANT_ORIGINAL) - 1)
        return -1;
    if (sodium_base642bin(out, want, s, len, NULL, &got, &end,
            sodium_base64_VARIANT_ORIGINAL) != 0 || got != want ||
        end != s + len)
        return -1;
    b64_encode(again, sizeof again, out, want);
    return memcmp(again, s, len) == 0 ? 0 : -1;
}

int note_key_format(const note_key *k, int secret, lbuf *out)
{
    unsigned char raw[33];
    char b64[64], head[NOTE_NAME_MAX + 32];
    raw[0] = NOTE_ALG_ED25519;
    memcpy(raw + 1, secret ? k->sk : k->pk, 32);   /* sk starts with seed */
    b64_encode(b64, sizeof b64, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    snprintf(head, sizeof head, "%s%s+%08x+", secret ? "PRIVATE+KEY+" : "",
        k->name, (unsigned)k->id);
    lbuf_str(out, head);
    lbuf_str(out, b64);
    sodium_memzero(b64, sizeof b64);
    return out->oom ? -1 : 0;
}

/*
 * Split "<name>+<id>+<key data>" into its three fields. Only the first two
 * '+' separate: base64 key data may itself contain '+'. Returns 3, or 0.
 */
static size_t split_plus(const char *s, size_t len, const char **f,
    size_t *fl)
{
    const char *p1 = memchr(s, '+', len), *p2;
    if (p1 == NULL)
        return 0;
    p2 = memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - s));
    if (p2 == NULL)
        return 0;
    f[0] = s;
    fl[0] = (size_t)(p1 - s);
    f[1] = p1 + 1;
    fl[1] = (size_t)(p2 - p1 - 1);
    f[2] = p2 + 1;
    fl[2] = len - (size_t)(p2 + 1 - s);
    return 3;
}

static int parse_hex32(const char *s, size_t len, uint32_t *out)
{
    uint32_t v = 0;
    if (len != 8)
        return -1;
    for (size_t i = 0; i < 8; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return -1;
        v = (v << 4) | d;
    }
    *out = v;
    return 0;
}

int note_key_parse(const char *s, size_t len, note_key *out,
    const char **why)
{
    const char *f[3];
    size_t fl[3], n;
    unsigned char raw[33];
    int secret = len > 12 && memcmp(s, "PRIVATE+KEY+", 12) == 0;
    memset(out, 0, sizeof *out);
    if (secret) {
        s += 12;
        len -= 12;
    }
    n = split_plus(s, len, f, fl);
    if (n != 3) {
        *why = "not a signed-note key (<name>+<id>+<key>)";
        return -1;
    }
    if (!note_name_valid(f[0], fl[0])) {
        *why = "bad key name";
        return -1;
    }
    memcpy(out->name, f[0], fl[0]);
    out->name[fl[0]] = '\0';
    if (parse_hex32(f[1], fl[1], &out->id) != 0) {
        *why = "bad key id (8 lower-case hex digits)";
        return -1;
    }
    if (b64_decode_exact(raw, sizeof raw, f[2], fl[2]) != 0 ||
        raw[0] != NOTE_ALG_ED25519) {
        sodium_memzero(raw, sizeof raw);
        *why = "bad key data (base64 of 0x01 and 32 key bytes)";
        return -1;
    }
    if (secret) {
        (void)crypto_sign_seed_keypair(out->pk, out->sk, raw + 1);
        out->has_secret = 1;
    } else {
        memcpy(out->pk, raw + 1, 32);
    }
    sodium_memzero(raw, sizeof raw);
    if (note_key_id(out->name, out->pk) != out->id) {
        sodium_memzero(out, sizeof *out);
        *why = "key id does not match the key";
        return -1;
    }
    return 0;
}

void note_checkpoint_body(lbuf *out, const char *origin, uint64_t size,
    const unsigned char root[32])
{
    char num[32], b64[64];
    snprintf(num, sizeof num, "\n%llu\n", (unsigned long long)size);
    b64_encode(b64, sizeof b64, root, 32);
    lbuf_str(out, origin);
    lbuf_str(out, num);
    lbuf_str(out, b64);
    lbuf_u8(out, '\n');
}

int note_sign(lbuf *out, const char *body, size_t body_len,
    const note_key *k)
{
    unsigned char sig[4 + crypto_sign_BYTES];
    char b64[128];
    if (!k->has_secret)
        return -1;
    sig[0] = (unsigned char)(k->id >> 24);
    sig[1] = (unsigned char)(k->id >> 16);
    sig[2] = (unsigned char)(k->id >> 8);
    sig[3] = (unsigned char)k->id;
    if (crypto_sign_detached(sig + 4, NULL, (const unsigned char *)body,
            body_len, k->sk) != 0)
        return -1;
    b64_encode(b64, sizeof b64, sig, sizeof sig);
    lbuf_put(out, body, body_len);
    lbuf_str(out, "\n" EM_DASH " ");
    lbuf_str(out, k->name);
    lbuf_u8(out, ' ');
    lbuf_str(out, b64);
    lbuf_u8(out, '\n');
    return out->oom ? -1 : 0;
}

/* Parse "<decimal>" with no sign and no leading zeros. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Text rules of signed notes: valid UTF-8 (checked loosely here: no
   control characters but '\n', no NUL). */
static int note_text_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f)
            return 0;
    }
    return 1;
}

/* Parse the body lines into out; returns 0 or -1 with *why. */
static int parse_body(const char *b, size_t len, note_checkpoint *out,
    int strict, const char **why)
{
    const char *l[3];
    size_t ll[3], n = 0, start = 0;
    for (size_t i = 0; i < len && n < 3; i++)
        if (b[i] == '\n') {
            l[n] = b + start;
            ll[n++] = i - start;
            start = i + 1;
        }
    if (n < 3) {
        *why = "checkpoint body has fewer than 3 lines";
        return -1;
    }
    if (strict && start != len) {
        *why = "checkpoint has extension lines";
        return -1;
    }
    if (ll[0] == 0) {
        *why = "checkpoint origin is empty";
        return -1;
    }
    out->origin = l[0];
    out->origin_len = ll[0];
    if (parse_u64(l[1], ll[1], &out->size) != 0) {
        *why = "checkpoint tree size is not a canonical decimal";
        return -1;
    }
    if (b64_decode_exact(out->root, 32, l[2], ll[2]) != 0) {
        *why = "checkpoint root is not canonical base64 of 32 bytes";
        return -1;
    }
    return 0;
}

/* Check one signature line; 1 if it is k's and verifies, 0 if it is
   another key's, -1 if malformed or k's and bad. */
static int check_sig_line(const char *line, size_t len, const char *body,
    size_t body_len, const note_key *k, const char **why)
{
    unsigned char sig[4 + crypto_sign_BYTES];
    const char *sp;
    size_t nl;
    if (len < 4 || memcmp(line, EM_DASH " ", 4) != 0) {
        *why = "signature line does not start with an em dash";
        return -1;
    }
    line += 4;
    len -= 4;
    sp = memchr(line, ' ', len);
    if (sp == NULL) {
        *why = "signature line has no signature";
        return -1;
    }
    nl = (size_t)(sp - line);
    if (!note_name_valid(line, nl)) {
        *why = "bad key name in signature line";
        return -1;
    }
    if (b64_decode_exact(sig, sizeof sig, sp + 1, len - nl - 1) != 0) {
        /* other algorithms have other lengths: not ours, if well-formed */
        if (nl == strlen(k->name) && memcmp(line, k->name, nl) == 0) {
            *why = "signature is not canonical base64 of id and signature";
            return -1;
        }
        return 0;
    }
    uint32_t id = ((uint32_t)sig[0] << 24) | ((uint32_t)sig[1] << 16) |
        ((uint32_t)sig[2] << 8) | sig[3];
    if (nl != strlen(k->name) || memcmp(line, k->name, nl) != 0 ||
        id != k->id)
        return 0;
    if (crypto_sign_verify_detached(sig + 4, (const unsigned char *)body,
            body_len, k->pk) != 0) {
        *why = "signature does not verify";
        return -1;
    }
    return 1;
}

int note_open_checkpoint(const char *note, size_t len, const note_key *k,
    int strict, note_checkpoint *out, const char **why)
{
    const char *sep = NULL;
    memset(out, 0, sizeof *out);
    if (!note_text_ok(note, len) || len < 2 || note[len - 1] != '\n') {
        *why = "not a signed note (control characters or no final newline)";
        return -1;
    }
    /* the body ends at the first blank line */
    for (size_t i = 0; i + 1 < len; i++)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            sep = note + i;
            break;
        }
    if (sep == NULL) {
        *why = "note has no signature block";
        return -1;
    }
    out->body_len = (size_t)(sep - note) + 1;
    if (parse_body(note, out->body_len, out, strict, why) != 0)
        return -1;
    size_t pos = out->body_len + 1;
    while (pos < len) {
        const char *nlp = memchr(note + pos, '\n', len - pos);
        size_t ll = (size_t)(nlp - (note + pos));
        int r = check_sig_line(note + pos, ll, note, out->body_len, k, why);
        if (r < 0)
            return -1;
        if (r == 1)
            out->signed_by_key = 1;
        out->nsigs++;
        pos += ll + 1;
    }
    if (out->nsigs == 0) {
        *why = "note has no signature lines";
        return -1;
    }
    if (!out->signed_by_key) {
        *why = "checkpoint is not signed by the given key";
        return -1;
    }
    if (strict && out->nsigs != 1) {
        *why = "checkpoint has signature lines by other keys";
        return -1;
    }
    return 0;
}

int note_peek_checkpoint(const char *note, size_t len, note_checkpoint *out,
    const char **why)
{
    const char *sep = memmem(note, len, "\n\n", 2);
    memset(out, 0, sizeof *out);
    if (sep == NULL) {
        *why = "note has no signature block";
        return -1;
    }
    out->body_len = (size_t)(sep - note) + 1;
    return parse_body(note, out->body_len, out, 0, why);
}

int note_first_signer(const char *note, size_t len, char name[NOTE_NAME_MAX + 1],
    uint32_t *id)
{
    const char *sep = memmem(note, len, "\n\n", 2), *line, *sp, *nl;
    unsigned char sig[4 + crypto_sign_BYTES];
    if (sep == NULL)
        return -1;
    line = sep + 2;
    nl = memchr(line, '\n', len - (size_t)(line - note));
    if (nl == NULL || nl - line < 4 || memcmp(line, EM_DASH " ", 4) != 0)
        return -1;
    line += 4;
    sp = memchr(line, ' ', (size_t)(nl - line));
    if (sp == NULL || !note_name_valid(line, (size_t)(sp - line)) ||
        b64_decode_exact(sig, sizeof sig, sp + 1, (size_t)(nl - sp - 1)) != 0)
        return -1;
    memcpy(name, line, (size_t)(sp - line));
    name[sp - line] = '\0';
    *id = ((uint32_t)sig[0] << 24) | ((uint32_t)sig[1] << 16) |
        ((uint32_t)sig[2] << 8) | sig[3];
    return 0;
}
