/*
 * redis_itest.c - the Redis integration tests that need threads, exact
 * timing or a Redis to kill: run by tests/integration/20-redis.sh, which
 * skips them when redis-server is not installed.
 *
 *   usage: redis_itest TMPDIR
 *
 * It starts its own redis-server (loopback, a free port, no persistence,
 * its directory under TMPDIR), kills and restarts it as the tests need,
 * and kills it at the end. Output is TAP ("ok N - sentence"), then exit
 * status 1 if anything failed.
 *
 * Tests (sentences in the TAP output):
 *   hot reload   threads check while a new bundle is published: no check
 *                fails, each verdict names the policy it ran under and is
 *                that policy's verdict, and no thread goes back to the old
 *                policy once it has seen the new one;
 *   tampering    a bundle with a byte changed, one signed by an untrusted
 *                key, one announced under another hash, and a forced
 *                downgrade are each refused; the old policy stays;
 *   outage       Redis killed mid-run: checks go on under the policy
 *                (fail-open cache and strikes, each check's Redis wait
 *                within the timeout), and after a restart the cache,
 *                strikes and the fleet subscription come back;
 *   forged cache a cached verdict overwritten in Redis without the key
 *                is not served;
 *   stall        Redis stopped (SIGSTOP): calls time out within the
 *                timeout, then back off; SIGCONT brings it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "sluice.h"
#include "tests/redis_spawn.h"

#define TIMEOUT_MS 50        /* the handle's timeout_ms under test */
#define SLACK_MS 50          /* scheduling slack allowed on top of it */
#define THREADS 4

static int tap_n, tap_failed;
static char tmp[1024];
static int port;
static pid_t server;
static char addr[64];

/* ---- TAP ------------------------------------------------------------------ */

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    tap_n++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- redis-server ------------------------------------------------------------ */

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), p = 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        p = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return p;
}

static redisContext *raw_connect(void)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c != NULL && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c != NULL)
        redisSetTimeout(c, tv);
    return c;
}

static int server_up(void)
{
    redisContext *c = raw_connect();
    redisReply *r = c ? redisCommand(c, "PING") : NULL;
    int up = r != NULL && r->type == REDIS_REPLY_STATUS;
    if (r != NULL)
        freeReplyObject(r);
    if (c != NULL)
        redisFree(c);
    return up;
}

static int start_server(void)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/redis", tmp);
    if ((server = redis_spawn(port, dir)) < 0)
        return -1;
    for (int i = 0; i < 200; i++) {
        if (server_up())
            return 0;
        sleep_ms(25);
    }
    return -1;
}

static void signal_server(int sig)
{
    if (server > 0)
        kill(server, sig);
    if (sig == SIGKILL || sig == SIGTERM) {
        waitpid(server, NULL, 0);
        server = 0;
    }
}

static void cleanup(void)
{
    if (server > 0) {
        kill(server, SIGCONT);
        signal_server(SIGKILL);
    }
}

/* A raw command (the "attacker", or a look at Redis); 0 on success. */
static int raw(const char *fmt, ...)
{
    redisContext *c = raw_connect();
    redisReply *r;
    va_list ap;
    int rc;
    if (c == NULL)
        return -1;
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    rc = r != NULL && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* ---- policies and bundles --------------------------------------------------- */

static int write_policy(const char *name, int version, const char *terms)
{
    char dir[1100], path[1200];
    FILE *f;
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/policy.yaml", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "policy: itest\nversion: %d\nrules:\n  - id: word.block\n"
        "    action: block\n    terms: [%s]\n", version, terms);
    return fclose(f);
}

typedef struct blob {
    char *data;
    size_t len;
} blob;

static int build(const char *name, const char *keyname, blob *out)
{
    char dir[1100], key[1100];
    sluice_bundle_options bo = SLUICE_BUNDLE_OPTIONS_INIT;
    sluice_key *k = NULL;
    sluice_error err;
    int rc;
    memset(&err, 0, sizeof err);
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    snprintf(key, sizeof key, "%s/%s.key", tmp, keyname);
    if (sluice_key_load(&k, key, &err) != 0) {
        diag("%s", err.message);
        return -1;
    }
    bo.signer = k;
    bo.created = 1700000000;
    rc = sluice_bundle_build(&out->data, &out->len, dir, &bo, &err);
    if (rc != 0)
        diag("build %s: %s", name, err.message);
    sluice_key_free(k);
    return rc;
}

