/*
 * sha256.h - SHA-256 for the ledger's hot paths (record hashes, Merkle
 * nodes, frame check bytes): the x86 SHA extensions when the CPU has them,
 * libsodium's portable code otherwise. Results are identical either way
 * (tests/unit/ledger/merkle_test.c compares them on every length to 1 KiB).
 */
#ifndef SLUICE_LEDGER_SHA256_H
#define SLUICE_LEDGER_SHA256_H

#include <stddef.h>

#define SHA256_BYTES 32

/* out = SHA-256(in[0..len)). Thread-safe; no state. */
void ledger_sha256(unsigned char out[SHA256_BYTES], const void *in,
    size_t len);

/* out = SHA-256(a || b): hashes the concatenation without copying. */
void ledger_sha256_2(unsigned char out[SHA256_BYTES], const void *a,
    size_t alen, const void *b, size_t blen);

/* 1 if the SHA extensions are used on this CPU (for the benchmark). */
int ledger_sha256_accelerated(void);

#endif
