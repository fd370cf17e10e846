/*
 * policy_parse.c - read a policy directory (policy.yaml and the term lists
 * it names) into a psrc, the uncompiled form declared in policy_src.h.
 *
 * What it does
 *   psrc_load() finds policy.yaml (the path is the directory or the file),
 *   reads it whole, checks that it is UTF-8, builds a libyaml document and
 *   walks it against fixed key tables. Every value is type-checked and
 *   range-checked here, so that the compiler only sees well-formed sources;
 *   what needs the matchers to judge (a regex that does not compile, a term
 *   that normalizes to nothing) is left to rules/policy_compile.c, which can
 *   still name the file and line because every element keeps them.
 *
 * Design
 *   - One pass, fail fast: the first error is returned, with the file (as
 *     the caller spelled the path), the 1-based line of the offending YAML
 *     node (libyaml marks) or list line, and a one-line reason that names
 *     the key and, for closed vocabularies, the allowed values.
 *   - The psrc under construction is always consistent for psrc_free():
 *     arrays are calloc'ed and their counts set before they are filled, and
 *     every allocation is owned by the psrc the moment it is made. Error
 *     paths therefore just return; psrc_load frees the whole psrc once.
 *   - List files are read whole into one buffer that becomes a block of the
 *     psrc (psrc->blocks); terms are NUL-terminated in place and point into
 *     it. One malloc per list file, one psrc_term array per rule. Inline
 *     terms are copied into one block per YAML sequence.
 *   - Sources are hashed as they are read (BLAKE2b-256, docs/policy-hash.md):
 *     "sluice-policy-v1\n", then per file its relative path, a NUL, its size
 *     as 8 bytes little-endian, its bytes. Files are read in a fixed order:
 *     policy.yaml, the list files of `rules:` in rule order, the list file
 *     of `allow:`; a file named twice is read (and hashed) once.
 *   - List paths are relative to the policy directory and may not leave it
 *     ('..' and absolute paths are refused), so that a bundle built from
 *     psrc->files holds every source. "./a//b.txt" is recorded as "a/b.txt".
 *   - Sources are read through a file source (psrc_io, rules/bundle.h):
 *     the filesystem by default, or a table of in-memory files (a signed
 *     bundle's, so that a bundle is parsed from the bytes whose signature
 *     was checked and never from the disk). Both give the same psrc, the
 *     same hash and the same messages, the file named as "<dir>/<path>"
 *     (for a bundle "<bundle path>/<path>"). A callback may watch every
 *     file as it is read and hashed: `sluice build` packs those bytes.
 *   - YAML anchors and aliases are refused (a node reached twice), which
 *     also rules out alias bombs. Duplicate keys in a mapping are refused.
 *   - Validator names come from filter/validate.h (validate_names()), the
 *     one registry; the other vocabularies are the tables below.
 *
 * Workload and threads
 *   policy.yaml is small; lists are large (tens of thousands to millions of
 *   lines), so the list path does one read, one UTF-8 pass (eight bytes at
 *   a time for ASCII), one memchr per line and no allocation per term: the
 *   65k-line sensitive-word list (1.2 MB) loads in about 5 ms at -O2.
 *   psrc_load keeps all its state in a stack context: any number of threads
 *   may load policies at once.
 *
 * Invariants
 *   - psrc->files[0] is the policy file's name; every `file` field points to
 *     one of psrc->files; every psrc_term.text is non-empty, trimmed UTF-8
 *     without NUL, inside one of psrc->blocks.
 *   - No static mutable state: the tables below are const.
 */
#include "policy_src.h"
#include "rules/bundle.h"
#include "filter/validate.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <yaml.h>

#define PSRC_DEFAULT_MAX_TERMS      ((size_t)2000000)
#define PSRC_DEFAULT_MAX_LIST_BYTES ((size_t)64 << 20)
#define PSRC_DEFAULT_MAX_RULES      ((size_t)100000)
#define PSRC_ID_MAX                 128     /* bytes in an id */
#define PSRC_WITHIN_MAX             1000000 /* `within`, normalized chars */
#define PSRC_MAX_GAP_MAX            15
#define PSRC_HASH_TAG               "sluice-policy-v1\n"
#define PSRC_SHOW_MAX               80      /* bytes of a value quoted in
                                               an error message */

/* ------------------------------------------------------------------------
 * Vocabularies. Extend a table to accept a new name; keep the order of
 * the ones whose index means something (actions are sluice_action).
 * Names are fixed-size arrays, not pointers, so that the tables are plain
 * .rodata even in position-independent code.
 * ---------------------------------------------------------------------- */

typedef struct pname {
    char s[16];          /* NUL-terminated; 15 bytes at most */
} pname;

static const pname action_names[] = {
    { "allow" }, { "flag" }, { "label" }, { "redact" }, { "block" }
};
static const pname language_names[] = { { "zh" }, { "en" }, { "auto" } };
static const pname norm_names[] = {
    { "ignorable" }, { "nfkc_casefold" }, { "trad_to_simp" },
    { "confusables" }, { "skip_noise" }
};
static const unsigned norm_bits[] = {
    NORM_IGNORABLE, NORM_NFKC_CASEFOLD, NORM_TRAD_SIMP, NORM_CONFUSABLES,
    NORM_SKIP_NOISE
};
static const pname variant_names[] = { { "leet" }, { "repeat" } };
static const unsigned variant_bits[] = { NORM_LEET, NORM_REPEAT };
/* Validator names are not listed here: the one registry is filter/
 * validate.c (validate_names()), so a validator added there is accepted
 * by `validate:` without a second edit. */
static const pname on_names[] = { { "normalized" }, { "original" } };
static const pname boundary_names[] = { { "word" }, { "none" } };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A closed vocabulary: one of the pname tables here, or a pointer array
 * kept by another module (validate_names()). */
typedef struct vocab {
    const pname *tab;
    const char *const *strs;
    size_t n;
} vocab;
#define VOCAB(t) (&(vocab){ (t), NULL, NELEM(t) })

/* Keys of each mapping, in the order they are processed. */
enum { TK_POLICY, TK_VERSION, TK_DESCRIPTION, TK_REFUSAL, TK_LANGUAGE,
       TK_MASK, TK_NORMALIZE, TK_MAX_GAP, TK_CATEGORIES, TK_RULES, TK_ALLOW,
       TK_LABEL, TK_ESCALATION, TK_N };
static const pname top_keys[TK_N] = {
    { "policy" }, { "version" }, { "description" }, { "refusal" },
    { "language" }, { "mask" }, { "normalize" }, { "max_gap" },
    { "categories" }, { "rules" }, { "allow" }, { "label" },
    { "escalation" }
};

/* The `escalation:` section (docs/redis.md#strikes-and-escalation). */
enum { EK_ROW, EK_COUNT, EK_WINDOW, EK_SUSPEND, EK_ACTION, EK_N };
static const pname escalation_keys[EK_N] = {
    { "row" }, { "count" }, { "window" }, { "suspend" }, { "action" }
};
/* index = sluice_escalation.block */
static const pname suspend_actions[] = { { "mark" }, { "block" } };

/* The `label:` section (docs/labels.md). */
enum { LK_TEXT, LK_POSITION, LK_LANGUAGE, LK_ALWAYS, LK_IMPLICIT,
       LK_SEPARATOR, LK_PRODUCER, LK_PROPAGATOR, LK_RESERVED1, LK_RESERVED2,
       LK_N };
static const pname label_keys[LK_N] = {
    { "text" }, { "position" }, { "language" }, { "always" },
    { "implicit" }, { "separator" }, { "producer" }, { "propagator" },
    { "reserved1" }, { "reserved2" }
};
/* index = sluice_label_position */
static const pname position_names[] = { { "start" }, { "end" } };
/* index = psrc_label.implicit_all */
static const pname implicit_names[] = { { "labelled" }, { "all" } };
static const pname bool_names[] = { { "false" }, { "true" } };

enum { CK_ID, CK_ACTION, CK_SEVERITY, CK_NAME, CK_MASK, CK_DESCRIPTION,
       CK_N };
static const pname cat_keys[CK_N] = {
    { "id" }, { "action" }, { "severity" }, { "name" }, { "mask" },
    { "description" }
};

enum { RK_ID, RK_CATEGORY, RK_ACTION, RK_DESCRIPTION, RK_TERMS, RK_REGEX,
       RK_ALL, RK_WITHIN, RK_VALIDATE, RK_ON, RK_BOUNDARY, RK_VARIANTS,
       RK_MASK, RK_N };
static const pname rule_keys[RK_N] = {
    { "id" }, { "category" }, { "action" }, { "description" }, { "terms" },
    { "regex" }, { "all" }, { "within" }, { "validate" }, { "on" },
    { "boundary" }, { "variants" }, { "mask" }
};

enum { PK_ZH, PK_EN, PK_N };
static const pname pair_keys[PK_N] = { { "zh" }, { "en" } };

#define MAX_KEYS 16   /* largest key table above */

/* ------------------------------------------------------------------------
 * Load context
 * ---------------------------------------------------------------------- */

/* An open-addressing string table: ids (duplicates, lookups), list files. */
typedef struct ident {
    const char *key;     /* borrowed from the psrc; NULL = empty slot */
    int line;
    size_t idx;
} ident;

typedef struct idtab {
    ident *slot;
    size_t cap;          /* power of two, or 0 */
    size_t n;
} idtab;

/* A list file already read: later references copy its term array. */
typedef struct listref {
    size_t file;         /* index in psrc->files */
    psrc_term *terms;    /* owned by the first rule (or allow) naming it */
    size_t n;
} listref;

typedef struct pctx {
    psrc *p;             /* owned until handed to the caller */
    sluice_error *err;
    size_t max_terms;
    size_t max_list_bytes;
    size_t max_rules;
    size_t nterms;       /* terms so far: rules and allow, all files */
    char *prefix;        /* "" or "dir/": joined before relative paths */
    char *yaml_path;     /* prefix + files[0], the file errors name */
    yaml_document_t doc;
    int have_doc;
    unsigned char *seen; /* one flag per document node (alias check) */
    crypto_generichash_state hs;
    size_t files_cap;
    size_t blocks_cap;
    listref *lists;
    size_t nlists;
    size_t lists_cap;
    idtab listtab;       /* files[k] -> index in lists */
    idtab cats;          /* category id -> line */
    idtab ruletab;       /* rule id -> line */
    int *cat_lines;      /* per rule: line of its `category:` value */
    const psrc_io *io;   /* file source; NULL: the filesystem */
    idtab memtab;        /* io->files[k].path -> k (in-memory sources) */
} pctx;

/* A trimmed string and where it was, before it is copied. */
typedef struct tview {
    const char *s;
    size_t len;
    int line;
} tview;

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

/* Copy `src` into dst[cap]; when it does not fit keep its tail (the end of
 * a path says the most), marked with "...", cut at a UTF-8 boundary. */
