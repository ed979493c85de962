/** Brazilian identifiers, shared by the API schemas and the frontend. */

/** 11 digits, not all equal, both check digits right. Accepts "123.456.789-09" or digits. */
export function normalizeCpf(input: string): string | null {
  if (!/^[\d.\-\s]+$/.test(input)) return null;
  const digits = input.replace(/\D/g, '');
  if (digits.length !== 11 || /^(\d)\1{10}$/.test(digits)) return null;
  const check = (len: number) => {
    let sum = 0;
    for (let i = 0; i < len; i++) sum += Number(digits[i]) * (len + 1 - i);
    const rest = (sum * 10) % 11;
    return rest === 10 ? 0 : rest;
  };
  return check(9) === Number(digits[9]) && check(10) === Number(digits[10]) ? digits : null;
}

// Area codes (DDD) in use in Brazil.
const DDD = new Set(
  '11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38 41 42 43 44 45 46 47 48 49 51 53 54 55 61 62 63 64 65 66 67 68 69 71 73 74 75 77 79 81 82 83 84 85 86 87 88 89 91 92 93 94 95 96 97 98 99'.split(
    ' ',
  ),
);

/**
 * Any common Brazilian form ("(11) 98765-4321", "11987654321", "+55 11 98765-4321", "011 8765-4321",
 * a mobile without its 9th digit) -> E.164 "+55DD9XXXXXXXX" (mobile) or "+55DDXXXXXXXX" (landline).
 */
export function normalizePhone(input: string): string | null {
  const trimmed = input.trim();
  if (!/^\+?[\d\s().-]+$/.test(trimmed) || trimmed.length > 30) return null;
  let digits = trimmed.replace(/\D/g, '');
  if (trimmed.startsWith('+')) {
    if (!digits.startsWith('55')) return null;
    digits = digits.slice(2);
  } else if (digits.length >= 12 && digits.startsWith('55')) {
    digits = digits.slice(2);
  } else if (digits.startsWith('0')) {
    digits = digits.slice(1); // trunk prefix, as in "011 ..."
  }
  if (!DDD.has(digits.slice(0, 2))) return null;
  const local = digits.slice(2);
  if (local.length === 9 && local.startsWith('9')) return `+55${digits}`;
  // Eight digits: 6-9 is a mobile written without the 9th digit (added since 2016), 2-5 a landline.
  if (local.length === 8 && /^[6-9]/.test(local)) return `+55${digits.slice(0, 2)}9${local}`;
  if (local.length === 8 && /^[2-5]/.test(local)) return `+55${digits}`;
  return null;
}

/** Lower case without accents: how names are compared in search. */
export const foldText = (text: string) =>
  text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase();
