// oprf-xcheck.mjs: writes oprf-xcheck.txt, RFC 9497 OPRF(ristretto255, SHA-512)
// Evaluate outputs for random keys and inputs, computed by implementations
// independent of ours.  t_oprf checks that src/oprf.c reproduces every Output.
//
// Each Output is computed three ways, which must agree before it is written:
//  1. Cloudflare's voprf-ts (its own OPRF code over @noble/curves 1.5):
//     OPRFServer.evaluate, and again through Blind, BlindEvaluate, Finalize;
//  2. @noble/curves 2.x ristretto255_oprf: Blind, BlindEvaluate, Finalize;
//  3. Evaluate composed here from noble primitives: hash_to_ristretto255
//     (RFC 9380/9496), scalar multiplication and SHA-512.
// voprf-ts 1.0.0 refuses a 65535-byte input (its length check is off by
// one; RFC 9497 allows up to 2^16-1), so that case comes from 2 and 3 only.
// Before anything is written, all paths are checked against RFC 9497 A.1.1.
//
// Regenerate (nothing here is needed to build or test psi-stream):
//   mkdir /tmp/xcheck && cd /tmp/xcheck && npm init -y
//   npm install @cloudflare/voprf-ts@1.0.0 @noble/curves@2 @noble/hashes@2
//   cp <repo>/tests/vectors/oprf-xcheck.mjs . &&
//       node oprf-xcheck.mjs > <repo>/tests/vectors/oprf-xcheck.txt
import {
	Oprf, OPRFClient, OPRFServer, derivePrivateKey, randomPrivateKey
} from '@cloudflare/voprf-ts';
import { CryptoNoble } from '@cloudflare/voprf-ts/crypto-noble';
import {
	ristretto255, ristretto255_hasher, ristretto255_oprf
} from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { randomBytes } from 'node:crypto';

const suite = Oprf.Suite.RISTRETTO255_SHA512;
Oprf.Crypto = CryptoNoble;
const VOPRF_TS_MAX = 65534;
const context = Buffer.concat([Buffer.from('OPRFV1-'), Buffer.from([0]),
    Buffer.from('-ristretto255-SHA512')]);

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'));

function check(cond, what) {
	if (!cond)
		throw new Error(`self-check failed: ${what}`);
}

function i2osp2(n) {
	return Buffer.from([n >> 8, n & 0xff]);
}

// Path 3: Evaluate(skS, x) from primitives.
function evaluateComposed(sk, input) {
	const P = ristretto255_hasher.hashToCurve(input,
	    { DST: Buffer.concat([Buffer.from('HashToGroup-'), context]) });
	const k = BigInt('0x' + hex(Buffer.from(sk).reverse()));
	const N = P.multiply(k).toBytes();
	return sha512(Buffer.concat([i2osp2(input.length), input, i2osp2(32),
	    N, Buffer.from('Finalize')]));
}

// Path 2: the blinded protocol in noble's own RFC 9497 code.
function evaluateNoble(sk, input) {
	const o = ristretto255_oprf.oprf;
	const b = o.blind(input);
	return o.finalize(input, b.blind, o.blindEvaluate(sk, b.blinded));
}

// Path 1: voprf-ts, directly and blinded; both must agree.
async function evaluateVoprf(sk, input) {
	const server = new OPRFServer(suite, sk);
	const out = await server.evaluate(input);
	const client = new OPRFClient(suite);
	const [fin, req] = await client.blind([input]);
	const [viaBlind] = await client.finalize(fin, await server.blindEvaluate(req));
	check(hex(viaBlind) === hex(out), `voprf-ts blinded flow, ${input.length} bytes`);
	return out;
}

async function evaluateAll(sk, input) {
	const out = hex(evaluateComposed(sk, input));
	check(hex(evaluateNoble(sk, input)) === out,
	    `noble oprf vs composed, ${input.length} bytes`);
	if (input.length <= VOPRF_TS_MAX)
		check(hex(await evaluateVoprf(sk, input)) === out,
		    `voprf-ts vs composed, ${input.length} bytes`);
	return out;
}

async function checkRfc() {
	const seed = unhex('a3'.repeat(32)), info = unhex('74657374206b6579');
	const skSm = '5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e';
	check(hex(await derivePrivateKey(Oprf.Mode.OPRF, suite, seed, info)) === skSm,
	    'voprf-ts RFC 9497 A.1.1 skSm');
	check(hex(ristretto255_oprf.oprf.deriveKeyPair(seed, info).secretKey) === skSm,
	    'noble RFC 9497 A.1.1 skSm');
	const want = [
		['00', '527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6'],
		['5a'.repeat(17), 'f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73'],
	];
	for (const [input, output] of want)
		check(await evaluateAll(unhex(skSm), unhex(input)) === output,
		    `RFC 9497 A.1.1 Output for input ${input}`);
}

async function oneCase(len) {
	const sk = await randomPrivateKey(suite);
	const input = new Uint8Array(randomBytes(len));
	const out = await evaluateAll(sk, input);
	const x = len ? ' ' + hex(input) : '';
	return `Key    = ${hex(sk)}\nInput  =${x}\nOutput = ${out}\n`;
}

// Empty, tiny, around SHA-512's 128-byte block (expand_message_xmd pads
// the message with one block of zeros), a few thousand bytes, and the
// largest input the RFC allows.
const lengths = [0, 1, 1, 2, 3, 16, 31, 32, 33, 63, 64, 111, 127, 128, 129,
    255, 256, 1000, 2048, 4093, 65534, 65535];

await checkRfc();
const cases = [];
for (const len of lengths)
	cases.push(await oneCase(len));
process.stdout.write(
    '# RFC 9497 OPRF(ristretto255, SHA-512) Evaluate outputs for random keys and\n' +
    '# inputs, computed by @cloudflare/voprf-ts 1.0.0 and @noble/curves 2.x, which\n' +
    '# agree on every case (see oprf-xcheck.mjs; voprf-ts skips 65535 bytes).\n' +
    '# Key = skS (32-byte little-endian scalar), Input = x, Output = Evaluate(skS, x).\n\n' +
    cases.join('\n'));
