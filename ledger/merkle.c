/*
 * merkle.c - RFC 6962 Merkle tree hashing, the incremental frontier, and
 * inclusion proofs (RFC 9162 section 2.1.3).
 *
 * The frontier keeps one subtree root per set bit of the tree size; the
 * RFC's MTH of the whole tree is the right fold of those roots (smallest,
 * i.e. latest, subtree innermost), because the RFC splits every tree at
 * the largest power of two below its size, which is exactly the highest
 * set bit. tests/unit/ledger/merkle_test.c checks the frontier against the
 * recursive definition for every size up to 300, and proofs against trees
 * derived by hand.
 */
#include <string.h>

#include <sodium.h>

#include "ledger/merkle.h"

void merkle_leaf_hash(unsigned char out[SHA256_BYTES], const void *data,
    size_t len)
{
    static const unsigned char zero = 0x00;
    ledger_sha256_2(out, &zero, 1, data, len);
}

void merkle_node_hash(unsigned char out[SHA256_BYTES],
    const unsigned char left[SHA256_BYTES],
    const unsigned char right[SHA256_BYTES])
{
    unsigned char in[1 + 2 * SHA256_BYTES];
    in[0] = 0x01;
    memcpy(in + 1, left, SHA256_BYTES);
    memcpy(in + 1 + SHA256_BYTES, right, SHA256_BYTES);
    ledger_sha256(out, in, sizeof in);
}

void merkle_init(merkle_frontier *f)
{
    f->size = 0;
}

void merkle_append(merkle_frontier *f, const unsigned char leaf[SHA256_BYTES])
{
    unsigned char h[SHA256_BYTES];
    unsigned k = 0;
    memcpy(h, leaf, SHA256_BYTES);
    while (k < MERKLE_MAX_DEPTH && (f->size >> k) & 1) {
        merkle_node_hash(h, f->node[k], h);
        k++;
    }
    if (k < MERKLE_MAX_DEPTH)
        memcpy(f->node[k], h, SHA256_BYTES);
    f->size++;
}

void merkle_root(const merkle_frontier *f, unsigned char out[SHA256_BYTES])
{
    int have = 0;
    if (f->size == 0) {
        ledger_sha256(out, "", 0);
        return;
    }
    for (unsigned k = 0; k < MERKLE_MAX_DEPTH; k++) {
        if (!((f->size >> k) & 1))
            continue;
        if (!have) {
            memcpy(out, f->node[k], SHA256_BYTES);
            have = 1;
        } else {
            merkle_node_hash(out, f->node[k], out);
        }
    }
}

unsigned merkle_frontier_count(uint64_t size)
{
    return (unsigned)__builtin_popcountll(size);
}

unsigned merkle_frontier_export(const merkle_frontier *f, unsigned char *out)
{
    unsigned n = 0;
    for (int k = MERKLE_MAX_DEPTH - 1; k >= 0; k--)
        if ((f->size >> k) & 1)
            memcpy(out + SHA256_BYTES * n++, f->node[k], SHA256_BYTES);
    return n;
}

int merkle_frontier_import(merkle_frontier *f, uint64_t size,
    const unsigned char *nodes, unsigned count)
{
    unsigned n = 0;
    if (count != merkle_frontier_count(size))
        return -1;
    f->size = size;
    for (int k = MERKLE_MAX_DEPTH - 1; k >= 0; k--)
        if ((size >> k) & 1)
            memcpy(f->node[k], nodes + SHA256_BYTES * n++, SHA256_BYTES);
    return 0;
}

/* The largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

void merkle_mth(const unsigned char (*leaves)[SHA256_BYTES], uint64_t n,
    unsigned char out[SHA256_BYTES])
{
    unsigned char l[SHA256_BYTES], r[SHA256_BYTES];
    if (n == 0) {
        ledger_sha256(out, "", 0);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], SHA256_BYTES);
        return;
    }
    uint64_t k = split_point(n);
    merkle_mth(leaves, k, l);
    merkle_mth(leaves + k, n - k, r);
    merkle_node_hash(out, l, r);
}

/* PATH(m, D[lo..lo+n)) appended to out from position `count`. */
static unsigned path(const unsigned char (*leaves)[SHA256_BYTES], uint64_t n,
    uint64_t m, unsigned char (*out)[SHA256_BYTES], unsigned count)
{
    if (n <= 1)
        return count;
    uint64_t k = split_point(n);
    if (m < k) {
        count = path(leaves, k, m, out, count);
        merkle_mth(leaves + k, n - k, out[count]);
    } else {
        count = path(leaves + k, n - k, m - k, out, count);
        merkle_mth(leaves, k, out[count]);
    }
    return count + 1;
}

unsigned merkle_inclusion_proof(const unsigned char (*leaves)[SHA256_BYTES],
    uint64_t n, uint64_t index, unsigned char (*out)[SHA256_BYTES])
{
    if (index >= n)
        return 0;
    return path(leaves, n, index, out, 0);
}

int merkle_verify_inclusion(const unsigned char leaf[SHA256_BYTES],
    uint64_t index, uint64_t size,
    const unsigned char (*proof)[SHA256_BYTES], unsigned count,
    const unsigned char root[SHA256_BYTES])
{
    unsigned char r[SHA256_BYTES];
    uint64_t fn = index, sn;
    if (index >= size)
        return -1;
    sn = size - 1;
    memcpy(r, leaf, SHA256_BYTES);
    for (unsigned i = 0; i < count; i++) {
        if (sn == 0)
            return -1;
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(r, proof[i], r);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            merkle_node_hash(r, r, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return -1;
    return sodium_memcmp(r, root, SHA256_BYTES) == 0 ? 0 : -1;
}