static void copy_tail(char *dst, size_t cap, const char *src)
{
    size_t len = strlen(src);
    const char *s = src;

    assert(cap > 4);
    if (len < cap) {
        memcpy(dst, src, len + 1);
        return;
    }
    s = src + (len - (cap - 4));
    while (((unsigned char)*s & 0xC0) == 0x80)
        s++;
    memcpy(dst, "...", 3);
    memcpy(dst + 3, s, strlen(s) + 1);
}

/* Replace control characters (a term may hold them) so the message stays
 * one line; mark a truncated message with "..." at a UTF-8 boundary. */
static void tidy_message(char *msg, size_t cap, int truncated)
{
    size_t i;

    if (truncated) {
        size_t end = cap - 4;
        while (end > 0 && ((unsigned char)msg[end] & 0xC0) == 0x80)
            end--;
        memcpy(msg + end, "...", 4);
    }
    for (i = 0; msg[i] != '\0'; i++)
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7F)
            msg[i] = ' ';
}

static void psrc_verror(sluice_error *err, int code, const char *file,
    int line, const char *fmt, va_list ap)
{
    int n;

    if (err == NULL)
        return;
    err->code = code;
    err->line = line > 0 ? line : 0;
    copy_tail(err->file, sizeof err->file, file != NULL ? file : "");
    n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    if (n < 0) {
        copy_tail(err->message, sizeof err->message,
            "(the error message could not be formatted)");
        return;
    }
    tidy_message(err->message, sizeof err->message,
        (size_t)n >= sizeof err->message);
}

int psrc_error(sluice_error *err, int code, const char *file, int line,
    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    psrc_verror(err, code, file, line, fmt, ap);
    va_end(ap);
    return code;
}

static int nomem(pctx *c)
{
    return psrc_error(c->err, SLUICE_ENOMEM, NULL, 0,
        "out of memory while loading the policy");
}

static int node_line(const yaml_node_t *n)
{
    return n != NULL ? (int)n->start_mark.line + 1 : 0;
}

/* An error about node `n` of policy.yaml. Returns `code`. */
static int node_err(pctx *c, int code, const yaml_node_t *n,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int node_err(pctx *c, int code, const yaml_node_t *n,
    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    psrc_verror(c->err, code, c->yaml_path, node_line(n), fmt, ap);
    va_end(ap);
    return code;
}

/* How many bytes of s[len] to quote: at most PSRC_SHOW_MAX, whole UTF-8
 * sequences only. For "%.*s". */
static int show_len(const char *s, size_t len)
{
    size_t n = len < PSRC_SHOW_MAX ? len : PSRC_SHOW_MAX;

    if (n < len)
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    return (int)n;
}

/* ------------------------------------------------------------------------
 * Small helpers: names, ids, UTF-8, blanks, paths
 * ---------------------------------------------------------------------- */

static const char *vocab_at(const vocab *v, size_t i)
{
    return v->tab != NULL ? v->tab[i].s : v->strs[i];
}

/* Index of s[len] in v, or v->n. */
static size_t find_name(const vocab *v, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < v->n; i++)
        if (strlen(vocab_at(v, i)) == len &&
            memcmp(vocab_at(v, i), s, len) == 0)
            return i;
    return v->n;
}

/* Levenshtein distance, for "did you mean"; large for long strings. */
static size_t edit_distance(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b), row[33], i, j;

    if (alen > 32 || blen > 32)
        return SIZE_MAX;
    for (j = 0; j <= blen; j++)
        row[j] = j;
    for (i = 1; i <= alen; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (j = 1; j <= blen; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[blen];
}

/* "a, b, c" into buf (truncated if it must be; it is only a message). */
static void join_names(char *buf, size_t cap, const vocab *v)
{
    size_t used = 0, i;

    buf[0] = '\0';
    for (i = 0; i < v->n && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
            vocab_at(v, i));
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Error for a name not in v: says which, suggests, lists them. */
static int unknown_name(pctx *c, const yaml_node_t *n, const char *label,
    const char *what, const vocab *v)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length, i, best = SIZE_MAX, bi = 0;
    char allowed[320], hint[64] = "";

    for (i = 0; i < v->n; i++) {
        size_t d = edit_distance(s, len, vocab_at(v, i));
        if (d < best) {
            best = d;
            bi = i;
        }
    }
    if (best <= 2 && best < strlen(vocab_at(v, bi)))
        (void)snprintf(hint, sizeof hint, "; did you mean '%s'?",
            vocab_at(v, bi));
    join_names(allowed, sizeof allowed, v);
    return node_err(c, SLUICE_EPOLICY, n, "%s: unknown %s '%.*s'%s "
        "(allowed: %s)", label, what, show_len(s, len), s, hint, allowed);
}

static int valid_id(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > PSRC_ID_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-'))
            return 0;
    }
    return 1;
}

/*
 * Offset of the first byte of s[len] that is not well-formed UTF-8 (RFC
 * 3629: no overlong forms, no surrogates, nothing above U+10FFFF) or is
 * NUL; len if there is none. ASCII goes eight bytes at a time.
 */
static size_t utf8_bad(const unsigned char *s, size_t len)
{
    const uint64_t hi = 0x8080808080808080u, ones = 0x0101010101010101u;
    size_t i = 0, k, need;

    while (i < len) {
        unsigned char b = s[i], lo = 0x80, top = 0xBF;
        uint64_t w;

        if (len - i >= 8) {
            memcpy(&w, s + i, 8);
            if ((w & hi) == 0 && ((w - ones) & ~w & hi) == 0) {
                i += 8;
                continue;
            }
        }
        if (b < 0x80) {
            if (b == 0)
                return i;
            i++;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF)
            need = 1;
        else if (b >= 0xE0 && b <= 0xEF)
            need = 2;
        else if (b >= 0xF0 && b <= 0xF4)
            need = 3;
        else
            return i;
        if (b == 0xE0)
            lo = 0xA0;
        else if (b == 0xED)
            top = 0x9F;
        else if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            top = 0x8F;
        if (len - i <= need || s[i + 1] < lo || s[i + 1] > top)
            return i;
        for (k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += need + 1;
    }
    return len;
}

/* 1-based line of byte offset `off` in s. */
static int line_of(const char *s, size_t off)
{
    const char *p = s, *end = s + off, *nl;
    int line = 1;

    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        line++;
        p = nl + 1;
    }
    return line;
}

/* Error for a bad byte at `off` of file `shown` (buf holds it all). */
static int utf8_err(pctx *c, const char *shown, const char *buf, size_t off)
{
    unsigned char b = (unsigned char)buf[off];

    if (b == 0)
        return psrc_error(c->err, SLUICE_EPOLICY, shown, line_of(buf, off),
            "contains a NUL byte");
    return psrc_error(c->err, SLUICE_EPOLICY, shown, line_of(buf, off),
        "invalid UTF-8 (byte 0x%02x); policy files and lists must be UTF-8",
        b);
}

/* Bytes of the blank starting at s (0 if none): ASCII space, tab, CR, VT,
 * FF, U+00A0 NO-BREAK SPACE, U+3000 IDEOGRAPHIC SPACE. */
static size_t blank_at(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;

    if (len == 0)
        return 0;
    if (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r' && u[0] != '\n'))
        return 1;
    if (len >= 2 && u[0] == 0xC2 && u[1] == 0xA0)
        return 2;
    if (len >= 3 && u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80)
        return 3;
    return 0;
}

/* Bytes of the blank ending at s + len (0 if none). s is valid UTF-8, so
 * a lead byte found there starts the character. */
static size_t blank_before(const char *s, size_t len)
{
    if (len >= 1 && blank_at(s + len - 1, 1) == 1)
        return 1;
    if (len >= 2 && blank_at(s + len - 2, 2) == 2)
        return 2;
    if (len >= 3 && blank_at(s + len - 3, 3) == 3)
        return 3;
    return 0;
}

static void trim(const char **s, size_t *len)
{
    size_t b;

    while ((b = blank_at(*s, *len)) > 0) {
        *s += b;
        *len -= b;
    }
    while ((b = blank_before(*s, *len)) > 0)
        *len -= b;
}

/*
 * Normalize a list path relative to the policy directory: drop "." and
 * empty segments. Refuses absolute paths and "..". On success *out is
 * malloc'd (the caller's). Returns 0, -1 (*why says why) or -2 (no memory).
 */
static int relpath_norm(const char *s, size_t len, char **out,
    const char **why)
{
    char *r;
    size_t o = 0, i = 0;

    *out = NULL;
    if (len > 0 && s[0] == '/') {
        *why = "must be relative to the policy directory";
        return -1;
    }
    if ((r = malloc(len + 1)) == NULL)
        return -2;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '/')
            j++;
        if (j - i == 2 && s[i] == '.' && s[i + 1] == '.') {
            free(r);
            *why = "must stay inside the policy directory (no '..')";
            return -1;
        }
        if (j - i > 1 || (j - i == 1 && s[i] != '.')) {
            if (o > 0)
                r[o++] = '/';
            memcpy(r + o, s + i, j - i);
            o += j - i;
        }
        i = j + 1;
    }
    if (o == 0) {
        free(r);
        *why = "names no file";
        return -1;
    }
    r[o] = '\0';
    *out = r;
    return 0;
}

/* strerror() is not thread-safe; this is, with GNU or XSI strerror_r. */
static const char *errno_text(int eno, char *buf, size_t cap)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(eno, buf, cap);
#else
    if (strerror_r(eno, buf, cap) != 0)
        (void)snprintf(buf, cap, "error %d", eno);
    return buf;
#endif
}

/* prefix + rel, malloc'd; NULL if out of memory. */
static char *join_path(const char *prefix, const char *rel)
{
    size_t a = strlen(prefix), b = strlen(rel);
    char *s = malloc(a + b + 1);

    if (s != NULL) {
        memcpy(s, prefix, a);
        memcpy(s + a, rel, b + 1);
    }
    return s;
}

static char *dup_mem(const char *s, size_t len)
{
    char *d = malloc(len + 1);

    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* ------------------------------------------------------------------------
 * String tables
 * ---------------------------------------------------------------------- */

static size_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;

    while (*s != '\0')
        h = (h ^ (unsigned char)*s++) * 0x100000001b3u;
    return (size_t)(h ^ (h >> 32));
}

static ident *idtab_find(const idtab *t, const char *key)
{
    size_t i;

    if (t->cap == 0)
        return NULL;
    for (i = str_hash(key) & (t->cap - 1); t->slot[i].key != NULL;
         i = (i + 1) & (t->cap - 1))
        if (strcmp(t->slot[i].key, key) == 0)
            return &t->slot[i];
    return NULL;
}

/* Insert a key known to be absent; grows at half full. -1: no memory. */
static int idtab_add(idtab *t, const char *key, int line, size_t idx)
{
    size_t i;

    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16, k;
        ident *slot;
        if (cap < t->cap || (slot = calloc(cap, sizeof *slot)) == NULL)
            return -1;
        for (k = 0; k < t->cap; k++) {
            if (t->slot[k].key == NULL)
                continue;
            for (i = str_hash(t->slot[k].key) & (cap - 1); slot[i].key;
                 i = (i + 1) & (cap - 1))
                ;
            slot[i] = t->slot[k];
        }
        free(t->slot);
        t->slot = slot;
        t->cap = cap;
    }
    for (i = str_hash(key) & (t->cap - 1); t->slot[i].key != NULL;
         i = (i + 1) & (t->cap - 1))
        ;
    t->slot[i].key = key;
    t->slot[i].line = line;
    t->slot[i].idx = idx;
    t->n++;
    return 0;
}