static sluice_redis *open_redis(uint32_t timeout_ms)
{
    sluice_redis_options o = SLUICE_REDIS_OPTIONS_INIT;
    sluice_redis *r = NULL;
    sluice_error err;
    memset(&err, 0, sizeof err);
    o.addr = addr;
    o.timeout_ms = timeout_ms;
    o.backoff_min_ms = 50;
    o.backoff_max_ms = 400;
    if (sluice_redis_new(&r, &o, &err) != 0)
        diag("sluice_redis_new: %s", err.message);
    return r;
}

static int publish(sluice_redis *r, const blob *b, int force, const char *who)
{
    sluice_publish_info info;
    sluice_error err;
    memset(&err, 0, sizeof err);
    int rc = sluice_redis_publish(r, b->data, b->len, NULL, force, &info,
        &err);
    if (rc != 0)
        diag("publish %s: %s", who, err.message);
    return rc;
}

static void policy_hash(const blob *b, char out[65])
{
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_policy *p = NULL;
    po.allow_unsigned = 1;
    out[0] = '\0';
    if (sluice_policy_load_bundle(&p, b->data, b->len, NULL, &po, NULL) == 0)
        snprintf(out, 65, "%s", sluice_policy_hash(p));
    sluice_policy_unref(p);
}

/* Wait until the engine runs policy `hash` (or ms pass); its wait or -1. */
static double wait_hash(sluice_engine *e, const char *hash, int ms)
{
    double t0 = now_ms();
    while (now_ms() - t0 < ms) {
        sluice_policy *p = sluice_engine_policy(e);
        int same = p != NULL && strcmp(sluice_policy_hash(p), hash) == 0;
        sluice_policy_unref(p);
        if (same)
            return now_ms() - t0;
        sleep_ms(2);
    }
    return -1;
}

static uint64_t refused_count(sluice_fleet *f)
{
    sluice_fleet_stats st;
    sluice_fleet_get_stats(f, &st);
    return st.refused;
}

static int wait_refused(sluice_fleet *f, uint64_t before, int ms)
{
    double t0 = now_ms();
    while (now_ms() - t0 < ms) {
        if (refused_count(f) > before)
            return 1;
        sleep_ms(5);
    }
    return 0;
}

/* ---- checking threads ----------------------------------------------------------- */

typedef struct load {
    sluice_engine *e;
    const char *hash_a, *hash_b;  /* policies where "betaword" is allowed /
                                     blocked; NULL: any policy blocks it */
    atomic_int stop;
    atomic_int phase;             /* outage tests: 0 before, 1 down, 2 after */
    atomic_long checks, failures, wrong, backwards, under_a, under_b;
    atomic_long unavailable[3], cached[3], counted[3], strikes_down[3];
    atomic_long over_budget;      /* a check waited on Redis past the bound */
    atomic_long max_redis_us[3], max_wall_us[3];
    int use_state;
} load;

static void amax(atomic_long *m, long v)
{
    long cur = atomic_load(m);
    while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
        ;
}

typedef struct worker_arg {
    load *l;
    int id;
} worker_arg;

