/*
 * redis_test.c - the Redis handle without a Redis (state/redis.c, the
 * fail modes of state/hook.c): addresses and options, and what a check
 * does when Redis is not there (a closed port), does not answer (a socket
 * that accepts and stays silent), answers too slowly (a reply trickling
 * in), or hangs up. In every case the check returns its verdict, says the
 * cache was unavailable, and waits on Redis no longer than the timeout;
 * then the handle backs off and calls fail at once. The tests against a
 * real redis-server are tests/integration/20-redis.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sluice.h"
#include "testutil.h"

#define TIMEOUT_MS 40
#define SLACK_MS 40

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- fake servers ---------------------------------------------------------- */

enum { SILENT, TRICKLE, HANGUP };

typedef struct fake {
    int fd;
    int port;
    int mode;
    atomic_int stop;
    pthread_t th;
    int threaded;
} fake;

static void fake_listen(fake *f, int mode)
{
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    memset(f, 0, sizeof *f);
    f->mode = mode;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->fd, 64), 0);
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &n), 0);
    f->port = ntohs(a.sin_port);
}

/* TRICKLE: after a command, a 100-byte bulk reply, one byte per 10 ms.
   HANGUP: accept and close. */
static void *fake_main(void *arg)
{
    fake *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = { f->fd, POLLIN, 0 };
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        if (f->mode == TRICKLE) {
            char buf[512];
            struct pollfd q = { c, POLLIN, 0 };
            if (poll(&q, 1, 1000) > 0 && read(c, buf, sizeof buf) > 0 &&
                write(c, "$100\r\n", 6) == 6)
                for (int i = 0; i < 100 && !atomic_load(&f->stop); i++) {
                    struct timespec ts = { 0, 10000000L };
                    if (write(c, "x", 1) != 1)
                        break;
                    nanosleep(&ts, NULL);
                }
        }
        close(c);
    }
    return NULL;
}

static void fake_start(fake *f, int mode)
{
    fake_listen(f, mode);
    if (mode != SILENT) {
        assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
        f->threaded = 1;
    }
}

static void fake_stop(fake *f)
{
    atomic_store(&f->stop, 1);
    if (f->threaded)
        pthread_join(f->th, NULL);
    close(f->fd);
}

/* A port nothing listens on. */
static int closed_port(void)
{
    fake f;
    fake_listen(&f, SILENT);
    int p = f.port;
    close(f.fd);
    return p;
}

/* ---- fixtures ------------------------------------------------------------------- */

