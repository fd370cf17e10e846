/*
 * bundle.h - internal interface of signed policy bundles (rules/bundle.c)
 * and of the parser's file sources (rules/policy_parse.c).
 *
 * A bundle is one file holding a manifest, every source file of a policy
 * and an Ed25519 signature (docs/bundles.md gives the format byte by
 * byte). Loading one means: check its structure, decide whether it is
 * trusted, then parse the sources straight from the bundle's memory. For
 * that the parser reads its files through a psrc_io: either the
 * filesystem (the default, a policy directory) or a table of in-memory
 * files. Either way it can hand each file it reads, exactly as read and
 * hashed, to a callback; the bundle builder uses that to capture the very
 * bytes the policy hash covers, so a bundle never holds a file that
 * changed between parsing and packing.
 *
 * These declarations live here rather than in policy_src.h because only
 * bundles need them; policy_src.h's psrc_load() is psrc_load_io() with
 * no io.
 */
#ifndef SLUICE_RULES_BUNDLE_H
#define SLUICE_RULES_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice.h"
#include "rules/policy_src.h"

/* One source file held in memory: `path` is relative to the policy
   directory in the form psrc->files keeps (no '.', '..' or empty
   segments), NUL-terminated; data[len] need not be. Borrowed. */
typedef struct psrc_memfile {
    const char *path;
    const unsigned char *data;
    size_t len;
} psrc_memfile;

/* Called with each source file as it is read, before it is parsed, in
   psrc->files order. `data` is borrowed for the call. Return 0, or -1 to
   stop the load (reported as out of memory). */
typedef int (*psrc_file_fn)(void *payload, const char *rel,
    const unsigned char *data, size_t len);

typedef struct psrc_io {
    const psrc_memfile *files;  /* NULL: read the filesystem. Else the
                                   sources; files[0] is the policy file */
    size_t nfiles;
    psrc_file_fn on_file;       /* may be NULL */
    void *payload;
} psrc_io;

/*
 * psrc_load() with a file source. With io->files set, `path` only names
 * the container in messages and psrc->dir ("x.bundle" gives errors such
 * as "x.bundle/lists/a.txt:3: ..."); a source that is not in the table is
 * refused with SLUICE_EPOLICY. With io NULL (or io->files NULL) this is
 * exactly psrc_load(). Ownership and errors as psrc_load().
 */
int psrc_load_io(psrc **out, const char *path, const psrc_io *io,
    const sluice_policy_options *opts, sluice_error *err);

/*
 * 1 if `path` is a regular file that starts with the bundle magic, else 0
 * (a directory, another file, or one that cannot be read: the loader for
 * sources then reports it).
 */
int bundle_sniff(const char *path);

/*
 * Load the bundle at `path` (read whole, at most max_bundle_bytes) or in
 * data[len] (`origin` names it in messages), deciding trust from `opts`
 * (docs/bundles.md, "Trust"). On success *out is the caller's, signed or
 * not as the trust rules say. Errors: SLUICE_EIO, SLUICE_ETOOBIG,
 * SLUICE_EPOLICY (malformed, untrusted, bad signature, or a source that
 * does not parse), SLUICE_ENOMEM; err says why.
 */
int bundle_load_file(sluice_policy **out, const char *path,
    const sluice_policy_options *opts, sluice_error *err);
int bundle_load_mem(sluice_policy **out, const char *origin,
    const unsigned char *data, size_t len, const sluice_policy_options *opts,
    sluice_error *err);

/*
 * The refusal of unsigned sources when `opts` names trust keys and does
 * not allow unsigned policies: SLUICE_EPOLICY with err filled, or 0 when
 * sources may load.
 */
int bundle_check_unsigned(const char *path, const sluice_policy_options *opts,
    sluice_error *err);

#endif