static void *checker(void *arg)
{
    worker_arg *w = arg;
    load *l = w->l;
    int seen_b = 0;
    char subject[32];
    snprintf(subject, sizeof subject, "user-%d", w->id);
    sluice_meta meta = { NULL, "tenant-it", subject, NULL };
    for (long i = 0; !atomic_load(&l->stop); i++) {
        /* a few distinct texts, so the cache both misses and hits */
        char text[96];
        int beta = i % 2 == 0;
        snprintf(text, sizeof text, beta ? "say betaword %ld" : "hello %ld",
            i % 7);
        sluice_verdict *v = NULL;
        sluice_state_info info;
        sluice_error err;
        int phase = atomic_load(&l->phase);
        double t0 = now_ms();
        int rc = sluice_check_state(l->e, text, strlen(text), &meta, &v,
            &info, &err);
        double wall = now_ms() - t0;
        atomic_fetch_add(&l->checks, 1);
        if (rc != 0) {
            atomic_fetch_add(&l->failures, 1);
            continue;
        }
        const char *h = sluice_policy_hash(sluice_verdict_policy(v));
        int blocked = sluice_verdict_action(v) == SLUICE_BLOCK;
        if (l->hash_a && strcmp(h, l->hash_a) == 0) {
            atomic_fetch_add(&l->under_a, 1);
            if (seen_b)
                atomic_fetch_add(&l->backwards, 1);
            if (blocked)
                atomic_fetch_add(&l->wrong, 1);
        } else if (l->hash_b && strcmp(h, l->hash_b) == 0) {
            atomic_fetch_add(&l->under_b, 1);
            seen_b = 1;
            if (blocked != beta)
                atomic_fetch_add(&l->wrong, 1);
        } else if (l->hash_a || l->hash_b) {
            atomic_fetch_add(&l->wrong, 1);     /* a policy we never set */
        } else if (blocked != beta &&
                   (sluice_verdict_reason(v) == NULL ||
                    strcmp(sluice_verdict_reason(v), "subject_suspended"))) {
            atomic_fetch_add(&l->wrong, 1);
        }
        if (l->use_state) {
            if (info.cache == SLUICE_CACHE_UNAVAILABLE)
                atomic_fetch_add(&l->unavailable[phase], 1);
            if (info.cache == SLUICE_CACHE_HIT ||
                info.cache == SLUICE_CACHE_MISS)
                atomic_fetch_add(&l->cached[phase], 1);
            if (info.strikes > 0)
                atomic_fetch_add(&l->counted[phase], 1);
            if (info.strikes < 0)
                atomic_fetch_add(&l->strikes_down[phase], 1);
            amax(&l->max_redis_us[phase], (long)(info.redis_ms * 1000));
            if (info.redis_ms > TIMEOUT_MS + SLACK_MS)
                atomic_fetch_add(&l->over_budget, 1);
        }
        amax(&l->max_wall_us[phase], (long)(wall * 1000));
        sluice_verdict_free(v);
    }
    return NULL;
}

static void run_threads(load *l, pthread_t *th, worker_arg *wa)
{
    for (int i = 0; i < THREADS; i++) {
        wa[i].l = l;
        wa[i].id = i;
        pthread_create(&th[i], NULL, checker, &wa[i]);
    }
}

