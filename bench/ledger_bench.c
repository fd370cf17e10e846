/*
 * ledger_bench.c - the decision ledger's rates: records appended per
 * second with a checkpoint every 10 ms, in batched and durable mode, from
 * 1 and 2 threads; records verified per second; bytes per record.
 *
 *   usage: ledger_bench [--dir DIR] [--seconds S] [--verify-records N]
 *
 * DIR (default $TMPDIR or /tmp) holds the ledgers; it should be on the
 * disk the ledger will use in production, since durable mode pays its
 * fdatasync. Appends go through the engine's own path (ledger_append_verdict:
 * the record encoded outside the lock with its keyed digest, sealed and
 * written under it) with one real verdict, so the policy check itself is
 * not measured. Prints its own table (bench/run.sh passes it through).
 * Targets (issue 4): >= 200k records/s batched, verify >= 1M records/s.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "sluice.h"
#include "ledger/ledger.h"
#include "ledger/sha256.h"

#define MAX_THREADS 2

typedef struct bench {
    char dir[512];
    double seconds;
    uint64_t verify_records;
    sluice_key *sk, *pk;
    sluice_verdict *v;
    const char *text;
    sluice_meta meta;
} bench;

typedef struct worker {
    const bench *b;
    sluice_ledger *l;
    double until;
    uint64_t n;
    int failed;
} worker;

static double now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *append_loop(void *arg)
{
    worker *w = arg;
    size_t len = strlen(w->b->text);
    while (!w->failed) {
        for (int i = 0; i < 256; i++)
            if (ledger_append_verdict(w->l, w->b->v, &w->b->meta, w->b->text,
                    len, NULL, NULL) != 0) {
                w->failed = 1;
                break;
            }
        w->n += 256;
        if (now() >= w->until)
            break;
    }
    return NULL;
}

static int write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = fwrite(s, 1, strlen(s), f);
    return fclose(f) == 0 && n == strlen(s) ? 0 : -1;
}

/* Keys, a small policy, and one real verdict to record over and over. */
static int prepare(bench *b)
{
    static const char yaml[] =
        "policy: bench\nversion: 1\n"
        "categories:\n  - {id: profanity, action: redact}\n"
        "rules:\n  - id: profanity.en\n    category: profanity\n"
        "    terms: [darn]\n";
    char p[600], path[700];
    sluice_policy *pol = NULL;
    sluice_engine *e = NULL;
    int rc = -1;
    snprintf(p, sizeof p, "%s/policy", b->dir);
    snprintf(path, sizeof path, "%s/policy.yaml", p);
    if (mkdir(p, 0755) != 0 || write_text(path, yaml) != 0)
        return -1;
    snprintf(p, sizeof p, "%s/key", b->dir);
    if (sluice_keygen(p, "bench", 0, NULL) != 0)
        return -1;
    snprintf(path, sizeof path, "%s.key", p);
    if (sluice_key_load(&b->sk, path, NULL) != 0)
        return -1;
    snprintf(path, sizeof path, "%s.pub", p);
    if (sluice_key_load(&b->pk, path, NULL) != 0)
        return -1;
    snprintf(p, sizeof p, "%s/policy", b->dir);
    b->text = "The model wrote a reply of a few hundred bytes, as a typical "
        "chat answer would be; it mentions one darn word, so one rule "
        "fires and the record carries a rule id, a category, the policy, "
        "the caller's request id, tenant and model, and the keyed digest "
        "of this whole text.";
    b->meta = (sluice_meta){"req-0123456789abcdef", "tenant-42", NULL,
        "model-7b"};
    if (sluice_policy_load(&pol, p, NULL, NULL) == 0 &&
        sluice_engine_new(&e, NULL, NULL) == 0 &&
        sluice_engine_set_policy(e, pol) == 0 &&
        sluice_check(e, b->text, strlen(b->text), &b->meta, &b->v, NULL) == 0)
        rc = 0;
    sluice_engine_free(e);
    sluice_policy_unref(pol);
    return rc;
}

typedef struct result {
    double rate;
    sluice_ledger_stats st;
} result;

