/*
 * ledger_test.c - the ledger writer and its engine integration: every
 * verdict recorded before it returns, sessions across reopenings, fail
 * closed and fail open, one process per writer, keys and origins bound to
 * a chain, concurrent appends (batched and durable, with group commit),
 * the time bound of batched mode, segment rotation and missing segments,
 * streamed verdicts, the checkpoint callback, and receipts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ledger/key.h"
#include "ledger/note.h"
#include "ledger/scan.h"
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
    if (v == NULL || (v->root = lt_tmpdir("ledger")) == NULL)
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

/* ---- collecting records ---------------------------------------------------- */

typedef struct rec_copy {
    int type, action, has_digest;
    uint64_t seq, cut, kept, released, blocked;
    uint32_t session;
    unsigned char digest[32], hash[32];
    char reason[64], request[64], rule0[64], policy[64];
    size_t nrules;
} rec_copy;

typedef struct recs {
    rec_copy r[4096];
    size_t n;
} recs;

static int collect(const sluice_record *r, void *payload)
{
    recs *c = payload;
    rec_copy *o;
    if (c->n == 4096)
        return 1;
    o = &c->r[c->n++];
    memset(o, 0, sizeof *o);
    o->type = (int)r->type;
    o->action = (int)r->action;
    o->seq = r->seq;
    o->session = r->session;
    o->has_digest = r->has_digest;
    memcpy(o->digest, r->digest, 32);
    memcpy(o->hash, r->hash, 32);
    o->cut = r->cut_bytes;
    o->kept = r->kept_unsigned;
    o->released = r->gap_released;
    o->blocked = r->gap_blocked;
    snprintf(o->reason, sizeof o->reason, "%s", r->reason);
    snprintf(o->request, sizeof o->request, "%s", r->request_id);
    snprintf(o->policy, sizeof o->policy, "%s", r->policy_id);
    o->nrules = r->nrules;
    if (r->nrules > 0)
        snprintf(o->rule0, sizeof o->rule0, "%s", r->rules[0]);
    return 0;
}

static recs *read_all(const char *dir, const char *writer)
{
    recs *c = calloc(1, sizeof *c);
    assert_non_null(c);
    assert_int_equal(sluice_ledger_foreach(dir, writer, collect, c, NULL), 0);
    return c;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_every_verdict_is_recorded_before_it_returns(void **state)
{
    env *v = *state;
    sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_BATCHED, 0, 0,
        0);
    static const char *const texts[] = {"a clean text", "oh darn it",
        "an explosive recipe here", "about the election", ""};
    static const int actions[] = {SLUICE_ALLOW, SLUICE_REDACT, SLUICE_BLOCK,
        SLUICE_FLAG, SLUICE_ALLOW};
    sluice_meta meta = {"req-7", "tenant-1", "user-9", "m-1"};
    uint64_t seq;
    assert_non_null(l);
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(lt_check(v->e, texts[i], &meta, &seq), actions[i]);
        assert_int_equal(seq, (uint64_t)i + 2);   /* 1 is the open record */
    }
    /* the verdict's JSON names its record */
    sluice_verdict *vd = NULL;
    char *js = NULL;
    unsigned char h[32];
    char hex[65], want[128];
    assert_int_equal(sluice_check(v->e, "x", 1, NULL, &vd, NULL), 0);
    assert_int_equal(sluice_verdict_record(vd, &seq, h), 1);
    assert_int_equal(sluice_verdict_json(vd, &js, NULL), 0);
    sodium_bin2hex(hex, sizeof hex, h, 32);
    snprintf(want, sizeof want, "\"record\":{\"seq\":%llu,\"hash\":\"%s\"}",
        (unsigned long long)seq, hex);
    assert_non_null(strstr(js, want));
    free(js);
    sluice_verdict_free(vd);
    assert_int_equal(sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED),
        0);
    assert_int_equal(sluice_ledger_close(l, NULL), 0);
    sluice_ledger_free(l);

    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, NULL), 1);
    recs *c = read_all(v->dir, NULL);
    assert_int_equal(c->n, 8);
    assert_int_equal(c->r[0].type, SLUICE_RECORD_OPEN);
    assert_int_equal(c->r[7].type, SLUICE_RECORD_CLOSE);
    assert_int_equal(c->r[2].action, SLUICE_REDACT);
    assert_string_equal(c->r[2].rule0, "profanity.en");
    assert_string_equal(c->r[2].request, "req-7");
    assert_string_equal(c->r[2].policy, "ledgertest");
    unsigned char d[32];
    assert_int_equal(sluice_digest(v->k.sk, texts[1], strlen(texts[1]), d,
        NULL), 0);
    assert_true(c->r[2].has_digest);
    assert_memory_equal(c->r[2].digest, d, 32);
    assert_memory_equal(c->r[6].hash, h, 32);
    free(c);
}

