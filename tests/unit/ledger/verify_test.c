/*
 * verify_test.c - verification against tampering: every single flipped
 * byte of a ledger (one segment, and several), a deleted record, two
 * swapped, a record edited with its check bytes recomputed, truncation
 * with and without an anchor, a torn tail, a replaced checkpoint
 * signature, the wrong key, and forks (an anchor, or a checkpoint, of
 * another history of the same size). Each must fail and name where.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ledger/key.h"
#include "ledger/note.h"
#include "ledger/scan.h"
#include "ltest.h"

typedef struct env {
    char *root;
    char dir[600];
    char seg[800];           /* the (first) segment */
    lt_keys k;
    sluice_policy *p;
    sluice_engine *e;
    unsigned char *img;      /* the segment as written */
    size_t len;
    lt_frames fr;
} env;

/* A closed ledger of `n` checks with a checkpoint every 3 records. */
static void make_ledger(env *v, const char *dir, int n, const char *salt,
    uint64_t seg_bytes)
{
    sluice_ledger_options lo = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_ledger *l = NULL;
    char text[64];
    lo.dir = dir;
    lo.signer = v->k.sk;
    lo.no_thread = 1;
    lo.checkpoint_records = 3;
    lo.segment_bytes = seg_bytes;
    assert_int_equal(sluice_ledger_open(&l, &lo, NULL), 0);
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED), 0);
    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof text, "%s %d %s", salt, i, i % 3 ? "" : "darn");
        assert_true(lt_check(v->e, text, NULL, NULL) >= 0);
    }
    assert_int_equal(sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED),
        0);
    assert_int_equal(sluice_ledger_close(l, NULL), 0);
    sluice_ledger_free(l);
}

static int setup(void **state)
{
    env *v = calloc(1, sizeof *v);
    if (v == NULL || (v->root = lt_tmpdir("verify")) == NULL)
        return -1;
    snprintf(v->dir, sizeof v->dir, "%s/ledger", v->root);
    snprintf(v->seg, sizeof v->seg, "%s/default/00000000000000000001.seg",
        v->dir);
    if (lt_keygen(v->root, "k", "test", &v->k) != 0 ||
        (v->e = lt_engine(&v->p)) == NULL)
        return -1;
    *state = v;
    return 0;
}

static int teardown(void **state)
{
    env *v = *state;
    sluice_engine_free(v->e);
    sluice_policy_unref(v->p);
    lt_keys_free(&v->k);
    free(v->img);
    lt_rm_rf(v->root);
    free(v->root);
    free(v);
    return 0;
}

/* The standard small ledger, its image and frames. */
static void standard(env *v)
{
    make_ledger(v, v->dir, 8, "text", 0);
    v->img = lt_read_file(v->seg, &v->len);
    assert_non_null(v->img);
    assert_int_equal(lt_split(v->img, v->len, &v->fr), 0);
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, NULL), 1);
}

/* Write an edited image and verify it; returns the report. */
static sluice_verify_report try_image(env *v, const unsigned char *p,
    size_t n, const char *anchor, int allow_tail)
{
    sluice_verify_report rep;
    assert_int_equal(lt_write_file(v->seg, p, n), 0);
    assert_true(lt_verify(v->dir, v->k.pk, anchor, allow_tail, &rep) >= 0);
    return rep;
}

static void restore(env *v)
{
    assert_int_equal(lt_write_file(v->seg, v->img, v->len), 0);
}

/* Index of the k-th record frame (0-based) and of the record after it. */
static size_t record_frame(const env *v, size_t k)
{
    for (size_t i = 0, seen = 0; i < v->fr.n; i++)
        if (v->fr.kind[i] == FRAME_RECORD && seen++ == k)
            return i;
    fail();
    return 0;
}