static int run_appends(const bench *b, const char *name,
    sluice_ledger_mode mode, int threads, result *r)
{
    sluice_ledger_options lo = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_ledger *l = NULL;
    sluice_error err;
    pthread_t th[MAX_THREADS];
    worker w[MAX_THREADS];
    char dir[700];
    uint64_t total = 0;
    int failed = 0;
    snprintf(dir, sizeof dir, "%s/%s", b->dir, name);
    lo.dir = dir;
    lo.signer = b->sk;
    lo.mode = mode;
    lo.checkpoint_ms = 10;
    lo.checkpoint_records = UINT32_MAX;   /* every 10 ms, not every N */
    lo.segment_bytes = (uint64_t)1 << 30;
    memset(&err, 0, sizeof err);
    if (sluice_ledger_open(&l, &lo, &err) != 0) {
        fprintf(stderr, "ledger_bench: %s: %s\n", dir, err.message);
        return -1;
    }
    double t0 = now();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){b, l, t0 + b->seconds, 0, 0};
        if (pthread_create(&th[i], NULL, append_loop, &w[i]) != 0)
            return -1;
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_join(th[i], NULL) != 0)
            return -1;
        total += w[i].n;
        failed |= w[i].failed;
    }
    double t1 = now();
    sluice_ledger_get_stats(l, &r->st);
    if (sluice_ledger_close(l, &err) != 0 || failed) {
        fprintf(stderr, "ledger_bench: %s: append or close failed: %s\n",
            name, err.message);
        sluice_ledger_free(l);
        return -1;
    }
    sluice_ledger_free(l);
    r->rate = (double)total / (t1 - t0);
    return 0;
}

/* Bytes in all segments of the writer "default" of dir; *nseg counts them. */
static uint64_t dir_bytes(const char *dir, int *nseg)
{
    char wdir[800], path[1200];
    struct stat st;
    struct dirent *e;
    uint64_t total = 0;
    DIR *d;
    snprintf(wdir, sizeof wdir, "%s/default", dir);
    *nseg = 0;
    if ((d = opendir(wdir)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 4, ".seg") != 0 ||
            snprintf(path, sizeof path, "%s/%s", wdir, e->d_name) >=
                (int)sizeof path || stat(path, &st) != 0)
            continue;
        total += (uint64_t)st.st_size;
        (*nseg)++;
    }
    (void)closedir(d);
    return total;
}

/* A ledger of about n records (batched, no thread) to verify. */
static int build_for_verify(const bench *b, uint64_t n, char *dir, size_t sz)
{
    sluice_ledger_options lo = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_ledger *l = NULL;
    size_t len = strlen(b->text);
    snprintf(dir, sz, "%s/verify", b->dir);
    lo.dir = dir;
    lo.signer = b->sk;
    lo.no_thread = 1;
    lo.checkpoint_records = 1000;
    lo.checkpoint_ms = 10;
    if (sluice_ledger_open(&l, &lo, NULL) != 0)
        return -1;
    for (uint64_t i = 0; i < n; i++)
        if (ledger_append_verdict(l, b->v, &b->meta, b->text, len, NULL,
                NULL) != 0)
            return -1;
    int rc = sluice_ledger_close(l, NULL);
    sluice_ledger_free(l);
    return rc;
}

static int run_verify(const bench *b, double *rate, uint64_t *records,
    uint64_t *bytes, uint64_t *checkpoints, int *nseg)
{
    char dir[700];
    double best = 0;
    if (build_for_verify(b, b->verify_records, dir, sizeof dir) != 0)
        return -1;
    *bytes = dir_bytes(dir, nseg);
    for (int rep = 0; rep < 3; rep++) {
        sluice_verify_options vo = SLUICE_VERIFY_OPTIONS_INIT;
        sluice_verify_report r;
        vo.key = b->pk;
        double t0 = now();
        if (sluice_ledger_verify(dir, &vo, &r, NULL) != 0 || !r.ok) {
            fprintf(stderr, "ledger_bench: verify failed: %s\n", r.reason);
            return -1;
        }
        double t = now() - t0;
        if ((double)r.records / t > best)
            best = (double)r.records / t;
        *records = r.records;
        *checkpoints = r.checkpoints;
    }
    *rate = best;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "ledger_bench: could not remove %s\n", path);
}

