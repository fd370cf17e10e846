/*
 * merkle.h - RFC 6962 / RFC 9162 Merkle trees over SHA-256: leaf and node
 * hashes, an incremental tree (the "frontier": the roots of the perfect
 * subtrees the tree's leaves split into), inclusion proofs and their
 * verification.
 *
 *   leaf hash  SHA-256(0x00 || data)
 *   node hash  SHA-256(0x01 || left || right)
 *   MTH({})    SHA-256("")
 *
 * Invariant of a frontier of `size` leaves: node[k] is meaningful iff bit
 * k of size is set, and is then the root of the perfect subtree of 2^k
 * leaves that bit stands for (higher bits cover earlier leaves). Appending
 * is a binary increment: O(log n) node hashes at worst, one on average.
 */
#ifndef SLUICE_LEDGER_MERKLE_H
#define SLUICE_LEDGER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/sha256.h"

#define MERKLE_MAX_DEPTH 64

typedef struct merkle_frontier {
    uint64_t size;
    unsigned char node[MERKLE_MAX_DEPTH][SHA256_BYTES];
} merkle_frontier;

void merkle_leaf_hash(unsigned char out[SHA256_BYTES], const void *data,
    size_t len);
void merkle_node_hash(unsigned char out[SHA256_BYTES],
    const unsigned char left[SHA256_BYTES],
    const unsigned char right[SHA256_BYTES]);

/* An empty tree. */
void merkle_init(merkle_frontier *f);
/* Add one leaf (its leaf hash). Precondition: size < UINT64_MAX. */
void merkle_append(merkle_frontier *f, const unsigned char leaf[SHA256_BYTES]);
/* MTH of the tree so far. */
void merkle_root(const merkle_frontier *f, unsigned char out[SHA256_BYTES]);

/* Number of frontier nodes a tree of `size` leaves has (popcount). */
unsigned merkle_frontier_count(uint64_t size);

/*
 * The frontier's nodes, highest level (earliest leaves) first, as stored
 * in checkpoint frames: count * 32 bytes into out (room for 64 * 32).
 * Returns the count.
 */
unsigned merkle_frontier_export(const merkle_frontier *f, unsigned char *out);
/* The inverse; returns 0, or -1 if count does not match size. */
int merkle_frontier_import(merkle_frontier *f, uint64_t size,
    const unsigned char *nodes, unsigned count);

/*
 * MTH of leaves[0..n) (leaf hashes), by the RFC's recursive definition.
 * O(n) hashes, O(log n) stack.
 */
void merkle_mth(const unsigned char (*leaves)[SHA256_BYTES], uint64_t n,
    unsigned char out[SHA256_BYTES]);

/*
 * Inclusion proof (RFC 9162 2.1.3.1, PATH(m, D[n])) of leaf `index` in the
 * tree of the first `n` leaves, deepest sibling first. `out` must have room
 * for MERKLE_MAX_DEPTH hashes. Returns the number of hashes.
 * Precondition: index < n.
 */
unsigned merkle_inclusion_proof(const unsigned char (*leaves)[SHA256_BYTES],
    uint64_t n, uint64_t index, unsigned char (*out)[SHA256_BYTES]);

/*
 * Verify an inclusion proof (RFC 9162 2.1.3.2): leaf hash `leaf` at
 * `index` in a tree of `size` leaves whose root is `root`. Returns 0 if it
 * holds, -1 if not.
 */
int merkle_verify_inclusion(const unsigned char leaf[SHA256_BYTES],
    uint64_t index, uint64_t size,
    const unsigned char (*proof)[SHA256_BYTES], unsigned count,
    const unsigned char root[SHA256_BYTES]);

#endif