static void test_every_flipped_byte_fails_verification(void **state)
{
    env *v = *state;
    standard(v);
    unsigned char *p = malloc(v->len);
    assert_non_null(p);
    for (size_t i = 0; i < v->len; i++) {
        memcpy(p, v->img, v->len);
        p[i] ^= 0x01;
        sluice_verify_report rep = try_image(v, p, v->len, NULL, 0);
        if (rep.ok)
            fail_msg("byte %zu of %zu flipped, ledger still verifies", i,
                v->len);
        assert_true(rep.reason[0] != '\0');
        /* the same flip in the other direction of the bit */
        p[i] ^= 0x81;
        rep = try_image(v, p, v->len, NULL, 1);
        if (rep.ok && rep.tail_records == 0 && rep.torn_bytes == 0)
            fail_msg("byte %zu changed, ledger verifies with a clean tail", i);
    }
    free(p);
    restore(v);
}

static void test_every_flipped_byte_of_many_segments_fails(void **state)
{
    env *v = *state;
    seg_entry *segs = NULL;
    size_t n = 0, others = 0;
    char wdir[700], path[800];
    make_ledger(v, v->dir, 12, "multi", 900);
    snprintf(wdir, sizeof wdir, "%s/default", v->dir);
    assert_int_equal(scan_segments(wdir, &segs, &n, &others), 0);
    assert_true(n >= 3);
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, NULL), 1);
    for (size_t s = 0; s < n; s++) {
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", wdir, segs[s].name);
        unsigned char *img = lt_read_file(path, &len);
        assert_non_null(img);
        for (size_t i = 0; i < len; i++) {
            img[i] ^= 0x10;
            assert_int_equal(lt_write_file(path, img, len), 0);
            if (lt_verify(v->dir, v->k.pk, NULL, 0, NULL) != 0)
                fail_msg("segment %s byte %zu flipped, still verifies",
                    segs[s].name, i);
            img[i] ^= 0x10;
        }
        assert_int_equal(lt_write_file(path, img, len), 0);
        free(img);
    }
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, NULL), 1);
    free(segs);
}

static void test_a_deleted_or_swapped_record_is_named(void **state)
{
    env *v = *state;
    sluice_verify_report rep;
    standard(v);
    unsigned char *p = malloc(v->len);
    size_t i4 = record_frame(v, 4), i5 = record_frame(v, 5);
    /* delete record 5 (the fifth record frame holds seq 5) */
    size_t o = v->fr.off[i4], l = v->fr.len[i4];
    memcpy(p, v->img, o);
    memcpy(p + o, v->img + o + l, v->len - o - l);
    rep = try_image(v, p, v->len - l, NULL, 0);
    assert_int_equal(rep.ok, 0);
    assert_int_equal(rep.seq, 5);
    assert_int_equal(rep.offset, o);
    assert_non_null(strstr(rep.reason, "sequence number is 6"));
    /* swap records 5 and 6 (adjacent frames) */
    assert_int_equal(i5, i4 + 1);
    memcpy(p, v->img, v->len);
    memcpy(p + o, v->img + v->fr.off[i5], v->fr.len[i5]);
    memcpy(p + o + v->fr.len[i5], v->img + o, l);
    rep = try_image(v, p, v->len, NULL, 0);
    assert_int_equal(rep.ok, 0);
    assert_int_equal(rep.seq, 5);
    free(p);
    restore(v);
}

static void test_an_edited_record_with_fresh_check_bytes_breaks_the_chain(
    void **state)
{
    env *v = *state;
    sluice_verify_report rep;
    standard(v);
    unsigned char *p = malloc(v->len);
    size_t i = record_frame(v, 3);
    memcpy(p, v->img, v->len);
    /* the action byte of verdict record 4: allow -> block, resealed */
    unsigned char *f = p + v->fr.off[i];
    size_t wlen = f[FRAME_HEAD + REC_HEADER];
    assert_int_equal(f[FRAME_HEAD + REC_HEADER + 1 + wlen], SLUICE_ALLOW);
    f[FRAME_HEAD + REC_HEADER + 1 + wlen] = SLUICE_BLOCK;
    frame_seal(f);
    rep = try_image(v, p, v->len, NULL, 0);
    assert_int_equal(rep.ok, 0);
    /* caught by the next link or the next checkpoint's root */
    assert_true(rep.seq == 4 || rep.seq == 5);
    if (strstr(rep.reason, "does not link") == NULL &&
        strstr(rep.reason, "tree state") == NULL &&
        strstr(rep.reason, "root") == NULL)
        fail_msg("unexpected reason: %s", rep.reason);
    free(p);
    restore(v);
}

