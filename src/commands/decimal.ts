/**
 * Float arithmetic for INCRBYFLOAT and HINCRBYFLOAT, byte-exact with Redis:
 * parsing as strtold does, adding as x87 long doubles do (emulated with
 * BigInt, see addDecimal), printing as `%.17Lf` does. A binary double could
 * not match: 0.1 + 0.2 would print 0.30000000000000004 where Redis prints 0.3.
 */

/** value = mant * 10^exp, or an infinity. */
export type Decimal = { mant: bigint; exp: number } | { inf: 1 | -1 };

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
/** Beyond this magnitude a long double overflows (strtold reports ERANGE, Redis refuses). */
const EXP10_MAX = 4931;

/** Parses a float argument as Redis's string2ld does (strtold, no spaces, no NaN); undefined if invalid. */
export function parseDecimal(arg: Buffer | string): Decimal | undefined {
  const s = typeof arg === 'string' ? arg : arg.toString('latin1');
  if (s.length === 0 || s.length > 5000) return undefined;
  const inf = /^([+-]?)(inf|infinity)$/i.exec(s);
  if (inf) return { inf: inf[1] === '-' ? -1 : 1 };
  const hex = HEX_FLOAT.exec(s);
  if (hex) return parseHexFloat(hex);
  const m = DECIMAL.exec(s);
  if (!m) return undefined;
  const [, sign, int, frac = '', e] = m;
  if (int.length === 0 && frac.length === 0) return undefined;
  if (e !== undefined && e.replace(/^[+-]/, '').length > 6) return undefined;
  const digits = (int + frac).replace(/^0+/, '');
  let mant = digits.length === 0 ? 0n : BigInt(digits);
  if (sign === '-') mant = -mant;
  const exp = (e === undefined ? 0 : Number(e)) - frac.length;
  if (mant === 0n) return { mant, exp: 0 };
  // Quick bounds first (10^exp of a huge exp is costly), then the exact long double range.
  if (digits.length + exp - 1 > EXP10_MAX + 1 || digits.length + exp < EXP10_MIN) return undefined;
  return inLongDoubleRange({ mant, exp }) ? { mant, exp } : undefined;
}

/** Below 10^-4952 a long double underflows to zero even as a denormal. */
const EXP10_MIN = -4952;
/** Largest binary exponent (value < 2^top) a finite long double reaches; smallest denormal is 2^-16445. */
const EXP2_TOP_MAX = 16384;
const EXP2_TOP_MIN = -16445;

/**
 * Whether strtold gives a finite, non-zero value (Redis's string2ld refuses ERANGE with
 * HUGE_VALL or 0): not rounded up to infinity, not below half the smallest denormal.
 */
function inLongDoubleRange(d: { mant: bigint; exp: number }): boolean {
  const x = toLongDouble(d);
  const top = x.e + Number(BITS);
  // [2^-16446, 2^-16445) rounds to the smallest denormal, except 2^-16446 itself (a tie, to even: 0).
  if (top === EXP2_TOP_MIN) return x.m !== TWO63 && x.m !== -TWO63;
  return top <= EXP2_TOP_MAX && top > EXP2_TOP_MIN;
}

const HEX_FLOAT = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
/** Past these binary exponents a long double overflows, or underflows to zero (strtold: ERANGE). */
const EXP2_HEX_MAX = 16384;
const EXP2_HEX_MIN = -16500;

/** A C99 hexadecimal float (`0x1.8p3`, `0x10`), which strtold accepts too: its exact decimal value. */
function parseHexFloat(m: RegExpExecArray): Decimal | undefined {
  const [, sign, int, frac = '', p] = m;
  if (int.length === 0 && frac.length === 0) return undefined;
  if (p !== undefined && p.replace(/^[+-]/, '').length > 6) return undefined;
  let mant = BigInt('0x' + ((int + frac).replace(/^0+/, '') || '0'));
  if (sign === '-') mant = -mant;
  if (mant === 0n) return { mant, exp: 0 };
  // value = mant * 2^k
  const k = (p === undefined ? 0 : Number(p)) - 4 * frac.length;
  const top = k + (mant < 0n ? -mant : mant).toString(2).length;
  if (top > EXP2_HEX_MAX + 1 || top < EXP2_HEX_MIN) return undefined;
  const d = k >= 0 ? { mant: mant << BigInt(k), exp: 0 } : { mant: mant * 5n ** BigInt(-k), exp: k };
  return inLongDoubleRange(d) ? d : undefined;
}

