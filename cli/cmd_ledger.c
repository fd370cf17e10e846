/*
 * cmd_ledger.c - `sluice ledger verify|show|prove|digest|anchor`: the
 * auditor's side of the decision ledger (docs/ledger.md). Everything here
 * reads; no subcommand changes a ledger. `verify --redis` also checks the
 * ledger against the checkpoint anchors kept in Redis, and `anchor` puts
 * a ledger's latest checkpoint there (docs/redis.md).
 *
 * Exit status: 0 success; 1 a ledger that does not verify (verify), no
 * record matched (show --exit-code); 2 usage or input error.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/redis_opts.h"

/* ---- shared ------------------------------------------------------------- */

static int load_key(const char *path, sluice_key **out)
{
    sluice_error err;
    memset(&err, 0, sizeof err);
    if (sluice_key_load(out, path, &err) != 0) {
        cli_fail_err(&err);
        return -1;
    }
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || s[0] == '+')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static void hex(char *out, const unsigned char *in, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void ledger_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice ledger verify DIR --key PUB [--anchor FILE] [options]\n"
        "       sluice ledger show DIR [--json] [filters]\n"
        "       sluice ledger prove DIR SEQ [--writer W] > receipt.json\n"
        "       sluice ledger digest --key SECRET [TEXT | -]\n"
        "       sluice ledger anchor DIR --key PUB --redis ADDR [--writer W]\n"
        "\n"
        "Read and check a decision ledger written by 'sluice check --ledger'\n"
        "or by an engine with a ledger. Run 'sluice ledger COMMAND --help'.\n");
}

/* ---- verify ------------------------------------------------------------- */

static void verify_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice ledger verify DIR --key PUB [--anchor FILE] [--writer W]\n"
        "                            [--allow-tail] [--allow-pruned] [--json]\n"
        "                            [--redis ADDR]\n"
        "\n"
        "Check every record of the ledger in DIR: its hash, its link to the\n"
        "record before it, sequence and session continuity, every segment,\n"
        "and every checkpoint's Merkle root and Ed25519 signature. On the\n"
        "first failure, print the record and why, and exit 1.\n"
        "\n"
        "  -k, --key PUB        public key (PREFIX.pub)\n"
        "  -a, --anchor FILE    signed checkpoints kept elsewhere (from 'sluice\n"
        "                       ledger show --checkpoint'): detects truncation,\n"
        "                       rollback and forks, which the files alone can't\n"
        "  -w, --writer W       only this writer (default: all)\n"
        "      --allow-tail     accept records not yet under a checkpoint and\n"
        "                       a torn last frame (a live writer, or a crash\n"
        "                       that the next open will recover)\n"
        "      --allow-pruned   accept chains whose first segments were removed\n"
        "      --json           print the report as JSON\n"
        "  -h, --help           this help\n"
        "\n"
        "Anchors kept in Redis (docs/redis.md): with --redis, every anchor\n"
        "Redis holds for the ledger's writers (the current one and the ones\n"
        "it replaced) is checked too, with those of --anchor.\n"
        CLI_REDIS_HELP
        "\n"
        "examples:\n"
        "  sluice ledger verify /var/lib/sluice/ledger --key ledger.pub\n"
        "  sluice ledger show /var/lib/sluice/ledger --checkpoint > anchor.txt\n"
        "  sluice ledger verify /var/lib/sluice/ledger --key ledger.pub \\\n"
        "      --anchor anchor.txt\n");
}

