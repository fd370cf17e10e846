/*
 * record_test.c - the canonical record format: what is encoded decodes to
 * the same fields; the leaf hash is SHA-256(0x00 || record); anything the
 * encoder could not have produced (a trailing byte, an unknown type, flag
 * or version, a length past the end) is refused; long strings and lists
 * are cut on UTF-8 boundaries and flagged; segment names and headers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ledger/record.h"

static const char HASH_HEX[] =
    "301d2965da1ac7b4e6813d5a74919cc6706988768139f92771b58641e9a4cd08";

static size_t encode_sample(lbuf *b, const char *const *rules, size_t nrules,
    const sluice_meta *meta)
{
    static const char *const cats[] = {"profanity"};
    static const unsigned char digest[32] = {1, 2, 3};
    rec_verdict_in in = {SLUICE_REDACT, "regex_limit", "baseline", 7,
        HASH_HEX, 1, digest, 0xdeadbeef, rules, nrules, cats, 1, meta, 1, 0};
    return rec_encode_verdict(b, "w1", &in);
}

static void test_a_verdict_record_decodes_to_what_was_encoded(void **state)
{
    static const char *const rules[] = {"profanity.en", "pii.cn_id"};
    sluice_meta meta = {"req-1", "tenant-a", NULL, "model-x"};
    lbuf b = {0}, arena = {0};
    unsigned char prev[32], leaf[32], want[32];
    sluice_record r;
    (void)state;
    memset(prev, 0x5a, sizeof prev);
    size_t at = encode_sample(&b, rules, 2, &meta);
    assert_false(b.oom);
    assert_int_equal(at, 0);
    frame_seal_record(b.p, 3, 42, 1700000000123456789LL, prev, leaf);
    uint32_t len = le32_get(b.p);
    assert_int_equal(b.len, len + FRAME_OVERHEAD);
    /* the leaf hash is SHA-256(0x00 || record) and the check bytes its head */
    unsigned char *in = malloc(len + 1);
    in[0] = 0;
    memcpy(in + 1, b.p + FRAME_HEAD, len);
    crypto_hash_sha256(want, in, len + 1);
    free(in);
    assert_memory_equal(leaf, want, 32);
    assert_memory_equal(b.p + FRAME_HEAD + len, want, FRAME_CHECK);
    unsigned char h[32];
    assert_int_equal(frame_verify(b.p, h), 0);
    assert_int_equal(rec_decode(b.p + FRAME_HEAD, len, leaf, &r, &arena), 0);
    assert_int_equal(r.type, SLUICE_RECORD_VERDICT);
    assert_int_equal(r.seq, 42);
    assert_int_equal(r.session, 3);
    assert_true(r.time_ns == 1700000000123456789LL);
    assert_memory_equal(r.prev, prev, 32);
    assert_string_equal(r.writer, "w1");
    assert_int_equal(r.action, SLUICE_REDACT);
    assert_string_equal(r.reason, "regex_limit");
    assert_string_equal(r.policy_id, "baseline");
    assert_int_equal(r.policy_version, 7);
    assert_string_equal(r.policy_hash, HASH_HEX);
    assert_true(r.policy_signed);
    assert_true(r.has_digest);
    assert_int_equal(r.digest_key_id, 0xdeadbeef);
    assert_int_equal(r.digest[2], 3);
    assert_int_equal(r.nrules, 2);
    assert_string_equal(r.rules[1], "pii.cn_id");
    assert_int_equal(r.ncategories, 1);
    assert_string_equal(r.categories[0], "profanity");
    assert_string_equal(r.request_id, "req-1");
    assert_string_equal(r.tenant, "tenant-a");
    assert_string_equal(r.subject, "");
    assert_string_equal(r.model, "model-x");
    assert_false(r.truncated);
    assert_true(r.cached);        /* REC_F_CACHED round-trips */
    assert_false(r.suspended);
    lbuf_free(&b);
    lbuf_free(&arena);
}

