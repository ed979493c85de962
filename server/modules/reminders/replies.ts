/**
 * The patient's answer to a reminder, read from the whole message (pt-BR): a confirmation, a
 * request to reschedule, or null for anything else (which stays a normal inbox message). A message
 * is taken as an answer only when every word belongs to the answer's vocabulary, so "sim, mas tenho
 * uma dúvida" or "sim, preciso remarcar" stay with the staff.
 */
export type ReminderReply = 'confirm' | 'reschedule';

/** Emoji that answer: 👍 ✅ 👌 confirm, 👎 ❌ decline; other emoji are left out (tone, not content). */
const EMOJI_WORDS: [RegExp, string][] = [
  [/\u{1F44D}|\u2705|\u2714|\u{1F44C}|\u{1F197}/gu, ' sim '],
  [/\u{1F44E}|\u274C|\u274E|\u{1F6AB}/gu, ' nao '],
];

/** Greetings and thanks around the answer ("bom dia, confirmo, obrigada"). */
const COURTESY = new Set(['oi', 'ola', 'bom', 'boa', 'dia', 'tarde', 'noite', 'obrigado', 'obrigada', 'obg', 'brigado', 'brigada', 'grato', 'grata', 'valeu', 'vlw', 'por', 'favor', 'pf', 'pfv', 'doutor', 'doutora', 'dr', 'dra', 'tudo', 'bem']);

const CONFIRM_STRONG = new Set(['1', 'sim', 's', 'ss', 'confirmo', 'confirmado', 'confirmada', 'confirmar', 'confirmando', 'confirmadissimo', 'ok', 'okay', 'okey', 'blz', 'beleza', 'combinado', 'certo', 'claro', 'perfeito', 'isso', 'positivo', 'estarei', 'irei', 'vou', 'yes']);
const CONFIRM_WORDS = new Set([...CONFIRM_STRONG, 'pode', 'presenca', 'minha', 'esta', 'ta', 'la', 'com', 'certeza', 'eu', 'estou', 'amanha', 'hoje', 'horario', 'consulta', 'a', 'o', 'e', 'de', 'no', 'na', 'certinho', 'sera']);

const RESCHEDULE_STRONG = new Set(['2', 'nao', 'n', 'remarcar', 'remarca', 'remarcacao', 'desmarcar', 'cancelar', 'mudar', 'trocar', 'alterar', 'adiar', 'outro', 'outra', 'infelizmente', 'impossivel']);
const RESCHEDULE_WORDS = new Set([
  ...RESCHEDULE_STRONG,
  'preciso', 'quero', 'gostaria', 'queria', 'de', 'da', 'do', 'pra', 'para', 'posso', 'poderei', 'vou', 'poder', 'consigo', 'conseguirei', 'conseguir', 'consegui', 'ir', 'comparecer',
  'horario', 'dia', 'data', 'consulta', 'a', 'o', 'e', 'eu', 'vai', 'dar', 'amanha', 'hoje', 'nesse', 'neste', 'esse', 'este', 'uma', 'um', 'marcar', 'mais', 'tarde',
  'cedo', 'podemos', 'poderia', 'seria', 'possivel', 'sera', 'mesmo', 'vamos', 'estarei',
]);

/** Lower case, without accents, punctuation and unknown emoji; answering emoji become words. */
export function words(text: string): string[] {
  let s = text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  for (const [pattern, word] of EMOJI_WORDS) s = s.replace(pattern, word);
  s = s.replace(/\p{Extended_Pictographic}|[\u{1F3FB}-\u{1F3FF}]|\u200D|\uFE0F|\u20E3/gu, ' ');
  return s
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .split(' ')
    .filter((w) => w !== '' && !COURTESY.has(w));
}

const only = (ws: string[], vocabulary: Set<string>, strong: Set<string>) => ws.every((w) => vocabulary.has(w)) && ws.some((w) => strong.has(w));

export function parseReply(text: string | null): ReminderReply | null {
  if (!text || text.length > 200) return null;
  const ws = words(text);
  if (ws.length === 0) return null;
  // "não posso", "2", "preciso remarcar"; a negation wins over "vou"/"estarei" ("não vou", "não estarei").
  if (only(ws, RESCHEDULE_WORDS, RESCHEDULE_STRONG)) return 'reschedule';
  if (only(ws, CONFIRM_WORDS, CONFIRM_STRONG) && !ws.some((w) => RESCHEDULE_STRONG.has(w))) return 'confirm';
  return null;
}
