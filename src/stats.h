/*
 * stats.h: the --stats FILE summary (DESIGN section 5): counters that the
 * run fills in, phase timings, and a JSON file written atomically at the
 * end of the run, success or failure, for monitoring nightly jobs.
 *
 * Call order: stats_start() once, early (it starts the clock); the run
 * sets fields of run_stats and calls stats_phase() as it moves from one
 * phase to the next; at the end, stats_write(path, status).  On failure,
 * from the fatal hook: stats_set_error(msg); stats_write(path, status).
 * stats_write() never calls fatal() and never allocates: if the file
 * cannot be written it prints one warning line on stderr (even with -q,
 * since a missing stats file is what monitoring would otherwise miss) and
 * returns -1, and the caller goes on with its own exit status.
 *
 * The file (keys always in this order; "error" only when exit_status is
 * not 0, "shard" null when not sharded, "role" null if not yet known):
 *
 *   { "format": 1, "version": "0.1.0", "role": "querier", "shard": "2/8",
 *     "exit_status": 0, "error": "...",
 *     "started": "2024-05-01T02:30:00Z", "finished": "2024-05-01T02:41:07Z",
 *     "peer_key": "SHA256:..." or null, "peer_key_added": false,
 *     "records": ..., "keys": ..., "empty_skipped": ..., "invalid_skipped": ...,
 *     "shard_skipped": ..., "peer_records": ..., "matched_records": ...,
 *     "unmatched_records": ..., "key_settings": "..." or null,
 *     "truncation_bits": ..., "digest_bytes": ..., "spill_bytes": ...,
 *     "buckets": ..., "bucket_padded_load": ..., "bins_per_bucket": ...,
 *     "bytes_sent": ..., "bytes_received": ..., "peak_rss_bytes": ...,
 *     "seconds": { "total": 667.1, "read": 12.0, "query": 301.5, ... } }
 *
 * Strings are JSON-escaped: '"', '\\' and control characters are escaped,
 * valid UTF-8 is copied as is, and every byte that is not part of a valid
 * UTF-8 sequence is written as \u00XX (XX its value), so the file is always
 * valid UTF-8 JSON and a raw byte in a file name stays recognisable.
 *
 * Threads: main thread only, like progress.h; workers hand their counts to
 * the main thread.
 */
#ifndef PSI_STATS_H
#define PSI_STATS_H

#include <stdint.h>

struct stats {
	const char	*role;		/* "holder"/"querier": a static string */
	uint32_t	 shard_i, shard_n;	/* 0/0 when not sharded */
	const char	*peer_key;	/* the fingerprint of the key the peer
					   authenticated with (static storage),
					   NULL: none yet, or --insecure */
	int		 peer_key_added; /* connector: this run added it to
					   known_peers (trust on first use) */
	uint64_t	 records;	/* records read from our input */
	uint64_t	 keys;		/* keys that took part (our shard) */
	uint64_t	 empty_skipped;	/* records with an empty key */
	uint64_t	 invalid_skipped; /* --skip-invalid */
	uint64_t	 shard_skipped;	/* records in other shards */
	uint64_t	 peer_records;	/* the peer's key count */
	uint64_t	 matched_records; /* records that matched (or the count) */
	uint64_t	 unmatched_records; /* records that did not (0 when we
					   do not learn the matches) */
	const char	*key_settings;	/* our key extraction, when a run
					   matched nothing (else NULL) */
	uint64_t	 truncation_bits; /* t of DESIGN section 1 */
	uint64_t	 digest_bytes;	/* GCS digest bytes sent or received */
	uint64_t	 spill_bytes;	/* bytes written to temporary files */
	uint64_t	 buckets;	/* OT engine: B (0 with dh) */
	uint64_t	 bucket_padded_load;	/* OT engine: L_Q */
	uint64_t	 bins_per_bucket;	/* OT engine: m */
	uint64_t	 bytes_sent;	/* on the wire, framing included */
	uint64_t	 bytes_received;
};

extern struct stats run_stats;

/* Zero run_stats, forget phases and the error, start the clock. */
void	stats_start(void);
/* Close the current phase's timing and open `name` (at most 31 bytes
 * kept).  A name seen before adds to its earlier time.  NULL closes the
 * current phase without opening another.  Names must not be "total". */
void	stats_phase(const char *name);
/* The message for "error" (copied; the last call wins). */
void	stats_set_error(const char *msg);
/* Write the JSON to path atomically: a temporary file beside it, fsync,
 * rename, fsync of the directory ("-": standard output, in one write).
 * 0 on success; -1 after one warning line. */
int	stats_write(const char *path, int exit_status);
/* Async-signal-safe: unlink the temporary file if a write is under way. */
void	stats_abort(void);

#endif
