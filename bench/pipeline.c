/*
 * pipeline.c - Sluice's full pipeline (normalization, the literal
 * automaton over normalized text, regex rules, validators, decision,
 * redaction) measured through the public API: sluice_check over the text
 * cut into outputs, on an engine holding one policy.
 *
 * Usage: pipeline PLAN-OPTIONS [--tmp DIR] [--regex-from DIR] [--policy DIR]
 *
 *   --set sw10k|sw65k|jieba349k  write a policy to DIR (--tmp): policy.yaml
 *        with one category {id: bench, action: redact}, one terms rule
 *        over lists/terms.txt (the set, cleaned as in bench.h) and the
 *        regex rules of the policy at --regex-from (their categories
 *        copied too), or, if that has none, a PRC ID regex (on: original,
 *        validate: cn_id) and an e-mail regex.
 *   --regex no                   the same policy without the regex rules
 *        (engine "sluice-terms": normalization and the literal automaton).
 *   --set regex-only             the same policy without the terms rule;
 *        then each of its regexes alone through raw PCRE2-JIT (engine
 *        "pcre2-regex", the rule id in the set column), for comparison.
 *   --policy DIR                 load DIR as it is (--set is then a label).
 *
 * Memory: VmRSS before the policy load, after it, after the checks, and
 * VmHWM at the end; each set runs in its own process so the peak is its
 * own. The time column is sluice_policy_compile_ms; the wall time of the
 * whole sluice_policy_load goes to a note. If Sluice refuses a term of the
 * list (its error names lists/terms.txt and a line) or a copied regex rule
 * (policy.yaml and its line), that line is dropped and the load retried,
 * at most 50 times, and a note says what was dropped.
 */
#define BENCH_IMPLEMENTATION
#include "bench.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "sluice.h"

typedef struct pipe_args {
    const char *tmp;
    const char *regex_from;
    const char *policy;
    int regex;                  /* 0: --regex no, the terms rule alone */
} pipe_args;

static int pipe_arg(void *payload, const char *key, const char *val)
{
    pipe_args *a = payload;
    if (strcmp(key, "--tmp") == 0)
        a->tmp = val;
    else if (strcmp(key, "--regex-from") == 0)
        a->regex_from = val;
    else if (strcmp(key, "--policy") == 0)
        a->policy = val;
    else if (strcmp(key, "--regex") == 0 && strcmp(val, "yes") == 0)
        a->regex = 1;
    else if (strcmp(key, "--regex") == 0 && strcmp(val, "no") == 0)
        a->regex = 0;
    else
        return 0;
    return 1;
}

/* ---- copying the regex rules of another policy (libyaml) ---- */

static int buf_puts(bench_buf *b, const char *s)
{
    return bench_buf_append(b, s, strlen(s));
}

/*
 * A scalar as YAML: plain when it was plain and holds only characters
 * that are safe anywhere, single-quoted otherwise (double-quoted with
 * escapes if it holds control characters).
 */
static int emit_scalar(bench_buf *b, const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length, safe = len > 0, ctl = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        safe &= (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z') || c == '_' || c == '.' ||
            (c == '-' && i > 0);
        ctl |= c < 0x20;
    }
    if (safe && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        return bench_buf_append(b, v, len);
    const char q = ctl ? '"' : '\'';
    if (bench_buf_append(b, &q, 1) != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        char esc[8];
        int r;
        if (!ctl && c == '\'')
            r = bench_buf_append(b, "''", 2);
        else if (ctl && (c < 0x20 || c == '"' || c == '\\')) {
            int n2 = snprintf(esc, sizeof esc, "\\x%02x", c);
            r = n2 > 0 ? bench_buf_append(b, esc, (size_t)n2) : -1;
        } else
            r = bench_buf_append(b, &v[i], 1);
        if (r != 0)
            return -1;
    }
    return bench_buf_append(b, &q, 1);
}

/* Any node as flow YAML (one line). */
static int emit_flow(bench_buf *b, yaml_document_t *d, yaml_node_t *n,
    int depth)
{
    if (n == NULL || depth > 16)
        return -1;
    if (n->type == YAML_SCALAR_NODE)
        return emit_scalar(b, n);
    if (n->type == YAML_SEQUENCE_NODE) {
        if (buf_puts(b, "[") != 0)
            return -1;
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++) {
            if ((it > n->data.sequence.items.start && buf_puts(b, ", ")) ||
                emit_flow(b, d, yaml_document_get_node(d, *it), depth + 1))
                return -1;
        }
        return buf_puts(b, "]");
    }
    if (buf_puts(b, "{") != 0)
        return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        if ((p > n->data.mapping.pairs.start && buf_puts(b, ", ")) ||
            emit_flow(b, d, yaml_document_get_node(d, p->key), depth + 1) ||
            buf_puts(b, ": ") ||
            emit_flow(b, d, yaml_document_get_node(d, p->value), depth + 1))
            return -1;
    }
    return buf_puts(b, "}");
}

