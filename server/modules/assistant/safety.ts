/**
 * Deterministic checks run before the model: an emergency or a handoff keyword must never depend
 * on what a model decides. Texts are compared folded (no accents, lower case, single spaces), as
 * whole words, so "humano" matches "HUMANO!" but "pessoal" does not match "pessoa".
 */
export const fold = (text: string) =>
  text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();

const phrase = (words: string) => new RegExp(`(^| )${fold(words)}( |$)`);
/** A stem: the folded text has a word starting with it (`suicid` matches suicídio, suicidar). */
const stem = (start: string) => new RegExp(`(^| )${start}`);

/** Physical emergencies: SAMU 192. */
const MEDICAL = [
  'dor no peito',
  'dor forte no peito',
  'aperto no peito',
  'pressao no peito',
  'falta de ar',
  'nao consigo respirar',
  'dificuldade para respirar',
  'dificuldade de respirar',
  'sem conseguir respirar',
  'desmaiou',
  'desmaiei',
  'desmaiando',
  'inconsciente',
  'nao acorda',
  'convulsao',
  'convulsionando',
  'sangramento intenso',
  'sangrando muito',
  'hemorragia',
  'avc',
  'derrame',
  'boca torta',
  'infarto',
  'infartando',
  'overdose',
  'envenenamento',
  'engasgado',
  'engasgada',
].map(phrase);

/** Risk to one's own life: CVV 188 (and SAMU 192). */
const MENTAL = [
  stem('suicid'),
  ...[
    'me matar',
    'vou me matar',
    'tirar minha vida',
    'tirar a minha vida',
    'tirar a propria vida',
    'acabar com a minha vida',
    'acabar com minha vida',
    'nao quero mais viver',
    'quero morrer',
    'vontade de morrer',
    'sem vontade de viver',
    'me machucar',
    'me cortar',
    'automutilacao',
  ].map(phrase),
];

export type Emergency = 'medical' | 'mental';

/** The kind of emergency a patient's texts describe, if any (mental first: its answer names both lines). */
export function detectEmergency(texts: string[]): Emergency | undefined {
  const folded = texts.map(fold);
  if (folded.some((t) => MENTAL.some((re) => re.test(t)))) return 'mental';
  if (folded.some((t) => MEDICAL.some((re) => re.test(t)))) return 'medical';
  return undefined;
}

/** The first of the clinic's handoff keywords the texts contain, as configured. */
export function matchKeyword(texts: string[], keywords: string[]): string | undefined {
  const folded = texts.map(fold);
  return keywords.find((k) => {
    const want = fold(k);
    return want.length > 0 && folded.some((t) => phrase(want).test(t));
  });
}

/** What the patient reads when the conversation goes to a person, by reason. */
export const HANDOFF_TEXTS = {
  asked: 'Certo! Vou chamar alguém da nossa equipe para continuar o atendimento por aqui. Por favor, aguarde um momento.',
  unavailable: 'No momento não consigo responder por aqui. Já avisei a nossa equipe, que vai continuar o atendimento assim que possível.',
  medical:
    'Se for uma emergência, ligue agora para o SAMU (192) ou procure o pronto-socorro mais próximo. Não espere pela resposta desta conversa. ' +
    'Já avisei a nossa equipe.',
  mental:
    'Sinto muito que você esteja passando por isso. Você não está sozinho(a): ligue para o CVV pelo 188 (24 horas, gratuito) ou converse em cvv.org.br. ' +
    'Se houver risco imediato, ligue para o SAMU (192) ou vá ao pronto-socorro mais próximo. Já avisei a nossa equipe.',
} as const;
