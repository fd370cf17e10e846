/*
 * fleet.c - fleet-wide policy distribution through Redis: publishing a
 * signed bundle, loading the current one, the subscriber thread that
 * keeps an engine on it, and the workers' reports.
 *
 * Keys (PREFIX default "sluice:"):
 *   PREFIX "policy"          hash: hash, id, version, size, published
 *                            (the current bundle; Unix ms, Redis clock)
 *   PREFIX "bundle:" HASH    the bundle's bytes (a replaced one expires
 *                            after a day, so late fetchers still get it)
 *   PREFIX "worker:" ID      hash: a worker's report (TTL report_s)
 *   channel PREFIX "policy"  each publish announces the hash
 *
 * Publishing is one script (scripts.c): store, make current, announce,
 * atomically, refusing a downgrade of the current policy id unless
 * forced. A subscriber trusts nothing it reads from Redis: the bundle must
 * load under the worker's own trust keys (signature, trusted signer,
 * sources intact), its policy hash must be the one announced, and its
 * version must not be lower than the running version of the same policy
 * id; else it is refused, logged and reported, and the engine keeps its
 * policy. The swap itself is sluice_engine_set_policy: atomic for checks.
 *
 * The thread: one subscribed connection and one command connection, both
 * its own (redis_connect_own), so a slow fetch never holds a connection
 * that outputs' checks need. It waits in poll() on the subscription and
 * on a pipe that sluice_fleet_stop writes to. Announcements can be missed
 * (a reconnect, a network cut): after each (re)subscription and at every
 * report (a third of report_s) it also reads the current hash, so it
 * catches up within that interval. When Redis is away, it retries with
 * the handle's back-off bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ledger/key.h"
#include "ledger/util.h"
#include "state/redis.h"
#include "state/scripts.h"

#define DEFAULT_REPORT_S 30
#define OLD_BUNDLE_KEEP_S 86400
#define MAX_TRUST 64
#define KEY_MAX 512

/* ---- replies ------------------------------------------------------------ */

/* The value of field `name` in an HGETALL reply, or NULL. */
static const redisReply *hfield(const redisReply *h, const char *name)
{
    if (h == NULL || h->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(h->element[i]->str, name) == 0 &&
            h->element[i + 1]->type == REDIS_REPLY_STRING)
            return h->element[i + 1];
    return NULL;
}

static const char *hstr(const redisReply *h, const char *name)
{
    const redisReply *v = hfield(h, name);
    return v ? v->str : "";
}

static int64_t hnum(const redisReply *h, const char *name)
{
    const redisReply *v = hfield(h, name);
    return v ? strtoll(v->str, NULL, 10) : 0;
}

static int64_t now_ms(void)
{
    return clock_real_ns() / 1000000;
}

/* Fill *info from the policy hash (HGETALL reply); 0, or 1 if empty. */
static int read_current(const redisReply *h, sluice_publish_info *info)
{
    memset(info, 0, sizeof *info);
    if (h == NULL || h->type != REDIS_REPLY_ARRAY || h->elements == 0)
        return 1;
    str_copy(info->hash, sizeof info->hash, hstr(h, "hash"));
    str_copy(info->id, sizeof info->id, hstr(h, "id"));
    info->version = hnum(h, "version");
    info->size = (uint64_t)hnum(h, "size");
    info->published_ms = hnum(h, "published");
    return info->hash[0] ? 0 : 1;
}

/* ---- publish -------------------------------------------------------------- */

static int publish_reply(const redisReply *rep, sluice_publish_info *info,
    const char *addr, sluice_error *err)
{
    const redisReply *e0;
    if (rep->type == REDIS_REPLY_ERROR)
        return ledger_error(err, SLUICE_EIO, NULL, "redis %s: publish: %s",
            addr, rep->str);
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4 ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        return ledger_error(err, SLUICE_EIO, NULL,
            "redis %s: publish: unexpected reply", addr);
    e0 = rep->element[0];
    if (strcmp(e0->str, "downgrade") == 0) {
        info->refused = 1;
        if (rep->element[1]->type == REDIS_REPLY_STRING)
            str_copy(info->previous, sizeof info->previous,
                rep->element[1]->str);
    }
    if (strcmp(e0->str, "downgrade") == 0)
        return ledger_error(err, SLUICE_EPOLICY, NULL,
            "refusing to publish %s version %lld over version %s (a "
            "downgrade; force it to roll back)", info->id,
            (long long)info->version, rep->element[2]->type ==
                REDIS_REPLY_STRING ? rep->element[2]->str : "?");
    if (strcmp(e0->str, "published") == 0 &&
        rep->element[1]->type == REDIS_REPLY_STRING)
        str_copy(info->previous, sizeof info->previous,
            rep->element[1]->str);
    else if (strcmp(e0->str, "same") == 0)
        str_copy(info->previous, sizeof info->previous, info->hash);
    if (rep->element[2]->type == REDIS_REPLY_INTEGER)
        info->receivers = rep->element[2]->integer;
    if (rep->element[3]->type == REDIS_REPLY_INTEGER)
        info->published_ms = rep->element[3]->integer;
    return 0;
}

