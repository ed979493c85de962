import type { Question } from '../../../shared/api/anamnesis.js';
import type { AssistantSource } from '../../../shared/api/clinical-assistant.js';
import type { PresentedRecord } from '../records/present.js';

/**
 * What the model is given about a patient: each signed record (its addenda inline) and each
 * submitted anamnesis as one numbered source in Brazilian Portuguese, the newest first, within a
 * size budget. No name, phone or document number of the patient is added: only what the sources hold.
 */

/** Signed records read per question (the newest); older ones are left out and counted. */
export const MAX_RECORDS = 60;
/** Characters of one source; a longer one is cut (and says so). */
const MAX_SOURCE_CHARS = 8_000;
/** Characters of all sources together (about 12,000 tokens in Portuguese). */
const MAX_CONTEXT_CHARS = 48_000;

export interface AnamnesisAnswers {
  id: string;
  templateName: string;
  submittedAt: string | null;
  createdAt: string;
  questions: Question[];
  answers: Record<string, unknown>;
}

export interface Source extends AssistantSource {
  text: string;
}

const RECORD_TITLES: Record<PresentedRecord['type'], string> = {
  consultation: 'Consulta',
  evolution: 'Evolução',
  exam: 'Exame',
  prescription: 'Prescrição',
  note: 'Anotação',
};

const VITALS: [keyof NonNullable<PresentedRecord['vitalSigns']>, string, string][] = [
  ['heartRate', 'FC', 'bpm'],
  ['respiratoryRate', 'FR', 'irpm'],
  ['temperature', 'Temperatura', '°C'],
  ['oxygenSaturation', 'SpO2', '%'],
  ['weightKg', 'Peso', 'kg'],
  ['heightCm', 'Altura', 'cm'],
];

const localDate = (iso: string, timezone: string) => new Intl.DateTimeFormat('pt-BR', { timeZone: timezone, day: '2-digit', month: '2-digit', year: 'numeric' }).format(new Date(iso));

function vitals(v: PresentedRecord['vitalSigns']): string | null {
  if (!v) return null;
  const parts = v.systolic !== undefined && v.diastolic !== undefined ? [`PA ${v.systolic}/${v.diastolic} mmHg`] : [];
  for (const [key, label, unit] of VITALS) if (v[key] !== undefined) parts.push(`${label} ${v[key]} ${unit}`);
  return parts.length ? parts.join(', ') : null;
}

function recordText(r: PresentedRecord, timezone: string): string {
  const lines: [string, string | null][] = [
    ['Queixa principal', r.chiefComplaint],
    ['História', r.history],
    ['Exame físico', r.examination],
    ['Diagnóstico', r.diagnosis],
    ['Conduta', r.plan],
    ['Prescrições', r.prescriptions.length ? r.prescriptions.join('; ') : null],
    ['Exames solicitados', r.examRequests.length ? r.examRequests.join('; ') : null],
    ['Sinais vitais', vitals(r.vitalSigns)],
    ['Registro', r.content.trim() || null],
  ];
  for (const a of r.addenda) lines.push([`Adendo${a.signedAt ? ` de ${localDate(a.signedAt, timezone)}` : ''}`, a.content]);
  return lines.flatMap(([label, value]) => (value ? [`${label}: ${value}`] : [])).join('\n');
}

function answerText(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'boolean') return value ? 'Sim' : 'Não';
  if (Array.isArray(value)) return value.length ? value.map(String).join(', ') : null;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function anamnesisText(a: AnamnesisAnswers): string {
  return a.questions.flatMap((q) => {
    const answer = answerText(a.answers[q.id]);
    return answer ? [`${q.label}: ${answer}`] : [];
  }).join('\n');
}

const cut = (text: string) => (text.length > MAX_SOURCE_CHARS ? `${text.slice(0, MAX_SOURCE_CHARS)}\n[... trecho cortado por tamanho]` : text);

/** Records and anamneses merged newest first, numbered from 1, until the budget is spent; the rest counted in `omitted`. */
export function fitSources(records: PresentedRecord[], anamneses: AnamnesisAnswers[], timezone: string): { sources: Source[]; omitted: number } {
  const candidates = [
    ...records.map((r) => ({
      type: 'medical_record' as const,
      id: r.id,
      date: r.createdAt,
      title: RECORD_TITLES[r.type],
      heading: `Prontuário: ${RECORD_TITLES[r.type]} de ${localDate(r.createdAt, timezone)} (assinado)`,
      body: recordText(r, timezone),
    })),
    ...anamneses.map((a) => {
      const date = a.submittedAt ?? a.createdAt;
      return { type: 'anamnesis' as const, id: a.id, date, title: a.templateName, heading: `Anamnese respondida pelo paciente: ${a.templateName}, enviada em ${localDate(date, timezone)}`, body: anamnesisText(a) };
    }),
  ].sort((x, y) => y.date.localeCompare(x.date) || x.id.localeCompare(y.id));
  const sources: Source[] = [];
  let used = 0;
  for (const c of candidates) {
    const text = `${c.heading}\n${cut(c.body || '(sem conteúdo)')}`;
    if (used + text.length > MAX_CONTEXT_CHARS) break;
    used += text.length;
    sources.push({ n: sources.length + 1, type: c.type, id: c.id, date: new Date(c.date).toISOString(), title: c.title, text });
  }
  return { sources, omitted: candidates.length - sources.length };
}
