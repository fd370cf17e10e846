/*
 * hook.c - the engine's side of Redis: the verdict cache and strike
 * counters around a whole-text check (state_check), the options that set
 * them up (sluice_engine_set_redis), and what a check tells about them
 * (sluice_check_state, sluice_state_info_json).
 *
 * One check, with both on and a cache miss, talks to Redis twice:
 *
 *   1. GET  PREFIX "v:" POLICYHASH ":" DIGEST          (cache lookup)
 *      -- check_run() on a miss --
 *   2. SET  ... EX ttl (the entry, on a miss)          } one pipeline
 *      EVALSHA strike (tenant, subject, blocked?)      }
 *
 * Time: both together wait at most the handle's timeout_ms (a budget
 * that the check's own work does not consume). The fail modes: a cache
 * that cannot be read or written is skipped (the check runs; the info
 * says "unavailable"); strikes that cannot be counted leave the verdict
 * as it is (fail-open, default) or block it (fail-closed, reason
 * "strikes_unavailable").
 *
 * The digest in the key is the keyed BLAKE2b of the ledger (sluice_digest)
 * under the configured digest key: the same text gives the same key on
 * every engine of a deployment, and the key tells nothing about the text
 * to anyone without that secret. Each value ends with a 16-byte MAC
 * (BLAKE2b keyed with the same key, personalization "sluice-cache-mac")
 * over the key and the entry, so that whoever can write to Redis but does
 * not hold the key cannot change a cached verdict (turn a block into an
 * allow): an entry that does not authenticate is a miss, and is
 * overwritten.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "filter/check.h"
#include "filter/verdict.h"
#include "ledger/key.h"
#include "ledger/util.h"
#include "state/cache.h"
#include "state/redis.h"
#include "state/state.h"

#define DEFAULT_CACHE_TTL_S 3600
#define DEFAULT_ROW_TTL_S 86400
#define KEY_MAX 2048
#define SUBJECT_MAX 255
#define MAC_BYTES 16
#define MAC_PERSONAL "sluice-cache-mac"   /* 16 bytes */

struct state_attach {
    atomic_long refs;
    sluice_redis *r;                 /* borrowed */
    sluice_engine_redis_options o;   /* digest_key: points at dkey */
    sluice_key dkey;                 /* a copy (wiped when freed) */
    int have_dkey;
    cache_terms terms;
};

const char *sluice_cache_status_name(int status)
{
    switch (status) {
    case SLUICE_CACHE_OFF: return "off";
    case SLUICE_CACHE_MISS: return "miss";
    case SLUICE_CACHE_HIT: return "hit";
    case SLUICE_CACHE_UNAVAILABLE: return "unavailable";
    case SLUICE_CACHE_SKIP: return "skip";
    default: return "?";
    }
}

/* ---- the attach -------------------------------------------------------------- */

state_attach *state_attach_ref(state_attach *a)
{
    if (a != NULL)
        atomic_fetch_add(&a->refs, 1);
    return a;
}

void state_attach_unref(state_attach *a)
{
    if (a == NULL || atomic_fetch_sub(&a->refs, 1) != 1)
        return;
    cache_terms_free(&a->terms);
    sodium_memzero(&a->dkey, sizeof a->dkey);
    free(a);
}

static int check_options(const sluice_engine_redis_options *o,
    sluice_error *err)
{
    const sluice_escalation *x = &o->escalation;
    if (o->version != SLUICE_ENGINE_REDIS_OPTIONS_VERSION)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_engine_redis_options.version is %u, expected %u",
            o->version, SLUICE_ENGINE_REDIS_OPTIONS_VERSION);
    if (o->cache && (o->digest_key == NULL ||
            sluice_key_type(o->digest_key) == SLUICE_KEY_VERIFIER))
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "the verdict cache needs a digest key (or a signing key), the "
            "same on every engine that shares the cache");
    if (o->strikes < -1 || o->strikes > 1)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "strikes: 1 (count), 0 (as the policy says) or -1 (never)");
    if ((x->row || x->count) && x->suspend_s == 0)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "escalation: suspend_s is required with row or count");
    if (x->count && x->window_s == 0)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "escalation: window_s is required with count");
    if (o->strikes_fail != SLUICE_FAIL_OPEN &&
        o->strikes_fail != SLUICE_FAIL_CLOSED)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "strikes_fail: SLUICE_FAIL_OPEN or SLUICE_FAIL_CLOSED");
    return 0;
}