/* ------------------------------------------------------------------------
 * Owned storage: files, blocks, list cache
 * ---------------------------------------------------------------------- */

/* Append `rel` (taken over, freed on failure) to psrc->files. */
static int push_file(pctx *c, char *rel)
{
    psrc *p = c->p;

    if (p->nfiles == c->files_cap) {
        size_t cap = c->files_cap ? c->files_cap * 2 : 8;
        char **f = realloc(p->files, cap * sizeof *f);
        if (f == NULL) {
            free(rel);
            return nomem(c);
        }
        p->files = f;
        c->files_cap = cap;
    }
    p->files[p->nfiles++] = rel;
    return 0;
}

/* Append `block` (taken over, freed on failure) to psrc->blocks. */
static int push_block(pctx *c, char *block)
{
    psrc *p = c->p;

    if (p->nblocks == c->blocks_cap) {
        size_t cap = c->blocks_cap ? c->blocks_cap * 2 : 8;
        char **b = realloc(p->blocks, cap * sizeof *b);
        if (b == NULL) {
            free(block);
            return nomem(c);
        }
        p->blocks = b;
        c->blocks_cap = cap;
    }
    p->blocks[p->nblocks++] = block;
    return 0;
}

/* Remember that list `file` (psrc->files[fi]) parsed to terms[n]. */
static int push_list(pctx *c, const char *file, size_t fi, psrc_term *terms,
    size_t n)
{
    if (c->nlists == c->lists_cap) {
        size_t cap = c->lists_cap ? c->lists_cap * 2 : 8;
        listref *l = realloc(c->lists, cap * sizeof *l);
        if (l == NULL)
            return nomem(c);
        c->lists = l;
        c->lists_cap = cap;
    }
    c->lists[c->nlists].file = fi;
    c->lists[c->nlists].terms = terms;
    c->lists[c->nlists].n = n;
    if (idtab_add(&c->listtab, file, 0, c->nlists) != 0)
        return nomem(c);
    c->nlists++;
    return 0;
}

/* Count one more term against max_terms; the error names where it was. */
static int count_term(pctx *c, const char *shown, int line)
{
    if (c->nterms >= c->max_terms)
        return psrc_error(c->err, SLUICE_ETOOBIG, shown, line,
            "too many terms: more than %zu in total (max_terms)",
            c->max_terms);
    c->nterms++;
    return 0;
}

/* ------------------------------------------------------------------------
 * Reading and hashing sources
 * ---------------------------------------------------------------------- */

enum { SLURP_OK = 0, SLURP_IO, SLURP_NOTREG, SLURP_BIG, SLURP_CHANGED,
       SLURP_NOMEM, SLURP_MISSING, SLURP_OUTSIDE };

/*
 * 1 if open file `fd` lies inside directory `dir` (both resolved: the
 * file by the path the kernel opened, so that no symbolic link, in the
 * file's name or in a directory on the way, can point a list at another
 * file of the machine: `sluice build` would pack it into a signed
 * bundle). 0 if outside, -1 if it cannot be told (eno set).
 */
static int fd_inside(int fd, const char *dir, int *eno)
{
    char link[64], real[PATH_MAX + 1], *root;
    ssize_t n;
    size_t rl;
    int in;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, real, sizeof real - 1);
    if (n < 0) {
        *eno = errno;
        return -1;
    }
    real[n] = '\0';
    if ((root = realpath(dir, NULL)) == NULL) {
        *eno = errno;
        return -1;
    }
    rl = strlen(root);
    in = strncmp(real, root, rl) == 0 &&
        (real[rl] == '/' || (rl == 1 && root[0] == '/'));
    free(root);
    return in;
}

static int read_all(int fd, char *buf, size_t want, size_t *got, int *eno)
{
    *got = 0;
    while (*got < want) {
        ssize_t r = read(fd, buf + *got, want - *got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *eno = errno;
            return SLURP_IO;
        }
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return SLURP_OK;
}

/*
 * Read regular file `path` whole into *out (malloc'd, NUL-terminated, the
 * caller's), refusing more than `limit` bytes. Returns SLURP_*; *eno holds
 * errno for SLURP_IO, *size the file size for SLURP_BIG.
 */
static int slurp(const char *path, const char *within, size_t limit,
    char **out, size_t *len, int *eno, uint64_t *size)
{
    struct stat st;
    char *buf = NULL, extra;
    size_t got = 0, more = 0;
    int fd, rc = SLURP_IO;

    *out = NULL;
    *len = 0;
    *eno = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        *eno = errno;
        return SLURP_IO;
    }
    if (fstat(fd, &st) != 0) {
        *eno = errno;
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        *eno = EISDIR;
        goto done;
    }
    if (within != NULL) {
        int in = fd_inside(fd, within, eno);
        if (in < 0)
            goto done;
        rc = SLURP_OUTSIDE;
        if (in == 0)
            goto done;
    }
    rc = SLURP_NOTREG;
    if (!S_ISREG(st.st_mode))
        goto done;
    *size = (uint64_t)st.st_size;
    rc = SLURP_BIG;
    if (*size > limit)
        goto done;
    rc = SLURP_NOMEM;
    if ((buf = malloc((size_t)*size + 1)) == NULL)
        goto done;
    if ((rc = read_all(fd, buf, (size_t)*size, &got, eno)) != SLURP_OK)
        goto done;
    if (got == (size_t)*size &&
        (rc = read_all(fd, &extra, 1, &more, eno)) != SLURP_OK)
        goto done;
    rc = more > 0 ? SLURP_CHANGED : SLURP_OK;
    if (rc == SLURP_OK) {
        buf[got] = '\0';
        *out = buf;
        *len = got;
        buf = NULL;
    }
done:
    free(buf);
    (void)close(fd);   /* read-only: nothing to lose on close */
    return rc;
}

/*
 * The in-memory counterpart of slurp(): copy source `rel` out of the file
 * table (the parser writes into list buffers, and the table is borrowed).
 * Returns SLURP_OK, SLURP_MISSING (no such file), SLURP_BIG (*size set)
 * or SLURP_NOMEM.
 */
static int mem_slurp(pctx *c, const char *rel, size_t limit, char **out,
    size_t *len, uint64_t *size)
{
    const ident *id = idtab_find(&c->memtab, rel);
    const psrc_memfile *f;
    char *buf;

    *out = NULL;
    *len = 0;
    if (id == NULL)
        return SLURP_MISSING;
    f = &c->io->files[id->idx];
    *size = (uint64_t)f->len;
    if (f->len > limit)
        return SLURP_BIG;
    if ((buf = malloc(f->len + 1)) == NULL)
        return SLURP_NOMEM;
    if (f->len > 0)
        memcpy(buf, f->data, f->len);
    buf[f->len] = '\0';
    *out = buf;
    *len = f->len;
    return SLURP_OK;
}

/* Index the in-memory file table by path (none for the filesystem). */
static int mem_index(pctx *c)
{
    size_t i;

    if (c->io == NULL || c->io->files == NULL)
        return 0;
    if (c->io->nfiles == 0)
        return psrc_error(c->err, SLUICE_EINVAL, NULL, 0,
            "psrc_load_io: an in-memory file table needs the policy file");
    for (i = 0; i < c->io->nfiles; i++)
        if (idtab_find(&c->memtab, c->io->files[i].path) == NULL &&
            idtab_add(&c->memtab, c->io->files[i].path, 0, i) != 0)
            return nomem(c);
    return 0;
}

static int hash_file(pctx *c, const char *rel, const char *buf, size_t len)
{
    unsigned char le[8];
    uint64_t v = (uint64_t)len;
    int i;

    for (i = 0; i < 8; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    if (crypto_generichash_update(&c->hs, (const unsigned char *)rel,
            strlen(rel) + 1) != 0 ||
        crypto_generichash_update(&c->hs, le, sizeof le) != 0 ||
        crypto_generichash_update(&c->hs, (const unsigned char *)buf,
            len) != 0)
        return psrc_error(c->err, SLUICE_EINTERNAL, NULL, 0,
            "BLAKE2b update failed");
    return 0;
}

/*
 * Read source `rel` (already in psrc->files) and feed it to the hash.
 * `ref_line` is the policy.yaml line that named it, 0 for policy.yaml
 * itself; errors about a list file that cannot be read point there.
 * On success *buf is malloc'd and the caller's.
 */
static int read_source(pctx *c, const char *rel, int ref_line, char **buf,
    size_t *len)
{
    char *shown = join_path(c->prefix, rel);
    const char *ef = ref_line > 0 ? c->yaml_path : shown;
    const char *what = ref_line > 0 ? "list file" : "policy file";
    uint64_t size = 0;
    char ebuf[128];
    int eno = 0, rc;

    if (shown == NULL)
        return nomem(c);
    if (c->io != NULL && c->io->files != NULL)
        rc = mem_slurp(c, rel, c->max_list_bytes, buf, len, &size);
    else
        rc = slurp(shown, ref_line > 0 ? c->p->dir : NULL,
            c->max_list_bytes, buf, len, &eno, &size);
    if (rc == SLURP_MISSING)
        rc = psrc_error(c->err, SLUICE_EPOLICY, ef, ref_line,
            "cannot read %s '%s': the bundle does not hold it", what, shown);
    else if (rc == SLURP_IO)
        rc = psrc_error(c->err, SLUICE_EIO, ef, ref_line,
            "cannot read %s '%s': %s", what, shown,
            errno_text(eno, ebuf, sizeof ebuf));
    else if (rc == SLURP_NOTREG)
        rc = psrc_error(c->err, SLUICE_EIO, ef, ref_line,
            "cannot read %s '%s': not a regular file", what, shown);
    else if (rc == SLURP_OUTSIDE)
        rc = psrc_error(c->err, SLUICE_EPOLICY, ef, ref_line,
            "%s '%s' resolves outside the policy directory (a symbolic "
            "link?): lists must be files of the policy", what, shown);
    else if (rc == SLURP_CHANGED)
        rc = psrc_error(c->err, SLUICE_EIO, ef, ref_line,
            "cannot read %s '%s': it changed while being read", what, shown);
    else if (rc == SLURP_BIG)
        rc = psrc_error(c->err, SLUICE_ETOOBIG, ef, ref_line,
            "%s '%s' is %llu bytes, over the limit of %zu "
            "(max_list_bytes)", what, shown, (unsigned long long)size,
            c->max_list_bytes);
    else if (rc == SLURP_NOMEM)
        rc = nomem(c);
    else if ((rc = hash_file(c, rel, *buf, *len)) == 0 && c->io != NULL &&
        c->io->on_file != NULL && c->io->on_file(c->io->payload, rel,
            (const unsigned char *)*buf, *len) != 0)
        rc = nomem(c);
    if (rc != 0) {
        free(*buf);
        *buf = NULL;
    }
    free(shown);
    return rc;
}

/* ------------------------------------------------------------------------
 * YAML nodes
 * ---------------------------------------------------------------------- */

/* Node `id` of the document, marked as visited: reaching one twice means
 * an alias, which policies may not use. */
static int node_get(pctx *c, int id, yaml_node_t **out)
{
    yaml_node_t *n = yaml_document_get_node(&c->doc, id);
    size_t i;

    *out = NULL;
    if (n == NULL)
        return psrc_error(c->err, SLUICE_EINTERNAL, c->yaml_path, 0,
            "libyaml returned a dangling node");
    i = (size_t)(n - c->doc.nodes.start);
    if (c->seen[i])
        return node_err(c, SLUICE_EPOLICY, n, "YAML anchors and aliases "
            "(&name, *name) are not supported: the node here is used twice");
    c->seen[i] = 1;
    *out = n;
    return 0;
}

static int is_null(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style !=
        YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return len == 0 || (len == 1 && s[0] == '~') ||
        (len == 4 && (memcmp(s, "null", 4) == 0 ||
                      memcmp(s, "Null", 4) == 0 ||
                      memcmp(s, "NULL", 4) == 0));
}

static const char *kind_of(const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a sequence";
    if (is_null(n))
        return "an empty value";
    return "a string";
}

static size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top -
        n->data.sequence.items.start);
}

