/*
 * anchor.c - ledger checkpoint anchors in Redis: each writer's latest
 * signed checkpoint, kept outside the machine that writes the ledger, so
 * that a ledger rolled back or rewritten there can be caught
 * (docs/ledger.md, "Verifying": only an anchor proves truncation).
 *
 * Keys, per checkpoint origin ("sluice/<key name>/<writer>"):
 *   PREFIX "anchor:" ORIGIN           hash: size, root (base64), note,
 *                                     updated (Unix ms, Redis clock)
 *   PREFIX "anchor-history:" ORIGIN   list: the anchors it replaced,
 *                                     newest first, the last 64
 *   PREFIX "anchor-refused:" ORIGIN   list: refused notes, each after a
 *                                     line "rollback|fork MS", the last 64
 *   PREFIX "anchors"                  set of the origins
 *
 * The compare-and-swap is a script (scripts.c, ANCHOR): a larger tree
 * replaces the stored anchor; a smaller one (rollback) or another root
 * for the same size (fork) is refused, atomically with the comparison.
 * What the script cannot see is whether a larger tree extends the stored
 * one: that needs the records. sluice_redis_anchor_ledger recomputes the
 * stored anchor's root from the ledger's own records before it swaps, and
 * swaps only if the anchor it checked is still the stored one. Anchors
 * put without that check (the per-checkpoint callback) are still caught
 * later: the history keeps every anchor replaced, and `sluice ledger
 * verify --redis` checks the ledger against all of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ledger/key.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/util.h"
#include "state/redis.h"
#include "state/scripts.h"

#define KEY_MAX 512
#define HISTORY_CAP "64"
#define ROOT_B64 45            /* base64 of 32 bytes, with its NUL */

const char *sluice_anchor_result_name(int result)
{
    switch (result) {
    case SLUICE_ANCHOR_NEW: return "new";
    case SLUICE_ANCHOR_ADVANCED: return "advanced";
    case SLUICE_ANCHOR_SAME: return "same";
    case SLUICE_ANCHOR_ROLLBACK: return "rollback";
    case SLUICE_ANCHOR_FORK: return "fork";
    case SLUICE_ANCHOR_CONFLICT: return "conflict";
    default: return "?";
    }
}

/* A checkpoint note, parsed (and its signature checked with key). */
typedef struct parsed {
    char origin[256];
    uint64_t size;
    unsigned char root[32];
    char root64[ROOT_B64];
} parsed;

static int parse_note(const char *note, size_t len, const sluice_key *key,
    parsed *out, sluice_error *err)
{
    note_checkpoint nc;
    const char *why = NULL;
    int rc;
    if (key != NULL && sluice_key_type(key) == SLUICE_KEY_DIGEST)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "a digest key cannot check a checkpoint's signature");
    rc = key ? note_open_checkpoint(note, len, &key->nk, 0, &nc, &why) :
        note_peek_checkpoint(note, len, &nc, &why);
    if (rc != 0)
        return ledger_error(err, SLUICE_EINVAL, NULL, "checkpoint: %s", why);
    if (nc.origin_len == 0 || nc.origin_len >= sizeof out->origin)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "checkpoint: origin of %zu bytes", nc.origin_len);
    memcpy(out->origin, nc.origin, nc.origin_len);
    out->origin[nc.origin_len] = '\0';
    out->size = nc.size;
    memcpy(out->root, nc.root, 32);
    b64_encode(out->root64, sizeof out->root64, nc.root, 32);
    return 0;
}

static sluice_anchor_result result_of(const char *s)
{
    for (int i = SLUICE_ANCHOR_NEW; i <= SLUICE_ANCHOR_CONFLICT; i++)
        if (strcmp(s, sluice_anchor_result_name(i)) == 0)
            return (sluice_anchor_result)i;
    return (sluice_anchor_result)0;
}

