/*
 * esort.h: the element sorter (DESIGN section 2): fixed 32-byte elements
 * (ristretto255 encodings, some chosen by the peer) in memcmp order,
 * optionally dropping repeats, in memory up to its budget, then as
 * sorted runs on a temporary file (spillfile.h) merged k ways.  Used by
 * --count-only only.
 *
 *	esort_new, esort_add..., esort_finish(unique), esort_next...,
 *	esort_free
 *
 * mem is all the sorter may use; the bound is in spill-int.h and esort.c.
 * A budget under esort_min_memory() is fatal, exit 1; adding after
 * finish, finishing twice or reading before finish is an internal error;
 * a failed create, write or read of the temporary file, or one that does
 * not read back as written, is fatal, exit 2, naming the directory.
 * Whatever the elements, the in-memory sort is never quadratic.
 */
#ifndef PSI_ESORT_H
#define PSI_ESORT_H

#include <stddef.h>
#include <stdint.h>

#include "spillfile.h"

struct esort;

/* mem: bytes this sorter may use in all. */
struct esort *esort_new(const char *tmpdir, size_t mem);
void	esort_add(struct esort *, const uint8_t elem[32]);
/* Elements added, repeats included. */
uint64_t esort_count(const struct esort *);
/* Done adding; then esort_next yields every element in memcmp order;
 * with unique set, equal elements come out once. */
void	esort_finish(struct esort *, int unique);
int	esort_next(struct esort *, uint8_t elem[32]);	/* 1, or 0 at end */
void	esort_free(struct esort *);
/* Runs written so far (for tests and --stats). */
unsigned esort_runs(const struct esort *);
/* Smallest mem esort_new accepts; below it: fatal, exit 1. */
size_t	esort_min_memory(void);

#endif