/* The text of a scalar, not copied. Refuses non-scalars, empty values
 * (null) and embedded NUL ("\0" in a double-quoted string). */
static int get_text(pctx *c, const yaml_node_t *n, const char *label,
    const char *key, const char **s, size_t *len)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' must be a string, "
            "got %s", label, key, kind_of(n));
    *s = (const char *)n->data.scalar.value;
    *len = n->data.scalar.length;
    if (memchr(*s, '\0', *len) != NULL)
        return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' contains a NUL "
            "character", label, key);
    return 0;
}

static int get_str(pctx *c, const yaml_node_t *n, const char *label,
    const char *key, char **out)
{
    const char *s;
    size_t len;
    int rc;

    if ((rc = get_text(c, n, label, key, &s, &len)) != 0)
        return rc;
    if ((*out = dup_mem(s, len)) == NULL)
        return nomem(c);
    return 0;
}

static int get_id(pctx *c, const yaml_node_t *n, const char *label,
    const char *key, char **out)
{
    const char *s;
    size_t len;
    int rc;

    if ((rc = get_text(c, n, label, key, &s, &len)) != 0)
        return rc;
    if (!valid_id(s, len))
        return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' must be an id of "
            "letters, digits, '.', '_' and '-' (at most %d bytes), got "
            "'%.*s'", label, key, PSRC_ID_MAX, show_len(s, len), s);
    if ((*out = dup_mem(s, len)) == NULL)
        return nomem(c);
    return 0;
}

/* A plain decimal integer in [min, max]; no sign but '-', no leading
 * zeros (YAML 1.1 would read 010 as octal). */
static int get_int(pctx *c, const yaml_node_t *n, const char *label,
    const char *key, int64_t min, int64_t max, int64_t *out)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length, i = 0;
    int neg = 0;
    uint64_t v = 0;

    if (n->type != YAML_SCALAR_NODE || is_null(n) ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' must be an integer, "
            "got %s", label, key, n->type == YAML_SCALAR_NODE &&
            !is_null(n) ? "a quoted string" : kind_of(n));
    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == len || (s[i] == '0' && len - i > 1))
        goto bad;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            goto bad;
        if (v > (UINT64_MAX - 9) / 10)
            goto range;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        goto range;
    *out = neg ? -(int64_t)v : (int64_t)v;
    if (*out < min || *out > max)
        goto range;
    return 0;
bad:
    return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' must be a decimal "
        "integer, got '%.*s'", label, key, show_len(s, len), s);
range:
    if (max == INT64_MAX)
        return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' must be at least "
            "%lld, got %.*s", label, key, (long long)min, show_len(s, len),
            s);
    return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' must be between %lld "
        "and %lld, got %.*s", label, key, (long long)min, (long long)max,
        show_len(s, len), s);
}

/* A scalar that must be one of v; *idx gets its index. */
static int get_name(pctx *c, const yaml_node_t *n, const char *label,
    const char *key, const char *what, const vocab *v, size_t *idx)
{
    const char *s;
    size_t len;
    int rc;

    if ((rc = get_text(c, n, label, key, &s, &len)) != 0)
        return rc;
    *idx = find_name(v, s, len);
    if (*idx == v->n)
        return unknown_name(c, n, label, what, v);
    return 0;
}

/* A sequence of names from v; *out gets the OR of their bits[]. */
static int get_bits(pctx *c, const yaml_node_t *seq, const char *label,
    const char *key, const char *what, const vocab *v,
    const unsigned *bits, unsigned *out)
{
    size_t i, idx;
    int rc;

    if (seq->type != YAML_SEQUENCE_NODE)
        return node_err(c, SLUICE_EPOLICY, seq, "%s: '%s' must be a "
            "sequence such as [%s], got %s", label, key, vocab_at(v, 0),
            kind_of(seq));
    *out = 0;
    for (i = 0; i < seq_len(seq); i++) {
        yaml_node_t *item;
        if ((rc = node_get(c, seq->data.sequence.items.start[i], &item)) ||
            (rc = get_name(c, item, label, key, what, v, &idx)))
            return rc;
        *out |= bits[idx];
    }
    return 0;
}

/*
 * Check that `map` is a mapping whose keys all come from keys[nkeys], each
 * at most once, and set vals[k] to the value of keys[k].s (NULL if absent).
 */
static int map_collect(pctx *c, const yaml_node_t *map, const char *label,
    const pname *keys, size_t nkeys, yaml_node_t **vals)
{
    const yaml_node_pair_t *pair;
    int klines[MAX_KEYS] = { 0 };
    const vocab kv = { keys, NULL, nkeys };
    size_t k;
    int rc;

    assert(nkeys <= MAX_KEYS);
    for (k = 0; k < nkeys; k++)
        vals[k] = NULL;
    if (map->type != YAML_MAPPING_NODE)
        return node_err(c, SLUICE_EPOLICY, map, "%s must be a mapping of "
            "keys, got %s", label, kind_of(map));
    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *key, *val;
        if ((rc = node_get(c, pair->key, &key)) != 0)
            return rc;
        if (key->type != YAML_SCALAR_NODE)
            return node_err(c, SLUICE_EPOLICY, key, "%s: a key must be a "
                "name, got %s", label, kind_of(key));
        k = find_name(&kv, (const char *)key->data.scalar.value,
            key->data.scalar.length);
        if (k == nkeys)
            return unknown_name(c, key, label, "key", &kv);
        if (vals[k] != NULL)
            return node_err(c, SLUICE_EPOLICY, key, "%s: duplicate key '%s' "
                "(first at line %d)", label, keys[k].s, klines[k]);
        if ((rc = node_get(c, pair->value, &val)) != 0)
            return rc;
        vals[k] = val;
        klines[k] = node_line(key);
    }
    return 0;
}

/* {zh: ..., en: ...}; either may be absent. */
static int get_pair(pctx *c, const yaml_node_t *n, const char *label,
    char **zh, char **en)
{
    yaml_node_t *v[PK_N];
    int rc;

    if ((rc = map_collect(c, n, label, pair_keys, PK_N, v)) != 0)
        return rc;
    if (v[PK_ZH] != NULL && (rc = get_str(c, v[PK_ZH], label, "zh", zh)))
        return rc;
    if (v[PK_EN] != NULL && (rc = get_str(c, v[PK_EN], label, "en", en)))
        return rc;
    return 0;
}

/* ------------------------------------------------------------------------
 * Terms: inline sequences and list files
 * ---------------------------------------------------------------------- */

/*
 * The strings of sequence `seq` (at least `min`) as terms: trimmed, not
 * empty, copied into one block. *out and *nout are psrc fields, set as
 * soon as the array exists so that psrc_free owns it on any later error.
 */
static int inline_terms(pctx *c, const yaml_node_t *seq, const char *label,
    const char *key, size_t min, psrc_term **out, size_t *nout)
{
    size_t n = seq_len(seq), total = 0, i;
    tview *tv = NULL;
    char *block = NULL, *w;
    int rc = 0;

    if (n < min)
        return node_err(c, SLUICE_EPOLICY, seq, "%s: '%s' needs at least "
            "%zu term%s", label, key, min, min == 1 ? "" : "s");
    if (n == 0)
        return 0;
    if ((tv = calloc(n, sizeof *tv)) == NULL)
        return nomem(c);
    for (i = 0; i < n && rc == 0; i++) {
        yaml_node_t *item;
        if ((rc = node_get(c, seq->data.sequence.items.start[i], &item)) ||
            (rc = get_text(c, item, label, key, &tv[i].s, &tv[i].len)))
            break;
        trim(&tv[i].s, &tv[i].len);
        tv[i].line = node_line(item);
        if (tv[i].len == 0)
            rc = node_err(c, SLUICE_EPOLICY, item, "%s: empty term in '%s' "
                "(item %zu)", label, key, i + 1);
        else
            rc = count_term(c, c->yaml_path, tv[i].line);
        total += tv[i].len + 1;
    }
    if (rc == 0 && (block = malloc(total)) == NULL)
        rc = nomem(c);
    if (rc == 0)
        rc = push_block(c, block);      /* frees block on failure */
    if (rc == 0 && (*out = calloc(n, sizeof **out)) == NULL)
        rc = nomem(c);
    for (i = 0, w = block; rc == 0 && i < n; i++) {
        memcpy(w, tv[i].s, tv[i].len);
        w[tv[i].len] = '\0';
        (*out)[i].text = w;
        (*out)[i].file = c->p->files[0];
        (*out)[i].line = tv[i].line;
        w += tv[i].len + 1;
        *nout = i + 1;
    }
    free(tv);
    return rc;
}

/* The term on line [s, e) of a list file, trimmed, comment cut off; sets
 * *len to 0 for blank and comment lines. */
static char *list_line(char *s, char *e, size_t *len)
{
    char *h;
    size_t n = (size_t)(e - s), b;

    while ((b = blank_at(s, n)) > 0) {
        s += b;
        n -= b;
    }
    if (n == 0 || *s == '#') {
        *len = 0;
        return s;
    }
    for (h = s + 1; (h = memchr(h, '#', (size_t)(s + n - h))) != NULL; h++)
        if (h[-1] == ' ' || h[-1] == '\t') {
            n = (size_t)(h - s);
            break;
        }
    while ((b = blank_before(s, n)) > 0)
        n -= b;
    *len = n;
    return s;
}

/*
 * Split list file `file` (buf[len], writable, NUL at buf[len]) into terms
 * pointing into buf. *out and *nout are psrc fields (see inline_terms).
 */
