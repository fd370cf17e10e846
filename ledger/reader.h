/*
 * reader.h - reading one writer's chain in order (for show, prove and
 * receipts) and the JSON form of a record.
 */
#ifndef SLUICE_LEDGER_READER_H
#define SLUICE_LEDGER_READER_H

#include "sluice.h"
#include "ledger/bytes.h"

/* Called per frame; return 0 to go on. `frame` is a whole frame. */
typedef int (*chain_fn)(const unsigned char *frame, size_t flen, void *arg);

/*
 * Walk the frames of writer directory dir/writer in order (with
 * `last_only`, of its last segment only), checking the check bytes of
 * each; a torn last frame ends the walk quietly (a live writer). Returns
 * 0, fn's nonzero value, or a negative code with err.
 */
int chain_walk(const char *dir, const char *writer, int last_only,
    chain_fn fn, void *arg, sluice_error *err);

/* The writer to use: `writer`, or the only one in dir. *out is borrowed
   from writer or malloc'd into *owned. */
int chain_writer(const char *dir, const char *writer, const char **out,
    char **owned, sluice_error *err);

/* Append the record's JSON object (one line) to b. */
void record_json_append(lbuf *b, const sluice_record *r);

#endif
