/*
 * ltest.h - shared fixtures of the ledger tests: scratch directories (on
 * tmpfs when there is one, so syncs cost nothing), a tiny policy, keys,
 * engines with a ledger, whole-file helpers and the frame layout of a
 * segment, for tests that tamper with one.
 */
#ifndef SLUICE_LTEST_H
#define SLUICE_LTEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice.h"
#include "ledger/record.h"

/* A fresh directory; caller frees the string (and may rm_rf it). */
static inline char *lt_tmpdir(const char *tag)
{
    char tmpl[256];
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
        access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(tmpl, sizeof tmpl, "%s/sluice-%s-XXXXXX", base, tag);
    if (mkdtemp(tmpl) == NULL)
        return NULL;
    return strdup(tmpl);
}

static inline void lt_rm_rf(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char p[4096];
    if (d == NULL) {
        (void)unlink(path);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(p, sizeof p, "%s/%s", path, e->d_name) >= (int)sizeof p)
            continue;
        lt_rm_rf(p);
    }
    closedir(d);
    (void)rmdir(path);
}

static inline int lt_write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static inline unsigned char *lt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf != NULL)
        *len = (size_t)n;
    return buf;
}

/* Copy every regular file of src into dst (created). */
static inline int lt_copy_dir(const char *src, const char *dst)
{
    DIR *d = opendir(src);
    struct dirent *e;
    char a[4096], b[4096];
    if (d == NULL || (mkdir(dst, 0755) != 0 && errno != EEXIST))
        return -1;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        size_t n = 0;
        if (e->d_name[0] == '.')
            continue;
        if (snprintf(a, sizeof a, "%s/%s", src, e->d_name) >= (int)sizeof a ||
            snprintf(b, sizeof b, "%s/%s", dst, e->d_name) >= (int)sizeof b ||
            stat(a, &st) != 0)
            return -1;
        if (S_ISDIR(st.st_mode)) {
            if (lt_copy_dir(a, b) != 0)
                return -1;
            continue;
        }
        unsigned char *p = lt_read_file(a, &n);
        if (p == NULL || lt_write_file(b, p, n) != 0) {
            free(p);
            return -1;
        }
        free(p);
    }
    closedir(d);
    return 0;
}

/* A policy with a redact rule, a block rule and a flag rule. */
static inline char *lt_policy_dir(void)
{
    static const char yaml[] =
        "policy: ledgertest\n"
        "version: 4\n"
        "refusal: {zh: \"抱歉。\", en: \"Sorry.\"}\n"
        "categories:\n"
        "  - {id: profanity, action: redact}\n"
        "  - {id: violence, action: block}\n"
        "  - {id: politics, action: flag}\n"
        "rules:\n"
        "  - id: profanity.en\n"
        "    category: profanity\n"
        "    terms: [darn, heck]\n"
        "  - id: violence.en\n"
        "    category: violence\n"
        "    terms: [explosive recipe]\n"
        "  - id: politics.en\n"
        "    category: politics\n"
        "    terms: [election]\n";
    char *dir = lt_tmpdir("policy"), path[512];
    if (dir == NULL)
        return NULL;
    snprintf(path, sizeof path, "%s/policy.yaml", dir);
    if (lt_write_file(path, yaml, sizeof yaml - 1) != 0)
        return NULL;
    return dir;
}

/* Keys PREFIX.key / PREFIX.pub in dir, loaded. */
typedef struct lt_keys {
    sluice_key *sk;
    sluice_key *pk;
} lt_keys;

static inline int lt_keygen(const char *dir, const char *prefix,
    const char *name, lt_keys *k)
{
    char p[512], f[600];
    snprintf(p, sizeof p, "%s/%s", dir, prefix);
    if (sluice_keygen(p, name, 0, NULL) != 0)
        return -1;
    snprintf(f, sizeof f, "%s.key", p);
    if (sluice_key_load(&k->sk, f, NULL) != 0)
        return -1;
    snprintf(f, sizeof f, "%s.pub", p);
    return sluice_key_load(&k->pk, f, NULL);
}

static inline void lt_keys_free(lt_keys *k)
{
    sluice_key_free(k->sk);
    sluice_key_free(k->pk);
    k->sk = k->pk = NULL;
}

/* Verify dir with pub; returns rep.ok (and fills *rep if not NULL). */
static inline int lt_verify(const char *dir, const sluice_key *pub,
    const char *anchor, int allow_tail, sluice_verify_report *out)
{
    sluice_verify_options vo = SLUICE_VERIFY_OPTIONS_INIT;
    sluice_verify_report rep;
    vo.key = pub;
    vo.anchor = anchor;
    vo.allow_tail = allow_tail;
    if (sluice_ledger_verify(dir, &vo, &rep, NULL) != 0)
        return -1;
    if (out != NULL)
        *out = rep;
    return rep.ok;
}

/* An engine with the test policy (the caller unrefs *p, frees e). */
static inline sluice_engine *lt_engine(sluice_policy **p)
{
    char *pd = lt_policy_dir();
    sluice_engine *e = NULL;
    if (pd == NULL || sluice_policy_load(p, pd, NULL, NULL) != 0 ||
        sluice_engine_new(&e, NULL, NULL) != 0 ||
        sluice_engine_set_policy(e, *p) != 0)
        return NULL;
    lt_rm_rf(pd);
    free(pd);
    return e;
}

/* Open a ledger in dir with the given mode and checkpoint cadence. */
static inline sluice_ledger *lt_open(const char *dir, const sluice_key *sk,
    sluice_ledger_mode mode, int no_thread, uint32_t ck_records,
    uint32_t ck_ms)
{
    sluice_ledger_options lo = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_ledger *l = NULL;
    sluice_error err;
    lo.dir = dir;
    lo.signer = sk;
    lo.mode = mode;
    lo.no_thread = no_thread;
    lo.checkpoint_records = ck_records;
    lo.checkpoint_ms = ck_ms;
    memset(&err, 0, sizeof err);
    if (sluice_ledger_open(&l, &lo, &err) != 0) {
        fprintf(stderr, "# open %s: %s: %s\n", dir, err.file, err.message);
        return NULL;
    }
    return l;
}

/* Check text; returns the action, or -1. *seq: its record (0: none). */
static inline int lt_check(sluice_engine *e, const char *text,
    const sluice_meta *meta, uint64_t *seq)
{
    sluice_verdict *v = NULL;
    int a;
    if (sluice_check(e, text, strlen(text), meta, &v, NULL) != 0)
        return -1;
    a = sluice_verdict_action(v);
    if (seq != NULL && !sluice_verdict_record(v, seq, NULL))
        *seq = 0;
    sluice_verdict_free(v);
    return a;
}

/* The frames of a segment image: offsets and lengths. */
typedef struct lt_frames {
    size_t n;
    size_t off[4096];
    size_t len[4096];
    unsigned char kind[4096];
} lt_frames;

static inline int lt_split(const unsigned char *p, size_t n, lt_frames *f)
{
    size_t at = SEG_HEADER;
    f->n = 0;
    while (at + FRAME_OVERHEAD <= n && f->n < 4096) {
        size_t len = le32_get(p + at) + (size_t)FRAME_OVERHEAD;
        if (at + len > n)
            return -1;
        f->off[f->n] = at;
        f->len[f->n] = len;
        f->kind[f->n] = p[at + 4];
        f->n++;
        at += len;
    }
    return at == n ? 0 : -1;
}

#endif
