/*
 * fuzz_ledger.c - libFuzzer target for the ledger's readers on damaged
 * ledgers: sluice_ledger_foreach, sluice_ledger_verify,
 * sluice_ledger_checkpoint, sluice_ledger_prove, and recovery in
 * sluice_ledger_open (ledger/; format in docs/ledger.md, "On disk").
 *
 * Input: one flags byte, then the segment files of writer "default",
 * back to back (each begins with the magic "SLUICELD"; each is named by
 * the first sequence number in its header). Seeds are ledgers written
 * with the fuzz key of fuzz_common.h (fuzz_seeds.c). Flags:
 *
 *   0x01  re-seal every frame's check bytes after the mutation, so that
 *         the record and checkpoint decoders, not the frame check, see it
 *   0x02  verify with allow_tail      0x04  verify with allow_pruned
 *   0x08  also open the writer (recovery), close it, and verify again
 *
 * Invariants:
 *   - every call returns 0 or a negative SLUICE_E* code, reports are
 *     NUL-terminated, records reach the callback with non-NULL strings
 *     and a JSON form;
 *   - a ledger that verifies (ok) is readable by foreach, which sees as
 *     many records as verify covered (plus the tail when allowed), and
 *     every covered record has a receipt that sluice_receipt_verify
 *     accepts for that writer and seq;
 *   - recovery: if the ledger verified with allow_tail before, then after
 *     sluice_ledger_open and close it verifies strictly. If open refuses,
 *     nothing may have been cut (the segment bytes are unchanged).
 *
 * Files live in a per-process directory on /dev/shm (or TMPDIR), wiped
 * before every run.
 */
#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"

#define MAGIC "SLUICELD"
#define HDR 20

static char dir[256], wdir[300];
static sluice_key *signer, *verifier;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && access("/dev/shm",
        W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") :
        "/tmp");
    (void)argc;
    (void)argv;
    FUZZ_REQUIRE(sodium_init() >= 0, "sodium");
    snprintf(dir, sizeof dir, "%s/sluice-fuzz-ledger-%ld", base,
        (long)getpid());
    snprintf(wdir, sizeof wdir, "%s/default", dir);
    FUZZ_REQUIRE(mkdir(dir, 0700) == 0 || access(dir, W_OK) == 0, dir);
    signer = fuzz_key(1);
    verifier = fuzz_key(0);
    return 0;
}

/* Remove every file of the writer directory (it holds no subdirectory). */
static void wipe(void)
{
    DIR *d = opendir(wdir);
    struct dirent *e;
    char p[600];
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", wdir, e->d_name);
        (void)unlink(p);
    }
    (void)closedir(d);   /* read only: nothing to lose */
}

/* Recompute the check bytes of every frame that fits (docs/ledger.md,
   "Frames"), from the header of each segment on. */
static void reseal(uint8_t *s, size_t n)
{
    size_t off = HDR;
    while (off + 13 <= n) {
        uint32_t l = (uint32_t)s[off] | (uint32_t)s[off + 1] << 8 |
            (uint32_t)s[off + 2] << 16 | (uint32_t)s[off + 3] << 24;
        unsigned char h[32];
        if (l > n - off - 13)
            break;
        FUZZ_REQUIRE(crypto_hash_sha256(h, s + off + 4, 1 + (size_t)l) == 0,
            "sha256");
        memcpy(s + off + 5 + l, h, 8);
        off += 13 + (size_t)l;
    }
}

static void write_file(const char *path, const uint8_t *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    FUZZ_REQUIRE(f != NULL, path);
    FUZZ_REQUIRE(n == 0 || fwrite(d, 1, n, f) == n, "write");
    FUZZ_REQUIRE(fclose(f) == 0, "close");
}