static int split_list(pctx *c, char *buf, size_t len, const char *file,
    psrc_term **out, size_t *nout)
{
    char *s = buf, *end = buf + len, *nl, *t, *shown;
    size_t cap = 1, off, tlen, n = 0;
    int line = 1, rc = 0;

    if ((shown = join_path(c->prefix, file)) == NULL)
        return nomem(c);
    if ((off = utf8_bad((const unsigned char *)buf, len)) < len) {
        rc = utf8_err(c, shown, buf, off);
        goto done;
    }
    for (nl = buf; (nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL; nl++)
        cap++;
    if ((*out = calloc(cap, sizeof **out)) == NULL) {
        rc = nomem(c);
        goto done;
    }
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    for (; s <= end; s = nl + 1, line++) {
        if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
            nl = end;
        t = list_line(s, nl, &tlen);
        if (tlen == 0)
            continue;
        if ((rc = count_term(c, shown, line)) != 0)
            goto done;
        t[tlen] = '\0';
        (*out)[n].text = t;
        (*out)[n].file = file;
        (*out)[n].line = line;
        *nout = ++n;
    }
done:
    free(shown);
    return rc;
}

/* Give a second reference to an already-read list its own term array. */
static int copy_terms(pctx *c, const listref *l, psrc_term **out,
    size_t *nout)
{
    size_t i;
    int rc;

    if (l->n == 0)
        return 0;
    for (i = 0; i < l->n; i++) {
        if (c->nterms >= c->max_terms) {
            char *shown = join_path(c->prefix, l->terms[i].file);
            if (shown == NULL)
                return nomem(c);
            rc = count_term(c, shown, l->terms[i].line);
            free(shown);
            return rc;
        }
        c->nterms++;
    }
    if ((*out = malloc(l->n * sizeof **out)) == NULL)
        return nomem(c);
    memcpy(*out, l->terms, l->n * sizeof **out);
    *nout = l->n;
    return 0;
}

/*
 * The terms of list file `rel` (normalized; taken over): read and split
 * it, or copy the terms of its earlier reading. *file gets its name as
 * kept in psrc->files. `val` is the policy.yaml node that named it.
 */
static int list_read(pctx *c, const yaml_node_t *val, const char *label,
    const char *key, char *rel, const char **file, psrc_term **out,
    size_t *nout)
{
    const ident *seen = idtab_find(&c->listtab, rel);
    char *buf = NULL;
    size_t len = 0;
    int rc;

    if (seen != NULL) {
        *file = c->p->files[c->lists[seen->idx].file];
        free(rel);
        return copy_terms(c, &c->lists[seen->idx], out, nout);
    }
    if (strcmp(rel, c->p->files[0]) == 0) {
        free(rel);
        return node_err(c, SLUICE_EPOLICY, val, "%s: '%s' names the policy "
            "file itself, not a list", label, key);
    }
    if ((rc = push_file(c, rel)) != 0)
        return rc;
    *file = rel;
    if ((rc = read_source(c, rel, node_line(val), &buf, &len)) != 0 ||
        (rc = push_block(c, buf)) != 0 ||
        (rc = split_list(c, buf, len, rel, out, nout)) != 0)
        return rc;
    return push_list(c, rel, c->p->nfiles - 1, *out, *nout);
}

/*
 * The terms of the list file named by scalar `val` (a path relative to the
 * policy directory; see the file comment for the format). An empty list is
 * an error unless allow_empty. *out and *nout are psrc fields.
 */
static int list_terms(pctx *c, const yaml_node_t *val, const char *label,
    const char *key, int allow_empty, psrc_term **out, size_t *nout)
{
    const char *s, *why = NULL, *file = NULL;
    char *rel, *shown;
    size_t len;
    int rc;

    if ((rc = get_text(c, val, label, key, &s, &len)) != 0)
        return rc;
    rc = relpath_norm(s, len, &rel, &why);
    if (rc == -2)
        return nomem(c);
    if (rc != 0)
        return node_err(c, SLUICE_EPOLICY, val, "%s: list file path '%.*s' "
            "%s", label, show_len(s, len), s, why);
    if ((rc = list_read(c, val, label, key, rel, &file, out, nout)) != 0 ||
        *nout > 0 || allow_empty)
        return rc;
    if ((shown = join_path(c->prefix, file)) == NULL)
        return nomem(c);
    rc = node_err(c, SLUICE_EPOLICY, val, "%s: list file '%s' holds no "
        "terms", label, shown);
    free(shown);
    return rc;
}

/* ------------------------------------------------------------------------
 * Categories, rules, allow
 * ---------------------------------------------------------------------- */

static void set_label(char *buf, size_t cap, const char *kind,
    const char *id, size_t i)
{
    /* Truncation only shortens a message. */
    if (id != NULL)
        (void)snprintf(buf, cap, "%s '%s'", kind, id);
    else
        (void)snprintf(buf, cap, "%s #%zu", kind, i + 1);
}

/* Label a rule or category by its `id:` when it has a valid one, even
 * before its keys are checked, so that every message can name it. Reads
 * the nodes without marking them visited. */
static void peek_label(pctx *c, const yaml_node_t *map, char *buf,
    size_t cap, const char *kind, size_t i)
{
    const yaml_node_pair_t *pair;

    set_label(buf, cap, kind, NULL, i);
    if (map->type != YAML_MAPPING_NODE)
        return;
    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        const yaml_node_t *k = yaml_document_get_node(&c->doc, pair->key);
        const yaml_node_t *v = yaml_document_get_node(&c->doc, pair->value);
        if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE ||
            v->type != YAML_SCALAR_NODE || k->data.scalar.length != 2 ||
            memcmp(k->data.scalar.value, "id", 2) != 0 ||
            !valid_id((const char *)v->data.scalar.value,
                v->data.scalar.length))
            continue;
        (void)snprintf(buf, cap, "%s '%.*s'", kind,
            (int)v->data.scalar.length, (const char *)v->data.scalar.value);
        return;
    }
}

static int get_action(pctx *c, const yaml_node_t *n, const char *label,
    int *out)
{
    size_t idx;
    int rc;

    if ((rc = get_name(c, n, label, "action", "action",
            VOCAB(action_names), &idx)) != 0)
        return rc;
    *out = (int)idx;
    return 0;
}

static int parse_category(pctx *c, const yaml_node_t *n, size_t i,
    psrc_category *cat)
{
    yaml_node_t *v[CK_N];
    char label[192];
    ident *first;
    int rc;

    peek_label(c, n, label, sizeof label, "category", i);
    cat->file = c->p->files[0];
    cat->line = node_line(n);
    cat->action = -1;
    if ((rc = map_collect(c, n, label, cat_keys, CK_N, v)) != 0)
        return rc;
    if (v[CK_ID] == NULL)
        return node_err(c, SLUICE_EPOLICY, n, "%s: missing required key "
            "'id'", label);
    if ((rc = get_id(c, v[CK_ID], label, "id", &cat->id)) != 0)
        return rc;
    set_label(label, sizeof label, "category", cat->id, i);
    if ((first = idtab_find(&c->cats, cat->id)) != NULL)
        return node_err(c, SLUICE_EPOLICY, v[CK_ID], "duplicate category id "
            "'%s' (first defined at line %d)", cat->id, first->line);
    if (idtab_add(&c->cats, cat->id, node_line(v[CK_ID]), i) != 0)
        return nomem(c);
    if (v[CK_ACTION] == NULL)
        return node_err(c, SLUICE_EPOLICY, n, "%s: missing required key "
            "'action' (one of allow, flag, label, redact, block)", label);
    if ((rc = get_action(c, v[CK_ACTION], label, &cat->action)) != 0)
        return rc;
    if ((v[CK_SEVERITY] && (rc = get_str(c, v[CK_SEVERITY], label,
            "severity", &cat->severity))) ||
        (v[CK_NAME] && (rc = get_pair(c, v[CK_NAME], label, &cat->name_zh,
            &cat->name_en))) ||
        (v[CK_MASK] && (rc = get_str(c, v[CK_MASK], label, "mask",
            &cat->mask))) ||
        (v[CK_DESCRIPTION] && (rc = get_str(c, v[CK_DESCRIPTION], label,
            "description", &cat->description))))
        return rc;
    return 0;
}

static int parse_categories(pctx *c, const yaml_node_t *seq)
{
    psrc *p = c->p;
    size_t n, i;
    int rc;

    if (seq->type != YAML_SEQUENCE_NODE)
        return node_err(c, SLUICE_EPOLICY, seq, "'categories' must be a "
            "sequence of mappings, got %s", kind_of(seq));
    if ((n = seq_len(seq)) == 0)
        return 0;
    if ((p->cats = calloc(n, sizeof *p->cats)) == NULL)
        return nomem(c);
    p->ncats = n;
    for (i = 0; i < n; i++) {
        yaml_node_t *item;
        if ((rc = node_get(c, seq->data.sequence.items.start[i], &item)) ||
            (rc = parse_category(c, item, i, &p->cats[i])))
            return rc;
    }
    return 0;
}

/* A rule needs exactly one of terms/regex/all; `within` goes with `all`. */
static int check_kind(pctx *c, const yaml_node_t *n, const char *label,
    yaml_node_t *const *v)
{
    int has_t = v[RK_TERMS] != NULL, has_r = v[RK_REGEX] != NULL;
    int has_a = v[RK_ALL] != NULL;

    if (has_t + has_r + has_a == 0)
        return node_err(c, SLUICE_EPOLICY, n, "%s: needs one of 'terms', "
            "'regex', 'all' (found none)", label);
    if (has_t + has_r + has_a > 1)
        return node_err(c, SLUICE_EPOLICY, n, "%s: needs exactly one of "
            "'terms', 'regex', 'all' (found %s%s%s)", label,
            has_t ? "'terms'" : "", has_t && has_r + has_a ? " and " : "",
            has_r && has_a ? "'regex' and 'all'" : has_r ? "'regex'" :
            has_a ? "'all'" : "");
    if (v[RK_WITHIN] != NULL && !has_a)
        return node_err(c, SLUICE_EPOLICY, v[RK_WITHIN], "%s: 'within' only "
            "applies to an 'all' (co-occurrence) rule", label);
    if (has_a && v[RK_WITHIN] == NULL)
        return node_err(c, SLUICE_EPOLICY, v[RK_ALL], "%s: 'all' needs "
            "'within' (the window, in normalized characters)", label);
    return 0;
}