static void stop_threads(load *l, pthread_t *th)
{
    atomic_store(&l->stop, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
}

/* ---- fleet helpers ------------------------------------------------------------------ */

static sluice_key *trust_key;

static sluice_fleet *start_fleet(sluice_engine *e, sluice_redis *r,
    const char *worker)
{
    sluice_fleet_options fo = SLUICE_FLEET_OPTIONS_INIT;
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    const sluice_key *keys[1] = { trust_key };
    sluice_fleet *f = NULL;
    sluice_error err;
    memset(&err, 0, sizeof err);
    po.trust = keys;
    po.ntrust = 1;
    fo.policy = &po;
    fo.worker = worker;
    fo.report_s = 3;
    if (sluice_fleet_start(&f, e, r, &fo, &err) != 0)
        diag("sluice_fleet_start: %s", err.message);
    return f;
}

typedef struct find_worker {
    const char *id;
    char hash[65], state[32], error[300];
    int found;
} find_worker;

static int on_worker(const sluice_worker_status *w, void *payload)
{
    find_worker *fw = payload;
    if (strcmp(w->worker, fw->id) == 0) {
        fw->found = 1;
        snprintf(fw->hash, sizeof fw->hash, "%s", w->hash);
        snprintf(fw->state, sizeof fw->state, "%s", w->state);
        snprintf(fw->error, sizeof fw->error, "%s", w->error);
    }
    return 0;
}

static void worker_report(sluice_redis *r, const char *id, find_worker *fw)
{
    memset(fw, 0, sizeof *fw);
    fw->id = id;
    if (sluice_redis_fleet_status(r, NULL, on_worker, fw, NULL) != 0)
        fw->found = -1;
}

/* ---- the tests ------------------------------------------------------------------------ */

static blob A, B, C, D, X;          /* see main */
static char ha[65], hb[65], hc[65], hd[65];

static void test_hot_reload(sluice_redis *pub)
{
    sluice_redis *r = open_redis(TIMEOUT_MS);
    sluice_engine *e = NULL;
    sluice_fleet *f;
    pthread_t th[THREADS];
    worker_arg wa[THREADS];
    load l;
    find_worker fw;
    double swap;

    ok(publish(pub, &A, 0, "A") == 0, "the first bundle is published");
    if (sluice_engine_new(&e, NULL, NULL) != 0 || r == NULL)
        return;
    f = start_fleet(e, r, "itest-1");
    ok(f != NULL && wait_hash(e, ha, 1) >= 0,
        "a worker that starts late loads the current bundle before it "
        "returns");
    memset(&l, 0, sizeof l);
    l.e = e;
    l.hash_a = ha;
    l.hash_b = hb;
    run_threads(&l, th, wa);
    sleep_ms(300);
    double t0 = now_ms();
    ok(publish(pub, &B, 0, "B") == 0, "a new bundle is published while "
        "%d threads check", THREADS);
    swap = wait_hash(e, hb, 10000);
    ok(swap >= 0, "the worker swaps to the new bundle (%.1f ms after the "
        "publish call returned, %.1f ms after it started)", swap,
        now_ms() - t0);
    sleep_ms(300);
    stop_threads(&l, th);
    diag("hot reload: %ld checks, %ld under the old policy, %ld under the "
        "new", atomic_load(&l.checks), atomic_load(&l.under_a),
        atomic_load(&l.under_b));
    ok(atomic_load(&l.failures) == 0, "no check failed during the reload "
        "(%ld failed)", atomic_load(&l.failures));
    ok(atomic_load(&l.wrong) == 0, "every verdict is the verdict of the "
        "policy it names (%ld were not)", atomic_load(&l.wrong));
    ok(atomic_load(&l.under_a) > 0 && atomic_load(&l.under_b) > 0,
        "verdicts name the old policy before the swap and the new one after");
    ok(atomic_load(&l.backwards) == 0, "no thread sees the old policy again "
        "once it has seen the new one");
    sleep_ms(100);
    worker_report(r, "itest-1", &fw);
    ok(fw.found && strcmp(fw.hash, hb) == 0 && strcmp(fw.state, "ok") == 0,
        "the worker reports the hash it runs (%s, %.12s)", fw.state,
        fw.hash);

    /* ---- tampering: each refused, the policy stays ---- */
    uint64_t before = refused_count(f);
    char fake[65];
    blob t = { malloc(B.len), B.len };
    memcpy(t.data, B.data, B.len);
    t.data[B.len / 2] ^= 0x20;
    snprintf(fake, sizeof fake, "%064d", 7);
    ok(raw("SET sluice:bundle:%s %b", fake, t.data, t.len) == 0 &&
        raw("HSET sluice:policy hash %s", fake) == 0 &&
        raw("PUBLISH sluice:policy %s", fake) == 0,
        "an attacker writes a tampered bundle into Redis and announces it");
    ok(wait_refused(f, before, 5000), "the worker refuses the tampered "
        "bundle");
    ok(wait_hash(e, hb, 1) >= 0, "and keeps its policy");
    worker_report(r, "itest-1", &fw);
    ok(strcmp(fw.state, "refused") == 0 && fw.error[0] != '\0',
        "its report says it refused a bundle, and why: %s", fw.error);

    before = refused_count(f);
    ok(publish(pub, &X, 0, "X") == 0, "a bundle signed by an untrusted key "
        "is published");
    ok(wait_refused(f, before, 5000) && wait_hash(e, hb, 1) >= 0,
        "the worker refuses the untrusted bundle and keeps its policy");

    before = refused_count(f);
    ok(raw("SET sluice:bundle:%s %b", hd, A.data, A.len) == 0 &&
        raw("HSET sluice:policy hash %s", hd) == 0 &&
        raw("PUBLISH sluice:policy %s", hd) == 0,
        "a trusted bundle is announced under another policy's hash");
    ok(wait_refused(f, before, 5000) && wait_hash(e, hb, 1) >= 0,
        "the worker refuses a bundle whose hash is not the one announced");

    before = refused_count(f);
    ok(publish(pub, &A, 1, "A, forced") == 0, "an older version is "
        "published with force");
    ok(wait_refused(f, before, 5000) && wait_hash(e, hb, 1) >= 0,
        "the worker refuses the downgrade and keeps the newer policy");

    ok(publish(pub, &C, 0, "C") == 0 && wait_hash(e, hc, 10000) >= 0,
        "a newer good bundle after all that is taken");
    sleep_ms(100);
    worker_report(r, "itest-1", &fw);
    ok(strcmp(fw.state, "ok") == 0 && strcmp(fw.hash, hc) == 0,
        "and the worker's report is ok again");
    free(t.data);
    sluice_fleet_stop(f);
    worker_report(r, "itest-1", &fw);
    ok(!fw.found, "a stopped worker removes its report");
    sluice_engine_free(e);
    sluice_redis_free(r);
}

static sluice_engine *state_engine(sluice_redis *r, sluice_key *dk)
{
    sluice_engine_redis_options o = SLUICE_ENGINE_REDIS_OPTIONS_INIT;
    sluice_engine *e = NULL;
    sluice_error err;
    memset(&err, 0, sizeof err);
    o.cache = 1;
    o.digest_key = dk;
    o.strikes = 1;
    o.escalation.row = 1000000;        /* counted, never reached */
    o.escalation.suspend_s = 1;
    if (sluice_engine_new(&e, NULL, &err) != 0 ||
        sluice_engine_set_redis(e, r, &o, &err) != 0) {
        diag("engine: %s", err.message);
        sluice_engine_free(e);
        return NULL;
    }
    return e;
}

static void test_outage(sluice_redis *pub, sluice_key *dk)
{
    sluice_redis *r = open_redis(TIMEOUT_MS);
    sluice_engine *e = state_engine(r, dk);
    sluice_fleet *f;
    sluice_fleet_stats st;
    pthread_t th[THREADS];
    worker_arg wa[THREADS];
    load l;
    if (e == NULL)
        return;
    f = start_fleet(e, r, "itest-2");
    ok(f != NULL && wait_hash(e, hc, 2000) >= 0, "an engine with the cache "
        "and strikes follows the fleet");
    memset(&l, 0, sizeof l);
    l.e = e;
    l.use_state = 1;
    run_threads(&l, th, wa);
    sleep_ms(500);
    atomic_store(&l.phase, 1);
    signal_server(SIGKILL);
    sleep_ms(1500);
    ok(start_server() == 0, "Redis is killed mid-run and restarted 1.5 s "
        "later (empty)");
    atomic_store(&l.phase, 2);
    double t0 = now_ms();
    while (now_ms() - t0 < 3000 && atomic_load(&l.cached[2]) == 0)
        sleep_ms(10);
    double back = now_ms() - t0;
    sleep_ms(500);
    /* the fleet thread resubscribes; a publish reaches it again */
    ok(publish(pub, &D, 0, "D") == 0 && wait_hash(e, hd, 5000) >= 0,
        "after the restart the worker gets a new bundle (it resubscribed)");
    stop_threads(&l, th);
    sluice_fleet_get_stats(f, &st);

    diag("outage: %ld checks; Redis down: %ld cache unavailable, max Redis "
        "wait %.1f ms, max check %.1f ms; up before: max check %.1f ms",
        atomic_load(&l.checks), atomic_load(&l.unavailable[1]),
        atomic_load(&l.max_redis_us[1]) / 1000.0,
        atomic_load(&l.max_wall_us[1]) / 1000.0,
        atomic_load(&l.max_wall_us[0]) / 1000.0);
    ok(atomic_load(&l.failures) == 0, "no check failed while Redis was down "
        "(%ld failed)", atomic_load(&l.failures));
    ok(atomic_load(&l.wrong) == 0, "every output was still gated by the "
        "policy (%ld verdicts were wrong)", atomic_load(&l.wrong));
    ok(atomic_load(&l.cached[0]) > 0 && atomic_load(&l.counted[0]) > 0,
        "before the outage the cache and the strikes work");
    ok(atomic_load(&l.unavailable[1]) > 0 &&
        atomic_load(&l.strikes_down[1]) > 0,
        "while Redis is down the verdicts say the cache and strikes are "
        "unavailable");
    ok(atomic_load(&l.over_budget) == 0, "no check waited on Redis longer "
        "than the %d ms timeout (+%d ms slack); the longest waited %.1f ms",
        TIMEOUT_MS, SLACK_MS, atomic_load(&l.max_redis_us[1]) / 1000.0);
    ok(atomic_load(&l.max_wall_us[1]) / 1000.0 <
        atomic_load(&l.max_wall_us[0]) / 1000.0 + TIMEOUT_MS + 200,
        "checks while Redis is down take at most the timeout longer than "
        "before (generous bound: +%d ms)", TIMEOUT_MS + 200);
    ok(atomic_load(&l.cached[2]) > 0 && atomic_load(&l.counted[2]) > 0,
        "after the restart the cache and the strikes work again (after "
        "%.0f ms)", back);
    ok(st.reconnects >= 2, "the fleet thread subscribed again (%llu "
        "subscriptions)", (unsigned long long)st.reconnects);
    sluice_fleet_stop(f);
    sluice_engine_free(e);
    sluice_redis_free(r);
}

/* The one cache key in Redis (the first SCAN finds), or "". */
static void cache_key(char *out, size_t size)
{
    redisContext *c = raw_connect();
    redisReply *r = c ? redisCommand(c, "KEYS sluice:v:*") : NULL;
    out[0] = '\0';
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0)
        snprintf(out, size, "%s", r->element[0]->str);
    if (r != NULL)
        freeReplyObject(r);
    if (c != NULL)
        redisFree(c);
}

