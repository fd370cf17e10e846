/*
 * merkle_test.c - RFC 6962 / RFC 9162 hashing: SHA-256 (SHA extensions vs
 * libsodium), the incremental frontier against the recursive definition,
 * known roots and proofs (the Certificate Transparency test vectors), the
 * audit paths of RFC 9162's seven-leaf example derived by hand, and proof
 * verification, which must reject every altered proof.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ledger/merkle.h"
#include "ledger/sha256.h"

typedef unsigned char hash[32];

static void unhex(unsigned char *out, const char *h)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
}

/* The RFC's definition, written out independently of merkle.c. */
static void naive_mth(const hash *l, size_t n, hash out)
{
    unsigned char in[65];
    hash a, b;
    if (n == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    if (n == 1) {
        memcpy(out, l[0], 32);
        return;
    }
    size_t k = 1;
    while (k * 2 < n)
        k *= 2;
    naive_mth(l, k, a);
    naive_mth(l + k, n - k, b);
    in[0] = 1;
    memcpy(in + 1, a, 32);
    memcpy(in + 33, b, 32);
    crypto_hash_sha256(out, in, 65);
}

static void naive_leaf(const void *d, size_t n, hash out)
{
    unsigned char *in = malloc(n + 1);
    assert_non_null(in);
    in[0] = 0;
    if (n > 0)
        memcpy(in + 1, d, n);
    crypto_hash_sha256(out, in, n + 1);
    free(in);
}

static void test_sha256_matches_libsodium_at_every_length(void **state)
{
    unsigned char buf[1100];
    hash a, b;
    (void)state;
    randombytes_buf(buf, sizeof buf);
    for (size_t n = 0; n <= sizeof buf; n++) {
        ledger_sha256(a, buf, n);
        crypto_hash_sha256(b, buf, n);
        assert_memory_equal(a, b, 32);
        size_t cut = n / 3;
        ledger_sha256_2(a, buf, cut, buf + cut, n - cut);
        assert_memory_equal(a, b, 32);
    }
}

static void test_frontier_root_equals_the_recursive_definition(void **state)
{
    enum { N = 300 };
    hash *leaves = malloc(N * sizeof *leaves), r1, r2;
    merkle_frontier f, g;
    unsigned char exported[MERKLE_MAX_DEPTH * 32];
    (void)state;
    assert_non_null(leaves);
    merkle_init(&f);
    for (size_t n = 0; n <= N; n++) {
        merkle_root(&f, r1);
        naive_mth((const hash *)leaves, n, r2);
        assert_memory_equal(r1, r2, 32);
        merkle_mth((const unsigned char (*)[32])leaves, n, r2);
        assert_memory_equal(r1, r2, 32);
        unsigned cnt = merkle_frontier_export(&f, exported);
        assert_int_equal(cnt, merkle_frontier_count(n));
        assert_int_equal(merkle_frontier_import(&g, n, exported, cnt), 0);
        merkle_root(&g, r2);
        assert_memory_equal(r1, r2, 32);
        if (n == N)
            break;
        unsigned char data[8];
        memcpy(data, &n, sizeof data < sizeof n ? sizeof data : sizeof n);
        naive_leaf(data, sizeof data, leaves[n]);
        merkle_leaf_hash(r1, data, sizeof data);
        assert_memory_equal(r1, leaves[n], 32);
        merkle_append(&f, leaves[n]);
    }
    free(leaves);
}

/* Leaves and roots of the Certificate Transparency test vectors. */
static const char *const CT_LEAVES[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};
static const char *const CT_ROOTS[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void ct_leaves(hash out[8])
{
    for (int i = 0; i < 8; i++) {
        unsigned char d[16];
        size_t n = strlen(CT_LEAVES[i]) / 2;
        unhex(d, CT_LEAVES[i]);
        merkle_leaf_hash(out[i], d, n);
    }
}

static void test_roots_match_the_ct_test_vectors(void **state)
{
    hash leaves[8], want, got;
    merkle_frontier f;
    (void)state;
    ct_leaves(leaves);
    merkle_init(&f);
    for (int i = 0; i < 8; i++) {
        merkle_append(&f, leaves[i]);
        merkle_root(&f, got);
        unhex(want, CT_ROOTS[i]);
        assert_memory_equal(got, want, 32);
    }
    /* MTH({}) = SHA-256("") */
    merkle_init(&f);
    merkle_root(&f, got);
    unhex(want,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_memory_equal(got, want, 32);
}

static void expect_proof(const hash *leaves, uint64_t n, uint64_t index,
    const char *const *want, unsigned nwant)
{
    unsigned char proof[MERKLE_MAX_DEPTH][32], w[32], root[32];
    unsigned cnt = merkle_inclusion_proof((const unsigned char (*)[32])leaves,
        n, index, proof);
    assert_int_equal(cnt, nwant);
    for (unsigned i = 0; i < cnt; i++) {
        unhex(w, want[i]);
        assert_memory_equal(proof[i], w, 32);
    }
    merkle_mth((const unsigned char (*)[32])leaves, n, root);
    assert_int_equal(merkle_verify_inclusion(leaves[index], index, n,
        (const unsigned char (*)[32])proof, cnt, root), 0);
}

static void test_inclusion_proofs_match_the_ct_test_vectors(void **state)
{
    hash leaves[8];
    static const char *const p0_8[] = {
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    };
    static const char *const p5_8[] = {
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    };
    static const char *const p2_3[] = {
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    };
    static const char *const p1_5[] = {
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    };
    (void)state;
    ct_leaves(leaves);
    expect_proof((const hash *)leaves, 8, 0, p0_8, 3);
    expect_proof((const hash *)leaves, 8, 5, p5_8, 3);
    expect_proof((const hash *)leaves, 3, 2, p2_3, 1);
    expect_proof((const hash *)leaves, 5, 1, p1_5, 3);
    expect_proof((const hash *)leaves, 1, 0, NULL, 0);
}

static void node(hash out, const hash l, const hash r)
{
    merkle_node_hash(out, l, r);
}

static void same_path(const hash *leaves, uint64_t index, const hash *want,
    unsigned n)
{
    unsigned char proof[MERKLE_MAX_DEPTH][32];
    assert_int_equal(merkle_inclusion_proof(
        (const unsigned char (*)[32])leaves, 7, index, proof), n);
    for (unsigned i = 0; i < n; i++)
        assert_memory_equal(proof[i], want[i], 32);
}

/*
 * RFC 9162 2.1.5: seven leaves d0..d6 with leaf hashes a..f and j;
 * g=H(a,b) h=H(c,d) i=H(e,f) k=H(g,h) l=H(i,j) root=H(k,l). By hand:
 * the path of d0 is [b, h, l], of d3 [c, g, l], of d4 [f, j, k], of d6
 * [i, k].
 */
static void test_audit_paths_of_the_rfc_seven_leaf_example(void **state)
{
    hash lv[7], g, h, i, k, l, root, got;
    hash *a = &lv[0], *b = &lv[1], *c = &lv[2], *d = &lv[3], *e = &lv[4],
        *f = &lv[5], *j = &lv[6];
    (void)state;
    for (int n = 0; n < 7; n++) {
        char data[4] = {'d', (char)('0' + n), 0, 0};
        merkle_leaf_hash(lv[n], data, 2);
    }
    node(g, *a, *b);
    node(h, *c, *d);
    node(i, *e, *f);
    node(k, g, h);
    node(l, i, *j);
    node(root, k, l);
    merkle_mth((const unsigned char (*)[32])lv, 7, got);
    assert_memory_equal(got, root, 32);
    hash p0[3], p3[3], p4[3], p6[2];
    memcpy(p0[0], *b, 32); memcpy(p0[1], h, 32); memcpy(p0[2], l, 32);
    memcpy(p3[0], *c, 32); memcpy(p3[1], g, 32); memcpy(p3[2], l, 32);
    memcpy(p4[0], *f, 32); memcpy(p4[1], *j, 32); memcpy(p4[2], k, 32);
    memcpy(p6[0], i, 32); memcpy(p6[1], k, 32);
    same_path((const hash *)lv, 0, (const hash *)p0, 3);
    same_path((const hash *)lv, 3, (const hash *)p3, 3);
    same_path((const hash *)lv, 4, (const hash *)p4, 3);
    same_path((const hash *)lv, 6, (const hash *)p6, 2);
}

static void test_every_proof_verifies_and_no_altered_one_does(void **state)
{
    enum { N = 70 };
    hash leaves[N], root;
    unsigned char proof[MERKLE_MAX_DEPTH + 1][32];
    (void)state;
    for (int n = 0; n < N; n++)
        merkle_leaf_hash(leaves[n], &n, sizeof n);
    for (uint64_t n = 1; n <= N; n++) {
        merkle_mth((const unsigned char (*)[32])leaves, n, root);
        for (uint64_t m = 0; m < n; m++) {
            unsigned cnt = merkle_inclusion_proof(
                (const unsigned char (*)[32])leaves, n, m, proof);
            const unsigned char (*p)[32] = (const unsigned char (*)[32])proof;
            assert_int_equal(merkle_verify_inclusion(leaves[m], m, n, p, cnt,
                root), 0);
            /* wrong leaf or index; one hash short, one too many. (A wrong
               size can pass with the same hashes: the size is bound to the
               root by the signed checkpoint, not by the proof.) */
            assert_int_equal(merkle_verify_inclusion(leaves[(m + 1) % n], m,
                n, p, cnt, root), n == 1 ? 0 : -1);
            if (n > 1)
                assert_int_equal(merkle_verify_inclusion(leaves[m],
                    (m + 1) % n, n, p, cnt, root), -1);
            assert_int_equal(merkle_verify_inclusion(leaves[m], m, n, p,
                cnt + 1, root), -1);
            if (cnt > 0)
                assert_int_equal(merkle_verify_inclusion(leaves[m], m, n, p,
                    cnt - 1, root), -1);
            for (unsigned i = 0; i < cnt; i++) {
                proof[i][i % 32] ^= 0x80;
                assert_int_equal(merkle_verify_inclusion(leaves[m], m, n, p,
                    cnt, root), -1);
                proof[i][i % 32] ^= 0x80;
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_matches_libsodium_at_every_length),
        cmocka_unit_test(test_frontier_root_equals_the_recursive_definition),
        cmocka_unit_test(test_roots_match_the_ct_test_vectors),
        cmocka_unit_test(test_inclusion_proofs_match_the_ct_test_vectors),
        cmocka_unit_test(test_audit_paths_of_the_rfc_seven_leaf_example),
        cmocka_unit_test(test_every_proof_verifies_and_no_altered_one_does),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
