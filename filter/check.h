/*
 * check.h - one check of one text against a compiled policy: the scratch
 * it runs in, the candidate matches it collects, and the verdict it makes.
 *
 * A scratch holds every buffer a check needs (normalized streams, the
 * Hyperscan scratch, PCRE2 match data, a word-break iterator, candidate
 * arrays). It belongs to one policy's pool and serves one check at a time;
 * in steady state a check allocates nothing but its verdict.
 */
#ifndef SLUICE_FILTER_CHECK_H
#define SLUICE_FILTER_CHECK_H

#include "rules/policy.h"
#include "filter/wordbreak.h"

typedef struct cand {
    size_t start, end;     /* original byte offsets */
    uint32_t rule;         /* rule index or RULE_ALLOW */
    uint32_t slot;         /* term rules: index into the rule's terms */
    uint32_t nstart;       /* PSRC_ALL: byte range in the group's stream */
    uint32_t nend;
    int group;             /* group index, or -1 for regex matches */
    int keep;              /* PSRC_ALL: part of a complete window */
} cand;

/*
 * A view of a normalized stream as the literal automaton reads it
 * (matching.md, "Runs across noise" and "Leet symbols as noise"): the
 * stream's text where a code point equal to the one before it is merged
 * into it (NORM_REPEAT: a run goes on across noise), and, in the
 * alternate reading of a leet stream, where an entry that is a symbol
 * read as a letter (| ! @ $ ( + -> i i a s c t) is left out as noise.
 * Removals are recorded sparsely: from view byte vpos[k] on (up to the
 * next record) view byte p is stream byte p - vpos[k] + spos[k]. Where
 * nothing is removed, text is the stream's own text.
 */
typedef struct sview {
    const unsigned char *text;
    size_t len;
    unsigned char *buf;            /* owned: the text when it differs */
    size_t cap;
    uint32_t *vpos, *spos;         /* removal records, ascending */
    size_t nrec, caprec;
    uint32_t *drop;                /* alt: view offsets of the symbols
                                      left out (every hit of the reading
                                      that differs covers one) */
    size_t ndrop, capdrop;
    int merge;                     /* equal neighbours merged */
    int alt;                       /* leet symbols left out */
    int active;                    /* built for the current check */
    uint8_t tail_gap;              /* the stream's tail_gap, plus the
                                      symbols left out at its end */
} sview;

struct policy_scratch {
    policy_scratch *next;          /* pool link */
    hs_scratch_t *hs;
    norm_out norm[MAX_GROUPS];
    norm_out regex_norm;           /* for `on: normalized` regexes */
    char *sanitized;               /* original with invalid bytes -> 0x1A */
    size_t sanitized_cap;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    wordbreak wb;
    cand *cands;
    size_t ncands, capcands;
    /* per-check context for the Hyperscan callback */
    const sluice_policy *pol;
    const mgroup *grp;
    const norm_out *cur;
    const char *text;
    size_t text_len;
    int oom;
    uint8_t *fired;                /* per rule: fired in this check */
    size_t nfired;
    /* streaming: the text is a window whose end is not the end of the
       output; whatever depends on bytes past it is pending */
    int streaming;
    size_t pending_from;           /* lowest start of anything pending */
    int limited;                   /* a regex hit its resource limit */
    size_t from;                   /* only matches starting here count */
    size_t scan_off;               /* stream offset the current scan began */
    uint8_t *rx_hit;               /* per rule: its regex prefilter fired */
    uint8_t *rx_gate;              /* per rule: a literal factor occurs */
    /* sessions: a regex resumes where its last match before the commit
       frontier ended, as a whole-text scan does (check_window reads
       rx_min when rx_min_on, then clears rx_min_on); every match found
       (valid or not) is listed in rxm */
    size_t *rx_min;                /* per rule: no match starts before */
    int rx_min_on;
    struct rx_match { uint32_t rule; size_t start, end; } *rxm;
    size_t nrxm, caprxm;
    size_t gstart[MAX_GROUPS];     /* input offset each group's stream
                                      starts at (sessions: near `from`) */
    norm_out win;                  /* metadata around hits of a lazy stream */
    size_t win_base;
    const norm_out *win_of;        /* the stream win belongs to, or NULL */
    norm_wcur wcur;                /* win as a growing window (valid only
                                      while window_cover wrote it last) */
    sview view[MAX_GROUPS][2];     /* per group: [0] merged runs, [1] the
                                      alternate (leet symbols as noise) */
    const sview *curv;             /* the view being scanned, or NULL for
                                      the stream's own text */
    int at_end;                    /* gaps_ok looked past the stream end */
    uint32_t *syms;                /* entries of the current stream that
                                      are leet symbols, ascending */
    size_t nsyms, capsyms;
};

