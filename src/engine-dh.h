/*
 * engine-dh.h: the DH-OPRF engine (engine.h), RFC 9497 OPRF over
 * ristretto255 (oprf.c), in its two modes: the PSI (engine-dh.c) and
 * --count-only (count.c).  Both use the frames below, in FR_RANGE_DH.
 */
#ifndef PSI_ENGINE_DH_H
#define PSI_ENGINE_DH_H

#include "engine.h"

enum {
	FR_QUERY = FR_RANGE_DH,	/* querier: n blinded elements, 32 bytes each */
	FR_EVAL,		/* holder: n evaluated elements */
	FR_QEND,		/* querier: u64 number of keys queried */
	FR_HCOUNT,		/* holder: u64 number of holder keys */
	FR_COUNT		/* count-only querier: u64 |X n Y|, or empty */
};

#define DH_CHUNK	1024	/* elements per QUERY/EVAL frame at most */
#define DH_RESERVE	(6u << 20)	/* --memory kept for all but sorters */

extern const struct engine engine_dh;

/* Holder, both modes: send HCOUNT with our number of keys. */
void	dh_send_hcount(struct engine_ctx *);

#endif