static void test_each_open_is_a_new_session_of_the_same_chain(void **state)
{
    env *v = *state;
    uint64_t seq = 0;
    for (int round = 0; round < 3; round++) {
        sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_DURABLE, 1,
            0, 0);
        sluice_ledger_stats st;
        assert_non_null(l);
        sluice_ledger_get_stats(l, &st);
        assert_int_equal(st.session, round + 1);
        assert_int_equal(st.recovered_bytes, 0);
        assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED),
            0);
        assert_int_equal(lt_check(v->e, "hello", NULL, &seq), SLUICE_ALLOW);
        assert_int_equal(seq, (uint64_t)round * 3 + 2);
        sluice_ledger_get_stats(l, &st);
        assert_int_equal(st.synced, st.records);     /* durable */
        assert_int_equal(sluice_engine_set_ledger(v->e, NULL,
            SLUICE_FAIL_CLOSED), 0);
        assert_int_equal(sluice_ledger_close(l, NULL), 0);
        sluice_ledger_free(l);
    }
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, NULL), 1);
    recs *c = read_all(v->dir, "default");
    assert_int_equal(c->n, 9);
    for (size_t i = 0; i < c->n; i++) {
        assert_int_equal(c->r[i].seq, i + 1);
        assert_int_equal(c->r[i].session, i / 3 + 1);
        assert_int_not_equal(c->r[i].type, SLUICE_RECORD_RECOVERY);
    }
    free(c);
}

static void test_unrecordable_verdicts_block_unless_fail_open(void **state)
{
    env *v = *state;
    sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_BATCHED, 1, 0,
        0);
    sluice_verdict *vd = NULL;
    sluice_ledger_stats st;
    size_t len;
    assert_non_null(l);
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED), 0);
    assert_int_equal(sluice_ledger_close(l, NULL), 0);
    /* closed: nothing can be recorded, a clean text is blocked */
    assert_int_equal(sluice_check(v->e, "a clean text", 12, NULL, &vd, NULL),
        0);
    assert_int_equal(sluice_verdict_action(vd), SLUICE_BLOCK);
    assert_string_equal(sluice_verdict_reason(vd), "ledger_unavailable");
    assert_string_equal(sluice_verdict_output(vd, &len), "Sorry.");
    assert_int_equal(sluice_verdict_record(vd, NULL, NULL), 0);
    char *js = NULL;
    assert_int_equal(sluice_verdict_json(vd, &js, NULL), 0);
    assert_non_null(strstr(js, "\"reason\":\"ledger_unavailable\""));
    assert_null(strstr(js, "\"record\""));
    free(js);
    sluice_verdict_free(vd);
    /* fail-open: the verdict stands and says so */
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_OPEN), 0);
    assert_int_equal(sluice_check(v->e, "a clean text", 12, NULL, &vd, NULL),
        0);
    assert_int_equal(sluice_verdict_action(vd), SLUICE_ALLOW);
    assert_string_equal(sluice_verdict_reason(vd),
        "ledger_unavailable_fail_open");
    assert_string_equal(sluice_verdict_output(vd, &len), "a clean text");
    sluice_verdict_free(vd);
    sluice_ledger_get_stats(l, &st);
    assert_int_equal(st.unrecorded, 2);
    assert_int_equal(sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED),
        0);
    sluice_ledger_free(l);
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, NULL), 1);
}

static void test_a_writer_belongs_to_one_process_key_and_origin(void **state)
{
    env *v = *state;
    sluice_ledger_options lo = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_BATCHED, 1, 0,
        0), *l2 = NULL;
    sluice_error err;
    lt_keys k2 = {0};
    assert_non_null(l);
    lo.dir = v->dir;
    lo.signer = v->k.sk;
    memset(&err, 0, sizeof err);
    assert_int_equal(sluice_ledger_open(&l2, &lo, &err), SLUICE_EIO);
    assert_non_null(strstr(err.message, "in use by another process"));
    lo.writer = "second";
    assert_int_equal(sluice_ledger_open(&l2, &lo, &err), 0);
    assert_int_equal(sluice_ledger_close(l2, NULL), 0);
    sluice_ledger_free(l2);
    assert_int_equal(sluice_ledger_close(l, NULL), 0);
    sluice_ledger_free(l);
    sluice_verify_report rep;
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, &rep), 1);
    assert_int_equal(rep.writers, 2);
    /* another key cannot continue the chain, nor another origin */
    assert_int_equal(lt_keygen(v->root, "k2", "test", &k2), 0);
    lo.writer = NULL;
    lo.signer = k2.sk;
    assert_int_equal(sluice_ledger_open(&l2, &lo, &err), SLUICE_EINVAL);
    assert_non_null(strstr(err.message, "another key"));
    lo.signer = v->k.sk;
    lo.origin = "example.com/other";
    assert_int_equal(sluice_ledger_open(&l2, &lo, &err), SLUICE_EINVAL);
    assert_non_null(strstr(err.message, "origin"));
    lt_keys_free(&k2);
}

