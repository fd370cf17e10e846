/*
 * fuzz_seeds.c - makes the seed corpora of the fuzz targets at run time,
 * from what the repository and the shared data already hold, so that no
 * large file is copied into the repository:
 *
 *   normalize, stream  texts: examples/outputs.jsonl, the `input:` strings
 *                      of every policy's test cases, hand-written evasions,
 *                      and lines of the shared corpora (SLUICE_DATA,
 *                      default ../shared/data; skipped when absent)
 *   policy             every policy directory under policies/ and tests/
 *                      (policy.yaml with full-line comments removed, and
 *                      its lists cut to 40 lines), in fuzz_policy's
 *                      "#@@ PATH" format
 *   bundle             bundles of those policies that load, signed with
 *                      the fuzz key (fuzz_common.h), created at a fixed time
 *   ledger, receipt    ledgers written with the fuzz key in several shapes
 *                      (one session; rotated segments; a torn tail; a
 *                      recovered crash; two sessions), and receipts of
 *                      their records
 *
 * Usage: fuzz_seeds OUTDIR   (writes OUTDIR/TARGET/NAME files)
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"

static const char *outdir;
static size_t written;

/* ---- small utilities ----------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        FUZZ_REQUIRE(b->p != NULL, "realloc");
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            FUZZ_REQUIRE(mkdir(tmp, 0755) == 0 || errno == EEXIST, tmp);
            *p = '/';
        }
    }
    FUZZ_REQUIRE(mkdir(tmp, 0755) == 0 || errno == EEXIST, tmp);
}

static void seed(const char *target, const char *name, const void *d,
    size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", outdir, target);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    FUZZ_REQUIRE(f != NULL, path);
    FUZZ_REQUIRE(n == 0 || fwrite(d, 1, n, f) == n, "write");
    FUZZ_REQUIRE(fclose(f) == 0, "close");
    written++;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    buf b = { NULL, 0, 0 };
    char chunk[65536];
    size_t k;
    if (f == NULL)
        return NULL;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        put(&b, chunk, k);
    (void)fclose(f);   /* read only: nothing to lose */
    if (b.p == NULL)
        put(&b, "", 0);
    *len = b.n;
    return b.p;
}

static const char *data_dir(void)
{
    static char d[4096];
    const char *e = getenv("SLUICE_DATA");
    struct stat st;
    if (e != NULL && e[0] != '\0')
        snprintf(d, sizeof d, "%s", e);
    else
        fuzz_path(d, sizeof d, "../shared/data");
    return stat(d, &st) == 0 && S_ISDIR(st.st_mode) ? d : NULL;
}

/* ---- texts ------------------------------------------------------------- */

typedef struct texts {
    char **t;
    size_t *n;
    size_t count, cap;
} texts;

static void add_text(texts *x, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (n > 1500)
        n = 1500;
    if (x->count == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 256;
        x->t = realloc(x->t, x->cap * sizeof *x->t);
        x->n = realloc(x->n, x->cap * sizeof *x->n);
        FUZZ_REQUIRE(x->t != NULL && x->n != NULL, "realloc");
    }
    x->t[x->count] = malloc(n);
    FUZZ_REQUIRE(x->t[x->count] != NULL, "malloc");
    memcpy(x->t[x->count], s, n);
    x->n[x->count++] = n;
}

/* Append the UTF-8 of cp. */
static void put_cp(buf *b, uint32_t cp)
{
    unsigned char u[4];
    size_t k;
    if (cp < 0x80) { u[0] = (unsigned char)cp; k = 1; }
    else if (cp < 0x800) { u[0] = (unsigned char)(0xC0 | cp >> 6); k = 2; }
    else if (cp < 0x10000) { u[0] = (unsigned char)(0xE0 | cp >> 12); k = 3; }
    else { u[0] = (unsigned char)(0xF0 | cp >> 18); k = 4; }
    for (size_t i = 1; i < k; i++)
        u[i] = (unsigned char)(0x80 | ((cp >> (6 * (k - 1 - i))) & 0x3F));
    put(b, u, k);
}