/* The value under scalar key `key` of mapping n, or NULL. */
static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *n,
    const char *key)
{
    if (n == NULL || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static int scalar_is(const yaml_node_t *n, const char *s)
{
    return n != NULL && n->type == YAML_SCALAR_NODE &&
        strcmp((const char *)n->data.scalar.value, s) == 0;
}

/*
 * Append to cats and rules ("  - {...}\n" lines) the regex rules of
 * policy.yaml in dir and the categories they name, and to rx each rule's
 * id and regex (NUL-terminated strings, in pairs). Returns the number of
 * rules copied (0 if the file is absent or has none), or -1.
 */
static int copy_regex_rules(const char *dir, bench_buf *cats,
    bench_buf *rules, bench_buf *rx)
{
    char path[4096];
    int pn = snprintf(path, sizeof path, "%s/policy.yaml", dir);
    if (pn < 0 || (size_t)pn >= sizeof path)
        return -1;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    yaml_parser_t parser;
    yaml_document_t doc;
    int copied = -1, have_doc = 0;
    if (!yaml_parser_initialize(&parser))
        goto close;
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        fprintf(stderr, "pipeline: %s:%zu: %s\n", path,
            parser.problem_mark.line + 1,
            parser.problem ? parser.problem : "YAML error");
        goto parser;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *rs = map_get(&doc, root, "rules");
    yaml_node_t *cs = map_get(&doc, root, "categories");
    copied = 0;
    if (rs == NULL || rs->type != YAML_SEQUENCE_NODE)
        goto parser;
    for (yaml_node_item_t *it = rs->data.sequence.items.start;
         it < rs->data.sequence.items.top; it++) {
        yaml_node_t *r = yaml_document_get_node(&doc, *it);
        yaml_node_t *re = map_get(&doc, r, "regex");
        yaml_node_t *id = map_get(&doc, r, "id");
        if (re == NULL)
            continue;
        if (buf_puts(rules, "  - ") || emit_flow(rules, &doc, r, 0) ||
            buf_puts(rules, "\n") ||
            (re->type == YAML_SCALAR_NODE &&
             (buf_puts(rx, id != NULL && id->type == YAML_SCALAR_NODE ?
                  (const char *)id->data.scalar.value : "?") ||
              bench_buf_append(rx, "", 1) ||
              buf_puts(rx, (const char *)re->data.scalar.value) ||
              bench_buf_append(rx, "", 1)))) {
            copied = -1;
            goto parser;
        }
        copied++;
        yaml_node_t *cat = map_get(&doc, r, "category");
        if (cat == NULL || cs == NULL || cs->type != YAML_SEQUENCE_NODE)
            continue;
        /* copy the category once: only at the first rule that names it */
        int seen = 0;
        for (yaml_node_item_t *j = rs->data.sequence.items.start; j < it;
             j++) {
            yaml_node_t *r2 = yaml_document_get_node(&doc, *j);
            seen |= map_get(&doc, r2, "regex") != NULL &&
                scalar_is(map_get(&doc, r2, "category"),
                    (const char *)cat->data.scalar.value);
        }
        for (yaml_node_item_t *c = cs->data.sequence.items.start;
             !seen && cat->type == YAML_SCALAR_NODE &&
             c < cs->data.sequence.items.top; c++) {
            yaml_node_t *cn = yaml_document_get_node(&doc, *c);
            if (!scalar_is(map_get(&doc, cn, "id"),
                    (const char *)cat->data.scalar.value))
                continue;
            if (buf_puts(cats, "  - ") || emit_flow(cats, &doc, cn, 0) ||
                buf_puts(cats, "\n")) {
                copied = -1;
                goto parser;
            }
        }
    }
parser:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
close:
    if (fclose(f) != 0)
        copied = -1;
    return copied;
}

/* ---- writing the policy ---- */

static int write_file(const char *dir, const char *rel, const char *p,
    size_t len)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= sizeof path)
        return -1;
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "pipeline: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = fwrite(p, 1, len, f) == len ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "pipeline: cannot write %s\n", path);
    return rc;
}

