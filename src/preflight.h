/*
 * preflight.h: the local checks of a run, made before any network work,
 * so that a wrong path fails at once (as in sort), not after the peer has
 * been waited for, and never after the peer has its result.
 */
#ifndef PSI_PREFLIGHT_H
#define PSI_PREFLIGHT_H

#include "session.h"

/* First, before the fatal path knows the --stats file: its directory
 * can take a new file (else exit 2 at once, with no attempt to write a
 * summary there). */
void	preflight_stats(const char *path);

/*
 * Then, after the command line is checked and before listening or
 * connecting (and before an identity is created).  Opens and closes every
 * input file through source.c (missing, unreadable, a directory, a
 * compression it refuses: all caught here as they would be later), checks
 * that the directory of -o can take a new file and that --tmpdir is a
 * writable directory.  Any failure exits 2 (EXIT_IO) naming
 * the path.  Then arms the --progress measure of the input read: the total
 * size of the inputs when all of them are regular files.
 */
void	preflight_run(const struct session_opts *);

#endif
