/*
 * rx_factor.c - literal factors of a PCRE2 pattern (see rx_factor.h).
 *
 * A recursive descent over the pattern gives each node one of two facts:
 * "exact": the node matches exactly one string of a small set (a literal,
 * a small class, an alternation or short repetition of such); or "needs":
 * every match of the node contains one string of a set (empty set: no
 * such knowledge). Concatenating two exact sets is their cross product
 * while it stays small, otherwise the better of the two requirements is
 * kept; an alternation needs the union of its branches' requirements; a
 * repeat with minimum 0 needs nothing. Look-arounds, anchors and comments
 * match the empty string: ignoring what they test only makes the factor
 * set a weaker (still true) requirement. Any construct not handled here
 * (option settings such as (?i) or (?x), conditionals, recursion, octal
 * and control escapes, \Q without \E...) makes the whole answer "no
 * factor", which is always safe.
 *
 * The same walk gives each node lower bounds on runs of each run class's
 * bytes (rx_run_byte) in any of its matches: its leading run (pre),
 * trailing run (suf) and longest run (in), and whether every match is
 * made of such bytes alone (full, at least rmin of them). What is not understood has bounds
 * of 0: again a weaker, still true, statement.
 */
#include <string.h>

#include "rules/rx_factor.h"

/* Lower bounds on runs of one class's bytes (rx_run_byte) in any match
   of a node. */
typedef struct runs {
    int full;           /* every match is the class's bytes only */
    unsigned rmin;      /* full: the shortest match's length */
    unsigned pre, suf, in;  /* runs every match has: leading, trailing,
                               longest */
} runs;

typedef struct facts {
    int exact;
    rx_factors set;     /* exact: the strings; else the requirement */
} facts;

typedef struct info {
    facts f;
    runs run[RX_RUN_CLASSES];
} info;

#define RUN_CAP 65535u

static unsigned run_add(unsigned a, unsigned b)
{
    return a + b > RUN_CAP ? RUN_CAP : a + b;
}

static unsigned umax(unsigned a, unsigned b)
{
    return a > b ? a : b;
}

static unsigned umin(unsigned a, unsigned b)
{
    return a < b ? a : b;
}

int rx_run_byte(int cls, unsigned char c)
{
    if (c >= '0' && c <= '9')
        return 1;
    return cls == RX_RUN_NUMBER ? c == ' ' || c == '-' : c == '.';
}

/* Run bounds: nothing known; the empty string; bytes b[0..n). */
static void run_none(info *x)
{
    memset(x->run, 0, sizeof x->run);
}

static void run_empty(info *x)
{
    for (int k = 0; k < RX_RUN_CLASSES; k++) {
        memset(&x->run[k], 0, sizeof x->run[k]);
        x->run[k].full = 1;
    }
}

static void run_bytes(info *x, const unsigned char *b, size_t n)
{
    run_none(x);
    for (int k = 0; k < RX_RUN_CLASSES; k++) {
        runs *r = &x->run[k];
        unsigned cur = 0;
        size_t i;
        for (i = 0; i < n && rx_run_byte(k, b[i]); i++)
            ;
        r->pre = i > RUN_CAP ? RUN_CAP : (unsigned)i;
        for (i = 0; i < n; i++) {
            cur = rx_run_byte(k, b[i]) ? run_add(cur, 1) : 0;
            r->in = umax(r->in, cur);
        }
        r->suf = cur;
        if (r->pre == n) {
            r->full = 1;
            r->rmin = r->pre;
        }
    }
}

/* x then y */
static void run_concat(runs *x, const runs *y)
{
    unsigned pre = x->full ? run_add(x->rmin, y->pre) : x->pre;
    unsigned suf = y->full ? run_add(x->suf, y->rmin) : y->suf;
    unsigned in = umax(umax(x->in, y->in), run_add(x->suf, y->pre));
    x->full = x->full && y->full;
    x->rmin = run_add(x->rmin, y->rmin);
    x->pre = pre;
    x->suf = suf;
    x->in = umax(in, umax(pre, suf));
}

