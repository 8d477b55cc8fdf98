/*
 * net.h: TCP listen/connect for one peer, IPv4 and IPv6.
 *
 * Addresses are "PORT", "ADDR:PORT", "HOST:PORT" or "[V6ADDR]:PORT".  The
 * listener accepts exactly one connection within accept_timeout seconds;
 * the connector retries with exponential backoff (0.1 s doubling to 2 s)
 * until connect_timeout seconds have passed, so a cron job may start before
 * its peer.  All failures are fatal with exit status 3 and name the address.
 */
#ifndef PSI_NET_H
#define PSI_NET_H

/* Returns the connected socket; *peer_desc gets "host:port" of the peer. */
int	net_listen(const char *spec, double accept_timeout, char **peer_desc);
/* Returns the connected socket; *canon gets "host:port" as given. */
int	net_connect(const char *spec, double connect_timeout, char **canon);
/* Split "host:port" / "[v6]:port" / "port"; 0 or -1.  host may be NULL. */
int	net_split(const char *spec, char **host, char **port);

#endif
