/*
 * session.h: one PSI run over an authenticated channel, for either role,
 * with the engine the parameters name (engine.h): input, the record
 * spill, the value sorter, the digest, the match, the reveal and the
 * output.  The parameters themselves are params.h.
 */
#ifndef PSI_SESSION_H
#define PSI_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"
#include "records.h"

struct channel;

struct session_opts {
	struct params	 p;		/* our parameters, role resolved */
	struct rec_opts	 rec;
	char		**files;
	int		 nfiles;
	const char	*output;	/* NULL or "-" for stdout */
	const char	*stats;		/* --stats FILE or NULL */
	uint64_t	 memory;	/* --memory, bytes */
	const char	*tmpdir;	/* --tmpdir, else $TMPDIR, else /tmp */
	int		 threads;	/* -j; 0 = online CPUs */
	uint64_t	 max_peer_keys;	/* --max-peer-keys; 0 = no limit */
	int		 unmatched;	/* --unmatched: write the records
					   whose key the peer lacks */
};

/* Smallest --memory accepted; below it nothing useful fits. */
#define SESSION_MIN_MEMORY	(8u << 20)

/* Run the protocol on an established channel whose parameters were
 * checked (params_check).  Returns the exit status; errors are fatal. */
int	session_run(struct channel *, const struct session_opts *);

#endif