static void test_forged_cache(sluice_key *dk)
{
    sluice_redis *r = open_redis(TIMEOUT_MS);
    sluice_engine *e = state_engine(r, dk);
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_policy *p = NULL;
    sluice_verdict *v = NULL;
    sluice_state_info info;
    char dir[1100], key[512];
    const char *text = "say betaword";
    unsigned char forged[32];
    if (e == NULL)
        return;
    snprintf(dir, sizeof dir, "%s/pd", tmp);
    po.allow_unsigned = 1;
    if (sluice_policy_load(&p, dir, &po, NULL) != 0 ||
        sluice_engine_set_policy(e, p) != 0)
        return;
    sluice_policy_unref(p);
    ok(raw("FLUSHALL") == 0, "the cache is emptied");
    for (int i = 0; i < 2; i++) {
        sluice_verdict_free(v);
        v = NULL;
        if (sluice_check_state(e, text, strlen(text), NULL, &v, &info,
                NULL) != 0)
            break;
    }
    ok(v != NULL && info.cache == SLUICE_CACHE_HIT &&
        sluice_verdict_action(v) == SLUICE_BLOCK,
        "a blocked text is cached, and served from the cache");
    sluice_verdict_free(v);
    v = NULL;
    cache_key(key, sizeof key);
    /* an "allow, no spans" entry for the text's length, with a made-up
       MAC: what someone who can write Redis, but lacks the key, can do */
    memset(forged, 0, sizeof forged);
    forged[0] = 1;
    forged[8] = (unsigned char)strlen(text);
    for (int i = 16; i < 32; i++)
        forged[i] = (unsigned char)(i * 37);
    ok(key[0] && raw("SET %s %b", key, forged, sizeof forged) == 0,
        "an attacker overwrites the cached verdict with an allow");
    ok(sluice_check_state(e, text, strlen(text), NULL, &v, &info, NULL) == 0
        && info.cache == SLUICE_CACHE_MISS &&
        sluice_verdict_action(v) == SLUICE_BLOCK,
        "the forged entry does not authenticate: the text is checked and "
        "blocked");
    sluice_verdict_free(v);
    v = NULL;
    ok(sluice_check_state(e, text, strlen(text), NULL, &v, &info, NULL) == 0
        && info.cache == SLUICE_CACHE_HIT &&
        sluice_verdict_action(v) == SLUICE_BLOCK,
        "and the entry is written again, correctly");
    sluice_verdict_free(v);
    sluice_engine_free(e);
    sluice_redis_free(r);
}