typedef struct worker {
    sluice_engine *e;
    int n;
    int id;
    uint64_t *seqs;
    int failed;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char text[64];
    for (int i = 0; i < w->n; i++) {
        snprintf(text, sizeof text, "thread %d text %d %s", w->id, i,
            i % 7 == 0 ? "darn" : "");
        uint64_t seq = 0;
        if (lt_check(w->e, text, NULL, &seq) < 0 || seq == 0)
            w->failed++;
        w->seqs[i] = seq;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* T threads x n checks; returns the ledger's stats after the run. */
static void concurrent(env *v, const char *dir, sluice_ledger_mode mode,
    int n, sluice_ledger_stats *st)
{
    enum { T = 4 };
    pthread_t th[T];
    worker w[T];
    uint64_t *all = calloc((size_t)T * n, sizeof *all);
    sluice_ledger *l = lt_open(dir, v->k.sk, mode, 0, 0, 0);
    assert_non_null(l);
    assert_non_null(all);
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED), 0);
    for (int i = 0; i < T; i++) {
        w[i] = (worker){v->e, n, i, all + (size_t)i * n, 0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failed, 0);
    }
    sluice_ledger_get_stats(l, st);
    assert_int_equal(sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED),
        0);
    assert_int_equal(sluice_ledger_close(l, NULL), 0);
    sluice_ledger_free(l);
    /* every acknowledged seq is distinct: 2 .. T*n+1 */
    qsort(all, (size_t)T * n, sizeof *all, cmp_u64);
    for (size_t i = 0; i < (size_t)T * n; i++)
        assert_int_equal(all[i], i + 2);
    free(all);
    sluice_verify_report rep;
    assert_int_equal(lt_verify(dir, v->k.pk, NULL, 0, &rep), 1);
    assert_int_equal(rep.records, (uint64_t)T * n + 2);
}

static void test_concurrent_appends_in_both_modes_share_syncs(void **state)
{
    env *v = *state;
    sluice_ledger_stats st;
    char dir[700];
    concurrent(v, v->dir, SLUICE_LEDGER_BATCHED, 3000, &st);
    assert_true(st.syncs < st.records);
    /* durable on a real disk, where a sync takes long enough for others
       to queue behind it: one fdatasync serves many appends */
    char *disk = strdup("/tmp/sluice-durable-XXXXXX");
    assert_non_null(mkdtemp(disk));
    snprintf(dir, sizeof dir, "%s/ledger", disk);
    concurrent(v, dir, SLUICE_LEDGER_DURABLE, 60, &st);
    print_message("# durable: %llu records, %llu syncs\n",
        (unsigned long long)st.records, (unsigned long long)st.syncs);
    assert_true(st.syncs < st.records);
    lt_rm_rf(disk);
    free(disk);
}

static void test_batched_records_are_synced_within_the_interval(void **state)
{
    env *v = *state;
    sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_BATCHED, 0,
        100000, 5);
    sluice_ledger_stats st;
    struct timespec ts = {0, 60 * 1000000};
    assert_non_null(l);
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(lt_check(v->e, "quiet period", NULL, NULL),
            SLUICE_ALLOW);
    sluice_ledger_get_stats(l, &st);
    assert_int_equal(st.records, 4);
    nanosleep(&ts, NULL);      /* 12 intervals: the thread has synced */
    sluice_ledger_get_stats(l, &st);
    assert_int_equal(st.synced, 4);
    assert_int_equal(sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED),
        0);
    sluice_ledger_free(l);
}

static int count_segments(const char *wdir)
{
    DIR *d = opendir(wdir);
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".seg") != NULL &&
            strstr(e->d_name, ".tmp") == NULL;
    closedir(d);
    return n;
}

