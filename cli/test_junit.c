/*
 * test_junit.c - `sluice test --junit FILE`: the run as JUnit XML, for
 * CI systems: one <testsuite> per test file (classname = the file, name =
 * the case), a failure or an error per failed case with the same diff
 * the human report shows, and a "thresholds" testsuite when --min-*
 * options were given. The human, TAP or JSON report is printed as usual.
 *
 * Design: a row is kept for each case as it is reported (its status,
 * time, one-line message and diff), since the totals go before the cases
 * in the XML; the file is written once, at the end. Texts are escaped for
 * XML 1.0, in which some characters cannot appear even as references
 * (see xml_put).
 *
 * Ownership: the rows own their message and diff; a row's case is the
 * suite's, so the suite must outlive the rows.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/mutate.h"
#include "cli/test_internal.h"

/* A case as JUnit will show it. */
typedef struct jrow {
    const test_case *tc;
    int status;            /* 0 pass, 1 fail, 2 error */
    double secs;
    char *message;         /* owned: one line */
    char *body;            /* owned: the diff, or NULL */
} jrow;

struct test_junit {
    jrow *rows;
    size_t nrows, caprows;
    char stamp[32];        /* start of the run, ISO 8601 UTC */
};

/* What the writers need: the rows, and the run's policy, options and
 * thresholds (all borrowed). */
typedef struct jctx {
    const jrow *rows;
    size_t nrows;
    const char *stamp;
    const sluice_policy *p;
    const test_opts *o;
    const test_threshold *th;
    size_t nth;
} jctx;

int cli_test_junit_new(test_junit **out)
{
    test_junit *j = calloc(1, sizeof *j);
    time_t now = time(NULL);
    struct tm tm;

    *out = NULL;
    if (j == NULL)
        return cli_test_nomem();
    if (gmtime_r(&now, &tm) == NULL ||
        strftime(j->stamp, sizeof j->stamp, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(j->stamp, sizeof j->stamp, "1970-01-01T00:00:00");
    *out = j;
    return 0;
}

void cli_test_junit_free(test_junit *j)
{
    if (j == NULL)
        return;
    for (size_t i = 0; i < j->nrows; i++) {
        free(j->rows[i].message);
        free(j->rows[i].body);
    }
    free(j->rows);
    free(j);
}

/*
 * s as XML 1.0 character data (attr: an attribute value in double
 * quotes). Markup characters become entities; tab, newline and carriage
 * return are kept (as references in attributes, so that they survive
 * attribute normalization); every other character XML 1.0 forbids (C0
 * controls, U+FFFE, U+FFFF) and every byte that is not UTF-8 is replaced
 * by a visible escape (\x01, \uFFFE), since no XML parser accepts them
 * even as references.
 */
static void xml_put(FILE *f, const char *s, int attr)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;

    while (i < n) {
        uint32_t cp = 0;
        size_t k = cli_utf8_next(u + i, n - i, &cp);
        if (k == 0) {
            fprintf(f, "\\x%02x", u[i]);
            i++;
            continue;
        }
        if (cp == '&')
            fputs("&amp;", f);
        else if (cp == '<')
            fputs("&lt;", f);
        else if (cp == '>')
            fputs("&gt;", f);
        else if (cp == '"' && attr)
            fputs("&quot;", f);
        else if (cp == '\t' || cp == '\n' || cp == '\r')
            (attr || cp == '\r') ? fprintf(f, "&#%u;", (unsigned)cp) :
                fputc((int)cp, f);
        else if (cp < 0x20)
            fprintf(f, "\\x%02x", (unsigned)cp);
        else if (cp == 0xFFFE || cp == 0xFFFF)
            fprintf(f, "\\u%04X", (unsigned)cp);
        else
            fwrite(u + i, 1, k, f);
        i += k;
    }
}

int cli_test_junit_add(test_junit *j, const test_result *r)
{
    jrow row;
    test_mstream ms;

    memset(&row, 0, sizeof row);
    row.tc = r->tc;
    row.secs = r->secs;
    row.status = cli_test_passed(r) ? 0 : r->v == NULL ? 2 : 1;
    if (row.status != 0) {
        if (cli_test_ms_open(&ms) != 0)
            return cli_test_nomem();
        if (r->v == NULL)
            fprintf(ms.f, "%s", r->error);
        else {
            size_t n = 0;
            for (size_t i = 0; i < TEST_NFIELDS; i++)
                if (r->mismatch & (1u << i))
                    fprintf(ms.f, "%s%s", n++ ? ", " : "expected and got "
                        "differ in ", cli_test_field_name(i));
            if (r->stream_diff != NULL)
                fprintf(ms.f, "%sa streaming run differs from the whole "
                    "text", n ? "; " : "");
        }
        row.message = cli_test_ms_close(&ms);
        if (cli_test_ms_open(&ms) != 0) {
            free(row.message);
            return cli_test_nomem();
        }
        cli_test_put_diff(ms.f, "", r);
        row.body = cli_test_ms_close(&ms);
        if (row.message == NULL || row.body == NULL) {
            free(row.message);
            free(row.body);
            return cli_test_nomem();
        }
    }
    if (j->nrows == j->caprows) {
        size_t cap = j->caprows ? j->caprows * 2 : 64;
        jrow *q = realloc(j->rows, cap * sizeof *q);
        if (q == NULL) {
            free(row.message);
            free(row.body);
            return cli_test_nomem();
        }
        j->rows = q;
        j->caprows = cap;
    }
    j->rows[j->nrows++] = row;
    return 0;
}

static void junit_props(FILE *f, const jctx *c)
{
    fputs("    <properties>\n      <property name=\"policy\" value=\"", f);
    xml_put(f, sluice_policy_id(c->p), 1);
    fprintf(f, "\"/>\n      <property name=\"policy.version\" value=\"%lld"
        "\"/>\n      <property name=\"policy.hash\" value=\"",
        (long long)sluice_policy_version(c->p));
    xml_put(f, sluice_policy_hash(c->p), 1);
    fprintf(f, "\"/>\n      <property name=\"seed\" value=\"%llu\"/>\n"
        "    </properties>\n", (unsigned long long)c->o->seed);
}

static void junit_case(FILE *f, const jrow *j)
{
    fputs("    <testcase classname=\"", f);
    xml_put(f, j->tc->file, 1);
    fputs("\" name=\"", f);
    xml_put(f, j->tc->name, 1);
    fputs("\" file=\"", f);
    xml_put(f, j->tc->file, 1);
    fprintf(f, "\" line=\"%d\" time=\"%.6f\"", j->tc->line, j->secs);
    if (j->status == 0) {
        fputs("/>\n", f);
        return;
    }
    fprintf(f, ">\n      <%s message=\"", j->status == 1 ? "failure" :
        "error");
    xml_put(f, j->message, 1);
    fprintf(f, "\" type=\"%s\">", j->status == 1 ? "mismatch" :
        "check_error");
    xml_put(f, j->body, 0);
    fprintf(f, "</%s>\n    </testcase>\n", j->status == 1 ? "failure" :
        "error");
}

/* One <testsuite> for the rows [a, z) (one test file). */
static void junit_suite(FILE *f, const jctx *c, size_t a, size_t z)
{
    size_t nf = 0, ne = 0;
    double secs = 0;

    for (size_t i = a; i < z; i++) {
        nf += c->rows[i].status == 1;
        ne += c->rows[i].status == 2;
        secs += c->rows[i].secs;
    }
    fputs("  <testsuite name=\"", f);
    xml_put(f, c->rows[a].tc->file, 1);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\""
        " time=\"%.6f\" timestamp=\"%s\">\n", z - a, nf, ne, secs, c->stamp);
    junit_props(f, c);
    for (size_t i = a; i < z; i++)
        junit_case(f, &c->rows[i]);
    fputs("  </testsuite>\n", f);
}

