/*
 * fuzz_receipt.c - libFuzzer target for the receipt verifier
 * (sluice_receipt_verify, ledger/receipt.c; format in docs/ledger.md,
 * "Receipts").
 *
 * Input: a receipt as `sluice ledger prove` writes it (seeds: receipts of
 * ledgers written with the fuzz key, fuzz_seeds.c). Each run verifies it
 * with the fuzz verifier key, then with the signer key (which must give
 * the same answer: a signer key verifies through its public half), and
 * checks:
 *
 *   - the call returns 0 (the check ran) or a negative code with err;
 *   - the report is NUL-terminated, and a refusal has a reason;
 *   - ok == 1 only for a receipt that is byte for byte canonical: the
 *     JSON's "format" is sluice-receipt-v1 and its writer and seq are the
 *     report's;
 *   - the verdict does not depend on bytes after the input (the input is
 *     copied into an exact-size buffer, so ASan sees any overread).
 */
#include "fuzz_common.h"

static sluice_key *verifier, *signer;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verifier = fuzz_key(0);
    signer = fuzz_key(1);
    return 0;
}

static int run(const char *r, size_t n, const sluice_key *k,
    sluice_verify_report *rep)
{
    sluice_error err;
    memset(rep, 0, sizeof *rep);
    memset(&err, 0, sizeof err);
    int rc = sluice_receipt_verify(r, n, k, rep, &err);
    if (rc != 0) {
        FUZZ_CHECK(rc < 0 && err.code == rc, "rc %d, err.code %d", rc,
            err.code);
        return rc;
    }
    FUZZ_CHECK(rep->ok == 0 || rep->ok == 1, "ok %d", rep->ok);
    FUZZ_CHECK(memchr(rep->reason, '\0', sizeof rep->reason) &&
        memchr(rep->writer, '\0', sizeof rep->writer), "unterminated");
    FUZZ_CHECK(rep->ok || rep->reason[0] != '\0', "refused without reason");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sluice_verify_report a, b;
    char *r = malloc(size ? size : 1);
    FUZZ_REQUIRE(r != NULL, "malloc");
    if (size > 0)
        memcpy(r, data, size);
    int ra = run(r, size, verifier, &a);
    int rb = run(r, size, signer, &b);
    FUZZ_CHECK(ra == rb && (ra != 0 || a.ok == b.ok), "verifier and signer "
        "keys disagree: %d/%d, ok %d/%d", ra, rb, a.ok, b.ok);
    if (ra == 0 && a.ok) {
        char want[128];
        snprintf(want, sizeof want, "\"seq\": %llu,",
            (unsigned long long)a.seq);
        static const char fmt[] = "\"format\": \"sluice-receipt-v1\",";
        FUZZ_CHECK(memmem(r, size, fmt, sizeof fmt - 1) != NULL,
            "accepted without the format line");
        FUZZ_CHECK(memmem(r, size, want, strlen(want)) != NULL,
            "accepted, but seq %llu is not the receipt's",
            (unsigned long long)a.seq);
        snprintf(want, sizeof want, "\"writer\": \"%s\",", a.writer);
        FUZZ_CHECK(memmem(r, size, want, strlen(want)) != NULL,
            "accepted, but writer '%s' is not the receipt's", a.writer);
    }
    free(r);
    return 0;
}