/* The options of a rule that take a name or a list of names. */
static int rule_options(pctx *c, const char *label, yaml_node_t *const *v,
    psrc_rule *r)
{
    vocab vv = { NULL, NULL, 0 };
    size_t idx;
    int rc;

    if (v[RK_VALIDATE] != NULL) {
        vv.strs = validate_names(&vv.n);
        if ((rc = get_name(c, v[RK_VALIDATE], label, "validate",
                "validator", &vv, &idx)) != 0)
            return rc;
        if ((r->validate = dup_mem(vv.strs[idx], strlen(vv.strs[idx]))) ==
            NULL)
            return nomem(c);
    }
    if (v[RK_ON] != NULL) {
        if ((rc = get_name(c, v[RK_ON], label, "on", "value for 'on'",
                VOCAB(on_names), &idx)) != 0)
            return rc;
        r->on = idx == 0 ? PSRC_ON_NORMALIZED : PSRC_ON_ORIGINAL;
    }
    if (v[RK_BOUNDARY] != NULL) {
        if ((rc = get_name(c, v[RK_BOUNDARY], label, "boundary", "boundary",
                VOCAB(boundary_names), &idx)) != 0)
            return rc;
        r->boundary = idx == 0 ? PSRC_BOUNDARY_WORD : PSRC_BOUNDARY_NONE;
    }
    if (v[RK_VARIANTS] != NULL &&
        (rc = get_bits(c, v[RK_VARIANTS], label, "variants", "variant",
            VOCAB(variant_names), variant_bits, &r->variants)) != 0)
        return rc;
    if (v[RK_MASK] != NULL &&
        (rc = get_str(c, v[RK_MASK], label, "mask", &r->mask)) != 0)
        return rc;
    return 0;
}

/* What the rule matches: its terms, regex or co-occurrence set. */
static int rule_content(pctx *c, const char *label, yaml_node_t *const *v,
    psrc_rule *r)
{
    const yaml_node_t *t = v[RK_TERMS];
    const char *s;
    size_t len;
    int rc;

    if (t != NULL) {
        r->kind = PSRC_TERMS;
        if (t->type == YAML_SEQUENCE_NODE)
            return inline_terms(c, t, label, "terms", 1, &r->terms,
                &r->nterms);
        if (t->type == YAML_SCALAR_NODE && !is_null(t))
            return list_terms(c, t, label, "terms", 0, &r->terms,
                &r->nterms);
        return node_err(c, SLUICE_EPOLICY, t, "%s: 'terms' must be a list "
            "file path or a sequence of terms, got %s", label, kind_of(t));
    }
    if (v[RK_REGEX] != NULL) {
        r->kind = PSRC_REGEX;
        r->regex_line = node_line(v[RK_REGEX]);
        if ((rc = get_text(c, v[RK_REGEX], label, "regex", &s, &len)) != 0)
            return rc;
        if (len == 0)
            return node_err(c, SLUICE_EPOLICY, v[RK_REGEX], "%s: 'regex' is "
                "empty", label);
        if ((r->regex = dup_mem(s, len)) == NULL)
            return nomem(c);
        return 0;
    }
    r->kind = PSRC_ALL;
    if (v[RK_ALL]->type != YAML_SEQUENCE_NODE)
        return node_err(c, SLUICE_EPOLICY, v[RK_ALL], "%s: 'all' must be a "
            "sequence of at least 2 terms, got %s", label,
            kind_of(v[RK_ALL]));
    return inline_terms(c, v[RK_ALL], label, "all", 2, &r->terms,
        &r->nterms);
}

static int parse_rule(pctx *c, const yaml_node_t *n, size_t i, psrc_rule *r)
{
    yaml_node_t *v[RK_N];
    char label[192];
    ident *first;
    int64_t within;
    int rc;

    peek_label(c, n, label, sizeof label, "rule", i);
    if ((rc = map_collect(c, n, label, rule_keys, RK_N, v)) != 0)
        return rc;
    if (v[RK_ID] == NULL)
        return node_err(c, SLUICE_EPOLICY, n, "%s: missing required key "
            "'id'", label);
    if ((rc = get_id(c, v[RK_ID], label, "id", &r->id)) != 0)
        return rc;
    set_label(label, sizeof label, "rule", r->id, i);
    if ((first = idtab_find(&c->ruletab, r->id)) != NULL)
        return node_err(c, SLUICE_EPOLICY, v[RK_ID], "duplicate rule id "
            "'%s' (first defined at line %d)", r->id, first->line);
    if (idtab_add(&c->ruletab, r->id, node_line(v[RK_ID]), i) != 0)
        return nomem(c);
    if (v[RK_CATEGORY] != NULL) {
        if ((rc = get_id(c, v[RK_CATEGORY], label, "category",
                &r->category)) != 0)
            return rc;
        c->cat_lines[i] = node_line(v[RK_CATEGORY]);
    }
    if (v[RK_ACTION] != NULL &&
        (rc = get_action(c, v[RK_ACTION], label, &r->action)) != 0)
        return rc;
    if (r->action < 0 && r->category == NULL)
        return node_err(c, SLUICE_EPOLICY, n, "%s: needs a 'category' or "
            "an 'action'", label);
    if (v[RK_DESCRIPTION] != NULL && (rc = get_str(c, v[RK_DESCRIPTION],
            label, "description", &r->description)) != 0)
        return rc;
    if ((rc = check_kind(c, n, label, v)) != 0)
        return rc;
    if (v[RK_WITHIN] != NULL) {
        if ((rc = get_int(c, v[RK_WITHIN], label, "within", 1,
                PSRC_WITHIN_MAX, &within)) != 0)
            return rc;
        r->within = (long)within;
    }
    if ((rc = rule_options(c, label, v, r)) != 0)
        return rc;
    return rule_content(c, label, v, r);
}

static int parse_rules(pctx *c, const yaml_node_t *seq)
{
    psrc *p = c->p;
    size_t n, i;
    int rc;

    if (seq->type != YAML_SEQUENCE_NODE)
        return node_err(c, SLUICE_EPOLICY, seq, "'rules' must be a sequence "
            "of mappings, got %s", kind_of(seq));
    if ((n = seq_len(seq)) == 0)
        return 0;
    if (n > c->max_rules)
        return node_err(c, SLUICE_ETOOBIG, yaml_document_get_node(&c->doc,
            seq->data.sequence.items.start[c->max_rules]), "too many rules: "
            "more than %zu (max_rules)", c->max_rules);
    if ((p->rules = calloc(n, sizeof *p->rules)) == NULL ||
        (c->cat_lines = calloc(n, sizeof *c->cat_lines)) == NULL)
        return nomem(c);
    p->nrules = n;
    for (i = 0; i < n; i++) {
        psrc_rule *r = &p->rules[i];
        yaml_node_t *item;
        r->action = -1;
        r->file = p->files[0];
        r->on = PSRC_ON_NORMALIZED;
        r->boundary = PSRC_BOUNDARY_DEFAULT;
        if ((rc = node_get(c, seq->data.sequence.items.start[i], &item)))
            return rc;
        r->line = node_line(item);
        if ((rc = parse_rule(c, item, i, r)) != 0)
            return rc;
    }
    return 0;
}

static int parse_allow(pctx *c, const yaml_node_t *n)
{
    psrc *p = c->p;

    if (n->type == YAML_SEQUENCE_NODE)
        return inline_terms(c, n, "allow", "allow", 0, &p->allow,
            &p->nallow);
    if (n->type == YAML_SCALAR_NODE && !is_null(n))
        return list_terms(c, n, "allow", "allow", 1, &p->allow, &p->nallow);
    return node_err(c, SLUICE_EPOLICY, n, "'allow' must be a sequence of "
        "strings or a list file path, got %s", kind_of(n));
}

/* A rule without an action of its own takes its category's, which must
 * therefore be declared. Run after all of the document is read. */
static int check_refs(pctx *c)
{
    const psrc *p = c->p;
    size_t i;

    for (i = 0; i < p->nrules; i++) {
        const psrc_rule *r = &p->rules[i];
        if (r->action >= 0 || idtab_find(&c->cats, r->category) != NULL)
            continue;
        return psrc_error(c->err, SLUICE_EPOLICY, c->yaml_path,
            c->cat_lines[i], "rule '%s': category '%s' is not declared "
            "under 'categories', and the rule has no 'action' of its own",
            r->id, r->category);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The label section (GB 45438 explicit and implicit labels)
 * ---------------------------------------------------------------------- */

static int set_default(pctx *c, char **field, const char *value);

/* Does s[len] hold `needle`? ASCII case folded with `fold`. */
static int has_text(const char *s, size_t len, const char *needle, int fold)
{
    size_t n = strlen(needle), i, k;

    for (i = 0; n <= len && i <= len - n; i++) {
        for (k = 0; k < n; k++) {
            unsigned char a = (unsigned char)s[i + k];
            unsigned char b = (unsigned char)needle[k];
            if (fold && a >= 'A' && a <= 'Z')
                a = (unsigned char)(a - 'A' + 'a');
            if (a != b)
                break;
        }
        if (k == n)
            return 1;
    }
    return 0;
}

/*
 * GB 45438 asks a text label to name artificial intelligence ("人工智能"
 * or "AI") and generation or synthesis ("生成" or "合成"). An English
 * label is held to the same in English: "AI" or "artificial
 * intelligence", and a form of "generate" or "synthesize".
 */
static int label_text_ok(const char *s, size_t len, int zh)
{
    if (zh)
        return (has_text(s, len, "人工智能", 0) || has_text(s, len, "AI", 0)) &&
            (has_text(s, len, "生成", 0) || has_text(s, len, "合成", 0));
    return (has_text(s, len, "AI", 0) ||
            has_text(s, len, "artificial intelligence", 1)) &&
        (has_text(s, len, "generat", 1) || has_text(s, len, "synthe", 1));
}

/* `text: {zh, en}`: each given text is checked against label_text_ok. */
static int label_texts(pctx *c, const yaml_node_t *n, psrc_label *l)
{
    yaml_node_t *v[PK_N];
    int rc, k;

    if ((rc = map_collect(c, n, "label: 'text'", pair_keys, PK_N, v)) != 0)
        return rc;
    for (k = 0; k < PK_N; k++) {
        char **dst = k == PK_ZH ? &l->text_zh : &l->text_en;
        const char *s;
        size_t len;
        if (v[k] == NULL)
            continue;
        if ((rc = get_text(c, v[k], "label", k == PK_ZH ? "text.zh" :
                "text.en", &s, &len)) != 0)
            return rc;
        if (!label_text_ok(s, len, k == PK_ZH))
            return node_err(c, SLUICE_EPOLICY, v[k], k == PK_ZH ?
                "label: 'text.zh' must say the content is AI-generated: it "
                "needs '人工智能' or 'AI', and '生成' or '合成' (GB 45438), "
                "got '%.*s'" :
                "label: 'text.en' must say the content is AI-generated: it "
                "needs 'AI' or 'artificial intelligence', and a form of "
                "'generate' or 'synthesize', got '%.*s'",
                show_len(s, len), s);
        if ((*dst = dup_mem(s, len)) == NULL)
            return nomem(c);
    }
    return 0;
}

/* A plain `true` or `false` (not yes/no/on/off, not quoted). */
static int get_bool(pctx *c, const yaml_node_t *n, const char *label,
    const char *key, int *out)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length, idx;

    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' must be true or "
            "false, got %s", label, key, kind_of(n));
    idx = find_name(VOCAB(bool_names), s, len);
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' must be true or "
            "false, got a quoted string", label, key);
    if (idx == NELEM(bool_names))
        return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' must be true or "
            "false, got '%.*s'", label, key, show_len(s, len), s);
    *out = (int)idx;
    return 0;
}

