/*
 * spill.h: the whole spill family at once, for callers that use several
 * of its objects (session.c).  Each object has its own header; include
 * the one you need:
 *
 *	spillfile.h	temporary files, the block format, the heartbeat
 *	recspill.h	the record spill, and typed (value, index) records
 *	sorter.h	the value sorter: (u128, u64) pairs
 *	esort.h		the element sorter: 32-byte elements (--count-only)
 *
 * spill-int.h holds what the two sorters share (internal).
 */
#ifndef PSI_SPILL_H
#define PSI_SPILL_H

#include "esort.h"
#include "recspill.h"
#include "sorter.h"
#include "spillfile.h"

/* The old name of spill_set_heartbeat, until its callers move. */
#define spill_set_tick	spill_set_heartbeat

#endif
