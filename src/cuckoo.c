/*
 * cuckoo.c: stash-less 3-way cuckoo hashing (cuckoo.h has the hash
 * functions, the insertion rule and the failure model).
 *
 * Layout: bins[m] holds a slot number or CUCKOO_EMPTY; slots[cap] holds
 * each key's fingerprint, its three bins (hashed once, at insertion) and
 * which of them it sits in.  A walk logs each eviction (bin, evicted slot,
 * placed slot and where the placed slot was before), so a failed walk is
 * undone exactly in reverse.
 */
#include <string.h>

#include <sodium.h>

#include "cuckoo.h"
#include "util.h"

struct slot {
	u128		f;
	uint32_t	bin[3];
	uint8_t		at;		/* index of the bin it sits in */
};

struct evict {
	uint32_t	bin, victim, placed;
	uint8_t		placed_at;	/* placed's `at' before the move */
};

struct cuckoo {
	uint64_t	 m, cap, n;
	uint32_t	*bins;
	struct slot	*slots;
	struct evict	 log[CUCKOO_WALK];
	uint64_t	 rng;		/* xorshift64*, for the walk */
	uint64_t	 evictions;
	uint8_t		 key[CUCKOO_KEY_BYTES];
};

void
cuckoo_hashes(const uint8_t key[CUCKOO_KEY_BYTES], u128 f, uint64_t m,
    uint32_t bins[3])
{
	const uint64_t mask = ((uint64_t)1 << 42) - 1;
	uint64_t hi = (uint64_t)(f >> 64), lo = (uint64_t)f, s0 = 0, s1 = 0;
	uint64_t c[3];
	uint8_t in[16], out[16];
	int i;

	for (i = 0; i < 8; i++) {
		in[i] = (uint8_t)(hi >> (56 - 8 * i));
		in[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
	crypto_shorthash_siphashx24(out, in, sizeof(in), key);
	for (i = 7; i >= 0; i--) {		/* little-endian */
		s0 = s0 << 8 | out[i];
		s1 = s1 << 8 | out[8 + i];
	}
	c[0] = s0 & mask;
	c[1] = (s0 >> 42 | s1 << 22) & mask;
	c[2] = (s1 >> 20) & mask;
	for (i = 0; i < 3; i++)
		bins[i] = (uint32_t)(((u128)c[i] * m) >> 42);
}

size_t
cuckoo_memory(uint64_t cap, uint64_t m)
{
	return sizeof(struct cuckoo) + m * sizeof(uint32_t) +
	    cap * sizeof(struct slot);
}

struct cuckoo *
cuckoo_new(uint64_t cap, uint64_t m, const uint8_t key[CUCKOO_KEY_BYTES])
{
	struct cuckoo *c;

	if (cap >= (uint64_t)1 << 30 || m >= UINT32_MAX || m == 0)
		fatal(EXIT_USAGE, "cuckoo table of %llu bins for %llu keys: "
		    "out of range", (unsigned long long)m,
		    (unsigned long long)cap);
	c = xcalloc(1, sizeof(*c));
	c->m = m;
	c->cap = cap;
	c->bins = xcalloc(m, sizeof(*c->bins));
	c->slots = xcalloc(cap ? cap : 1, sizeof(*c->slots));
	memcpy(c->key, key, CUCKOO_KEY_BYTES);
	c->rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)key[0] << 56 |
	    (uint64_t)key[1] << 48 | (uint64_t)key[2] << 40 | key[3]);
	if (c->rng == 0)
		c->rng = 1;
	cuckoo_clear(c);
	return c;
}

void
cuckoo_clear(struct cuckoo *c)
{
	memset(c->bins, 0xff, c->m * sizeof(*c->bins));
	c->n = 0;
}

static unsigned
walk_pick(struct cuckoo *c, unsigned nchoices)
{
	uint64_t x = c->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return (unsigned)(((x * 0x2545f4914f6cdd1dULL) >> 32) % nchoices);
}

/* Put back every eviction of a failed walk, newest first. */
static void
walk_undo(struct cuckoo *c, unsigned nlog)
{
	while (nlog-- > 0) {
		const struct evict *e = &c->log[nlog];

		c->bins[e->bin] = e->victim;
		c->slots[e->placed].at = e->placed_at;
	}
}

int
cuckoo_insert(struct cuckoo *c, u128 f)
{
	uint32_t cur, prev = CUCKOO_EMPTY, cand[3];
	struct slot *s;
	unsigned i, nlog = 0, nc;

	if (c->n == c->cap)
		return CUCKOO_FULL;
	cur = (uint32_t)c->n;
	s = &c->slots[cur];
	s->f = f;
	cuckoo_hashes(c->key, f, c->m, s->bin);
	for (i = 0; i < 3; i++) {
		uint32_t o = c->bins[s->bin[i]];

		if (o != CUCKOO_EMPTY && c->slots[o].f == f)
			return CUCKOO_DUP;
	}
	for (;;) {
		struct slot *k = &c->slots[cur];
		uint32_t victim;

		for (i = 0; i < 3; i++)
			if (c->bins[k->bin[i]] == CUCKOO_EMPTY) {
				c->bins[k->bin[i]] = cur;
				k->at = (uint8_t)i;
				c->n++;
				return CUCKOO_OK;
			}
		if (nlog == CUCKOO_WALK) {
			walk_undo(c, nlog);
			return CUCKOO_FAIL;
		}
		/* Evict from a bin other than the one cur was just put out
		 * of, unless that is its only bin: then the key that put it
		 * out goes on instead. */
		for (i = 0, nc = 0; i < 3; i++)
			if (k->bin[i] != prev)
				cand[nc++] = i;
		if (nc == 0)
			cand[nc++] = 0;
		i = cand[walk_pick(c, nc)];
		victim = c->bins[k->bin[i]];
		c->log[nlog++] = (struct evict){ k->bin[i], victim, cur, k->at };
		c->bins[k->bin[i]] = cur;
		k->at = (uint8_t)i;
		c->evictions++;
		prev = k->bin[i];
		cur = victim;
	}
}

uint64_t
cuckoo_count(const struct cuckoo *c)
{
	return c->n;
}

uint32_t
cuckoo_bin(const struct cuckoo *c, uint64_t j, unsigned *hidx)
{
	uint32_t s = c->bins[j];

	if (s != CUCKOO_EMPTY && hidx)
		*hidx = c->slots[s].at;
	return s;
}

u128
cuckoo_fp(const struct cuckoo *c, uint32_t slot)
{
	return c->slots[slot].f;
}

uint32_t
cuckoo_where(const struct cuckoo *c, uint32_t slot, unsigned *hidx)
{
	const struct slot *s = &c->slots[slot];

	if (hidx)
		*hidx = s->at;
	return s->bin[s->at];
}

uint64_t
cuckoo_evictions(const struct cuckoo *c)
{
	return c->evictions;
}

void
cuckoo_free(struct cuckoo *c)
{
	if (!c)
		return;
	free(c->bins);
	free(c->slots);
	sodium_memzero(c->key, sizeof(c->key));
	free(c);
}