/* x or y */
static void run_alt(runs *x, const runs *y)
{
    x->full = x->full && y->full;
    x->rmin = umin(x->rmin, y->rmin);
    x->pre = umin(x->pre, y->pre);
    x->suf = umin(x->suf, y->suf);
    x->in = umin(x->in, y->in);
}

/* x{min,max}, max -1: unbounded */
static void run_repeat(runs *x, unsigned min, long max)
{
    if (min == 0) {                  /* possibly empty */
        x->rmin = x->pre = x->suf = x->in = 0;
        return;
    }
    if (x->full) {
        unsigned long m = (unsigned long)x->rmin * min;
        x->rmin = x->pre = x->suf = x->in =
            m > RUN_CAP ? RUN_CAP : (unsigned)m;
        return;
    }
    (void)max;                       /* copies past min change nothing:
                                        the first and last are copies */
    if (min >= 2)
        x->in = umax(x->in, run_add(x->suf, x->pre));
}

typedef struct parser {
    const unsigned char *p, *end;
    int bad;
    int depth;
} parser;

#define MAX_DEPTH 64

static void facts_none(facts *x)
{
    x->exact = 0;
    x->set.n = 0;
}

static void facts_empty(facts *x)
{
    x->exact = 1;
    x->set.n = 1;
    x->set.len[0] = 0;
}

static void info_none(info *x)
{
    facts_none(&x->f);
    run_none(x);
}

static void info_empty(info *x)
{
    facts_empty(&x->f);
    run_empty(x);
}

static void info_bytes(info *x, const unsigned char *b, size_t n)
{
    run_bytes(x, b, n);
    if (n > RX_FACTOR_LEN) {
        facts_none(&x->f);
        return;
    }
    x->f.exact = 1;
    x->f.set.n = 1;
    x->f.set.len[0] = (unsigned char)n;
    memcpy(x->f.set.s[0], b, n);
}

/* Add s to set unless there; -1 if it does not fit. */
static int set_add(rx_factors *set, const char *s, size_t n)
{
    if (n > RX_FACTOR_LEN)
        return -1;
    for (unsigned i = 0; i < set->n; i++)
        if (set->len[i] == n && memcmp(set->s[i], s, n) == 0)
            return 0;
    if (set->n == RX_FACTOR_MAX)
        return -1;
    set->len[set->n] = (unsigned char)n;
    memcpy(set->s[set->n], s, n);
    set->n++;
    return 0;
}

/* The requirement an exact set implies: none if it holds "". */
static void to_needs(facts *x)
{
    if (!x->exact)
        return;
    x->exact = 0;
    for (unsigned i = 0; i < x->set.n; i++)
        if (x->set.len[i] == 0) {
            x->set.n = 0;
            return;
        }
}

static int common_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c >= 0x80 ||
        strchr(" \t\r\n.,-'\"():;!?", c) != NULL;
}

/* How selective a requirement is: its weakest string counts. */
static unsigned score(const facts *x)
{
    unsigned worst = ~0u;
    if (x->set.n == 0)
        return 0;
    for (unsigned i = 0; i < x->set.n; i++) {
        unsigned n = x->set.len[i], w = n, rare = n > 0;
        for (unsigned k = 0; k < n; k++)
            rare &= !common_byte((unsigned char)x->set.s[i][k]);
        if (n < 3 && rare)
            w += 3;
        if (w < worst)
            worst = w;
    }
    return worst * 64u + (RX_FACTOR_MAX - x->set.n);
}

static void concat_factors(facts *a, const facts *b)
{
    if (a->exact && b->exact &&
        (size_t)a->set.n * b->set.n <= RX_FACTOR_MAX) {
        rx_factors out;
        int ok = 1;
        out.n = 0;
        for (unsigned i = 0; ok && i < a->set.n; i++)
            for (unsigned k = 0; ok && k < b->set.n; k++) {
                char tmp[2 * RX_FACTOR_LEN];
                size_t n = (size_t)a->set.len[i] + b->set.len[k];
                memcpy(tmp, a->set.s[i], a->set.len[i]);
                memcpy(tmp + a->set.len[i], b->set.s[k], b->set.len[k]);
                ok = set_add(&out, tmp, n) == 0;
            }
        if (ok) {
            a->set = out;
            return;
        }
    }
    facts x = *a, y = *b;
    to_needs(&x);
    to_needs(&y);
    *a = score(&y) > score(&x) ? y : x;
}

