/*
 * count.h: --count-only, the DH engine's second mode (PROTOCOL.md 6.3):
 * the querier learns |X n Y| and nothing about which keys matched.
 *
 * These are the engine_role functions of engine_dh.count_querier and
 * .count_holder, called in engine.h's order: start (all queries, then all
 * answers), the session's sort, finish (HCOUNT: count_querier_finish
 * receives it, the holder sends it with dh_send_hcount), the digest,
 * then end (COUNT: the querier sends ctx->count, or nothing with
 * --reveal querier; the holder receives it into ctx->count and checks it
 * against ctx->digest_values and the number of queries).  Values are
 * emitted with record index 0: there is no output but the count.
 * Memory: the 32-byte element sorter (esort) takes ctx->mem.
 */
#ifndef PSI_COUNT_H
#define PSI_COUNT_H

struct engine_ctx;

void	count_querier_start(struct engine_ctx *);
void	count_querier_finish(struct engine_ctx *);
void	count_querier_end(struct engine_ctx *);
void	count_holder_start(struct engine_ctx *);
void	count_holder_end(struct engine_ctx *);

#endif