static const char FALLBACK_CATS[] =
    "  - {id: bench.pii, action: redact}\n";
static const char FALLBACK_RULES[] =
    "  - {id: bench.pii.cn_id, category: bench.pii,"
    " regex: '(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])',"
    " validate: cn_id, on: original}\n"
    "  - {id: bench.pii.email, category: bench.pii,"
    " regex: '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}',"
    " validate: email, on: original}\n";

static const char FALLBACK_RX[] =
    "bench.pii.cn_id\0(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])\0"
    "bench.pii.email\0[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}";

#define MAX_REGEX_RULES 256

/* The policy being written: its regex rules, one line each. */
typedef struct policy_parts {
    bench_buf cats;                  /* "  - {...}\n" lines */
    bench_buf rules;                 /* "  - {...}\n" lines, one per rule */
    size_t nrules;
    unsigned char skip[MAX_REGEX_RULES];   /* rules Sluice refused */
    int line[MAX_REGEX_RULES];       /* line of each rule in policy.yaml */
    int from_baseline;
    bench_buf refused;               /* why rules were dropped, for a note */
    bench_buf rx;                    /* id, regex, id, regex ... ("\0"
                                        after each) */
} policy_parts;

static int parts_init(policy_parts *pp, const char *regex_from, int regex)
{
    memset(pp, 0, sizeof *pp);
    if (!regex)
        return 0;
    int n = regex_from != NULL ?
        copy_regex_rules(regex_from, &pp->cats, &pp->rules, &pp->rx) : 0;
    if (n < 0)
        return -1;
    pp->from_baseline = n > 0;
    if (n == 0 && (buf_puts(&pp->cats, FALLBACK_CATS) ||
                   buf_puts(&pp->rules, FALLBACK_RULES) ||
                   bench_buf_append(&pp->rx, FALLBACK_RX,
                       sizeof FALLBACK_RX)))
        return -1;
    for (size_t i = 0; i < pp->rules.len; i++)
        pp->nrules += pp->rules.p[i] == '\n';
    return pp->nrules <= MAX_REGEX_RULES ? 0 : -1;
}

static void parts_free(policy_parts *pp)
{
    bench_buf_free(&pp->cats);
    bench_buf_free(&pp->rules);
    bench_buf_free(&pp->refused);
    bench_buf_free(&pp->rx);
}

static int count_lines(const bench_buf *b)
{
    int n = 0;
    for (size_t i = 0; i < b->len; i++)
        n += b->p[i] == '\n';
    return n;
}

