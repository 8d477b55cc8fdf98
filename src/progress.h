/*
 * progress.h: the --progress line (DESIGN section 5).
 *
 * One line on stderr, redrawn in place with '\r' at most about 6 times a
 * second (a monotonic clock decides, so progress_set() may be called as
 * often as every 1024 items at almost no cost):
 *
 *   psi-stream: query  1.25M  310K/s  42%  0:09 left
 *   psi-stream: read  3.40M  1.10M/s  0:03          (total unknown: elapsed)
 *   psi-stream: waiting for a peer on 0.0.0.0:7000, 9:41 left
 *   psi-stream: connecting to b.example:7000, attempt 4, 0:52 left
 *
 * Call order: progress_init() once after option parsing, then for each
 * phase progress_phase() followed by any number of progress_set() (and,
 * optionally, progress_bytes()); progress_end() before writing anything
 * else to stderr and at the end; progress_abort() from the fatal path.
 *
 * Threads: every function must be called from the main thread only.
 * Workers report their counts to the main thread, which calls
 * progress_set(); the state here is plain static variables with no lock.
 * When the line is off (the default before progress_init(), -q, or stderr
 * not a terminal in auto mode) nothing is ever written.
 */
#ifndef PSI_PROGRESS_H
#define PSI_PROGRESS_H

#include <stdint.h>

/* 1: always on; 0: off; -1: on iff stderr is a terminal. */
void	progress_init(int mode);
/* Start a phase ("read", "query", ...).  total is the number of items the
 * phase will count, 0 if unknown (then no percentage and no time left). */
void	progress_phase(const char *name, uint64_t total);
/* Items done so far in this phase; redraws if the last draw is old enough. */
void	progress_set(uint64_t done);
/* Optional: bytes handed to the reader so far of a known byte total (the
 * regular input files), called as each chunk is taken; used for the
 * percentage and time left when the item total is unknown, the position
 * inside the last chunk estimated from the items counted since.  Only
 * stores the numbers; the next progress_set() draws them. */
void	progress_bytes(uint64_t done, uint64_t total);
/* What the run waits for, drawn at once (the caller calls it about once
 * a second): attempt 0, a listener waiting on addr; attempt N > 0, the
 * Nth attempt to connect to addr; left, the seconds of the timeout left.
 * attempt -1: the wait is over, the line is erased.  The signature is
 * net.h's net_wait_fn, so net_on_wait(progress_waiting) wires it up. */
void	progress_waiting(const char *addr, int attempt, double left);
/* Erase the line (\r, spaces, \r) if it is shown.  The phase goes on: a
 * later progress_set() draws it again.  Call it before any other message
 * on stderr, and once at the end. */
void	progress_end(void);
/* For the fatal path and exit: erase the line and draw nothing more. */
void	progress_abort(void);

#endif
