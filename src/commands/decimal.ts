/**
 * Exact decimal arithmetic for INCRBYFLOAT and HINCRBYFLOAT. Redis adds long
 * doubles (64-bit mantissa) and prints them with `%.17Lf`, trailing zeros
 * removed; adding the decimal strings exactly and rounding the same way gives
 * the same text for every value up to ~19 significant digits, which a binary
 * double could not (0.1 + 0.2 would print 0.30000000000000004).
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
  const m = DECIMAL.exec(s);
  if (!m) return undefined;
  const [, sign, int, frac = '', e] = m;
  if (int.length === 0 && frac.length === 0) return undefined;
  if (e !== undefined && e.replace(/^[+-]/, '').length > 6) return undefined;
  const digits = (int + frac).replace(/^0+/, '');
  let mant = digits.length === 0 ? 0n : BigInt(digits);
  if (sign === '-') mant = -mant;
  const exp = (e === undefined ? 0 : Number(e)) - frac.length;
  if (mant !== 0n && digits.length + exp - 1 > EXP10_MAX) return undefined;
  return { mant, exp };
}

/** Exact sum; infinities of opposite sign give undefined (NaN). */
export function addDecimal(a: Decimal, b: Decimal): Decimal | undefined {
  if ('inf' in a || 'inf' in b) {
    if ('inf' in a && 'inf' in b && a.inf !== b.inf) return undefined;
    return 'inf' in a ? a : b;
  }
  const exp = Math.min(a.exp, b.exp);
  const scale = (d: { mant: bigint; exp: number }): bigint => d.mant * 10n ** BigInt(d.exp - exp);
  return { mant: scale(a) + scale(b), exp };
}

function roundDiv(n: bigint, d: bigint): bigint {
  const q = n / d;
  const r = n % d;
  if (r === 0n) return q;
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice >= d) return n < 0n ? q - 1n : q + 1n;
  return q;
}

/** `%.17Lf` with trailing zeros removed, keeping at most 19 significant digits (a long double's precision). */
export function formatDecimal(d: Decimal): string {
  if ('inf' in d) return d.inf > 0 ? 'inf' : '-inf';
  let { mant, exp } = d;
  if (exp < -17) {
    mant = roundDiv(mant, 10n ** BigInt(-17 - exp));
    exp = -17;
  }
  const abs = mant < 0n ? -mant : mant;
  const sig = abs.toString().length;
  if (sig > 19) {
    const drop = BigInt(sig - 19);
    mant = roundDiv(mant, 10n ** drop) * 10n ** drop;
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