/* Write dir/policy.yaml without the skipped rules; fills pp->line. */
static int write_policy(const char *dir, policy_parts *pp, int with_terms)
{
    bench_buf y = { NULL, 0, 0 };
    int rc = -1;
    if (buf_puts(&y, "# written by bench/pipeline.c for make bench\n"
            "policy: bench\nversion: 1\n"
            "normalize: [ignorable, nfkc_casefold, trad_to_simp, "
            "confusables, skip_noise]\ncategories:\n"
            "  - {id: bench, action: redact}\n") ||
        bench_buf_append(&y, pp->cats.p, pp->cats.len) ||
        buf_puts(&y, "rules:\n") ||
        (with_terms && buf_puts(&y, "  - {id: bench.terms, category: bench,"
            " terms: lists/terms.txt}\n")))
        goto done;
    int line = count_lines(&y);
    const char *r = pp->rules.p;
    for (size_t k = 0; k < pp->nrules; k++) {
        const char *nl = memchr(r, '\n', (size_t)(pp->rules.p +
            pp->rules.len - r));
        if (nl == NULL)
            goto done;
        pp->line[k] = pp->skip[k] ? 0 : ++line;
        if (!pp->skip[k] &&
            bench_buf_append(&y, r, (size_t)(nl + 1 - r)) != 0)
            goto done;
        r = nl + 1;
    }
    rc = write_file(dir, "policy.yaml", y.p, y.len);
done:
    bench_buf_free(&y);
    return rc;
}

