/*
 * engine.h: the interface between the session and a PSI engine, the part
 * that turns keys into pseudorandom values both sides can compare.
 *
 * The session (session.c) owns everything around the engine: reading the
 * input (records, normalization, the shard filter), the record spill, the
 * channel, the worker pool, the memory budget, progress and stats, the
 * value sorter, the digest stream (holder to querier, digest.c), the match
 * merge, the reveal and the output in input order.  An engine only makes
 * values.  Engines are listed in engine.c: DH-OPRF (engine-dh.c, with its
 * count-only mode in count.c) and KKRT16 OT extension (engine-ot.c).
 *
 * WHAT THE SESSION LENDS (struct engine_ctx, filled before any call)
 *
 *   - the negotiated parameters (params.h; the engine id among them), and
 *     the Noise handshake hash (NOISE_HASH bytes, to bind base OTs to this
 *     session; zeros on a channel keyed by a test);
 *   - the channel, for frames in the engine's own range of 16 types (see
 *     FR_RANGE_* below; the channel keeps HELLO, DONE, ERROR and
 *     KEEPALIVE), and one CH_MAX_PAYLOAD scratch frame;
 *   - the worker pool (pool.h): pool_run() on batches, which reports a
 *     failed slice, so a bad element is one check after the batch;
 *   - a pull-style key stream: next_keys() refills a key_batch with up to
 *     `max` normalized keys in input order, each with its record index
 *     (batch->first + i, consecutive from 0), and returns how many; 0 means
 *     the input is done, and every later call returns 0 too.  The session
 *     spills each record as it hands out its key, so the engine may pull
 *     the whole stream before it talks to the peer (an OT engine must: it
 *     needs both counts to size its buckets) or pull as it talks (DH);
 *   - an emit() callback taking one (u128 value, record index) pair into
 *     the session's value sorter: the full 128 bits of the PRF value, most
 *     significant first, as `gcs_truncate(out, 128)` reads a hash;
 *   - its share of the memory budget (mem, bytes; see MEMORY), a directory
 *     for temporary files, and max_peer_keys (0: no limit);
 *   - progress and stats: the engine calls stats_phase() and
 *     progress_phase()/progress_set() (stats.h, progress.h) for its own
 *     phases, and ch_keepalive() during long local work.
 *
 * WHAT THE ENGINE GIVES BACK, PER ROLE
 *
 *   querier: exactly one value per record it pulled, emitted with that
 *            record's index, in any order; and in ctx->peer_keys the
 *            holder's announced number of keys nH.
 *   holder:  D values per key (D = values_per_key: DH 1; KKRT 3, one per
 *            cuckoo hash function, each bound to its bin and hash index),
 *            emitted with the key's record index; and in ctx->peer_keys
 *            the querier's announced number of keys nQ.
 *
 *   With both counts the session truncates every value to
 *   t = gcs_trunc_bits(nQ, D * nH) bits (min(128, ceil(log2(nQ * D * nH))
 *   + 40)), sorts, and streams the holder's values as the GCS digest; the
 *   holder's per-bucket sizes never cross the wire.
 *
 * CALL ORDER (each role; every function is called once, on the main thread)
 *
 *   session: fills ctx            engine
 *   role->start(ctx)        ->    pulls keys, talks to the peer, emits
 *   session: input done, sorts its values (sorter_finish)
 *   role->finish(ctx)       ->    last frames before the digest; sets
 *                                 ctx->peer_keys (holder: may set it in
 *                                 start already) and ctx->own_keys, the
 *                                 count it announced for us (nQ or nH)
 *   session: checks peer_keys against max_peer_keys (exit 5), computes t
 *            from own_keys and peer_keys, sends or merges the digest
 *   role->end(ctx)          ->    count-only only (NULL otherwise): the
 *                                 querier reports ctx->count, the holder
 *                                 receives it into ctx->count and checks
 *                                 it against ctx->digest_values
 *   session: reveal, output, DONE
 *
 *   The querier's sort comes before finish() because finish() lets the
 *   holder start its digest; from then on the querier must keep reading.
 *   An engine keeps its own state between the calls in ctx->state and frees
 *   it before finish() returns (end() must need none).
 *
 * CAPABILITIES (struct engine)
 *
 *   count_querier/count_holder: the --count-only protocol, where the
 *   querier learns |X n Y| and not which keys matched; .start == NULL means
 *   the engine lacks it (the session refuses --count-only with exit 1).
 *   values_per_key: D above.  reserve and share: MEMORY.
 *
 * MEMORY
 *
 *   The session keeps `reserve` bytes of --memory for everything but the
 *   sorters (I/O buffers, spills, frames, the engine's fixed batches and
 *   windows).  Of the rest, avail: the engine gets share percent as
 *   ctx->mem; what remains goes 2:1 to the value sorter and the matched-
 *   index sorter.  A count-only run has no index sorter: its third is the
 *   engine's (DH count-only sorts elements in it).
 *
 * FAILURES
 *
 *   Everything from the peer is checked before use; a malformed or
 *   impossible frame is fatal with exit 5 (EXIT_PROTO), naming the frame.
 *   A peer count above 2^48 or above max_peer_keys is exit 5 before any
 *   value is revealed (engine_peer_keys()).  A key that cannot be hashed
 *   is exit 2.  Allocation failures exit as util.h says.
 */