int sluice_redis_publish(sluice_redis *r, const void *data, size_t len,
    const sluice_policy_options *check, int force, sluice_publish_info *info,
    sluice_error *err)
{
    sluice_policy_options dflt = SLUICE_POLICY_OPTIONS_INIT;
    sluice_publish_info tmp;
    sluice_policy *p = NULL;
    char pkey[KEY_MAX], bkey[KEY_MAX], bprefix[KEY_MAX], ver[24], size[24];
    char keep[24];
    redis_cmd c;
    redisReply *rep = NULL;
    int rc;
    if (info == NULL)
        info = &tmp;
    memset(info, 0, sizeof *info);
    if (r == NULL || data == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_redis_publish: handle and bundle are required");
    if (check == NULL) {
        dflt.allow_unsigned = 1;     /* the structure and sources only */
        check = &dflt;
    }
    if ((rc = sluice_policy_load_bundle(&p, data, len, "bundle", check,
            err)) != 0)
        return rc;
    str_copy(info->hash, sizeof info->hash, sluice_policy_hash(p));
    str_copy(info->id, sizeof info->id, sluice_policy_id(p));
    info->version = sluice_policy_version(p);
    info->size = len;
    sluice_policy_unref(p);

    redis_key(r, pkey, sizeof pkey, "policy", NULL);
    redis_key(r, bkey, sizeof bkey, "bundle:", info->hash);
    redis_key(r, bprefix, sizeof bprefix, "bundle:", NULL);
    snprintf(ver, sizeof ver, "%lld", (long long)info->version);
    snprintf(size, sizeof size, "%zu", len);
    snprintf(keep, sizeof keep, "%d", OLD_BUNDLE_KEEP_S);
    redis_cmd_init(&c, SCRIPT_PUBLISH);
    redis_cmd_str(&c, "2");
    redis_cmd_str(&c, pkey);
    redis_cmd_str(&c, bkey);
    redis_cmd_str(&c, info->hash);
    redis_cmd_str(&c, info->id);
    redis_cmd_str(&c, ver);
    redis_cmd_str(&c, size);
    redis_cmd_str(&c, force ? "1" : "0");
    redis_cmd_str(&c, pkey);         /* the channel has the key's name */
    redis_cmd_str(&c, bprefix);
    redis_cmd_str(&c, keep);
    redis_cmd_arg(&c, data, len);
    /* a retry is harmless: the same bundle again is only re-announced */
    if ((rc = redis_run1(r, redis_bulk_deadline(r), REDIS_BULK | REDIS_RETRY,
            &c, &rep, err)) != 0)
        return rc;
    rc = publish_reply(rep, info, redis_addr(r), err);
    freeReplyObject(rep);
    return rc;
}

/* ---- loading the current bundle --------------------------------------------- */

/* Fetch the bytes of bundle `hash` (a reply the caller frees). */
static int fetch_bundle(sluice_redis *r, redisContext *own, const char *hash,
    redisReply **out, sluice_error *err)
{
    char bkey[KEY_MAX];
    redis_cmd c;
    int rc;
    redis_key(r, bkey, sizeof bkey, "bundle:", hash);
    redis_cmd_init(&c, -1);
    redis_cmd_str(&c, "GET");
    redis_cmd_str(&c, bkey);
    rc = own ? redis_own_run(r, own, redis_bulk_deadline(r), &c, out, err) :
        redis_run1(r, redis_bulk_deadline(r), REDIS_BULK | REDIS_RETRY, &c,
            out, err);
    if (rc != 0)
        return rc;
    if ((*out)->type != REDIS_REPLY_STRING) {
        rc = (*out)->type == REDIS_REPLY_ERROR ?
            ledger_error(err, SLUICE_EIO, NULL, "redis %s: GET %s: %s",
                redis_addr(r), bkey, (*out)->str) :
            ledger_error(err, SLUICE_ENOPOLICY, NULL,
                "bundle %.16s... is announced but not in Redis (%s)", hash,
                bkey);
        freeReplyObject(*out);
        *out = NULL;
    }
    return rc;
}

/* Load bundle bytes that should have policy hash `hash`. */
static int load_checked(sluice_policy **out, const redisReply *b,
    const char *hash, const sluice_policy_options *opts, sluice_error *err)
{
    char name[96];
    int rc;
    snprintf(name, sizeof name, "bundle %.16s", hash);
    rc = sluice_policy_load_bundle(out, b->str, (size_t)b->len, name, opts,
        err);
    if (rc == 0 && strcmp(sluice_policy_hash(*out), hash) != 0) {
        rc = ledger_error(err, SLUICE_EPOLICY, NULL,
            "bundle announced as %.16s... has policy hash %.16s...", hash,
            sluice_policy_hash(*out));
        sluice_policy_unref(*out);
        *out = NULL;
    }
    return rc;
}

int sluice_redis_load_policy(sluice_policy **out, sluice_redis *r,
    const sluice_policy_options *opts, sluice_publish_info *info,
    sluice_error *err)
{
    sluice_publish_info tmp;
    char pkey[KEY_MAX];
    redis_cmd c;
    redisReply *rep = NULL, *b = NULL;
    int rc;
    if (out == NULL || r == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_redis_load_policy: out and handle are required");
    *out = NULL;
    if (info == NULL)
        info = &tmp;
    redis_key(r, pkey, sizeof pkey, "policy", NULL);
    redis_cmd_init(&c, -1);
    redis_cmd_str(&c, "HGETALL");
    redis_cmd_str(&c, pkey);
    if ((rc = redis_run1(r, redis_bulk_deadline(r), REDIS_BULK | REDIS_RETRY,
            &c, &rep, err)) != 0)
        return rc;
    if (rep->type == REDIS_REPLY_ERROR)
        rc = ledger_error(err, SLUICE_EIO, NULL, "redis %s: HGETALL %s: %s",
            redis_addr(r), pkey, rep->str);
    else if (read_current(rep, info) != 0)
        rc = ledger_error(err, SLUICE_ENOPOLICY, NULL,
            "no policy has been published in Redis %s (key %s)",
            redis_addr(r), pkey);
    freeReplyObject(rep);
    if (rc != 0)
        return rc;
    if ((rc = fetch_bundle(r, NULL, info->hash, &b, err)) != 0)
        return rc;
    rc = load_checked(out, b, info->hash, opts, err);
    freeReplyObject(b);
    return rc;
}

/* ---- the subscriber ------------------------------------------------------------- */

struct sluice_fleet {
    sluice_engine *e;                 /* borrowed */
    sluice_redis *r;                  /* borrowed */
    sluice_policy_options po;         /* trust points at kp */
    sluice_key keys[MAX_TRUST];       /* copies, wiped when freed */
    const sluice_key *kp[MAX_TRUST];
    char worker[129];
    char host[256];
    long pid;
    uint32_t report_s;
    int allow_downgrade;
    sluice_log_fn log;
    void *log_payload;
    char chan[KEY_MAX], wkey[KEY_MAX], pkey[KEY_MAX];

    pthread_t th;
    int started;
    int wake[2];                      /* sluice_fleet_stop writes wake[1] */
    atomic_int stop;
    redisContext *sub, *cmd;          /* the thread's own */

    pthread_mutex_t lock;             /* guards the fields below */
    sluice_fleet_stats st;
    char refused[65];                 /* the last hash refused, or "" */
    char error[300];                  /* why */
    int64_t since_ms;                 /* running st.hash since */
};

static void flog(sluice_fleet *f, sluice_log_level level, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
static void flog(sluice_fleet *f, sluice_log_level level, const char *fmt,
    ...)
{
    char buf[768];
    va_list ap;
    if (f->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    f->log(level, buf, f->log_payload);
}

static void drop(redisContext **c)
{
    if (*c != NULL)
        redisFree(*c);
    *c = NULL;
}

/* The deadline of the thread's small commands (not bundle fetches):
   short, so that a stalled Redis never keeps sluice_fleet_stop waiting. */
static int64_t short_deadline(const sluice_fleet *f)
{
    const sluice_redis_options *o = redis_options(f->r);
    return redis_now_us() + (int64_t)o->connect_timeout_ms * 1000 +
        (int64_t)o->timeout_ms * 1000 * 4;
}

/* A command on the thread's command connection (made if need be). */
static int fcmd(sluice_fleet *f, int64_t deadline, redis_cmd *c,
    redisReply **rep, sluice_error *err)
{
    int rc;
    *rep = NULL;
    if (f->cmd == NULL &&
        (f->cmd = redis_connect_own(f->r, deadline, err)) == NULL)
        return SLUICE_EIO;
    rc = redis_own_run(f->r, f->cmd, deadline, c, rep, err);
    if (rc != 0)
        drop(&f->cmd);
    return rc;
}

/* Write this worker's report (best effort). */
static void report(sluice_fleet *f)
{
    sluice_policy *p = sluice_engine_policy(f->e);
    char ver[24], sgn[4], since[24], seen[24], pid[24], ttl[24];
    char hash[65], refused[65], error[300];
    const char *state;
    redis_cmd c, x;
    redisReply *rep = NULL;
    sluice_error err;
    int64_t dl = short_deadline(f);
    if (pthread_mutex_lock(&f->lock) != 0) {
        sluice_policy_unref(p);
        return;
    }
    str_copy(refused, sizeof refused, f->refused);
    str_copy(error, sizeof error, f->error);
    snprintf(since, sizeof since, "%lld", (long long)f->since_ms);
    (void)pthread_mutex_unlock(&f->lock);
    str_copy(hash, sizeof hash, p ? sluice_policy_hash(p) : "");
    state = refused[0] ? "refused" : p ? "ok" : "no_policy";
    snprintf(ver, sizeof ver, "%lld", p ? (long long)sluice_policy_version(p)
        : 0LL);
    snprintf(sgn, sizeof sgn, "%d", p ? sluice_policy_signed(p) : 0);
    snprintf(seen, sizeof seen, "%lld", (long long)now_ms());
    snprintf(pid, sizeof pid, "%ld", f->pid);
    snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)f->report_s * 1000);
    redis_cmd_init(&c, -1);
    redis_cmd_str(&c, "HSET");
    redis_cmd_str(&c, f->wkey);
    const char *kv[] = { "worker", f->worker, "hash", hash, "policy",
        p ? sluice_policy_id(p) : "", "version", ver, "signed", sgn,
        "state", state, "error", error, "refused", refused };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        redis_cmd_str(&c, kv[i]);
    /* the rest in a second command: a command holds REDIS_MAX_ARGS */
    redis_cmd_init(&x, -1);
    redis_cmd_str(&x, "HSET");
    redis_cmd_str(&x, f->wkey);
    const char *kv2[] = { "since", since, "seen", seen, "host", f->host,
        "pid", pid };
    for (size_t i = 0; i < sizeof kv2 / sizeof kv2[0]; i++)
        redis_cmd_str(&x, kv2[i]);
    memset(&err, 0, sizeof err);
    if (fcmd(f, dl, &c, &rep, &err) == 0) {
        freeReplyObject(rep);
        if (fcmd(f, dl, &x, &rep, &err) == 0) {
            freeReplyObject(rep);
            redis_cmd_init(&x, -1);
            redis_cmd_str(&x, "PEXPIRE");
            redis_cmd_str(&x, f->wkey);
            redis_cmd_str(&x, ttl);
            if (fcmd(f, dl, &x, &rep, &err) == 0)
                freeReplyObject(rep);
        }
    }
    sluice_policy_unref(p);
}

static void refuse(sluice_fleet *f, const char *hash, const char *why)
{
    sluice_policy *cur = sluice_engine_policy(f->e);
    if (pthread_mutex_lock(&f->lock) == 0) {
        f->st.refused++;
        str_copy(f->refused, sizeof f->refused, hash);
        str_copy(f->error, sizeof f->error, why);
        (void)pthread_mutex_unlock(&f->lock);
    }
    flog(f, SLUICE_LOG_ERROR, "fleet: refused bundle %.16s...: %s; keeping "
        "%s%s%.16s%s", hash, why, cur ? "policy " : "no policy",
        cur ? sluice_policy_id(cur) : "", cur ? " " : "",
        cur ? sluice_policy_hash(cur) : "");
    sluice_policy_unref(cur);
}

/* Make policy p (loaded for `hash`) the engine's, unless a downgrade. */
static int swap_in(sluice_fleet *f, sluice_policy *p, const char *hash,
    int64_t t0_us)
{
    sluice_policy *cur = sluice_engine_policy(f->e);
    char why[300];
    int down = cur != NULL && !f->allow_downgrade &&
        strcmp(sluice_policy_id(cur), sluice_policy_id(p)) == 0 &&
        sluice_policy_version(p) < sluice_policy_version(cur);
    if (down) {
        snprintf(why, sizeof why, "a downgrade of %s from version %lld to "
            "%lld", sluice_policy_id(p),
            (long long)sluice_policy_version(cur),
            (long long)sluice_policy_version(p));
        sluice_policy_unref(cur);
        refuse(f, hash, why);
        return -1;
    }
    sluice_policy_unref(cur);
    if (sluice_engine_set_policy(f->e, p) != 0) {
        refuse(f, hash, "the engine did not take the policy");
        return -1;
    }
    double ms = (double)(redis_now_us() - t0_us) / 1000.0;
    if (pthread_mutex_lock(&f->lock) == 0) {
        f->st.swaps++;
        f->st.last_swap_ms = ms;
        str_copy(f->st.hash, sizeof f->st.hash, hash);
        f->refused[0] = '\0';
        f->error[0] = '\0';
        f->since_ms = now_ms();
        (void)pthread_mutex_unlock(&f->lock);
    }
    flog(f, SLUICE_LOG_INFO, "fleet: now running policy %s version %lld "
        "(%.16s..., %s), fetched, checked and swapped in %.1f ms",
        sluice_policy_id(p), (long long)sluice_policy_version(p), hash,
        sluice_policy_signed(p) ? "signed" : "unsigned", ms);
    return 0;
}

/* Fetch, check and swap in bundle `hash`. */
static void apply(sluice_fleet *f, const char *hash)
{
    redisReply *b = NULL;
    sluice_policy *p = NULL;
    sluice_error err;
    int64_t t0 = redis_now_us();
    int rc;
    memset(&err, 0, sizeof err);
    rc = 0;
    if (f->cmd == NULL && (f->cmd = redis_connect_own(f->r,
            redis_bulk_deadline(f->r), &err)) == NULL)
        rc = SLUICE_EIO;
    if (rc == 0 && (rc = fetch_bundle(f->r, f->cmd, hash, &b, &err)) ==
            SLUICE_EIO)
        drop(&f->cmd);
    if (rc == SLUICE_EIO) {
        flog(f, SLUICE_LOG_WARNING, "fleet: fetching bundle %.16s...: %s",
            hash, err.message);
        return;                 /* not refused: tried again at the next sync */
    }
    if (rc == 0)
        rc = load_checked(&p, b, hash, &f->po, &err);
    if (b != NULL)
        freeReplyObject(b);
    if (rc != 0) {
        refuse(f, hash, err.message);
    } else {
        (void)swap_in(f, p, hash, t0);
        sluice_policy_unref(p);
    }
    report(f);
}

/* Apply the current bundle if it is not what runs (nor refused already,
   unless `retry_refused`). */
static void sync_current(sluice_fleet *f, int retry_refused)
{
    redis_cmd c;
    redisReply *rep = NULL;
    sluice_publish_info cur;
    sluice_policy *p;
    sluice_error err;
    int same, refused;
    memset(&err, 0, sizeof err);
    redis_cmd_init(&c, -1);
    redis_cmd_str(&c, "HGETALL");
    redis_cmd_str(&c, f->pkey);
    if (fcmd(f, short_deadline(f), &c, &rep, &err) != 0)
        return;
    int empty = read_current(rep, &cur);
    freeReplyObject(rep);
    if (empty)
        return;
    p = sluice_engine_policy(f->e);
    same = p != NULL && strcmp(sluice_policy_hash(p), cur.hash) == 0;
    sluice_policy_unref(p);
    refused = 0;
    if (pthread_mutex_lock(&f->lock) == 0) {
        refused = strcmp(f->refused, cur.hash) == 0;
        (void)pthread_mutex_unlock(&f->lock);
    }
    if (!same && (!refused || retry_refused))
        apply(f, cur.hash);
}

/* Sleep up to ms, or until woken. 1 when told to stop. */
static int nap(sluice_fleet *f, int64_t ms)
{
    struct pollfd p = { f->wake[0], POLLIN, 0 };
    char buf[64];
    if (poll(&p, 1, (int)ms) > 0)
        while (read(f->wake[0], buf, sizeof buf) > 0)
            ;
    return atomic_load(&f->stop);
}

/* Connect and subscribe. 0, or -1 with err. */
static int subscribe(sluice_fleet *f, sluice_error *err)
{
    redis_cmd c;
    redisReply *rep = NULL;
    int64_t dl = short_deadline(f);
    f->sub = redis_connect_own(f->r, dl, err);
    if (f->sub == NULL)
        return -1;
    redis_cmd_init(&c, -1);
    redis_cmd_str(&c, "SUBSCRIBE");
    redis_cmd_str(&c, f->chan);
    if (redis_own_run(f->r, f->sub, dl, &c, &rep, err) != 0) {
        drop(&f->sub);
        return -1;
    }
    int ok = rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
        rep->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(rep->element[0]->str, "subscribe") == 0;
    if (!ok)
        ledger_error(err, SLUICE_EIO, NULL, "redis: SUBSCRIBE: %s",
            redis_reply_text(rep));
    freeReplyObject(rep);
    if (!ok) {
        drop(&f->sub);
        return -1;
    }
    return 0;
}

/* Read what the subscription has; apply announcements. -1: connection
   lost. */
static int on_readable(sluice_fleet *f)
{
    if (redisBufferRead(f->sub) != REDIS_OK)
        return -1;
    for (;;) {
        void *v = NULL;
        redisReply *m;
        if (redisGetReplyFromReader(f->sub, &v) != REDIS_OK)
            return -1;
        if (v == NULL)
            return 0;
        m = v;
        if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
            m->element[0]->type == REDIS_REPLY_STRING &&
            strcmp(m->element[0]->str, "message") == 0 &&
            m->element[2]->type == REDIS_REPLY_STRING &&
            m->element[2]->len == 64) {
            sluice_policy *p = sluice_engine_policy(f->e);
            int same = p != NULL &&
                strcmp(sluice_policy_hash(p), m->element[2]->str) == 0;
            sluice_policy_unref(p);
            if (pthread_mutex_lock(&f->lock) == 0) {
                f->st.messages++;
                (void)pthread_mutex_unlock(&f->lock);
            }
            if (!same)
                apply(f, m->element[2]->str);
        }
        freeReplyObject(m);
    }
}

static void set_connected(sluice_fleet *f, int on)
{
    if (pthread_mutex_lock(&f->lock) == 0) {
        f->st.connected = on;
        if (on)
            f->st.reconnects++;
        (void)pthread_mutex_unlock(&f->lock);
    }
}

static void *fleet_main(void *arg)
{
    sluice_fleet *f = arg;
    const sluice_redis_options *ro = redis_options(f->r);
    uint32_t backoff = ro->backoff_min_ms;
    int64_t every = (int64_t)f->report_s * 1000000 / 3, next = 0;
    int warned = 0;
    while (!atomic_load(&f->stop)) {
        if (f->sub == NULL) {
            sluice_error err;
            memset(&err, 0, sizeof err);
            if (subscribe(f, &err) != 0) {
                if (!warned++)
                    flog(f, SLUICE_LOG_WARNING, "fleet: %s; retrying",
                        err.message);
                if (nap(f, backoff / 2 + randombytes_uniform(backoff / 2 +
                        1)))
                    break;
                backoff = backoff >= ro->backoff_max_ms / 2 ?
                    ro->backoff_max_ms : backoff * 2;
                continue;
            }
            if (warned)
                flog(f, SLUICE_LOG_INFO, "fleet: subscribed to %s again",
                    f->chan);
            warned = 0;
            backoff = ro->backoff_min_ms;
            set_connected(f, 1);
            sync_current(f, 1);
            report(f);
            next = redis_now_us() + every;
        }
        struct pollfd p[2] = { { f->sub->fd, POLLIN, 0 },
                               { f->wake[0], POLLIN, 0 } };
        int64_t left = next - redis_now_us();
        int n = poll(p, 2, left > 0 ? (int)((left + 999) / 1000) : 0);
        if (n < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            (void)nap(f, 0);
        if (atomic_load(&f->stop))
            break;
        if (p[0].revents && on_readable(f) != 0) {
            flog(f, SLUICE_LOG_WARNING, "fleet: lost the subscription (%s); "
                "reconnecting", f->sub->errstr[0] ? f->sub->errstr : "closed");
            drop(&f->sub);
            drop(&f->cmd);
            set_connected(f, 0);
            warned = 1;
            continue;
        }
        if (redis_now_us() >= next) {
            sync_current(f, 0);
            report(f);
            next = redis_now_us() + every;
        }
    }
    return NULL;
}

/* ---- start, stop, stats --------------------------------------------------------- */

static int copy_trust(sluice_fleet *f, const sluice_policy_options *po,
    sluice_error *err)
{
    sluice_policy_options d = SLUICE_POLICY_OPTIONS_INIT;
    if (po == NULL)
        po = &d;
    if (po->version < 1 || po->version > SLUICE_POLICY_OPTIONS_VERSION)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_policy_options.version %u", po->version);
    f->po = d;
    f->po.max_terms = po->max_terms;
    f->po.max_list_bytes = po->max_list_bytes;
    f->po.max_rules = po->max_rules;
    if (po->version >= 2) {
        if (po->ntrust > MAX_TRUST)
            return ledger_error(err, SLUICE_EINVAL, NULL,
                "at most %d trust keys", MAX_TRUST);
        for (size_t i = 0; i < po->ntrust; i++) {
            if (po->trust[i] == NULL)
                return ledger_error(err, SLUICE_EINVAL, NULL,
                    "trust key %zu is NULL", i);
            f->keys[i] = *po->trust[i];
            f->kp[i] = &f->keys[i];
        }
        f->po.trust = f->kp;
        f->po.ntrust = po->ntrust;
        f->po.allow_unsigned = po->allow_unsigned;
        f->po.max_bundle_bytes = po->max_bundle_bytes;
    }
    return 0;
}

static int fleet_init(sluice_fleet *f, sluice_engine *e, sluice_redis *r,
    const sluice_fleet_options *o, sluice_error *err)
{
    int rc;
    f->e = e;
    f->r = r;
    f->wake[0] = f->wake[1] = -1;
    if ((rc = copy_trust(f, o->policy, err)) != 0)
        return rc;
    f->pid = (long)getpid();
    if (gethostname(f->host, sizeof f->host) != 0)
        str_copy(f->host, sizeof f->host, "localhost");
    f->host[sizeof f->host - 1] = '\0';
    if (o->worker != NULL) {
        size_t n = strlen(o->worker);
        if (n == 0 || n > 128)
            return ledger_error(err, SLUICE_EINVAL, NULL,
                "worker id: 1..128 characters");
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)o->worker[i] <= ' ' || o->worker[i] == 0x7f)
                return ledger_error(err, SLUICE_EINVAL, NULL,
                    "worker id: printable characters, no spaces");
        str_copy(f->worker, sizeof f->worker, o->worker);
    } else {
        snprintf(f->worker, sizeof f->worker, "%.100s:%ld", f->host, f->pid);
    }
    f->report_s = o->report_s ? o->report_s : DEFAULT_REPORT_S;
    f->allow_downgrade = o->allow_downgrade;
    f->log = o->log ? o->log : redis_options(r)->log;
    f->log_payload = o->log ? o->log_payload : redis_options(r)->log_payload;
    redis_key(r, f->chan, sizeof f->chan, "policy", NULL);
    redis_key(r, f->pkey, sizeof f->pkey, "policy", NULL);
    redis_key(r, f->wkey, sizeof f->wkey, "worker:", f->worker);
    if (pthread_mutex_init(&f->lock, NULL) != 0)
        return ledger_error(err, SLUICE_EINTERNAL, NULL, "mutex init failed");
    if (pipe2(f->wake, O_CLOEXEC | O_NONBLOCK) != 0)
        return ledger_error(err, SLUICE_EINTERNAL, NULL, "pipe: %s",
            strerror(errno));
    return 0;
}

