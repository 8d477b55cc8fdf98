/*
 * engine-ot.h: the OT-extension engine (engine.h), KKRT16 over 512 base
 * OTs, bucket by bucket (engine-ot.c has the protocol).  Its frames, in
 * FR_RANGE_OT, and the checks on them, exposed for the fuzz target.
 */
#ifndef PSI_ENGINE_OT_H
#define PSI_ENGINE_OT_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

enum {
	FR_OT_COUNT = FR_RANGE_OT,	/* both: u64 keys */
	FR_OT_PARAMS,		/* querier: u64 buckets, max load, bins */
	FR_OT_BASE_A,		/* querier: the base-OT sender's point */
	FR_OT_BASE_B,		/* holder: 512 base-OT receiver points */
	FR_OT_CORR		/* querier: u64 bucket, u32 first bin, rows */
};

#define OT_CORR_HEADER	12
#define OT_CORR_ROWS	1023	/* rows per FR_OT_CORR frame at most */
#define OT_PARAMS_LEN	24
#define OT_COUNT_LEN	8

/* Sizes both sides derive from the two counts (bucket.h). */
struct ot_sizes {
	uint64_t	nq, nh;		/* keys (records) of each side */
	uint64_t	buckets;	/* B */
	uint64_t	load;		/* L_Q: the querier's padded bucket load */
	uint64_t	bins;		/* m: cuckoo bins (rows) per bucket */
};

/* Fill buckets, load and bins from nq and nh alone (bucket_sizes() at
 * target keys a bucket, 0 = BUCKET_TARGET); more than 2^32 bins is exit 1. */
void	ot_sizes(struct ot_sizes *, uint64_t target);

/*
 * Check a FR_OT_CORR payload expected to carry the rows of `bucket` from
 * bin `off` on, in a bucket of `bins` rows (off < bins).  Returns the
 * number of rows (min(OT_CORR_ROWS, bins - off)), or -1 with *why set.
 */
long	ot_corr_check(const uint8_t *buf, size_t len, uint64_t bucket,
	    uint64_t off, uint64_t bins, const char **why);
/* Check a FR_OT_PARAMS payload against our sizes: 0, or -1 with a line
 * naming both values of the first that differs in err. */
int	ot_params_check(const struct ot_sizes *, const uint8_t *buf,
	    size_t len, char *err, size_t errlen);

extern const struct engine engine_ot;

#endif