static void test_bytes_the_encoder_cannot_produce_are_refused(void **state)
{
    static const char *const rules[] = {"r"};
    lbuf b = {0};
    rec_hdr h;
    const char *why = NULL;
    unsigned char prev[32] = {0}, leaf[32];
    (void)state;
    encode_sample(&b, rules, 1, NULL);
    frame_seal_record(b.p, 1, 1, 1, prev, leaf);
    unsigned char *r = b.p + FRAME_HEAD;
    size_t len = le32_get(b.p);
    assert_int_equal(rec_check(r, len, &h, &why), 0);
    /* one byte more or less */
    unsigned char *longer = calloc(1, len + 1);
    memcpy(longer, r, len);
    assert_int_equal(rec_check(longer, len + 1, &h, &why), -1);
    assert_string_equal(why, "trailing bytes after the record");
    assert_int_equal(rec_check(r, len - 1, &h, &why), -1);
    free(longer);
    r[0] = 2;
    assert_int_equal(rec_check(r, len, &h, &why), -1);
    r[0] = REC_VERSION;
    r[1] = 9;
    assert_int_equal(rec_check(r, len, &h, &why), -1);
    r[1] = REC_VERDICT;
    r[2] |= 0x20;         /* a flag no encoder sets */
    assert_int_equal(rec_check(r, len, &h, &why), -1);
    r[2] &= (unsigned char)~0x20;
    r[REC_HEADER] = 0;    /* empty writer id */
    assert_int_equal(rec_check(r, len, &h, &why), -1);
    r[REC_HEADER] = 2;
    r[REC_HEADER + 3] = 9;   /* action */
    assert_int_equal(rec_check(r, len, &h, &why), -1);
    r[REC_HEADER + 3] = SLUICE_REDACT;
    assert_int_equal(rec_check(r, len, &h, &why), 0);
    /* every single flipped byte changes the check or the form */
    for (size_t i = 0; i < b.len; i++) {
        unsigned char hh[32];
        b.p[i] ^= 0x40;
        /* the kind byte is hashed too, so only the length can escape
           the check bytes, and then the frame no longer fits */
        assert_false(le32_get(b.p) + (size_t)FRAME_OVERHEAD == b.len &&
            frame_verify(b.p, hh) == 0);
        b.p[i] ^= 0x40;
    }
    lbuf_free(&b);
}

static void test_long_strings_and_lists_are_cut_and_flagged(void **state)
{
    char big[600];
    const char *rules[REC_MAX_LIST + 5];
    sluice_meta meta = {big, NULL, NULL, NULL};
    lbuf b = {0}, arena = {0};
    unsigned char prev[32] = {0}, leaf[32];
    sluice_record r;
    (void)state;
    /* 2-byte characters, so the cut at 255 lands inside one */
    for (size_t i = 0; i + 2 < sizeof big; i += 2) {
        big[i] = (char)0xC3;
        big[i + 1] = (char)0xA9;
    }
    big[sizeof big - 2] = 'x';
    big[sizeof big - 1] = '\0';
    for (size_t i = 0; i < REC_MAX_LIST + 5; i++)
        rules[i] = "rule";
    encode_sample(&b, rules, REC_MAX_LIST + 5, &meta);
    frame_seal_record(b.p, 1, 1, 1, prev, leaf);
    assert_int_equal(rec_decode(b.p + FRAME_HEAD, le32_get(b.p), leaf, &r,
        &arena), 0);
    assert_true(r.truncated);
    assert_int_equal(r.nrules, REC_MAX_LIST);
    assert_int_equal(strlen(r.request_id), 254);
    assert_int_equal((unsigned char)r.request_id[253], 0xA9);
    lbuf_free(&b);
    lbuf_free(&arena);
}

static void test_segment_names_and_headers_are_strict(void **state)
{
    char name[32];
    uint64_t first = 0;
    unsigned char h[SEG_HEADER];
    const char *why;
    (void)state;
    seg_name(name, sizeof name, 1);
    assert_string_equal(name, "00000000000000000001.seg");
    assert_int_equal(seg_name_parse(name, &first), 0);
    assert_int_equal(first, 1);
    assert_int_equal(seg_name_parse("0000000000000000001.seg", &first), -1);
    assert_int_equal(seg_name_parse("00000000000000000000.seg", &first), -1);
    assert_int_equal(seg_name_parse("00000000000000000001.seg.tmp", &first),
        -1);
    seg_header(h, 77);
    assert_int_equal(seg_header_parse(h, sizeof h, &first, &why), 0);
    assert_int_equal(first, 77);
    h[9] = 1;
    assert_int_equal(seg_header_parse(h, sizeof h, &first, &why), -1);
    assert_true(writer_valid("gw-eu1.a_b"));
    assert_false(writer_valid(".hidden"));
    assert_false(writer_valid("a/b"));
    assert_false(writer_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_verdict_record_decodes_to_what_was_encoded),
        cmocka_unit_test(test_bytes_the_encoder_cannot_produce_are_refused),
        cmocka_unit_test(test_long_strings_and_lists_are_cut_and_flagged),
        cmocka_unit_test(test_segment_names_and_headers_are_strict),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