#ifndef PSI_ENGINE_H
#define PSI_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"	/* u128 */

struct channel;
struct params;
struct pool;

/* Engine ids, as encoded in the session parameters (params.h). */
enum engine_id {
	ENGINE_DH = 1,		/* DH-OPRF, RFC 9497 ristretto255 (engine-dh.c) */
	ENGINE_OT = 2		/* KKRT16 OT-extension OPRF (engine-ot.c) */
};

/*
 * Frame types: 16 per range.  0x01..0x0f is the channel's (channel.h);
 * each engine and the digest have their own range, and name their frames
 * in struct engine (or digest.c).  A type outside every named frame is a
 * protocol violation (exit 5).
 */
enum {
	FR_RANGE_CHANNEL = 0x00,	/* HELLO, DONE, ERROR, KEEPALIVE */
	FR_RANGE_DH = 0x10,		/* engine-dh.h */
	FR_RANGE_DIGEST = 0x20,		/* digest.h */
	FR_RANGE_OT = 0x30,		/* the OT engine's (engine-ot.h) */
	FR_RANGE_SIZE = 16
};

/*
 * A batch of keys copied out of the reader: at most KEY_BATCH keys and
 * KEY_BATCH_BYTES key bytes (one longer key goes alone).  Key i is
 * KB_KEY(b, i), KB_LEN(b, i) bytes, record index b->first + i.  Shared by
 * the engines and `psi-stream prf`.
 */
#define KEY_BATCH	1024
#define KEY_BATCH_BYTES	(256u << 10)

struct key_batch {
	size_t		 n;
	uint64_t	 first;		/* record index of key 0 */
	uint8_t		*buf;
	size_t		 cap;
	size_t		 off[KEY_BATCH + 1];	/* n + 1 offsets into buf */
};

#define KB_KEY(b, i)	((b)->buf + (b)->off[i])
#define KB_LEN(b, i)	((b)->off[(i) + 1] - (b)->off[i])

struct key_batch *kb_new(void);
void	kb_free(struct key_batch *);
/* Empty the batch; its next key gets record index `first`. */
void	kb_clear(struct key_batch *, uint64_t first);
/* 1 if a key of len bytes may join (always, for an empty batch). */
int	kb_fits(const struct key_batch *, size_t len);
void	kb_add(struct key_batch *, const uint8_t *key, size_t len);

/* What the session lends an engine, and what the engine reports back. */
struct engine_ctx {
	const struct params *p;
	const uint8_t	*hs_hash;	/* NOISE_HASH bytes */
	struct channel	*ch;
	uint8_t		*frame;		/* CH_MAX_PAYLOAD bytes of scratch */
	struct pool	*pool;
	const char	*tmpdir;
	size_t		 mem;		/* the engine's share, bytes */
	uint64_t	 max_peer_keys;	/* 0: no limit */
	size_t		(*next_keys)(void *sess, struct key_batch *, size_t max);
	void		(*emit)(void *sess, u128 value, uint64_t index);
	void		*sess;
	uint64_t	 nkeys;		/* keys pulled so far (the session counts) */

	void		*state;		/* the engine's, between its calls */
	uint64_t	 own_keys;	/* set by the engine: the count it announced
					 * for us (nQ or nH; DH: nkeys, count-only
					 * querier: distinct keys) */
	uint64_t	 peer_keys;	/* set by the engine: the peer's count */
	uint64_t	 count;		/* count-only: |X n Y| (see end()) */
	uint64_t	 digest_values;	/* holder: values it sent in the digest */
};

struct engine_role {
	void	(*start)(struct engine_ctx *);
	void	(*finish)(struct engine_ctx *);
	void	(*end)(struct engine_ctx *);	/* NULL: nothing after the digest */
};

struct engine {
	const char	*name;		/* --engine NAME */
	unsigned	 id;		/* enum engine_id */
	unsigned	 values_per_key;	/* D */
	size_t		 reserve;	/* bytes kept before the sorters */
	unsigned	 share;		/* percent of the rest for ctx->mem */
	const char	*frames[FR_RANGE_SIZE];	/* names in its range, or NULL */
	unsigned	 frame_range;	/* FR_RANGE_* */
	struct engine_role querier, holder;
	struct engine_role count_querier, count_holder;	/* .start NULL: none */
};

/* The engine with this id or name, NULL if none is built in. */
const struct engine *engine_by_id(unsigned id);
const struct engine *engine_by_name(const char *name);
/* A name for any id, for messages: "dh", "ot", "#7". */
const char *engine_name(unsigned id, char buf[8]);
/* Names of the built-in engines, ", " between them (for --help errors). */
const char *engine_names(void);

/* Name of any frame type, NULL if no range names it. */
const char *frame_name(int type);

/*
 * A count of keys the peer announced, as the engine receives it: checked
 * against 2^48 (more than any input can hold) and max_peer_keys, fatal
 * (exit 5) naming `what` otherwise, before anything is revealed.
 */
void	engine_peer_keys(const struct engine_ctx *, uint64_t n, const char *what);
/* Receive a u64 count in a frame of `type` and check it as above. */
uint64_t engine_recv_count(struct engine_ctx *, int type, const char *what);

#endif