typedef struct fx {
    char dir[64];
    sluice_policy *p;
    sluice_key *dk;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char path[128];
    FILE *fp;
    sluice_error err;
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-redis-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/policy.yaml", f->dir);
    fp = fopen(path, "w");
    if (fp == NULL)
        return -1;
    fputs("policy: t\nversion: 1\nrules:\n  - id: w\n    action: block\n"
        "    terms: [alphaword]\n", fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/k", f->dir);
    if (sluice_keygen(path, "k", 1, &err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/k.digest", f->dir);
    if (sluice_key_load(&f->dk, path, &err) != 0 ||
        sluice_policy_load(&f->p, f->dir, NULL, &err) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    sluice_policy_unref(f->p);
    sluice_key_free(f->dk);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static sluice_redis *handle(int port)
{
    sluice_redis_options o = SLUICE_REDIS_OPTIONS_INIT;
    sluice_redis *r = NULL;
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    o.addr = addr;
    o.timeout_ms = TIMEOUT_MS;
    o.backoff_min_ms = 100;
    o.backoff_max_ms = 200;
    assert_int_equal(sluice_redis_new(&r, &o, NULL), 0);
    return r;
}

static sluice_engine *engine(fx *f, sluice_redis *r, int strikes_closed)
{
    sluice_engine_redis_options o = SLUICE_ENGINE_REDIS_OPTIONS_INIT;
    sluice_engine *e = NULL;
    sluice_error err;
    assert_int_equal(sluice_engine_new(&e, NULL, NULL), 0);
    assert_int_equal(sluice_engine_set_policy(e, f->p), 0);
    o.cache = 1;
    o.digest_key = f->dk;
    o.strikes = 1;
    o.strikes_fail = strikes_closed ? SLUICE_FAIL_CLOSED : SLUICE_FAIL_OPEN;
    assert_int_equal(sluice_engine_set_redis(e, r, &o, &err), 0);
    return e;
}

/* One check; returns its wall time in ms. */
static double check(sluice_engine *e, const char *text, int want_action,
    sluice_state_info *info)
{
    sluice_meta m = { NULL, "t", "subject-1", NULL };
    sluice_verdict *v = NULL;
    double t0 = now_ms();
    assert_int_equal(sluice_check_state(e, text, strlen(text), &m, &v, info,
        NULL), 0);
    double ms = now_ms() - t0;
    assert_int_equal(sluice_verdict_action(v), want_action);
    sluice_verdict_free(v);
    return ms;
}

/* ---- tests ------------------------------------------------------------------------ */

static void addresses_parse_or_are_refused(void **state)
{
    static const char *const good[] = { "127.0.0.1:6379", "localhost",
        "[::1]:6380", "::1", "unix:/tmp/redis.sock", "/tmp/redis.sock",
        "unix:///tmp/r.sock", "redis://h:7000", "redis://:pw@h:7000/2",
        "redis://user:pw@10.0.0.1" };
    static const char *const bad[] = { "", ":6379", "h:0", "h:65536",
        "h:12x", "[::1", "rediss://h:6379", "redis://h/x", "unix:relative",
        "http://h" };
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        sluice_redis_options o = SLUICE_REDIS_OPTIONS_INIT;
        sluice_redis *r = NULL;
        o.addr = good[i];
        assert_int_equal(sluice_redis_new(&r, &o, NULL), 0);
        sluice_redis_free(r);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sluice_redis_options o = SLUICE_REDIS_OPTIONS_INIT;
        sluice_redis *r = NULL;
        sluice_error err;
        o.addr = bad[i];
        assert_int_equal(sluice_redis_new(&r, &o, &err), SLUICE_EINVAL);
        assert_null(r);
        assert_non_null(strstr(err.message, "address"));
    }
}

static void options_are_checked(void **state)
{
    fx *f = *state;
    sluice_redis_options o = SLUICE_REDIS_OPTIONS_INIT;
    sluice_engine_redis_options eo = SLUICE_ENGINE_REDIS_OPTIONS_INIT;
    sluice_redis *r = NULL;
    sluice_engine *e = NULL;
    o.prefix = "has space:";
    assert_int_equal(sluice_redis_new(&r, &o, NULL), SLUICE_EINVAL);
    o.prefix = NULL;
    o.backoff_min_ms = 500;
    o.backoff_max_ms = 100;
    assert_int_equal(sluice_redis_new(&r, &o, NULL), SLUICE_EINVAL);
    o.backoff_min_ms = 0;
    o.backoff_max_ms = 0;
    o.version = 99;
    assert_int_equal(sluice_redis_new(&r, &o, NULL), SLUICE_EINVAL);
    r = handle(closed_port());
    assert_int_equal(sluice_engine_new(&e, NULL, NULL), 0);
    eo.cache = 1;            /* no digest key */
    assert_int_equal(sluice_engine_set_redis(e, r, &eo, NULL), SLUICE_EINVAL);
    eo.cache = 0;
    eo.strikes = 1;
    eo.escalation.row = 3;   /* no suspend_s */
    assert_int_equal(sluice_engine_set_redis(e, r, &eo, NULL), SLUICE_EINVAL);
    eo.escalation.suspend_s = 10;
    eo.escalation.count = 5; /* no window_s */
    assert_int_equal(sluice_engine_set_redis(e, r, &eo, NULL), SLUICE_EINVAL);
    eo.escalation.window_s = 60;
    assert_int_equal(sluice_engine_set_redis(e, r, &eo, NULL), 0);
    assert_int_equal(sluice_engine_set_redis(e, NULL, NULL, NULL), 0);
    sluice_engine_free(e);
    sluice_redis_free(r);
    (void)f;
}

static void a_closed_port_fails_fast_and_backs_off(void **state)
{
    fx *f = *state;
    sluice_redis *r = handle(closed_port());
    sluice_engine *e = engine(f, r, 0);
    sluice_state_info info;
    sluice_redis_stats st;
    sluice_error err;
    double t0 = now_ms();
    assert_int_equal(sluice_redis_ping(r, &err), SLUICE_EIO);
    assert_true(now_ms() - t0 < 100);
    assert_non_null(strstr(err.message, "refused"));
    /* the ping put the handle in back-off: the check does not wait */
    double ms = check(e, "an alphaword here", SLUICE_BLOCK, &info);
    assert_int_equal(info.cache, SLUICE_CACHE_UNAVAILABLE);
    assert_int_equal(info.strikes, -1);
    assert_true(info.redis_ms < 5);
    assert_true(ms < 50);
    sluice_redis_get_stats(r, &st);
    assert_int_equal(st.up, 0);
    assert_true(st.backoff_ms >= 100);
    assert_true(st.skipped >= 1);
    sluice_engine_free(e);
    sluice_redis_free(r);
}

static void a_silent_server_times_out_then_the_handle_backs_off(void **state)
{
    fx *f = *state;
    fake srv;
    fake_start(&srv, SILENT);
    sluice_redis *r = handle(srv.port);
    sluice_engine *e = engine(f, r, 0);
    sluice_state_info info;
    sluice_redis_stats st;
    double ms = check(e, "hello", SLUICE_ALLOW, &info);
    assert_int_equal(info.cache, SLUICE_CACHE_UNAVAILABLE);
    assert_true(info.redis_ms >= TIMEOUT_MS - 2);
    assert_true(info.redis_ms <= TIMEOUT_MS + SLACK_MS);
    assert_true(ms <= TIMEOUT_MS + SLACK_MS + 20);
    /* strikes in the same check had no time left: unavailable, fail-open */
    assert_int_equal(info.strikes, -1);
    /* in back-off: the next checks do not wait */
    for (int i = 0; i < 20; i++) {
        check(e, "hello", SLUICE_ALLOW, &info);
        assert_int_equal(info.cache, SLUICE_CACHE_UNAVAILABLE);
        assert_true(info.redis_ms < 5);
    }
    sluice_redis_get_stats(r, &st);
    assert_int_equal(st.timeouts, 1);
    assert_true(st.skipped >= 20);
    /* after the back-off one call probes, and times out again */
    struct timespec ts = { 0, 210000000L };
    nanosleep(&ts, NULL);
    check(e, "hello", SLUICE_ALLOW, &info);
    assert_true(info.redis_ms >= TIMEOUT_MS - 2);
    sluice_redis_get_stats(r, &st);
    assert_int_equal(st.timeouts, 2);
    assert_true(st.backoff_ms == 200);
    sluice_engine_free(e);
    sluice_redis_free(r);
    fake_stop(&srv);
}

static void strikes_fail_closed_blocks_when_redis_is_silent(void **state)
{
    fx *f = *state;
    fake srv;
    fake_start(&srv, SILENT);
    sluice_redis *r = handle(srv.port);
    sluice_engine *e = engine(f, r, 1);
    sluice_meta m = { NULL, "t", "u", NULL };
    sluice_verdict *v = NULL;
    sluice_state_info info;
    assert_int_equal(sluice_check_state(e, "hello", 5, &m, &v, &info, NULL),
        0);
    assert_int_equal(sluice_verdict_action(v), SLUICE_BLOCK);
    assert_string_equal(sluice_verdict_reason(v), "strikes_unavailable");
    sluice_verdict_free(v);
    /* without a subject strikes are not asked for: the verdict stands */
    assert_int_equal(sluice_check_state(e, "hello", 5, NULL, &v, &info,
        NULL), 0);
    assert_int_equal(sluice_verdict_action(v), SLUICE_ALLOW);
    assert_int_equal(info.strikes, 0);
    sluice_verdict_free(v);
    sluice_engine_free(e);
    sluice_redis_free(r);
    fake_stop(&srv);
}

static void a_trickling_reply_is_cut_at_the_deadline(void **state)
{
    fx *f = *state;
    fake srv;
    fake_start(&srv, TRICKLE);
    sluice_redis *r = handle(srv.port);
    sluice_engine *e = engine(f, r, 0);
    sluice_state_info info;
    /* the reply would take a second; the check waits the timeout */
    double ms = check(e, "hello", SLUICE_ALLOW, &info);
    assert_int_equal(info.cache, SLUICE_CACHE_UNAVAILABLE);
    assert_true(info.redis_ms <= TIMEOUT_MS + SLACK_MS);
    assert_true(ms <= TIMEOUT_MS + SLACK_MS + 20);
    sluice_engine_free(e);
    sluice_redis_free(r);
    fake_stop(&srv);
}

static void a_server_that_hangs_up_fails_fast(void **state)
{
    fx *f = *state;
    fake srv;
    fake_start(&srv, HANGUP);
    sluice_redis *r = handle(srv.port);
    sluice_error err;
    double t0 = now_ms();
    assert_int_equal(sluice_redis_ping(r, &err), SLUICE_EIO);
    assert_true(now_ms() - t0 < TIMEOUT_MS);
    if (strstr(err.message, "closed") == NULL &&
        strstr(err.message, "reset") == NULL)
        fail_msg("unexpected: %s", err.message);
    sluice_redis_free(r);
    fake_stop(&srv);
    (void)f;
}

static void without_redis_options_the_engine_checks_as_before(void **state)
{
    fx *f = *state;
    sluice_engine *e = NULL;
    sluice_verdict *v = NULL;
    sluice_state_info info;
    assert_int_equal(sluice_engine_new(&e, NULL, NULL), 0);
    assert_int_equal(sluice_engine_set_policy(e, f->p), 0);
    assert_int_equal(sluice_check_state(e, "alphaword", 9, NULL, &v, &info,
        NULL), 0);
    assert_int_equal(info.cache, SLUICE_CACHE_OFF);
    assert_int_equal(info.strikes, 0);
    assert_int_equal(sluice_verdict_action(v), SLUICE_BLOCK);
    sluice_verdict_free(v);
    sluice_engine_free(e);
}

static void state_info_prints_as_json_members(void **state)
{
    sluice_state_info in;
    char *js = NULL;
    size_t n = 0;
    (void)state;
    memset(&in, 0, sizeof in);
    assert_int_equal(sluice_state_info_json(&in, &js, &n), 0);
    assert_string_equal(js, "");
    free(js);
    in.cache = SLUICE_CACHE_HIT;
    in.strikes = 1;
    in.row = 2;
    in.window = 5;
    in.suspended = 1;
    in.suspended_ms = 1500;
    assert_int_equal(sluice_state_info_json(&in, &js, &n), 0);
    assert_string_equal(js, "\"cache\":\"hit\",\"strikes\":{\"row\":2,"
        "\"window\":5},\"suspend\":true,\"suspend_ms\":1500");
    free(js);
    in.cache = SLUICE_CACHE_UNAVAILABLE;
    in.strikes = -1;
    in.suspended = 0;
    assert_int_equal(sluice_state_info_json(&in, &js, &n), 0);
    assert_string_equal(js, "\"cache\":\"unavailable\",\"strikes\":"
        "\"unavailable\",\"suspend\":false");
    assert_int_equal(n, strlen(js));
    free(js);
    assert_string_equal(sluice_cache_status_name(SLUICE_CACHE_SKIP), "skip");
    assert_string_equal(sluice_cache_status_name(99), "?");
    assert_string_equal(sluice_anchor_result_name(SLUICE_ANCHOR_FORK), "fork");
    assert_string_equal(sluice_anchor_result_name(0), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(addresses_parse_or_are_refused),
        cmocka_unit_test(options_are_checked),
        cmocka_unit_test(a_closed_port_fails_fast_and_backs_off),
        cmocka_unit_test(a_silent_server_times_out_then_the_handle_backs_off),
        cmocka_unit_test(strikes_fail_closed_blocks_when_redis_is_silent),
        cmocka_unit_test(a_trickling_reply_is_cut_at_the_deadline),
        cmocka_unit_test(a_server_that_hangs_up_fails_fast),
        cmocka_unit_test(without_redis_options_the_engine_checks_as_before),
        cmocka_unit_test(state_info_prints_as_json_members),
    };
    return cmocka_run_group_tests_name("state/redis", tests, setup, teardown);
}
