/**
 * Fractional position keys (the scheme of Figma's and rocicorp's "fractional indexing"): a key is
 * an integer part (a head letter giving its length, then base-62 digits) and a fraction. Between any
 * two keys there is another, so placing a card writes that card alone; appending or prepending
 * grows the integer part, which keeps keys short (a column of 10,000 appended cards: 4 characters).
 * Keys compare by bytes (the column is `COLLATE "C"`, JavaScript compares code units).
 */
const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE = DIGITS.length;
const ZERO = DIGITS[0] as string;
const SMALLEST_INTEGER = `A${ZERO.repeat(26)}`;

const digit = (ch: string | undefined) => (ch === undefined ? 0 : DIGITS.indexOf(ch));

/** Length of the integer part named by its head: a..z are 2..27 characters, Z..A are 2..27 (negative). */
function integerLength(head: string): number {
  if (head >= 'a' && head <= 'z') return head.charCodeAt(0) - 'a'.charCodeAt(0) + 2;
  if (head >= 'A' && head <= 'Z') return 'Z'.charCodeAt(0) - head.charCodeAt(0) + 2;
  throw new Error(`invalid position key head ${head}`);
}

function integerPart(key: string): string {
  const part = key.slice(0, integerLength(key[0] ?? ''));
  if (part.length !== integerLength(key[0] ?? '')) throw new Error(`invalid position key ${key}`);
  return part;
}

/** Whether a key was written by this module (what a client may send back is checked with it). */
export function isPositionKey(key: string): boolean {
  try {
    if (key === SMALLEST_INTEGER) return false;
    const int = integerPart(key);
    const fraction = key.slice(int.length);
    return [...key.slice(1)].every((ch) => DIGITS.includes(ch)) && !fraction.endsWith(ZERO);
  } catch {
    return false;
  }
}

/** A fraction strictly between a and b (b null: 1); neither ends in a zero digit. */
function midpoint(a: string, b: string | null): string {
  if (b !== null) {
    let n = 0;
    while ((a[n] ?? ZERO) === b[n]) n++;
    if (n > 0) return b.slice(0, n) + midpoint(a.slice(n), b.slice(n));
  }
  const da = digit(a[0]);
  const db = b !== null ? digit(b[0]) : BASE;
  if (db - da > 1) return DIGITS[Math.round((da + db) / 2)] as string;
  // Consecutive digits: keep a's digit and go one level deeper (or take b's shorter prefix).
  if (b !== null && b.length > 1) return b.slice(0, 1);
  return (DIGITS[da] as string) + midpoint(a.slice(1), null);
}

function step(int: string, up: boolean): string | null {
  const head = int[0] as string;
  const digits = [...int.slice(1)];
  for (let i = digits.length - 1; i >= 0; i--) {
    const d = digit(digits[i]) + (up ? 1 : -1);
    if (d >= 0 && d < BASE) {
      digits[i] = DIGITS[d] as string;
      return head + digits.join('');
    }
    digits[i] = up ? ZERO : (DIGITS[BASE - 1] as string);
  }
  // Every digit carried: the integer part changes length.
  if (up) {
    if (head === 'Z') return `a${ZERO}`;
    if (head === 'z') return null;
    const next = String.fromCharCode(head.charCodeAt(0) + 1);
    if (next > 'a') digits.push(ZERO);
    else digits.pop();
    return next + digits.join('');
  }
  if (head === 'a') return `Z${DIGITS[BASE - 1]}`;
  if (head === 'A') return null;
  const prev = String.fromCharCode(head.charCodeAt(0) - 1);
  if (prev < 'Z') digits.push(DIGITS[BASE - 1] as string);
  else digits.pop();
  return prev + digits.join('');
}

/** A key after `a` and before `b` (null: the start or the end of the column). */
export function keyBetween(a: string | null, b: string | null): string {
  if (a !== null && b !== null && a >= b) throw new Error(`position keys out of order: ${a} >= ${b}`);
  if (a === null && b === null) return `a${ZERO}`;
  if (a === null) {
    const ib = integerPart(b as string);
    const fb = (b as string).slice(ib.length);
    if (ib === SMALLEST_INTEGER) return ib + midpoint('', fb);
    if (ib < (b as string)) return ib;
    const below = step(ib, false);
    if (below === null) throw new Error('position keys exhausted at the start');
    return below;
  }
  const ia = integerPart(a);
  const fa = a.slice(ia.length);
  if (b === null) return step(ia, true) ?? ia + midpoint(fa, null);
  const ib = integerPart(b);
  if (ia === ib) return ia + midpoint(fa, b.slice(ib.length));
  const above = step(ia, true);
  if (above === null) throw new Error('position keys exhausted at the end');
  return above < b ? above : ia + midpoint(fa, null);
}

/** `n` increasing keys after `a` (moving a whole column to the end of another). */
export function keysAfter(a: string | null, n: number): string[] {
  const keys: string[] = [];
  let last = a;
  for (let i = 0; i < n; i++) keys.push((last = keyBetween(last, null)));
  return keys;
}