static void test_stall(sluice_key *dk)
{
    sluice_redis *r = open_redis(TIMEOUT_MS);
    sluice_engine *e = state_engine(r, dk);
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_policy *p = NULL;
    sluice_redis_stats rs;
    pthread_t th[THREADS];
    worker_arg wa[THREADS];
    load l;
    char dir[1100];
    if (e == NULL)
        return;
    snprintf(dir, sizeof dir, "%s/pd", tmp);
    po.allow_unsigned = 1;
    if (sluice_policy_load(&p, dir, &po, NULL) != 0 ||
        sluice_engine_set_policy(e, p) != 0)
        return;
    sluice_policy_unref(p);
    memset(&l, 0, sizeof l);
    l.e = e;
    l.use_state = 1;
    run_threads(&l, th, wa);
    sleep_ms(300);
    atomic_store(&l.phase, 1);
    signal_server(SIGSTOP);
    sleep_ms(1000);
    sluice_redis_get_stats(r, &rs);
    uint64_t timeouts = rs.timeouts, skipped = rs.skipped;
    signal_server(SIGCONT);
    atomic_store(&l.phase, 2);
    double t0 = now_ms();
    while (now_ms() - t0 < 3000 && atomic_load(&l.cached[2]) == 0)
        sleep_ms(10);
    double back = now_ms() - t0;
    stop_threads(&l, th);
    diag("stall: %ld checks; Redis stopped: %ld cache unavailable, %llu "
        "timeouts, %llu calls skipped in back-off, max Redis wait %.1f ms",
        atomic_load(&l.checks), atomic_load(&l.unavailable[1]),
        (unsigned long long)timeouts, (unsigned long long)skipped,
        atomic_load(&l.max_redis_us[1]) / 1000.0);
    ok(atomic_load(&l.failures) == 0 && atomic_load(&l.wrong) == 0,
        "a stalled Redis (SIGSTOP) fails no check and gates every output");
    ok(timeouts > 0 && atomic_load(&l.over_budget) == 0,
        "calls to the stalled Redis time out within %d ms (+%d ms slack): "
        "the longest Redis wait of a check was %.1f ms", TIMEOUT_MS,
        SLACK_MS, atomic_load(&l.max_redis_us[1]) / 1000.0);
    ok(skipped > 0, "after a timeout the handle backs off: calls fail at "
        "once without waiting");
    ok(atomic_load(&l.cached[2]) > 0, "after SIGCONT the cache works again "
        "(after %.0f ms)", back);
    sluice_engine_free(e);
    sluice_redis_free(r);
}