/* A metadata value: a string without control characters (it may end up
 * in an HTTP header). */
static int get_meta(pctx *c, const yaml_node_t *n, const char *key,
    char **out)
{
    const char *s;
    size_t len, i;
    int rc;

    if ((rc = get_text(c, n, "label", key, &s, &len)) != 0)
        return rc;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return node_err(c, SLUICE_EPOLICY, n, "label: '%s' must not "
                "contain control characters (byte 0x%02x)", key,
                (unsigned char)s[i]);
    if ((*out = dup_mem(s, len)) == NULL)
        return nomem(c);
    return 0;
}

static int parse_label(pctx *c, const yaml_node_t *n)
{
    psrc_label *l = &c->p->label;
    const char *lb = "label";
    yaml_node_t *v[LK_N];
    size_t idx;
    int rc;

    if ((rc = map_collect(c, n, "'label'", label_keys, LK_N, v)) != 0)
        return rc;
    l->present = 1;
    l->line = node_line(n);
    if (v[LK_TEXT] && (rc = label_texts(c, v[LK_TEXT], l)))
        return rc;
    if (v[LK_POSITION] != NULL) {
        if ((rc = get_name(c, v[LK_POSITION], lb, "position", "position",
                VOCAB(position_names), &idx)) != 0)
            return rc;
        l->position = (int)idx;
    }
    if (v[LK_LANGUAGE] != NULL) {
        if ((rc = get_name(c, v[LK_LANGUAGE], lb, "language", "language",
                VOCAB(language_names), &idx)) != 0)
            return rc;
        if ((l->language = dup_mem(language_names[idx].s,
                strlen(language_names[idx].s))) == NULL)
            return nomem(c);
    }
    if (v[LK_ALWAYS] && (rc = get_bool(c, v[LK_ALWAYS], lb, "always",
            &l->always)))
        return rc;
    if (v[LK_IMPLICIT] != NULL) {
        if ((rc = get_name(c, v[LK_IMPLICIT], lb, "implicit", "implicit "
                "mode", VOCAB(implicit_names), &idx)) != 0)
            return rc;
        l->implicit_all = (int)idx;
    }
    if (v[LK_SEPARATOR] && (rc = get_str(c, v[LK_SEPARATOR], lb,
            "separator", &l->separator)))
        return rc;
    if (v[LK_PRODUCER] == NULL)
        return node_err(c, SLUICE_EPOLICY, n, "label: missing required key "
            "'producer' (ContentProducer of the implicit label: the "
            "service provider's name or code)");
    if ((rc = get_meta(c, v[LK_PRODUCER], "producer", &l->producer)) ||
        (v[LK_PROPAGATOR] && (rc = get_meta(c, v[LK_PROPAGATOR],
            "propagator", &l->propagator))) ||
        (v[LK_RESERVED1] && (rc = get_meta(c, v[LK_RESERVED1], "reserved1",
            &l->reserved1))) ||
        (v[LK_RESERVED2] && (rc = get_meta(c, v[LK_RESERVED2], "reserved2",
            &l->reserved2))))
        return rc;
    return 0;
}

/* A duration in seconds: a plain integer, or one with a unit suffix s, m,
 * h or d ("90", "15m", "1d"); 1 second to 366 days. */
static int get_duration(pctx *c, const yaml_node_t *n, const char *label,
    const char *key, uint32_t *out)
{
    static const char units[] = "smhd";
    static const uint32_t mult[] = { 1, 60, 3600, 86400 };
    const char *s, *u = NULL;
    size_t len, i;
    uint64_t v = 0;
    int rc;

    if ((rc = get_text(c, n, label, key, &s, &len)) != 0)
        return rc;
    for (i = 0; i < len && s[i] >= '0' && s[i] <= '9' && v < 1000000000;
         i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    if (i == 0 || (s[0] == '0' && i > 1) || len - i > 1 ||
        (i < len && (u = memchr(units, s[i], 4)) == NULL))
        return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' must be a duration "
            "(seconds, or a number with s, m, h or d: 30m, 1d), got '%.*s'",
            label, key, show_len(s, len), s);
    if (u != NULL)
        v *= mult[u - units];
    if (v == 0 || v > 366u * 86400u)
        return node_err(c, SLUICE_EPOLICY, n, "%s: '%s' must be from 1 "
            "second to 366 days, got '%.*s'", label, key, show_len(s, len),
            s);
    *out = (uint32_t)v;
    return 0;
}

static int parse_escalation(pctx *c, const yaml_node_t *n)
{
    sluice_escalation *x = &c->p->escalation;
    const char *lb = "escalation";
    yaml_node_t *v[EK_N];
    int64_t num;
    size_t idx;
    int rc;

    if ((rc = map_collect(c, n, "'escalation'", escalation_keys, EK_N, v)))
        return rc;
    c->p->has_escalation = 1;
    c->p->escalation_line = node_line(n);
    x->block = 1;
    if (v[EK_ROW] != NULL) {
        if ((rc = get_int(c, v[EK_ROW], lb, "row", 1, 1000000, &num)))
            return rc;
        x->row = (uint32_t)num;
    }
    if (v[EK_COUNT] != NULL) {
        if ((rc = get_int(c, v[EK_COUNT], lb, "count", 1, 1000000, &num)))
            return rc;
        x->count = (uint32_t)num;
    }
    if ((v[EK_WINDOW] && (rc = get_duration(c, v[EK_WINDOW], lb, "window",
            &x->window_s))) ||
        (v[EK_SUSPEND] && (rc = get_duration(c, v[EK_SUSPEND], lb,
            "suspend", &x->suspend_s))))
        return rc;
    if (v[EK_ACTION] != NULL) {
        if ((rc = get_name(c, v[EK_ACTION], lb, "action", "suspension "
                "action", VOCAB(suspend_actions), &idx)) != 0)
            return rc;
        x->block = (int)idx;
    }
    if (x->row == 0 && x->count == 0)
        return node_err(c, SLUICE_EPOLICY, n, "escalation: give 'row' (blocks "
            "in a row) or 'count' (blocks within 'window'), or both");
    if (x->count != 0 && x->window_s == 0)
        return node_err(c, SLUICE_EPOLICY, n, "escalation: 'count' needs "
            "'window' (e.g. window: 1d)");
    if (v[EK_SUSPEND] == NULL)
        return node_err(c, SLUICE_EPOLICY, n, "escalation: missing required "
            "key 'suspend' (how long a subject stays suspended, e.g. 1h)");
    return 0;
}

/* Label defaults, and how many rules label (their action or their
 * category's). Run after the whole document is read. */