int sluice_engine_set_redis(sluice_engine *e, sluice_redis *r,
    const sluice_engine_redis_options *opts, sluice_error *err)
{
    state_attach *a = NULL;
    int rc;
    if (e == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_engine_set_redis: no engine");
    if (r != NULL && opts != NULL && (opts->cache || opts->strikes >= 0)) {
        if ((rc = check_options(opts, err)) != 0)
            return rc;
        a = calloc(1, sizeof *a);
        if (a == NULL)
            return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
        if (cache_terms_init(&a->terms) != 0) {
            free(a);
            return ledger_error(err, SLUICE_EINTERNAL, NULL,
                "mutex init failed");
        }
        atomic_init(&a->refs, 1);
        a->r = r;
        a->o = *opts;
        if (opts->cache) {
            a->dkey = *opts->digest_key;
            a->have_dkey = 1;
        }
        a->o.digest_key = a->have_dkey ? &a->dkey : NULL;
        if (a->o.cache_ttl_s == 0)
            a->o.cache_ttl_s = DEFAULT_CACHE_TTL_S;
    }
    state_attach_unref(engine_swap_state(e, a));
    return 0;
}

/* ---- keys ------------------------------------------------------------------ */

static void hex(char *out, const unsigned char *in, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* s percent-encoded (all but [A-Za-z0-9._@-]), at most SUBJECT_MAX bytes
   of it, onto buf at *at. */
static void put_enc(char *buf, size_t size, size_t *at, const char *s)
{
    static const char d[] = "0123456789ABCDEF";
    size_t n = s ? strlen(s) : 0;
    if (n > SUBJECT_MAX)
        n = SUBJECT_MAX;
    for (size_t i = 0; i < n && *at + 4 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
            c == '-') {
            buf[(*at)++] = (char)c;
        } else {
            buf[(*at)++] = '%';
            buf[(*at)++] = d[c >> 4];
            buf[(*at)++] = d[c & 15];
        }
    }
    buf[*at] = '\0';
}

/* PREFIX "strike:{" TENANT ":" SUBJECT "}:" what. The braces make the
   three keys of one subject one Redis Cluster hash slot. */
static void strike_key(const sluice_redis *r, char *buf, size_t size,
    const sluice_meta *m, const char *what)
{
    size_t at = redis_key(r, buf, size, "strike:{", NULL);
    put_enc(buf, size, &at, m->tenant);
    if (at + 1 < size)
        buf[at++] = ':';
    put_enc(buf, size, &at, m->subject);
    snprintf(buf + at, size - at, "}:%s", what);
}

/* MAC over (key, entry) with the digest key material. */
static void entry_mac(const state_attach *a, const char *key, size_t keylen,
    const unsigned char *entry, size_t elen, unsigned char mac[MAC_BYTES])
{
    crypto_generichash_blake2b_state st;
    unsigned char klen[8];
    static const unsigned char salt[crypto_generichash_blake2b_SALTBYTES];
    for (int i = 0; i < 8; i++)
        klen[i] = (unsigned char)((uint64_t)keylen >> (8 * i));
    crypto_generichash_blake2b_init_salt_personal(&st, a->dkey.dkey,
        DIGEST_KEY_BYTES, MAC_BYTES, salt,
        (const unsigned char *)MAC_PERSONAL);
    crypto_generichash_blake2b_update(&st, klen, sizeof klen);
    crypto_generichash_blake2b_update(&st, (const unsigned char *)key,
        keylen);
    crypto_generichash_blake2b_update(&st, entry, elen);
    crypto_generichash_blake2b_final(&st, mac, MAC_BYTES);
    sodium_memzero(&st, sizeof st);
}

/* 1 if val (entry || MAC) authenticates for key. */
static int entry_ok(const state_attach *a, const char *key, size_t keylen,
    const unsigned char *val, size_t vlen)
{
    unsigned char mac[MAC_BYTES];
    if (vlen < MAC_BYTES)
        return 0;
    entry_mac(a, key, keylen, val, vlen - MAC_BYTES, mac);
    return sodium_memcmp(mac, val + vlen - MAC_BYTES, MAC_BYTES) == 0;
}

/* ---- one check --------------------------------------------------------------- */

/* A budget of Redis time, spent only while waiting on Redis. */
typedef struct budget {
    int64_t left_us;
    double spent_ms;
} budget;

static int run_budget(state_attach *a, budget *b, redis_cmd *cmds, size_t n,
    redisReply **replies, int flags)
{
    int64_t t0 = redis_now_us(), used;
    int rc;
    if (b->left_us <= 0) {
        for (size_t i = 0; i < n; i++)
            replies[i] = NULL;
        return SLUICE_EIO;
    }
    rc = redis_run(a->r, t0 + b->left_us, flags, cmds, n, replies, NULL);
    used = redis_now_us() - t0;
    b->left_us -= used;
    b->spent_ms += (double)used / 1000.0;
    return rc;
}

/* Look the text up. 0 with *out on a hit; 1 on a miss (info->cache says
   which kind); negative on an allocation failure. */
static int cache_lookup(state_attach *a, budget *b, sluice_policy *p,
    const char *key, size_t keylen, const char *text, size_t len,
    size_t max_spans, sluice_verdict **out, sluice_state_info *info)
{
    redis_cmd c;
    redisReply *rep = NULL;
    int rc;
    redis_cmd_init(&c, -1);
    redis_cmd_str(&c, "GET");
    redis_cmd_arg(&c, key, keylen);
    if (run_budget(a, b, &c, 1, &rep, REDIS_RETRY) != 0) {
        info->cache = SLUICE_CACHE_UNAVAILABLE;
        return 1;
    }
    info->cache = SLUICE_CACHE_MISS;
    rc = 1;
    if (rep->type == REDIS_REPLY_STRING &&
        entry_ok(a, key, keylen, (const unsigned char *)rep->str,
            (size_t)rep->len))
        rc = cache_decode(p, (const unsigned char *)rep->str,
            (size_t)rep->len - MAC_BYTES, text, len, max_spans, out);
    else if (rep->type == REDIS_REPLY_STRING)
        redis_log(a->r, SLUICE_LOG_WARNING, "cache entry %.*s does not "
            "authenticate (changed in Redis?): checked instead",
            (int)keylen, key);
    else if (rep->type == REDIS_REPLY_ERROR)
        info->cache = SLUICE_CACHE_UNAVAILABLE;
    freeReplyObject(rep);
    if (rc == 0)
        info->cache = SLUICE_CACHE_HIT;
    return rc;
}

/* Strike arguments, kept alive until the pipeline has run. */
typedef struct strike_args {
    char row[KEY_MAX], win[KEY_MAX], susp[KEY_MAX];
    char num[6][24];
    char nonce[48];
} strike_args;

static void strike_cmd(state_attach *a, const sluice_escalation *x,
    const sluice_meta *m, int blocked, strike_args *s, redis_cmd *c)
{
    uint64_t row_ttl = (uint64_t)(x->window_s ? x->window_s :
        DEFAULT_ROW_TTL_S) * 1000;
    strike_key(a->r, s->row, sizeof s->row, m, "row");
    strike_key(a->r, s->win, sizeof s->win, m, "win");
    strike_key(a->r, s->susp, sizeof s->susp, m, "susp");
    snprintf(s->num[0], sizeof s->num[0], "%d", blocked ? 1 : 0);
    snprintf(s->num[1], sizeof s->num[1], "%u", x->row);
    snprintf(s->num[2], sizeof s->num[2], "%u", x->count);
    snprintf(s->num[3], sizeof s->num[3], "%llu",
        (unsigned long long)x->window_s * 1000);
    snprintf(s->num[4], sizeof s->num[4], "%llu",
        (unsigned long long)x->suspend_s * 1000);
    snprintf(s->num[5], sizeof s->num[5], "%llu", (unsigned long long)row_ttl);
    snprintf(s->nonce, sizeof s->nonce, "%lld-%08x",
        (long long)redis_now_us(), (unsigned)randombytes_random());
    redis_cmd_init(c, SCRIPT_STRIKE);
    redis_cmd_str(c, "3");
    redis_cmd_str(c, s->row);
    redis_cmd_str(c, s->win);
    redis_cmd_str(c, s->susp);
    for (int i = 0; i < 6; i++)
        redis_cmd_str(c, s->num[i]);
    redis_cmd_str(c, s->nonce);
}

/* Read the strike script's reply into info; 0, or -1 if malformed. */
static int strike_reply(const redisReply *rep, sluice_state_info *info)
{
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 4)
        return -1;
    for (size_t i = 0; i < 4; i++)
        if (rep->element[i]->type != REDIS_REPLY_INTEGER)
            return -1;
    info->strikes = 1;
    info->row = (uint32_t)rep->element[0]->integer;
    info->window = (uint32_t)rep->element[1]->integer;
    if (rep->element[2]->integer > 0) {
        info->suspended = 1;
        info->suspended_ms = (uint32_t)rep->element[2]->integer;
    }
    return 0;
}