/* A session's strikes: the policy's escalation (row 2) counts each
   session's decisive verdict; a suspended subject's next session blocks
   at its first feed; another subject streams as before. */
static int stream(sluice_engine *e, const char *subject, const char *text,
    sluice_verdict **v, int *stopped)
{
    sluice_meta m = { "req", "acme", subject, NULL };
    sluice_session *s = NULL;
    sluice_release rel;
    int rc = sluice_session_new(&s, e, &m, NULL, NULL);
    *stopped = 0;
    *v = NULL;
    if (rc != 0)
        return rc;
    rc = sluice_session_feed(s, text, strlen(text), &rel);
    if (rc == 0) {
        *stopped = rel.stop;
        rc = sluice_session_finish(s, &rel, v);
        *stopped |= rel.stop;     /* a term at the very end stops here */
    }
    sluice_session_free(s);
    return rc;
}

static void test_session_strikes(void)
{
    sluice_engine_redis_options o = SLUICE_ENGINE_REDIS_OPTIONS_INIT;
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_redis *r = open_redis(1000);
    sluice_engine *e = NULL;
    sluice_policy *p = NULL;
    sluice_verdict *v = NULL;
    sluice_state_info info;
    sluice_escalation esc;
    char dir[1100], path[1200];
    int stopped = 0;
    FILE *f;
    snprintf(dir, sizeof dir, "%s/pe", tmp);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/policy.yaml", dir);
    f = fopen(path, "w");
    if (f == NULL || r == NULL) {
        ok(0, "session strikes: set-up");
        sluice_redis_free(r);
        return;
    }
    fprintf(f, "policy: itest-esc\nversion: 1\nrules:\n  - id: word.block\n"
        "    action: block\n    terms: [alphaword, betaword]\n"
        "escalation:\n  row: 2\n  suspend: 30s\n");
    fclose(f);
    po.allow_unsigned = 1;
    ok(sluice_policy_load(&p, dir, &po, NULL) == 0 &&
        sluice_policy_escalation(p, &esc) == 1 && esc.row == 2 &&
        esc.suspend_s == 30 && esc.block == 1,
        "a policy's escalation section loads (row 2, suspend 30 s, block)");
    if (p == NULL || sluice_engine_new(&e, NULL, NULL) != 0 ||
        sluice_engine_set_policy(e, p) != 0 ||
        sluice_engine_set_redis(e, r, &o, NULL) != 0) {
        ok(0, "session strikes: engine");
        goto out;
    }
    ok(stream(e, "s1", "hello alphaword there", &v, &stopped) == 0 &&
        stopped && sluice_verdict_state(v, &info) == 1 &&
        info.strikes == 1 && info.row == 1 && !info.suspended,
        "a session's block is a strike (row 1) under the policy's escalation");
    sluice_verdict_free(v);
    ok(stream(e, "s1", "and betaword", &v, &stopped) == 0 && stopped &&
        sluice_verdict_state(v, &info) == 1 && info.row == 2 &&
        info.suspended,
        "the second block in a row suspends the subject");
    sluice_verdict_free(v);
    ok(stream(e, "s1", "a clean answer", &v, &stopped) == 0 && stopped &&
        sluice_verdict_action(v) == SLUICE_BLOCK &&
        sluice_verdict_reason(v) != NULL &&
        strcmp(sluice_verdict_reason(v), "subject_suspended") == 0,
        "a suspended subject's next session blocks at its first feed");
    sluice_verdict_free(v);
    char *js = NULL;
    ok(stream(e, "s2", "a clean answer", &v, &stopped) == 0 && !stopped &&
        sluice_verdict_action(v) == SLUICE_ALLOW &&
        sluice_verdict_json(v, &js, NULL) == 0 &&
        strstr(js, "\"strikes\":{\"row\":0") != NULL,
        "another subject streams as before, its verdict says its strikes");
    free(js);
    sluice_verdict_free(v);
    v = NULL;
    ok(sluice_check_state(e, "clean", 5, &(sluice_meta){ NULL, "acme", "s1",
            NULL }, &v, &info, NULL) == 0 &&
        sluice_verdict_action(v) == SLUICE_BLOCK && info.suspended,
        "a whole-text check agrees: the subject is suspended");
    sluice_verdict_free(v);
out:
    sluice_engine_free(e);
    sluice_policy_unref(p);
    sluice_redis_free(r);
}