/* Lay the input's segments out as files; returns how many. */
static size_t lay_out(uint8_t *d, size_t n, int seal)
{
    size_t count = 0, pos = 0;
    FUZZ_REQUIRE(mkdir(wdir, 0700) == 0 || access(wdir, W_OK) == 0, wdir);
    wipe();
    while (pos < n) {
        uint8_t *next = memmem(d + pos + 1, n - pos - 1, MAGIC, 8);
        size_t end = next ? (size_t)(next - d) : n;
        uint64_t first = (uint64_t)count + 1;
        char path[700];
        if (end - pos >= HDR) {
            first = 0;
            for (int i = 7; i >= 0; i--)
                first = first << 8 | d[pos + 12 + (size_t)i];
        }
        if (seal)
            reseal(d + pos, end - pos);
        snprintf(path, sizeof path, "%s/%020llu.seg", wdir,
            (unsigned long long)first);
        write_file(path, d + pos, end - pos);
        count++;
        pos = end;
    }
    return count;
}

typedef struct seen {
    uint64_t records;
    uint64_t last_seq;
} seen;

static int on_record(const sluice_record *r, void *payload)
{
    seen *s = payload;
    char *js = NULL;
    size_t jl = 0;
    FUZZ_CHECK(r->writer != NULL && r->reason != NULL &&
        r->policy_id != NULL && r->policy_hash != NULL &&
        r->request_id != NULL && r->tenant != NULL && r->subject != NULL &&
        r->model != NULL && r->library_version != NULL && r->host != NULL &&
        r->segment != NULL && r->saved_as != NULL && r->gap_error != NULL,
        "a NULL string in record %llu", (unsigned long long)r->seq);
    for (size_t i = 0; i < r->nrules; i++)
        FUZZ_CHECK(r->rules[i] != NULL, "rule %zu", i);
    for (size_t i = 0; i < r->ncategories; i++)
        FUZZ_CHECK(r->categories[i] != NULL, "category %zu", i);
    FUZZ_CHECK(sluice_record_json(r, &js, &jl) == 0 && js != NULL &&
        strlen(js) == jl, "record json");
    free(js);
    s->records++;
    s->last_seq = r->seq;
    return 0;
}

static void check_report(const sluice_verify_report *rep)
{
    FUZZ_CHECK(rep->ok == 0 || rep->ok == 1, "ok %d", rep->ok);
    FUZZ_CHECK(memchr(rep->reason, '\0', sizeof rep->reason) &&
        memchr(rep->writer, '\0', sizeof rep->writer) &&
        memchr(rep->file, '\0', sizeof rep->file) &&
        memchr(rep->warning, '\0', sizeof rep->warning), "unterminated");
    FUZZ_CHECK(rep->ok || rep->reason[0] != '\0', "failure without reason");
}

static int verify(int tail, int pruned, sluice_verify_report *rep)
{
    sluice_verify_options o = SLUICE_VERIFY_OPTIONS_INIT;
    sluice_error err;
    o.key = verifier;
    o.allow_tail = tail;
    o.allow_pruned = pruned;
    memset(rep, 0, sizeof *rep);
    int rc = sluice_ledger_verify(dir, &o, rep, &err);
    FUZZ_CHECK(rc == 0 || (rc < 0 && err.code == rc), "verify rc %d", rc);
    if (rc == 0)
        check_report(rep);
    return rc;
}