/**
 * An x87 long double (64-bit mantissa): value = m * 2^e with 2^63 <= |m| < 2^64,
 * or zero. Redis's INCRBYFLOAT parses both operands into long doubles
 * (strtold: correctly rounded), adds them (rounded to 64 bits) and prints the
 * sum with `%.17Lf` (exact, rounded half to even); emulating each step with
 * BigInt gives Redis's exact text, e.g. 0.3 + 1000 = 1000.29999999999999999.
 */
interface LongDouble { m: bigint; e: number }

const BITS = 64n;
const TWO63 = 1n << 63n;
const TWO64 = 1n << 64n;
/** 2^16384: beyond it a long double overflows to infinity. */
const EXP2_MAX = 16384;

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** num / den * 2^e0 rounded to a 64-bit mantissa, half to even. */
function roundToLongDouble(num: bigint, den: bigint, e0: number): LongDouble {
  if (num === 0n) return { m: 0n, e: 0 };
  const neg = num < 0n;
  const n = neg ? -num : num;
  let e = bitLength(n) - bitLength(den) - Number(BITS);
  for (;;) {
    const [a, b] = e >= 0 ? [n, den << BigInt(e)] : [n << BigInt(-e), den];
    let q = a / b;
    if (q >= TWO64) { e++; continue; }
    if (q < TWO63) { e--; continue; }
    const r2 = (a % b) * 2n;
    if (r2 > b || (r2 === b && (q & 1n) === 1n)) q++;
    if (q === TWO64) { q = TWO63; e++; }
    return { m: neg ? -q : q, e: e + e0 };
  }
}

function toLongDouble(d: { mant: bigint; exp: number }): LongDouble {
  return d.exp >= 0
    ? roundToLongDouble(d.mant * 10n ** BigInt(d.exp), 1n, 0)
    : roundToLongDouble(d.mant, 10n ** BigInt(-d.exp), 0);
}

/** `%.17Lf` of a long double, as an exact decimal with 17 places. */
function fromLongDouble(x: LongDouble): { mant: bigint; exp: number } {
  const scaled = x.m * 10n ** 17n;
  if (x.e >= 0) return { mant: scaled << BigInt(x.e), exp: -17 };
  const den = 1n << BigInt(-x.e);
  const neg = scaled < 0n;
  const a = neg ? -scaled : scaled;
  let q = a / den;
  const r2 = (a % den) * 2n;
  if (r2 > den || (r2 === den && (q & 1n) === 1n)) q++;
  return { mant: neg ? -q : q, exp: -17 };
}

/** The long double sum of two parsed floats, as Redis computes it; undefined for NaN. */
export function addDecimal(a: Decimal, b: Decimal): Decimal | undefined {
  if ('inf' in a || 'inf' in b) {
    if ('inf' in a && 'inf' in b && a.inf !== b.inf) return undefined;
    return 'inf' in a ? a : b;
  }
  const x = toLongDouble(a);
  const y = toLongDouble(b);
  if (x.m === 0n && y.m === 0n) return { mant: 0n, exp: 0 };
  const e = Math.min(x.m === 0n ? y.e : x.e, y.m === 0n ? x.e : y.e);
  const align = (v: LongDouble): bigint => (v.m === 0n ? 0n : v.m << BigInt(v.e - e));
  const sum = roundToLongDouble(align(x) + align(y), 1n, e);
  if (sum.m !== 0n && sum.e + 64 > EXP2_MAX) return { inf: sum.m > 0n ? 1 : -1 };
  return fromLongDouble(sum);
}

/** `%.17Lf` text with trailing zeros (and a bare point) removed, "-0" as "0" (Redis ld2string, LD_STR_HUMAN). */
export function formatDecimal(d: Decimal): string {
  if ('inf' in d) return d.inf > 0 ? 'inf' : '-inf';
  let { mant, exp } = d;
  if (exp < -17) {
    const div = 10n ** BigInt(-17 - exp);
    const neg0 = mant < 0n;
    const a = neg0 ? -mant : mant;
    let q = a / div;
    const r2 = (a % div) * 2n;
    if (r2 > div || (r2 === div && (q & 1n) === 1n)) q++;
    mant = neg0 ? -q : q;
    exp = -17;
  }
  const neg = mant < 0n;
  let digits = (neg ? -mant : mant).toString();
  let out: string;
  if (exp >= 0) out = digits + '0'.repeat(exp);
  else {
    const places = -exp;
    if (digits.length <= places) digits = '0'.repeat(places - digits.length + 1) + digits;
    const int = digits.slice(0, digits.length - places);
    const frac = digits.slice(digits.length - places).replace(/0+$/, '');
    out = frac.length > 0 ? `${int}.${frac}` : int;
  }
  if (/^0(\.0*)?$/.test(out)) return '0';
  return neg ? `-${out}` : out;
}