int main(int argc, char **argv)
{
    sluice_error err;
    sluice_key *dk = NULL;
    sluice_redis *pub;
    char path[1200];
    if (argc != 2) {
        fprintf(stderr, "usage: redis_itest TMPDIR\n");
        return 2;
    }
    snprintf(tmp, sizeof tmp, "%s", argv[1]);
    signal(SIGPIPE, SIG_IGN);
    atexit(cleanup);
    memset(&err, 0, sizeof err);
    port = free_port();
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    if (port == 0 || start_server() != 0) {
        printf("not ok 1 - redis-server starts on a free loopback port\n");
        return 1;
    }
    ok(1, "redis-server starts on a free loopback port (%d)", port);

    /* keys, policies and bundles: A v1, B v2 (betaword blocks), C v3, D v4;
       X v5 signed by a key the workers do not trust */
    snprintf(path, sizeof path, "%s/team", tmp);
    int krc = sluice_keygen(path, "team", 0, &err);
    snprintf(path, sizeof path, "%s/other", tmp);
    krc |= sluice_keygen(path, "other", 0, &err);
    snprintf(path, sizeof path, "%s/cache", tmp);
    krc |= sluice_keygen(path, "cache", 1, &err);
    snprintf(path, sizeof path, "%s/team.pub", tmp);
    krc |= sluice_key_load(&trust_key, path, &err);
    snprintf(path, sizeof path, "%s/cache.digest", tmp);
    krc |= sluice_key_load(&dk, path, &err);
    ok(krc == 0 &&
        write_policy("pa", 1, "alphaword") == 0 &&
        write_policy("pb", 2, "alphaword, betaword") == 0 &&
        write_policy("pc", 3, "alphaword, betaword, gammaword") == 0 &&
        write_policy("pd", 4, "alphaword, betaword, deltaword") == 0 &&
        write_policy("px", 5, "betaword") == 0 &&
        build("pa", "team", &A) == 0 && build("pb", "team", &B) == 0 &&
        build("pc", "team", &C) == 0 && build("pd", "team", &D) == 0 &&
        build("px", "other", &X) == 0,
        "keys, policies and signed bundles are made");
    policy_hash(&A, ha);
    policy_hash(&B, hb);
    policy_hash(&C, hc);
    policy_hash(&D, hd);
    pub = open_redis(1000);
    if (pub == NULL || tap_failed)
        return 1;
    test_hot_reload(pub);
    test_outage(pub, dk);
    test_forged_cache(dk);
    test_stall(dk);
    test_session_strikes();
    sluice_redis_free(pub);
    sluice_key_free(dk);
    sluice_key_free(trust_key);
    free(A.data);
    free(B.data);
    free(C.data);
    free(D.data);
    free(X.data);
    return tap_failed ? 1 : 0;
}
