/*
 * run.h: one PSI run from the command line: identity and authorization,
 * listen or connect, handshake, parameter check, then the session.
 */
#ifndef PSI_RUN_H
#define PSI_RUN_H

#include "session.h"

struct run_opts {
	struct session_opts s;
	const char	*listen;	/* --listen [ADDR:]PORT */
	const char	*peer;		/* --peer HOST:PORT */
	const char	**peer_keys;	/* --peer-key FILE|KEY, repeatable */
	int		 npeer_keys;
	const char	*identity;	/* --identity FILE */
	const char	*psk_file;	/* --psk-file FILE */
	int		 strict_peer;
	int		 insecure;
	double		 connect_timeout, accept_timeout, timeout;
};

int	cmd_run(struct run_opts *);
/* The run's part of the fatal path: the ERROR frame that tells the peer
 * told (NULL: nothing is sent), then --stats with our own msg. */
void	run_on_fatal(int status, const char *told, const char *msg);

#endif
