/*
 * recover_test.c - crashes and full disks: a torn last record at every
 * offset is cut back exactly (and the cut kept and recorded), whole records
 * after the last checkpoint are kept, damage before a signed checkpoint is
 * refused rather than cut, a full disk (RLIMIT_FSIZE in a child process)
 * blocks fail-closed and is recorded as a gap under fail-open, and kill -9
 * of a durable writer under load never loses an acknowledged record.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ltest.h"

typedef struct env {
    char *root;
    char dir[600];
    lt_keys k;
    sluice_policy *p;
    sluice_engine *e;
} env;

static int setup(void **state)
{
    env *v = calloc(1, sizeof *v);
    if (v == NULL || (v->root = lt_tmpdir("recover")) == NULL)
        return -1;
    snprintf(v->dir, sizeof v->dir, "%s/ledger", v->root);
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
    lt_rm_rf(v->root);
    free(v->root);
    free(v);
    return 0;
}

typedef struct rec_info {
    int type;
    uint64_t seq, cut, kept, released, blocked;
    unsigned char hash[32];
} rec_info;

typedef struct recs {
    rec_info *r;
    size_t n, cap;
} recs;

static int collect(const sluice_record *r, void *payload)
{
    recs *c = payload;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->r = realloc(c->r, c->cap * sizeof *c->r);
        assert_non_null(c->r);
    }
    rec_info *o = &c->r[c->n++];
    o->type = (int)r->type;
    o->seq = r->seq;
    o->cut = r->cut_bytes;
    o->kept = r->kept_unsigned;
    o->released = r->gap_released;
    o->blocked = r->gap_blocked;
    memcpy(o->hash, r->hash, 32);
    return 0;
}

static recs read_all(const char *dir)
{
    recs c = {NULL, 0, 0};
    assert_int_equal(sluice_ledger_foreach(dir, NULL, collect, &c, NULL), 0);
    return c;
}

static void test_a_torn_last_record_is_cut_back_at_every_offset(void **state)
{
    env *v = *state;
    char crash[700], seg[800], copy[700], saved[900];
    size_t len = 0;
    /* the image a crash leaves: records after the checkpoint, no close */
    sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_BATCHED, 1,
        100000, 1000000);
    assert_non_null(l);
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED), 0);
    for (int i = 0; i < 5; i++)
        assert_true(lt_check(v->e, i == 4 ? "the darn last one" : "whole",
            NULL, NULL) >= 0);
    snprintf(crash, sizeof crash, "%s/crash", v->root);
    assert_int_equal(lt_copy_dir(v->dir, crash), 0);
    assert_int_equal(sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED),
        0);
    sluice_ledger_free(l);
    snprintf(seg, sizeof seg, "%s/default/00000000000000000001.seg", crash);
    unsigned char *img = lt_read_file(seg, &len);
    lt_frames fr;
    assert_int_equal(lt_split(img, len, &fr), 0);
    assert_int_equal(fr.kind[fr.n - 1], FRAME_RECORD);
    size_t last = fr.off[fr.n - 1];
    snprintf(copy, sizeof copy, "%s/copy", v->root);
    for (size_t k = 0; k < fr.len[fr.n - 1]; k++) {
        char cseg[800];
        lt_rm_rf(copy);
        assert_int_equal(lt_copy_dir(crash, copy), 0);
        snprintf(cseg, sizeof cseg, "%s/default/00000000000000000001.seg",
            copy);
        assert_int_equal(lt_write_file(cseg, img, last + k), 0);
        /* unrecovered: verify sees the tail (torn when k > 0) */
        sluice_verify_report rep;
        assert_int_equal(lt_verify(copy, v->k.pk, NULL, 0, &rep), 0);
        assert_int_equal(lt_verify(copy, v->k.pk, NULL, 1, &rep), 1);
        assert_int_equal(rep.torn_bytes, k);
        sluice_ledger *r = lt_open(copy, v->k.sk, SLUICE_LEDGER_BATCHED, 1, 0,
            0);
        sluice_ledger_stats st;
        assert_non_null(r);
        sluice_ledger_get_stats(r, &st);
        assert_int_equal(st.recovered_bytes, k);
        assert_int_equal(sluice_ledger_close(r, NULL), 0);
        sluice_ledger_free(r);
        assert_int_equal(lt_verify(copy, v->k.pk, NULL, 0, NULL), 1);
        recs c = read_all(copy);
        /* open, 4 whole verdicts, then the new session: open, recovery */
        assert_int_equal(c.n, 8);
        assert_int_equal(c.r[5].type, SLUICE_RECORD_OPEN);
        assert_int_equal(c.r[6].type, SLUICE_RECORD_RECOVERY);
        assert_int_equal(c.r[6].cut, k);
        assert_int_equal(c.r[6].kept, 4);
        free(c.r);
        if (k > 0) {
            size_t slen = 0;
            snprintf(saved, sizeof saved, "%s/default/"
                "00000000000000000001.seg.cut-%zu", copy, last);
            unsigned char *s = lt_read_file(saved, &slen);
            assert_non_null(s);
            assert_int_equal(slen, k);
            assert_memory_equal(s, img + last, k);
            free(s);
        }
    }
    free(img);
}

