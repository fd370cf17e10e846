/*
 * redis_bench.c - the Redis state layer's costs, over loopback:
 *
 *   1. check latency without Redis, with the verdict cache missing (GET,
 *      check, SET), and hitting (GET, rebuild), per output size, on the
 *      shipped baseline policy; and with strikes (one script call);
 *   2. what a check waits on Redis when Redis is down: refused (killed),
 *      stalled (SIGSTOP: every call times out), and in back-off;
 *   3. publish-to-swap latency: 4 worker processes follow the fleet; the
 *      time from `sluice_redis_publish` returning to each worker having
 *      swapped (its log callback's clock), for a tiny policy and for the
 *      baseline policy (whose compile dominates).
 *
 *   usage: redis_bench [--policy DIR] [--seconds S]
 *
 * It starts its own redis-server on a free loopback port (no
 * persistence) and kills it at the end; without redis-server it says so
 * and exits 0. One thread checks (the latency of one check, not
 * throughput). Prints its own table (bench/run.sh passes it through).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sluice.h"
#include "tests/redis_spawn.h"

#define WORKERS 4
#define TIMEOUT_MS 50

static char tmp[512];
static int port;
static pid_t server;
static char addr[64];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static double real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of v[0..n) (sorted here). */
static double pct(double *v, size_t n, double p)
{
    if (n == 0)
        return -1;
    qsort(v, n, sizeof *v, cmp_d);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
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

static sluice_redis *open_prefixed(const char *prefix, uint32_t timeout_ms,
    uint32_t backoff_min, uint32_t backoff_max)
{
    sluice_redis_options o = SLUICE_REDIS_OPTIONS_INIT;
    sluice_redis *r = NULL;
    o.addr = addr;
    o.prefix = prefix;
    o.timeout_ms = timeout_ms;
    o.backoff_min_ms = backoff_min;
    o.backoff_max_ms = backoff_max;
    if (sluice_redis_new(&r, &o, NULL) != 0)
        return NULL;
    return r;
}

static sluice_redis *open_redis(uint32_t timeout_ms, uint32_t backoff_min,
    uint32_t backoff_max)
{
    return open_prefixed(NULL, timeout_ms, backoff_min, backoff_max);
}

static int start_server(void)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/redis", tmp);
    if ((server = redis_spawn(port, dir)) < 0)
        return -1;
    sluice_redis *r = open_redis(1000, 10, 20);
    for (int i = 0; r != NULL && i < 200; i++) {
        if (sluice_redis_ping(r, NULL) == 0) {
            sluice_redis_free(r);
            return 0;
        }
        sleep_ms(25);
    }
    sluice_redis_free(r);
    return -1;
}

static void stop_server(int sig)
{
    if (server <= 0)
        return;
    kill(server, sig);
    if (sig == SIGKILL) {
        waitpid(server, NULL, 0);
        server = 0;
    }
}

static void cleanup(void)
{
    if (server > 0) {
        kill(server, SIGCONT);
        stop_server(SIGKILL);
    }
}

/* ---- texts ------------------------------------------------------------------------ */

static const char para[] =
    "The assistant answered the question about the weather in Beijing and "
    "added a note about air quality. 今天北京的天气晴朗，空气质量良好，适合"
    "户外活动。如需帮助，请拨打客服电话。 ";

/* A text of about `size` bytes; `salt` makes it unique. malloc'd. */
static char *make_text(size_t size, unsigned salt, size_t *len)
{
    char *t = malloc(size + 64);
    size_t n = 0, pl = sizeof para - 1;
    if (t == NULL)
        return NULL;
    n += (size_t)snprintf(t, 64, "[%u] ", salt);
    while (n + pl <= size) {
        memcpy(t + n, para, pl);
        n += pl;
    }
    t[n] = '\0';
    *len = n;
    return t;
}

/* ---- 1. latency --------------------------------------------------------------------- */

typedef struct lat {
    double none_med, none_p99, miss_med, miss_p99, hit_med, hit_p99;
    double strike_med;
    int hits;
} lat;

static int engine_with(sluice_policy *p, sluice_redis *r, sluice_key *dk,
    int cache, int strikes, sluice_engine **out)
{
    sluice_engine_redis_options o = SLUICE_ENGINE_REDIS_OPTIONS_INIT;
    if (sluice_engine_new(out, NULL, NULL) != 0 ||
        sluice_engine_set_policy(*out, p) != 0)
        return -1;
    o.cache = cache;
    o.digest_key = dk;
    o.strikes = strikes;
    return sluice_engine_set_redis(*out, r, &o, NULL);
}