static void print_report(const sluice_verify_report *r, int json)
{
    if (json) {
        printf("{\"ok\":%s,\"writers\":%zu,\"segments\":%zu,\"records\":%llu,"
            "\"checkpoints\":%llu,\"tail_records\":%llu,\"torn_bytes\":%llu",
            r->ok ? "true" : "false", r->writers, r->segments,
            (unsigned long long)r->records,
            (unsigned long long)r->checkpoints,
            (unsigned long long)r->tail_records,
            (unsigned long long)r->torn_bytes);
        if (!r->ok)
            printf(",\"writer\":\"%s\",\"seq\":%llu,\"offset\":%llu", r->writer,
                (unsigned long long)r->seq, (unsigned long long)r->offset);
        printf("}\n");
        return;
    }
    if (r->ok) {
        printf("ledger OK: %zu writer%s, %zu segment%s, %llu records under "
            "%llu checkpoints", r->writers, r->writers == 1 ? "" : "s",
            r->segments, r->segments == 1 ? "" : "s",
            (unsigned long long)r->records,
            (unsigned long long)r->checkpoints);
        if (r->tail_records || r->torn_bytes)
            printf("; not yet signed: %llu records, %llu torn bytes",
                (unsigned long long)r->tail_records,
                (unsigned long long)r->torn_bytes);
        printf("\n");
    } else {
        printf("ledger FAILED: ");
        if (r->writer[0])
            printf("writer %s, ", r->writer);
        if (r->seq)
            printf("record %llu: ", (unsigned long long)r->seq);
        printf("%s\n", r->reason);
        if (r->file[0])
            printf("  at %s, offset %llu\n", r->file,
                (unsigned long long)r->offset);
    }
    if (r->warning[0])
        printf("note: %s\n", r->warning);
}

/* ---- anchors in Redis ---------------------------------------------------- */

/* The origin (first line) of a writer's latest checkpoint, or -1. */
static int writer_origin(const char *dir, const char *writer, char *out,
    size_t size)
{
    sluice_error err;
    char *note = NULL, *nl;
    size_t len = 0;
    memset(&err, 0, sizeof err);
    if (sluice_ledger_checkpoint(dir, writer, &note, &len, &err) != 0)
        return -1;
    nl = memchr(note, '\n', len);
    if (nl == NULL || (size_t)(nl - note) >= size) {
        free(note);
        return -1;
    }
    memcpy(out, note, (size_t)(nl - note));
    out[nl - note] = '\0';
    free(note);
    return 0;
}

typedef struct anchor_text {
    char *p;
    size_t len;
    size_t notes, writers, bare;  /* bare: writers with no anchor */
} anchor_text;

static int anchors_for(sluice_redis *r, const char *dir, const char *writer,
    anchor_text *t)
{
    char origin[300], *txt = NULL;
    size_t len = 0, n = 0;
    sluice_error err;
    memset(&err, 0, sizeof err);
    if (writer_origin(dir, writer, origin, sizeof origin) != 0)
        return 0;                  /* not a writer: verify says what */
    if (sluice_redis_anchors(r, origin, &txt, &len, &n, &err) != 0)
        return cli_fail_err(&err);
    t->writers++;
    if (n == 0) {
        t->bare++;
        fprintf(stderr, "sluice: note: Redis holds no anchor for %s\n",
            origin);
    }
    char *q = realloc(t->p, t->len + len + 1);
    if (q == NULL) {
        free(txt);
        return cli_fail("out of memory");
    }
    t->p = q;
    memcpy(t->p + t->len, txt, len);
    t->len += len;
    t->p[t->len] = '\0';
    t->notes += n;
    free(txt);
    return 0;
}

/* Every anchor Redis holds for the writers of dir (or `writer`). */
static int redis_anchors(const cli_redis *ro, const char *dir,
    const char *writer, anchor_text *t)
{
    sluice_redis *r = NULL;
    DIR *d;
    struct dirent *de;
    int rc = 0;
    if (cli_redis_open(ro, 0, &r) != 0)
        return EXIT_USAGE;
    if (writer != NULL) {
        rc = anchors_for(r, dir, writer, t);
    } else if ((d = opendir(dir)) == NULL) {
        rc = 0;                    /* verify reports the directory */
    } else {
        while (rc == 0 && (de = readdir(d)) != NULL)
            if (de->d_name[0] != '.')
                rc = anchors_for(r, dir, de->d_name, t);
        closedir(d);
    }
    sluice_redis_free(r);
    return rc;
}