static void test_damage_before_a_signed_checkpoint_is_not_cut(void **state)
{
    env *v = *state;
    char seg[800];
    size_t len = 0, len2 = 0;
    sluice_ledger_options lo = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_BATCHED, 1, 2,
        0);
    sluice_error err;
    assert_non_null(l);
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED), 0);
    for (int i = 0; i < 8; i++)
        assert_true(lt_check(v->e, "text", NULL, NULL) >= 0);
    assert_int_equal(sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED),
        0);
    assert_int_equal(sluice_ledger_close(l, NULL), 0);
    sluice_ledger_free(l);
    snprintf(seg, sizeof seg, "%s/default/00000000000000000001.seg", v->dir);
    unsigned char *img = lt_read_file(seg, &len);
    lt_frames fr;
    assert_int_equal(lt_split(img, len, &fr), 0);
    /* the length of a record in the middle: the frames no longer parse */
    img[fr.off[fr.n / 2]] ^= 0x20;
    assert_int_equal(lt_write_file(seg, img, len), 0);
    lo.dir = v->dir;
    lo.signer = v->k.sk;
    memset(&err, 0, sizeof err);
    assert_int_equal(sluice_ledger_open(&l, &lo, &err), SLUICE_EIO);
    assert_non_null(strstr(err.message, "not a torn tail"));
    unsigned char *after = lt_read_file(seg, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(after, img, len);
    free(after);
    free(img);
}

/* ---- a full disk ---------------------------------------------------------- */

/* In the child: returns 0 if everything went as it should, else a step. */
static int full_disk_child(env *v)
{
    sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_BATCHED, 1,
        100000, 1000000);
    struct rlimit rl;
    struct stat st;
    sluice_verdict *vd = NULL;
    char seg[800];
    uint64_t seq;
    int rc = 0;
    if (l == NULL || sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED))
        return 1;
    if (lt_check(v->e, "before the disk fills", NULL, &seq) != SLUICE_ALLOW ||
        seq == 0)
        return 2;
    snprintf(seg, sizeof seg, "%s/default/00000000000000000001.seg", v->dir);
    if (stat(seg, &st) != 0 || getrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 3;
    if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
        return 3;
    struct rlimit small = {(rlim_t)st.st_size + 60, rl.rlim_max};
    if (setrlimit(RLIMIT_FSIZE, &small) != 0)
        return 4;
    /* fail-closed: the record cannot be written, the clean text blocks */
    if (sluice_check(v->e, "a clean text", 12, NULL, &vd, NULL) != 0 ||
        sluice_verdict_action(vd) != SLUICE_BLOCK ||
        strcmp(sluice_verdict_reason(vd), "ledger_unavailable") != 0)
        rc = 5;
    sluice_verdict_free(vd);
    /* the partial frame was cut back: the file ends at a whole frame */
    struct stat st2;
    if (rc == 0 && (stat(seg, &st2) != 0 || st2.st_size != st.st_size))
        rc = 6;
    /* fail-open: released, and said */
    if (rc == 0 && sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_OPEN) != 0)
        rc = 7;
    if (rc == 0 && (sluice_check(v->e, "another text", 12, NULL, &vd,
            NULL) != 0 || sluice_verdict_action(vd) != SLUICE_ALLOW ||
            strcmp(sluice_verdict_reason(vd),
                "ledger_unavailable_fail_open") != 0))
        rc = 8;
    sluice_verdict_free(vd);
    /* space again: the gap is recorded before the next record */
    if (rc == 0 && setrlimit(RLIMIT_FSIZE, &rl) != 0)
        rc = 9;
    if (rc == 0 && (lt_check(v->e, "after", NULL, &seq) != SLUICE_ALLOW ||
            seq != 4))
        rc = 10;
    if (sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED) != 0 ||
        sluice_ledger_close(l, NULL) != 0)
        rc = rc ? rc : 11;
    sluice_ledger_free(l);
    return rc;
}

