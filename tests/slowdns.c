/*
 * slowdns.c: an LD_PRELOAD library for tests/net.sh that makes the name
 * resolver hang.  getaddrinfo() of any name ending in ".slow.test" sleeps
 * for an hour (a resolver whose server never answers); one ending in
 * ".again.test" fails at once with EAI_AGAIN (a resolver not up yet);
 * every other call goes to the real getaddrinfo().  Used to check that
 * --connect-timeout bounds a lookup as well as the connection, and that a
 * temporary lookup failure is retried where "no such name" is not.
 */
#ifndef _GNU_SOURCE		/* configure may pass -D_GNU_SOURCE already */
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	static int (*real)(const char *, const char *,
	    const struct addrinfo *, struct addrinfo **);
	size_t n = node != NULL ? strlen(node) : 0;

	if (n >= 10 && strcmp(node + n - 10, ".slow.test") == 0 &&
	    (hints == NULL || !(hints->ai_flags & AI_NUMERICHOST))) {
		sleep(3600);
		return EAI_AGAIN;
	}
	if (n >= 11 && strcmp(node + n - 11, ".again.test") == 0 &&
	    (hints == NULL || !(hints->ai_flags & AI_NUMERICHOST)))
		return EAI_AGAIN;	/* "try again later": a resolver not up */
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
	if (real == NULL)
		return EAI_SYSTEM;
	return real(node, service, hints, res);
}