/* A ledger that verified: read it, prove its records, check receipts. */
static void check_verified(const sluice_verify_report *rep, int tail)
{
    seen s = { 0, 0 };
    sluice_error err;
    int rc = sluice_ledger_foreach(dir, NULL, on_record, &s, &err);
    FUZZ_CHECK(rc == 0, "verified, but foreach fails: %d %s", rc,
        err.message);
    FUZZ_CHECK(s.records == rep->records + (tail ? rep->tail_records : 0),
        "foreach saw %llu records, verify %llu + %llu",
        (unsigned long long)s.records, (unsigned long long)rep->records,
        (unsigned long long)rep->tail_records);
    char *cp = NULL;
    size_t cl = 0;
    rc = sluice_ledger_checkpoint(dir, NULL, &cp, &cl, &err);
    FUZZ_CHECK(rc == 0 || rep->records == 0, "checkpoint: %d %s", rc,
        err.message);
    free(cp);
    uint64_t first = s.last_seq >= s.records ? s.last_seq - s.records + 1 : 1;
    for (uint64_t q = first; q < first + rep->records && q < first + 4; q++) {
        char *rj = NULL;
        size_t rl = 0;
        sluice_verify_report rr;
        rc = sluice_ledger_prove(dir, NULL, q, &rj, &rl, &err);
        FUZZ_CHECK(rc == 0, "verified record %llu has no receipt: %s",
            (unsigned long long)q, err.message);
        FUZZ_CHECK(sluice_receipt_verify(rj, rl, verifier, &rr, &err) == 0 &&
            rr.ok == 1 && rr.seq == q && strcmp(rr.writer, "default") == 0,
            "receipt of %llu does not verify: %s", (unsigned long long)q,
            rr.reason);
        free(rj);
    }
}

/* Bytes of every segment file, concatenated in name order, for "nothing
   was cut". */
static size_t snapshot(uint8_t *out, size_t cap)
{
    struct dirent **names = NULL;
    int k = scandir(wdir, &names, NULL, alphasort);
    size_t len = 0;
    for (int i = 0; i < k; i++) {
        const char *nm = names[i]->d_name;
        size_t nl = strlen(nm);
        if (nl > 4 && strcmp(nm + nl - 4, ".seg") == 0) {
            char p[700];
            snprintf(p, sizeof p, "%s/%s", wdir, nm);
            FILE *f = fopen(p, "rb");
            if (f != NULL) {
                len += fread(out + len, 1, cap - len, f);
                (void)fclose(f);   /* read only: nothing to lose */
            }
        }
        free(names[i]);
    }
    free(names);
    return len;
}

static void recover(int verified_with_tail)
{
    sluice_ledger_options o = SLUICE_LEDGER_OPTIONS_INIT;
    sluice_ledger *l = NULL;
    sluice_error err;
    sluice_verify_report rep;
    static uint8_t before[1 << 16], after[1 << 16];
    size_t nb = snapshot(before, sizeof before);
    o.dir = dir;
    o.signer = signer;
    o.no_thread = 1;
    int rc = sluice_ledger_open(&l, &o, &err);
    if (rc != 0) {
        FUZZ_CHECK(l == NULL && rc < 0 && err.code == rc, "open: %d", rc);
        FUZZ_CHECK(!verified_with_tail, "a ledger that verifies (allow_tail) "
            "does not open: %s", err.message);
        size_t na = snapshot(after, sizeof after);
        FUZZ_CHECK(na == nb && memcmp(before, after, nb) == 0,
            "a refused open changed the segments");
        return;
    }
    rc = sluice_ledger_close(l, &err);
    sluice_ledger_free(l);
    FUZZ_CHECK(rc == 0, "close: %s", err.message);
    if (verify(0, 0, &rep) == 0 && verified_with_tail)
        FUZZ_CHECK(rep.ok, "recovered ledger does not verify: %s at %llu",
            rep.reason, (unsigned long long)rep.seq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sluice_verify_report rep, rtail;
    seen s = { 0, 0 };
    unsigned flags;
    uint8_t *copy;
    if (size < 1)
        return 0;
    flags = data[0];
    copy = malloc(size);
    FUZZ_REQUIRE(copy != NULL, "malloc");
    memcpy(copy, data + 1, size - 1);
    lay_out(copy, size - 1, flags & 1);

    int rc = sluice_ledger_foreach(dir, NULL, on_record, &s, NULL);
    FUZZ_CHECK(rc <= 0, "foreach returned %d", rc);
    if (verify((flags >> 1) & 1, (flags >> 2) & 1, &rep) == 0 && rep.ok)
        check_verified(&rep, (flags >> 1) & 1);
    if (flags & 8) {
        int vt = verify(1, 0, &rtail) == 0 && rtail.ok;
        recover(vt);
    }
    free(copy);
    return 0;
}