/* n checks of fresh texts (salt varies) or of one text; times in v[]. */
static int time_checks(sluice_engine *e, size_t size, size_t n, int same,
    unsigned salt0, double *v, int want, int *matched)
{
    sluice_meta m = { NULL, "bench", "u1", NULL };
    size_t len = 0;
    char *fixed = same ? make_text(size, salt0, &len) : NULL;
    for (size_t i = 0; i < n; i++) {
        size_t l = len;
        char *t = same ? fixed : make_text(size, salt0 + (unsigned)i, &l);
        sluice_verdict *vd = NULL;
        sluice_state_info info;
        double t0 = now_ms();
        if (t == NULL || sluice_check_state(e, t, l, &m, &vd, &info,
                NULL) != 0) {
            if (!same)
                free(t);
            free(fixed);
            return -1;
        }
        v[i] = (now_ms() - t0) * 1000.0;
        if ((int)info.cache == want)
            (*matched)++;
        sluice_verdict_free(vd);
        if (!same)
            free(t);
    }
    free(fixed);
    return 0;
}

static int bench_latency(sluice_policy *p, sluice_key *dk, size_t size,
    size_t n, lat *out)
{
    sluice_redis *r = open_redis(TIMEOUT_MS, 100, 5000);
    sluice_engine *e0 = NULL, *ec = NULL, *es = NULL;
    double *v = malloc(n * sizeof *v);
    int rc = -1, m = 0;
    static unsigned salt = 1000000;
    if (r == NULL || v == NULL || engine_with(p, NULL, NULL, 0, 0, &e0) ||
        engine_with(p, r, dk, 1, 0, &ec) || engine_with(p, r, dk, 0, 1, &es))
        goto out;
    /* warm-up: scratch, connections, the script */
    if (time_checks(ec, size, 10, 0, salt, v, -1, &m) != 0 ||
        time_checks(es, size, 10, 0, salt, v, -1, &m) != 0)
        goto out;
    salt += 10;
    if (time_checks(e0, size, n, 0, salt, v, -1, &m) != 0)
        goto out;
    out->none_med = pct(v, n, 50);
    out->none_p99 = pct(v, n, 99);
    m = 0;
    if (time_checks(ec, size, n, 0, salt + 1000000, v, SLUICE_CACHE_MISS,
            &m) != 0)
        goto out;
    out->miss_med = pct(v, n, 50);
    out->miss_p99 = pct(v, n, 99);
    m = 0;
    if (time_checks(ec, size, n, 1, salt + 1000000, v, SLUICE_CACHE_HIT,
            &m) != 0)
        goto out;
    out->hit_med = pct(v, n, 50);
    out->hit_p99 = pct(v, n, 99);
    out->hits = m;
    m = 0;
    if (time_checks(es, size, n, 0, salt, v, -1, &m) != 0)
        goto out;
    out->strike_med = pct(v, n, 50);
    salt += 3000000;
    rc = 0;
out:
    sluice_engine_free(e0);
    sluice_engine_free(ec);
    sluice_engine_free(es);
    sluice_redis_free(r);
    free(v);
    return rc;
}

/* ---- 2. Redis down --------------------------------------------------------------------- */

typedef struct down {
    size_t waited;          /* checks that waited on Redis (> 1 ms) */
    double wait_min, wait_med, wait_max;
    size_t fast;            /* checks that failed at once (back-off) */
    double fast_max;        /* their Redis time, ms */
    double check_max;       /* longest check, ms (the check included) */
    size_t checks;
} down;

