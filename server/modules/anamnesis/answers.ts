import { MAX_TEXT_ANSWER, type Question } from '../../../shared/api/anamnesis.js';
import { AppError } from '../../lib/errors.js';

type Answers = Record<string, unknown>;

const isDate = (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v);

/** Why a value does not fit its question, or null. Messages name rules, never echo the answer. */
function problem(q: Question, value: unknown): string | null {
  const inRange = (n: number) => (q.min === undefined || n >= q.min) && (q.max === undefined || n <= q.max);
  switch (q.type) {
    case 'text':
    case 'textarea':
      return typeof value === 'string' && value.length <= (q.type === 'text' ? 500 : MAX_TEXT_ANSWER) ? null : 'expected_text';
    case 'number':
      return typeof value !== 'number' || !Number.isFinite(value) ? 'expected_number' : inRange(value) ? null : 'out_of_range';
    case 'scale': {
      const [min, max] = [q.min ?? 0, q.max ?? 10];
      return typeof value !== 'number' || !Number.isInteger(value) ? 'expected_integer' : value >= min && value <= max ? null : 'out_of_range';
    }
    case 'date':
      return typeof value === 'string' && isDate(value) ? null : 'expected_date';
    case 'yes_no':
      return typeof value === 'boolean' ? null : 'expected_boolean';
    case 'single':
      return typeof value === 'string' && (q.options ?? []).includes(value) ? null : 'not_an_option';
    case 'multi':
      return Array.isArray(value) && value.every((v) => typeof v === 'string' && (q.options ?? []).includes(v)) ? null : 'not_an_option';
  }
}

const isBlank = (v: unknown) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);

function visible(q: Question, answers: Answers): boolean {
  if (!q.showIf) return true;
  const parent = answers[q.showIf.questionId];
  return Array.isArray(parent) ? parent.includes(q.showIf.equals) : parent === q.showIf.equals;
}

/**
 * Checks incoming answers against the template and merges them into the saved ones (null clears).
 * A final submission also needs every visible required question and drops hidden answers.
 */
export function mergeAnswers(questions: Question[], saved: Answers, incoming: Answers, final: boolean): Answers {
  const byId = new Map(questions.map((q) => [q.id, q]));
  const errors: Record<string, string> = {};
  const merged: Answers = { ...saved };
  for (const [id, value] of Object.entries(incoming)) {
    const q = byId.get(id);
    if (!q) errors[id] = 'unknown_question';
    else if (value === null) delete merged[id];
    else {
      const why = problem(q, value);
      if (why) errors[id] = why;
      else merged[id] = value;
    }
  }
  if (final) {
    for (const q of questions) {
      // Questions are ordered and conditions point backwards, so one pass settles visibility.
      if (!visible(q, merged)) delete merged[q.id];
      else if (q.required && isBlank(merged[q.id])) errors[q.id] ??= 'required';
    }
  }
  if (Object.keys(errors).length > 0) throw new AppError(422, 'invalid_answers', 'Some answers do not fit the form', { questions: errors });
  return merged;
}
