/*
 * net.c: listen/connect with timeouts and retries.
 *
 * Everything here is blocking but bounded in time: accept() is preceded by
 * poll() up to the caller's deadline (the listening socket stays open
 * between attempts, so run.c can go back to it after a stranger), and
 * connect() runs non-blocking under poll() so that one attempt never
 * outlives the overall connect timeout.
 * A refused or unreachable peer is retried with backoff (1 ms, doubling
 * to 2 s: two sides a scheduler starts together meet within milliseconds,
 * and a peer that is late costs one attempt every 2 s); so is a name the
 * resolver cannot look up yet (EAI_AGAIN: DNS may come up late at boot),
 * but not one it says does not exist (EAI_NONAME): that is a typo, and
 * fails at once.  While waiting, the net_on_wait() hook hears about once
 * a second (listener) or before each attempt (connector) how long is left.
 *
 * getaddrinfo() has no timeout of its own and can block for as long as
 * the resolver likes, so net_connect() runs it on a detached thread and
 * waits for it only until the connect deadline.  A lookup still running
 * then is abandoned: the process is about to exit, and the job it writes
 * into stays reachable from a static so nothing dangles.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "util.h"

/* Connections the kernel queues while we serve one: a connector waiting
 * there sees a busy listener, not a refusal. */
#define LISTEN_BACKLOG	16

static net_wait_fn wait_hook;

void
net_on_wait(net_wait_fn fn)
{
	wait_hook = fn;
}

static void
waiting(const char *addr, int attempt, double left)
{
	if (wait_hook != NULL)
		wait_hook(addr, attempt, left);
}

/* "1 second", "5 seconds" */
static const char *
plural_s(double n)
{
	return n == 1 ? "" : "s";
}

int
net_split(const char *spec, char **host, char **port)
{
	const char *colon;

	*host = NULL;
	*port = NULL;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (end == NULL || end[1] != ':' || end[2] == '\0')
			return -1;
		*host = xmalloc(end - spec);
		memcpy(*host, spec + 1, end - spec - 1);
		(*host)[end - spec - 1] = '\0';
		*port = xstrdup(end + 2);
	} else if ((colon = strrchr(spec, ':')) != NULL) {
		if (strchr(spec, ':') != colon || colon == spec || colon[1] == '\0')
			return -1;	/* bare IPv6 needs brackets */
		*host = xmalloc(colon - spec + 1);
		memcpy(*host, spec, colon - spec);
		(*host)[colon - spec] = '\0';
		*port = xstrdup(colon + 1);
	} else
		*port = xstrdup(spec);
	uint64_t p;
	if (parse_uint(*port, 1, 65535, &p) < 0) {
		free(*host);
		free(*port);
		*host = *port = NULL;
		return -1;
	}
	return 0;
}

static void
tune_socket(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static char *
describe_addr(const struct sockaddr *sa)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV], buf[NI_MAXHOST + NI_MAXSERV + 4];

	if (getnameinfo(sa, sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
	    host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return xstrdup("?");
	snprintf(buf, sizeof(buf), sa->sa_family == AF_INET6 ? "[%s]:%s" :
	    "%s:%s", host, serv);
	return xstrdup(buf);
}

int
net_listen(const char *spec, char **shown_out)
{
	struct addrinfo hints, *res, *ai;
	char *host, *port, shown[512];
	int fd = -1, one = 1, rc, err = 0;

	if (net_split(spec, &host, &port) < 0)
		fatal(EXIT_USAGE, "invalid --listen address '%s' "
		    "(want PORT, ADDR:PORT or [ADDR]:PORT)", spec);
	snprintf(shown, sizeof(shown), "%s%s%s:%s",
	    host && strchr(host, ':') ? "[" : "", host ? host : "0.0.0.0",
	    host && strchr(host, ':') ? "]" : "", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = host ? AF_UNSPEC : AF_INET6;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0 && host == NULL) {
		hints.ai_family = AF_INET;
		rc = getaddrinfo(host, port, &hints, &res);
	}
	if (rc != 0)
		fatal(EXIT_NET, "cannot listen on %s: %s", shown, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		/* non-blocking: a connection that is reset between poll and
		 * accept must not leave us blocked in accept */
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && host == NULL) {
			int zero = 0;	/* dual stack: also accept IPv4 */
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, LISTEN_BACKLOG) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = err;
		fatal_errno(EXIT_NET, "cannot listen on %s", shown);
	}
	vlog(2, "listening on %s", shown);
	*shown_out = xstrdup(shown);
	free(host);
	free(port);
	return fd;
}

int
net_accept(int lfd, const char *shown, double deadline, char **peer_desc)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	double left;
	int cfd, rc;

	for (;;) {
		if ((left = deadline - now_seconds()) <= 0)
			return -1;
		/* one-second slices, so the wait can be shown counting down */
		waiting(shown, 0, left);
		rc = poll(&pfd, 1, left < 1 ? (int)(left * 1000) + 1 : 1000);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			fatal_errno(EXIT_NET, "poll on %s", shown);
		if (rc == 0)
			continue;
		sslen = sizeof(ss);
		cfd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
		if (cfd >= 0)
			break;
		/* the connection went away, or we are short of descriptors
		 * for a moment: neither ends the wait */
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != ECONNABORTED && errno != EMFILE &&
		    errno != ENFILE && errno != ENOBUFS && errno != ENOMEM &&
		    errno != EPROTO && errno != EPERM)
			fatal_errno(EXIT_NET, "accept on %s", shown);
		if (errno == EMFILE || errno == ENFILE)
			usleep(100000);
	}
	waiting(shown, -1, 0);
	tune_socket(cfd);
	*peer_desc = describe_addr((struct sockaddr *)&ss);
	vlog(2, "connection from %s", *peer_desc);
	return cfd;
}