static void test_segments_rotate_and_missing_ones_are_reported(void **state)
{
    env *v = *state;
    sluice_ledger_options lo = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_ledger *l = NULL;
    sluice_verify_report rep;
    char wdir[700], path[800], anchor[700];
    lo.dir = v->dir;
    lo.signer = v->k.sk;
    lo.no_thread = 1;
    lo.checkpoint_records = 4;
    lo.segment_bytes = 1500;
    assert_int_equal(sluice_ledger_open(&l, &lo, NULL), 0);
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(lt_check(v->e, "rotate me", NULL, NULL), SLUICE_ALLOW);
    assert_int_equal(sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED),
        0);
    assert_int_equal(sluice_ledger_close(l, NULL), 0);
    sluice_ledger_free(l);
    snprintf(wdir, sizeof wdir, "%s/default", v->dir);
    int nseg = count_segments(wdir);
    assert_true(nseg >= 4);
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, &rep), 1);
    assert_int_equal(rep.segments, (size_t)nseg);
    assert_int_equal(rep.records, 42);
    /* keep an anchor, then lose segments */
    char *note = NULL;
    size_t len = 0;
    assert_int_equal(sluice_ledger_checkpoint(v->dir, NULL, &note, &len, NULL),
        0);
    snprintf(anchor, sizeof anchor, "%s/anchor", v->root);
    assert_int_equal(lt_write_file(anchor, note, len), 0);
    free(note);
    seg_entry *segs = NULL;
    size_t n = 0, others = 0;
    assert_int_equal(scan_segments(wdir, &segs, &n, &others), 0);
    char *keep = lt_tmpdir("segs");
    assert_int_equal(lt_copy_dir(wdir, keep), 0);
    /* the last one: invisible without the anchor, caught with it */
    snprintf(path, sizeof path, "%s/%s", wdir, segs[n - 1].name);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, &rep), 1);
    assert_int_equal(lt_verify(v->dir, v->k.pk, anchor, 0, &rep), 0);
    assert_non_null(strstr(rep.reason, "truncated or rolled back"));
    /* a middle one */
    assert_int_equal(lt_copy_dir(keep, wdir), 0);
    snprintf(path, sizeof path, "%s/%s", wdir, segs[1].name);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, &rep), 0);
    assert_non_null(strstr(rep.reason, "missing"));
    assert_int_equal(rep.seq, segs[1].first);
    /* the first one: pruned, which verify accepts when told */
    assert_int_equal(lt_copy_dir(keep, wdir), 0);
    snprintf(path, sizeof path, "%s/%s", wdir, segs[0].name);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(lt_verify(v->dir, v->k.pk, NULL, 0, &rep), 0);
    assert_non_null(strstr(rep.reason, "pruned"));
    sluice_verify_options vo = SLUICE_VERIFY_OPTIONS_INIT;
    vo.key = v->k.pk;
    vo.allow_pruned = 1;
    vo.anchor = anchor;
    assert_int_equal(sluice_ledger_verify(v->dir, &vo, &rep, NULL), 0);
    assert_int_equal(rep.ok, 1);
    assert_int_equal(rep.records, 42 - (segs[1].first - 1));
    free(segs);
    lt_rm_rf(keep);
    free(keep);
}

static void test_streamed_verdicts_are_recorded_with_the_digest_of_what_was_fed(void **state)
{
    env *v = *state;
    sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_BATCHED, 1, 0,
        0);
    sluice_session *s = NULL;
    sluice_release r;
    sluice_verdict *vd = NULL;
    uint64_t seq = 0;
    assert_non_null(l);
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED), 0);
    assert_int_equal(sluice_session_new(&s, v->e, NULL, NULL, NULL), 0);
    assert_int_equal(sluice_session_feed(s, "an explosive ", 13, &r), 0);
    assert_int_equal(sluice_session_feed(s, "recipe", 6, &r), 0);
    assert_int_equal(sluice_session_finish(s, &r, &vd), 0);
    assert_int_equal(sluice_verdict_action(vd), SLUICE_BLOCK);
    assert_int_equal(sluice_verdict_record(vd, &seq, NULL), 1);
    sluice_verdict_free(vd);
    sluice_session_free(s);
    assert_int_equal(sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED),
        0);
    assert_int_equal(sluice_ledger_close(l, NULL), 0);
    sluice_ledger_free(l);
    recs *c = read_all(v->dir, NULL);
    assert_int_equal(c->r[seq - 1].action, SLUICE_BLOCK);
    assert_true(c->r[seq - 1].has_digest);
    free(c);
}

typedef struct ck_seen {
    int calls;
    int bad;
    const note_key *key;
} ck_seen;

