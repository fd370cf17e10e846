/*
 * torn_tail_test.c - what `sluice ledger verify --allow-tail` accepts as a
 * torn tail (ledger/verify.c). A crash can leave a partial last frame,
 * and allow_tail reports it; but a corrupted length field makes every
 * byte after it look like one endless partial frame, signed checkpoints
 * included. Such a "tail" hides records that a checkpoint signed, and
 * must fail verification, as recovery (ledger/recover.c) already refuses
 * to cut it.
 *
 * Found by tests/fuzz/fuzz_ledger.c: a ledger that verified with
 * allow_tail but that sluice_ledger_open refused as damaged (its input is
 * tests/fuzz/seeds/ledger/verify-torn-tail-hides-checkpoint).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ltest.h"

typedef struct fx {
    char *dir;          /* scratch */
    char ldir[600];     /* the ledger */
    char seg[700];      /* its one segment */
    lt_keys k;
    unsigned char *img; /* the segment as written */
    size_t n;
} fx;

/* A closed ledger of 8 verdicts, a checkpoint every 2 records. */
static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    sluice_policy *p = NULL;
    sluice_engine *e = NULL;
    sluice_ledger *l = NULL;
    if (f == NULL || (f->dir = lt_tmpdir("torn")) == NULL ||
        lt_keygen(f->dir, "k", "torn", &f->k) != 0)
        return -1;
    snprintf(f->ldir, sizeof f->ldir, "%s/ledger", f->dir);
    snprintf(f->seg, sizeof f->seg, "%s/default/%020d.seg", f->ldir, 1);
    if ((e = lt_engine(&p)) == NULL ||
        (l = lt_open(f->ldir, f->k.sk, SLUICE_LEDGER_BATCHED, 1, 2, 0)) ==
        NULL || sluice_engine_set_ledger(e, l, SLUICE_FAIL_CLOSED) != 0)
        return -1;
    for (int i = 0; i < 8; i++)
        if (lt_check(e, i % 2 ? "darn it" : "hello", NULL, NULL) < 0)
            return -1;
    if (sluice_engine_set_ledger(e, NULL, SLUICE_FAIL_CLOSED) != 0 ||
        sluice_ledger_close(l, NULL) != 0)
        return -1;
    sluice_ledger_free(l);
    sluice_engine_free(e);
    sluice_policy_unref(p);
    if ((f->img = lt_read_file(f->seg, &f->n)) == NULL)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    lt_rm_rf(f->dir);
    free(f->dir);
    free(f->img);
    lt_keys_free(&f->k);
    free(f);
    return 0;
}

/* Put the original segment back, then apply a change. */
static void restore(fx *f)
{
    assert_int_equal(lt_write_file(f->seg, f->img, f->n), 0);
}

static void a_length_field_that_hides_signed_checkpoints_fails(void **state)
{
    fx *f = *state;
    lt_frames fr;
    sluice_verify_report rep;
    size_t victim = 0;
    assert_int_equal(lt_split(f->img, f->n, &fr), 0);
    /* the first record frame with a checkpoint frame somewhere after it */
    for (size_t i = 1; i + 1 < fr.n && victim == 0; i++)
        if (fr.kind[i] == FRAME_RECORD)
            victim = i;
    assert_true(victim > 0);
    unsigned char *bad = malloc(f->n);
    assert_non_null(bad);
    memcpy(bad, f->img, f->n);
    /* a length that runs past the end of the file, yet within the 1 MiB a
       frame may have (larger ones are malformed, not torn) */
    le32_put(bad + fr.off[victim], (uint32_t)(f->n - fr.off[victim] + 100));
    assert_int_equal(lt_write_file(f->seg, bad, f->n), 0);
    free(bad);

    assert_int_equal(lt_verify(f->ldir, f->k.pk, NULL, 0, &rep), 0);
    assert_int_equal(lt_verify(f->ldir, f->k.pk, NULL, 1, &rep), 0);
    if (strstr(rep.reason, "checkpoint signed by the key") == NULL)
        fail_msg("%s (at %llu)", rep.reason, (unsigned long long)rep.offset);
    assert_int_equal(rep.offset, fr.off[victim]);

    /* recovery agrees: not a torn tail, nothing is cut */
    assert_null(lt_open(f->ldir, f->k.sk, SLUICE_LEDGER_BATCHED, 1, 2, 0));
    restore(f);
}

static void a_frame_torn_by_a_crash_still_passes_with_allow_tail(
    void **state)
{
    fx *f = *state;
    sluice_verify_report rep;
    lt_frames fr;
    assert_int_equal(lt_split(f->img, f->n, &fr), 0);
    /* cut inside the last frame (the final checkpoint): its note is
       whole, but covers no more records than those before it */
    assert_int_equal(truncate(f->seg, (off_t)f->n - 3), 0);
    assert_int_equal(lt_verify(f->ldir, f->k.pk, NULL, 0, &rep), 0);
    if (lt_verify(f->ldir, f->k.pk, NULL, 1, &rep) != 1)
        fail_msg("%s (at %llu)", rep.reason, (unsigned long long)rep.offset);
    assert_int_equal(rep.torn_bytes, fr.len[fr.n - 1] - 3);
    /* and a record cut in half */
    restore(f);
    assert_int_equal(truncate(f->seg, (off_t)fr.off[fr.n - 2] + 9), 0);
    assert_int_equal(lt_verify(f->ldir, f->k.pk, NULL, 1, &rep), 1);
    assert_int_equal(rep.torn_bytes, 9);
    restore(f);
    assert_int_equal(lt_verify(f->ldir, f->k.pk, NULL, 0, &rep), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_length_field_that_hides_signed_checkpoints_fails),
        cmocka_unit_test(a_frame_torn_by_a_crash_still_passes_with_allow_tail),
    };
    return cmocka_run_group_tests_name("torn_tail", tests, setup, teardown);
}