/* A double-quoted YAML or JSON string starting after its quote: the
   common escapes undone, up to the closing quote. */
static void unquote(buf *b, const char *s, const char *end)
{
    while (s < end && *s != '"') {
        if (*s == '\\' && s + 1 < end) {
            char c = s[1];
            s += 2;
            if (c == 'n') put(b, "\n", 1);
            else if (c == 't') put(b, "\t", 1);
            else if (c == 'u' || c == 'x' || c == 'U') {
                int w = c == 'u' ? 4 : c == 'x' ? 2 : 8;
                uint32_t cp = 0;
                for (int i = 0; i < w && s < end; i++, s++) {
                    char h = *s;
                    cp = cp * 16 + (uint32_t)(h >= 'a' ? h - 'a' + 10 :
                        h >= 'A' ? h - 'A' + 10 : h - '0');
                }
                if (cp <= 0x10FFFF)
                    put_cp(b, cp);
            } else {
                put(b, &c, 1);
            }
        } else {
            put(b, s++, 1);
        }
    }
}

/* Every string after `key` (e.g. "\"text\": \"" or "input: \"") in a file. */
static void add_quoted(texts *x, const char *path, const char *key)
{
    size_t n = 0;
    char *d = read_all(path, &n), *p;
    if (d == NULL)
        return;
    p = d;
    while ((p = strstr(p, key)) != NULL) {
        buf b = { NULL, 0, 0 };
        p += strlen(key);
        unquote(&b, p, d + n);
        if (b.p != NULL)
            add_text(x, b.p, b.n);
        free(b.p);
    }
    free(d);
}

/* Every `step`-th non-empty line of a shared data file, up to `max`. */
static void add_lines(texts *x, const char *file, size_t step, size_t max)
{
    const char *dd = data_dir();
    char path[4096];
    size_t n = 0, line = 0, taken = 0;
    if (dd == NULL)
        return;
    snprintf(path, sizeof path, "%s/%s", dd, file);
    char *d = read_all(path, &n), *p;
    if (d == NULL)
        return;
    p = d;
    while (p < d + n && taken < max) {
        char *e = memchr(p, '\n', (size_t)(d + n - p));
        size_t len = e ? (size_t)(e - p) : (size_t)(d + n - p);
        if (line++ % step == 0 && len > 0) {
            add_text(x, p, len > 400 ? 400 : len);
            taken++;
        }
        p = e ? e + 1 : d + n;
    }
    free(d);
}

/* Evasions and hostile bytes, NULs included (hence the lengths). */
#define E(s) { s, sizeof s - 1 }
static const struct { const char *s; size_t n; } evasions[] = {
    E("f.u.c.k you"), E("ｆｕｃｋ"), E("Ⓕⓤⓒⓚ"), E("fu\xD1\x81k"), E("sh1t"),
    E("shiiiiit"), E("a$$hole"), E("傻\xE2\x80\x8B逼"), E("傻*逼"), E("傻 逼"),
    E("操你妈"), E("他媽的"), E("11010519491231002X"), E("138 1234 5678"),
    E("4111-1111-1111-1111"), E("me@example.com"), E("炸药的配方"),
    E("kill them all"), E("Scunthorpe shiitake"),
    E("\xE2\x80\xAE" "kcuf\xE2\x80\xAC"), E("f\xCC\x81u\xCC\x82" "ck"),
    E("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"),
    E("s\xEF\xB8\x8Fh\xEF\xB8\x8Fi\xEF\xB8\x8Ft"), E("\xC0\xAF\xE0\x80\xAF"),
    E("\xED\xA0\x80\xED\xB0\x80"), E("\xF4\x90\x80\x80"), E("\xE4\xB8"),
    E("a\0b"), E("deepfake 换脸 bomb recipe 炸药配方"), E("fuck\xE2\x80\x8D you"),
    E("shit\xEF\xB8\x8F!"), E("\xE2\x80\xAE" "fuck\xE2\x80\xAC"),
    E("fu\xCC\x81" "ck\xCC\x81 \xCC\x82"), E("a\xC2\xAD" "ss\xC2\xAD"),
};
#undef E