/* Add every string of from to into; -1 if they do not all fit. */
static int set_union(rx_factors *into, const rx_factors *from)
{
    for (unsigned i = 0; i < from->n; i++)
        if (set_add(into, from->s[i], from->len[i]) != 0)
            return -1;
    return 0;
}

static void alternate_factors(facts *a, const facts *b)
{
    facts x = *a, y = *b;
    if (x.exact && y.exact && set_union(&x.set, &y.set) == 0) {
        *a = x;
        return;
    }
    x = *a;                     /* not exact, or too many: requirements */
    to_needs(&x);
    to_needs(&y);
    if (x.set.n == 0 || y.set.n == 0 || set_union(&x.set, &y.set) != 0)
        facts_none(a);
    else
        *a = x;
}

static void repeat_factors(facts *a, unsigned min, long max)
{
    if (min == 0) {
        if (max == 1 && a->exact) {
            facts e;
            facts_empty(&e);
            alternate_factors(a, &e);   /* x?: its strings and "", or
                                           nothing */
        } else {
            facts_none(a);
        }
        return;
    }
    if (a->exact && max == (long)min && min <= 8) {
        facts one = *a;
        for (unsigned k = 1; k < min && a->exact; k++)
            concat_factors(a, &one);
        return;
    }
    to_needs(a);
}

/* The three ways nodes combine, for both kinds of facts. */
static void concat(info *a, const info *b)
{
    concat_factors(&a->f, &b->f);
    for (int k = 0; k < RX_RUN_CLASSES; k++)
        run_concat(&a->run[k], &b->run[k]);
}

static void alternate(info *a, const info *b)
{
    alternate_factors(&a->f, &b->f);
    for (int k = 0; k < RX_RUN_CLASSES; k++)
        run_alt(&a->run[k], &b->run[k]);
}