policy_scratch *scratch_new(const sluice_policy *p);
void scratch_free(policy_scratch *s);

/*
 * Run every matcher of policy `p` over `text` and decide. On success
 * *out is a new verdict. `max_spans` bounds the spans kept.
 */
int check_run(sluice_policy *p, policy_scratch *s, const char *text,
    size_t len, size_t max_spans, sluice_verdict **out);

/*
 * Match `text` and leave the surviving candidates in s->cands, sorted by
 * (start, end, rule), co-occurrence windows resolved and allow lists
 * applied. Candidates starting before `from` may be left out (the text
 * before it is context only; 0 for whole-text checks). With `streaming` set, candidates that depend on bytes past the
 * end are left out and s->pending_from is the lowest offset any of them
 * (or a partial regex match) starts at (len if none).
 */
int check_window(sluice_policy *p, policy_scratch *s, const char *text,
    size_t len, int streaming, size_t from, size_t *invalid);

/*
 * The original offset where entry q of group g's stream (of the last
 * check_window) starts. Returns 0 or SLUICE_ENOMEM.
 */
int check_stream_src(policy_scratch *s, size_t g, size_t q, size_t *src);

/*
 * The view of group g a session tests for term prefixes: which = 0 the
 * merged runs, 1 the alternate reading. NULL when the last check_window
 * built none (the stream's own text is what was scanned).
 */
const sview *check_view(const policy_scratch *s, size_t g, int which);

/* Stream byte of view byte p (p <= v->len). */
size_t check_view_src(const sview *v, size_t p);

/* Span i of an array, for check_redact: original offsets and rule. */
typedef void (*check_span_fn)(const void *spans, size_t i, size_t *start,
    size_t *end, uint32_t *rule);

/*
 * The input with each (merged) redacting span replaced by its rule's
 * mask, in the language check_lang_zh gives (fcjk: the first ideograph).
 * `spans` (n of them, sorted by start) is read through `at`, so whole-text
 * checks (candidates) and the verdict cache (verdict spans) share it.
 * Returns a malloc'd NUL-terminated string (*outlen bytes), or NULL.
 */
char *check_redact(const sluice_policy *p, const void *spans, size_t n,
    check_span_fn at, const char *text, size_t len, size_t fcjk,
    size_t *outlen);

/* The term (as written) a candidate matched, or NULL for a regex. */
const char *check_cand_term(const sluice_policy *p, const cand *c);

/*
 * v's rules (in policy order) and categories (each once, in the order of
 * their first rule) from fired[i] != 0 per rule i; v->rules and v->cats
 * must have room for every fired rule.
 */
void check_fill_rules(const sluice_policy *p, const uint8_t *fired,
    sluice_verdict *v);

/* Offset of the first CJK ideograph in text[0..len), or SIZE_MAX. */
size_t check_first_cjk(const char *text, size_t len);

/*
 * Language of a mask or refusal for a span ending at `end`, given the
 * offset of the text's first ideograph: 1 Chinese, 0 English.
 */
int check_lang_zh(const sluice_policy *p, size_t first_cjk, size_t end);

/*
 * The refusal that replaces a blocked output: in the language of the text
 * up to the end of its first blocking span (n spans sorted by start, read
 * through `at`; with none, the whole len bytes), given the offset of its
 * first ideograph. Whole-text checks, sessions, the verdict cache and
 * verdict_force_block all choose it here.
 */
const char *check_refusal(const sluice_policy *p, const void *spans,
    size_t n, check_span_fn at, size_t len, size_t first_cjk);

#endif