static void test_truncation_needs_an_anchor_to_be_seen(void **state)
{
    env *v = *state;
    sluice_verify_report rep;
    char anchor[700], *note = NULL;
    size_t nlen = 0;
    standard(v);
    assert_int_equal(sluice_ledger_checkpoint(v->dir, NULL, &note, &nlen,
        NULL), 0);
    snprintf(anchor, sizeof anchor, "%s/anchor", v->root);
    assert_int_equal(lt_write_file(anchor, note, nlen), 0);
    free(note);
    assert_int_equal(lt_verify(v->dir, v->k.pk, anchor, 0, NULL), 1);
    /* cut just after the checkpoint before the last: a clean-looking end
       (the close record and the final checkpoint are gone) */
    size_t k = v->fr.n - 1;          /* the final checkpoint */
    while (k-- > 0 && v->fr.kind[k] != FRAME_CHECKPOINT)
        ;
    size_t cut = v->fr.off[k] + v->fr.len[k];
    rep = try_image(v, v->img, cut, NULL, 0);
    assert_int_equal(rep.ok, 1);
    assert_non_null(strstr(rep.warning, "no close record"));
    rep = try_image(v, v->img, cut, anchor, 0);
    assert_int_equal(rep.ok, 0);
    assert_non_null(strstr(rep.reason, "truncated or rolled back"));
    /* cut inside a frame: torn, a failure unless tails are allowed */
    rep = try_image(v, v->img, v->len - 5, NULL, 0);
    assert_int_equal(rep.ok, 0);
    assert_non_null(strstr(rep.reason, "ends inside a frame"));
    rep = try_image(v, v->img, v->len - 5, NULL, 1);
    assert_int_equal(rep.ok, 1);
    assert_true(rep.torn_bytes > 0);
    /* cut after a record: records no checkpoint covers */
    size_t last_rec = record_frame(v, 8);
    cut = v->fr.off[last_rec] + v->fr.len[last_rec];
    rep = try_image(v, v->img, cut, NULL, 0);
    assert_int_equal(rep.ok, 0);
    assert_non_null(strstr(rep.reason, "not covered by a signed checkpoint"));
    rep = try_image(v, v->img, cut, NULL, 1);
    assert_int_equal(rep.ok, 1);
    assert_true(rep.tail_records > 0);
    restore(v);
}

/* Replace the note of checkpoint frame i by `note`, reseal; new image. */
static unsigned char *with_note(const env *v, size_t i, const lbuf *note,
    size_t *outlen)
{
    ckpt_frame c;
    const char *why;
    const unsigned char *f = v->img + v->fr.off[i];
    lbuf fb = {0};
    assert_int_equal(ckpt_parse(f + FRAME_HEAD, le32_get(f), &c, &why), 0);
    ckpt_encode(&fb, c.size, c.last, c.session, c.frontier, c.nfrontier,
        (const char *)note->p, note->len);
    assert_false(fb.oom);
    size_t o = v->fr.off[i], old = v->fr.len[i];
    *outlen = v->len - old + fb.len;
    unsigned char *p = malloc(*outlen);
    memcpy(p, v->img, o);
    memcpy(p + o, fb.p, fb.len);
    memcpy(p + o + fb.len, v->img + o + old, v->len - o - old);
    lbuf_free(&fb);
    return p;
}