static void gather_texts(texts *x)
{
    char path[4096];
    DIR *d;
    struct dirent *e;
    add_quoted(x, fuzz_path(path, sizeof path, "examples/outputs.jsonl"),
        "\"text\": \"");
    const char *pol[] = { "policies/baseline/tests",
        "policies/cn-genai-template/tests" };
    for (size_t i = 0; i < 2; i++) {
        if ((d = opendir(fuzz_path(path, sizeof path, pol[i]))) == NULL)
            continue;
        while ((e = readdir(d)) != NULL) {
            char f[8192];
            if (e->d_name[0] == '.')
                continue;
            snprintf(f, sizeof f, "%s/%s", path, e->d_name);
            add_quoted(x, f, "input: \"");
        }
        (void)closedir(d);   /* read only: nothing to lose */
    }
    for (size_t i = 0; i < sizeof evasions / sizeof evasions[0]; i++)
        add_text(x, evasions[i].s, evasions[i].n);
    add_lines(x, "cold/test.csv", 301, 20);
    add_lines(x, "chineseharm-bench/README.md", 7, 10);
    add_lines(x, "cmrc2018/cmrc2018_contexts.txt", 503, 10);
    add_lines(x, "drcd/DRCD_dev_contexts.txt", 409, 10);
    add_lines(x, "gutenberg/war-and-peace-2600-0.txt", 1901, 10);
    add_lines(x, "ldnoobw/zh.txt", 11, 20);
    add_lines(x, "ldnoobw/en.txt", 11, 20);
}

static void text_seeds(const texts *x)
{
    static const unsigned char flags[] = { 0x1F, 0x7F, 0x5F, 0x3F, 0x01,
        0x13, 0x0B };
    char name[64];
    buf b = { NULL, 0, 0 };
    for (size_t i = 0; i < x->count; i++) {
        unsigned char h[4];
        b.n = 0;
        h[0] = flags[i % sizeof flags];
        h[1] = (unsigned char)i;
        put(&b, h, 2);
        put(&b, x->t[i], x->n[i]);
        snprintf(name, sizeof name, "text-%04zu", i);
        seed("normalize", name, b.p, b.n);
        b.n = 0;
        h[0] = (unsigned char)(i % 4);
        h[1] = (unsigned char)(i * 37);
        h[2] = (unsigned char)(i >> 8);
        h[3] = (unsigned char)i;
        put(&b, h, 4);
        put(&b, x->t[i], x->n[i]);
        seed("stream", name, b.p, b.n);
    }
    free(b.p);
}

/* ---- policies and bundles ---------------------------------------------- */

/* The lines of `d` not made of a comment alone, or the first `max` lines
   (0: all). */
static void put_lines(buf *b, const char *d, size_t n, int drop_comments,
    size_t max)
{
    const char *p = d;
    size_t lines = 0;
    while (p < d + n && (max == 0 || lines < max)) {
        const char *e = memchr(p, '\n', (size_t)(d + n - p));
        size_t len = e ? (size_t)(e - p + 1) : (size_t)(d + n - p);
        const char *q = p;
        while (q < p + len && (*q == ' ' || *q == '\t'))
            q++;
        if (!drop_comments || q == p + len || *q != '#') {
            put(b, p, len);
            lines++;
        }
        p += len;
    }
}

