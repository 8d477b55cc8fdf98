/*
 * prf.h: `psi-stream prf`, RFC 9497 Evaluate of every key under a given
 * OPRF key, for interoperability tests and for measuring one party's own
 * evaluation speed.
 */
#ifndef PSI_PRF_H
#define PSI_PRF_H

#include "records.h"

/* Returns the exit status; errors are fatal. */
int	cmd_prf(const char *keyfile, const struct rec_opts *, char **files,
	    int nfiles, int threads);

#endif
