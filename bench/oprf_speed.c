/*
 * oprf_speed.c: how fast are the OPRF building blocks on this machine?
 * Prints microseconds per HashToGroup, per ristretto255 scalar
 * multiplication (the cost that dominates both sides of the protocol), per
 * scalar inversion and multiplication (what batch unblinding trades), and
 * per item of Evaluate, Finalize and batch unblinding.  A benchmark, not a
 * test: it asserts nothing.  Built by `make bench`, or standalone:
 *
 *   cc -O2 -Isrc bench/oprf_speed.c src/oprf.c src/util.c \
 *       $(pkg-config --cflags --libs libsodium) -o oprf_speed && ./oprf_speed
 */
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "oprf.h"
#include "util.h"

#define N	20000
#define BATCH	1000

static double t0;

static void
start(void)
{
	t0 = now_seconds();
}

static double
stop(const char *what, int n)
{
	double us = (now_seconds() - t0) * 1e6 / n;

	printf("%-40s %9.2f us\n", what, us);
	return us;
}

int
main(void)
{
	static uint8_t x[N][16], blinds[BATCH * 32], ev[BATCH * 32],
	    un[BATCH * 32], tmp[BATCH * 32];
	uint8_t sk[32], p[32], q[32], s[32], out[64];
	double h2g, smul, inv, mul, final;
	int i;

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(x, sizeof(x));
	oprf_random_scalar(sk);

	start();
	for (i = 0; i < N; i++)
		oprf_hash_to_group(p, x[i], sizeof(x[i]));
	h2g = stop("oprf_hash_to_group (16-byte input)", N);
	start();
	for (i = 0; i < N; i++)
		if (crypto_scalarmult_ristretto255(q, sk, p) != 0)
			return 1;
	smul = stop("crypto_scalarmult_ristretto255", N);
	start();
	for (i = 0; i < N; i++)
		crypto_core_ristretto255_scalar_invert(s, sk);
	inv = stop("crypto_core_ristretto255_scalar_invert", N);
	start();
	for (i = 0; i < N; i++)
		crypto_core_ristretto255_scalar_mul(s, s, sk);
	mul = stop("crypto_core_ristretto255_scalar_mul", N);
	start();
	for (i = 0; i < N; i++)
		oprf_evaluate(out, sk, x[i], sizeof(x[i]));
	stop("oprf_evaluate", N);

	for (i = 0; i < BATCH; i++)
		if (oprf_blind(blinds + 32 * i, p, x[i], sizeof(x[i]), NULL) ||
		    oprf_blind_evaluate(ev + 32 * i, sk, p))
			return 1;
	start();
	for (i = 0; i < BATCH; i++)
		oprf_finalize(out, x[i], sizeof(x[i]), blinds + 32 * i,
		    ev + 32 * i);
	final = stop("oprf_finalize (one inversion each)", BATCH);
	start();
	if (oprf_unblind_batch(un, blinds, ev, BATCH, tmp) != 0)
		return 1;
	for (i = 0; i < BATCH; i++)
		oprf_finalize_hash(out, x[i], sizeof(x[i]), un + 32 * i);
	final /= stop("unblind_batch + finalize_hash, per item", BATCH);

	printf("scalar mult / HashToGroup: %.2f; inversion / scalar mul: %.0f; "
	    "batch speed-up of Finalize: %.2fx\n", smul / h2g, inv / mul, final);
	return 0;
}
