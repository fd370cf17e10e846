/*
 * cmd_receipt.c - `sluice receipt verify`: check a receipt written by
 * `sluice ledger prove` with the public key alone (no ledger needed).
 * Exit status: 0 it verifies, 1 it does not, 2 usage or input error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

static void receipt_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice receipt verify FILE --key PUB\n"
        "\n"
        "Check a receipt ('sluice ledger prove'): the record's hash, the\n"
        "Ed25519 signature on the checkpoint, and the Merkle inclusion proof\n"
        "from the record to the checkpoint's root; and that the file is\n"
        "exactly as it was written (any changed byte fails). On success,\n"
        "print what the record says. FILE '-' reads standard input.\n"
        "\n"
        "  -k, --key PUB   public key of the ledger (PREFIX.pub)\n"
        "  -h, --help      this help\n"
        "\n"
        "example:\n"
        "  sluice receipt verify receipt.json --key ledger.pub\n");
}

/* What the (verified) receipt's record says, one line. */
static void print_decoded(const char *text, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(text, len);
    const cJSON *d = j ? cJSON_GetObjectItemCaseSensitive(j, "decoded") : NULL;
    const cJSON *t = d ? cJSON_GetObjectItemCaseSensitive(d, "time") : NULL;
    const cJSON *ty = d ? cJSON_GetObjectItemCaseSensitive(d, "type") : NULL;
    const cJSON *a = d ? cJSON_GetObjectItemCaseSensitive(d, "action") : NULL;
    const cJSON *p = d ? cJSON_GetObjectItemCaseSensitive(d, "policy") : NULL;
    const cJSON *pid = p ? cJSON_GetObjectItemCaseSensitive(p, "id") : NULL;
    const cJSON *pv = p ? cJSON_GetObjectItemCaseSensitive(p, "version") :
        NULL;
    if (cJSON_IsString(t))
        printf("  time: %s\n", t->valuestring);
    if (cJSON_IsString(ty))
        printf("  type: %s\n", ty->valuestring);
    if (cJSON_IsString(a))
        printf("  action: %s\n", a->valuestring);
    if (cJSON_IsString(pid) && cJSON_IsNumber(pv))
        printf("  policy: %s version %.0f\n", pid->valuestring,
            pv->valuedouble);
    cJSON_Delete(j);
}

static int receipt_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *keypath = NULL, *path;
    sluice_key *key = NULL;
    sluice_verify_report rep;
    sluice_error err;
    char *text = NULL;
    size_t len = 0;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': keypath = optarg; break;
        case 'h': receipt_usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Try 'sluice receipt verify --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_fail("receipt verify: one receipt file is required");
    if (keypath == NULL)
        return cli_fail("receipt verify: a public key is required (--key "
            "PUB)");
    path = argv[optind];
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return cli_fail("%s: %s", path, strerror(errno));
    rc = cli_read_all(f, (size_t)64 << 20, &text, &len);
    if (f != stdin)
        (void)fclose(f);
    if (rc != 0)
        return cli_fail("%s: %s", path, strerror(errno));
    memset(&err, 0, sizeof err);
    if (sluice_key_load(&key, keypath, &err) != 0) {
        rc = cli_fail_err(&err);
    } else if (sluice_receipt_verify(text, len, key, &rep, &err) != 0) {
        rc = cli_fail_err(&err);
    } else if (!rep.ok) {
        printf("receipt FAILED: %s\n", rep.reason);
        rc = EXIT_FAILED;
    } else {
        printf("receipt OK: record %llu of writer %s is in the signed "
            "checkpoint of %llu records\n", (unsigned long long)rep.seq,
            rep.writer, (unsigned long long)rep.records);
        print_decoded(text, len);
        rc = EXIT_OK;
    }
    sluice_key_free(key);
    free(text);
    return rc;
}

int cmd_receipt(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return receipt_verify(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
            strcmp(argv[1], "-h") == 0)) {
        receipt_usage(stdout);
        return EXIT_OK;
    }
    receipt_usage(stderr);
    return EXIT_USAGE;
}