/* Run the CAS script for a parsed note. */
static int cas(sluice_redis *r, int64_t dl, int flags, const char *note,
    size_t len, const parsed *pn, const char *expect_size,
    const char *expect_root, sluice_anchor_report *rep, sluice_error *err)
{
    char k1[KEY_MAX], k2[KEY_MAX], k3[KEY_MAX], k4[KEY_MAX], size[24];
    redis_cmd c;
    redisReply *x = NULL;
    int rc;
    redis_key(r, k1, sizeof k1, "anchor:", pn->origin);
    redis_key(r, k2, sizeof k2, "anchor-history:", pn->origin);
    redis_key(r, k3, sizeof k3, "anchors", NULL);
    redis_key(r, k4, sizeof k4, "anchor-refused:", pn->origin);
    snprintf(size, sizeof size, "%llu", (unsigned long long)pn->size);
    redis_cmd_init(&c, SCRIPT_ANCHOR);
    redis_cmd_str(&c, "4");
    redis_cmd_str(&c, k1);
    redis_cmd_str(&c, k2);
    redis_cmd_str(&c, k3);
    redis_cmd_str(&c, k4);
    redis_cmd_str(&c, size);
    redis_cmd_str(&c, pn->root64);
    redis_cmd_arg(&c, note, len);
    redis_cmd_str(&c, expect_size);
    redis_cmd_str(&c, expect_root);
    redis_cmd_str(&c, pn->origin);
    redis_cmd_str(&c, HISTORY_CAP);
    if ((rc = redis_run1(r, dl, flags | REDIS_RETRY, &c, &x, err)) != 0)
        return rc;
    if (x->type != REDIS_REPLY_ARRAY || x->elements != 3 ||
        x->element[0]->type != REDIS_REPLY_STRING ||
        (rep->result = result_of(x->element[0]->str)) == 0) {
        rc = ledger_error(err, SLUICE_EIO, NULL, "redis %s: anchor: %s",
            redis_addr(r), redis_reply_text(x));
    } else if (x->element[1]->type == REDIS_REPLY_STRING) {
        rep->stored_size = strtoull(x->element[1]->str, NULL, 10);
    }
    freeReplyObject(x);
    return rc;
}

static void explain(sluice_redis *r, sluice_anchor_report *rep)
{
    if (rep->result == SLUICE_ANCHOR_ROLLBACK)
        snprintf(rep->reason, sizeof rep->reason, "rollback: a checkpoint "
            "of %llu records, but %llu are anchored",
            (unsigned long long)rep->size,
            (unsigned long long)rep->stored_size);
    else if (rep->result == SLUICE_ANCHOR_FORK)
        snprintf(rep->reason, sizeof rep->reason, "fork: another root for "
            "the %llu records anchored", (unsigned long long)
            rep->stored_size);
    else if (rep->result == SLUICE_ANCHOR_CONFLICT)
        snprintf(rep->reason, sizeof rep->reason, "conflict: the anchor "
            "changed meanwhile (now %llu records); try again",
            (unsigned long long)rep->stored_size);
    if (rep->reason[0] && rep->result != SLUICE_ANCHOR_CONFLICT)
        redis_log(r, SLUICE_LOG_ERROR, "anchor %s refused: %s", rep->origin,
            rep->reason);
}

static int start_report(sluice_redis *r, sluice_anchor_report *rep,
    sluice_error *err)
{
    if (r == NULL || rep == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "anchor: handle and report are required");
    memset(rep, 0, sizeof *rep);
    return 0;
}

static int anchor_put(sluice_redis *r, int64_t dl, int flags,
    const char *note, size_t len, const sluice_key *key,
    sluice_anchor_report *rep, sluice_error *err)
{
    parsed pn;
    int rc;
    if ((rc = start_report(r, rep, err)) != 0)
        return rc;
    if (note == NULL || (rc = parse_note(note, len, key, &pn, err)) != 0)
        return rc ? rc : ledger_error(err, SLUICE_EINVAL, NULL, "no note");
    str_copy(rep->origin, sizeof rep->origin, pn.origin);
    rep->size = pn.size;
    if ((rc = cas(r, dl, flags, note, len, &pn, "", "", rep, err)) != 0)
        return rc;
    explain(r, rep);
    return 0;
}

int sluice_redis_anchor_put(sluice_redis *r, const char *note, size_t len,
    const sluice_key *key, sluice_anchor_report *rep, sluice_error *err)
{
    return anchor_put(r, r ? redis_deadline(r) : 0, 0, note, len, key, rep,
        err);
}

void sluice_redis_anchor_checkpoint(const char *writer, const char *note,
    size_t len, void *payload)
{
    sluice_redis *r = payload;
    sluice_anchor_report rep;
    sluice_error err;
    memset(&err, 0, sizeof err);
    if (r == NULL)
        return;
    if (anchor_put(r, redis_deadline(r), 0, note, len, NULL, &rep, &err) != 0)
        redis_log(r, SLUICE_LOG_WARNING, "anchor of writer %s not stored: %s",
            writer ? writer : "?", err.message);
}

