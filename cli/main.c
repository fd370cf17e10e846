/*
 * main.c - the sluice command: dispatches to subcommands and prints help.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const cli_cmd commands[] = {
    {"check", "check one text (or each line of a JSONL file) against a policy",
     cmd_check},
    {"stream", "pass standard input through a streaming session", cmd_stream},
    {"test", "run a policy's test cases (tests/*.yaml)", cmd_test},
    {"diff", "compare two policies' verdicts over a corpus", cmd_diff},
    {"lint", "find problems in a policy: shadowed terms, risky regexes ...",
     cmd_lint},
    {"build", "write a signed policy bundle", cmd_build},
    {"bundle", "show what a policy bundle holds", cmd_bundle},
    {"keygen", "make a signing key pair (or a digest key)", cmd_keygen},
    {"ledger", "verify, show, prove records of a decision ledger", cmd_ledger},
    {"receipt", "verify a receipt with the public key", cmd_receipt},
    {"publish", "make a signed bundle the fleet's policy (Redis)", cmd_publish},
    {"fleet", "the fleet's policy and workers (Redis): status, worker", cmd_fleet},
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: sluice <command> [options]\n"
        "\n"
        "Sluice checks model outputs against signed, versioned policies and\n"
        "allows, redacts or blocks them.\n"
        "\n"
        "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
        "\n"
        "Run 'sluice <command> --help' for a command's options.\n"
        "Exit status: 0 success, 1 a check failed (e.g. block with\n"
        "--exit-code), 2 usage or input error.\n"
        "\n"
        "example:\n"
        "  sluice check -p policies/baseline --json '我的手机号是13812345678'\n");
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("sluice: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

int cli_fail_err(const sluice_error *err)
{
    if (err->file[0] != '\0' && err->line > 0)
        return cli_fail("%s:%d: %s", err->file, err->line, err->message);
    if (err->file[0] != '\0')
        return cli_fail("%s: %s", err->file, err->message);
    return cli_fail("%s", err->message[0] ? err->message :
        sluice_strerror(err->code));
}

int cli_read_all(FILE *f, size_t max, char **out, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return -1;
    for (;;) {
        if (n == cap) {
            char *q = realloc(buf, cap * 2);
            if (q == NULL) {
                free(buf);
                return -1;
            }
            buf = q;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n > max) {
            free(buf);
            errno = EFBIG;
            return -1;
        }
        if (r == 0) {
            if (ferror(f)) {
                free(buf);
                errno = EIO;
                return -1;
            }
            break;
        }
    }
    char *q = realloc(buf, n + 1);
    if (q == NULL) {
        free(buf);
        return -1;
    }
    q[n] = '\0';
    *out = q;
    *len = n;
    return 0;
}

int cli_parse_size(const char *s, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || s[0] == '-')
        return -1;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024ull;
    else if (*end == 'm' || *end == 'M')
        mul = 1024ull * 1024;
    else if (*end == 'g' || *end == 'G')
        mul = 1024ull * 1024 * 1024;
    else if (*end != '\0')
        return -1;
    if (mul != 1 && end[1] != '\0')
        return -1;
    if (v > (unsigned long long)SIZE_MAX / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

int cli_load_policy(const char *path, sluice_policy **out)
{
    sluice_error err;
    memset(&err, 0, sizeof err);
    if (sluice_policy_load(out, path, NULL, &err) != 0) {
        cli_fail_err(&err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sluice %s\n", sluice_version());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    cli_fail("unknown command '%s' (try 'sluice --help')", argv[1]);
    return EXIT_USAGE;
}