static void repeat(info *a, unsigned min, long max)
{
    repeat_factors(&a->f, min, max);
    for (int k = 0; k < RX_RUN_CLASSES; k++)
        run_repeat(&a->run[k], min, max);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t utf8_put(unsigned char *b, unsigned long cp)
{
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (unsigned char)(0xF0 | cp >> 18);
    b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * An escape after the backslash: *cp gets a literal code point (return 1),
 * or the escape matches the empty string (2), or something wider than one
 * known code point (0). Sets ps->bad for what is not understood.
 */
static int escape(parser *ps, unsigned long *cp, int in_class)
{
    unsigned char c;
    if (ps->p >= ps->end) {
        ps->bad = 1;
        return 0;
    }
    c = *ps->p++;
    switch (c) {
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
    case 'h': case 'H': case 'v': case 'V': case 'R': case 'N':
    case 'X': case 'C':
        return 0;
    case 'p': case 'P':
        if (ps->p < ps->end && *ps->p == '{') {
            while (ps->p < ps->end && *ps->p != '}')
                ps->p++;
            if (ps->p >= ps->end) {
                ps->bad = 1;
                return 0;
            }
            ps->p++;
        } else if (ps->p < ps->end) {
            ps->p++;
        }
        return 0;
    case 'b': case 'B': case 'A': case 'z': case 'Z': case 'G': case 'K':
        if (in_class)
            ps->bad = 1;    /* \b in a class is a backspace: not worth it */
        return 2;
    case 'n': *cp = '\n'; return 1;
    case 't': *cp = '\t'; return 1;
    case 'r': *cp = '\r'; return 1;
    case 'f': *cp = '\f'; return 1;
    case 'e': *cp = 0x1B; return 1;
    case 'a': *cp = 0x07; return 1;
    case 'x': {
        unsigned long v = 0;
        int h, k = 0;
        if (ps->p < ps->end && *ps->p == '{') {
            ps->p++;
            while (ps->p < ps->end && (h = hexval(*ps->p)) >= 0 && k < 8) {
                v = v << 4 | (unsigned)h;
                ps->p++;
                k++;
            }
            if (ps->p >= ps->end || *ps->p != '}' || k == 0) {
                ps->bad = 1;
                return 0;
            }
            ps->p++;
        } else {
            while (ps->p < ps->end && k < 2 && (h = hexval(*ps->p)) >= 0) {
                v = v << 4 | (unsigned)h;
                ps->p++;
                k++;
            }
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
            ps->bad = 1;
            return 0;
        }
        *cp = v;
        return 1;
    }
    default:
        if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9'))) {
            *cp = c;            /* an escaped symbol is itself */
            return 1;
        }
        if (c >= '1' && c <= '9' && !in_class) {
            while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                ps->p++;        /* a back-reference: anything */
            return 0;
        }
        ps->bad = 1;            /* \0, \o, \c, \g, \k, \Q ... */
        return 0;
    }
}

/* A class, after its '[': a small set of ASCII characters, or none. */
static void parse_class(parser *ps, info *out)
{
    unsigned char bits[16];
    int neg = 0, wide = 0, first = 1;
    unsigned count = 0;
    memset(bits, 0, sizeof bits);
    if (ps->p < ps->end && *ps->p == '^') {
        neg = 1;
        ps->p++;
    }
    for (;;) {
        unsigned long lo, hi;
        int kind;
        if (ps->p >= ps->end) {
            ps->bad = 1;
            return;
        }
        if (*ps->p == ']' && !first) {
            ps->p++;
            break;
        }
        first = 0;
        if (*ps->p == '[' && ps->p + 1 < ps->end &&
            (ps->p[1] == ':' || ps->p[1] == '.' || ps->p[1] == '=')) {
            const unsigned char *q = ps->p + 2;
            while (q + 1 < ps->end && !(q[0] == ps->p[1] && q[1] == ']'))
                q++;
            if (q + 1 >= ps->end) {
                ps->bad = 1;
                return;
            }
            ps->p = q + 2;
            wide = 1;
            continue;
        }
        if (*ps->p == '\\') {
            ps->p++;
            kind = escape(ps, &lo, 1);
            if (ps->bad)
                return;
            if (kind != 1) {
                wide = 1;
                continue;
            }
        } else if (*ps->p >= 0x80) {
            while (ps->p < ps->end && *ps->p >= 0x80)
                ps->p++;    /* a non-ASCII member: more than we track */
            wide = 1;
            continue;
        } else {
            lo = *ps->p++;
        }
        hi = lo;
        if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
            ps->p++;
            if (*ps->p == '\\') {
                ps->p++;
                kind = escape(ps, &hi, 1);
                if (ps->bad)
                    return;
                if (kind != 1) {
                    ps->bad = 1;    /* [a-\d]: an error in PCRE2 anyway */
                    return;
                }
            } else if (*ps->p >= 0x80) {
                ps->bad = 1;
                return;
            } else {
                hi = *ps->p++;
            }
            if (hi < lo) {
                ps->bad = 1;
                return;
            }
        }
        if (hi >= 0x80) {
            wide = 1;
            continue;
        }
        for (unsigned long c = lo; c <= hi; c++)
            if (!(bits[c >> 3] >> (c & 7) & 1)) {
                bits[c >> 3] |= (unsigned char)(1u << (c & 7));
                count++;
            }
    }
    int sub[RX_RUN_CLASSES];             /* a subset of each run class */
    for (int k = 0; k < RX_RUN_CLASSES; k++) {
        sub[k] = !neg && !wide && count > 0;
        for (unsigned c = 0; sub[k] && c < 128; c++)
            if ((bits[c >> 3] >> (c & 7) & 1) &&
                !rx_run_byte(k, (unsigned char)c))
                sub[k] = 0;
    }
    if (neg || wide || count == 0 || count > 6) {
        info_none(out);
    } else {
        out->f.exact = 1;
        out->f.set.n = 0;
        for (unsigned c = 0; c < 128; c++)
            if (bits[c >> 3] >> (c & 7) & 1) {
                char ch = (char)c;
                (void)set_add(&out->f.set, &ch, 1);
            }
    }
    run_none(out);
    for (int k = 0; k < RX_RUN_CLASSES; k++)
        if (sub[k]) {
            out->run[k].full = 1;
            out->run[k].rmin = out->run[k].pre = out->run[k].suf =
                out->run[k].in = 1;
        }
}