/* One non-blocking connect attempt bounded by ms; fd or -1 with errno. */
static int
try_connect(const struct addrinfo *ai, int ms)
{
	struct pollfd pfd;
	int fd, rc, soerr;
	socklen_t len = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			rc = poll(&pfd, 1, ms);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			goto fail;
		if (soerr) {
			errno = soerr;
			goto fail;
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		goto fail;
	return fd;
fail:
	soerr = errno;
	close(fd);
	errno = soerr;
	return -1;
}

/* One getaddrinfo() call on its own thread. */
struct lookup {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 done;
	int		 rc;
	struct addrinfo	*res;
	const char	*host, *port;
	struct addrinfo	 hints;
};

static void *
lookup_main(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(l->host, l->port, &l->hints, &res);

	pthread_mutex_lock(&l->mu);
	l->rc = rc;
	l->res = res;
	l->done = 1;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

#define LOOKUP_LATE	INT_MIN		/* no getaddrinfo() code, anywhere */

/*
 * getaddrinfo(host, port, hints) bounded by the monotonic time deadline:
 * its return code, or LOOKUP_LATE if it did not finish in time (the lookup
 * goes on in the background, *res is untouched and the caller gives up).
 * A numeric address needs no resolver and no thread.
 */
static int
resolve(const char *host, const char *port, const struct addrinfo *hints,
    double deadline, struct addrinfo **res)
{
	static struct lookup *abandoned;	/* still running, if any */
	struct addrinfo numeric = *hints;
	struct lookup *l;
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t tid;
	struct timespec ts;
	int rc;

	if (abandoned != NULL)
		return LOOKUP_LATE;
	numeric.ai_flags |= AI_NUMERICHOST;
	if (getaddrinfo(host, port, &numeric, res) == 0)
		return 0;
	l = xcalloc(1, sizeof(*l));
	l->host = host;
	l->port = port;
	l->hints = *hints;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &ta, lookup_main, l) != 0) {
		/* No thread to spare: look up unbounded, as before. */
		pthread_attr_destroy(&ta);
		rc = getaddrinfo(host, port, hints, res);
		goto out;
	}
	pthread_attr_destroy(&ta);
	ts.tv_sec = (time_t)deadline;
	ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
	pthread_mutex_lock(&l->mu);
	while (!l->done)
		if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT)
			break;
	if (!l->done) {
		pthread_mutex_unlock(&l->mu);
		abandoned = l;		/* host and port must outlive it too */
		return LOOKUP_LATE;
	}
	pthread_mutex_unlock(&l->mu);
	rc = l->rc;
	*res = l->res;
out:
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
	return rc;
}

int
net_connect(const char *spec, double connect_timeout, char **canon)
{
	struct addrinfo hints, *res, *ai;
	char *host, *port;
	double start = now_seconds(), delay = 0.001, left;
	int fd = -1, rc, err = 0, tries = 0;
	char why[256] = "";

	if (net_split(spec, &host, &port) < 0 || host == NULL)
		fatal(EXIT_USAGE, "invalid --peer address '%s' "
		    "(want HOST:PORT or [ADDR]:PORT)", spec);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	for (;;) {
		tries++;
		left = connect_timeout - (now_seconds() - start);
		waiting(spec, tries, left);
		rc = resolve(host, port, &hints, start + connect_timeout, &res);
		if (rc == LOOKUP_LATE) {
			/* At the deadline: an earlier attempt's reason, if
			 * any, says more than this one's. */
			if (why[0] == '\0')
				snprintf(why, sizeof(why), "looking up %s did "
				    "not finish", host);
		} else if (rc == EAI_NONAME) {
			/* The resolver answered: no such name.  Waiting will
			 * not make it exist (EAI_AGAIN, a resolver not up yet,
			 * is retried below). */
			fatal(EXIT_NET, "cannot connect to %s: %s (host %s)",
			    spec, gai_strerror(rc), host);
		} else if (rc != 0) {
			snprintf(why, sizeof(why), "%s", gai_strerror(rc));
		} else {
			for (ai = res; ai != NULL; ai = ai->ai_next) {
				int ms = left > 0 ? (int)(left * 1000) + 1 : 1;
				if (ms > 10000)
					ms = 10000;
				fd = try_connect(ai, ms);
				if (fd >= 0)
					break;
				err = errno;
			}
			freeaddrinfo(res);
			if (fd >= 0)
				break;
			snprintf(why, sizeof(why), "%s", strerror(err));
		}
		left = connect_timeout - (now_seconds() - start);
		if (left <= 0)
			fatal(EXIT_NET, "cannot connect to %s: %s (gave up after "
			    "%d attempt%s in %g second%s; see --connect-timeout)",
			    spec, why, tries, tries == 1 ? "" : "s",
			    connect_timeout, plural_s(connect_timeout));
		vlog(2, "cannot connect to %s: %s; retrying", spec, why);
		usleep((useconds_t)((delay < left ? delay : left) * 1e6));
		if ((delay *= 2) > 2)
			delay = 2;
	}
	waiting(spec, -1, 0);
	tune_socket(fd);
	*canon = xstrdup(spec);
	free(host);
	free(port);
	vlog(2, "connected to %s", spec);
	return fd;
}