/* Write the anchors (and those of --anchor FILE) to a temporary file. */
static int anchor_file(const anchor_text *t, const char *also, char *path,
    size_t size)
{
    const char *tmp = getenv("TMPDIR");
    char *extra = NULL;
    size_t elen = 0;
    FILE *f;
    int fd, rc = 0;
    if (also != NULL) {
        FILE *a = fopen(also, "rb");
        if (a == NULL)
            return cli_fail("%s: %s", also, strerror(errno));
        rc = cli_read_all(a, (size_t)64 << 20, &extra, &elen);
        fclose(a);
        if (rc != 0)
            return cli_fail("%s: %s", also, strerror(errno));
    }
    snprintf(path, size, "%s/sluice-anchors.XXXXXX", tmp && *tmp ? tmp :
        "/tmp");
    if ((fd = mkstemp(path)) < 0 || (f = fdopen(fd, "wb")) == NULL) {
        free(extra);
        if (fd >= 0)
            close(fd);
        return cli_fail("%s: %s", path, strerror(errno));
    }
    if ((t->len && fwrite(t->p, 1, t->len, f) != t->len) ||
        (elen && (fputc('\n', f) == EOF ||
                  fwrite(extra, 1, elen, f) != elen)))
        rc = cli_fail("%s: %s", path, strerror(errno));
    if (fclose(f) != 0 && rc == 0)
        rc = cli_fail("%s: %s", path, strerror(errno));
    free(extra);
    if (rc != 0)
        unlink(path);
    return rc;
}

static int ledger_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"anchor", required_argument, NULL, 'a'},
        {"writer", required_argument, NULL, 'w'},
        {"allow-tail", no_argument, NULL, 't'},
        {"allow-pruned", no_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    sluice_verify_options vo = SLUICE_VERIFY_OPTIONS_INIT;
    sluice_verify_report rep;
    sluice_error err;
    sluice_key *key = NULL;
    const char *keypath = NULL;
    anchor_text at = { NULL, 0, 0, 0, 0 };
    cli_redis ro;
    char tmp[4096] = "";
    int c, json = 0, rc, h;
    memset(&ro, 0, sizeof ro);
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:a:w:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': keypath = optarg; break;
        case 'a': vo.anchor = optarg; break;
        case 'w': vo.writer = optarg; break;
        case 't': vo.allow_tail = 1; break;
        case 'p': vo.allow_pruned = 1; break;
        case 'j': json = 1; break;
        case 'h': verify_usage(stdout); return EXIT_OK;
        default:
            if ((h = cli_redis_option(&ro, c, optarg)) < 0)
                return EXIT_USAGE;
            if (h == 0) {
                fprintf(stderr, "Try 'sluice ledger verify --help'.\n");
                return EXIT_USAGE;
            }
        }
    }
    if (argc - optind != 1)
        return cli_fail("ledger verify: one ledger directory is required");
    if (keypath == NULL)
        return cli_fail("ledger verify: a public key is required (--key PUB)");
    if (ro.addr != NULL) {
        if ((rc = redis_anchors(&ro, argv[optind], vo.writer, &at)) != 0) {
            free(at.p);
            return rc;
        }
        if (at.notes > 0) {
            if ((rc = anchor_file(&at, vo.anchor, tmp, sizeof tmp)) != 0) {
                free(at.p);
                return rc;
            }
            vo.anchor = tmp;
        }
        if (!json)
            printf("redis anchors: %zu checkpoint%s for %zu writer%s\n",
                at.notes, at.notes == 1 ? "" : "s", at.writers - at.bare,
                at.writers - at.bare == 1 ? "" : "s");
        free(at.p);
    }
    if (load_key(keypath, &key) != 0) {
        if (tmp[0])
            unlink(tmp);
        return EXIT_USAGE;
    }
    vo.key = key;
    memset(&err, 0, sizeof err);
    if (sluice_ledger_verify(argv[optind], &vo, &rep, &err) != 0) {
        rc = cli_fail_err(&err);
    } else {
        print_report(&rep, json);
        rc = rep.ok ? EXIT_OK : EXIT_FAILED;
    }
    if (tmp[0])
        unlink(tmp);
    sluice_key_free(key);
    return rc;
}