static int bench_down(sluice_policy *p, sluice_key *dk, int sig, down *d,
    int ms)
{
    /* a short back-off, so that many calls probe and time out */
    sluice_redis *r = open_redis(TIMEOUT_MS, 20, 40);
    sluice_engine *e = NULL;
    size_t cap = 1 << 20;
    double *w = malloc(cap * sizeof *w), t0;
    size_t nw = 0;
    memset(d, 0, sizeof *d);
    if (r == NULL || w == NULL || engine_with(p, r, dk, 1, 1, &e) != 0) {
        free(w);
        sluice_redis_free(r);
        return -1;
    }
    size_t len;
    char *text = make_text(256, 7, &len);
    sluice_meta m = { NULL, "bench", "u1", NULL };
    for (int i = 0; i < 20; i++) {    /* connected and warm */
        sluice_verdict *v = NULL;
        if (sluice_check_state(e, text, len, &m, &v, NULL, NULL) == 0)
            sluice_verdict_free(v);
    }
    stop_server(sig);
    d->fast_max = 0;
    t0 = now_ms();
    while (now_ms() - t0 < ms) {
        sluice_verdict *v = NULL;
        sluice_state_info info;
        double c0 = now_ms();
        if (sluice_check_state(e, text, len, &m, &v, &info, NULL) != 0)
            break;
        double c = now_ms() - c0;
        sluice_verdict_free(v);
        d->checks++;
        if (c > d->check_max)
            d->check_max = c;
        if (info.redis_ms > 1.0) {
            if (nw < cap)
                w[nw++] = info.redis_ms;
        } else {
            d->fast++;
            if (info.redis_ms > d->fast_max)
                d->fast_max = info.redis_ms;
        }
    }
    d->waited = nw;
    d->wait_min = nw ? pct(w, nw, 0) : 0;
    d->wait_med = nw ? pct(w, nw, 50) : 0;
    d->wait_max = nw ? pct(w, nw, 100) : 0;
    free(text);
    free(w);
    sluice_engine_free(e);
    sluice_redis_free(r);
    return 0;
}

/* ---- 3. publish to swap ------------------------------------------------------------------- */

static void on_log(sluice_log_level level, const char *msg, void *payload)
{
    int fd = *(int *)payload;
    char line[64];
    if (level == SLUICE_LOG_INFO && strstr(msg, "now running") != NULL) {
        int n = snprintf(line, sizeof line, "%.3f\n", real_ms());
        if (write(fd, line, (size_t)n) != n) {
            /* the parent reads it; nothing to do if it cannot */
        }
    }
}

/* A worker process: follow the fleet (under `prefix`) until stop_fd
   closes. It says "ready" once subscribed. */
static void worker(int fd, int stop_fd, const char *pub, const char *prefix)
{
    sluice_fleet_options fo = SLUICE_FLEET_OPTIONS_INIT;
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_key *k = NULL;
    sluice_engine *e = NULL;
    sluice_fleet *f = NULL;
    sluice_redis *r = open_prefixed(prefix, TIMEOUT_MS, 100, 1000);
    sluice_fleet_stats st;
    char c;
    if (r == NULL || sluice_key_load(&k, pub, NULL) != 0 ||
        sluice_engine_new(&e, NULL, NULL) != 0)
        _exit(1);
    const sluice_key *keys[1] = { k };
    po.trust = keys;
    po.ntrust = 1;
    fo.policy = &po;
    fo.log = on_log;
    fo.log_payload = &fd;
    fo.no_initial_load = 1;
    if (sluice_fleet_start(&f, e, r, &fo, NULL) != 0)
        _exit(1);
    for (int i = 0; i < 5000; i++) {
        sluice_fleet_get_stats(f, &st);
        if (st.connected)
            break;
        sleep_ms(1);
    }
    if (write(fd, "ready\n", 6) != 6)
        _exit(1);
    if (read(stop_fd, &c, 1) < 0) {
        /* EOF or error: stop either way */
    }
    sluice_fleet_stop(f);
    sluice_engine_free(e);
    sluice_redis_free(r);
    sluice_key_free(k);
    _exit(0);
}

static int write_policy(const char *dir, const char *base, int version)
{
    char cmd[2048], path[800];
    mkdir(dir, 0700);
    if (base != NULL) {
        snprintf(cmd, sizeof cmd, "cp -r '%s'/. '%s'/ && sed -i "
            "'s/^version: .*/version: %d/' '%s/policy.yaml'", base, dir,
            version, dir);
        return system(cmd) == 0 ? 0 : -1;
    }
    snprintf(path, sizeof path, "%s/policy.yaml", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "policy: tiny\nversion: %d\nrules:\n  - id: w\n    action: "
        "block\n    terms: [alphaword]\n", version);
    return fclose(f);
}

