/*
 * recspill.h: the record spill (DESIGN section 2): records appended in
 * input order to a temporary file (spillfile.h), zstd-compressed, read
 * back in the same order.
 *
 *	recspill_new, recspill_add..., recspill_rewind, recspill_next...,
 *	[recspill_rewind, recspill_next...], recspill_free
 *
 * Adding after the first rewind, or reading before it, is an internal
 * error.  A failed create or write is fatal, exit 2, naming the
 * directory; so is a file that does not read back as written.
 *
 * Typed records: recspill_add_pair writes a (u128 value, u64 index) pair
 * as one 24-byte record, recspill_add_value a u128 as one 16-byte record
 * (both little-endian); recspill_next_pair and recspill_next_value read
 * them back and treat a record of any other length as a corrupt file.
 * A spill holds one kind of record; mixing kinds is the caller's bug.
 *
 * Memory: recspill_memory() at most, plus, while reading, one transient
 * buffer the size of the last record longer than a block.
 */
#ifndef PSI_RECSPILL_H
#define PSI_RECSPILL_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

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

void	recspill_add_pair(struct recspill *, u128 value, uint64_t index);
int	recspill_next_pair(struct recspill *, u128 *value, uint64_t *index);
void	recspill_add_value(struct recspill *, u128 value);
int	recspill_next_value(struct recspill *, u128 *value);

#endif
