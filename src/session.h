/*
 * session.h: the PSI protocol of DESIGN section 1 for both roles, run over
 * an authenticated channel, plus the session parameters both sides must
 * agree on.
 */
#ifndef PSI_SESSION_H
#define PSI_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "records.h"

struct channel;

enum { ROLE_DEFAULT = 0, ROLE_HOLDER = 1, ROLE_QUERIER = 2 };
enum { REVEAL_BOTH = 0, REVEAL_QUERIER = 1 };

#define PROTOCOL_VERSION	1

/* What both parties must agree on; travels in the handshake. */
struct params {
	uint8_t		version;
	uint8_t		role;		/* the sender's role */
	uint8_t		reveal;
	uint8_t		count_only;
	uint8_t		trim;
	uint8_t		ignore_case;
	uint32_t	shard_i, shard_n;	/* 0/0 or 1 <= i <= n */
	char		context[256];
};

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
};

/* Smallest --memory accepted; below it nothing useful fits. */
#define SESSION_MIN_MEMORY	(8u << 20)

/* Serialise; returns the length (at most PARAMS_MAX). */
#define PARAMS_MAX	(16 + 256)
size_t	params_encode(const struct params *, uint8_t *out);
/* Parse and compare with ours; exits 5 naming both values on mismatch. */
void	params_check(const struct params *ours, const uint8_t *buf, size_t len,
	    const char *peer);

/* Run the protocol on an established channel.  Returns the exit status. */
int	session_run(struct channel *, const struct session_opts *);

/* Shard of a normalised key: 1..n (public hash, both sides agree). */
uint32_t shard_of(const uint8_t *key, size_t len, uint32_t n);

#endif
