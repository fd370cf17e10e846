/*
 * mutate.h - evasion variants of a text, for `sluice test --mutate`.
 *
 * Given a text, the parts of it a policy matched (byte regions) and a
 * seed, cli_mutate() writes the evasions a model output could use to slip
 * past the policy: full-width forms, Traditional characters, spaces or
 * symbols between characters, zero-width characters, Cyrillic and Greek
 * look-alikes, repeated letters, leetspeak, and mixes of two or three of
 * these. Only the regions change; the rest of the text is kept byte for
 * byte. The same text, regions and seed give the same variants, in the
 * same order, on every machine.
 *
 * Also here: the strict UTF-8 decoder and the "shows as itself" test that
 * the reports use to print variants with their invisible characters
 * escaped (\u200b).
 *
 * Threads: a cli_mutator (it holds an ICU transliterator) is used by one
 * thread at a time; everything else is pure.
 */
#ifndef SLUICE_CLI_MUTATE_H
#define SLUICE_CLI_MUTATE_H

#include <stddef.h>
#include <stdint.h>

/* Kinds of variant, in report order. Never renumbered: appended to. */
enum {
    CLI_MUT_FULLWIDTH = 0,   /* ASCII -> U+FF01..U+FF5E, space -> U+3000 */
    CLI_MUT_TRADITIONAL,     /* Simplified -> Traditional (ICU) */
    CLI_MUT_SPACE,           /* spaces between characters: "f u c k" */
    CLI_MUT_SYMBOL,          /* symbols between characters: "f.u.c.k" */
    CLI_MUT_ZERO_WIDTH,      /* U+200B, U+200D, U+FEFF, U+2060 between */
    CLI_MUT_CONFUSABLE,      /* Cyrillic/Greek look-alike letters */
    CLI_MUT_REPEAT,          /* a letter repeated: "fuuuck" */
    CLI_MUT_LEET,            /* a->4/@, e->3, i->1/!, o->0, s->5/$, t->7 */
    CLI_MUT_MIXED,           /* two or three of the above together */
    CLI_MUT_NKINDS
};

/* "fullwidth", "traditional", ...; "?" for anything else. Static. */
const char *cli_mut_kind_name(int kind);

/* A byte range [start, end) of a text. */
typedef struct cli_mut_region {
    size_t start, end;
} cli_mut_region;

typedef struct cli_mut_variant {
    int kind;                 /* CLI_MUT_* */
    char detail[48];          /* the kind's name, or for a mix the names
                                 joined by '+' ("leet+zero-width") */
    char *text;               /* owned, NUL-terminated */
    size_t len;
    cli_mut_region *regions;  /* owned: where the mutated parts now are */
    size_t nregions;
} cli_mut_variant;

/* A list of variants; owns them. Zero it before first use. */
typedef struct cli_mut_set {
    cli_mut_variant *v;
    size_t n, cap;
} cli_mut_set;

/* Free every variant and the array; the set is left empty. */
void cli_mut_set_free(cli_mut_set *s);

typedef struct cli_mutator cli_mutator;

/*
 * A mutator. Returns 0, or -1 when out of memory. If ICU has no
 * Simplified-Traditional transliterator, the mutator still works and
 * makes no "traditional" variants (cli_mutator_has_traditional says so).
 */
int cli_mutator_new(cli_mutator **out);
int cli_mutator_has_traditional(const cli_mutator *m);
/* NULL is a no-op. */
void cli_mutator_free(cli_mutator *m);

/*
 * Append to `out` the variants of text[0..len) in which the regions (in
 * order, not overlapping, within the text) are mutated: for each kind
 * that changes something there, one variant (full width, Traditional) or
 * up to `per_kind` (the random kinds; mixes get one more). A variant equal
 * to the text, or to one made before it in this call, is left out.
 * Deterministic for (text, regions, seed, per_kind).
 *
 * Returns 0, or -1 when out of memory or when the regions are not in
 * order within the text (variants appended so far stay in `out`, owned
 * by it).
 */
int cli_mutate(cli_mutator *m, const char *text, size_t len,
    const cli_mut_region *regions, size_t nregions, uint64_t seed,
    unsigned per_kind, cli_mut_set *out);

/*
 * Decode one UTF-8 sequence at s[0..n): its length (1..4) with *cp set,
 * or 0 if it is not well-formed (overlong, surrogate, over U+10FFFF,
 * truncated, a stray continuation byte). n must be > 0.
 */
size_t cli_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

/*
 * Bytes of the ill-formed sequence at s[0..n) (where cli_utf8_next gives
 * 0): its maximal subpart, the bytes a reader takes as one U+FFFD, as the
 * library's verdicts count them; at least 1.
 */
size_t cli_utf8_bad_len(const unsigned char *s, size_t n);

/*
 * 1 if cp may be printed as itself in a report: printable ASCII, Latin
 * letters with accents, CJK, kana, Hangul, full-width forms, emoji. 0 for
 * what a reader could not see or tell apart from ASCII (controls,
 * zero-width and other default-ignorable code points, Cyrillic and Greek
 * letters, unusual spaces): those are printed as \uXXXX.
 */
int cli_mut_plain(uint32_t cp);

/* splitmix64: the next value of the generator state *s. */
uint64_t cli_mut_rand(uint64_t *s);

#endif