/*
 * The escalation a check runs under, or NULL if it counts no strikes:
 * strikes 1 counts with the options' escalation, or the policy's if the
 * options give none; 0 counts only when the policy declares one; -1
 * never counts.
 */
static const sluice_escalation *check_escalation(const state_attach *a,
    const sluice_policy *p, sluice_escalation *buf)
{
    const sluice_escalation *x = &a->o.escalation;
    int policy_has = sluice_policy_escalation(p, buf);
    if (a->o.strikes < 0 || (a->o.strikes == 0 && !policy_has))
        return NULL;
    if (x->row || x->count || !policy_has)
        return x;
    return buf;
}

/* Store and count: one pipeline; then apply the escalation (a running
   suspension blocks v only with `enforce`). */
static int after_check(state_attach *a, budget *b, sluice_verdict *v,
    const char *key, size_t keylen, const unsigned char *entry,
    size_t elen, const sluice_meta *meta, const char *text, size_t len,
    int enforce, sluice_state_info *info)
{
    sluice_escalation pol;
    const sluice_escalation *esc = check_escalation(a, v->policy, &pol);
    redis_cmd cmds[2];
    redisReply *reps[2] = {NULL, NULL};
    strike_args *sa = NULL;
    char ttl[24];
    size_t n = 0;
    int strike = -1, rc = 0;
    if (entry != NULL) {
        snprintf(ttl, sizeof ttl, "%u", a->o.cache_ttl_s);
        redis_cmd_init(&cmds[n], -1);
        redis_cmd_str(&cmds[n], "SET");
        redis_cmd_arg(&cmds[n], key, keylen);
        redis_cmd_arg(&cmds[n], entry, elen);
        redis_cmd_str(&cmds[n], "EX");
        redis_cmd_str(&cmds[n++], ttl);
    }
    if (esc != NULL && meta != NULL && meta->subject != NULL) {
        /* only what the policy blocked counts, not forced blocks */
        int blocked = v->action == SLUICE_BLOCK && v->reason == NULL;
        sa = malloc(sizeof *sa);
        if (sa == NULL)
            return SLUICE_ENOMEM;
        strike = (int)n;
        strike_cmd(a, esc, meta, blocked, sa, &cmds[n++]);
    }
    if (n == 0)
        return 0;
    if (run_budget(a, b, cmds, n, reps, 0) != 0) {
        if (entry != NULL)
            info->cache = SLUICE_CACHE_UNAVAILABLE;
        if (strike >= 0)
            info->strikes = -1;
    } else {
        if (entry != NULL && reps[0]->type == REDIS_REPLY_ERROR)
            info->cache = SLUICE_CACHE_UNAVAILABLE;
        if (strike >= 0 && strike_reply(reps[strike], info) != 0)
            info->strikes = -1;
    }
    for (size_t i = 0; i < n; i++)
        if (reps[i] != NULL)
            freeReplyObject(reps[i]);
    free(sa);
    if (info->strikes < 0 && a->o.strikes_fail == SLUICE_FAIL_CLOSED)
        rc = verdict_force_block(v, "strikes_unavailable", text, len);
    else if (enforce && info->suspended && esc != NULL && esc->block &&
             v->action != SLUICE_BLOCK)
        rc = verdict_force_block(v, "subject_suspended", text, len);
    return rc;
}

