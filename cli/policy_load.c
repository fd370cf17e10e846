/*
 * policy_load.c - loading a policy for a command, with the trust options
 * (--trust PUB, --allow-unsigned) every policy-loading command shares.
 *
 * The rules are the library's (sluice_policy_load, docs/bundles.md): a
 * bundle loads signed when a --trust key verifies it; an untrusted bundle
 * is refused unless --allow-unsigned; a policy directory loads unsigned,
 * and is refused when --trust is given without --allow-unsigned. This
 * file only turns options into sluice_policy_options and errors into
 * one-line messages. The keys are loaded for the load and freed (wiped)
 * right after it: the policy keeps none of them.
 */
#include <string.h>

#include "cli/cli.h"

int cli_trust_option(cli_trust *t, int c, const char *arg)
{
    if (c == CLI_OPT_ALLOW_UNSIGNED) {
        t->allow_unsigned = 1;
        return 1;
    }
    if (c != CLI_OPT_TRUST)
        return 0;
    if (t->nkeys == CLI_TRUST_MAX) {
        cli_fail("--trust: at most %d keys", CLI_TRUST_MAX);
        return -1;
    }
    t->keys[t->nkeys++] = arg;
    return 1;
}

int cli_trust_keys(const cli_trust *t, sluice_key **keys)
{
    sluice_error err;
    size_t i;

    memset(&err, 0, sizeof err);
    for (i = 0; t != NULL && i < t->nkeys; i++)
        keys[i] = NULL;
    for (i = 0; t != NULL && i < t->nkeys; i++) {
        if (sluice_key_load(&keys[i], t->keys[i], &err) != 0) {
            cli_fail_err(&err);
            goto fail;
        }
        if (sluice_key_type(keys[i]) == SLUICE_KEY_DIGEST) {
            cli_fail("%s: a digest key cannot check signatures; --trust "
                "takes a public key (PREFIX.pub)", t->keys[i]);
            goto fail;
        }
    }
    return 0;
fail:
    for (i = 0; i < t->nkeys; i++) {
        sluice_key_free(keys[i]);
        keys[i] = NULL;
    }
    return -1;
}

int cli_load_policy_opts(const char *path, const cli_trust *t,
    sluice_policy **out)
{
    sluice_policy_options po = SLUICE_POLICY_OPTIONS_INIT;
    sluice_key *keys[CLI_TRUST_MAX];
    sluice_error err;
    size_t n = t != NULL ? t->nkeys : 0, i;
    int rc;

    *out = NULL;
    memset(&err, 0, sizeof err);
    if (cli_trust_keys(t, keys) != 0)
        return -1;
    po.trust = (const sluice_key *const *)keys;
    po.ntrust = n;
    po.allow_unsigned = t != NULL && t->allow_unsigned;
    rc = sluice_policy_load(out, path, &po, &err);
    for (i = 0; i < n; i++)
        sluice_key_free(keys[i]);
    if (rc != 0) {
        cli_fail_err(&err);
        return -1;
    }
    if (po.allow_unsigned && !sluice_policy_signed(*out))
        fprintf(stderr, "sluice: note: policy '%s' is not signed by a "
            "--trust key; loaded unsigned (--allow-unsigned)\n", path);
    return 0;
}