/* ---- anchor ------------------------------------------------------------------ */

static void anchor_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice ledger anchor DIR --key PUB --redis ADDR [--writer W]\n"
        "                            [--json]\n"
        "\n"
        "Anchor the latest signed checkpoint of the ledger in DIR in Redis,\n"
        "with a compare-and-swap: a smaller tree than the anchor (a rollback)\n"
        "or another root for its size (a fork) is refused, and so is a larger\n"
        "tree whose first records do not give the anchored root. Exit 0 when\n"
        "stored (or already anchored), 1 when refused.\n"
        "\n"
        "  -k, --key PUB        the ledger's public key (PREFIX.pub)\n"
        "  -w, --writer W       the writer (default: the only one)\n"
        "      --json           print the result as JSON\n"
        CLI_REDIS_HELP
        "  -h, --help           this help\n");
}

static int ledger_anchor(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"writer", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *keypath = NULL, *writer = NULL;
    sluice_anchor_report rep;
    sluice_redis *r = NULL;
    sluice_key *key = NULL;
    sluice_error err;
    cli_redis ro;
    int c, json = 0, rc, h;
    memset(&ro, 0, sizeof ro);
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:w:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': keypath = optarg; break;
        case 'w': writer = optarg; break;
        case 'j': json = 1; break;
        case 'h': anchor_usage(stdout); return EXIT_OK;
        default:
            if ((h = cli_redis_option(&ro, c, optarg)) < 0)
                return EXIT_USAGE;
            if (h == 0) {
                fprintf(stderr, "Try 'sluice ledger anchor --help'.\n");
                return EXIT_USAGE;
            }
        }
    }
    if (argc - optind != 1)
        return cli_fail("ledger anchor: one ledger directory is required");
    if (keypath == NULL || ro.addr == NULL)
        return cli_fail("ledger anchor: --key PUB and --redis ADDR are "
            "required");
    ro.quiet = 1;                   /* the result says it all */
    if (load_key(keypath, &key) != 0)
        return EXIT_USAGE;
    if (cli_redis_open(&ro, 0, &r) != 0) {
        sluice_key_free(key);
        return EXIT_USAGE;
    }
    memset(&err, 0, sizeof err);
    rc = sluice_redis_anchor_ledger(r, argv[optind], writer, key, &rep, &err);
    if (rc != 0) {
        rc = cli_fail_err(&err);
    } else {
        int refused = rep.result == SLUICE_ANCHOR_ROLLBACK ||
            rep.result == SLUICE_ANCHOR_FORK ||
            rep.result == SLUICE_ANCHOR_CONFLICT;
        if (json)
            printf("{\"result\":\"%s\",\"origin\":\"%s\",\"size\":%llu,"
                "\"stored_size\":%llu,\"reason\":\"%s\"}\n",
                sluice_anchor_result_name(rep.result), rep.origin,
                (unsigned long long)rep.size,
                (unsigned long long)rep.stored_size, rep.reason);
        else if (refused)
            printf("anchor REFUSED: %s: %s\n", rep.origin, rep.reason);
        else
            printf("anchor %s: %s, %llu records (Redis had %llu)\n",
                sluice_anchor_result_name(rep.result), rep.origin,
                (unsigned long long)rep.size,
                (unsigned long long)rep.stored_size);
        rc = refused ? EXIT_FAILED : EXIT_OK;
    }
    sluice_redis_free(r);
    sluice_key_free(key);
    return rc;
}

/* ---- show --------------------------------------------------------------- */

typedef struct show_opts {
    int json;
    int action;              /* -1: any */
    int type;                /* 0: any */
    const char *policy;
    int64_t policy_version;  /* -1: any */
    const char *rule;
    int64_t since, until;    /* ns; INT64_MIN/MAX: open */
    unsigned char digest[32];
    int have_digest;
    uint64_t shown;
    int out_err;
} show_opts;

