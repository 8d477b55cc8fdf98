/*
 * spill.h: bounded-memory building blocks on temporary files (DESIGN
 * section 2).  Temporary files are created already unlinked (O_TMPFILE,
 * else mkstemp + unlink) in the directory given, so nothing survives any
 * exit, kill -9 included.  Running out of disk, or an unwritable directory,
 * is fatal (exit 2) with a message naming the directory.
 *
 * recspill: records appended in input order, zstd-compressed, read back
 * once in the same order.
 *
 * sorter: (value, index) pairs sorted by value then index, in memory up to
 * its budget, then as sorted compressed runs merged k ways (several
 * passes if there are more runs than the budget allows blocks for).
 *
 * esort: the same for fixed 32-byte elements (ristretto255 encodings) in
 * memcmp order, optionally dropping repeats, for --count-only.
 */
#ifndef PSI_SPILL_H
#define PSI_SPILL_H

#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 u128;

struct recspill;

struct recspill *recspill_new(const char *tmpdir);
void	recspill_add(struct recspill *, const uint8_t *data, size_t len);
uint64_t recspill_count(const struct recspill *);
/* Done adding: flush and start reading from the first record. */
void	recspill_rewind(struct recspill *);
/* Next record; *data valid until the next call.  1, or 0 at the end. */
int	recspill_next(struct recspill *, const uint8_t **data, size_t *len);
void	recspill_free(struct recspill *);
/* Bytes of memory a recspill uses at most (for the budget). */
size_t	recspill_memory(void);

struct sorter;

/* mem: bytes this sorter may use in all (buffers included). */
struct sorter *sorter_new(const char *tmpdir, size_t mem);
void	sorter_add(struct sorter *, u128 value, uint64_t index);
uint64_t sorter_count(const struct sorter *);
/* Done adding: sort what is in memory, merge runs down to what one pass
 * can read.  Then sorter_next yields every pair in order. */
void	sorter_finish(struct sorter *);
int	sorter_next(struct sorter *, u128 *value, uint64_t *index);
void	sorter_free(struct sorter *);
/* Runs written so far (for tests and --stats). */
unsigned sorter_runs(const struct sorter *);
/* Smallest mem sorter_new accepts; below it: fatal, exit 1. */
size_t	sorter_min_memory(void);

/* Called every few thousand items during long local work (keepalives). */
void	spill_set_tick(void (*fn)(void *), void *arg);

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