static int label_defaults(pctx *c)
{
    psrc *p = c->p;
    psrc_label *l = &p->label;
    size_t i;
    int rc;

    if ((rc = set_default(c, &l->text_zh, "本内容由人工智能生成")) ||
        (rc = set_default(c, &l->text_en, "AI-generated content")) ||
        (rc = set_default(c, &l->language, p->language)) ||
        (rc = set_default(c, &l->separator, "\n\n")) ||
        (rc = set_default(c, &l->producer, "")))
        return rc;
    p->label_rules = 0;
    for (i = 0; i < p->nrules; i++) {
        const psrc_rule *r = &p->rules[i];
        int action = r->action;
        if (action < 0) {
            const ident *cat = idtab_find(&c->cats, r->category);
            action = cat != NULL ? p->cats[cat->idx].action : -1;
        }
        p->label_rules += action == SLUICE_LABEL;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The top level
 * ---------------------------------------------------------------------- */

static int parse_head(pctx *c, const yaml_node_t *root, yaml_node_t **v)
{
    psrc *p = c->p;
    const char *top = "top level";
    int64_t num;
    size_t idx;
    int rc;

    if (v[TK_POLICY] == NULL)
        return node_err(c, SLUICE_EPOLICY, root, "missing required key "
            "'policy' (the policy id)");
    if ((rc = get_id(c, v[TK_POLICY], top, "policy", &p->id)) != 0)
        return rc;
    if (v[TK_VERSION] == NULL)
        return node_err(c, SLUICE_EPOLICY, root, "missing required key "
            "'version' (an integer that grows with every release)");
    if ((rc = get_int(c, v[TK_VERSION], top, "version", 0, INT64_MAX,
            &p->version)) != 0)
        return rc;
    if (v[TK_DESCRIPTION] && (rc = get_str(c, v[TK_DESCRIPTION], top,
            "description", &p->description)))
        return rc;
    if (v[TK_REFUSAL] && (rc = get_pair(c, v[TK_REFUSAL], "refusal",
            &p->refusal_zh, &p->refusal_en)))
        return rc;
    if (v[TK_LANGUAGE] != NULL) {
        if ((rc = get_name(c, v[TK_LANGUAGE], top, "language", "language",
                VOCAB(language_names), &idx)) != 0)
            return rc;
        if ((p->language = dup_mem(language_names[idx].s,
                strlen(language_names[idx].s))) == NULL)
            return nomem(c);
    }
    if (v[TK_MASK] && (rc = get_pair(c, v[TK_MASK], "mask", &p->mask_zh,
            &p->mask_en)))
        return rc;
    if (v[TK_NORMALIZE] && (rc = get_bits(c, v[TK_NORMALIZE], top,
            "normalize", "normalize step", VOCAB(norm_names), norm_bits,
            &p->normalize)))
        return rc;
    if (v[TK_MAX_GAP] != NULL) {
        if ((rc = get_int(c, v[TK_MAX_GAP], top, "max_gap", 0,
                PSRC_MAX_GAP_MAX, &num)) != 0)
            return rc;
        p->max_gap = (int)num;
    }
    return 0;
}

static int set_default(pctx *c, char **field, const char *value)
{
    if (*field == NULL && (*field = dup_mem(value, strlen(value))) == NULL)
        return nomem(c);
    return 0;
}

static int parse_top(pctx *c, const yaml_node_t *root)
{
    psrc *p = c->p;
    yaml_node_t *v[TK_N];
    int rc;

    if (root->type != YAML_MAPPING_NODE)
        return node_err(c, SLUICE_EPOLICY, root, "the policy must be a "
            "mapping of keys (policy:, version:, rules: ...), got %s",
            kind_of(root));
    if ((rc = map_collect(c, root, "top level", top_keys, TK_N, v)) ||
        (rc = parse_head(c, root, v)) ||
        (v[TK_CATEGORIES] && (rc = parse_categories(c, v[TK_CATEGORIES]))) ||
        (v[TK_RULES] && (rc = parse_rules(c, v[TK_RULES]))) ||
        (v[TK_ALLOW] && (rc = parse_allow(c, v[TK_ALLOW]))) ||
        (v[TK_LABEL] && (rc = parse_label(c, v[TK_LABEL]))) ||
        (v[TK_ESCALATION] && (rc = parse_escalation(c,
            v[TK_ESCALATION]))) ||
        (rc = check_refs(c)))
        return rc;
    if ((rc = set_default(c, &p->refusal_zh, "抱歉，该内容无法显示。")) ||
        (rc = set_default(c, &p->refusal_en,
            "Sorry, this content can't be shown.")) ||
        (rc = set_default(c, &p->language, "auto")) ||
        (rc = set_default(c, &p->mask_zh, "[已隐藏]")) ||
        (rc = set_default(c, &p->mask_en, "[redacted]")))
        return rc;
    return label_defaults(c);
}

/* ------------------------------------------------------------------------
 * policy.yaml: locate, read, parse
 * ---------------------------------------------------------------------- */

/*
 * In-memory sources: `origin` (a bundle's path) stands for the directory
 * in psrc->dir and in messages; the policy file is the table's first.
 */
static int locate_mem(pctx *c, const char *origin)
{
    char *file;
    int rc;

    if ((c->p->dir = dup_mem(origin, strlen(origin))) == NULL ||
        (c->prefix = join_path(origin, "/")) == NULL ||
        (file = dup_mem(c->io->files[0].path,
            strlen(c->io->files[0].path))) == NULL)
        return nomem(c);
    if ((rc = push_file(c, file)) != 0)
        return rc;
    if ((c->yaml_path = join_path(c->prefix, file)) == NULL)
        return nomem(c);
    return 0;
}

/*
 * From `path` (a directory, or the policy file) set psrc->dir, c->prefix
 * ("dir/" or ""), psrc->files[0] (the file's name) and c->yaml_path.
 */
static int locate(pctx *c, const char *path)
{
    size_t len = strlen(path), cut;
    const char *name = "policy.yaml";
    struct stat st;
    char ebuf[128], *file;
    int rc;

    if (c->io != NULL && c->io->files != NULL)
        return locate_mem(c, path);
    if (stat(path, &st) != 0)
        return psrc_error(c->err, SLUICE_EIO, path, 0, "cannot open policy "
            "'%s': %s", path, errno_text(errno, ebuf, sizeof ebuf));
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (S_ISDIR(st.st_mode)) {
        c->p->dir = dup_mem(path, len);
        c->prefix = join_path(c->p->dir ? c->p->dir : "", "/");
    } else {
        for (cut = len; cut > 0 && path[cut - 1] != '/'; cut--)
            ;
        name = path + cut;
        /* dir, prefix: "p.yaml" -> ".", ""; "/p.yaml" -> "/", "/";
           "a/p.yaml" -> "a", "a/" */
        c->p->dir = cut == 0 ? dup_mem(".", 1) :
            dup_mem(path, cut == 1 ? 1 : cut - 1);
        c->prefix = dup_mem(path, cut);
    }
    if (c->p->dir == NULL || c->prefix == NULL)
        return nomem(c);
    if (strcmp(c->prefix, "//") == 0)
        c->prefix[1] = '\0';             /* the directory "/" */
    if ((file = dup_mem(name, strlen(name))) == NULL)
        return nomem(c);
    if ((rc = push_file(c, file)) != 0)
        return rc;
    if ((c->yaml_path = join_path(c->prefix, file)) == NULL)
        return nomem(c);
    return 0;
}

/* Turn a libyaml failure into an error with the line of the problem. */
static int yaml_fail(pctx *c, const yaml_parser_t *ps, const char *buf,
    size_t len)
{
    const char *problem = ps->problem ? ps->problem : "unknown problem";
    size_t off = ps->problem_offset < len ? ps->problem_offset : len;

    if (ps->error == YAML_MEMORY_ERROR)
        return nomem(c);
    if (ps->error == YAML_READER_ERROR)
        return psrc_error(c->err, SLUICE_EPOLICY, c->yaml_path,
            line_of(buf, off), "YAML error: %s", problem);
    if (ps->context != NULL)
        return psrc_error(c->err, SLUICE_EPOLICY, c->yaml_path,
            (int)ps->problem_mark.line + 1, "YAML syntax error: %s (%s at "
            "line %zu)", problem, ps->context, ps->context_mark.line + 1);
    return psrc_error(c->err, SLUICE_EPOLICY, c->yaml_path,
        (int)ps->problem_mark.line + 1, "YAML syntax error: %s", problem);
}

/* Build c->doc from buf; refuse an empty stream or a second document. */
static int parse_doc(pctx *c, const char *buf, size_t len)
{
    yaml_parser_t ps;
    yaml_document_t extra;
    yaml_node_t *more;
    int rc = 0, line;

    if (!yaml_parser_initialize(&ps))
        return nomem(c);
    yaml_parser_set_input_string(&ps, (const unsigned char *)buf, len);
    yaml_parser_set_encoding(&ps, YAML_UTF8_ENCODING);
    if (!yaml_parser_load(&ps, &c->doc)) {
        rc = yaml_fail(c, &ps, buf, len);
        goto done;
    }
    c->have_doc = 1;
    if (yaml_document_get_root_node(&c->doc) == NULL) {
        rc = psrc_error(c->err, SLUICE_EPOLICY, c->yaml_path, 1,
            "the policy file is empty");
        goto done;
    }
    if (!yaml_parser_load(&ps, &extra)) {
        rc = yaml_fail(c, &ps, buf, len);
        goto done;
    }
    more = yaml_document_get_root_node(&extra);
    line = node_line(more);
    yaml_document_delete(&extra);
    if (more != NULL)
        rc = psrc_error(c->err, SLUICE_EPOLICY, c->yaml_path, line, "the "
            "policy file must hold one YAML document, found a second one");
done:
    yaml_parser_delete(&ps);
    return rc;
}

/* Read, check and parse policy.yaml into c->doc. */
static int load_yaml(pctx *c)
{
    char *buf = NULL;
    size_t len = 0, off, nnodes;
    int rc;

    if ((rc = read_source(c, c->p->files[0], 0, &buf, &len)) != 0)
        return rc;
    off = utf8_bad((const unsigned char *)buf, len);
    if (off < len)
        rc = utf8_err(c, c->yaml_path, buf, off);
    if (rc == 0)
        rc = parse_doc(c, buf, len);
    free(buf);
    if (rc != 0)
        return rc;
    nnodes = (size_t)(c->doc.nodes.top - c->doc.nodes.start);
    if ((c->seen = calloc(nnodes, 1)) == NULL)
        return nomem(c);
    return 0;
}

/* ------------------------------------------------------------------------
 * Entry points
 * ---------------------------------------------------------------------- */

static int ctx_init(pctx *c, const sluice_policy_options *opts,
    sluice_error *err)
{
    memset(c, 0, sizeof *c);
    c->err = err;
    c->max_terms = PSRC_DEFAULT_MAX_TERMS;
    c->max_list_bytes = PSRC_DEFAULT_MAX_LIST_BYTES;
    c->max_rules = PSRC_DEFAULT_MAX_RULES;
    if (opts != NULL) {
        if (opts->version < 1 || opts->version > SLUICE_POLICY_OPTIONS_VERSION)
            return psrc_error(err, SLUICE_EINVAL, NULL, 0, "unsupported "
                "sluice_policy_options version %u", opts->version);
        if (opts->max_terms)
            c->max_terms = opts->max_terms;
        if (opts->max_list_bytes)
            c->max_list_bytes = opts->max_list_bytes;
        if (opts->max_rules)
            c->max_rules = opts->max_rules;
    }
    if (sodium_init() < 0)
        return psrc_error(err, SLUICE_EINTERNAL, NULL, 0,
            "libsodium failed to initialize");
    if (crypto_generichash_init(&c->hs, NULL, 0, sizeof c->p->hash) != 0 ||
        crypto_generichash_update(&c->hs, (const unsigned char *)
            PSRC_HASH_TAG, strlen(PSRC_HASH_TAG)) != 0)
        return psrc_error(err, SLUICE_EINTERNAL, NULL, 0,
            "BLAKE2b initialization failed");
    if ((c->p = calloc(1, sizeof *c->p)) == NULL)
        return nomem(c);
    c->p->normalize = NORM_DEFAULT;
    c->p->max_gap = 3;
    return 0;
}

static void ctx_free(pctx *c)
{
    if (c->have_doc)
        yaml_document_delete(&c->doc);
    free(c->seen);
    free(c->prefix);
    free(c->yaml_path);
    free(c->lists);
    free(c->listtab.slot);
    free(c->cats.slot);
    free(c->ruletab.slot);
    free(c->cat_lines);
    free(c->memtab.slot);
    sodium_memzero(&c->hs, sizeof c->hs);
    psrc_free(c->p);
}

int psrc_load(psrc **out, const char *path, const sluice_policy_options *opts,
    sluice_error *err)
{
    return psrc_load_io(out, path, NULL, opts, err);
}

int psrc_load_io(psrc **out, const char *path, const psrc_io *io,
    const sluice_policy_options *opts, sluice_error *err)
{
    pctx c;
    int rc;

    assert(out != NULL && path != NULL);
    if (out == NULL || path == NULL)
        return psrc_error(err, SLUICE_EINVAL, NULL, 0,
            "psrc_load: out and path must not be NULL");
    *out = NULL;
    if ((rc = ctx_init(&c, opts, err)) == 0) {
        c.io = io;
        rc = mem_index(&c);
    }
    if (rc == 0 &&
        (rc = locate(&c, path)) == 0 &&
        (rc = load_yaml(&c)) == 0) {
        c.seen[0] = 1;   /* the root */
        rc = parse_top(&c, yaml_document_get_root_node(&c.doc));
    }
    if (rc == 0 && crypto_generichash_final(&c.hs, c.p->hash,
            sizeof c.p->hash) != 0)
        rc = psrc_error(err, SLUICE_EINTERNAL, NULL, 0,
            "BLAKE2b finalization failed");
    if (rc == 0) {
        *out = c.p;
        c.p = NULL;
    }
    ctx_free(&c);
    return rc;
}

static void free_rule(psrc_rule *r)
{
    free(r->id);
    free(r->category);
    free(r->terms);        /* texts live in psrc->blocks */
    free(r->regex);
    free(r->validate);
    free(r->mask);
    free(r->description);
}

void psrc_free(psrc *p)
{
    size_t i;

    if (p == NULL)
        return;
    free(p->dir);
    free(p->id);
    free(p->description);
    free(p->refusal_zh);
    free(p->refusal_en);
    free(p->language);
    free(p->mask_zh);
    free(p->mask_en);
    free(p->label.text_zh);
    free(p->label.text_en);
    free(p->label.language);
    free(p->label.separator);
    free(p->label.producer);
    free(p->label.propagator);
    free(p->label.reserved1);
    free(p->label.reserved2);
    for (i = 0; i < p->ncats; i++) {
        free(p->cats[i].id);
        free(p->cats[i].severity);
        free(p->cats[i].name_zh);
        free(p->cats[i].name_en);
        free(p->cats[i].mask);
        free(p->cats[i].description);
    }
    free(p->cats);
    for (i = 0; i < p->nrules; i++)
        free_rule(&p->rules[i]);
    free(p->rules);
    free(p->allow);
    for (i = 0; i < p->nfiles; i++)
        free(p->files[i]);
    free(p->files);
    for (i = 0; i < p->nblocks; i++)
        free(p->blocks[i]);
    free(p->blocks);
    free(p);
}
