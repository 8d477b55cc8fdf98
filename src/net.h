/*
 * net.h: TCP listen/connect for one peer, IPv4 and IPv6.
 *
 * Addresses are "PORT", "ADDR:PORT", "HOST:PORT" or "[V6ADDR]:PORT".  The
 * listener keeps its socket open and accepts one connection at a time
 * until the caller's deadline (others wait in the kernel's queue); the
 * connector retries with exponential backoff (0.1 s doubling to 2 s)
 * until connect_timeout seconds have passed, so a cron job may start before
 * its peer.  All failures are fatal with exit status 3 and name the address.
 */
#ifndef PSI_NET_H
#define PSI_NET_H

/* The listening socket for spec; *shown gets the address as shown in
 * messages (xmalloc'd).  Close it with close(2). */
int	net_listen(const char *spec, char **shown);
/* The next connection on it, or -1 once the monotonic time deadline
 * (now_seconds()) has passed; *peer_desc gets "host:port" of the peer. */
int	net_accept(int lfd, const char *shown, double deadline,
	    char **peer_desc);
/* Returns the connected socket; *canon gets "host:port" as given. */
int	net_connect(const char *spec, double connect_timeout, char **canon);
/* Told what we wait for: attempt 0, a listener on addr; N > 0, the Nth
 * attempt to connect to addr; -1, the wait is over.  left: seconds of the
 * timeout left.  Called from the thread in net_accept()/net_connect(). */
typedef void (*net_wait_fn)(const char *addr, int attempt, double left);
void	net_on_wait(net_wait_fn);
/* Split "host:port" / "[v6]:port" / "port"; 0 or -1.  host may be NULL;
 * both are xmalloc'd.  Also main.c's check of the addresses. */
int	net_split(const char *spec, char **host, char **port);

#endif
