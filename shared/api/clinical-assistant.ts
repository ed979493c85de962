import { z } from 'zod';
import { line } from './text.js';

/** Longest question a professional may ask about a patient (issue #12, bad input). */
export const MAX_ASSISTANT_QUESTION = 400;

/** `POST /contacts/:id/assistant`: a question, or a request for a summary ("Resuma o histórico"). */
export const assistantQuestion = z.strictObject({
  question: line(MAX_ASSISTANT_QUESTION),
});

/** One source given to the model: a signed record (with its addenda inline) or a submitted anamnesis. */
export const assistantSource = z.object({
  /** The number the model cites it by, `[n]`. */
  n: z.number().int().min(1),
  type: z.enum(['medical_record', 'anamnesis']),
  id: z.uuid(),
  /** The record's creation, or the anamnesis' submission. */
  date: z.iso.datetime({ offset: true }),
  /** "Consulta", "Exame"... or the anamnesis template's name. */
  title: z.string(),
});

export const assistantAnswer = z.object({
  /** Brazilian Portuguese, with `[n]` markers naming the sources. */
  answer: z.string(),
  /** The sources the answer cites, by the markers it holds; markers naming no source given are dropped. */
  citations: z.array(assistantSource),
  /** Every source the model was given (the newest first, within the size limit). */
  sources: z.array(assistantSource),
  /** Signed records and submitted anamneses left out because the context was full. */
  omitted: z.number().int().min(0),
  model: z.string().nullable(),
});

export type AssistantSource = z.infer<typeof assistantSource>;
export type AssistantAnswer = z.infer<typeof assistantAnswer>;