/* Read one line per worker (a realtime ms); -1 on a timeout. */
static int read_swaps(int fd, double *at, int n, int ms)
{
    char buf[4096];
    size_t have = 0;
    int got = 0;
    double t0 = now_ms();
    while (got < n && now_ms() - t0 < ms) {
        ssize_t k = read(fd, buf + have, sizeof buf - 1 - have);
        if (k <= 0) {
            sleep_ms(1);
            continue;
        }
        have += (size_t)k;
        buf[have] = '\0';
        char *nl;
        while (got < n && (nl = strchr(buf, '\n')) != NULL) {
            *nl = '\0';
            at[got++] = strtod(buf, NULL);
            memmove(buf, nl + 1, have - (size_t)(nl + 1 - buf) + 1);
            have -= (size_t)(nl + 1 - buf);
        }
    }
    return got == n ? 0 : -1;
}

static int bench_swap(const char *label, const char *base, int rounds)
{
    char keyp[700], pubp[700], dir[700];
    sluice_bundle_options bo = SLUICE_BUNDLE_OPTIONS_INIT;
    sluice_key *sk = NULL;
    int pipes[2], stop[2];
    pid_t kids[WORKERS];
    double *sw = malloc((size_t)rounds * WORKERS * sizeof *sw);
    double *last = malloc((size_t)rounds * WORKERS * sizeof *last);
    double pubms = 0;
    size_t nl = 0;
    char prefix[64];
    sluice_redis *pub;
    snprintf(prefix, sizeof prefix, "bench-%s:", label);
    if ((pub = open_prefixed(prefix, 1000, 100, 1000)) == NULL)
        return -1;
    snprintf(keyp, sizeof keyp, "%s/team", tmp);
    snprintf(pubp, sizeof pubp, "%s/team.pub", tmp);
    if (sw == NULL || last == NULL || pipe(pipes) != 0 || pipe(stop) != 0)
        return -1;
    fcntl(pipes[0], F_SETFL, O_NONBLOCK);
    snprintf(dir, sizeof dir, "%s/team.key", tmp);
    if (sluice_key_load(&sk, dir, NULL) != 0)
        return -1;
    bo.signer = sk;
    for (int i = 0; i < WORKERS; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            close(pipes[0]);
            close(stop[1]);
            worker(pipes[1], stop[0], pubp, prefix);
        }
    }
    close(stop[0]);
    double ready[WORKERS];
    if (read_swaps(pipes[0], ready, WORKERS, 10000) != 0)
        fprintf(stderr, "redis_bench: workers did not start\n");
    for (int k = 0; k < rounds; k++) {
        char *data = NULL;
        size_t len = 0;
        double at[WORKERS];
        snprintf(dir, sizeof dir, "%s/%s-%d", tmp, label, k);
        if (write_policy(dir, base, 1000 + k) != 0 ||
            sluice_bundle_build(&data, &len, dir, &bo, NULL) != 0)
            break;
        double c0 = now_ms();
        if (sluice_redis_publish(pub, data, len, NULL, 0, NULL, NULL) != 0) {
            free(data);
            break;
        }
        double t_pub = real_ms();
        pubms += now_ms() - c0;
        free(data);
        if (read_swaps(pipes[0], at, WORKERS, 30000) != 0) {
            fprintf(stderr, "redis_bench: not every worker swapped\n");
            break;
        }
        double worst = 0;
        for (int i = 0; i < WORKERS; i++) {
            sw[nl] = at[i] - t_pub;
            if (sw[nl] > worst)
                worst = sw[nl];
            nl++;
        }
        last[k] = worst;
    }
    close(stop[1]);
    for (int i = 0; i < WORKERS; i++)
        waitpid(kids[i], NULL, 0);
    close(pipes[0]);
    close(pipes[1]);
    size_t nr = nl / WORKERS;
    printf("| %s | %d | %zu | %.1f | %.1f | %.1f | %.1f | %.1f |\n", label,
        WORKERS, nr, nr ? pubms / (double)nr : 0, pct(sw, nl, 0),
        pct(sw, nl, 50), pct(sw, nl, 100), pct(last, nr, 50));
    sluice_key_free(sk);
    sluice_redis_free(pub);
    free(sw);
    free(last);
    return 0;
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *policy = "policies/baseline";
    double seconds = 2;
    sluice_policy *p = NULL;
    sluice_key *dk = NULL;
    sluice_error err;
    char path[700];
    static const size_t sizes[] = { 256, 4096, 65536, 1048576 };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
            policy = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else {
            fprintf(stderr, "usage: redis_bench [--policy DIR] "
                "[--seconds S]\n");
            return 2;
        }
    }
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        printf("Redis benchmark: skipped (no redis-server)\n");
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s/sluice-redis-bench.XXXXXX",
        getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmp) == NULL)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    atexit(cleanup);
    port = free_port();
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    memset(&err, 0, sizeof err);
    snprintf(path, sizeof path, "%s/cache", tmp);
    int rc = sluice_keygen(path, "bench", 1, &err);
    snprintf(path, sizeof path, "%s/team", tmp);
    rc |= sluice_keygen(path, "team", 0, &err);
    snprintf(path, sizeof path, "%s/cache.digest", tmp);
    rc |= sluice_key_load(&dk, path, &err);
    rc |= sluice_policy_load(&p, policy, NULL, &err);
    if (rc != 0 || start_server() != 0) {
        fprintf(stderr, "redis_bench: setup failed: %s\n", err.message);
        return 1;
    }

    printf("Redis state layer (bench/redis_bench.c): redis-server on "
        "loopback, policy %s, one checking thread, timeout_ms %d\n\n",
        policy, TIMEOUT_MS);
    printf("1. Check latency, microseconds (median / p99)\n");
    printf("| output | no Redis | cache miss (GET+check+SET) | cache hit "
        "(GET+rebuild) | hit / no Redis | strikes only (1 script) |\n");
    printf("|--:|--:|--:|--:|--:|--:|\n");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        lat l;
        size_t n = sizes[i] >= 1048576 ? 60 : sizes[i] >= 65536 ? 400 : 3000;
        memset(&l, 0, sizeof l);
        if (bench_latency(p, dk, sizes[i], n, &l) != 0) {
            printf("| %zu B | failed | | | | |\n", sizes[i]);
            continue;
        }
        printf("| %zu B | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.2fx | "
            "%.0f |\n", sizes[i], l.none_med, l.none_p99, l.miss_med,
            l.miss_p99, l.hit_med, l.hit_p99, l.hit_med / l.none_med,
            l.strike_med);
        if ((size_t)l.hits != n)
            printf("  (only %d of %zu were hits)\n", l.hits, n);
    }

    printf("\n2. Redis down: what a check (cache + strikes) waits on Redis, "
        "ms; back-off 20-40 ms so that many calls probe\n");
    printf("| Redis | checks | waited (probes) | wait min / median / max | "
        "failed at once | their max wait | longest check |\n");
    printf("|---|--:|--:|--:|--:|--:|--:|\n");
    down d;
    int ms = (int)(seconds * 1000);
    if (bench_down(p, dk, SIGSTOP, &d, ms) == 0)
        printf("| stalled (SIGSTOP) | %zu | %zu | %.2f / %.2f / %.2f | %zu | "
            "%.3f | %.2f |\n", d.checks, d.waited, d.wait_min, d.wait_med,
            d.wait_max, d.fast, d.fast_max, d.check_max);
    kill(server, SIGCONT);
    sleep_ms(100);
    if (bench_down(p, dk, SIGKILL, &d, ms) == 0)
        printf("| killed (refused) | %zu | %zu | %.2f / %.2f / %.2f | %zu | "
            "%.3f | %.2f |\n", d.checks, d.waited, d.wait_min, d.wait_med,
            d.wait_max, d.fast, d.fast_max, d.check_max);
    if (start_server() != 0) {
        fprintf(stderr, "redis_bench: redis-server did not restart\n");
        return 1;
    }

    printf("\n3. Publish to swap, %d worker processes (ms from "
        "sluice_redis_publish returning to each worker's swap; publish "
        "includes loading the bundle to check it)\n", WORKERS);
    printf("| policy | workers | rounds | publish call | swap min | median | "
        "max | last worker, median |\n");
    printf("|---|--:|--:|--:|--:|--:|--:|--:|\n");
    if (bench_swap("tiny", NULL, 10) != 0 ||
        bench_swap("baseline", policy, 5) != 0)
        fprintf(stderr, "redis_bench: publish-to-swap failed\n");
    sluice_policy *tiny = NULL;
    snprintf(path, sizeof path, "%s/tiny-0", tmp);
    if (sluice_policy_load(&tiny, path, NULL, NULL) == 0)
        printf("(a swap compiles the policy: here, alone, tiny %.0f ms, "
            "baseline %.0f ms)\n", sluice_policy_compile_ms(tiny),
            sluice_policy_compile_ms(p));
    sluice_policy_unref(tiny);
    sluice_policy_unref(p);
    sluice_key_free(dk);
    snprintf(path, sizeof path, "rm -rf '%s'", tmp);
    if (system(path) != 0)
        return 1;
    return 0;
}
