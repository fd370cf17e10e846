/*
 * key_test.c - keys and signed notes: the C2SP signed-note formats
 * against Go's own published example (golang.org/x/mod/sumdb/note), key
 * generation and file modes, refusal of malformed or mismatched keys, the
 * keyed output digest and its derived key, and checkpoint notes in strict
 * and lenient (anchor) form.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "ledger/key.h"
#include "ledger/note.h"
#include "ltest.h"

/* From golang.org/x/mod/sumdb/note's example_test.go. */
static const char GO_VKEY[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char GO_SKEY[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char GO_TEXT[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
static const char GO_SIGNED[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

static void test_go_example_keys_parse_and_sign_as_go_does(void **state)
{
    sluice_key *sk = NULL, *vk = NULL;
    lbuf out = {0};
    (void)state;
    assert_int_equal(sluice_key_parse(&vk, GO_VKEY, strlen(GO_VKEY), NULL), 0);
    assert_int_equal(sluice_key_parse(&sk, GO_SKEY, strlen(GO_SKEY), NULL), 0);
    assert_int_equal(sluice_key_type(vk), SLUICE_KEY_VERIFIER);
    assert_int_equal(sluice_key_type(sk), SLUICE_KEY_SIGNER);
    assert_string_equal(sluice_key_name(sk), "PeterNeumann");
    assert_int_equal(sluice_key_id(sk), 0xc74f20a3u);
    assert_int_equal(sluice_key_id(vk), 0xc74f20a3u);
    assert_int_equal(note_sign(&out, GO_TEXT, strlen(GO_TEXT), &sk->nk), 0);
    assert_int_equal(out.len, strlen(GO_SIGNED));
    assert_memory_equal(out.p, GO_SIGNED, out.len);
    /* and both forms print back the same */
    out.len = 0;
    assert_int_equal(note_key_format(&sk->nk, 1, &out), 0);
    assert_memory_equal(out.p, GO_SKEY, strlen(GO_SKEY));
    out.len = 0;
    assert_int_equal(note_key_format(&vk->nk, 0, &out), 0);
    assert_memory_equal(out.p, GO_VKEY, strlen(GO_VKEY));
    lbuf_free(&out);
    sluice_key_free(sk);
    sluice_key_free(vk);
}

static void test_keygen_writes_a_private_key_and_never_overwrites(void **state)
{
    char *dir = lt_tmpdir("keygen"), p[512], f[600];
    struct stat st;
    lt_keys k = {0};
    sluice_error err;
    (void)state;
    assert_non_null(dir);
    assert_int_equal(lt_keygen(dir, "k", "gateway-1", &k), 0);
    snprintf(f, sizeof f, "%s/k.key", dir);
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(sluice_key_id(k.sk), sluice_key_id(k.pk));
    assert_string_equal(sluice_key_name(k.pk), "gateway-1");
    snprintf(p, sizeof p, "%s/k", dir);
    memset(&err, 0, sizeof err);
    assert_int_equal(sluice_keygen(p, NULL, 0, &err), SLUICE_EIO);
    assert_non_null(strstr(err.message, "never overwritten"));
    assert_int_equal(sluice_keygen(p, "bad name", 0, NULL), SLUICE_EINVAL);
    assert_int_equal(sluice_keygen(p, "a+b", 0, NULL), SLUICE_EINVAL);
    /* a digest key next to it */
    assert_int_equal(sluice_keygen(p, NULL, 1, NULL), 0);
    snprintf(f, sizeof f, "%s/k.digest", dir);
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    sluice_key *dk = NULL;
    assert_int_equal(sluice_key_load(&dk, f, NULL), 0);
    assert_int_equal(sluice_key_type(dk), SLUICE_KEY_DIGEST);
    sluice_key_free(dk);
    /* a secret readable by others is refused; a public key is not */
    assert_int_equal(chmod(f, 0640), 0);
    dk = NULL;
    memset(&err, 0, sizeof err);
    assert_int_equal(sluice_key_load(&dk, f, &err), SLUICE_EINVAL);
    assert_null(dk);
    assert_non_null(strstr(err.message, "chmod 600"));
    snprintf(f, sizeof f, "%s/k.key", dir);
    assert_int_equal(chmod(f, 0604), 0);
    assert_int_equal(sluice_key_load(&dk, f, NULL), SLUICE_EINVAL);
    snprintf(f, sizeof f, "%s/k.pub", dir);
    assert_int_equal(chmod(f, 0644), 0);
    assert_int_equal(sluice_key_load(&dk, f, NULL), 0);
    sluice_key_free(dk);
    lt_keys_free(&k);
    lt_rm_rf(dir);
    free(dir);
}

static void expect_refused(const char *text, const char *why)
{
    sluice_key *k = NULL;
    sluice_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(sluice_key_parse(&k, text, strlen(text), &err),
        SLUICE_EINVAL);
    assert_null(k);
    if (strstr(err.message, why) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", text, err.message, why);
}

static void test_malformed_or_mismatched_keys_are_refused(void **state)
{
    (void)state;
    expect_refused("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
        "LDE4izWy10TW", "does not match");
    expect_refused("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
        "LDE4izWy10TW", "name");
    expect_refused("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
        "LDE4izWy10TW", "id");
    expect_refused("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
        "LDE4izWy10TX", "does not match");
    /* not canonical base64: padding where none belongs; one short */
    expect_refused("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
        "LDE4izWy10TW=", "key data");
    expect_refused("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
        "LDE4izWy10T", "key data");
    /* algorithm byte 0x02 */
    expect_refused("PeterNeumann+c74f20a3+Alpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
        "LDE4izWy10TW", "key data");
    expect_refused("PeterNeumann", "not a signed-note key");
    expect_refused("a\nb", "one line");
    sluice_key *k = NULL;
    char crlf[128];
    snprintf(crlf, sizeof crlf, "%s\r\n", GO_VKEY);
    assert_int_equal(sluice_key_parse(&k, crlf, strlen(crlf), NULL), 0);
    sluice_key_free(k);
}

static void test_digests_are_keyed_blake2b_with_the_documented_keys(
    void **state)
{
    sluice_key *sk = NULL, *vk = NULL;
    unsigned char want[32], got[32], dk[32];
    static const char text[] = "the output text";
    uint32_t id = 0;
    (void)state;
    assert_int_equal(sluice_key_parse(&sk, GO_SKEY, strlen(GO_SKEY), NULL), 0);
    assert_int_equal(sluice_key_parse(&vk, GO_VKEY, strlen(GO_VKEY), NULL), 0);
    /* derived: crypto_kdf(32, id 1, "sluicedg", seed) */
    assert_int_equal(crypto_kdf_derive_from_key(dk, 32, 1, "sluicedg",
        sk->nk.sk), 0);
    assert_int_equal(crypto_generichash_blake2b_salt_personal(want, 32,
        (const unsigned char *)text, strlen(text), dk, 32, NULL,
        (const unsigned char *)"sluice-digest-v1"), 0);
    assert_int_equal(sluice_digest(sk, text, strlen(text), got, &id), 0);
    assert_memory_equal(got, want, 32);
    assert_int_not_equal(id, 0);
    assert_int_equal(sluice_digest(vk, text, strlen(text), got, NULL),
        SLUICE_EINVAL);
    /* a digest key file holds the key itself */
    char b64[64], line[160];
    memset(dk, 7, sizeof dk);
    sodium_bin2base64(b64, sizeof b64, dk, 32, sodium_base64_VARIANT_ORIGINAL);
    unsigned char h[32];
    crypto_generichash(h, 32, (const unsigned char *)"sluice-digest-key-id",
        20, dk, 32);
    snprintf(line, sizeof line, "SLUICE+DIGEST+KEY+fleet+%02x%02x%02x%02x+%s",
        h[0], h[1], h[2], h[3], b64);
    sluice_key *d = NULL;
    assert_int_equal(sluice_key_parse(&d, line, strlen(line), NULL), 0);
    crypto_generichash_blake2b_salt_personal(want, 32,
        (const unsigned char *)text, strlen(text), dk, 32, NULL,
        (const unsigned char *)"sluice-digest-v1");
    assert_int_equal(sluice_digest(d, text, strlen(text), got, &id), 0);
    assert_memory_equal(got, want, 32);
    assert_int_equal(id, sluice_key_id(d));
    line[strlen(line) - 3] ^= 1;     /* the key no longer matches its id */
    sluice_key_free(d);
    d = NULL;
    assert_int_not_equal(sluice_key_parse(&d, line, strlen(line), NULL), 0);
    sluice_key_free(sk);
    sluice_key_free(vk);
}

static void test_checkpoint_notes_open_strictly(void **state)
{
    sluice_key *sk = NULL, *other = NULL;
    unsigned char root[32];
    lbuf body = {0}, note = {0}, two = {0};
    note_checkpoint nc;
    const char *why = NULL;
    char *dir = lt_tmpdir("note");
    lt_keys ok = {0};
    (void)state;
    assert_int_equal(sluice_key_parse(&sk, GO_SKEY, strlen(GO_SKEY), NULL), 0);
    assert_int_equal(lt_keygen(dir, "o", "other", &ok), 0);
    other = ok.sk;
    memset(root, 0xab, sizeof root);
    note_checkpoint_body(&body, "example.com/log", 1234, root);
    assert_int_equal(note_sign(&note, (char *)body.p, body.len, &sk->nk), 0);
    assert_int_equal(note_open_checkpoint((char *)note.p, note.len, &sk->nk, 1,
        &nc, &why), 0);
    assert_int_equal(nc.size, 1234);
    assert_memory_equal(nc.root, root, 32);
    assert_int_equal(nc.origin_len, strlen("example.com/log"));
    /* another key's note: not signed by ours */
    assert_int_equal(note_open_checkpoint((char *)note.p, note.len,
        &other->nk, 1, &nc, &why), -1);
    assert_non_null(strstr(why, "not signed by the given key"));
    /* a cosignature line by another key: fine for an anchor, not strict */
    assert_int_equal(note_sign(&two, (char *)body.p, body.len, &other->nk), 0);
    lbuf_put(&note, two.p + body.len + 1, two.len - body.len - 1);
    assert_int_equal(note_open_checkpoint((char *)note.p, note.len, &sk->nk, 0,
        &nc, &why), 0);
    assert_int_equal(note_open_checkpoint((char *)note.p, note.len, &sk->nk, 1,
        &nc, &why), -1);
    /* every single changed byte of a strict note is refused */
    note.len = 0;
    assert_int_equal(note_sign(&note, (char *)body.p, body.len, &sk->nk), 0);
    for (size_t i = 0; i < note.len; i++) {
        note.p[i] ^= 0x01;
        assert_int_equal(note_open_checkpoint((char *)note.p, note.len,
            &sk->nk, 1, &nc, &why), -1);
        note.p[i] ^= 0x01;
    }
    /* a leading zero in the size is not canonical */
    lbuf b2 = {0};
    lbuf_str(&b2, "example.com/log\n01234\n");
    lbuf_put(&b2, note.p + 21, note.len - 21);
    assert_int_equal(note_peek_checkpoint((char *)note.p, note.len, &nc,
        &why), 0);
    assert_int_equal(note_peek_checkpoint((char *)b2.p, b2.len, &nc, &why),
        -1);
    lbuf_free(&b2);
    lbuf_free(&body);
    lbuf_free(&note);
    lbuf_free(&two);
    sluice_key_free(sk);
    lt_keys_free(&ok);
    lt_rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_example_keys_parse_and_sign_as_go_does),
        cmocka_unit_test(test_keygen_writes_a_private_key_and_never_overwrites),
        cmocka_unit_test(test_malformed_or_mismatched_keys_are_refused),
        cmocka_unit_test(test_digests_are_keyed_blake2b_with_the_documented_keys),
        cmocka_unit_test(test_checkpoint_notes_open_strictly),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