static void parse_alt(parser *ps, info *out);

/* A group, after its '('. */
static void parse_group(parser *ps, info *out)
{
    int look = 0;
    if (++ps->depth > MAX_DEPTH) {
        ps->bad = 1;
        return;
    }
    if (ps->p < ps->end && *ps->p == '*') {
        ps->bad = 1;                    /* (*VERB) */
        return;
    }
    if (ps->p < ps->end && *ps->p == '?') {
        const unsigned char *q = ps->p + 1;
        if (q >= ps->end) {
            ps->bad = 1;
            return;
        }
        if (*q == ':' || *q == '>' || *q == '|') {
            ps->p = q + 1;
        } else if (*q == '=' || *q == '!') {
            ps->p = q + 1;
            look = 1;
        } else if (*q == '<' && q + 1 < ps->end &&
            (q[1] == '=' || q[1] == '!')) {
            ps->p = q + 2;
            look = 1;
        } else if (*q == '#') {
            while (q < ps->end && *q != ')')
                q++;
            if (q >= ps->end) {
                ps->bad = 1;
                return;
            }
            ps->p = q + 1;
            ps->depth--;
            info_empty(out);
            return;
        } else if (*q == '<' || *q == '\'' || (*q == 'P' && q + 1 < ps->end &&
            q[1] == '<')) {
            unsigned char close = *q == '\'' ? '\'' : '>';
            q += *q == 'P' ? 2 : 1;
            while (q < ps->end && *q != close)
                q++;
            if (q >= ps->end) {
                ps->bad = 1;
                return;
            }
            ps->p = q + 1;
        } else {
            ps->bad = 1;                /* options, conditionals, calls */
            return;
        }
    }
    parse_alt(ps, out);
    if (ps->bad)
        return;
    if (ps->p >= ps->end || *ps->p != ')') {
        ps->bad = 1;
        return;
    }
    ps->p++;
    ps->depth--;
    if (look)
        info_empty(out);
}

/* A quantifier after an atom, if any: *min, *max (-1: unbounded). */
static int parse_quant(parser *ps, unsigned *min, long *max)
{
    const unsigned char *q = ps->p;
    if (q >= ps->end)
        return 0;
    if (*q == '*' || *q == '+' || *q == '?') {
        *min = *q == '+';
        *max = *q == '?' ? 1 : -1;
        ps->p = q + 1;
    } else if (*q == '{') {
        unsigned long a = 0, b;
        int da = 0, db = 0;
        q++;
        while (q < ps->end && *q >= '0' && *q <= '9' && da < 6) {
            a = a * 10 + (unsigned)(*q++ - '0');
            da++;
        }
        if (da == 0) {
            if (q < ps->end && *q == ',')
                ps->bad = 1;    /* {,n}: its meaning changed in 10.43 */
            return 0;           /* else '{' is a literal: the caller sees */
        }
        b = a;
        if (q < ps->end && *q == ',') {
            q++;
            b = 0;
            while (q < ps->end && *q >= '0' && *q <= '9' && db < 6) {
                b = b * 10 + (unsigned)(*q++ - '0');
                db++;
            }
        } else {
            db = -1;
        }
        if (q >= ps->end || *q != '}')
            return 0;
        *min = (unsigned)a;
        *max = db == 0 ? -1 : (long)b;
        ps->p = q + 1;
    } else {
        return 0;
    }
    if (ps->p < ps->end && (*ps->p == '?' || *ps->p == '+'))
        ps->p++;                        /* lazy or possessive */
    return 1;
}