static void fleet_free(sluice_fleet *f)
{
    drop(&f->sub);
    drop(&f->cmd);
    if (f->wake[0] >= 0)
        close(f->wake[0]);
    if (f->wake[1] >= 0)
        close(f->wake[1]);
    sodium_memzero(f->keys, sizeof f->keys);
    free(f);
}

/* The first load, on the caller's thread, through the pool. */
static void initial_load(sluice_fleet *f)
{
    sluice_policy *p = NULL;
    sluice_publish_info info;
    sluice_error err;
    int64_t t0 = redis_now_us();
    memset(&err, 0, sizeof err);
    int rc = sluice_redis_load_policy(&p, f->r, &f->po, &info, &err);
    if (rc == 0) {
        (void)swap_in(f, p, info.hash, t0);
        sluice_policy_unref(p);
    } else if (rc == SLUICE_ENOPOLICY || rc == SLUICE_EIO) {
        flog(f, rc == SLUICE_EIO ? SLUICE_LOG_WARNING : SLUICE_LOG_INFO,
            "fleet: no initial policy: %s", err.message);
    } else {
        refuse(f, info.hash[0] ? info.hash : "?", err.message);
    }
}

int sluice_fleet_start(sluice_fleet **out, sluice_engine *e, sluice_redis *r,
    const sluice_fleet_options *opts, sluice_error *err)
{
    sluice_fleet_options d = SLUICE_FLEET_OPTIONS_INIT;
    sluice_fleet *f;
    sluice_policy *cur;
    int rc;
    if (out == NULL || e == NULL || r == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_fleet_start: out, engine and redis are required");
    *out = NULL;
    if (opts == NULL)
        opts = &d;
    if (opts->version != SLUICE_FLEET_OPTIONS_VERSION)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_fleet_options.version is %u, expected %u", opts->version,
            SLUICE_FLEET_OPTIONS_VERSION);
    f = calloc(1, sizeof *f);
    if (f == NULL)
        return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    if ((rc = fleet_init(f, e, r, opts, err)) != 0) {
        fleet_free(f);
        return rc;
    }
    cur = sluice_engine_policy(e);
    if (cur != NULL) {
        str_copy(f->st.hash, sizeof f->st.hash, sluice_policy_hash(cur));
        f->since_ms = now_ms();
    }
    sluice_policy_unref(cur);
    if (!opts->no_initial_load)
        initial_load(f);
    if (pthread_create(&f->th, NULL, fleet_main, f) != 0) {
        pthread_mutex_destroy(&f->lock);
        fleet_free(f);
        return ledger_error(err, SLUICE_EINTERNAL, NULL,
            "cannot start the fleet thread");
    }
    f->started = 1;
    *out = f;
    return 0;
}