static void show_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice ledger show DIR [--writer W] [--json] [--action A]\n"
        "                          [--policy ID[@VERSION]] [--rule RULE]\n"
        "                          [--since TIME] [--until TIME]\n"
        "                          [--digest HEX] [--type TYPE]\n"
        "       sluice ledger show DIR --checkpoint [--writer W]\n"
        "\n"
        "Print the records of the ledger in DIR, writer by writer in order,\n"
        "one per line (or one JSON object per line with --json). Filters\n"
        "combine with AND. This reads; it does not verify signatures.\n"
        "\n"
        "  -w, --writer W       only this writer\n"
        "      --json           JSON lines\n"
        "      --action A       allow, flag, label, redact or block\n"
        "      --policy ID[@V]  decided by policy ID (version V)\n"
        "      --rule RULE      where RULE fired\n"
        "      --since TIME     at or after TIME: 2024-05-01, 2024-05-01T12:00:00Z,\n"
        "      --until TIME     2024-05-01T14:00:00+08:00 or @UNIXSECONDS\n"
        "      --digest HEX     records of the output with this keyed digest\n"
        "                       (from 'sluice ledger digest')\n"
        "      --type TYPE      verdict, open, recovery, gap or close\n"
        "      --checkpoint     print the latest signed checkpoint instead (to\n"
        "                       keep as an anchor for 'verify --anchor')\n"
        "      --exit-code      exit 1 if no record matched\n"
        "  -h, --help           this help\n"
        "\n"
        "examples:\n"
        "  sluice ledger show ./ledger --action block --since 2024-05-01\n"
        "  sluice ledger show ./ledger --digest \\\n"
        "      \"$(sluice ledger digest --key ledger.key 'the text')\"\n");
}

/* Two-digit (or n-digit) decimal at s; -1 if not digits. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "@SECONDS" or RFC 3339 (date, or date-time with Z or an offset). */
static int parse_time(const char *s, int64_t *ns)
{
    struct tm tm;
    int64_t off = 0, frac = 0;
    if (s[0] == '@') {
        uint64_t v;
        if (parse_u64(s + 1, &v) != 0 || v > INT64_MAX / 1000000000)
            return -1;
        *ns = (int64_t)v * 1000000000;
        return 0;
    }
    memset(&tm, 0, sizeof tm);
    if (strlen(s) < 10 || s[4] != '-' || s[7] != '-' ||
        (tm.tm_year = digits(s, 4)) < 0 || (tm.tm_mon = digits(s + 5, 2)) < 1
        || (tm.tm_mday = digits(s + 8, 2)) < 1)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    s += 10;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        if (strlen(s) < 9 || s[3] != ':' || s[6] != ':' ||
            (tm.tm_hour = digits(s + 1, 2)) < 0 ||
            (tm.tm_min = digits(s + 4, 2)) < 0 ||
            (tm.tm_sec = digits(s + 7, 2)) < 0)
            return -1;
        s += 9;
        if (*s == '.') {
            int64_t scale = 100000000;
            for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
                frac += scale * (*s - '0');
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if ((*s == '+' || *s == '-') && strlen(s) == 6 && s[3] == ':') {
            int h = digits(s + 1, 2), m = digits(s + 4, 2);
            if (h < 0 || m < 0)
                return -1;
            off = (int64_t)(h * 3600 + m * 60) * (*s == '+' ? 1 : -1);
            s += 6;
        } else {
            return -1;
        }
    }
    if (*s != '\0')
        return -1;
    *ns = ((int64_t)timegm(&tm) - off) * 1000000000 + frac;
    return 0;
}

static int parse_action(const char *s)
{
    for (int a = SLUICE_ALLOW; a <= SLUICE_BLOCK; a++)
        if (strcmp(s, sluice_action_name(a)) == 0)
            return a;
    return -1;
}