static int parse_args(int argc, char **argv, bench *b, char *base,
    size_t size)
{
    const char *t = getenv("TMPDIR");
    snprintf(base, size, "%s", t && t[0] ? t : "/tmp");
    b->seconds = 1.0;
    b->verify_records = 1000000;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            snprintf(base, size, "%s", argv[++i]);
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            b->seconds = strtod(argv[++i], &end);
            if (end == argv[i] || *end || b->seconds <= 0)
                return -1;
        } else if (strcmp(argv[i], "--verify-records") == 0 && i + 1 < argc) {
            errno = 0;
            b->verify_records = strtoull(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || b->verify_records == 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    bench b;
    char base[400];
    static const struct { const char *name; sluice_ledger_mode mode;
        int threads; } runs[] = {
        {"batched-1", SLUICE_LEDGER_BATCHED, 1},
        {"batched-2", SLUICE_LEDGER_BATCHED, 2},
        {"durable-1", SLUICE_LEDGER_DURABLE, 1},
        {"durable-2", SLUICE_LEDGER_DURABLE, 2},
    };
    result res[4];
    double vrate = 0;
    uint64_t vrec = 0, vbytes = 0, vck = 0;
    int rc = 0, nseg = 0;
    memset(&b, 0, sizeof b);
    if (parse_args(argc, argv, &b, base, sizeof base) != 0) {
        fprintf(stderr, "usage: ledger_bench [--dir DIR] [--seconds S] "
            "[--verify-records N]\n");
        return 2;
    }
    snprintf(b.dir, sizeof b.dir, "%s/sluice-ledger-bench-XXXXXX", base);
    if (mkdtemp(b.dir) == NULL || prepare(&b) != 0) {
        fprintf(stderr, "ledger_bench: cannot set up in %s\n", base);
        return 2;
    }
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = run_appends(&b, runs[i].name, runs[i].mode, runs[i].threads,
            &res[i]);
    if (rc == 0)
        rc = run_verify(&b, &vrate, &vrec, &vbytes, &vck, &nseg);
    if (rc == 0) {
        struct statfs fs;
        long type = statfs(b.dir, &fs) == 0 ? (long)fs.f_type : 0;
        printf("Ledger (bench/ledger_bench.c): %.1f s per run in %s "
            "(fs type 0x%lx), checkpoint every 10 ms, SHA extensions %s\n",
            b.seconds, base, type,
            ledger_sha256_accelerated() ? "used" : "not available");
        printf("| mode | threads | records/s | checkpoints | fdatasyncs | "
            "records per sync |\n|---|--:|--:|--:|--:|--:|\n");
        for (int i = 0; i < 4; i++)
            printf("| %s | %d | %.0f | %llu | %llu | %.1f |\n",
                runs[i].mode == SLUICE_LEDGER_DURABLE ? "durable" : "batched",
                runs[i].threads, res[i].rate,
                (unsigned long long)res[i].st.checkpoints,
                (unsigned long long)res[i].st.syncs,
                res[i].st.syncs ? (double)res[i].st.records /
                    (double)res[i].st.syncs : 0.0);
        printf("verify: %llu records (%llu checkpoints, one per 1000 "
            "records) at %.0f records/s (best of 3)\n",
            (unsigned long long)vrec, (unsigned long long)vck, vrate);
        printf("bytes per record: %.1f (%llu bytes in %d segments, "
            "checkpoints included)\n",
            vrec ? (double)vbytes / (double)vrec : 0.0,
            (unsigned long long)vbytes, nseg);
        printf("targets: batched >= 200000 records/s: %s; verify >= 1000000 "
            "records/s: %s\n", res[0].rate >= 200000 ? "met" : "NOT met",
            vrate >= 1000000 ? "met" : "NOT met");
    }
    sluice_verdict_free(b.v);
    sluice_key_free(b.sk);
    sluice_key_free(b.pk);
    rm_rf(b.dir);
    return rc == 0 ? 0 : 1;
}
