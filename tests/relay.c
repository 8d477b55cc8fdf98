/*
 * relay.c: a test-only TCP relay between a connector and a listener on
 * 127.0.0.1, recording every byte it forwards.
 *
 *   relay PORTFILE TARGET_PORT RECORD [CUT_AFTER [HOLD]]
 *
 * Listens on an ephemeral port and writes the port number to PORTFILE,
 * accepts one connection, connects to 127.0.0.1:TARGET_PORT and copies
 * both ways, appending all bytes to RECORD.  With CUT_AFTER (-1: never) it
 * drops both connections (without a shutdown handshake) once that many
 * bytes have passed, to simulate a network cut mid-stream.
 *
 * HOLD is up:N or down:N: once N bytes have gone up (connector to
 * listener) or down, the rest of that direction is read and dropped, as
 * if the network lost it, and the file RECORD.held appears.  Both sides
 * then wait in a known phase of the protocol (tests/faults.sh computes N
 * from the frame sizes) until the test does something to one of them.
 * When either side closes, the relay closes the other.
 *
 * HOLD may instead be flipup:N or flipdown:N: byte N (from 0) of that
 * direction goes on with its lowest bit flipped, as a faulty network
 * would garble it; the rest passes unchanged.
 *
 *   relay --silent PORTFILE [SECONDS]
 *   relay --mute PORT [SECONDS]
 *
 * Peers that say nothing, for the timeout tests: --silent listens on an
 * ephemeral port (written to PORTFILE), accepts every connection and never
 * answers; --mute connects to 127.0.0.1:PORT and never writes.  Both stop
 * by themselves after SECONDS (default 30), so a failed test leaves no
 * process behind for long.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
xconnect(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 200; i++) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		usleep(50000);
		close(fd);
		fd = socket(AF_INET, SOCK_STREAM, 0);
	}
	perror("relay: connect");
	exit(1);
}

/*
 * Write the port to portfile under a temporary name, then rename it into
 * place: a test that sees the file sees the whole number (an empty file
 * once made a connector dial "127.0.0.1:" and left the relay waiting).
 */
static int
write_port(const char *portfile, int port)
{
	char tmp[4096];
	FILE *pf;

	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	if ((pf = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(pf, "%d\n", port);
	if (fclose(pf) != 0 || rename(tmp, portfile) != 0)
		return -1;
	return 0;
}

/* Listen on 127.0.0.1, port 0; write the port to portfile. */
static int
listen_ephemeral(const char *portfile)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int lfd, one = 1;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
		perror("relay: listen");
		exit(1);
	}
	if (write_port(portfile, ntohs(sa.sin_port)) != 0) {
		perror("relay: portfile");
		exit(1);
	}
	return lfd;
}

/* --silent and --mute: hold connections open, read and drop what comes,
 * never write; SIGALRM (default action) ends the process. */
static int
silent(int argc, char **argv)
{
	struct pollfd p[64];
	int n = 1, mute = strcmp(argv[1], "--mute") == 0;
	char buf[4096];

	if (argc < 3) {
		fprintf(stderr, "usage: relay --silent PORTFILE [SECONDS] | "
		    "--mute PORT [SECONDS]\n");
		return 1;
	}
	alarm(argc > 3 ? (unsigned)atoi(argv[3]) : 30);
	if (mute) {
		p[0].fd = xconnect(atoi(argv[2]));
		p[0].events = POLLIN;
	} else {
		p[0].fd = listen_ephemeral(argv[2]);
		p[0].events = POLLIN;
	}
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0)
			continue;
		for (int i = n - 1; i >= 0; i--) {
			if (!p[i].revents)
				continue;
			if (i == 0 && !mute) {
				int c = accept(p[0].fd, NULL, NULL);
				if (c >= 0 && n < 64) {
					p[n].fd = c;
					p[n++].events = POLLIN;
				} else if (c >= 0)
					close(c);
				continue;
			}
			if (read(p[i].fd, buf, sizeof(buf)) <= 0) {
				if (mute)
					return 0;	/* the listener gave up */
				close(p[i].fd);
				p[i] = p[--n];
			}
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	long cut = argc > 4 ? atol(argv[4]) : -1, passed = 0;
	long hold = -1, moved[2] = { 0, 0 };	/* [0] up, [1] down */
	long flip = -1;
	int lfd, a, b, one = 1, hold_dir = -1, held = 0, flip_dir = -1;
	FILE *rec;
	char buf[65536], heldpath[4096];

	if (argc > 1 && (strcmp(argv[1], "--silent") == 0 ||
	    strcmp(argv[1], "--mute") == 0))
		return silent(argc, argv);
	if (argc < 4) {
		fprintf(stderr, "usage: relay PORTFILE TARGET_PORT RECORD "
		    "[CUT_AFTER [up:N|down:N|flipup:N|flipdown:N]]\n");
		return 1;
	}
	if (argc > 5) {
		if (strncmp(argv[5], "up:", 3) == 0)
			hold_dir = 0;
		else if (strncmp(argv[5], "down:", 5) == 0)
			hold_dir = 1;
		else if (strncmp(argv[5], "flipup:", 7) == 0)
			flip_dir = 0;
		else if (strncmp(argv[5], "flipdown:", 9) == 0)
			flip_dir = 1;
		else {
			fprintf(stderr, "relay: HOLD is up:N, down:N, flipup:N "
			    "or flipdown:N\n");
			return 1;
		}
		if (flip_dir >= 0)
			flip = atol(strchr(argv[5], ':') + 1);
		else
			hold = atol(strchr(argv[5], ':') + 1);
	}
	snprintf(heldpath, sizeof(heldpath), "%s.held", argv[3]);
	signal(SIGPIPE, SIG_IGN);	/* a side that died: see it as EOF */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
		perror("relay: listen");
		return 1;
	}
	if ((rec = fopen(argv[3], "w")) == NULL ||
	    write_port(argv[1], ntohs(sa.sin_port)) != 0) {
		perror("relay: fopen");
		return 1;
	}
	setvbuf(rec, NULL, _IONBF, 0);	/* its size says how far we are */
	/* A test that goes wrong must not hang make check: give up after
	 * 5 minutes (SIGALRM's default action ends the process). */
	alarm(300);
	if ((a = accept(lfd, NULL, NULL)) < 0) {
		perror("relay: accept");
		return 1;
	}
	b = xconnect(atoi(argv[2]));
	struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
	for (;;) {
		if (poll(p, 2, 120000) <= 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0)
				goto out;
			if (cut >= 0 && passed + n > cut) {
				struct linger l = { 1, 0 };	/* reset, no FIN */
				setsockopt(a, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
				setsockopt(b, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
				goto out;
			}
			fwrite(buf, 1, (size_t)n, rec);
			passed += n;
			if (i == hold_dir) {	/* p[0] is the connector: up */
				if (held)
					continue;
				if (moved[i] + n >= hold) {
					n = hold - moved[i];
					held = 1;
					FILE *h = fopen(heldpath, "w");
					if (h != NULL)
						fclose(h);
				}
			}
			if (i == flip_dir && flip >= moved[i] &&
			    flip < moved[i] + n)
				buf[flip - moved[i]] ^= 1;
			moved[i] += n;
			for (ssize_t off = 0; off < n;) {
				ssize_t w = write(p[1 - i].fd, buf + off, (size_t)(n - off));
				if (w <= 0)
					goto out;
				off += w;
			}
		}
	}
out:
	fclose(rec);
	close(a);
	close(b);
	return 0;
}
