/*
 * cmd_keygen.c - `sluice keygen`: make the keys a ledger (and a policy
 * bundle) is signed with, in the C2SP signed-note key formats, or a
 * per-deployment digest key. Files are created exclusively: an existing
 * key is never overwritten.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void keygen_usage(FILE *f)
{
    fprintf(f,
        "usage: sluice keygen -o PREFIX [--name NAME]\n"
        "       sluice keygen --digest -o PREFIX [--name NAME]\n"
        "\n"
        "Make a new Ed25519 signing key: PREFIX.key (secret, mode 0600)\n"
        "and PREFIX.pub (public, for 'sluice ledger verify' and 'sluice\n"
        "receipt verify'). Both are one line of text in the C2SP\n"
        "signed-note format, \"PRIVATE+KEY+<name>+<id>+<key>\" and\n"
        "\"<name>+<id>+<key>\"; NAME appears in every checkpoint signature.\n"
        "\n"
        "With --digest, make PREFIX.digest instead: a secret that keys the\n"
        "digests ledger records keep of each output. Without one, a ledger\n"
        "derives its digest key from its signing key; share one digest key\n"
        "across writers so that 'sluice ledger digest' finds a text on all.\n"
        "\n"
        "  -o, --output PREFIX   where to write (files must not exist)\n"
        "  -n, --name NAME       key name (default \"sluice\"): printable\n"
        "                        ASCII, no '+' or space, at most 64\n"
        "      --digest          make a digest key\n"
        "  -h, --help            this help\n"
        "\n"
        "examples:\n"
        "  sluice keygen -o /etc/sluice/ledger --name gateway-eu1\n"
        "  sluice keygen --digest -o /etc/sluice/deployment\n");
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"name", required_argument, NULL, 'n'},
        {"digest", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *prefix = NULL, *name = NULL;
    int digest = 0, c;
    sluice_error err;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': prefix = optarg; break;
        case 'n': name = optarg; break;
        case 'd': digest = 1; break;
        case 'h': keygen_usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Try 'sluice keygen --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_fail("keygen: unexpected argument '%s'", argv[optind]);
    if (prefix == NULL)
        return cli_fail("keygen: an output prefix is required (-o PREFIX)");
    memset(&err, 0, sizeof err);
    if (sluice_keygen(prefix, name, digest, &err) != 0)
        return cli_fail_err(&err);
    if (digest)
        printf("wrote %s.digest (secret)\n", prefix);
    else
        printf("wrote %s.key (secret) and %s.pub\n", prefix, prefix);
    if (fflush(stdout) != 0)
        return cli_fail("writing output failed");
    return EXIT_OK;
}