int state_check(state_attach *a, sluice_policy *p, policy_scratch *s,
    const char *text, size_t len, size_t max_spans, const sluice_meta *meta,
    sluice_verdict **out, sluice_state_info *info)
{
    sluice_state_info dummy;
    budget b = { (int64_t)redis_options(a->r)->timeout_ms * 1000, 0 };
    char key[KEY_MAX];
    size_t keylen = 0, elen = 0;
    unsigned char *entry = NULL;
    int use_cache = a->o.cache && len >= a->o.cache_min_bytes, rc = 1;
    if (info == NULL)
        info = &dummy;
    memset(info, 0, sizeof *info);
    info->cache = a->o.cache ? SLUICE_CACHE_SKIP : SLUICE_CACHE_OFF;
    *out = NULL;
    if (use_cache) {
        unsigned char dg[32];
        char dgx[65];
        if (sluice_digest(a->o.digest_key, text, len, dg, NULL) != 0)
            return SLUICE_EINTERNAL;
        hex(dgx, dg, 32);
        keylen = redis_key(a->r, key, sizeof key, "v:", NULL);
        keylen += (size_t)snprintf(key + keylen, sizeof key - keylen,
            "%s:%s", sluice_policy_hash(p), dgx);
        rc = cache_lookup(a, &b, p, key, keylen, text, len, max_spans, out,
            info);
        if (rc < 0)
            return rc;
    }
    if (rc != 0) {
        if ((rc = check_run(p, s, text, len, max_spans, out)) != 0)
            return rc;
        if (info->cache == SLUICE_CACHE_MISS) {
            rc = cache_encode(&a->terms, p, *out, text, len, &entry, &elen);
            if (rc < 0)
                goto fail;
            if (rc == 1) {
                info->cache = SLUICE_CACHE_SKIP;
            } else {
                unsigned char *q = realloc(entry, elen + MAC_BYTES);
                if (q == NULL) {
                    free(entry);
                    rc = SLUICE_ENOMEM;
                    goto fail;
                }
                entry = q;
                entry_mac(a, key, keylen, entry, elen, entry + elen);
                elen += MAC_BYTES;
            }
        }
    }
    rc = after_check(a, &b, *out, key, keylen, entry, elen, meta, text, len,
        1, info);
    free(entry);
    info->redis_ms = b.spent_ms;
    if (rc != 0)
        goto fail;
    (*out)->has_state = 1;
    (*out)->state = *info;
    return 0;
fail:
    sluice_verdict_free(*out);
    *out = NULL;
    return rc;
}