static size_t last_checkpoint(const env *v)
{
    size_t i = v->fr.n;
    while (i-- > 0)
        if (v->fr.kind[i] == FRAME_CHECKPOINT)
            return i;
    fail();
    return 0;
}

static void test_a_replaced_checkpoint_signature_fails(void **state)
{
    env *v = *state;
    sluice_verify_report rep;
    lt_keys impostor = {0};
    ckpt_frame c;
    note_checkpoint nc;
    const char *why;
    size_t n;
    standard(v);
    size_t i = last_checkpoint(v);
    const unsigned char *f = v->img + v->fr.off[i];
    assert_int_equal(ckpt_parse(f + FRAME_HEAD, le32_get(f), &c, &why), 0);
    assert_int_equal(note_peek_checkpoint(c.note, c.note_len, &nc, &why), 0);
    /* signed again by another key with the same name */
    assert_int_equal(lt_keygen(v->root, "imp", "test", &impostor), 0);
    lbuf note = {0};
    assert_int_equal(note_sign(&note, c.note, nc.body_len, &impostor.sk->nk),
        0);
    unsigned char *p = with_note(v, i, &note, &n);
    rep = try_image(v, p, n, NULL, 0);
    assert_int_equal(rep.ok, 0);
    assert_non_null(strstr(rep.reason, "not by the given key"));
    free(p);
    /* our key id, someone else's signature bytes */
    note.len = 0;
    lbuf_put(&note, c.note, c.note_len);
    lbuf_u8(&note, 0);
    note.len--;
    char *sig = strrchr((char *)note.p, ' ') + 1;
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    p = with_note(v, i, &note, &n);
    rep = try_image(v, p, n, NULL, 0);
    assert_int_equal(rep.ok, 0);
    assert_non_null(strstr(rep.reason, "signature does not verify"));
    free(p);
    lbuf_free(&note);
    /* and the whole ledger with the wrong key */
    restore(v);
    assert_int_equal(lt_verify(v->dir, impostor.pk, NULL, 0, &rep), 0);
    assert_non_null(strstr(rep.reason, "not by the given key"));
    lt_keys_free(&impostor);
}

static void test_a_fork_of_the_same_size_is_detected(void **state)
{
    env *v = *state;
    sluice_verify_report rep;
    char other[700], anchor[700], *note = NULL;
    size_t nlen = 0, n;
    standard(v);
    /* another history: same key, same writer, as many records */
    snprintf(other, sizeof other, "%s/other", v->root);
    make_ledger(v, other, 8, "different", 0);
    assert_int_equal(lt_verify(other, v->k.pk, NULL, 0, NULL), 1);
    assert_int_equal(sluice_ledger_checkpoint(other, NULL, &note, &nlen, NULL),
        0);
    snprintf(anchor, sizeof anchor, "%s/fork-anchor", v->root);
    assert_int_equal(lt_write_file(anchor, note, nlen), 0);
    /* as an anchor: two checkpoints of one size, two roots */
    assert_int_equal(lt_verify(v->dir, v->k.pk, anchor, 0, &rep), 0);
    assert_non_null(strstr(rep.reason, "fork"));
    /* spliced in as the ledger's own last checkpoint */
    lbuf nb = {0};
    lbuf_put(&nb, note, nlen);
    unsigned char *p = with_note(v, last_checkpoint(v), &nb, &n);
    rep = try_image(v, p, n, NULL, 0);
    assert_int_equal(rep.ok, 0);
    assert_non_null(strstr(rep.reason, "fork"));
    free(p);
    lbuf_free(&nb);
    free(note);
    restore(v);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_flipped_byte_fails_verification),
        T(test_every_flipped_byte_of_many_segments_fails),
        T(test_a_deleted_or_swapped_record_is_named),
        T(test_an_edited_record_with_fresh_check_bytes_breaks_the_chain),
        T(test_truncation_needs_an_anchor_to_be_seen),
        T(test_a_replaced_checkpoint_signature_fails),
        T(test_a_fork_of_the_same_size_is_detected),
    };
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