static void test_a_full_disk_blocks_then_records_the_gap(void **state)
{
    env *v = *state;
    int status = 0;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(full_disk_child(v));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, NULL), 1);
    recs c = read_all(v->dir);
    /* open, verdict, gap (1 blocked, 1 released), verdict, close */
    assert_int_equal(c.n, 5);
    assert_int_equal(c.r[2].type, SLUICE_RECORD_GAP);
    assert_int_equal(c.r[2].blocked, 1);
    assert_int_equal(c.r[2].released, 1);
    assert_int_equal(c.r[3].type, SLUICE_RECORD_VERDICT);
    free(c.r);
}

/* ---- kill -9 under load ------------------------------------------------------- */

typedef struct acked {
    uint64_t seq;
    unsigned char hash[32];
} acked;

typedef struct loader {
    sluice_engine *e;
    int fd;
    int id;
} loader;

static void *load(void *arg)
{
    loader *w = arg;
    char text[64];
    for (int i = 0;; i++) {
        sluice_verdict *vd = NULL;
        acked a;
        snprintf(text, sizeof text, "writer %d text %d", w->id, i);
        if (sluice_check(w->e, text, strlen(text), NULL, &vd, NULL) != 0)
            _exit(20);
        if (!sluice_verdict_record(vd, &a.seq, a.hash))
            _exit(21);
        sluice_verdict_free(vd);
        /* acknowledged: only now does anyone hear of it */
        if (write(w->fd, &a, sizeof a) != (ssize_t)sizeof a)
            _exit(22);
    }
    return NULL;
}

static void durable_child(env *v, int fd)
{
    enum { T = 3 };
    pthread_t th[T];
    loader w[T];
    sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_DURABLE, 0, 0,
        0);
    if (l == NULL || sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED))
        _exit(23);
    for (int i = 0; i < T; i++) {
        w[i] = (loader){v->e, fd, i};
        if (pthread_create(&th[i], NULL, load, &w[i]) != 0)
            _exit(24);
    }
    for (;;)
        pause();
}

static int has(const recs *c, const acked *a)
{
    return a->seq >= 1 && a->seq <= c->n && c->r[a->seq - 1].seq == a->seq &&
        memcmp(c->r[a->seq - 1].hash, a->hash, 32) == 0;
}

static void test_kill_9_loses_no_acknowledged_durable_record(void **state)
{
    env *v = *state;
    size_t total = 0;
    /* 5 rounds in make test; SLUICE_KILL9_ROUNDS=N for a longer run */
    const char *env_rounds = getenv("SLUICE_KILL9_ROUNDS");
    int rounds = env_rounds != NULL && atoi(env_rounds) > 0 ?
        atoi(env_rounds) : 5;
    for (int round = 0; round < rounds; round++) {
        int p[2], status;
        acked a;
        size_t got = 0;
        assert_int_equal(pipe(p), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            durable_child(v, p[1]);
        }
        close(p[1]);
        /* the first acknowledgement, then a random point: opening a long
           ledger (recovery reads its chain) takes longer each round */
        acked first;
        assert_int_equal(read(p[0], &first, sizeof first),
            (ssize_t)sizeof first);
        struct timespec ts = {0, (long)randombytes_uniform(120) * 1000000};
        nanosleep(&ts, NULL);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        /* recovery, then every acknowledged record must be there */
        sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_BATCHED, 1,
            0, 0);
        assert_non_null(l);
        assert_int_equal(sluice_ledger_close(l, NULL), 0);
        sluice_ledger_free(l);
        recs c = read_all(v->dir);
        if (!has(&c, &first))
            fail_msg("round %d: acknowledged record %llu is lost", round,
                (unsigned long long)first.seq);
        got++;
        while (read(p[0], &a, sizeof a) == (ssize_t)sizeof a) {
            if (!has(&c, &a))
                fail_msg("round %d: acknowledged record %llu is lost", round,
                    (unsigned long long)a.seq);
            got++;
        }
        close(p[0]);
        free(c.r);
        assert_true(got > 0);
        total += got;
    }
    print_message("# %zu acknowledged durable records, none lost\n", total);
    sluice_verify_report rep;
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, &rep), 1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_torn_last_record_is_cut_back_at_every_offset),
        T(test_damage_before_a_signed_checkpoint_is_not_cut),
        T(test_a_full_disk_blocks_then_records_the_gap),
        T(test_kill_9_loses_no_acknowledged_durable_record),
    };
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