void sluice_fleet_stop(sluice_fleet *f)
{
    redis_cmd c;
    redisReply *rep = NULL;
    sluice_error err;
    if (f == NULL)
        return;
    atomic_store(&f->stop, 1);
    if (write(f->wake[1], "x", 1) < 0) {
        /* the pipe is non-blocking and nearly empty: cannot happen */
    }
    if (f->started)
        pthread_join(f->th, NULL);
    redis_cmd_init(&c, -1);
    redis_cmd_str(&c, "DEL");
    redis_cmd_str(&c, f->wkey);
    memset(&err, 0, sizeof err);
    if (fcmd(f, short_deadline(f), &c, &rep, &err) == 0)
        freeReplyObject(rep);
    pthread_mutex_destroy(&f->lock);
    fleet_free(f);
}

void sluice_fleet_get_stats(sluice_fleet *f, sluice_fleet_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (f == NULL || pthread_mutex_lock(&f->lock) != 0)
        return;
    *out = f->st;
    (void)pthread_mutex_unlock(&f->lock);
}

/* ---- fleet status ----------------------------------------------------------------- */

typedef struct wrow {
    char *key;
    redisReply *h;
    int64_t ttl;
} wrow;

static int cmp_row(const void *a, const void *b)
{
    const wrow *x = a, *y = b;
    return strcmp(hstr(x->h, "worker"), hstr(y->h, "worker"));
}