static void add_list_files(buf *b, const char *pdir, const char *rel)
{
    char path[4096];
    DIR *d;
    struct dirent *e;
    snprintf(path, sizeof path, "%s/%s", pdir, rel);
    if ((d = opendir(path)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char sub[4096], full[8192];
        struct stat st;
        size_t n = 0;
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s/%s", rel, e->d_name);
        snprintf(full, sizeof full, "%s/%s", pdir, sub);
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            add_list_files(b, pdir, sub);
            continue;
        }
        char *d2 = read_all(full, &n);
        if (d2 == NULL)
            continue;
        puts_(b, "\n#@@ ");
        puts_(b, sub);
        puts_(b, "\n");
        put_lines(b, d2, n, 0, 40);
        free(d2);
    }
    (void)closedir(d);   /* read only: nothing to lose */
}

typedef struct pdirs {
    char **dirs;
    size_t n, cap;
} pdirs;

/* Every directory holding a policy.yaml under `rel`, to depth 3. */
static void find_policies(pdirs *o, const char *path, int depth)
{
    DIR *d;
    struct dirent *e;
    char p[4096];
    snprintf(p, sizeof p, "%s/policy.yaml", path);
    if (access(p, R_OK) == 0) {
        if (o->n == o->cap) {
            o->cap = o->cap ? o->cap * 2 : 64;
            o->dirs = realloc(o->dirs, o->cap * sizeof *o->dirs);
            FUZZ_REQUIRE(o->dirs != NULL, "realloc");
        }
        o->dirs[o->n] = strdup(path);
        FUZZ_REQUIRE(o->dirs[o->n] != NULL, "strdup");
        o->n++;
    }
    if (depth == 0 || (d = opendir(path)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.' || strcmp(e->d_name, "lists") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            find_policies(o, p, depth - 1);
    }
    (void)closedir(d);   /* read only: nothing to lose */
}

static void rm_tree(const char *path);

/* Write a policy seed (fuzz_policy's format) out as a directory. */
static int materialize(const char *dir, const char *d, size_t n)
{
    const char *p = d, *end = d + n;
    char rel[300] = "policy.yaml";
    while (p <= end) {
        const char *m = memmem(p, (size_t)(end - p), "\n#@@ ", 5);
        const char *stop = m ? m + 1 : end;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        mkdirs(path);
        *slash = '/';
        FILE *f = fopen(path, "wb");
        if (f == NULL)
            return -1;
        if (stop > p && fwrite(p, 1, (size_t)(stop - p), f) !=
            (size_t)(stop - p)) {
            (void)fclose(f);   /* failing already */
            return -1;
        }
        if (fclose(f) != 0)
            return -1;
        if (m == NULL)
            return 0;
        const char *nl = memchr(m + 5, '\n', (size_t)(end - m - 5));
        size_t rl = nl ? (size_t)(nl - m - 5) : (size_t)(end - m - 5);
        if (rl == 0 || rl >= sizeof rel || memchr(m + 5, '.', 1) != NULL)
            return -1;
        memcpy(rel, m + 5, rl);
        rel[rl] = '\0';
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* A bundle of the policy seed d[0..n), if it builds and is small. */
static void bundle_seed(const char *name, const char *d, size_t n,
    const sluice_key *signer)
{
    char dir[] = "/tmp/sluice-fuzz-bundle-XXXXXX";
    sluice_bundle_options bo = SLUICE_BUNDLE_OPTIONS_INIT;
    char *bd = NULL;
    size_t bl = 0;
    FUZZ_REQUIRE(mkdtemp(dir) != NULL, "mkdtemp");
    bo.signer = signer;
    bo.created = 1700000000;
    if (materialize(dir, d, n) == 0 &&
        sluice_bundle_build(&bd, &bl, dir, &bo, NULL) == 0) {
        if (bl <= 16384)
            seed("bundle", name, bd, bl);
        free(bd);
    }
    rm_tree(dir);
}

static void policy_seeds(void)
{
    pdirs pd = { NULL, 0, 0 };
    char path[4096], name[64];
    sluice_key *signer = fuzz_key(1);
    find_policies(&pd, fuzz_path(path, sizeof path, "policies"), 2);
    find_policies(&pd, fuzz_path(path, sizeof path, "tests"), 4);
    for (size_t i = 0; i < pd.n; i++) {
        size_t n = 0;
        buf b = { NULL, 0, 0 };
        snprintf(path, sizeof path, "%s/policy.yaml", pd.dirs[i]);
        char *y = read_all(path, &n);
        if (y != NULL) {
            put_lines(&b, y, n, 1, 0);
            add_list_files(&b, pd.dirs[i], "lists");
            snprintf(name, sizeof name, "policy-%03zu", i);
            seed("policy", name, b.p ? b.p : "", b.n);
            snprintf(name, sizeof name, "bundle-%03zu", i);
            bundle_seed(name, b.p ? b.p : "", b.n, signer);
            free(y);
        }
        free(b.p);
        free(pd.dirs[i]);
    }
    free(pd.dirs);
    sluice_key_free(signer);
}

/* ---- ledgers and receipts ---------------------------------------------- */

static void rm_tree(const char *path)
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
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        rm_tree(p);
    }
    (void)closedir(d);   /* read only: nothing to lose */
    (void)rmdir(path);
}

/* The writer's segments (not side files), concatenated in name order. */
static void segments(const char *ldir, buf *out)
{
    char w[4096];
    struct dirent **names = NULL;
    snprintf(w, sizeof w, "%s/default", ldir);
    int k = scandir(w, &names, NULL, alphasort);
    for (int i = 0; i < k; i++) {
        size_t nl = strlen(names[i]->d_name), n = 0;
        if (nl > 4 && strcmp(names[i]->d_name + nl - 4, ".seg") == 0) {
            char p[8192];
            snprintf(p, sizeof p, "%s/%s", w, names[i]->d_name);
            char *d = read_all(p, &n);
            if (d != NULL)
                put(out, d, n);
            free(d);
        }
        free(names[i]);
    }
    free(names);
}

static sluice_ledger *open_ledger(const char *ldir, sluice_key *k,
    uint64_t seg_bytes)
{
    sluice_ledger_options o = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_ledger *l = NULL;
    sluice_error err;
    o.dir = ldir;
    o.signer = k;
    o.no_thread = 1;
    o.checkpoint_records = 3;
    o.segment_bytes = seg_bytes;
    if (sluice_ledger_open(&l, &o, &err) != 0) {
        fprintf(stderr, "ledger: %s\n", err.message);
        exit(2);
    }
    return l;
}

static void checks(sluice_engine *e, size_t n)
{
    static const char *const t[] = { "hello", "fuck you", "call 13812345678",
        "我的身份证号是11010519491231002X", "kill them all" };
    sluice_meta m = { "req-1", "tenant-a", "user-9", "model-x" };
    for (size_t i = 0; i < n; i++) {
        sluice_verdict *v = NULL;
        if (sluice_check(e, t[i % 5], strlen(t[i % 5]), i % 2 ? &m : NULL, &v,
                NULL) == 0)
            sluice_verdict_free(v);
    }
}

/* Write ledger seeds (flags byte + segments) and receipts for `ldir`. */
static void emit_ledger(const char *ldir, const char *tag, int receipts)
{
    static const unsigned char fl[] = { 0x00, 0x01, 0x02, 0x08, 0x0B };
    buf segs = { NULL, 0, 0 }, b = { NULL, 0, 0 };
    char name[64];
    segments(ldir, &segs);
    for (size_t i = 0; i < sizeof fl; i++) {
        b.n = 0;
        put(&b, &fl[i], 1);
        put(&b, segs.p ? segs.p : "", segs.n);
        snprintf(name, sizeof name, "ledger-%s-%02x", tag, fl[i]);
        seed("ledger", name, b.p, b.n);
    }
    for (uint64_t q = 1; receipts && q <= 12; q++) {
        char *r = NULL;
        size_t rl = 0;
        if (sluice_ledger_prove(ldir, NULL, q, &r, &rl, NULL) != 0)
            break;
        snprintf(name, sizeof name, "receipt-%s-%02llu", tag,
            (unsigned long long)q);
        seed("receipt", name, r, rl);
        free(r);
    }
    free(segs.p);
    free(b.p);
}

static void ledger_seeds(void)
{
    char ldir[4096], cmd_dir[4096];
    sluice_key *k = fuzz_key(1);
    sluice_policy *p = fuzz_policy_path("policies/baseline");
    sluice_engine *e = fuzz_engine(p);
    snprintf(cmd_dir, sizeof cmd_dir, "/tmp/sluice-fuzz-seeds-XXXXXX");
    FUZZ_REQUIRE(mkdtemp(cmd_dir) != NULL, "mkdtemp");
    static const struct { const char *tag; uint64_t seg; size_t n; int tear;
        int reopen; } shapes[] = {
        { "one", 0, 5, 0, 0 },
        { "rotated", 1200, 9, 0, 0 },
        { "torn", 0, 6, 1, 0 },
        { "recovered", 0, 6, 2, 0 },
        { "sessions", 0, 4, 0, 1 },
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        snprintf(ldir, sizeof ldir, "%s/%s", cmd_dir, shapes[s].tag);
        sluice_ledger *l = open_ledger(ldir, k, shapes[s].seg);
        FUZZ_REQUIRE(sluice_engine_set_ledger(e, l, SLUICE_FAIL_CLOSED) == 0,
            "set ledger");
        checks(e, shapes[s].n);
        FUZZ_REQUIRE(sluice_engine_set_ledger(e, NULL, SLUICE_FAIL_CLOSED)
            == 0, "detach");
        if (shapes[s].reopen) {
            /* a second session in the same chain */
            FUZZ_REQUIRE(sluice_ledger_close(l, NULL) == 0, "close");
            sluice_ledger_free(l);
            l = open_ledger(ldir, k, 0);
            FUZZ_REQUIRE(sluice_engine_set_ledger(e, l, SLUICE_FAIL_OPEN)
                == 0, "set ledger");
            checks(e, 2);
            FUZZ_REQUIRE(sluice_engine_set_ledger(e, NULL,
                SLUICE_FAIL_CLOSED) == 0, "detach");
        }
        FUZZ_REQUIRE(sluice_ledger_close(l, NULL) == 0, "close");
        sluice_ledger_free(l);
        if (shapes[s].tear) {
            /* cut the last segment 11 bytes short: a torn final frame */
            buf segs = { NULL, 0, 0 };
            char seg[8192];
            segments(ldir, &segs);
            snprintf(seg, sizeof seg, "%s/default/%020d.seg", ldir, 1);
            FUZZ_REQUIRE(segs.n > 40 && truncate(seg, (off_t)segs.n - 11)
                == 0, "truncate");
            free(segs.p);
            if (shapes[s].tear == 2) {
                l = open_ledger(ldir, k, 0);     /* recovery */
                FUZZ_REQUIRE(sluice_ledger_close(l, NULL) == 0, "close");
                sluice_ledger_free(l);
            }
        }
        emit_ledger(ldir, shapes[s].tag, 1);
    }
    rm_tree(cmd_dir);
    sluice_engine_free(e);
    sluice_policy_unref(p);
    sluice_key_free(k);
}

int main(int argc, char **argv)
{
    texts x = { NULL, NULL, 0, 0 };
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    mkdirs(outdir);
    gather_texts(&x);
    text_seeds(&x);
    policy_seeds();
    ledger_seeds();
    for (size_t i = 0; i < x.count; i++)
        free(x.t[i]);
    free(x.t);
    free(x.n);
    printf("fuzz_seeds: %zu seeds in %s (%zu texts; shared data %s)\n",
        written, outdir, x.count, data_dir() ? "used" : "not found");
    return 0;
}