static int parse_type(const char *s)
{
    static const char *const names[] = {"open", "verdict", "recovery", "gap",
        "close"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return i + 1;
    return -1;
}

static int parse_digest(const char *s, unsigned char out[32])
{
    if (strlen(s) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = s[2 * i + k];
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f'
                ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
            if (d < 0)
                return -1;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int matches(const show_opts *o, const sluice_record *r)
{
    int verdict = r->type == SLUICE_RECORD_VERDICT;
    if (o->type && (int)r->type != o->type)
        return 0;
    if (r->time_ns < o->since || r->time_ns > o->until)
        return 0;
    if ((o->action >= 0 || o->policy || o->rule || o->have_digest) && !verdict)
        return 0;
    if (o->action >= 0 && (int)r->action != o->action)
        return 0;
    if (o->policy && (strcmp(r->policy_id, o->policy) != 0 ||
            (o->policy_version >= 0 && r->policy_version != o->policy_version)))
        return 0;
    if (o->have_digest && (!r->has_digest ||
            memcmp(r->digest, o->digest, 32) != 0))
        return 0;
    if (o->rule) {
        size_t i = 0;
        while (i < r->nrules && strcmp(r->rules[i], o->rule) != 0)
            i++;
        if (i == r->nrules)
            return 0;
    }
    return 1;
}

static void show_human(const sluice_record *r)
{
    char t[64], h[65];
    time_t s = (time_t)(r->time_ns / 1000000000);
    struct tm tm;
    if (gmtime_r(&s, &tm) == NULL || strftime(t, sizeof t,
            "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        t[0] = '\0';
    printf("%s#%llu %s.%03dZ ", r->writer, (unsigned long long)r->seq, t,
        (int)(r->time_ns / 1000000 % 1000));
    switch (r->type) {
    case SLUICE_RECORD_VERDICT:
        printf("%s %s@%lld", sluice_action_name(r->action), r->policy_id,
            (long long)r->policy_version);
        for (size_t i = 0; i < r->nrules; i++)
            printf(i ? ",%s" : " rules=%s", r->rules[i]);
        if (r->reason[0])
            printf(" reason=%s", r->reason);
        if (r->request_id[0])
            printf(" request=%s", r->request_id);
        if (r->tenant[0])
            printf(" tenant=%s", r->tenant);
        if (r->has_digest) {
            hex(h, r->digest, 32);
            printf(" digest=%.16s", h);
        }
        break;
    case SLUICE_RECORD_OPEN:
        printf("open session %u %s host=%s pid=%u", r->session,
            r->mode == SLUICE_LEDGER_DURABLE ? "durable" : "batched", r->host,
            r->pid);
        break;
    case SLUICE_RECORD_RECOVERY:
        printf("recovery cut=%llu bytes kept=%llu records%s%s",
            (unsigned long long)r->cut_bytes,
            (unsigned long long)r->kept_unsigned,
            r->saved_as[0] ? " saved_as=" : "", r->saved_as);
        break;
    case SLUICE_RECORD_GAP:
        printf("gap released=%llu blocked=%llu error=%s",
            (unsigned long long)r->gap_released,
            (unsigned long long)r->gap_blocked, r->gap_error);
        break;
    case SLUICE_RECORD_CLOSE:
        printf("close session %u", r->session);
        break;
    }
    printf("\n");
}

static int show_one(const sluice_record *r, void *payload)
{
    show_opts *o = payload;
    if (!matches(o, r))
        return 0;
    o->shown++;
    if (!o->json) {
        show_human(r);
        return 0;
    }
    char *js = NULL;
    size_t len = 0;
    if (sluice_record_json(r, &js, &len) != 0) {
        o->out_err = 1;
        return 1;
    }
    fwrite(js, 1, len, stdout);
    putchar('\n');
    free(js);
    return 0;
}

static int show_checkpoint(const char *dir, const char *writer)
{
    char *note = NULL;
    size_t len = 0;
    sluice_error err;
    memset(&err, 0, sizeof err);
    if (sluice_ledger_checkpoint(dir, writer, &note, &len, &err) != 0)
        return cli_fail_err(&err);
    fwrite(note, 1, len, stdout);
    free(note);
    return EXIT_OK;
}

/* Parse show's options into o; returns 0, or an exit status. */
static int show_args(int argc, char **argv, show_opts *o, const char **writer,
    int *checkpoint, int *exit_code)
{
    static const struct option longopts[] = {
        {"writer", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"action", required_argument, NULL, 'a'},
        {"policy", required_argument, NULL, 'p'},
        {"rule", required_argument, NULL, 'r'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"digest", required_argument, NULL, 'd'},
        {"type", required_argument, NULL, 't'},
        {"checkpoint", no_argument, NULL, 'c'},
        {"exit-code", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "w:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'w': *writer = optarg; break;
        case 'j': o->json = 1; break;
        case 'a':
            if ((o->action = parse_action(optarg)) < 0)
                return cli_fail("ledger show: --action: unknown action '%s'",
                    optarg);
            break;
        case 'p': {
            char *at = strchr(optarg, '@');
            uint64_t v;
            o->policy = optarg;
            if (at != NULL) {
                *at = '\0';
                if (parse_u64(at + 1, &v) != 0 || v > INT64_MAX)
                    return cli_fail("ledger show: --policy: bad version "
                        "'%s'", at + 1);
                o->policy_version = (int64_t)v;
            }
            break;
        }
        case 'r': o->rule = optarg; break;
        case 's':
        case 'u':
            if (parse_time(optarg, c == 's' ? &o->since : &o->until) != 0)
                return cli_fail("ledger show: --%s: not a time: '%s'",
                    c == 's' ? "since" : "until", optarg);
            break;
        case 'd':
            if (parse_digest(optarg, o->digest) != 0)
                return cli_fail("ledger show: --digest: 64 hex digits "
                    "expected");
            o->have_digest = 1;
            break;
        case 't':
            if ((o->type = parse_type(optarg)) < 0)
                return cli_fail("ledger show: --type: unknown type '%s'",
                    optarg);
            break;
        case 'c': *checkpoint = 1; break;
        case 'x': *exit_code = 1; break;
        case 'h': show_usage(stdout); return -1;
        default:
            fprintf(stderr, "Try 'sluice ledger show --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_fail("ledger show: one ledger directory is required");
    return 0;
}

static int ledger_show(int argc, char **argv)
{
    show_opts o;
    const char *writer = NULL;
    int checkpoint = 0, exit_code = 0, rc;
    sluice_error err;
    memset(&o, 0, sizeof o);
    o.action = -1;
    o.policy_version = -1;
    o.since = INT64_MIN;
    o.until = INT64_MAX;
    if ((rc = show_args(argc, argv, &o, &writer, &checkpoint,
            &exit_code)) != 0)
        return rc < 0 ? EXIT_OK : rc;
    if (checkpoint)
        return show_checkpoint(argv[optind], writer);
    memset(&err, 0, sizeof err);
    rc = sluice_ledger_foreach(argv[optind], writer, show_one, &o, &err);
    if (o.out_err)
        return cli_fail("ledger show: out of memory");
    if (rc != 0)
        return cli_fail_err(&err);
    if (fflush(stdout) != 0)
        return cli_fail("writing output: %s", strerror(errno));
    return exit_code && o.shown == 0 ? EXIT_FAILED : EXIT_OK;
}

/* ---- prove -------------------------------------------------------------- */

static void prove_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice ledger prove DIR SEQ [--writer W] [-o FILE]\n"
        "\n"
        "Write a receipt for record SEQ: the record, the latest signed\n"
        "checkpoint, and the Merkle inclusion proof that ties them, as JSON.\n"
        "Anyone with the public key can check it ('sluice receipt verify')\n"
        "without the ledger. Receipts are byte-exact: do not reformat them.\n"
        "\n"
        "  -w, --writer W     the writer (needed when DIR has several)\n"
        "  -o, --output FILE  write there instead of standard output\n"
        "  -h, --help         this help\n"
        "\n"
        "example:\n"
        "  sluice ledger prove ./ledger 42 > receipt.json\n");
}

static int ledger_prove(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"writer", required_argument, NULL, 'w'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *writer = NULL, *output = NULL;
    uint64_t seq;
    char *json = NULL;
    size_t len = 0;
    sluice_error err;
    int c, rc = EXIT_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "w:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'w': writer = optarg; break;
        case 'o': output = optarg; break;
        case 'h': prove_usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Try 'sluice ledger prove --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 2)
        return cli_fail("ledger prove: DIR and SEQ are required");
    if (parse_u64(argv[optind + 1], &seq) != 0 || seq == 0)
        return cli_fail("ledger prove: not a sequence number: '%s'",
            argv[optind + 1]);
    memset(&err, 0, sizeof err);
    if (sluice_ledger_prove(argv[optind], writer, seq, &json, &len,
            &err) != 0)
        return cli_fail_err(&err);
    FILE *f = output ? fopen(output, "wb") : stdout;
    if (f == NULL) {
        rc = cli_fail("%s: %s", output, strerror(errno));
    } else {
        if (fwrite(json, 1, len, f) != len || fflush(f) != 0)
            rc = cli_fail("writing the receipt: %s", strerror(errno));
        if (f != stdout && fclose(f) != 0 && rc == EXIT_OK)
            rc = cli_fail("%s: %s", output, strerror(errno));
    }
    free(json);
    return rc;
}

/* ---- digest ------------------------------------------------------------- */

static void digest_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice ledger digest --key SECRET [TEXT | -]\n"
        "\n"
        "Print the keyed digest that ledger records keep of an output (64 hex\n"
        "digits), to find the record of a text you hold: pass it to 'sluice\n"
        "ledger show --digest'. SECRET is the digest key (PREFIX.digest) or,\n"
        "if the ledger derives its digest key, the signing key (PREFIX.key).\n"
        "The text is taken byte for byte: a trailing newline counts.\n"
        "\n"
        "  -k, --key SECRET   digest or signing key file\n"
        "  -h, --help         this help\n"
        "\n"
        "example:\n"
        "  sluice ledger digest --key ledger.key 'the exact output text'\n");
}

static int ledger_digest(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *keypath = NULL;
    sluice_key *key = NULL;
    unsigned char d[32];
    char h[65], *text = NULL;
    size_t len = 0;
    int c, rc = EXIT_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': keypath = optarg; break;
        case 'h': digest_usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Try 'sluice ledger digest --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (keypath == NULL)
        return cli_fail("ledger digest: a key is required (--key SECRET)");
    if (argc - optind > 1)
        return cli_fail("ledger digest: one TEXT at a time (quote it)");
    if (argc - optind == 1 && strcmp(argv[optind], "-") != 0) {
        if ((text = strdup(argv[optind])) == NULL)
            return cli_fail("out of memory");
        len = strlen(text);
    } else if (cli_read_all(stdin, (size_t)1 << 30, &text, &len) != 0) {
        return cli_fail("ledger digest: reading standard input: %s",
            strerror(errno));
    }
    if (load_key(keypath, &key) != 0) {
        rc = EXIT_USAGE;
    } else if (sluice_digest(key, text, len, d, NULL) != 0) {
        rc = cli_fail("ledger digest: %s is a public key; the digest needs "
            "the secret (PREFIX.digest or PREFIX.key)", keypath);
    } else {
        hex(h, d, 32);
        printf("%s\n", h);
    }
    sluice_key_free(key);
    free(text);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------- */

int cmd_ledger(int argc, char **argv)
{
    if (argc < 2) {
        ledger_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ledger_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "verify") == 0)
        return ledger_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return ledger_show(argc - 1, argv + 1);
    if (strcmp(argv[1], "prove") == 0)
        return ledger_prove(argc - 1, argv + 1);
    if (strcmp(argv[1], "digest") == 0)
        return ledger_digest(argc - 1, argv + 1);
    if (strcmp(argv[1], "anchor") == 0)
        return ledger_anchor(argc - 1, argv + 1);
    return cli_fail("ledger: unknown subcommand '%s' (verify, show, prove, "
        "digest, anchor)", argv[1]);
}
