/*
 * policy_lint.c - static checks of a policy's sources for its authors
 * (sluice_policy_lint, `sluice lint`). docs/lint.md is the user's view:
 * every finding code, what it means and how to fix it.
 *
 * Design. The sources are parsed (psrc_load) and compiled (policy_compile)
 * exactly as sluice_policy_load would, so "this policy is refused" means
 * what it means at load time. When the compiler refuses the policy, lint
 * does not stop: the sources are parsed again and analysed on their own
 * normalization tables, and a sanitized copy (terms that normalize to
 * nothing dropped, broken regexes replaced by (*FAIL)) is compiled again
 * and again until it loads, so that every refusal is reported with its
 * file and line, not only the first, and the checks that need a compiled
 * policy (the streaming context) still run.
 *
 * Every rule term is normalized with exactly the steps its rule matches
 * under (the policy's `normalize:` plus the rule's variants; none for
 * `on: original`), as policy_compile.c does. Terms with the same steps
 * form a group; within a group, distinct normalized forms (bytes and, with
 * `repeat`, run lengths) are keys. Each group gets one Hyperscan literal
 * database over its keys, which answers both questions that would
 * otherwise be quadratic:
 *   - which terms contain which (each key's bytes scanned against its own
 *     group's database): duplicates, shadowed and contained terms;
 *   - which vocabulary words contain which term (the vocabulary normalized
 *     with each group's steps, in 1 MiB chunks, scanned once): the
 *     Scunthorpe report.
 * "B covers A" (every match of A is also a match of B, inside A's span)
 * is decided with the matcher's own rules (filter/check.c): same stream,
 * B matched as a substring (or both as words and equal), B without a
 * validator, B's run lengths at most A's, no native gap of A inside B that
 * B lacks, and no allow-list term that could swallow B but not A.
 *
 * Regexes are compiled with PCRE2 as the compiler does (JIT when there
 * is one, as at run time); then run, with the runtime's match and depth
 * limits, on generated inputs: runs of characters the pattern mentions,
 * singly and in pairs, followed by a tail that does not match, at doubling
 * lengths, with the pattern's required first and last characters (as
 * PCRE2 reports them) around them so that its quick rejections do not
 * hide the backtracking. Hitting a limit means such text is blocked with
 * reason regex_limit at run time; time that grows faster than the input
 * means polynomial backtracking that no limit catches.
 *
 * Minimum term counts per category and in all come from lint.yaml beside
 * policy.yaml (read here with libyaml, as strictly as the parser reads
 * policy.yaml, but never by the engine: it is not a policy source, so it
 * is neither hashed nor bundled) and from the options, which win.
 *
 * Findings are collected, sorted by file (policy.yaml first, then list
 * files in the order they were read) and line, and delivered at the end.
 * Nothing here is global: every call owns its own state.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <yaml.h>

#include "rules/policy.h"

#define NONE UINT32_MAX
#define MAX_LGROUPS 16          /* distinct step sets (compile allows 8) */
#define MAX_EXAMPLES 10
#define CONTAINED_PER_KEY 10    /* contained-term reports naming one term */
#define VOCAB_CHUNK ((size_t)1 << 20)
#define VOCAB_MAX_BYTES ((size_t)512 << 20)
#define MATCH_LIMIT 1000000u    /* the runtime's (filter/check.c) */
#define DEPTH_LIMIT 10000u
#define PROBE_ALPHABET 20       /* code points tried in runs */
#define PROBE_PAIRS 6           /* the first N of them also in pairs */
#define PROBE_MAX_SINGLE 4096   /* longest generated run, bytes */
#define PROBE_MAX_PAIR 512
#define PROBE_SLOW_MS 2.0       /* a match this slow is looked at */
#define PROBE_GIVEUP_MS 50.0    /* ... and this slow ends a series */
#define PROBE_BUDGET_MS 400.0   /* per regex */
#define BOUNDARY_WINDOW 100     /* bytes a word-boundary hit may wait for
                                   (ICU's 96-byte window + a code point) */

/* ------------------------------------------------------------------------
 * State
 * ---------------------------------------------------------------------- */

typedef struct lfind {
    int sev;
    const char *code;       /* static */
    int rank;               /* file order; INT_MAX: unknown file */
    const char *file;       /* borrowed from lint.paths or lint.owned */
    int line;
    const char *rule;       /* borrowed from the psrc */
    const char *term;       /* borrowed from the psrc */
    char *msg;              /* owned */
    size_t seq;
} lfind;

/* One term of a rule (terms or all), in rule order then slot order. */
typedef struct lterm {
    const psrc_term *src;
    uint32_t rule;
    uint32_t slot;
    int group;              /* -1: normalizes to nothing */
    uint32_t key;           /* NONE if empty */
    uint32_t next;          /* next term with the same key, or NONE */
    uint32_t ncp;           /* normalized code points */
    uint64_t gaps;          /* native gaps: bit i = noise before cp i */
    uint8_t han;            /* holds an ideograph (after normalization) */
} lterm;

/* A distinct normalized form within a group. */
typedef struct lkey {
    int group;
    uint32_t off, len, ncp; /* bytes in lint.pool */
    uint32_t runs;          /* ncp run lengths in lint.runpool, or NONE */
    uint32_t first, last;   /* its terms (lterm.next), in source order */
    uint8_t allow_sens;     /* an allow term holds it (same steps) */
    uint8_t scun;           /* a substring `terms` rule has it */
    uint32_t reported;      /* contained-term reports naming it */
    uint32_t more;          /* ... and those left out */
} lkey;

typedef struct lgroup {
    unsigned flags;
    hs_database_t *db;      /* NULL if no keys (or all in anc) */
    const anchor_set *anc;  /* the compiled policy's, with db: its terms
                               in three-byte UTF-8 (NULL: none) */
    uint32_t *map;          /* db ids -> key indexes (NONE: no key), or
                               NULL: ids are key indexes */
    int borrowed;           /* db is the compiled policy's */
} lgroup;

/* A minimum term count for a category. */
typedef struct lmin {
    const char *category;   /* in lint.owned, or borrowed from options */
    size_t min;             /* 0: none (switched off) */
    int line;               /* line in lint.yaml; 0: from the options */
} lmin;

/* Does group g have keys to scan for? */
static int lg_any(const lgroup *g)
{
    return g->db != NULL || g->anc != NULL;
}

/* Every hit of group g's keys in text[0, len), as hs_scan reports them. */
static hs_error_t lg_scan(const lgroup *g, hs_scratch_t *hs,
    const char *text, size_t len, match_event_handler cb, void *ctx)
{
    return policy_scan_terms(g->db, g->anc, hs, text, len, cb, ctx);
}

/* The key a database hit of group g names, or NONE. */
static uint32_t hit_key(const lgroup *g, unsigned int id)
{
    return g->map != NULL ? g->map[id] : id;
}

typedef struct lint {
    /* options, resolved */
    sluice_lint_options opt;  /* the caller's, upgraded to this version */
    const sluice_lint_options *o;   /* &opt */
    size_t scun_min, examples, short_chars, short_han;

    psrc *src;              /* the sources analysed */
    psrc *own_src;          /* ... when owned here (compile failed) */
    sluice_policy *p;       /* compiled (maybe a sanitized copy) or NULL */
    norm_tables *nt;
    norm_tables *own_nt;
    char **paths;           /* src->files joined with src->dir */
    size_t npaths;
    int *act;               /* per rule: resolved action, -1 unknown */
    uint32_t *rule_first;   /* per rule: its first lterm */

    lfind *f;
    size_t nf, capf;
    char **owned;           /* strings findings point to */
    size_t nowned, capowned;

    lterm *t;
    size_t nt_, capt;
    uint8_t *allow_empty;   /* per allow term */
    unsigned char *apool;   /* allow terms normalized with each group's */
    size_t napool, capapool;  /* steps: [g * nallow + j] at aoff, alen */
    uint32_t *aoff, *alen;
    lkey *k;
    size_t nk, capk;
    uint32_t *ktab;         /* hash table of keys: index + 1 */
    size_t ktabcap;
    unsigned char *pool;
    size_t npool, cappool;
    uint8_t *runpool;
    size_t nrunpool, caprunpool;
    lgroup g[MAX_LGROUPS];
    size_t ng;
    hs_scratch_t *hs;
    uint8_t *rx_bad;        /* per rule: regex refused (replace it) */

    /* minimums: lint.yaml's, then the options' over them */
    lmin *mins;
    size_t nmins, capmins;
    size_t total_min;       /* 0: none */
    int total_line;         /* its line in lint.yaml; 0: the options' */
    const char *conf;       /* lint.yaml as shown (in owned), or NULL */

    norm_out no;            /* scratch normalization */
    char q[4][256];         /* quoted terms for messages */
    unsigned qi;
} lint;


const char *sluice_lint_severity_name(int severity)
{
    switch (severity) {
    case SLUICE_LINT_INFO: return "info";
    case SLUICE_LINT_WARNING: return "warning";
    case SLUICE_LINT_ERROR: return "error";
    default: return "?";
    }
}

/* ------------------------------------------------------------------------
 * Findings
 * ---------------------------------------------------------------------- */

/* Index of a source file (a pointer into src->files) or -1. */
static int file_index(const lint *c, const char *file)
{
    if (file == NULL)
        return -1;
    for (size_t i = 0; i < c->src->nfiles; i++)
        if (c->src->files[i] == file || strcmp(c->src->files[i], file) == 0)
            return (int)i;
    return -1;
}

/* Keep `s` for the findings' lifetime; NULL if out of memory. */
static const char *keep(lint *c, const char *s)
{
    if (policy_grow((void **)&c->owned, &c->capowned, c->nowned + 1,
            sizeof *c->owned) != 0)
        return NULL;
    char *d = strdup(s);
    if (d != NULL)
        c->owned[c->nowned++] = d;
    return d;
}

static int vadd(lint *c, int sev, const char *code, int rank,
    const char *file, int line, const char *rule, const char *term,
    const char *fmt, va_list ap)
{
    char buf[1024];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return SLUICE_EINTERNAL;
    if ((size_t)n >= sizeof buf)
        memcpy(buf + sizeof buf - 4, "...", 4);
    for (char *s = buf; *s; s++)   /* one line, always */
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            *s = ' ';
    if (policy_grow((void **)&c->f, &c->capf, c->nf + 1, sizeof *c->f) != 0)
        return SLUICE_ENOMEM;
    lfind *f = &c->f[c->nf];
    if ((f->msg = strdup(buf)) == NULL)
        return SLUICE_ENOMEM;
    f->sev = sev;
    f->code = code;
    f->rank = rank;
    f->file = file != NULL ? file : "";
    f->line = line > 0 ? line : 0;
    f->rule = rule;
    f->term = term;
    f->seq = c->nf++;
    return 0;
}

static int add_at(lint *c, int sev, const char *code, int rank,
    const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* A finding at a joined path (rank: its file order). */
static int add_at(lint *c, int sev, const char *code, int rank,
    const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vadd(c, sev, code, rank, file, line, NULL, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

/* A finding about source file `file` (relative, from the psrc). */
static int add(lint *c, int sev, const char *code, const char *file,
    int line, const char *rule, const char *term, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static int add(lint *c, int sev, const char *code, const char *file,
    int line, const char *rule, const char *term, const char *fmt, ...)
{
    int fi = file_index(c, file);
    va_list ap;
    va_start(ap, fmt);
    int rc = vadd(c, sev, code, fi >= 0 ? fi : INT_MAX,
        fi >= 0 ? c->paths[fi] : (file ? keep(c, file) : NULL),
        line, rule, term, fmt, ap);
    va_end(ap);
    return rc;
}

/* A finding about a term. */
static int add_term(lint *c, int sev, const char *code, const lterm *t,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int add_term(lint *c, int sev, const char *code, const lterm *t,
    const char *fmt, ...)
{
    int fi = file_index(c, t->src->file);
    va_list ap;
    va_start(ap, fmt);
    int rc = vadd(c, sev, code, fi >= 0 ? fi : INT_MAX,
        fi >= 0 ? c->paths[fi] : NULL, t->src->line,
        t->rule != NONE ? c->src->rules[t->rule].id : NULL, t->src->text,
        fmt, ap);
    va_end(ap);
    return rc;
}

/* 'text' for a message: control characters and quotes escaped, long
   terms cut. One of four rotating buffers: at most 4 per message. */
static const char *q(lint *c, const char *s)
{
    char *b = c->q[c->qi++ & 3];
    size_t cap = sizeof c->q[0], n = 0, cps = 0;
    b[n++] = '\'';
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        if (n + 12 >= cap || cps >= 60) {
            memcpy(b + n, "...", 3);
            n += 3;
            break;
        }
        if ((*u & 0xC0) != 0x80)
            cps++;
        if (*u < 0x20 || *u == 0x7F || *u == '\'' || *u == '\\')
            n += (size_t)snprintf(b + n, cap - n, "\\x%02X", *u);
        else
            b[n++] = (char)*u;
    }
    b[n++] = '\'';
    b[n] = '\0';
    return b;
}

/* "file:line" of a term, for messages (a path as loaded). */
static const char *where(lint *c, const psrc_term *t)
{
    char *b = c->q[c->qi++ & 3];
    int fi = file_index(c, t->file);
    snprintf(b, sizeof c->q[0], "%s:%d", fi >= 0 ? c->paths[fi] :
        (t->file ? t->file : "?"), t->line);
    return b;
}

static int cmp_find(const void *a, const void *b)
{
    const lfind *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    int lx = x->line ? x->line : INT_MAX, ly = y->line ? y->line : INT_MAX;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Does a finding already give the compiler's reason at this (joined)
   file and line (a term that normalizes to nothing, a bad regex)? */
static int have_error_at(const lint *c, const char *file, int line)
{
    for (size_t i = 0; i < c->nf; i++)
        if (c->f[i].line == line && strcmp(c->f[i].file, file) == 0 &&
            (strcmp(c->f[i].code, "empty-term") == 0 ||
             strcmp(c->f[i].code, "regex-invalid") == 0))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------
 * Sources: paths, actions
 * ---------------------------------------------------------------------- */

static int join_paths(lint *c)
{
    const psrc *s = c->src;
    c->paths = calloc(s->nfiles ? s->nfiles : 1, sizeof *c->paths);
    if (c->paths == NULL)
        return SLUICE_ENOMEM;
    c->npaths = s->nfiles;
    for (size_t i = 0; i < s->nfiles; i++) {
        const char *f = s->files[i];
        size_t n;
        if (s->dir == NULL || f[0] == '/' || strcmp(s->dir, ".") == 0) {
            c->paths[i] = strdup(f);
        } else {
            n = strlen(s->dir) + strlen(f) + 2;
            if ((c->paths[i] = malloc(n)) != NULL)
                snprintf(c->paths[i], n, "%s/%s", s->dir, f);
        }
        if (c->paths[i] == NULL)
            return SLUICE_ENOMEM;
    }
    return 0;
}

static const psrc_category *find_cat(const psrc *s, const char *id)
{
    for (size_t i = 0; id != NULL && i < s->ncats; i++)
        if (strcmp(s->cats[i].id, id) == 0)
            return &s->cats[i];
    return NULL;
}

static int resolve_actions(lint *c)
{
    const psrc *s = c->src;
    c->act = malloc((s->nrules ? s->nrules : 1) * sizeof *c->act);
    if (c->act == NULL)
        return SLUICE_ENOMEM;
    for (size_t i = 0; i < s->nrules; i++) {
        const psrc_rule *r = &s->rules[i];
        const psrc_category *cat = find_cat(s, r->category);
        c->act[i] = r->action >= 0 ? r->action : (cat ? cat->action : -1);
    }
    return 0;
}

/* The steps a rule's terms are matched under (as policy_compile.c). */
static unsigned rule_flags(const psrc *s, const psrc_rule *r)
{
    if (r->on == PSRC_ON_ORIGINAL)
        return 0;
    return (s->normalize & NORM_DEFAULT) | (r->variants &
        (NORM_LEET | NORM_REPEAT));
}

static unsigned allow_flags(const psrc *s)
{
    return s->normalize & NORM_DEFAULT;
}

/* ------------------------------------------------------------------------
 * Term normalization and keys
 * ---------------------------------------------------------------------- */

static uint32_t utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
    uint32_t c = s[0];
    size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (k > n)
        k = n;
    *len = k;
    if (k == 1)
        return c;
    c &= 0xFFu >> (k + 1);
    for (size_t i = 1; i < k; i++)
        c = (c << 6) | (s[i] & 0x3Fu);
    return c;
}

static int is_han(uint32_t cp)
{
    return (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
        (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3FFFF);
}

static int lgroup_for(lint *c, unsigned flags)
{
    for (size_t i = 0; i < c->ng; i++)
        if (c->g[i].flags == flags)
            return (int)i;
    if (c->ng == MAX_LGROUPS)
        return -1;
    c->g[c->ng].flags = flags;
    c->g[c->ng].db = NULL;
    c->g[c->ng].anc = NULL;
    c->g[c->ng].map = NULL;
    c->g[c->ng].borrowed = 0;
    return (int)c->ng++;
}

/* Keys hash on group and bytes; keys that differ in runs only share a
   bucket chain. */
static uint64_t hash_key(int group, const unsigned char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)group;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static uint8_t key_run(const lint *c, const lkey *k, uint32_t i)
{
    return k->runs == NONE ? 1 : c->runpool[k->runs + i];
}

/* The per-code-point runs of normalized output o (ncp entries) in buf,
   or 0 if all are 1. */
static int out_runs(const norm_out *o, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    int any = 0;
    for (size_t i = 0; i < o->len && n < cap; i++)
        if ((o->text[i] & 0xC0) != 0x80) {
            buf[n++] = o->run[i];
            any |= o->run[i] > 1;
        }
    return any;
}

static int ktab_rehash(lint *c)
{
    size_t cap = c->ktabcap ? c->ktabcap * 2 : 1024;
    uint32_t *tab = calloc(cap, sizeof *tab);
    if (tab == NULL)
        return SLUICE_ENOMEM;
    for (size_t i = 0; i < c->nk; i++) {
        const lkey *k = &c->k[i];
        size_t j = (size_t)hash_key(k->group, c->pool + k->off, k->len) &
            (cap - 1);
        while (tab[j] != 0)
            j = (j + 1) & (cap - 1);
        tab[j] = (uint32_t)i + 1;
    }
    free(c->ktab);
    c->ktab = tab;
    c->ktabcap = cap;
    return 0;
}

/* The key with these bytes and runs (ncp entries, NULL if all 1) in
   group g, or NONE; *slot gets the table slot where it is or would go. */
static uint32_t key_find(const lint *c, int g, const unsigned char *b,
    size_t len, uint32_t ncp, const uint8_t *runs, size_t *slot)
{
    *slot = 0;
    if (c->ktabcap == 0)
        return NONE;
    size_t mask = c->ktabcap - 1;
    size_t j = (size_t)hash_key(g, b, len) & mask;
    for (;; j = (j + 1) & mask) {
        uint32_t v = c->ktab[j];
        if (v == 0)
            break;
        const lkey *k = &c->k[v - 1];
        if (k->group != g || k->len != len ||
            memcmp(c->pool + k->off, b, len) != 0)
            continue;
        if ((k->runs == NONE) != (runs == NULL))
            continue;
        if (runs != NULL && memcmp(c->runpool + k->runs, runs, ncp) != 0)
            continue;
        *slot = j;
        return v - 1;
    }
    *slot = j;
    return NONE;
}

/*
 * The key of normalized form o in group g (runs: ncp entries, NULL if all
 * 1), added if new. Returns the key index, or NONE when out of memory.
 */
static uint32_t key_of(lint *c, int g, const norm_out *o, uint32_t ncp,
    const uint8_t *runs)
{
    size_t j;
    if ((c->nk + 1) * 2 > c->ktabcap && ktab_rehash(c) != 0)
        return NONE;
    uint32_t found = key_find(c, g, o->text, o->len, ncp, runs, &j);
    if (found != NONE)
        return found;
    if (policy_grow((void **)&c->k, &c->capk, c->nk + 1, sizeof *c->k) != 0 ||
        policy_grow((void **)&c->pool, &c->cappool, c->npool + o->len, 1) != 0 ||
        (runs != NULL && policy_grow((void **)&c->runpool, &c->caprunpool,
            c->nrunpool + ncp, 1) != 0))
        return NONE;
    lkey *k = &c->k[c->nk];
    memset(k, 0, sizeof *k);
    k->group = g;
    k->off = (uint32_t)c->npool;
    k->len = (uint32_t)o->len;
    k->ncp = ncp;
    k->runs = NONE;
    k->first = k->last = NONE;
    memcpy(c->pool + c->npool, o->text, o->len);
    c->npool += o->len;
    if (runs != NULL) {
        k->runs = (uint32_t)c->nrunpool;
        memcpy(c->runpool + c->nrunpool, runs, ncp);
        c->nrunpool += ncp;
    }
    c->ktab[j] = (uint32_t)c->nk + 1;
    return (uint32_t)c->nk++;
}

/* Normalize one term into c->no and fill t's ncp, gaps and han. */
static int norm_one(lint *c, unsigned flags, const char *text, lterm *t)
{
    norm_out *o = &c->no;
    norm_out_reset(o);
    if (norm_text(c->nt, flags, text, strlen(text), o) != 0)
        return SLUICE_ENOMEM;
    t->ncp = 0;
    t->gaps = 0;
    t->han = 0;
    for (size_t i = 0; i < o->len;) {
        size_t n;
        uint32_t cp = utf8_decode(o->text + i, o->len - i, &n);
        if (t->ncp > 0 && t->ncp < 64 && (o->gap[i] & NORM_GAP_COUNT))
            t->gaps |= 1ull << t->ncp;
        t->han |= (uint8_t)is_han(cp);
        t->ncp++;
        i += n;
    }
    return 0;
}

static int add_rule_term(lint *c, uint32_t ri, uint32_t slot, int g)
{
    const psrc_rule *r = &c->src->rules[ri];
    uint8_t runs[4096];
    if (policy_grow((void **)&c->t, &c->capt, c->nt_ + 1, sizeof *c->t) != 0)
        return SLUICE_ENOMEM;
    lterm *t = &c->t[c->nt_];
    memset(t, 0, sizeof *t);
    t->src = &r->terms[slot];
    t->rule = ri;
    t->slot = slot;
    t->key = NONE;
    t->next = NONE;
    t->group = -1;
    if (norm_one(c, c->g[g].flags, t->src->text, t) != 0)
        return SLUICE_ENOMEM;
    c->nt_++;
    if (c->no.len == 0)
        return add_term(c, SLUICE_LINT_ERROR, "empty-term", t,
            "term %s normalizes to nothing (only spaces, symbols or "
            "invisible characters): the policy is refused; remove it or "
            "add the letters it stands for", q(c, t->src->text));
    int any = t->ncp <= sizeof runs && out_runs(&c->no, runs, sizeof runs);
    uint32_t k = key_of(c, g, &c->no, t->ncp, any ? runs : NULL);
    if (k == NONE)
        return SLUICE_ENOMEM;
    t->group = g;
    t->key = k;
    lkey *kk = &c->k[k];
    if (kk->first == NONE)
        kk->first = (uint32_t)(t - c->t);
    else
        c->t[kk->last].next = (uint32_t)(t - c->t);
    kk->last = (uint32_t)(t - c->t);
    if (r->kind == PSRC_TERMS && r->boundary != PSRC_BOUNDARY_WORD)
        kk->scun = 1;
    return 0;
}

/* Normalize every rule term (finding empty ones) and build the keys. */
static int collect_terms(lint *c)
{
    const psrc *s = c->src;
    int rc;
    c->rule_first = malloc((s->nrules ? s->nrules : 1) *
        sizeof *c->rule_first);
    c->allow_empty = calloc(s->nallow ? s->nallow : 1, 1);
    if (c->rule_first == NULL || c->allow_empty == NULL)
        return SLUICE_ENOMEM;
    for (size_t i = 0; i < s->nrules; i++) {
        const psrc_rule *r = &s->rules[i];
        c->rule_first[i] = (uint32_t)c->nt_;
        if (r->kind == PSRC_REGEX)
            continue;
        int g = lgroup_for(c, rule_flags(s, r));
        if (g < 0)
            continue;   /* the compiler refuses it: reported as such */
        for (size_t j = 0; j < r->nterms; j++)
            if ((rc = add_rule_term(c, (uint32_t)i, (uint32_t)j, g)) != 0)
                return rc;
    }
    for (size_t j = 0; j < s->nallow; j++) {
        lterm t;
        if (norm_one(c, allow_flags(s), s->allow[j].text, &t) != 0)
            return SLUICE_ENOMEM;
        if (c->no.len > 0)
            continue;
        c->allow_empty[j] = 1;
        t.src = &s->allow[j];
        t.rule = NONE;
        if ((rc = add_term(c, SLUICE_LINT_ERROR, "empty-term", &t,
                 "allow term %s normalizes to nothing (only spaces, symbols "
                 "or invisible characters): the policy is refused; remove "
                 "it", q(c, t.src->text))) != 0)
            return rc;
    }
    return 0;
}

/*
 * Use the compiled policy's literal database for group g when it has one
 * with the same steps (the common case: compiling 10^5 terms is most of
 * a lint's time). Its ids are the compiler's term indexes, mapped to
 * keys. Returns 1 if borrowed, 0 if not, or a negative error.
 */
static int borrow_db(lint *c, size_t g)
{
    const sluice_policy *p = c->p;
    for (size_t i = 0; p != NULL && i < p->ngroups; i++) {
        const mgroup *pg = &p->groups[i];
        size_t slot;
        if (pg->flags != c->g[g].flags || pg->nterms == 0)
            continue;
        uint32_t *map = malloc((pg->nterms ? pg->nterms : 1) * sizeof *map);
        if (map == NULL)
            return SLUICE_ENOMEM;
        for (size_t t = 0; t < pg->nterms; t++) {
            const cterm *ct = &pg->terms[t];
            map[t] = key_find(c, (int)g, pg->bytes + pg->off[t], ct->len,
                ct->ncp, ct->runs == UINT32_MAX ? NULL :
                pg->runpool + ct->runs, &slot);
        }
        if (pg->db != NULL && hs_alloc_scratch(pg->db, &c->hs) !=
            HS_SUCCESS) {
            free(map);
            return SLUICE_ENOMEM;
        }
        c->g[g].db = pg->db;
        c->g[g].anc = pg->anc;
        c->g[g].map = map;
        c->g[g].borrowed = 1;
        return 1;
    }
    return 0;
}

/* One Hyperscan literal database per group over its keys. */
static int build_dbs(lint *c, sluice_error *err)
{
    const char **ex = malloc((c->nk ? c->nk : 1) * sizeof *ex);
    size_t *lens = malloc((c->nk ? c->nk : 1) * sizeof *lens);
    unsigned *ids = malloc((c->nk ? c->nk : 1) * sizeof *ids);
    unsigned *fl = calloc(c->nk ? c->nk : 1, sizeof *fl);
    int rc = 0;
    if (ex == NULL || lens == NULL || ids == NULL || fl == NULL) {
        rc = SLUICE_ENOMEM;
        goto out;
    }
    for (size_t g = 0; g < c->ng && rc == 0; g++) {
        unsigned n = 0;
        if (c->nk == 0 || (rc = borrow_db(c, g)) != 0) {
            rc = rc > 0 ? 0 : rc;
            continue;
        }
        for (size_t i = 0; i < c->nk; i++)
            if (c->k[i].group == (int)g) {
                ex[n] = (const char *)c->pool + c->k[i].off;
                lens[n] = c->k[i].len;
                ids[n++] = (unsigned)i;
            }
        if (n == 0)
            continue;
        hs_compile_error_t *ce = NULL;
        if (hs_compile_lit_multi(ex, fl, ids, lens, n, HS_MODE_BLOCK, NULL,
                &c->g[g].db, &ce) != HS_SUCCESS) {
            rc = psrc_error(err, SLUICE_EINTERNAL, NULL, 0,
                "Hyperscan could not compile %u terms: %s", n,
                ce && ce->message ? ce->message : "unknown error");
            hs_free_compile_error(ce);
            c->g[g].db = NULL;
        } else if (hs_alloc_scratch(c->g[g].db, &c->hs) != HS_SUCCESS) {
            rc = psrc_error(err, SLUICE_ENOMEM, NULL, 0,
                "out of memory (Hyperscan scratch)");
        }
    }
out:
    free(ex);
    free(lens);
    free(ids);
    free(fl);
    return rc;
}

/* ------------------------------------------------------------------------
 * Duplicates, shadowed and contained terms
 * ---------------------------------------------------------------------- */

typedef struct hitv {
    const lgroup *g;
    uint32_t *key;
    uint32_t *end;
    size_t n, cap;
    int oom;
} hitv;

static int on_contained(unsigned int id, unsigned long long from,
    unsigned long long to, unsigned int flags, void *ctx)
{
    hitv *h = ctx;
    (void)from;
    (void)flags;
    if ((id = hit_key(h->g, id)) == NONE)
        return 0;
    if (h->n == h->cap) {
        size_t n = h->cap ? h->cap * 2 : 64;
        uint32_t *k = realloc(h->key, n * sizeof *k);
        if (k != NULL)
            h->key = k;
        uint32_t *e = k ? realloc(h->end, n * sizeof *e) : NULL;
        if (e == NULL) {
            h->oom = 1;
            return 1;
        }
        h->end = e;
        h->cap = n;
    }
    h->key[h->n] = id;
    h->end[h->n++] = (uint32_t)to;
    return 0;
}

static int act_of(const lint *c, const lterm *t)
{
    return c->act[t->rule];
}

/*
 * Could an allow hit swallow b's match at byte `off` of a's key without
 * swallowing a's? That takes an allow term (normalized with the group's
 * steps) that holds b's key where it agrees with a's text around it, and
 * does not span all of a.
 */
static int allow_splits(const lint *c, const lkey *kb, const lkey *ka,
    uint32_t off)
{
    const unsigned char *A = c->pool + ka->off, *B = c->pool + kb->off;
    size_t na = c->src->nallow;
    for (size_t j = 0; j < na; j++) {
        size_t slot = (size_t)kb->group * na + j;
        const unsigned char *S = c->apool + c->aoff[slot];
        size_t n = c->alen[slot];
        for (size_t p = 0; p + kb->len <= n; p++) {
            if (memcmp(S + p, B, kb->len) != 0)
                continue;
            long s0 = (long)off - (long)p;   /* S's start within A */
            long lo = s0 > 0 ? s0 : 0;
            long hi = s0 + (long)n < (long)ka->len ? s0 + (long)n :
                (long)ka->len;
            int agree = memcmp(A + lo, S + (lo - s0), (size_t)(hi - lo)) == 0;
            if (agree && !(s0 <= 0 && s0 + (long)n >= (long)ka->len))
                return 1;
        }
    }
    return 0;
}

/*
 * Does every match of term a imply a match of term b inside it? b's key
 * occurs in a's key at code point `off` (byte `boff`), both in one group.
 * See the file comment; the conditions mirror filter/check.c's
 * confirmation of a hit.
 */
static int covers(const lint *c, const lterm *b, const lterm *a, uint32_t off,
    uint32_t boff)
{
    const psrc_rule *rb = &c->src->rules[b->rule];
    const psrc_rule *ra = &c->src->rules[a->rule];
    const lkey *kb = &c->k[b->key], *ka = &c->k[a->key];
    if (ra->kind != PSRC_TERMS || rb->kind != PSRC_TERMS ||
        rb->validate != NULL)
        return 0;
    if (rb->boundary == PSRC_BOUNDARY_WORD &&
        (ra->boundary != PSRC_BOUNDARY_WORD || kb->len != ka->len))
        return 0;
    for (uint32_t i = 0; i < kb->ncp; i++)
        if (key_run(c, kb, i) > key_run(c, ka, off + i))
            return 0;
    for (uint32_t i = 1; i < kb->ncp && off + i < 64; i++)
        if (((a->gaps >> (off + i)) & 1u) &&
            !(i < 64 && ((b->gaps >> i) & 1u)))
            return 0;
    if (kb != ka && kb->allow_sens && allow_splits(c, kb, ka, boff))
        return 0;
    return 1;
}

static int report_dup(lint *c, const lterm *a, const lterm *b)
{
    const psrc_rule *ra = &c->src->rules[a->rule];
    const psrc_rule *rb = &c->src->rules[b->rule];
    int raw = strcmp(a->src->text, b->src->text) == 0;
    int aa = act_of(c, a), ab = act_of(c, b);
    const char *code = raw ? "duplicate-term" : "normalized-duplicate";
    const char *how = raw ? "is also" : "normalizes to the same as";
    const char *bq = raw ? "" : q(c, b->src->text);
    const char *note = ra->boundary == PSRC_BOUNDARY_WORD &&
        rb->boundary != PSRC_BOUNDARY_WORD ? " (matched as a substring "
        "there, so it matches wherever this one does)" : "";

    if (a->rule == b->rule)
        return add_term(c, SLUICE_LINT_WARNING, code, a,
            "term %s %s%s%s at %s in the same rule: remove one", q(c,
            a->src->text), raw ? "is already" : how, raw ? "" : " ", bq,
            where(c, b->src));
    if (aa == ab)
        return add_term(c, SLUICE_LINT_WARNING, code, a,
            "term %s %s%s%s in rule '%s' at %s%s, with the same action "
            "(%s): one of them is redundant", q(c, a->src->text), how,
            raw ? "" : " ", bq, rb->id, where(c, b->src), note,
            sluice_action_name(ab));
    return add_term(c, SLUICE_LINT_WARNING, "shadowed-term", a,
        "term %s %s%s%s in rule '%s' (%s) at %s%s: the stronger action "
        "wins, so rule '%s' (%s) never decides on it", q(c, a->src->text),
        how, raw ? "" : " ", bq, rb->id, sluice_action_name(ab), where(c, b->src),
        note, ra->id, sluice_action_name(aa));
}

static int report_contained(lint *c, const lterm *a, const lterm *b)
{
    lkey *kb = &c->k[b->key];
    int aa = act_of(c, a), ab = act_of(c, b);
    const psrc_rule *rb = &c->src->rules[b->rule];
    if (kb->reported >= CONTAINED_PER_KEY) {
        kb->more++;
        return 0;
    }
    kb->reported++;
    if (aa == SLUICE_REDACT && ab == SLUICE_REDACT)
        return add_term(c, SLUICE_LINT_INFO, "contained-term", a,
            "term %s always contains a match of %s (rule '%s', redact, at "
            "%s): it only widens that redaction to the longer span",
            q(c, a->src->text), q(c, b->src->text), rb->id,
            where(c, b->src));
    return add_term(c, SLUICE_LINT_WARNING, "contained-term", a,
        "term %s can never change a verdict: each of its matches contains "
        "a match of %s (rule '%s', %s, at %s)%s%s%s", q(c, a->src->text),
        q(c, b->src->text), rb->id, sluice_action_name(ab), where(c, b->src),
        a->rule != b->rule ? "; it only adds rule '" : "",
        a->rule != b->rule ? c->src->rules[a->rule].id : "",
        a->rule != b->rule ? "' to the verdict's rules" : "");
}

/* Code points in s[0..n). */
static uint32_t cps(const unsigned char *s, size_t n)
{
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (s[i] & 0xC0) != 0x80;
    return k;
}

/* Same-key terms: duplicates and shadowed terms, reported on a. */
static int dup_of(lint *c, uint32_t a)
{
    const lterm *ta = &c->t[a];
    if (c->src->rules[ta->rule].kind != PSRC_TERMS)
        return 0;
    for (uint32_t b = c->k[ta->key].first; b != NONE; b = c->t[b].next) {
        const lterm *tb = &c->t[b];
        if (b == a || !covers(c, tb, ta, 0, 0) ||
            act_of(c, tb) < act_of(c, ta))
            continue;
        if (act_of(c, tb) == act_of(c, ta) && b > a &&
            covers(c, ta, tb, 0, 0))
            continue;   /* equal: reported on the later one */
        return report_dup(c, ta, tb);
    }
    return 0;
}

/* Other keys inside term a's key (hits h): the strongest one that
   covers it. */
static int contained_in(lint *c, uint32_t a, const hitv *h)
{
    const lterm *ta = &c->t[a];
    const lkey *ka = &c->k[ta->key];
    const lterm *best = NULL;
    if (c->src->rules[ta->rule].kind != PSRC_TERMS)
        return 0;
    for (size_t i = 0; i < h->n; i++) {
        const lkey *kb = &c->k[h->key[i]];
        if (kb == ka)
            continue;
        uint32_t boff = h->end[i] - kb->len;
        uint32_t off = cps(c->pool + ka->off, boff);
        for (uint32_t b = kb->first; b != NONE; b = c->t[b].next) {
            const lterm *tb = &c->t[b];
            if (act_of(c, tb) < act_of(c, ta) ||
                (best != NULL && act_of(c, tb) <= act_of(c, best)) ||
                !covers(c, tb, ta, off, boff))
                continue;
            best = tb;
        }
    }
    return best != NULL ? report_contained(c, ta, best) : 0;
}

static int check_overlaps(lint *c)
{
    hitv h;
    int rc = 0;
    memset(&h, 0, sizeof h);
    for (size_t ki = 0; ki < c->nk && rc == 0; ki++) {
        const lkey *k = &c->k[ki];
        const lgroup *g = &c->g[k->group];
        h.n = 0;
        h.g = g;
        if (!lg_any(g))
            continue;
        if (lg_scan(g, c->hs, (const char *)c->pool + k->off, k->len,
                on_contained, &h) != HS_SUCCESS && !h.oom) {
            rc = SLUICE_EINTERNAL;
            break;
        }
        if (h.oom) {
            rc = SLUICE_ENOMEM;
            break;
        }
        for (uint32_t a = k->first; a != NONE && rc == 0; a = c->t[a].next)
            if ((rc = dup_of(c, a)) == 0)
                rc = contained_in(c, a, &h);
    }
    for (size_t ki = 0; ki < c->nk && rc == 0; ki++) {
        const lkey *k = &c->k[ki];
        if (k->more > 0)
            rc = add_term(c, SLUICE_LINT_INFO, "contained-term",
                &c->t[k->first], "term %s also lies inside %u more terms "
                "of rules with a weaker or equal action (not listed)",
                q(c, c->t[k->first].src->text), k->more);
    }
    free(h.key);
    free(h.end);
    return rc;
}

/* Co-occurrence rules that list one term twice. */
static int check_all_dups(lint *c)
{
    const psrc *s = c->src;
    for (size_t i = 0; i < s->nrules; i++) {
        const psrc_rule *r = &s->rules[i];
        if (r->kind != PSRC_ALL)
            continue;
        for (size_t j = 1; j < r->nterms; j++) {
            const lterm *tj = &c->t[c->rule_first[i] + j];
            for (size_t k = 0; k < j && tj->key != NONE; k++) {
                const lterm *tk = &c->t[c->rule_first[i] + k];
                if (tk->key != tj->key)
                    continue;
                int raw = strcmp(tj->src->text, tk->src->text) == 0;
                int rc = add_term(c, SLUICE_LINT_WARNING, raw ?
                    "duplicate-term" : "normalized-duplicate", tj,
                    "co-occurrence rule '%s' lists %s twice (%s at %s): the "
                    "rule needs only one occurrence of it", r->id,
                    q(c, tj->src->text), raw ? "first" : q(c, tk->src->text),
                    where(c, tk->src));
                if (rc != 0)
                    return rc;
                break;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Short terms
 * ---------------------------------------------------------------------- */

static int check_short(lint *c)
{
    for (size_t i = 0; i < c->nt_; i++) {
        const lterm *t = &c->t[i];
        const psrc_rule *r = &c->src->rules[t->rule];
        size_t lim = t->han ? c->short_han : c->short_chars;
        if (t->key == NONE || t->ncp > lim)
            continue;
        int word = r->boundary == PSRC_BOUNDARY_WORD;
        int rc = add_term(c, SLUICE_LINT_WARNING, "short-term", t,
            "term %s is %u %s long after normalization: %s", q(c,
            t->src->text), t->ncp, t->ncp == 1 ? "code point" : "code points",
            r->kind == PSRC_ALL ? "a co-occurrence term this short occurs "
            "in many texts, so the rule rests on its other terms" :
            word ? "as a word it matches every text that uses it on its "
            "own" : "as a substring it matches inside every word that "
            "holds it; make sure none is harmless, or use a longer term");
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Regexes
 * ---------------------------------------------------------------------- */

typedef struct alpha {
    uint32_t cp[PROBE_ALPHABET];
    size_t n;
} alpha;

static void alpha_add(alpha *a, uint32_t cp)
{
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return;
    for (size_t i = 0; i < a->n; i++)
        if (a->cp[i] == cp)
            return;
    if (a->n < PROBE_ALPHABET)
        a->cp[a->n++] = cp;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The escape at p[i] ('\\'): add a character it matches; index after it. */
static size_t alpha_escape(alpha *a, const char *p, size_t i)
{
    char e = p[i + 1];
    size_t j = i + 2;
    static const char from[] = "dDwWsShvntrfe";
    static const char to[] = "1aa! a \n\n\t\r\f\x1b";
    const char *m = e != '\0' ? strchr(from, e) : NULL;
    if (e == '\0')
        return i + 1;
    if (m != NULL) {
        alpha_add(a, (unsigned char)to[m - from]);
    } else if (e == 'x') {
        uint32_t v = 0;
        if (p[j] == '{') {
            for (j++; p[j] != '\0' && p[j] != '}'; j++)
                if (hexval(p[j]) >= 0)
                    v = v * 16 + (uint32_t)hexval(p[j]);
            if (p[j] == '}')
                j++;
        } else {
            for (int k = 0; k < 2 && hexval(p[j]) >= 0; k++, j++)
                v = v * 16 + (uint32_t)hexval(p[j]);
        }
        alpha_add(a, v);
    } else if (e == 'p' || e == 'P') {
        if (p[j] == '{')
            while (p[j] != '\0' && p[j++] != '}')
                ;
        else if (p[j] != '\0')
            j++;
        alpha_add(a, 'a');
        alpha_add(a, 0x4E2D);
    } else if (!((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') ||
                 (e >= '0' && e <= '9'))) {
        alpha_add(a, (unsigned char)e);   /* an escaped literal */
    }
    return j;
}

/* Index of the ']' that closes the class opened at p[i], or of the NUL. */
static size_t class_end(const char *p, size_t i, alpha *a)
{
    size_t j = i + 1;
    if (p[j] == '^')
        j++;
    if (p[j] == ']') {
        if (a != NULL)
            alpha_add(a, ']');
        j++;
    }
    while (p[j] != '\0' && p[j] != ']') {
        if (p[j] == '[' && p[j + 1] == ':') {
            const char *e = strstr(p + j, ":]");
            if (a != NULL)
                alpha_add(a, 'a');
            j = e ? (size_t)(e - p) + 2 : j + 1;
        } else if (p[j] == '\\') {
            j = a != NULL ? alpha_escape(a, p, j) : j + (p[j + 1] ? 2 : 1);
        } else {
            size_t n;
            uint32_t cp = utf8_decode((const unsigned char *)p + j,
                strlen(p + j), &n);
            if (a != NULL && cp != '-')
                alpha_add(a, cp);
            j += n;
        }
    }
    return j;
}

/* Characters the pattern mentions, then a few common ones. */
static void alphabet(const char *p, alpha *a)
{
    size_t i = 0;
    a->n = 0;
    while (p[i] != '\0') {
        char ch = p[i];
        if (ch == '\\') {
            i = alpha_escape(a, p, i);
        } else if (ch == '[') {
            i = class_end(p, i, a);
            if (p[i] != '\0')
                i++;
        } else if (ch == '(' && (p[i + 1] == '?' || p[i + 1] == '*')) {
            i += 2;   /* group syntax: (?:  (?<name>  (?i)  (*VERB) */
            if (p[i - 1] == '*' || p[i] == '<' || p[i] == 'P' ||
                p[i] == '\'')
                while (p[i] != '\0' && p[i] != '>' && p[i] != ')' &&
                    p[i] != '\'' && p[i] != '=' && p[i] != '!')
                    i++;
            while (p[i] != '\0' && strchr("=!<>:-imnsx^'", p[i]) != NULL)
                i++;
        } else if (ch == '{') {
            while (p[i] != '\0' && p[i] != '}')
                i++;
            if (p[i] != '\0')
                i++;
        } else if (strchr("()|*+?^$", ch) != NULL) {
            i++;
        } else if (ch == '.') {
            alpha_add(a, 'a');
            i++;
        } else {
            size_t n;
            alpha_add(a, utf8_decode((const unsigned char *)p + i,
                strlen(p + i), &n));
            i += n;
        }
    }
    static const uint32_t common[] = {'a', '1', ' ', 0x4E2D, '.', '-'};
    for (size_t k = 0; k < sizeof common / sizeof common[0]; k++)
        alpha_add(a, common[k]);
}

static size_t utf8_put(char *b, uint32_t cp)
{
    if (cp < 0x80) {
        b[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | (cp >> 18));
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

typedef struct probe {
    pcre2_code *re;             /* as the runtime has it: JIT if any */
    pcre2_match_data *md;
    pcre2_match_context *mc;
    char buf[PROBE_MAX_SINGLE + 64];
    char unit[8];
    size_t ulen;
    char first[2];              /* a required first character, or "" */
    char last[2];               /* a required character, or "" */
    const char *tail;
    int req;                    /* put `last` after the tail */
    uint32_t opts;
} probe;

/* Fill x->buf: first, x->unit repeated to n bytes, the tail, last. */
static size_t probe_input(probe *x, size_t n)
{
    size_t len = strlen(x->first);
    memcpy(x->buf, x->first, len);
    while (len + x->ulen <= n) {
        memcpy(x->buf + len, x->unit, x->ulen);
        len += x->ulen;
    }
    size_t tl = strlen(x->tail);
    memcpy(x->buf + len, x->tail, tl);
    len += tl;
    if (x->req && x->last[0] != '\0')
        x->buf[len++] = x->last[0];
    return len;
}

/* An ASCII code unit PCRE2 says every match starts with / holds. */
static void probe_required(probe *x)
{
    uint32_t type = 0, unit = 0;
    if (pcre2_pattern_info(x->re, PCRE2_INFO_FIRSTCODETYPE, &type) == 0 &&
        type == 1 &&
        pcre2_pattern_info(x->re, PCRE2_INFO_FIRSTCODEUNIT, &unit) == 0 &&
        unit > 0 && unit < 0x80)
        x->first[0] = (char)unit;
    if (pcre2_pattern_info(x->re, PCRE2_INFO_LASTCODETYPE, &type) == 0 &&
        type == 1 &&
        pcre2_pattern_info(x->re, PCRE2_INFO_LASTCODEUNIT, &unit) == 0 &&
        unit > 0 && unit < 0x80)
        x->last[0] = (char)unit;
}

static int probe_run(probe *x, size_t len, double *ms)
{
    double t0 = policy_now_ms();
    int rc = pcre2_match(x->re, (PCRE2_SPTR)x->buf, len, 0, x->opts, x->md,
        x->mc);
    *ms = policy_now_ms() - t0;
    return rc;
}

static double probe_best(probe *x, size_t n, double first)
{
    size_t len = probe_input(x, n);
    double best = first, ms;
    for (int k = 0; k < 2; k++) {
        (void)probe_run(x, len, &ms);
        if (ms < best)
            best = ms;
    }
    return best;
}

/* A generated input for messages: 'aaaa...a!' (n bytes in all). */
static const char *probe_show(lint *c, const probe *x, size_t n)
{
    char tmp[64];
    size_t k = 0;
    if (x->first[0] != '\0')
        tmp[k++] = x->first[0];
    for (int r = 0; r < 4 && k + x->ulen < 40; r++, k += x->ulen)
        memcpy(tmp + k, x->unit, x->ulen);
    memcpy(tmp + k, "...", 3);
    k += 3;
    size_t tl = strlen(x->tail);
    memcpy(tmp + k, x->tail, tl);
    k += tl;
    if (x->req && x->last[0] != '\0')
        tmp[k++] = x->last[0];
    tmp[k] = '\0';
    const char *s = q(c, tmp);
    char *b = c->q[c->qi++ & 3];
    snprintf(b, sizeof c->q[0], "%zu bytes like %s%s", n, s,
        x->opts ? " (streaming)" : "");
    return b;
}

/*
 * One series: the unit repeated at doubling lengths, up to `max` bytes or
 * a match slower than PROBE_GIVEUP_MS. A limit hit is an error whatever
 * the timing said before it; only a series that hits none reports time
 * that grows faster than the text. So whether a regex is an error does
 * not depend on the machine's load. Returns 1 when it found a problem
 * (reported), 0 if not, or a negative error.
 */
static int probe_series(lint *c, const psrc_rule *r, int line, probe *x,
    size_t max)
{
    double prev = -1.0, ms, slow_a = 0.0, slow_b = 0.0;
    size_t slow_n = 0;
    char shown[256] = "";
    int rc;
    for (size_t n = 16; n <= max; n *= 2) {
        size_t len = probe_input(x, n);
        rc = probe_run(x, len, &ms);
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
            rc == PCRE2_ERROR_HEAPLIMIT) {
            rc = add(c, SLUICE_LINT_ERROR, "regex-backtracking", r->file,
                line, r->id, NULL, "rule '%s': regex hits PCRE2's %s limit "
                "on %s: at run time such text is blocked (reason "
                "regex_limit); rewrite the nested or adjacent repeats",
                r->id, rc == PCRE2_ERROR_MATCHLIMIT ? "match" :
                rc == PCRE2_ERROR_DEPTHLIMIT ? "depth" : "heap",
                probe_show(c, x, len));
            return rc != 0 ? rc : 1;
        }
        if (slow_n == 0 && ms > PROBE_SLOW_MS) {
            ms = probe_best(x, n, ms);
            if (prev > 0.0)
                prev = probe_best(x, n / 2, prev);
            if (ms > PROBE_SLOW_MS && prev > 0.02 && ms / prev > 2.7) {
                slow_n = len;
                slow_a = prev;
                slow_b = ms;
                snprintf(shown, sizeof shown, "%s", probe_show(c, x, len));
            }
        }
        if (ms > PROBE_GIVEUP_MS)
            break;
        prev = ms;
    }
    if (slow_n == 0)
        return 0;
    rc = add(c, SLUICE_LINT_WARNING, "regex-slow", r->file, line, r->id,
        NULL, "rule '%s': regex time grows faster than the text (%.2f ms "
        "for half as much, %.2f ms for %s): long outputs can take minutes; "
        "make adjacent repeats that can match the same characters (like "
        "\\d+\\d+) exclusive or possessive", r->id, slow_a, slow_b, shown);
    return rc != 0 ? rc : 1;
}

static int probe_regex(lint *c, size_t ri, const alpha *al)
{
    const psrc_rule *r = &c->src->rules[ri];
    int line = r->regex_line ? r->regex_line : r->line;
    int ec, rc = 0;
    PCRE2_SIZE eo;
    probe *x = calloc(1, sizeof *x);
    if (x == NULL)
        return SLUICE_ENOMEM;
    x->re = pcre2_compile((PCRE2_SPTR)r->regex, PCRE2_ZERO_TERMINATED,
        PCRE2_UTF, &ec, &eo, NULL);
    x->md = x->re ? pcre2_match_data_create_from_pattern(x->re, NULL) : NULL;
    x->mc = pcre2_match_context_create(NULL);
    if (x->re == NULL || x->md == NULL || x->mc == NULL ||
        pcre2_set_match_limit(x->mc, MATCH_LIMIT) != 0 ||
        pcre2_set_depth_limit(x->mc, DEPTH_LIMIT) != 0) {
        rc = x->re == NULL ? 0 : SLUICE_ENOMEM;
        goto out;
    }
    (void)pcre2_jit_compile(x->re, PCRE2_JIT_COMPLETE |
        PCRE2_JIT_PARTIAL_HARD);   /* as the runtime: JIT when there is */
    probe_required(x);
    double t0 = policy_now_ms();
    size_t npair = al->n < PROBE_PAIRS ? al->n : PROBE_PAIRS;
    size_t nunits = al->n + npair * npair;
    static const char *const tails[] = {"", "!", ""};   /* the last one
                                                           streaming */
    for (size_t u = 0; u < nunits && rc == 0; u++) {
        if (u < al->n) {
            x->ulen = utf8_put(x->unit, al->cp[u]);
        } else {
            size_t k = u - al->n;
            x->ulen = utf8_put(x->unit, al->cp[k / npair]);
            x->ulen += utf8_put(x->unit + x->ulen, al->cp[k % npair]);
        }
        for (int t = 0; t < 3 && rc == 0; t++) {
            x->tail = tails[t];
            x->req = t < 2;
            x->opts = t == 2 ? PCRE2_PARTIAL_HARD : 0;
            rc = probe_series(c, r, line, x, u < al->n ? PROBE_MAX_SINGLE :
                PROBE_MAX_PAIR);
        }
        if (policy_now_ms() - t0 > PROBE_BUDGET_MS)
            break;
    }
    if (rc > 0)
        rc = 0;
out:
    pcre2_match_data_free(x->md);
    pcre2_match_context_free(x->mc);
    pcre2_code_free(x->re);
    free(x);
    return rc;
}

/* A zero-length match on the empty text or a one-character one: the
   alphabet index + 1 of that character (0: the empty text) with the
   offset in *at, -1 if none, -2 out of memory. subj gets the text. */
static int empty_match(pcre2_code *re, const alpha *al, char *subj,
    size_t *at)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int found = -1;
    if (md == NULL)
        return -2;
    for (size_t i = 0; i <= al->n && found < 0; i++) {
        size_t n = i == 0 ? 0 : utf8_put(subj, al->cp[i - 1]);
        subj[n] = '\0';
        for (PCRE2_SIZE off = 0; off <= n && found < 0; off++) {
            int rc = pcre2_match(re, (PCRE2_SPTR)subj, n, off, 0, md, NULL);
            if (rc < 0)
                break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            if (ov[0] == ov[1]) {
                found = (int)i;
                *at = ov[0];
            }
            off = ov[1] > off ? ov[1] - 1 : off;
        }
    }
    pcre2_match_data_free(md);
    return found;
}

static int regex_static(lint *c, size_t ri, pcre2_code *re, const alpha *al)
{
    const psrc_rule *r = &c->src->rules[ri];
    int line = r->regex_line ? r->regex_line : r->line;
    char subj[8], ctx[96];
    size_t at = 0;
    int rc = 0;
    int e = empty_match(re, al, subj, &at);
    if (e == -2)
        return SLUICE_ENOMEM;
    if (e == 0)
        snprintf(ctx, sizeof ctx, "in an empty text");
    else if (e > 0)
        snprintf(ctx, sizeof ctx, "in %s at offset %zu", q(c, subj), at);
    if (e >= 0 && (rc = add(c, SLUICE_LINT_WARNING, "regex-empty-match",
             r->file, line, r->id, NULL, "rule '%s': regex matches the empty "
             "string (%s): empty matches never fire, so this is usually a "
             "'*' or '?' where '+' was meant", r->id, ctx)) != 0)
        return rc;
    uint32_t first = 0, last = 0;
    const sluice_policy *p = c->p;
    /* a run gate (rx_run_of) stands before the prefilter */
    uint32_t run = p != NULL ? p->rules[ri].run_gate : 0;
    if (pcre2_pattern_info(re, PCRE2_INFO_FIRSTCODETYPE, &first) == 0 &&
        pcre2_pattern_info(re, PCRE2_INFO_LASTCODETYPE, &last) == 0 &&
        first != 1 && last == 0) {
        char gate[192] = "only its Hyperscan prefilter keeps PCRE2 from "
            "running on an output";
        if (run != 0)
            snprintf(gate, sizeof gate, "its run gate (%u %s in a row) and "
                "its Hyperscan prefilter keep PCRE2 from running on most "
                "outputs", (unsigned)run,
                p->rules[ri].run_class == RX_RUN_DOTTED ? "digits or dots" :
                "digits, spaces or hyphens");
        if ((rc = add(c, SLUICE_LINT_INFO, "regex-no-literal", r->file, line,
                 r->id, NULL, "rule '%s': regex has no literal character "
                 "that every match must hold: %s", r->id, gate)) != 0)
            return rc;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    if (p != NULL && p->rules[ri].prefiltered &&
        (p->rules[ri].gated ? p->rules[ri].pf_db != NULL :
         p->rx_db[r->on == PSRC_ON_ORIGINAL ? 0 : 1] != NULL))
        return 0;   /* the compiled policy has it in its prefilter */
    if (hs_compile(r->regex, RX_PREFILTER_FLAGS, HS_MODE_BLOCK, NULL, &db,
            &ce) != HS_SUCCESS) {
        rc = add(c, SLUICE_LINT_WARNING, "regex-unfiltered", r->file, line,
            r->id, NULL, "rule '%s': Hyperscan cannot build a prefilter for "
            "this regex (%s): PCRE2 runs it over every output%s, not only "
            "those that might match", r->id, ce && ce->message ?
            ce->message : "unknown reason", run ? " holding its digit run" :
            "");
        hs_free_compile_error(ce);
    } else {
        hs_free_database(db);
    }
    return rc;
}

/* Compile each regex as the compiler does; check and probe it. re[ri]
   keeps the compiled pattern (NULL if it does not compile). */
static int check_regexes(lint *c, pcre2_code **re)
{
    const psrc *s = c->src;
    int rc = 0;
    for (size_t i = 0; i < s->nrules && rc == 0; i++) {
        const psrc_rule *r = &s->rules[i];
        int line = r->regex_line ? r->regex_line : r->line;
        int ec = 0;
        PCRE2_SIZE eo = 0;
        alpha al;
        if (r->kind != PSRC_REGEX)
            continue;
        re[i] = pcre2_compile((PCRE2_SPTR)r->regex, PCRE2_ZERO_TERMINATED,
            PCRE2_UTF, &ec, &eo, NULL);
        if (re[i] == NULL) {
            PCRE2_UCHAR msg[256];
            if (pcre2_get_error_message(ec, msg, sizeof msg) < 0)
                snprintf((char *)msg, sizeof msg, "error %d", ec);
            c->rx_bad[i] = 1;
            rc = add(c, SLUICE_LINT_ERROR, "regex-invalid", r->file, line,
                r->id, NULL, "rule '%s': bad regex at offset %zu: %s: the "
                "policy is refused", r->id, (size_t)eo, (const char *)msg);
            continue;
        }
        alphabet(r->regex, &al);
        rc = regex_static(c, i, re[i], &al);
        if (rc == 0 && !c->o->no_regex_probe)
            rc = probe_regex(c, i, &al);
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Allow list: which keys an allow term can swallow; unused allow terms
 * ---------------------------------------------------------------------- */

typedef struct allowscan {
    lint *c;
    const norm_out *o;
    const char *text;       /* the allow term as written */
    size_t len;
    const lgroup *g;
    int noise;              /* the group skips noise: inserted noise can
                               make any boundary */
    int used;
} allowscan;

static int ascii_word(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9') || ch == '_';
}

/* Can offset `off` of the allow term be a word boundary in some text? */
static int boundary_possible(const allowscan *a, size_t off)
{
    const unsigned char *u = (const unsigned char *)a->text;
    return a->noise || off == 0 || off >= a->len ||
        !(ascii_word(u[off - 1]) && ascii_word(u[off]));
}

/* Do the stream's runs at [ns, ne) reach the key's? */
static int runs_reach(const lint *c, const lkey *k, const norm_out *o,
    size_t ns, size_t ne)
{
    uint32_t i = 0;
    if (k->runs == NONE)
        return 1;
    for (size_t p = ns; p < ne && i < k->ncp; p++)
        if ((o->text[p] & 0xC0) != 0x80 && o->run[p] < key_run(c, k, i++))
            return 0;
    return 1;
}

static int on_allow(unsigned int id, unsigned long long from,
    unsigned long long to, unsigned int flags, void *ctx)
{
    allowscan *a = ctx;
    lint *c = a->c;
    if ((id = hit_key(a->g, id)) == NONE)
        return 0;
    lkey *k = &c->k[id];
    const norm_out *o = a->o;
    size_t ne = (size_t)to, ns = ne - k->len;
    (void)from;
    (void)flags;
    if ((o->text[ns] & 0xC0) == 0x80 || !runs_reach(c, k, o, ns, ne))
        return 0;
    k->allow_sens = 1;
    size_t os = o->src[ns], oe = o->src_end[ne - 1];
    for (uint32_t t = k->first; t != NONE && !a->used; t = c->t[t].next) {
        const psrc_rule *r = &c->src->rules[c->t[t].rule];
        if (r->boundary != PSRC_BOUNDARY_WORD ||
            (boundary_possible(a, os) && boundary_possible(a, oe)))
            a->used = 1;
    }
    return 0;
}

/* Does some regex rule match (non-empty) inside the allow term? 0 or
   SLUICE_ENOMEM. */
static int regex_inside(lint *c, pcre2_code **re, const char *text,
    int *hit)
{
    const psrc *s = c->src;
    *hit = 0;
    for (size_t i = 0; i < s->nrules && !*hit; i++) {
        const char *subj = text;
        size_t n = strlen(text);
        if (re[i] == NULL)
            continue;
        if (s->rules[i].on != PSRC_ON_ORIGINAL) {
            /* `on: normalized` regexes see the policy's steps, noise kept */
            norm_out_reset(&c->no);
            if (norm_text(c->nt, allow_flags(s) & ~NORM_SKIP_NOISE, text, n,
                    &c->no) != 0)
                return SLUICE_ENOMEM;
            subj = n > 0 && c->no.len > 0 ? (const char *)c->no.text : "";
            n = c->no.len;
        }
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(re[i],
            NULL);
        if (md == NULL)
            return SLUICE_ENOMEM;
        *hit = pcre2_match(re[i], (PCRE2_SPTR)subj, n, 0, PCRE2_NOTEMPTY, md,
            NULL) >= 0;
        pcre2_match_data_free(md);
    }
    return 0;
}

/*
 * Scan every allow term, normalized with each group's steps, against the
 * group's keys: marks keys an allow term may swallow (lkey.allow_sens) and
 * reports allow terms that hold no rule's match at all.
 */
static int check_allow(lint *c, pcre2_code **re)
{
    const psrc *s = c->src;
    norm_out o;
    int rc = 0;
    norm_out_init(&o);
    c->aoff = calloc(c->ng * s->nallow + 1, sizeof *c->aoff);
    c->alen = calloc(c->ng * s->nallow + 1, sizeof *c->alen);
    if (c->aoff == NULL || c->alen == NULL)
        return SLUICE_ENOMEM;
    for (size_t j = 0; j < s->nallow && rc == 0; j++) {
        allowscan a;
        if (c->allow_empty[j])
            continue;
        memset(&a, 0, sizeof a);
        a.c = c;
        a.o = &o;
        a.text = s->allow[j].text;
        a.len = strlen(a.text);
        for (size_t g = 0; g < c->ng && rc == 0; g++) {
            if (!lg_any(&c->g[g]))
                continue;
            norm_out_reset(&o);
            a.noise = (c->g[g].flags & NORM_SKIP_NOISE) != 0;
            a.g = &c->g[g];
            if (norm_text(c->nt, c->g[g].flags, a.text, a.len, &o) != 0 ||
                policy_grow((void **)&c->apool, &c->capapool, c->napool + o.len,
                    1) != 0) {
                rc = SLUICE_ENOMEM;
                break;
            }
            if (o.len > 0)
                memcpy(c->apool + c->napool, o.text, o.len);
            c->aoff[g * s->nallow + j] = (uint32_t)c->napool;
            c->alen[g * s->nallow + j] = (uint32_t)o.len;
            c->napool += o.len;
            if (o.len > 0 && lg_scan(&c->g[g], c->hs, (const char *)o.text,
                    o.len, on_allow, &a) != HS_SUCCESS)
                rc = SLUICE_EINTERNAL;
        }
        int hit = 0;
        if (rc == 0 && !a.used)
            rc = regex_inside(c, re, a.text, &hit);
        if (rc == 0 && !a.used && !hit) {
            lterm t;
            memset(&t, 0, sizeof t);
            t.src = &s->allow[j];
            t.rule = NONE;
            rc = add_term(c, SLUICE_LINT_INFO, "allow-unused", &t,
                "allow term %s holds no match of any rule, so it never "
                "suppresses anything", q(c, a.text));
        }
    }
    norm_out_free(&o);
    return rc;
}

/* ------------------------------------------------------------------------
 * Scunthorpe report: substring terms inside common words
 * ---------------------------------------------------------------------- */

typedef struct vocab {
    char *buf;              /* words, each followed by '\n' */
    size_t len, cap;
    uint32_t *start;        /* word i starts at buf[start[i]] */
    size_t n, capn;
    uint32_t *set;          /* dedup: word index + 1 */
    size_t setcap;
} vocab;

static void vocab_free(vocab *v)
{
    free(v->buf);
    free(v->start);
    free(v->set);
}

static size_t word_end(const vocab *v, size_t w)
{
    return (w + 1 < v->n ? v->start[w + 1] : v->len) - 1;
}

static int vocab_rehash(vocab *v)
{
    size_t cap = v->setcap ? v->setcap * 2 : 1 << 16;
    uint32_t *set = calloc(cap, sizeof *set);
    if (set == NULL)
        return SLUICE_ENOMEM;
    for (size_t w = 0; w < v->n; w++) {
        size_t j = (size_t)hash_key(0, (unsigned char *)v->buf + v->start[w],
            word_end(v, w) - v->start[w]) & (cap - 1);
        while (set[j] != 0)
            j = (j + 1) & (cap - 1);
        set[j] = (uint32_t)w + 1;
    }
    free(v->set);
    v->set = set;
    v->setcap = cap;
    return 0;
}

/* Add word s[0..n) unless already there. */
static int vocab_add(vocab *v, const char *s, size_t n)
{
    if ((v->n + 1) * 2 > v->setcap && vocab_rehash(v) != 0)
        return SLUICE_ENOMEM;
    size_t j = (size_t)hash_key(0, (const unsigned char *)s, n) &
        (v->setcap - 1);
    for (; v->set[j] != 0; j = (j + 1) & (v->setcap - 1)) {
        size_t w = v->set[j] - 1;
        if (word_end(v, w) - v->start[w] == n &&
            memcmp(v->buf + v->start[w], s, n) == 0)
            return 0;
    }
    if (v->len + n + 1 > VOCAB_MAX_BYTES)
        return SLUICE_ETOOBIG;
    if (policy_grow((void **)&v->buf, &v->cap, v->len + n + 1, 1) != 0 ||
        policy_grow((void **)&v->start, &v->capn, v->n + 1, sizeof *v->start) != 0)
        return SLUICE_ENOMEM;
    v->start[v->n] = (uint32_t)v->len;
    memcpy(v->buf + v->len, s, n);
    v->buf[v->len + n] = '\n';
    v->len += n + 1;
    v->set[j] = (uint32_t)++v->n;
    return 0;
}

/* Read a whole regular file (at most VOCAB_MAX_BYTES). *eno: errno of a
   failed open or read, 0 for other reasons. */
static int read_whole(const char *path, char **out, size_t *len, int *eno)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    *out = NULL;
    *eno = 0;
    if (f == NULL) {
        *eno = errno;
        return SLUICE_EIO;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > VOCAB_MAX_BYTES) {
        fclose(f);
        return SLUICE_EIO;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        return SLUICE_ENOMEM;
    }
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        *eno = errno;
        fclose(f);
        free(buf);
        return SLUICE_EIO;
    }
    fclose(f);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

/* Read the vocabulary files: the first field of each line is a word. */
static int vocab_load(vocab *v, const sluice_lint_options *o,
    sluice_error *err)
{
    for (size_t i = 0; i < o->nvocab; i++) {
        const char *path = o->vocab[i];
        char *buf = NULL;
        size_t len = 0;
        int eno = 0;
        if (path == NULL)
            return psrc_error(err, SLUICE_EINVAL, NULL, 0,
                "sluice_lint_options.vocab[%zu] is NULL", i);
        int rc = read_whole(path, &buf, &len, &eno);
        if (rc != 0)
            return psrc_error(err, rc, path, 0, "cannot read vocabulary "
                "file: %s", rc == SLUICE_ENOMEM ? "out of memory" : eno ?
                strerror(eno) : "not a regular file, or too large");
        size_t p = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
        while (p < len && rc == 0) {
            size_t e = p;
            while (e < len && buf[e] != '\n')
                e++;
            size_t w = p;
            while (w < e && buf[w] != ' ' && buf[w] != '\t' && buf[w] != '\r')
                w++;
            if (w > p)
                rc = vocab_add(v, buf + p, w - p);
            p = e + 1;
        }
        free(buf);
        if (rc == SLUICE_ETOOBIG)
            return psrc_error(err, rc, path, 0, "the vocabularies hold over "
                "%zu bytes of words in all", VOCAB_MAX_BYTES);
        if (rc != 0)
            return psrc_error(err, rc, path, 0, "out of memory reading the "
                "vocabulary");
    }
    return 0;
}

typedef struct span32 {
    uint32_t a, b;
} span32;

typedef struct scun {
    lint *c;
    const vocab *v;
    const norm_out *o;
    size_t base;            /* chunk start in v->buf */
    uint32_t *count;        /* per key: words */
    uint32_t *lastw;        /* per key: last word counted + 1 */
    uint32_t *ex;           /* per key: examples (word indexes) */
    span32 *allow;          /* allow hits, sorted by start */
    size_t nallow, capallow;
    const lkey *akeys;      /* allow-term keys, for the allow pass */
    const lgroup *g;        /* the group being scanned */
    int oom;
} scun;

static size_t word_at(const vocab *v, size_t off)
{
    size_t lo = 0, hi = v->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->start[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int inside_allow(const scun *s, size_t a, size_t b, size_t ws)
{
    size_t lo = 0, hi = s->nallow;
    while (lo < hi) {   /* first span starting after a */
        size_t mid = lo + (hi - lo) / 2;
        if (s->allow[mid].a <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    while (lo-- > 0 && s->allow[lo].a >= ws)
        if (s->allow[lo].b >= b)
            return 1;
    return 0;
}

static void add_example(scun *s, uint32_t key, uint32_t w)
{
    size_t k = s->c->examples;
    uint32_t *ex = s->ex + (size_t)key * k;
    const vocab *v = s->v;
    size_t len = word_end(v, w) - v->start[w];
    size_t i = s->count[key] - 1 < k ? s->count[key] - 1 : k;
    if (i == k) {   /* full: replace the longest if this one is shorter */
        size_t worst = 0, wl = 0;
        for (size_t j = 0; j < k; j++) {
            size_t l = word_end(v, ex[j]) - v->start[ex[j]];
            if (l > wl) {
                wl = l;
                worst = j;
            }
        }
        if (len >= wl)
            return;
        i = worst;
    }
    ex[i] = w;
}

static int on_vocab(unsigned int id, unsigned long long from,
    unsigned long long to, unsigned int flags, void *ctx)
{
    scun *s = ctx;
    const lint *c = s->c;
    if ((id = hit_key(s->g, id)) == NONE)
        return 0;
    const lkey *k = &c->k[id];
    const norm_out *o = s->o;
    size_t ne = (size_t)to, ns = ne - k->len;
    (void)from;
    (void)flags;
    if (!k->scun || (o->text[ns] & 0xC0) == 0x80 ||
        !runs_reach(c, k, o, ns, ne))
        return 0;
    size_t os = s->base + o->src[ns], oe = s->base + o->src_end[ne - 1];
    size_t w = word_at(s->v, os), ws = s->v->start[w];
    size_t we = word_end(s->v, w);
    if (oe > we || (os == ws && oe == we) || s->lastw[id] == w + 1 ||
        (s->nallow > 0 && inside_allow(s, os, oe, ws)))
        return 0;
    s->lastw[id] = (uint32_t)w + 1;
    s->count[id]++;
    add_example(s, id, (uint32_t)w);
    return 0;
}

static int on_vocab_allow(unsigned int id, unsigned long long from,
    unsigned long long to, unsigned int flags, void *ctx)
{
    scun *s = ctx;
    const norm_out *o = s->o;
    size_t ne = (size_t)to, ns = ne - s->akeys[id].len;
    (void)from;
    (void)flags;
    if ((o->text[ns] & 0xC0) == 0x80)
        return 0;
    size_t os = s->base + o->src[ns], oe = s->base + o->src_end[ne - 1];
    if (oe > word_end(s->v, word_at(s->v, os)))
        return 0;
    if (policy_grow((void **)&s->allow, &s->capallow, s->nallow + 1,
            sizeof *s->allow) != 0) {
        s->oom = 1;
        return 1;
    }
    s->allow[s->nallow].a = (uint32_t)os;
    s->allow[s->nallow++].b = (uint32_t)oe;
    return 0;
}

/* Scan the vocabulary, normalized with `flags` in chunks of whole words,
   with db; cb gets each hit. */
static int vocab_scan(lint *c, scun *s, unsigned flags, const lgroup *g,
    match_event_handler cb)
{
    const vocab *v = s->v;
    norm_out o;
    int rc = 0;
    norm_out_init(&o);
    s->o = &o;
    for (size_t p = 0; p < v->len && rc == 0;) {
        size_t e = p + VOCAB_CHUNK < v->len ? p + VOCAB_CHUNK : v->len;
        while (e < v->len && v->buf[e - 1] != '\n')
            e++;
        norm_out_reset(&o);
        s->base = p;
        if (norm_text(c->nt, flags, v->buf + p, e - p, &o) != 0)
            rc = SLUICE_ENOMEM;
        else if (o.len > 0 && lg_scan(g, c->hs, (const char *)o.text,
                o.len, cb, s) != HS_SUCCESS)
            rc = s->oom ? SLUICE_ENOMEM : SLUICE_EINTERNAL;
        p = e;
    }
    norm_out_free(&o);
    return rc;
}

static int cmp_span(const void *a, const void *b)
{
    const span32 *x = a, *y = b;
    if (x->a != y->a)
        return x->a < y->a ? -1 : 1;
    return x->b < y->b ? -1 : (x->b > y->b);
}

/* The allow terms normalized with the allow list's steps, back to back
   in *bytes (the caller frees it); ak[i] says where the i-th non-empty
   one is. */
static int allow_norm(lint *c, unsigned char **bytes, lkey *ak, size_t *n)
{
    const psrc *ps = c->src;
    size_t nb = 0, capb = 0;
    *n = 0;
    for (size_t j = 0; j < ps->nallow; j++) {
        norm_out_reset(&c->no);
        if (norm_text(c->nt, allow_flags(ps), ps->allow[j].text,
                strlen(ps->allow[j].text), &c->no) != 0 ||
            policy_grow((void **)bytes, &capb, nb + c->no.len + 1, 1) != 0)
            return SLUICE_ENOMEM;
        if (c->no.len == 0)
            continue;
        memcpy(*bytes + nb, c->no.text, c->no.len);
        ak[*n].off = (uint32_t)nb;
        ak[*n].len = (uint32_t)c->no.len;
        nb += c->no.len;
        (*n)++;
    }
    return 0;
}

/* Where allow terms occur in the vocabulary (their hits are not counted). */
static int vocab_allow(lint *c, scun *s)
{
    size_t na = c->src->nallow ? c->src->nallow : 1, n = 0;
    lkey *ak = calloc(na, sizeof *ak);
    const char **ex = calloc(na, sizeof *ex);
    size_t *lens = calloc(na, sizeof *lens);
    unsigned *ids = calloc(na, sizeof *ids);
    unsigned *fl = calloc(na, sizeof *fl);
    unsigned char *bytes = NULL;
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    int rc = ak && ex && lens && ids && fl ? allow_norm(c, &bytes, ak, &n) :
        SLUICE_ENOMEM;
    for (size_t j = 0; rc == 0 && j < n; j++) {
        ex[j] = (const char *)bytes + ak[j].off;
        lens[j] = ak[j].len;
        ids[j] = (unsigned)j;
    }
    if (rc == 0 && n > 0 && hs_compile_lit_multi(ex, fl, ids, lens,
            (unsigned)n, HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
        hs_free_compile_error(ce);
        db = NULL;
        rc = SLUICE_EINTERNAL;
    }
    if (rc == 0 && db != NULL && hs_alloc_scratch(db, &c->hs) != HS_SUCCESS)
        rc = SLUICE_ENOMEM;
    if (rc == 0 && db != NULL) {
        s->akeys = ak;
        lgroup ag;
        memset(&ag, 0, sizeof ag);
        ag.db = db;
        rc = vocab_scan(c, s, allow_flags(c->src), &ag, on_vocab_allow);
        s->akeys = NULL;
        if (s->nallow > 1)
            qsort(s->allow, s->nallow, sizeof *s->allow, cmp_span);
    }
    if (db != NULL)
        hs_free_database(db);
    free(ak);
    free(ex);
    free(lens);
    free(ids);
    free(fl);
    free(bytes);
    return rc;
}

static int report_scunthorpe(lint *c, const scun *s)
{
    const vocab *v = s->v;
    for (size_t ki = 0; ki < c->nk; ki++) {
        const lkey *k = &c->k[ki];
        if (!k->scun || s->count[ki] < c->scun_min)
            continue;
        const lterm *t = NULL;
        for (uint32_t i = k->first; i != NONE && t == NULL; i = c->t[i].next) {
            const psrc_rule *r = &c->src->rules[c->t[i].rule];
            if (r->kind == PSRC_TERMS && r->boundary != PSRC_BOUNDARY_WORD)
                t = &c->t[i];
        }
        if (t == NULL)
            continue;
        /* examples, shortest first */
        uint32_t ex[MAX_EXAMPLES];
        size_t ne = s->count[ki] < c->examples ? s->count[ki] : c->examples;
        memcpy(ex, s->ex + ki * c->examples, ne * sizeof *ex);
        for (size_t i = 1; i < ne; i++)
            for (size_t j = i; j > 0 && (word_end(v, ex[j]) - v->start[ex[j]] <
                     word_end(v, ex[j - 1]) - v->start[ex[j - 1]] ||
                     (word_end(v, ex[j]) - v->start[ex[j]] == word_end(v,
                     ex[j - 1]) - v->start[ex[j - 1]] && ex[j] < ex[j - 1]));
                 j--) {
                uint32_t tmp = ex[j];
                ex[j] = ex[j - 1];
                ex[j - 1] = tmp;
            }
        char list[512];
        size_t n = 0;
        for (size_t i = 0; i < ne && n < sizeof list - 80; i++) {
            char w[72];
            size_t wl = word_end(v, ex[i]) - v->start[ex[i]];
            if (wl > 60)
                wl = 60;
            memcpy(w, v->buf + v->start[ex[i]], wl);
            w[wl] = '\0';
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s",
                i ? ", " : "", q(c, w));
        }
        list[n] = '\0';
        int rc = add_term(c, SLUICE_LINT_WARNING, "scunthorpe", t,
            "term %s lies inside %u words of the reference vocabulary (%s%s)"
            ": as a substring it matches in all of them; use boundary: "
            "word, a longer term, or allow entries", q(c, t->src->text),
            s->count[ki], list, s->count[ki] > ne ? ", ..." : "");
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int check_scunthorpe(lint *c, const vocab *v)
{
    scun s;
    int rc = 0, any = 0;
    memset(&s, 0, sizeof s);
    for (size_t i = 0; i < c->nk; i++)
        any |= c->k[i].scun;
    if (!any || v->n == 0)
        return 0;
    s.c = c;
    s.v = v;
    s.count = calloc(c->nk, sizeof *s.count);
    s.lastw = calloc(c->nk, sizeof *s.lastw);
    s.ex = calloc(c->nk * c->examples, sizeof *s.ex);
    if (s.count == NULL || s.lastw == NULL || s.ex == NULL) {
        rc = SLUICE_ENOMEM;
        goto out;
    }
    if (c->src->nallow > 0)
        rc = vocab_allow(c, &s);
    for (size_t g = 0; g < c->ng && rc == 0; g++) {
        int want = 0;
        for (size_t i = 0; i < c->nk && !want; i++)
            want = c->k[i].group == (int)g && c->k[i].scun;
        s.g = &c->g[g];
        if (want && lg_any(&c->g[g]))
            rc = vocab_scan(c, &s, c->g[g].flags, &c->g[g], on_vocab);
    }
    if (rc == 0)
        rc = report_scunthorpe(c, &s);
out:
    free(s.count);
    free(s.lastw);
    free(s.ex);
    free(s.allow);
    return rc;
}

/* ------------------------------------------------------------------------
 * lint.yaml: minimum term counts, beside policy.yaml
 *
 *   min_terms: {a1.01: 200, a2.01: 100}    # category id -> count
 *   min_total_terms: 10000                 # all rules' terms
 *
 * Read as strictly as policy.yaml (unknown or duplicate keys, values of
 * the wrong type, aliases and a second document are refused with the
 * file and line), but only by lint: it is not a policy source. A missing
 * file is no minimums; an empty one (or comments only) too.
 * ---------------------------------------------------------------------- */

#define CONF_NAME "lint.yaml"
#define CONF_MAX_BYTES ((size_t)1 << 20)
#define CONF_ID_MAX 128         /* bytes in an id, as in policy.yaml */
#define CONF_COUNT_MAX 1000000000000ull   /* far above any real list */

typedef struct conf {
    lint *c;
    const char *path;       /* lint.yaml as shown */
    yaml_document_t doc;
    uint8_t *seen;          /* per node: reached once already */
    sluice_error *err;
} conf;

static int conf_err(conf *k, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error about lint.yaml at `line` (0: the whole file). */
static int conf_err(conf *k, int line, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return psrc_error(k->err, SLUICE_EPOLICY, k->path, line, "%s", buf);
}

static int conf_line(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

/* Node `id`, refusing one reached twice (an alias). */
static int conf_node(conf *k, int id, yaml_node_t **out)
{
    yaml_node_t *n = yaml_document_get_node(&k->doc, id);
    if (n == NULL)
        return psrc_error(k->err, SLUICE_EINTERNAL, k->path, 0,
            "libyaml returned a dangling node");
    size_t i = (size_t)(n - k->doc.nodes.start);
    if (k->seen[i])
        return conf_err(k, conf_line(n), "YAML anchors and aliases (&name, "
            "*name) are not supported: the node here is used twice");
    k->seen[i] = 1;
    *out = n;
    return 0;
}

static int conf_null(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
        strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static const char *conf_kind(const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a sequence";
    if (conf_null(n))
        return "an empty value";
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "a string" :
        "a quoted string";
}

/* A count: a plain scalar of decimal digits, no sign, no leading zero. */
static int conf_count(conf *k, const yaml_node_t *n, const char *what,
    size_t *out)
{
    const char *s = (const char *)n->data.scalar.value;
    unsigned long long v = 0;
    if (n->type != YAML_SCALAR_NODE || conf_null(n) ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return conf_err(k, conf_line(n), "%s must be a whole number, got %s",
            what, conf_kind(n));
    size_t len = n->data.scalar.length;
    int ok = len > 0 && !(s[0] == '0' && len > 1);
    for (size_t i = 0; ok && i < len; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        v = ok ? v * 10 + (unsigned long long)(s[i] - '0') : v;
        if (v > CONF_COUNT_MAX)
            return conf_err(k, conf_line(n), "%s is too large: %s (at most "
                "%llu)", what, q(k->c, s), CONF_COUNT_MAX);
    }
    if (!ok)
        return conf_err(k, conf_line(n), "%s must be a whole number (decimal "
            "digits, no sign), got %s", what, q(k->c, s));
    *out = (size_t)v;
    return 0;
}

static int conf_id(const char *s, size_t len)
{
    if (len == 0 || len > CONF_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') &&
            !(ch >= '0' && ch <= '9') && ch != '.' && ch != '_' && ch != '-')
            return 0;
    }
    return 1;
}

/* Set a category's minimum (the later setting wins). */
static int set_min(lint *c, const char *cat, size_t min, int line)
{
    for (size_t i = 0; i < c->nmins; i++)
        if (strcmp(c->mins[i].category, cat) == 0) {
            c->mins[i].min = min;
            c->mins[i].line = line;
            return 0;
        }
    if (policy_grow((void **)&c->mins, &c->capmins, c->nmins + 1,
            sizeof *c->mins) != 0)
        return SLUICE_ENOMEM;
    c->mins[c->nmins].category = cat;
    c->mins[c->nmins].min = min;
    c->mins[c->nmins++].line = line;
    return 0;
}

/* min_terms: a mapping of category ids to counts. */
static int conf_min_terms(conf *k, const yaml_node_t *map)
{
    lint *c = k->c;
    if (map->type != YAML_MAPPING_NODE)
        return conf_err(k, conf_line(map), "min_terms must be a mapping of "
            "category ids to numbers ({a1.01: 200, ...}), got %s",
            conf_kind(map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key, *val;
        size_t n = 0;
        int rc;
        if ((rc = conf_node(k, p->key, &key)) != 0)
            return rc;
        const char *id = (const char *)key->data.scalar.value;
        if (key->type != YAML_SCALAR_NODE || conf_null(key) ||
            !conf_id(id, key->data.scalar.length))
            return conf_err(k, conf_line(key), "min_terms: a key must be a "
                "category id (letters, digits, '.', '_' and '-', at most %d "
                "bytes), got %s", CONF_ID_MAX, key->type == YAML_SCALAR_NODE
                && !conf_null(key) ? q(c, id) : conf_kind(key));
        for (size_t i = 0; i < c->nmins; i++)
            if (strcmp(c->mins[i].category, id) == 0)
                return conf_err(k, conf_line(key), "min_terms: duplicate "
                    "category '%s' (first at line %d)", id, c->mins[i].line);
        char what[CONF_ID_MAX + 32];
        snprintf(what, sizeof what, "min_terms: '%s'", id);
        if ((rc = conf_node(k, p->value, &val)) != 0 ||
            (rc = conf_count(k, val, what, &n)) != 0)
            return rc;
        const char *cat = keep(c, id);
        if (cat == NULL || set_min(c, cat, n, conf_line(key)) != 0)
            return psrc_error(k->err, SLUICE_ENOMEM, k->path, 0,
                "out of memory reading lint.yaml");
    }
    return 0;
}

/* Levenshtein distance of two short keys, for "did you mean". */
static size_t key_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), d[32], i, j;
    if (la > 30 || lb > 30)
        return SIZE_MAX;
    for (j = 0; j <= lb; j++)
        d[j] = j;
    for (i = 1; i <= la; i++) {
        size_t prev = d[0]++;
        for (j = 1; j <= lb; j++) {
            size_t cur = d[j], sub = prev + (a[i - 1] != b[j - 1]);
            d[j] = sub < d[j] + 1 ? sub : d[j] + 1;
            if (d[j - 1] + 1 < d[j])
                d[j] = d[j - 1] + 1;
            prev = cur;
        }
    }
    return d[lb];
}

/* The top level: a mapping of min_terms and min_total_terms. */
static int conf_top(conf *k, const yaml_node_t *root)
{
    static const char *const keys[] = { "min_terms", "min_total_terms" };
    int lines[2] = { 0, 0 };
    if (root->type != YAML_MAPPING_NODE)
        return conf_err(k, conf_line(root), "the top level must be a mapping "
            "(min_terms, min_total_terms), got %s", conf_kind(root));
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *key, *val;
        int rc, i;
        if ((rc = conf_node(k, p->key, &key)) != 0)
            return rc;
        if (key->type != YAML_SCALAR_NODE)
            return conf_err(k, conf_line(key), "a key must be a name, got "
                "%s", conf_kind(key));
        const char *name = (const char *)key->data.scalar.value;
        for (i = 0; i < 2 && strcmp(name, keys[i]) != 0; i++)
            ;
        if (i == 2) {
            size_t d0 = key_distance(name, keys[0]);
            size_t d1 = key_distance(name, keys[1]);
            const char *near = d0 <= d1 ? keys[0] : keys[1];
            return conf_err(k, conf_line(key), "unknown key %s%s%s%s "
                "(allowed: min_terms, min_total_terms)", q(k->c, name),
                (d0 <= d1 ? d0 : d1) <= 3 ?
                "; did you mean '" : "", (d0 <= d1 ? d0 : d1) <= 3 ? near :
                "", (d0 <= d1 ? d0 : d1) <= 3 ? "'?" : "");
        }
        if (lines[i] != 0)
            return conf_err(k, conf_line(key), "duplicate key '%s' (first at "
                "line %d)", keys[i], lines[i]);
        lines[i] = conf_line(key);
        if ((rc = conf_node(k, p->value, &val)) != 0)
            return rc;
        if (i == 0)
            rc = conf_min_terms(k, val);
        else if ((rc = conf_count(k, val, "min_total_terms",
                &k->c->total_min)) == 0)
            k->c->total_line = lines[i];
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Line of byte `off` in buf. */
static int conf_line_at(const char *buf, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off; i++)
        line += buf[i] == '\n';
    return line;
}

/* Parse buf[len] into k->doc and read it. */
static int conf_parse(conf *k, const char *buf, size_t len)
{
    yaml_parser_t ps;
    yaml_document_t extra;
    int rc = 0, have = 0;
    if (!yaml_parser_initialize(&ps))
        return psrc_error(k->err, SLUICE_ENOMEM, k->path, 0, "out of memory");
    yaml_parser_set_input_string(&ps, (const unsigned char *)buf, len);
    yaml_parser_set_encoding(&ps, YAML_UTF8_ENCODING);
    if (!yaml_parser_load(&ps, &k->doc))
        goto fail;
    have = 1;
    yaml_node_t *root = yaml_document_get_root_node(&k->doc);
    if (root == NULL || conf_null(root))
        goto out;                       /* empty ("", "---"): no minimums */
    if (!yaml_parser_load(&ps, &extra))
        goto fail;
    yaml_node_t *more = yaml_document_get_root_node(&extra);
    int line = more != NULL ? conf_line(more) : 0;
    yaml_document_delete(&extra);
    if (more != NULL) {
        rc = conf_err(k, line, "the file must hold one YAML document, found "
            "a second one");
        goto out;
    }
    size_t n = (size_t)(k->doc.nodes.top - k->doc.nodes.start);
    if ((k->seen = calloc(n ? n : 1, 1)) == NULL)
        rc = psrc_error(k->err, SLUICE_ENOMEM, k->path, 0, "out of memory");
    else
        rc = conf_top(k, root);
    goto out;
fail:
    if (ps.error == YAML_MEMORY_ERROR)
        rc = psrc_error(k->err, SLUICE_ENOMEM, k->path, 0, "out of memory");
    else if (ps.error == YAML_READER_ERROR)
        rc = conf_err(k, conf_line_at(buf, ps.problem_offset < len ?
            ps.problem_offset : len), "YAML error: %s", ps.problem ?
            ps.problem : "unreadable input");
    else
        rc = conf_err(k, (int)ps.problem_mark.line + 1, "YAML syntax error: "
            "%s%s%s%s", ps.problem ? ps.problem : "unknown problem",
            ps.context ? " (" : "", ps.context ? ps.context : "",
            ps.context ? ")" : "");
out:
    if (have)
        yaml_document_delete(&k->doc);
    yaml_parser_delete(&ps);
    return rc;
}

/* The path of lint.yaml beside the policy, as the policy's files are
   shown (see join_paths). NULL if out of memory. */
static const char *conf_path(lint *c)
{
    const char *d = c->src->dir;
    char buf[4096];
    if (d == NULL || strcmp(d, ".") == 0)
        return keep(c, CONF_NAME);
    int n = snprintf(buf, sizeof buf, "%s%s" CONF_NAME, d,
        d[strlen(d) - 1] == '/' ? "" : "/");
    return n > 0 && (size_t)n < sizeof buf ? keep(c, buf) : NULL;
}

/* Read lint.yaml, if there is one, into c->mins and c->total_min. */
static int conf_read(lint *c, sluice_error *err)
{
    conf k;
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int eno = 0, rc;
    memset(&k, 0, sizeof k);
    k.c = c;
    k.err = err;
    if ((k.path = conf_path(c)) == NULL)
        return psrc_error(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
    if (lstat(k.path, &st) != 0 && errno == ENOENT)
        return 0;                       /* none (a dangling link is read) */
    rc = read_whole(k.path, &buf, &len, &eno);
    if (rc == 0 && len > CONF_MAX_BYTES)
        rc = SLUICE_ETOOBIG;
    if (rc != 0) {
        free(buf);
        return psrc_error(err, rc == SLUICE_ENOMEM ? rc : SLUICE_EIO,
            k.path, 0, "cannot read the lint settings: %s", rc ==
            SLUICE_ENOMEM ? "out of memory" : rc == SLUICE_ETOOBIG ?
            "over 1 MiB" : eno ? strerror(eno) : "not a regular file");
    }
    c->conf = k.path;
    rc = conf_parse(&k, buf, len);
    free(k.seen);
    free(buf);
    return rc;
}

/* Minimums: lint.yaml's (unless told not to), then the options' over
   them. */
static int load_minimums(lint *c, sluice_error *err)
{
    const sluice_lint_options *o = c->o;
    int rc;
    if (!o->no_lint_yaml && (rc = conf_read(c, err)) != 0)
        return rc;
    for (size_t i = 0; i < o->nmin_terms; i++)
        if (set_min(c, o->min_terms[i].category, o->min_terms[i].min, 0))
            return psrc_error(err, SLUICE_ENOMEM, NULL, 0, "out of memory");
    if (o->min_total_terms > 0) {
        c->total_min = o->min_total_terms;
        c->total_line = 0;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Categories
 * ---------------------------------------------------------------------- */

static int cat_index(const psrc *s, const char *id)
{
    for (size_t i = 0; id != NULL && i < s->ncats; i++)
        if (strcmp(s->cats[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* " (p/lint.yaml:5)" when the minimum comes from lint.yaml, else "". */
static const char *min_source(lint *c, int line, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (line > 0 && c->conf != NULL)
        snprintf(buf, cap, " (%s:%d)", c->conf, line);
    return buf;
}

/* A category's term count against its minimum: info when met, warning
   when below. `undeclared`: the category is not under `categories`. */
static int report_min(lint *c, const lmin *m, size_t terms, const char *file,
    int line, const char *rule, int undeclared)
{
    char from[600];
    int met = terms >= m->min;
    return add(c, met ? SLUICE_LINT_INFO : SLUICE_LINT_WARNING,
        "category-min-terms", file, line, rule, NULL, "category '%s'%s has "
        "%zu %s, %s the minimum of %zu%s", m->category, undeclared ?
        " (not declared under categories)" : "", terms, terms == 1 ? "term" :
        "terms", met ? "at least" : "fewer than", m->min,
        min_source(c, m->line, from, sizeof from));
}

/* A per-category minimum for a category no rule declares. */
static int min_undeclared(lint *c, const lmin *m)
{
    const psrc *s = c->src;
    size_t terms = 0;
    const psrc_rule *first = NULL;
    char from[600];
    for (size_t i = 0; i < s->nrules; i++) {
        const psrc_rule *r = &s->rules[i];
        if (r->category == NULL || strcmp(r->category, m->category) != 0)
            continue;
        terms += r->kind == PSRC_REGEX ? 0 : r->nterms;
        if (first == NULL)
            first = r;
    }
    if (first == NULL)
        return add(c, SLUICE_LINT_WARNING, "category-min-terms",
            s->files[0], 0, NULL, NULL, "category '%s' has no rules and no "
            "terms, fewer than the minimum of %zu%s", m->category, m->min,
            min_source(c, m->line, from, sizeof from));
    return report_min(c, m, terms, first->file, first->line, first->id, 1);
}

/* The policy's terms in all against the minimum total. */
static int check_total(lint *c)
{
    const psrc *s = c->src;
    size_t terms = 0;
    char from[600];
    if (c->total_min == 0)
        return 0;
    for (size_t i = 0; i < s->nrules; i++)
        terms += s->rules[i].kind == PSRC_REGEX ? 0 : s->rules[i].nterms;
    int met = terms >= c->total_min;
    return add(c, met ? SLUICE_LINT_INFO : SLUICE_LINT_WARNING,
        "total-min-terms", s->files[0], 0, NULL, NULL, "the policy has %zu "
        "%s in all, %s the minimum of %zu%s", terms, terms == 1 ? "term" :
        "terms", met ? "at least" : "fewer than", c->total_min,
        min_source(c, c->total_line, from, sizeof from));
}

/* Sections that can never take effect: a `label:` section when no rule
   labels and `always` is off; an `escalation:` when no rule blocks (only
   what the policy blocks is a strike). */
static int check_sections(lint *c)
{
    const psrc *s = c->src;
    int blocks = 0, rc = 0;
    for (size_t i = 0; i < s->nrules; i++)
        blocks |= c->act[i] == SLUICE_BLOCK;
    if (s->label.present && !s->label.always && s->label_rules == 0)
        rc = add(c, SLUICE_LINT_WARNING, "label-unused", s->files[0],
            s->label.line, NULL, NULL, "the label: section has no effect: "
            "no rule has action label and 'always' is false");
    if (rc == 0 && s->has_escalation && !blocks)
        rc = add(c, SLUICE_LINT_WARNING, "escalation-unused", s->files[0],
            s->escalation_line, NULL, NULL, "the escalation: section has no "
            "effect: no rule blocks, and only blocked outputs are strikes");
    return rc;
}

static int check_categories(lint *c)
{
    const psrc *s = c->src;
    size_t n = s->ncats ? s->ncats : 1;
    size_t *nr = calloc(n, sizeof *nr), *nterm = calloc(n, sizeof *nterm);
    size_t *nrx = calloc(n, sizeof *nrx);
    int rc = 0;
    if (nr == NULL || nterm == NULL || nrx == NULL) {
        rc = SLUICE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < s->nrules; i++) {
        int k = cat_index(s, s->rules[i].category);
        if (k < 0)
            continue;
        nr[k]++;
        if (s->rules[i].kind == PSRC_REGEX)
            nrx[k]++;
        else
            nterm[k] += s->rules[i].nterms;
    }
    for (size_t k = 0; k < s->ncats && rc == 0; k++) {
        const psrc_category *cat = &s->cats[k];
        if (nr[k] == 0)
            rc = add(c, SLUICE_LINT_WARNING, "category-unused", cat->file,
                cat->line, NULL, NULL, "category '%s' is declared but no "
                "rule uses it", cat->id);
        else
            rc = add(c, SLUICE_LINT_INFO, "category-terms", cat->file,
                cat->line, NULL, NULL, "category '%s' (%s): %zu %s, %zu "
                "%s, %zu %s", cat->id, sluice_action_name(cat->action), nr[k],
                nr[k] == 1 ? "rule" : "rules", nterm[k],
                nterm[k] == 1 ? "term" : "terms", nrx[k],
                nrx[k] == 1 ? "regex" : "regexes");
    }
    for (size_t i = 0; i < c->nmins && rc == 0; i++) {
        const lmin *m = &c->mins[i];
        int k = cat_index(s, m->category);
        if (m->min == 0)
            continue;              /* switched off */
        if (k < 0)
            rc = min_undeclared(c, m);
        else
            rc = report_min(c, m, nterm[k], s->cats[k].file,
                s->cats[k].line, NULL, 0);
    }
    if (rc == 0)
        rc = check_total(c);
out:
    free(nr);
    free(nterm);
    free(nrx);
    return rc;
}

/* ------------------------------------------------------------------------
 * Streaming holdback
 * ---------------------------------------------------------------------- */

/* Widest match of `pat` in bytes (Hyperscan, prefilter mode: an upper
   bound), or UINT_MAX when unbounded or not analysable. */
static unsigned hs_width(const char *pat)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *ce = NULL;
    unsigned w = UINT_MAX;
    if (hs_expression_info(pat, HS_FLAG_UTF8 | HS_FLAG_ALLOWEMPTY |
            HS_FLAG_PREFILTER, &info, &ce) == HS_SUCCESS && info != NULL)
        w = info->max_width;
    else
        hs_free_compile_error(ce);
    free(info);
    return w;
}

/* Index of the ')' closing the group opened at p[i], or 0 if none. */
static size_t group_close(const char *p, size_t i)
{
    int depth = 0;
    for (size_t j = i; p[j] != '\0'; j++) {
        if (p[j] == '\\') {
            if (p[j + 1] != '\0')
                j++;
        } else if (p[j] == '[') {
            j = class_end(p, j, NULL);
            if (p[j] == '\0')
                return 0;
        } else if (p[j] == '(') {
            depth++;
        } else if (p[j] == ')' && --depth == 0) {
            return j;
        }
    }
    return 0;
}

/* Bytes a partial match may wait for after its end: the look-aheads'
   widest matches, plus a code point for \b; UINT_MAX if unbounded. */
static unsigned lookahead_width(const char *p)
{
    unsigned sum = 0;
    for (size_t i = 0; p[i] != '\0'; i++) {
        if (p[i] == '\\') {
            if (p[i + 1] == 'b' || p[i + 1] == 'B')
                sum += 4;
            if (p[i + 1] != '\0')
                i++;
        } else if (p[i] == '[') {
            i = class_end(p, i, NULL);
            if (p[i] == '\0')
                break;
        } else if (p[i] == '(' && p[i + 1] == '?' &&
            (p[i + 2] == '=' || p[i + 2] == '!')) {
            size_t e = group_close(p, i);
            if (e == 0)
                return UINT_MAX;
            char *inner = strndup(p + i + 3, e - i - 3);
            unsigned w = inner ? hs_width(inner) : UINT_MAX;
            free(inner);
            if (w == UINT_MAX || sum > UINT_MAX / 2 - w)
                return UINT_MAX;
            sum += w;
            i = e;
        }
    }
    return sum;
}

typedef struct hold {
    size_t unbounded;       /* regexes with no maximum length */
    size_t bytes;
    char what[400];
    const char *file;
    int line;
} hold;

static void hold_max(hold *h, size_t bytes, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void hold_max(hold *h, size_t bytes, const char *file, int line,
    const char *fmt, ...)
{
    va_list ap;
    if (bytes <= h->bytes)
        return;
    h->bytes = bytes;
    h->file = file;
    h->line = line;
    va_start(ap, fmt);
    vsnprintf(h->what, sizeof h->what, fmt, ap);
    va_end(ap);
}

/* Original bytes per normalized code point, worst case: 4, plus max_gap
   noise code points of 4 bytes before it with skip_noise. */
static size_t per_cp(const lint *c, unsigned flags)
{
    return 4u * (1u + ((flags & NORM_SKIP_NOISE) ? (unsigned)c->src->max_gap :
        0u));
}

static int regex_hold(lint *c, size_t ri, hold *h)
{
    const psrc_rule *r = &c->src->rules[ri];
    int line = r->regex_line ? r->regex_line : r->line;
    unsigned w = hs_width(r->regex), la = lookahead_width(r->regex);
    if (w == UINT_MAX || la == UINT_MAX)
        h->unbounded++;
    if (w == UINT_MAX || la == UINT_MAX)
        return add(c, SLUICE_LINT_INFO, "holdback-unbounded", r->file, line,
            r->id, NULL, "rule '%s': regex matches have no maximum length, "
            "so a session holds a possible match until it can no longer "
            "grow, up to max_held (1 MiB by default; then it blocks with "
            "reason session_limit)", r->id);
    size_t b = (size_t)w + la;
    if (r->on != PSRC_ON_ORIGINAL)
        b *= 4;   /* normalized bytes: one original code point each */
    hold_max(h, b + 3, r->file, line, "the regex of rule '%s' (matches of "
        "at most %u bytes%s%s)", r->id, w, la ? ", plus look-ahead" : "",
        r->on != PSRC_ON_ORIGINAL ? ", on normalized text" : "");
    return 0;
}

static int check_holdback(lint *c, pcre2_code **re)
{
    const psrc *s = c->src;
    hold h;
    int rc = 0;
    memset(&h, 0, sizeof h);
    for (size_t i = 0; i < c->nt_; i++) {
        const lterm *t = &c->t[i];
        const psrc_rule *r = &s->rules[t->rule];
        int word = r->boundary == PSRC_BOUNDARY_WORD;
        if (t->key == NONE)
            continue;
        hold_max(&h, per_cp(c, c->g[t->group].flags) * t->ncp + 3 +
            (word ? BOUNDARY_WINDOW : 0), t->src->file, t->src->line,
            "term %s of rule '%s' (%u code points%s)", q(c, t->src->text),
            r->id, t->ncp, word ? ", boundary: word, which may wait for "
            "ICU's 96-byte window" : "");
    }
    for (size_t j = 0; j < s->nallow; j++) {
        lterm t;
        if (c->allow_empty[j] ||
            norm_one(c, allow_flags(s), s->allow[j].text, &t) != 0)
            continue;
        hold_max(&h, per_cp(c, allow_flags(s)) * t.ncp + 3, s->allow[j].file,
            s->allow[j].line, "allow term %s (%u code points)",
            q(c, s->allow[j].text), t.ncp);
    }
    for (size_t i = 0; i < s->nrules && rc == 0; i++) {
        const psrc_rule *r = &s->rules[i];
        if (r->kind == PSRC_ALL)
            hold_max(&h, per_cp(c, rule_flags(s, r)) * (size_t)r->within + 3,
                r->file, r->line, "co-occurrence rule '%s' (within: %ld)",
                r->id, r->within);
        else if (r->kind == PSRC_REGEX && re[i] != NULL)
            rc = regex_hold(c, i, &h);
    }
    if (rc != 0 || h.bytes == 0)
        return rc;
    char ctx[128] = "", unb[128] = "";
    if (c->p != NULL)
        snprintf(ctx, sizeof ctx, "; a session also keeps %zu bytes of "
            "left context", c->p->stream_context);
    if (h.unbounded > 0)
        snprintf(unb, sizeof unb, "; not counting %zu %s with no maximum "
            "length (holdback-unbounded)", h.unbounded, h.unbounded == 1 ?
            "regex" : "regexes");
    return add(c, SLUICE_LINT_INFO, "holdback", h.file, h.line, NULL, NULL,
        "streaming holdback: at most %zu bytes, set by %s, for 4-byte "
        "characters with at most max_gap=%d noise characters between two "
        "and no invisible characters or letter runs inside a match (those "
        "can stretch it up to max_held)%s%s", h.bytes, h.what, s->max_gap,
        unb, ctx);
}

/* ------------------------------------------------------------------------
 * When the compiler refuses the policy
 * ---------------------------------------------------------------------- */

/* A refusal by the compiler, unless a finding already says it. */
static int refused(lint *c, const sluice_error *e)
{
    int rank = INT_MAX;
    const char *file = NULL;
    if (have_error_at(c, e->file, e->line))
        return 0;
    for (size_t i = 0; i < c->nf; i++)   /* the same refusal again */
        if (strcmp(c->f[i].code, "policy-refused") == 0 &&
            c->f[i].line == e->line && strcmp(c->f[i].file, e->file) == 0)
            return 0;
    for (size_t i = 0; i < c->npaths && file == NULL; i++)
        if (strcmp(c->paths[i], e->file) == 0) {
            rank = (int)i;
            file = c->paths[i];
        }
    if (file == NULL && (file = keep(c, e->file)) == NULL)
        return SLUICE_ENOMEM;
    return add_at(c, SLUICE_LINT_ERROR, "policy-refused", rank, file,
        e->line, "the policy is refused: %s", e->message);
}

/* Drop terms that normalize to nothing and replace refused regexes in a
   fresh parse of the same sources, so that the compiler can go on. */
static int sanitize(const lint *c, psrc *s)
{
    if (s->nrules != c->src->nrules || s->nallow != c->src->nallow)
        return SLUICE_EIO;   /* the sources changed under us */
    for (size_t i = 0; i < s->nrules; i++) {
        psrc_rule *r = &s->rules[i];
        if (r->kind == PSRC_REGEX) {
            if (!c->rx_bad[i])
                continue;
            char *fail = strdup("(*FAIL)");
            if (fail == NULL)
                return SLUICE_ENOMEM;
            free(r->regex);
            r->regex = fail;
            continue;
        }
        size_t have = (i + 1 < s->nrules ? c->rule_first[i + 1] :
            (uint32_t)c->nt_) - c->rule_first[i];
        if (have != r->nterms)
            continue;   /* not collected (too many step sets) */
        size_t k = 0;
        for (size_t j = 0; j < r->nterms; j++)
            if (c->t[c->rule_first[i] + j].key != NONE)
                r->terms[k++] = r->terms[j];
        r->nterms = k;
    }
    size_t k = 0;
    for (size_t j = 0; j < s->nallow; j++)
        if (!c->allow_empty[j])
            s->allow[k++] = s->allow[j];
    s->nallow = k;
    return 0;
}

/* The regex rule whose regex is at `e`'s file and line, or NONE. */
static uint32_t regex_rule_at(const lint *c, const sluice_error *e)
{
    const psrc *s = c->src;
    for (size_t i = 0; i < s->nrules; i++) {
        const psrc_rule *r = &s->rules[i];
        int line = r->regex_line ? r->regex_line : r->line;
        int fi = file_index(c, r->file);
        if (r->kind == PSRC_REGEX && !c->rx_bad[i] && line == e->line &&
            fi >= 0 && strcmp(c->paths[fi], e->file) == 0)
            return (uint32_t)i;
    }
    return NONE;
}

/*
 * The compiler refused the policy: compile sanitized copies until one
 * loads, reporting each refusal (each is one regex the compiler's own
 * checks reject). c->p is then that copy, or NULL if a refusal is not
 * one a copy can avoid.
 */
static int compile_sanitized(lint *c, const char *path,
    const sluice_policy_options *po)
{
    for (size_t iter = 0; iter <= c->src->nrules + 1; iter++) {
        sluice_error e;
        psrc *s2 = NULL;
        memset(&e, 0, sizeof e);
        int rc = psrc_load(&s2, path, po, &e);
        if (rc == 0 && (rc = sanitize(c, s2)) != 0)
            psrc_free(s2);
        if (rc != 0)
            return rc == SLUICE_ENOMEM ? rc : 0;
        rc = policy_compile(&c->p, s2, &e);
        if (rc == 0 || rc == SLUICE_ENOMEM)
            return rc;
        if ((rc = refused(c, &e)) != 0)
            return rc;
        uint32_t ri = regex_rule_at(c, &e);
        if (ri == NONE)
            return 0;
        c->rx_bad[ri] = 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The entry point
 * ---------------------------------------------------------------------- */

static int resolve_options(lint *c, const sluice_lint_options *o,
    sluice_error *err)
{
    if (o->version < 1 || o->version > SLUICE_LINT_OPTIONS_VERSION)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_lint_options.version is %u, expected 1 to %u",
            o->version, SLUICE_LINT_OPTIONS_VERSION);
    if ((o->nvocab > 0 && o->vocab == NULL) ||
        (o->nmin_terms > 0 && o->min_terms == NULL))
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_lint_options: a count is set but its array is NULL");
    for (size_t i = 0; i < o->nmin_terms; i++)
        if (o->min_terms[i].category == NULL)
            return psrc_error(err, SLUICE_EINVAL, NULL, 0,
                "sluice_lint_options.min_terms[%zu].category is NULL", i);
    /* A version 1 caller's struct ends before the version 2 fields. */
    static const sluice_lint_options dflt = SLUICE_LINT_OPTIONS_INIT;
    c->opt = dflt;
    memcpy(&c->opt, o, o->version == 1 ?
        offsetof(sluice_lint_options, min_total_terms) : sizeof *o);
    c->o = &c->opt;
    c->scun_min = o->scunthorpe_words ? o->scunthorpe_words : 3;
    c->examples = o->examples ? o->examples : 3;
    if (c->examples > MAX_EXAMPLES)
        c->examples = MAX_EXAMPLES;
    c->short_chars = o->short_chars ? o->short_chars : 1;
    c->short_han = o->short_han ? o->short_han : 1;
    return 0;
}

/* Sources, tables, and a compiled policy if the sources compile. */
static int lint_load(lint *c, const char *path, sluice_error *err,
    sluice_error *cerr_out, int *compiles)
{
    psrc *src = NULL;
    int rc = psrc_load(&src, path, c->o->policy, err);
    if (rc != 0)
        return rc;
    rc = policy_compile(&c->p, src, cerr_out);   /* takes src */
    *compiles = rc == 0;
    if (rc == SLUICE_ENOMEM)
        return psrc_error(err, rc, NULL, 0, "out of memory compiling the "
            "policy");
    if (rc == 0) {
        c->src = c->p->src;
        c->nt = c->p->nt;
        return 0;
    }
    c->p = NULL;
    if ((rc = psrc_load(&c->own_src, path, c->o->policy, err)) != 0)
        return rc;
    c->src = c->own_src;
    if ((rc = norm_tables_new(&c->own_nt, err)) != 0)
        return rc;
    c->nt = c->own_nt;
    return 0;
}

static int run_checks(lint *c, const char *path, int compiles,
    const sluice_error *cerr, const vocab *v, pcre2_code **re,
    sluice_error *err)
{
    int rc;
    if ((rc = join_paths(c)) != 0 || (rc = resolve_actions(c)) != 0 ||
        (rc = collect_terms(c)) != 0 || (rc = build_dbs(c, err)) != 0 ||
        (rc = check_regexes(c, re)) != 0)
        return rc;
    if (!compiles) {
        uint32_t ri = regex_rule_at(c, cerr);
        if (ri != NONE)
            c->rx_bad[ri] = 1;
        if ((rc = refused(c, cerr)) != 0 ||
            (rc = compile_sanitized(c, path, c->o->policy)) != 0)
            return rc;
    }
    if ((rc = check_allow(c, re)) != 0 || (rc = check_overlaps(c)) != 0 ||
        (rc = check_all_dups(c)) != 0 || (rc = check_short(c)) != 0 ||
        (rc = check_scunthorpe(c, v)) != 0 ||
        (rc = check_categories(c)) != 0 || (rc = check_sections(c)) != 0)
        return rc;
    return check_holdback(c, re);
}

/* Sort the findings and hand them to fn; count them in rep. */
static int deliver(lint *c, sluice_lint_fn fn, void *payload,
    sluice_lint_report *rep)
{
    if (c->nf > 1)
        qsort(c->f, c->nf, sizeof *c->f, cmp_find);
    for (size_t i = 0; i < c->nf; i++) {
        const lfind *f = &c->f[i];
        sluice_lint_finding out;
        out.severity = (sluice_lint_severity)f->sev;
        out.code = f->code;
        out.file = f->file;
        out.line = f->line;
        out.rule = f->rule;
        out.term = f->term;
        out.message = f->msg;
        if (f->sev == SLUICE_LINT_ERROR)
            rep->errors++;
        else if (f->sev == SLUICE_LINT_WARNING)
            rep->warnings++;
        else
            rep->infos++;
        int r = fn != NULL ? fn(&out, payload) : 0;
        if (r != 0)
            return r;
    }
    return 0;
}

static void lint_free(lint *c)
{
    for (size_t g = 0; g < c->ng; g++) {
        if (c->g[g].db != NULL && !c->g[g].borrowed)
            hs_free_database(c->g[g].db);
        free(c->g[g].map);
    }
    if (c->hs != NULL)
        hs_free_scratch(c->hs);
    for (size_t i = 0; i < c->nf; i++)
        free(c->f[i].msg);
    free(c->f);
    for (size_t i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    for (size_t i = 0; i < c->npaths; i++)
        free(c->paths[i]);
    free(c->paths);
    free(c->act);
    free(c->rule_first);
    free(c->allow_empty);
    free(c->apool);
    free(c->aoff);
    free(c->alen);
    free(c->rx_bad);
    free(c->mins);
    free(c->t);
    free(c->k);
    free(c->ktab);
    free(c->pool);
    free(c->runpool);
    norm_out_free(&c->no);
    sluice_policy_unref(c->p);
    psrc_free(c->own_src);
    norm_tables_free(c->own_nt);
}

int sluice_policy_lint(const char *path, const sluice_lint_options *opts,
    sluice_lint_fn fn, void *payload, sluice_lint_report *report,
    sluice_error *err)
{
    static const sluice_lint_options dflt = SLUICE_LINT_OPTIONS_INIT;
    double t0 = policy_now_ms();
    sluice_lint_report rep;
    sluice_error cerr;
    lint c;
    vocab v;
    pcre2_code **re = NULL;
    int compiles = 0, rc;

    memset(&c, 0, sizeof c);
    memset(&v, 0, sizeof v);
    memset(&rep, 0, sizeof rep);
    memset(&cerr, 0, sizeof cerr);
    norm_out_init(&c.no);
    if (path == NULL)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "sluice_policy_lint: path is required");
    if ((rc = resolve_options(&c, opts ? opts : &dflt, err)) != 0 ||
        (rc = vocab_load(&v, c.o, err)) != 0 ||
        (rc = lint_load(&c, path, err, &cerr, &compiles)) != 0 ||
        (rc = load_minimums(&c, err)) != 0)
        goto out;
    c.rx_bad = calloc(c.src->nrules ? c.src->nrules : 1, 1);
    re = calloc(c.src->nrules ? c.src->nrules : 1, sizeof *re);
    if (c.rx_bad == NULL || re == NULL)
        rc = SLUICE_ENOMEM;
    else
        rc = run_checks(&c, path, compiles, &cerr, &v, re, err);
    if (rc < 0) {
        if (err != NULL && (err->code != rc || err->message[0] == '\0'))
            psrc_error(err, rc, NULL, 0, "%s", rc == SLUICE_ENOMEM ?
                "out of memory while linting" : sluice_strerror(rc));
        goto out;
    }
    rep.rules = c.src->nrules;
    for (size_t i = 0; i < c.src->nrules; i++)
        rep.terms += c.src->rules[i].kind == PSRC_REGEX ? 0 :
            c.src->rules[i].nterms;
    rep.vocab_words = v.n;
    rep.compiles = compiles;
    rc = deliver(&c, fn, payload, &rep);
    rep.ms = policy_now_ms() - t0;
    if (report != NULL)
        *report = rep;
out:
    for (size_t i = 0; re != NULL && i < c.src->nrules; i++)
        pcre2_code_free(re[i]);
    free(re);
    vocab_free(&v);
    lint_free(&c);
    return rc;
}
