/*
 * key.h - the sluice_key object's insides, for the ledger writer and the
 * verifiers: the signed-note key and the digest key material.
 */
#ifndef SLUICE_LEDGER_KEY_H
#define SLUICE_LEDGER_KEY_H

#include "sluice.h"
#include "ledger/note.h"

#define DIGEST_KEY_BYTES 32
#define DIGEST_PERSONAL "sluice-digest-v1"      /* 16 bytes */
#define DIGEST_KDF_CONTEXT "sluicedg"           /* crypto_kdf, 8 bytes */
#define DIGEST_KDF_ID 1

struct sluice_key {
    sluice_key_kind kind;
    note_key nk;                               /* signer, verifier */
    unsigned char dkey[DIGEST_KEY_BYTES];      /* digest, or derived */
    uint32_t did;                              /* digest key id */
    char dname[NOTE_NAME_MAX + 1];             /* digest key's name */
};

/* Keyed digest with explicit material (the ledger keeps a copy). */
void key_digest(const unsigned char dkey[DIGEST_KEY_BYTES], const char *text,
    size_t len, unsigned char out[32]);

#endif
