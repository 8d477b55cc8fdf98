/*
 * fuzz_otframes.c: libFuzzer target for the checks the OT engine applies
 * to the peer's frames (src/engine-ot.c): ot_corr_check() on OT_CORR and
 * ot_params_check() on OT_PARAMS.  (OT_COUNT, one u64 count, is checked
 * for its length and by engine_peer_keys; the base-OT points go through
 * fuzz_baseot.)
 *
 * Input: u8 mode, u16 bins, u16 off, u8 bucket, then the payload.
 * mode & 1 = 0: OT_CORR expected for (bucket, off % bins, bins + 1 rows);
 * accepted exactly when the header names that bucket and bin and the
 * size is the header plus min(1023, bins - off) rows.  mode & 1 = 1:
 * OT_PARAMS against sizes (bucket, off, bins); accepted exactly when it
 * is 24 bytes holding those three numbers.  Anything else aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "engine-ot.h"
#include "fuzzlib.h"
#include "kkrt.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ot_sizes z;
	const uint8_t *p;
	const char *why = NULL;
	char err[256];
	uint64_t bins, off, bucket, want;
	size_t len;
	long n;
	int rc, good;

	fuzz_init();
	if (size < 6)
		return 0;
	bins = ((uint64_t)data[1] << 8 | data[2]) + 1;
	off = ((uint64_t)data[3] << 8 | data[4]) % bins;
	bucket = data[5];
	p = data + 6;
	len = size - 6;
	if ((data[0] & 1) == 0) {
		n = ot_corr_check(p, len, bucket, off, bins, &why);
		want = bins - off < OT_CORR_ROWS ? bins - off : OT_CORR_ROWS;
		good = len == OT_CORR_HEADER + want * KKRT_ROW &&
		    get_u64(p) == bucket && get_u32(p + 8) == off;
		if (good ? n != (long)want : n != -1 || why == NULL)
			abort();
		return 0;
	}
	memset(&z, 0, sizeof(z));
	z.buckets = bucket;
	z.load = off;
	z.bins = bins;
	rc = ot_params_check(&z, p, len, err, sizeof(err));
	good = len == OT_PARAMS_LEN && get_u64(p) == bucket &&
	    get_u64(p + 8) == off && get_u64(p + 16) == bins;
	if (good ? rc != 0 : rc != -1 || err[0] == '\0')
		abort();
	return 0;
}
