/*
 * sorter.h: the value sorter (DESIGN section 2): (u128 value, u64 index)
 * pairs sorted by value then index, in memory up to its budget, then as
 * sorted compressed runs on a temporary file (spillfile.h) merged k ways,
 * in several passes if there are more runs than the budget allows blocks
 * for.
 *
 *	sorter_new, sorter_add..., sorter_finish, sorter_next...,
 *	[sorter_rewind, sorter_next...]..., sorter_free
 *
 * mem is all the sorter may use, its buffers included; the bound is in
 * spill-int.h.  A budget under sorter_min_memory() is fatal, exit 1;
 * adding after finish, finishing twice, reading or rewinding before
 * finish is an internal error; a failed create, write or read of the
 * temporary file, or one that does not read back as written, is fatal,
 * exit 2, naming the directory.  No file is created unless the pairs
 * outgrow memory.
 */
#ifndef PSI_SORTER_H
#define PSI_SORTER_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "spillfile.h"

struct sorter;
struct pool;

/* mem: bytes this sorter may use in all (buffers included). */
struct sorter *sorter_new(const char *tmpdir, size_t mem);
void	sorter_add(struct sorter *, u128 value, uint64_t index);
uint64_t sorter_count(const struct sorter *);
/* Done adding: sort what is in memory, merge runs down to what one pass
 * can read.  Then sorter_next yields every pair in order. */
void	sorter_finish(struct sorter *);
int	sorter_next(struct sorter *, u128 *value, uint64_t *index);
/* After finish: sorter_next starts again from the first pair (a second
 * read costs the merge again, no disk space and no memory). */
void	sorter_rewind(struct sorter *);
void	sorter_free(struct sorter *);
/* Sort full buffers on the pool's threads from now on (NULL: on the
 * calling thread).  The calling thread must be the one that adds and
 * finishes, never a pool job; the heartbeat still fires on it only. */
void	sorter_set_pool(struct sorter *, struct pool *);
/* Runs written so far (for tests and --stats). */
unsigned sorter_runs(const struct sorter *);
/* Smallest mem sorter_new accepts; below it: fatal, exit 1. */
size_t	sorter_min_memory(void);

#endif