static void junit_thresholds(FILE *f, const jctx *c, size_t nfail)
{
    fprintf(f, "  <testsuite name=\"thresholds\" tests=\"%zu\" failures=\"%zu"
        "\" errors=\"0\" skipped=\"0\" time=\"0\" timestamp=\"%s\">\n",
        c->nth, nfail, c->stamp);
    for (size_t i = 0; i < c->nth; i++) {
        const test_threshold *t = &c->th[i];
        fprintf(f, "    <testcase classname=\"thresholds\" name=\"%s %s %g%%\""
            " time=\"0\"", t->what, t->option, t->min);
        if (t->ok) {
            fputs("/>\n", f);
            continue;
        }
        fprintf(f, ">\n      <failure message=\"%s %.1f%% is below %s %g%%\""
            " type=\"threshold\"/>\n    </testcase>\n", t->what,
            cli_test_pct_shown(t->value), t->option, t->min);
    }
    fputs("  </testsuite>\n", f);
}

/* The file, with its totals; cli_test_junit_write's result. */
static int junit_file(const jctx *c)
{
    size_t nf = 0, ne = 0, thf = 0;
    double secs = 0;
    FILE *f = fopen(c->o->junit, "w");

    if (f == NULL)
        return cli_fail("%s: %s", c->o->junit, strerror(errno));
    for (size_t i = 0; i < c->nrows; i++) {
        nf += c->rows[i].status == 1;
        ne += c->rows[i].status == 2;
        secs += c->rows[i].secs;
    }
    for (size_t i = 0; i < c->nth; i++)
        thf += !c->th[i].ok;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\""
        "sluice test ", f);
    xml_put(f, c->o->policy, 1);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\""
        " time=\"%.6f\" timestamp=\"%s\">\n", c->nrows + c->nth, nf + thf, ne,
        secs, c->stamp);
    for (size_t a = 0, z; a < c->nrows; a = z) {
        for (z = a + 1; z < c->nrows && c->rows[z].tc->file ==
             c->rows[a].tc->file; z++)
            ;
        junit_suite(f, c, a, z);
    }
    if (c->nth > 0)
        junit_thresholds(f, c, thf);
    fputs("</testsuites>\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return cli_fail("%s: writing failed: %s", c->o->junit,
            strerror(errno));
    return 0;
}

int cli_test_junit_write(const test_junit *j, const test_opts *o,
    const sluice_policy *p, const test_tally *tally)
{
    jctx c = {
        j->rows, j->nrows, j->stamp, p, o, tally->th, tally->nth
    };

    return junit_file(&c);
}