/* Write the term list, leaving out the lines marked in skip[]. */
static int write_terms(const char *dir, const bench_terms *t,
    const unsigned char *skip)
{
    char lists[4096];
    int n = snprintf(lists, sizeof lists, "%s/lists", dir);
    if (n < 0 || (size_t)n >= sizeof lists ||
        (mkdir(lists, 0700) != 0 && errno != EEXIST)) {
        fprintf(stderr, "pipeline: cannot create %s/lists\n", dir);
        return -1;
    }
    bench_buf b = { NULL, 0, 0 };
    for (size_t i = 0; i < t->n; i++) {
        if (skip[i])
            continue;
        if (bench_buf_append(&b, t->terms[i], t->lens[i]) != 0 ||
            bench_buf_append(&b, "\n", 1) != 0) {
            bench_buf_free(&b);
            return -1;
        }
    }
    int rc = write_file(dir, "lists/terms.txt", b.p ? b.p : "", b.len);
    bench_buf_free(&b);
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Drop what the error names, if it is ours to drop: a line of
 * lists/terms.txt (a term) or the line of a copied regex rule. 1 if
 * something was dropped, 0 if not.
 */
static int drop_refused(const sluice_error *err, const bench_terms *t,
    unsigned char *skip, const size_t *line_of, policy_parts *pp,
    size_t *dropped)
{
    if (err->line <= 0)
        return 0;
    if (t->n > 0 && ends_with(err->file, "lists/terms.txt")) {
        for (size_t i = 0; i < t->n; i++)
            if (line_of[i] == (size_t)err->line) {
                skip[i] = 1;
                (*dropped)++;
                return 1;
            }
        return 0;
    }
    if (pp == NULL || !ends_with(err->file, "policy.yaml"))
        return 0;
    for (size_t k = 0; k < pp->nrules; k++)
        if (pp->line[k] == err->line) {
            pp->skip[k] = 1;
            if ((pp->refused.len && buf_puts(&pp->refused, "; ")) ||
                buf_puts(&pp->refused, err->message))
                return 0;
            return 1;
        }
    return 0;
}

/*
 * Write (unless pp is NULL: the policy is used as it is) and load the
 * policy in dir. If Sluice refuses a term of lists/terms.txt or one of the
 * copied regex rules, drop it and try again (at most 50 times); *dropped
 * counts the terms dropped, pp->refused says which rules. 0 or -1.
 */
static int load_policy(sluice_policy **out, const char *dir,
    const bench_terms *t, policy_parts *pp, size_t *dropped,
    double *wall_ms)
{
    unsigned char *skip = calloc(t->n ? t->n : 1, 1);
    size_t *line_of = malloc((t->n ? t->n : 1) * sizeof *line_of);
    int rc = -1;
    *dropped = 0;
    if (skip == NULL || line_of == NULL)
        goto done;
    for (int attempt = 0; attempt <= 50; attempt++) {
        if (pp != NULL && (write_policy(dir, pp, t->n > 0) != 0 ||
                (t->n > 0 && write_terms(dir, t, skip) != 0)))
            goto done;
        size_t line = 0;
        for (size_t i = 0; i < t->n; i++)
            line_of[i] = skip[i] ? 0 : ++line;
        sluice_error err;
        memset(&err, 0, sizeof err);
        double t0 = bench_now();
        int lrc = sluice_policy_load(out, dir, NULL, &err);
        *wall_ms = (bench_now() - t0) * 1e3;
        if (lrc == 0) {
            rc = 0;
            goto done;
        }
        fprintf(stderr, "pipeline: sluice_policy_load: %s:%d: %s (%s)\n",
            err.file, err.line, err.message, sluice_strerror(lrc));
        if (!drop_refused(&err, t, skip, line_of, pp, dropped))
            goto done;
    }
done:
    free(skip);
    free(line_of);
    return rc;
}

/* ---- checking ---- */

typedef struct pipe_ctx {
    sluice_engine *engine;
} pipe_ctx;

static int check_piece(void *ctx, const char *p, size_t len,
    uint64_t *matches)
{
    pipe_ctx *c = ctx;
    sluice_verdict *v = NULL;
    sluice_error err;
    err.message[0] = '\0';
    int rc = sluice_check(c->engine, p, len, NULL, &v, &err);
    if (rc != 0) {
        fprintf(stderr, "pipeline: sluice_check: %s (%s)\n", err.message,
            sluice_strerror(rc));
        return -1;
    }
    *matches += sluice_verdict_span_count(v);
    sluice_verdict_free(v);
    return 0;
}

/* ---- each regex rule alone, raw PCRE2-JIT over the original text ---- */

typedef struct rx_ctx {
    pcre2_code *code;
    pcre2_match_data *md;
} rx_ctx;

static int rx_scan_piece(void *ctx, const char *p, size_t len,
    uint64_t *matches)
{
    rx_ctx *r = ctx;
    size_t off = 0;
    while (off < len) {
        int rc = pcre2_jit_match(r->code, (PCRE2_SPTR)p, len, off, 0, r->md,
            NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            fprintf(stderr, "pipeline: pcre2_jit_match: %d\n", rc);
            return -1;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
        (*matches)++;
        off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
        while (off < len && ((unsigned char)p[off] & 0xC0) == 0x80)
            off++;
    }
    return 0;
}

/*
 * Time every copied regex on its own with PCRE2-JIT (PCRE2_UTF, no
 * validator, no normalization): what each costs before Sluice adds
 * anything. Rows: set = rule id, engine "pcre2-regex". 0 or -1.
 */
static int run_raw_regexes(const bench_plan *pl, const bench_corpora *c,
    const policy_parts *pp)
{
    const char *q = pp->rx.p, *end = pp->rx.p + pp->rx.len;
    while (q != NULL && q < end) {
        const char *id = q, *re = id + strlen(id) + 1;
        if (re >= end)
            break;
        q = re + strlen(re) + 1;
        int ec;
        PCRE2_SIZE eo;
        double t0 = bench_now();
        rx_ctx r = { pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
            PCRE2_UTF, &ec, &eo, NULL), NULL };
        if (r.code == NULL || pcre2_jit_compile(r.code,
                PCRE2_JIT_COMPLETE) != 0 ||
            (r.md = pcre2_match_data_create(1, NULL)) == NULL) {
            fprintf(stderr, "pipeline: cannot compile the regex of %s\n", id);
            pcre2_code_free(r.code);
            return -1;
        }
        bench_row row;
        bench_row_init(&row);
        row.set = id;
        row.engine = "pcre2-regex";
        row.compile_ms = (bench_now() - t0) * 1e3;
        bench_plan one = *pl;
        one.one_mb = 0;
        int rc = bench_run_all(&one, c, &row, rx_scan_piece, &r);
        pcre2_match_data_free(r.md);
        pcre2_code_free(r.code);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int run(const bench_plan *pl, const pipe_args *a,
    const bench_corpora *c, const bench_terms *t)
{
    const char *dir = a->policy != NULL ? a->policy : a->tmp;
    policy_parts parts;
    if (a->policy == NULL &&
        parts_init(&parts, a->regex_from, a->regex) != 0) {
        parts_free(&parts);
        return -1;
    }
    policy_parts *pp = a->policy == NULL ? &parts : NULL;
    bench_row row;
    bench_row_init(&row);
    row.set = pl->set;
    row.engine = a->regex ? "sluice" : "sluice-terms";
    long hwm;
    bench_mem_kb(&row.rss_base_kb, &hwm);
    sluice_policy *p = NULL;
    size_t dropped = 0;
    double wall_ms = 0;
    if (load_policy(&p, dir, t, pp, &dropped, &wall_ms) != 0) {
        if (pp != NULL)
            parts_free(pp);
        return -1;
    }
    bench_mem_kb(&row.rss_loaded_kb, &hwm);
    row.compile_ms = sluice_policy_compile_ms(p);
    row.nterms = sluice_policy_term_count(p);
    bench_note(pl->set, "%s: policy %s v%lld, %zu rules, %zu terms "
        "(%zu of the set refused and dropped), regex rules %s; "
        "sluice_policy_load %.0f ms wall, compile %.0f ms", row.engine,
        a->policy != NULL ? a->policy : "(a temporary directory)",
        (long long)sluice_policy_version(p), sluice_policy_rule_count(p),
        sluice_policy_term_count(p), dropped,
        pp == NULL ? "as in the policy" : !a->regex ? "left out" :
        pp->from_baseline ?
        "copied from the baseline policy" : "built in (cn_id, email)",
        wall_ms, row.compile_ms);
    if (pp != NULL && pp->refused.len > 0)
        bench_note(pl->set, "sluice refused and the benchmark dropped "
            "these copied regex rules: %s", pp->refused.p);
    sluice_engine *e = NULL;
    sluice_error err;
    int rc = -1;
    err.message[0] = '\0';
    if (sluice_engine_new(&e, NULL, &err) != 0) {
        fprintf(stderr, "pipeline: sluice_engine_new: %s\n", err.message);
        goto done;
    }
    if (sluice_engine_set_policy(e, p) != 0) {
        fprintf(stderr, "pipeline: sluice_engine_set_policy failed\n");
        goto done;
    }
    pipe_ctx ctx = { e };
    rc = bench_run_all(pl, c, &row, check_piece, &ctx);
    if (rc == 0 && pp != NULL && t->n == 0)
        rc = run_raw_regexes(pl, c, pp);
    if (rc == 0) {
        long rss_trim, hwm_trim;
        if (malloc_trim(0) == 0)
            fprintf(stderr, "pipeline: malloc_trim released nothing\n");
        bench_mem_kb(&rss_trim, &hwm_trim);
        bench_note(pl->set, "%s: VmRSS %ld KiB before the policy, "
            "%ld KiB after loading it, %ld KiB after the checks "
            "(%ld KiB after malloc_trim), VmHWM %ld KiB", row.engine,
            row.rss_base_kb,
            row.rss_loaded_kb, row.rss_end_kb, rss_trim, hwm_trim);
    }
done:
    sluice_engine_free(e);
    sluice_policy_unref(p);
    if (pp != NULL)
        parts_free(pp);
    return rc;
}

int main(int argc, char **argv)
{
    bench_plan pl;
    pipe_args a = { NULL, NULL, NULL, 1 };
    if (bench_plan_parse(&pl, argc, argv, pipe_arg, &a) != 0 ||
        (a.policy == NULL && a.tmp == NULL)) {
        fprintf(stderr, "usage: pipeline --data DIR --set SET (--tmp DIR "
            "[--regex-from DIR] [--regex yes|no] | --policy DIR)\n"
            "       [--cap BYTES] [--corpus-cap BYTES] [--corpora yes|no] "
            "[--one-mb yes|no]\n");
        return 2;
    }
    bench_corpora c;
    bench_terms t;
    int rc = 1;
    memset(&t, 0, sizeof t);
    if (bench_corpora_load(&c, pl.data, pl.mixed_bytes) != 0)
        goto done;
    if (a.policy == NULL && strcmp(pl.set, "regex-only") != 0) {
        if (bench_terms_load(&t, pl.data, pl.set) != 0)
            goto done;
        bench_terms_note(&t, pl.set);
    }
    rc = run(&pl, &a, &c, &t) != 0;
done:
    bench_terms_free(&t);
    bench_corpora_free(&c);
    return rc;
}