/* The SCAN pattern for PREFIX "worker:*", glob characters escaped. */
static void worker_pattern(const sluice_redis *r, char *buf, size_t size)
{
    const char *p = redis_prefix(r);
    size_t n = 0;
    for (; *p && n + 3 < size; p++) {
        if (strchr("*?[]\\", *p))
            buf[n++] = '\\';
        buf[n++] = *p;
    }
    snprintf(buf + n, size - n, "worker:*");
}

/* Collect the keys of every worker report (SCAN). */
static int scan_workers(sluice_redis *r, int64_t dl, wrow **rows, size_t *n,
    sluice_error *err)
{
    char cursor[32] = "0", pat[KEY_MAX];
    size_t cap = 0;
    worker_pattern(r, pat, sizeof pat);
    do {
        redis_cmd c;
        redisReply *rep = NULL;
        int rc;
        redis_cmd_init(&c, -1);
        redis_cmd_str(&c, "SCAN");
        redis_cmd_str(&c, cursor);
        redis_cmd_str(&c, "MATCH");
        redis_cmd_str(&c, pat);
        redis_cmd_str(&c, "COUNT");
        redis_cmd_str(&c, "1000");
        if ((rc = redis_run1(r, dl, REDIS_BULK | REDIS_RETRY, &c, &rep,
                err)) != 0)
            return rc;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            rc = ledger_error(err, SLUICE_EIO, NULL, "redis: SCAN: %s",
                redis_reply_text(rep));
            freeReplyObject(rep);
            return rc;
        }
        str_copy(cursor, sizeof cursor, rep->element[0]->str);
        for (size_t i = 0; i < rep->element[1]->elements; i++) {
            if (*n == cap) {
                size_t nc = cap ? cap * 2 : 16;
                wrow *q = realloc(*rows, nc * sizeof *q);
                if (q == NULL) {
                    freeReplyObject(rep);
                    return ledger_error(err, SLUICE_ENOMEM, NULL,
                        "out of memory");
                }
                *rows = q;
                cap = nc;
            }
            (*rows)[*n].h = NULL;
            (*rows)[*n].key = strdup(rep->element[1]->element[i]->str);
            if ((*rows)[(*n)++].key == NULL) {
                freeReplyObject(rep);
                return ledger_error(err, SLUICE_ENOMEM, NULL,
                    "out of memory");
            }
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

/* HGETALL and PTTL of each report, in pipelines of 32. */
static int read_workers(sluice_redis *r, int64_t dl, wrow *rows, size_t n,
    sluice_error *err)
{
    for (size_t at = 0; at < n; at += 32) {
        size_t k = n - at < 32 ? n - at : 32;
        redis_cmd c[64];
        redisReply *rep[64];
        int rc;
        for (size_t i = 0; i < k; i++) {
            redis_cmd_init(&c[2 * i], -1);
            redis_cmd_str(&c[2 * i], "HGETALL");
            redis_cmd_str(&c[2 * i], rows[at + i].key);
            redis_cmd_init(&c[2 * i + 1], -1);
            redis_cmd_str(&c[2 * i + 1], "PTTL");
            redis_cmd_str(&c[2 * i + 1], rows[at + i].key);
        }
        if ((rc = redis_run(r, dl, REDIS_BULK | REDIS_RETRY, c, 2 * k, rep,
                err)) != 0)
            return rc;
        for (size_t i = 0; i < k; i++) {
            rows[at + i].h = rep[2 * i];
            rows[at + i].ttl = rep[2 * i + 1]->type == REDIS_REPLY_INTEGER ?
                rep[2 * i + 1]->integer : -1;
            freeReplyObject(rep[2 * i + 1]);
        }
    }
    return 0;
}

int sluice_redis_fleet_status(sluice_redis *r, sluice_publish_info *current,
    sluice_worker_fn fn, void *payload, sluice_error *err)
{
    int64_t dl;
    wrow *rows = NULL;
    size_t n = 0;
    redis_cmd c;
    redisReply *rep = NULL;
    char pkey[KEY_MAX];
    int rc;
    if (r == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_redis_fleet_status: no handle");
    dl = redis_bulk_deadline(r);
    if (current != NULL) {
        redis_key(r, pkey, sizeof pkey, "policy", NULL);
        redis_cmd_init(&c, -1);
        redis_cmd_str(&c, "HGETALL");
        redis_cmd_str(&c, pkey);
        if ((rc = redis_run1(r, dl, REDIS_BULK | REDIS_RETRY, &c, &rep,
                err)) != 0)
            return rc;
        (void)read_current(rep, current);
        freeReplyObject(rep);
    }
    if (fn == NULL)
        return 0;
    rc = scan_workers(r, dl, &rows, &n, err);
    if (rc == 0)
        rc = read_workers(r, dl, rows, n, err);
    if (rc == 0) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)      /* expired between the calls */
            if (rows[i].h != NULL && rows[i].h->type == REDIS_REPLY_ARRAY &&
                rows[i].h->elements > 0)
                rows[k++] = rows[i];
            else {
                if (rows[i].h != NULL)
                    freeReplyObject(rows[i].h);
                free(rows[i].key);
            }
        n = k;
        if (n > 1)
            qsort(rows, n, sizeof *rows, cmp_row);
        for (size_t i = 0; i < n && rc == 0; i++) {
            const redisReply *h = rows[i].h;
            sluice_worker_status w;
            w.worker = hstr(h, "worker");
            w.hash = hstr(h, "hash");
            w.policy_id = hstr(h, "policy");
            w.version = hnum(h, "version");
            w.is_signed = (int)hnum(h, "signed");
            w.state = hstr(h, "state");
            w.error = hstr(h, "error");
            w.refused = hstr(h, "refused");
            w.since_ms = hnum(h, "since");
            w.seen_ms = hnum(h, "seen");
            w.ttl_ms = rows[i].ttl;
            w.host = hstr(h, "host");
            w.pid = hnum(h, "pid");
            rc = fn(&w, payload);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (rows[i].h != NULL)
            freeReplyObject(rows[i].h);
        free(rows[i].key);
    }
    free(rows);
    return rc;
}