/* ---- anchoring a ledger directory -------------------------------------------- */

/* The Merkle root of a writer's first `size` records. */
typedef struct root_walk {
    merkle_frontier f;
    uint64_t size;
    int gap;
} root_walk;

static int on_record(const sluice_record *rec, void *payload)
{
    root_walk *w = payload;
    if (rec->seq != w->f.size + 1) {
        w->gap = 1;             /* pruned: the early records are gone */
        return 1;
    }
    merkle_append(&w->f, rec->hash);
    return w->f.size >= w->size ? 1 : 0;
}

static int ledger_root(const char *dir, const char *writer, uint64_t size,
    unsigned char root[32], sluice_error *err)
{
    root_walk *w = malloc(sizeof *w);
    int rc;
    if (w == NULL)
        return ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    merkle_init(&w->f);
    w->size = size;
    w->gap = 0;
    rc = size == 0 ? 0 : sluice_ledger_foreach(dir, writer, on_record, w,
        err);
    if (rc > 0)
        rc = 0;
    if (rc == 0 && (w->gap || w->f.size < size))
        rc = ledger_error(err, SLUICE_EINVAL, dir, "the ledger holds records "
            "%s%llu only, not the first %llu the anchor covers",
            w->gap ? "from after " : "1..", (unsigned long long)w->f.size,
            (unsigned long long)size);
    if (rc == 0)
        merkle_root(&w->f, root);
    free(w);
    return rc;
}

/* The stored anchor of an origin: 0 with *have; fields filled. */
static int stored_anchor(sluice_redis *r, const char *origin, int *have,
    char *size, size_t sizecap, char *root64, parsed *st, sluice_error *err)
{
    char k[KEY_MAX];
    redis_cmd c;
    redisReply *x = NULL;
    int rc;
    *have = 0;
    redis_key(r, k, sizeof k, "anchor:", origin);
    redis_cmd_init(&c, -1);
    redis_cmd_str(&c, "HMGET");
    redis_cmd_str(&c, k);
    redis_cmd_str(&c, "size");
    redis_cmd_str(&c, "root");
    if ((rc = redis_run1(r, redis_bulk_deadline(r), REDIS_BULK | REDIS_RETRY,
            &c, &x, err)) != 0)
        return rc;
    if (x->type == REDIS_REPLY_ARRAY && x->elements == 2 &&
        x->element[0]->type == REDIS_REPLY_STRING &&
        x->element[1]->type == REDIS_REPLY_STRING) {
        str_copy(size, sizecap, x->element[0]->str);
        str_copy(root64, ROOT_B64, x->element[1]->str);
        st->size = strtoull(size, NULL, 10);
        *have = b64_decode_exact(st->root, 32, root64, strlen(root64)) == 0;
        if (!*have)
            rc = ledger_error(err, SLUICE_EIO, NULL, "the anchor of %s in "
                "Redis has a malformed root", origin);
    } else if (x->type == REDIS_REPLY_ERROR) {
        rc = ledger_error(err, SLUICE_EIO, NULL, "redis: HMGET %s: %s", k,
            x->str);
    }
    freeReplyObject(x);
    return rc;
}

int sluice_redis_anchor_ledger(sluice_redis *r, const char *dir,
    const char *writer, const sluice_key *key, sluice_anchor_report *rep,
    sluice_error *err)
{
    char *note = NULL, ssize[24] = "none", sroot[ROOT_B64] = "";
    size_t len = 0;
    parsed pn, st;
    int rc, have = 0;
    if ((rc = start_report(r, rep, err)) != 0)
        return rc;
    if (dir == NULL || key == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "anchor: a ledger directory and its key are required");
    if ((rc = sluice_ledger_checkpoint(dir, writer, &note, &len, err)) != 0)
        return rc;
    if ((rc = parse_note(note, len, key, &pn, err)) != 0)
        goto out;
    str_copy(rep->origin, sizeof rep->origin, pn.origin);
    rep->size = pn.size;
    if ((rc = stored_anchor(r, pn.origin, &have, ssize, sizeof ssize, sroot,
            &st, err)) != 0)
        goto out;
    if (have && st.size < pn.size) {
        unsigned char mine[32];
        if ((rc = ledger_root(dir, writer, st.size, mine,
                err)) != 0)
            goto out;
        if (sodium_memcmp(mine, st.root, 32) != 0) {
            rep->result = SLUICE_ANCHOR_FORK;
            rep->stored_size = st.size;
            snprintf(rep->reason, sizeof rep->reason, "fork: the ledger's "
                "first %llu records do not have the anchored root",
                (unsigned long long)st.size);
            redis_log(r, SLUICE_LOG_ERROR, "anchor %s refused: %s",
                rep->origin, rep->reason);
            goto out;
        }
    }
    rc = cas(r, redis_bulk_deadline(r), REDIS_BULK, note, len, &pn,
        have ? ssize : "none", sroot, rep, err);
    if (rc == 0)
        explain(r, rep);
out:
    free(note);
    return rc;
}

