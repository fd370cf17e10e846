/*
 * note.h - C2SP signed notes with Ed25519, the C2SP tlog-checkpoint body,
 * signed-note key encodings, and strict base64.
 *
 *   checkpoint body   "<origin>\n<tree size>\n<base64 root hash>\n"
 *   signed note       body "\n" then one line per signature:
 *                     "— <key name> <base64(key id[4] || signature[64])>\n"
 *   key id            SHA-256(name || "\n" || 0x01 || public key)[0:4],
 *                     a big-endian uint32
 *   verifier key      "<name>+<id as 8 hex>+<base64(0x01 || public key)>"
 *   signer key        "PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>"
 *
 * These match golang.org/x/mod/sumdb/note, so Go's tooling (and any C2SP
 * witness) reads Sluice checkpoints and keys as they are.
 */
#ifndef SLUICE_LEDGER_NOTE_H
#define SLUICE_LEDGER_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "ledger/bytes.h"

#define NOTE_NAME_MAX 64
#define NOTE_ALG_ED25519 0x01

/* A signer or verifier; the secret part is zero for a verifier. */
typedef struct note_key {
    char name[NOTE_NAME_MAX + 1];
    uint32_t id;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];   /* seed || pk */
    int has_secret;
} note_key;

/* 1 if `name` may name a key: 1..64 of '!'..'~' without '+'. */
int note_name_valid(const char *name, size_t len);

uint32_t note_key_id(const char *name, const unsigned char pk[32]);

/* Canonical base64 (standard alphabet, padded). out: room for
   sodium_base64_ENCODED_LEN(n, ORIGINAL). */
void b64_encode(char *out, size_t size, const unsigned char *in, size_t n);
/* Decode exactly `want` bytes; -1 unless s[0..len) is their canonical
   encoding. */
int b64_decode_exact(unsigned char *out, size_t want, const char *s,
    size_t len);

/* "<name>+<id>+<base64>" (verifier) or the PRIVATE+KEY form (signer). */
int note_key_format(const note_key *k, int secret, lbuf *out);
/*
 * Parse either form. Checks the name, the algorithm byte, and that the id
 * matches the key. Returns 0, or -1 with a static reason.
 */
int note_key_parse(const char *s, size_t len, note_key *out,
    const char **why);

/* The checkpoint body for (origin, size, root). */
void note_checkpoint_body(lbuf *out, const char *origin, uint64_t size,
    const unsigned char root[32]);

/* body + the signature block signed by k (which must have the secret). */
int note_sign(lbuf *out, const char *body, size_t body_len,
    const note_key *k);

/* A parsed checkpoint note (pointers into the note text). */
typedef struct note_checkpoint {
    const char *origin;
    size_t origin_len;
    uint64_t size;
    unsigned char root[32];
    size_t body_len;        /* the signed text: note[0..body_len) */
    size_t nsigs;           /* signature lines */
    int signed_by_key;      /* 1: a line by the given key verified */
} note_checkpoint;

/*
 * Parse a signed checkpoint note and check the signature of `k` on it.
 * With `strict`, the note must be exactly what note_sign() writes for k:
 * one signature line, by k, and no extension lines. Returns 0 when the
 * note parses and k's signature verifies; -1 with a static reason
 * otherwise (why says which: malformed, unsigned by k, bad signature).
 */
int note_open_checkpoint(const char *note, size_t len, const note_key *k,
    int strict, note_checkpoint *out, const char **why);

/*
 * Name and id of the first signature line of a note, for messages. 0, or
 * -1 if there is none that parses.
 */
int note_first_signer(const char *note, size_t len, char name[NOTE_NAME_MAX + 1],
    uint32_t *id);

/*
 * Parse a checkpoint note's body without checking any signature (for
 * reading a ledger without the key). 0 or -1 with *why.
 */
int note_peek_checkpoint(const char *note, size_t len, note_checkpoint *out,
    const char **why);

#endif