/* One atom with its quantifier. */
static void parse_atom(parser *ps, info *out)
{
    unsigned char c = *ps->p;
    unsigned min;
    long max;
    if (c == '(') {
        ps->p++;
        parse_group(ps, out);
    } else if (c == '[') {
        ps->p++;
        parse_class(ps, out);
    } else if (c == '.') {
        ps->p++;
        info_none(out);
    } else if (c == '^' || c == '$') {
        ps->p++;
        info_empty(out);
    } else if (c == '\\') {
        unsigned long cp = 0;
        int kind;
        ps->p++;
        if (ps->p < ps->end && *ps->p == 'E') {
            ps->p++;
            info_empty(out);
        } else if (ps->p < ps->end && *ps->p == 'Q') {
            const unsigned char *s = ++ps->p, *e = s;
            while (e + 1 < ps->end && !(e[0] == '\\' && e[1] == 'E'))
                e++;
            if (e + 1 >= ps->end) {
                ps->bad = 1;
                return;
            }
            /* the quantifier after \E binds to the last character only */
            ps->p = e + 2;
            if (e == s) {
                info_empty(out);
                return;
            }
            info_bytes(out, s, (size_t)(e - s));
            if (parse_quant(ps, &min, &max))
                ps->bad = 1;            /* rare: not worth splitting */
            return;
        } else {
            kind = escape(ps, &cp, 0);
            if (kind == 1) {
                unsigned char b[4];
                info_bytes(out, b, utf8_put(b, cp));
            } else if (kind == 2) {
                info_empty(out);
            } else {
                info_none(out);
            }
        }
    } else if (c == '*' || c == '+' || c == '?' || c == '{' || c == ')' ||
        c == '|') {
        ps->bad = 1;
        return;
    } else if (c >= 0x80) {
        const unsigned char *s = ps->p;
        size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (n == 1 || (size_t)(ps->end - s) < n) {
            ps->bad = 1;
            return;
        }
        ps->p += n;
        info_bytes(out, s, n);
    } else {
        ps->p++;
        info_bytes(out, &c, 1);
    }
    if (ps->bad)
        return;
    if (parse_quant(ps, &min, &max)) {
        if (max >= 0 && (long)min > max) {
            ps->bad = 1;
            return;
        }
        repeat(out, min, max);
    }
}

static void parse_seq(parser *ps, info *out)
{
    info_empty(out);
    while (!ps->bad && ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
        info a;
        parse_atom(ps, &a);
        if (ps->bad)
            return;
        concat(out, &a);
    }
}

static void parse_alt(parser *ps, info *out)
{
    parse_seq(ps, out);
    while (!ps->bad && ps->p < ps->end && *ps->p == '|') {
        info b;
        ps->p++;
        parse_seq(ps, &b);
        if (ps->bad)
            return;
        alternate(out, &b);
    }
}

/* The whole pattern's facts; 0, or -1 if it is not understood. */
static int analyze(const char *pattern, info *root)
{
    parser ps;
    ps.p = (const unsigned char *)pattern;
    ps.end = ps.p + strlen(pattern);
    ps.bad = 0;
    ps.depth = 0;
    parse_alt(&ps, root);
    return ps.bad || ps.p != ps.end ? -1 : 0;
}

unsigned rx_run_of(const char *pattern, int cls)
{
    info root;
    if (cls < 0 || cls >= RX_RUN_CLASSES || analyze(pattern, &root) != 0)
        return 0;
    return root.run[cls].full ? root.run[cls].rmin : root.run[cls].in;
}

unsigned rx_factors_of(const char *pattern, rx_factors *out)
{
    info root;
    out->n = 0;
    if (analyze(pattern, &root) != 0)
        return 0;
    to_needs(&root.f);
    if (root.f.set.n == 0 || score(&root.f) < 3u * 64u)
        return 0;           /* a short common string gates nothing */
    *out = root.f.set;
    return out->n;
}