/* ---- reading anchors ---------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int sbuf_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 2 > b->cap) {
        size_t c = b->cap ? b->cap : 1024;
        while (c < b->len + n + 2)
            c *= 2;
        char *q = realloc(b->p, c);
        if (q == NULL)
            return -1;
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    if (n > 0 && s[n - 1] != '\n')
        b->p[b->len++] = '\n';
    b->p[b->len++] = '\n';          /* a blank line between notes */
    b->p[b->len] = '\0';
    return 0;
}

/* Append the current anchor and the history of one origin. */
static int one_origin(sluice_redis *r, int64_t dl, const char *origin,
    sbuf *b, size_t *count, sluice_error *err)
{
    char k1[KEY_MAX], k2[KEY_MAX];
    redis_cmd c[2];
    redisReply *x[2];
    int rc;
    redis_key(r, k1, sizeof k1, "anchor:", origin);
    redis_key(r, k2, sizeof k2, "anchor-history:", origin);
    redis_cmd_init(&c[0], -1);
    redis_cmd_str(&c[0], "HGET");
    redis_cmd_str(&c[0], k1);
    redis_cmd_str(&c[0], "note");
    redis_cmd_init(&c[1], -1);
    redis_cmd_str(&c[1], "LRANGE");
    redis_cmd_str(&c[1], k2);
    redis_cmd_str(&c[1], "0");
    redis_cmd_str(&c[1], "-1");
    if ((rc = redis_run(r, dl, REDIS_BULK | REDIS_RETRY, c, 2, x, err)) != 0)
        return rc;
    if (x[0]->type == REDIS_REPLY_STRING) {
        if (sbuf_put(b, x[0]->str, (size_t)x[0]->len) != 0)
            rc = SLUICE_ENOMEM;
        (*count)++;
    }
    if (x[1]->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < x[1]->elements && rc == 0; i++)
            if (x[1]->element[i]->type == REDIS_REPLY_STRING) {
                if (sbuf_put(b, x[1]->element[i]->str,
                        (size_t)x[1]->element[i]->len) != 0)
                    rc = SLUICE_ENOMEM;
                (*count)++;
            }
    freeReplyObject(x[0]);
    freeReplyObject(x[1]);
    return rc == SLUICE_ENOMEM ?
        ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory") : rc;
}

int sluice_redis_anchors(sluice_redis *r, const char *origin, char **out,
    size_t *len, size_t *count, sluice_error *err)
{
    sbuf b = { NULL, 0, 0 };
    size_t n = 0;
    int64_t dl;
    int rc = 0;
    if (r == NULL || out == NULL)
        return ledger_error(err, SLUICE_EINVAL, NULL,
            "sluice_redis_anchors: handle and out are required");
    *out = NULL;
    dl = redis_bulk_deadline(r);
    if (origin != NULL) {
        rc = one_origin(r, dl, origin, &b, &n, err);
    } else {
        char k[KEY_MAX];
        redis_cmd c;
        redisReply *x = NULL;
        redis_key(r, k, sizeof k, "anchors", NULL);
        redis_cmd_init(&c, -1);
        redis_cmd_str(&c, "SMEMBERS");
        redis_cmd_str(&c, k);
        if ((rc = redis_run1(r, dl, REDIS_BULK | REDIS_RETRY, &c, &x,
                err)) != 0)
            return rc;
        if (x->type == REDIS_REPLY_ARRAY)
            for (size_t i = 0; i < x->elements && rc == 0; i++)
                rc = one_origin(r, dl, x->element[i]->str, &b, &n, err);
        freeReplyObject(x);
    }
    if (rc == 0 && b.p == NULL && (b.p = calloc(1, 1)) == NULL)
        rc = ledger_error(err, SLUICE_ENOMEM, NULL, "out of memory");
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    if (len != NULL)
        *len = b.len;
    if (count != NULL)
        *count = n;
    return 0;
}
