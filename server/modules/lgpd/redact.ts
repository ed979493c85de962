/** What identifies a patient in free text, read before their registration is wiped. */
export interface PatientIdentifiers {
  name: string;
  phone: string | null;
  email: string | null;
  cpf: string | null;
}

/** Removes the patient's identifiers from a text, keeping the rest (clinical text stays readable). */
export type Redact = (text: string) => string;

export const REDACTED = '[dado removido]';

const VARIANTS: Record<string, string> = { a: 'aàáâãä', e: 'eèéêë', i: 'iìíîï', o: 'oòóôõö', u: 'uùúûü', c: 'cç', n: 'nñ' };
// Short connecting words of Brazilian names are not identifying on their own.
const PARTICLES = new Set(['da', 'de', 'do', 'das', 'dos', 'e', 'di', 'du', 'del', 'van', 'von', 'der']);
const NOT_WORD_BEFORE = '(?<![\\p{L}\\p{N}])';
const NOT_WORD_AFTER = '(?![\\p{L}\\p{N}])';
const NOT_DIGIT_BEFORE = '(?<!\\d)';
const NOT_DIGIT_AFTER = '(?!\\d)';
const DIGIT_SEPARATORS = '[\\s.\\-()/]*';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const fold = (ch: string) => ch.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

/** A word matched whatever its case and accents ("Joao" finds "João"). */
function wordPattern(word: string): string {
  return [...word].map((ch) => (VARIANTS[fold(ch)] ? `[${VARIANTS[fold(ch)]}]` : escape(ch))).join('');
}

/** Digits matched with any punctuation between them ("123.456.789-09", "(11) 98765-4321"). */
const digitsPattern = (digits: string) => [...digits].join(DIGIT_SEPARATORS);

/**
 * Patterns for the full name and each meaningful part of it, the email, the CPF and the phone
 * (with or without country code, area code and the mobile 9th digit), longest first.
 */
export function identifierRedactor(patient: PatientIdentifiers): Redact {
  const patterns: string[] = [];
  if (patient.email) patterns.push(escape(patient.email));
  if (patient.cpf) patterns.push(`${NOT_DIGIT_BEFORE}${digitsPattern(patient.cpf.replace(/\D/g, ''))}${NOT_DIGIT_AFTER}`);
  const national = patient.phone?.replace(/\D/g, '').replace(/^55(?=\d{10,11}$)/, '');
  if (national && national.length >= 10) {
    const local = national.slice(2);
    const locals = local.length === 9 ? [local, local.slice(1)] : [local];
    for (const l of locals) {
      // The digit guard stands before the country code: in "+5511987654321" the area code follows a digit.
      patterns.push(`${NOT_DIGIT_BEFORE}(?:\\+?55${DIGIT_SEPARATORS})?\\(?${digitsPattern(national.slice(0, 2) + l)}${NOT_DIGIT_AFTER}`);
      patterns.push(`${NOT_DIGIT_BEFORE}${digitsPattern(l)}${NOT_DIGIT_AFTER}`);
    }
  }
  const words = patient.name.split(/\s+/).filter(Boolean);
  if (words.length > 0) patterns.push(`${NOT_WORD_BEFORE}${words.map(wordPattern).join('\\s+')}${NOT_WORD_AFTER}`);
  for (const word of words) {
    if (word.length >= 3 && !PARTICLES.has(fold(word))) patterns.push(`${NOT_WORD_BEFORE}${wordPattern(word)}${NOT_WORD_AFTER}`);
  }
  const regexes = patterns.map((p) => new RegExp(p, 'giu'));
  return (text) => regexes.reduce((t, re) => t.replace(re, REDACTED), text);
}

/** Redacts every string inside a JSON value (answers, lists), leaving numbers and booleans. */
export function redactJson<T>(value: T, redact: Redact): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactJson(v, redact)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactJson(v, redact)])) as T;
  return value;
}
