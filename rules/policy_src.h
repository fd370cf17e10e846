/*
 * policy_src.h - a policy as its author wrote it: the parsed, uncompiled
 * form of policy.yaml and its term lists.
 *
 * rules/policy_parse.c fills it from a directory (libyaml); the compiler
 * (rules/policy_compile.c) turns it into a sluice_policy. Every element
 * keeps the file and line it came from, so that errors found later (a bad
 * regex, a term that normalizes to nothing) can still name them.
 *
 * Ownership: everything hangs off the psrc and goes with psrc_free().
 * File names in `file` fields point into psrc->files and are not freed
 * separately; they are relative to psrc->dir (join them for messages).
 * Term texts (psrc_term.text, in rules and in allow) point into blocks
 * owned by psrc->blocks (a list file is read whole and its terms are
 * NUL-terminated in place; inline terms are copied into one block per
 * sequence): never free a term's text on its own. Two rules naming the
 * same list file get their own psrc_term arrays over the same block.
 */
#ifndef SLUICE_RULES_POLICY_SRC_H
#define SLUICE_RULES_POLICY_SRC_H

#include <stddef.h>
#include <stdint.h>
#include "sluice.h"

/* Normalization steps (policy `normalize:`) and per-rule variants. */
#define NORM_IGNORABLE      0x01u  /* drop default-ignorable code points */
#define NORM_NFKC_CASEFOLD  0x02u  /* NFKC + case fold */
#define NORM_TRAD_SIMP      0x04u  /* Traditional -> Simplified Chinese */
#define NORM_CONFUSABLES    0x08u  /* look-alike letters -> ASCII skeleton */
#define NORM_SKIP_NOISE     0x10u  /* symbols/spaces between characters */
#define NORM_LEET           0x20u  /* variant: leetspeak digits/symbols */
#define NORM_REPEAT         0x40u  /* variant: repeated characters */
#define NORM_DEFAULT        0x1Fu  /* the five policy-level steps */

typedef enum psrc_kind {
    PSRC_TERMS = 1,   /* literal terms */
    PSRC_REGEX = 2,   /* one PCRE2 pattern */
    PSRC_ALL = 3      /* co-occurrence: all terms within `within` chars */
} psrc_kind;

typedef enum psrc_on {
    PSRC_ON_NORMALIZED = 0,
    PSRC_ON_ORIGINAL = 1
} psrc_on;

typedef enum psrc_boundary {
    PSRC_BOUNDARY_DEFAULT = 0,  /* substring (CJK and everything else) */
    PSRC_BOUNDARY_NONE = 1,     /* explicit `boundary: none` */
    PSRC_BOUNDARY_WORD = 2      /* `boundary: word` */
} psrc_boundary;

typedef struct psrc_term {
    char *text;          /* UTF-8, as written (trimmed), never empty */
    const char *file;
    int line;
} psrc_term;

typedef struct psrc_category {
    char *id;
    int action;          /* sluice_action */
    char *severity;      /* may be NULL */
    char *name_zh;       /* may be NULL */
    char *name_en;       /* may be NULL */
    char *mask;          /* redaction mask override, may be NULL */
    const char *file;
    int line;
    char *description;   /* may be NULL (added by policy_parse.c) */
} psrc_category;

typedef struct psrc_rule {
    char *id;
    char *category;      /* may be NULL when `action` is set */
    int action;          /* sluice_action, or -1: take the category's */
    psrc_kind kind;
    psrc_term *terms;    /* PSRC_TERMS and PSRC_ALL */
    size_t nterms;
    char *regex;         /* PSRC_REGEX */
    int regex_line;      /* line of the regex value */
    char *validate;      /* validator name or NULL */
    psrc_on on;
    psrc_boundary boundary;
    unsigned variants;   /* NORM_LEET | NORM_REPEAT */
    long within;         /* PSRC_ALL: window in normalized characters */
    char *mask;          /* may be NULL */
    const char *file;
    int line;
    char *description;   /* may be NULL (added by policy_parse.c) */
} psrc_rule;

/*
 * Label settings: the policy's `label:` section (docs/labels.md). Always
 * filled after load: without the section, `present` is 0 and the fields
 * hold the defaults (label rules still label, with the default texts).
 */
typedef struct psrc_label {
    int present;         /* 1: the policy has a `label:` section */
    int line;            /* its line, or 0 */
    char *text_zh;       /* the explicit label; never NULL after load */
    char *text_en;
    int position;        /* SLUICE_LABEL_AT_START or SLUICE_LABEL_AT_END */
    char *language;      /* "zh", "en" or "auto"; default: the policy's */
    int always;          /* 1: every released output is labelled */
    int implicit_all;    /* 1: every released output carries the AIGC
                            metadata; 0: only those labelled */
    char *separator;     /* between label and text; default "\n\n" */
    char *producer;      /* ContentProducer; "" when not given */
    char *propagator;    /* ContentPropagator, may be NULL */
    char *reserved1;     /* ReservedCode1, may be NULL */
    char *reserved2;     /* ReservedCode2, may be NULL */
} psrc_label;

typedef struct psrc {
    char *dir;           /* the policy directory */
    char *id;
    int64_t version;
    char *description;   /* may be NULL */
    char *refusal_zh;    /* never NULL after load (defaults filled) */
    char *refusal_en;
    char *language;      /* "zh", "en" or "auto" (default "auto") */
    char *mask_zh;       /* default "[已隐藏]" */
    char *mask_en;       /* default "[redacted]" */
    unsigned normalize;  /* NORM_* bits; NORM_DEFAULT when absent */
    int max_gap;         /* noise code points skippable between two
                            characters of a term; default 3 */
    psrc_category *cats;
    size_t ncats;
    psrc_rule *rules;
    size_t nrules;
    psrc_term *allow;
    size_t nallow;
    unsigned char hash[32];  /* BLAKE2b-256 of the sources, see
                                docs/policy-hash.md */
    char **files;        /* every file read, relative to dir; [0] is
                            policy.yaml */
    size_t nfiles;
    char **blocks;       /* storage that term texts point into; freed by
                            psrc_free (added by policy_parse.c) */
    size_t nblocks;
    psrc_label label;    /* `label:` settings, defaults filled */
    /* `escalation:` (docs/redis.md#strikes-and-escalation): row/count
       blocks suspend a subject; zeros when the section is absent */
    int has_escalation;
    int escalation_line;
    sluice_escalation escalation;
    size_t label_rules;  /* rules whose action (own or category's) is
                            label */
} psrc;

/*
 * Parse the policy at `path` (a directory or its policy.yaml). `opts` may
 * be NULL. On error returns a negative SLUICE_E* code, leaves *out NULL and
 * fills err with file, line and reason.
 */
int psrc_load(psrc **out, const char *path, const sluice_policy_options *opts,
    sluice_error *err);
void psrc_free(psrc *p);

/* Fill `err` (may be NULL); returns `code`. printf-style message. */
int psrc_error(sluice_error *err, int code, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