/* ---- streaming sessions ------------------------------------------------------ */

int state_session_open(state_attach *a, const sluice_policy *p,
    const sluice_meta *meta, sluice_state_info *info)
{
    budget b = { (int64_t)redis_options(a->r)->timeout_ms * 1000, 0 };
    sluice_escalation pol;
    const sluice_escalation *esc = check_escalation(a, p, &pol);
    char key[KEY_MAX];
    redis_cmd c;
    redisReply *rep = NULL;
    memset(info, 0, sizeof *info);
    info->cache = SLUICE_CACHE_OFF;
    if (esc == NULL || meta == NULL || meta->subject == NULL)
        return 0;
    strike_key(a->r, key, sizeof key, meta, "susp");
    redis_cmd_init(&c, -1);
    redis_cmd_str(&c, "PTTL");
    redis_cmd_str(&c, key);
    if (run_budget(a, &b, &c, 1, &rep, REDIS_RETRY) != 0 ||
        rep->type != REDIS_REPLY_INTEGER) {
        info->strikes = -1;    /* known only at the end: see close */
    } else if (rep->integer > 0) {
        info->suspended = 1;
        info->suspended_ms = (uint32_t)rep->integer;
    }
    if (rep != NULL)
        freeReplyObject(rep);
    info->redis_ms = b.spent_ms;
    return info->suspended && esc->block;
}