static void on_ck(const char *writer, const char *note, size_t len,
    void *payload)
{
    ck_seen *c = payload;
    note_checkpoint nc;
    const char *why;
    c->calls++;
    if (strcmp(writer, "default") != 0 ||
        note_open_checkpoint(note, len, c->key, 1, &nc, &why) != 0)
        c->bad++;
}

static void test_synced_checkpoints_reach_the_callback(void **state)
{
    env *v = *state;
    sluice_ledger_options lo = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_ledger *l = NULL;
    ck_seen seen = {0, 0, &v->k.pk->nk};
    lo.dir = v->dir;
    lo.signer = v->k.sk;
    lo.mode = SLUICE_LEDGER_DURABLE;
    lo.on_checkpoint = on_ck;
    lo.payload = &seen;
    assert_int_equal(sluice_ledger_open(&l, &lo, NULL), 0);
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(lt_check(v->e, "note me", NULL, NULL), SLUICE_ALLOW);
    assert_int_equal(sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED),
        0);
    assert_int_equal(sluice_ledger_close(l, NULL), 0);
    sluice_ledger_free(l);
    assert_true(seen.calls >= 7);      /* open, 5 durable appends, close */
    assert_int_equal(seen.bad, 0);
}

static void test_receipts_verify_and_no_byte_can_change(void **state)
{
    env *v = *state;
    sluice_ledger *l = lt_open(v->dir, v->k.sk, SLUICE_LEDGER_BATCHED, 1,
        100000, 1000000);
    sluice_verify_report rep;
    sluice_error err;
    lt_keys other = {0};
    char *r = NULL;
    size_t len = 0;
    assert_non_null(l);
    assert_int_equal(sluice_engine_set_ledger(v->e, l, SLUICE_FAIL_CLOSED), 0);
    for (int i = 0; i < 9; i++)
        assert_true(lt_check(v->e, i % 2 ? "darn" : "fine", NULL, NULL) >= 0);
    /* record 10 exists but no checkpoint covers it yet */
    memset(&err, 0, sizeof err);
    assert_int_equal(sluice_ledger_prove(v->dir, NULL, 10, &r, &len, &err),
        SLUICE_EINVAL);
    assert_non_null(strstr(err.message, "not covered"));
    assert_int_equal(sluice_engine_set_ledger(v->e, NULL, SLUICE_FAIL_CLOSED),
        0);
    assert_int_equal(sluice_ledger_close(l, NULL), 0);
    sluice_ledger_free(l);
    assert_int_equal(sluice_ledger_prove(v->dir, NULL, 99, &r, &len, NULL),
        SLUICE_EINVAL);
    for (uint64_t seq = 1; seq <= 11; seq++) {
        assert_int_equal(sluice_ledger_prove(v->dir, NULL, seq, &r, &len,
            NULL), 0);
        assert_int_equal(sluice_receipt_verify(r, len, v->k.pk, &rep, NULL),
            0);
        assert_int_equal(rep.ok, 1);
        assert_int_equal(rep.seq, seq);
        if (seq != 5) {
            free(r);
            continue;
        }
        for (size_t i = 0; i < len; i++) {
            r[i] ^= 0x01;
            assert_int_equal(sluice_receipt_verify(r, len, v->k.pk, &rep,
                NULL), 0);
            if (rep.ok)
                fail_msg("receipt byte %zu ('%c') changed, still verifies", i,
                    r[i] ^ 0x01);
            r[i] ^= 0x01;
        }
        /* one byte more or less */
        assert_int_equal(sluice_receipt_verify(r, len - 1, v->k.pk, &rep,
            NULL), 0);
        assert_int_equal(rep.ok, 0);
        assert_int_equal(lt_keygen(v->root, "other", "test", &other), 0);
        assert_int_equal(sluice_receipt_verify(r, len, other.pk, &rep, NULL),
            0);
        assert_int_equal(rep.ok, 0);
        assert_non_null(strstr(rep.reason, "not signed by the given key"));
        lt_keys_free(&other);
        free(r);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_verdict_is_recorded_before_it_returns),
        T(test_each_open_is_a_new_session_of_the_same_chain),
        T(test_unrecordable_verdicts_block_unless_fail_open),
        T(test_a_writer_belongs_to_one_process_key_and_origin),
        T(test_concurrent_appends_in_both_modes_share_syncs),
        T(test_batched_records_are_synced_within_the_interval),
        T(test_segments_rotate_and_missing_ones_are_reported),
        T(test_streamed_verdicts_are_recorded_with_the_digest_of_what_was_fed),
        T(test_synced_checkpoints_reach_the_callback),
        T(test_receipts_verify_and_no_byte_can_change),
    };
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