int state_session_close(state_attach *a, sluice_verdict *v,
    const sluice_meta *meta, sluice_state_info *info)
{
    budget b = { (int64_t)redis_options(a->r)->timeout_ms * 1000, 0 };
    sluice_state_info at_open = *info;
    double open_ms = info->redis_ms;
    int rc;
    memset(info, 0, sizeof *info);
    info->cache = SLUICE_CACHE_OFF;
    /* a suspension that began during the stream marks v: what it
       released is out already (one that ran at the start blocked the
       session then: state_session_open) */
    rc = after_check(a, &b, v, NULL, 0, NULL, 0, meta, NULL, 0, 0, info);
    if (at_open.suspended && !info->suspended) {
        info->suspended = 1;
        info->suspended_ms = at_open.suspended_ms;
    }
    info->redis_ms = open_ms + b.spent_ms;
    v->has_state = 1;
    v->state = *info;
    return rc;
}

/* ---- the public calls ----------------------------------------------------------- */

int sluice_check_state(sluice_engine *e, const char *text, size_t len,
    const sluice_meta *meta, sluice_verdict **out, sluice_state_info *info,
    sluice_error *err)
{
    if (info != NULL) {
        memset(info, 0, sizeof *info);
        info->cache = SLUICE_CACHE_OFF;
    }
    return engine_check(e, text, len, meta, out, info, err);
}

int sluice_state_info_json(const sluice_state_info *info, char **out,
    size_t *len)
{
    char buf[256];
    size_t n = 0;
    if (info == NULL || out == NULL)
        return SLUICE_EINVAL;
    buf[0] = '\0';
    if (info->cache != SLUICE_CACHE_OFF)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\"cache\":\"%s\"",
            sluice_cache_status_name(info->cache));
    if (info->strikes != 0) {
        if (info->strikes < 0)
            n += (size_t)snprintf(buf + n, sizeof buf - n,
                "%s\"strikes\":\"unavailable\"", n ? "," : "");
        else
            n += (size_t)snprintf(buf + n, sizeof buf - n,
                "%s\"strikes\":{\"row\":%u,\"window\":%u}", n ? "," : "",
                info->row, info->window);
        n += (size_t)snprintf(buf + n, sizeof buf - n, ",\"suspend\":%s",
            info->suspended ? "true" : "false");
        if (info->suspended)
            n += (size_t)snprintf(buf + n, sizeof buf - n,
                ",\"suspend_ms\":%u", info->suspended_ms);
    }
    *out = strdup(buf);
    if (*out == NULL)
        return SLUICE_ENOMEM;
    if (len != NULL)
        *len = strlen(buf);
    return 0;
}
