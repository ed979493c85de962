import type { DEFAULT_STAGE_KEYS } from '../../../shared/schema/index.js';

/** The stages every clinic starts with, in board order; the clinic renames, recolours or removes them. */
export const DEFAULT_STAGES: { key: (typeof DEFAULT_STAGE_KEYS)[number]; name: string; color: string }[] = [
  { key: 'new', name: 'Novo contato', color: '#64748b' },
  { key: 'qualification', name: 'Qualificação', color: '#0ea5e9' },
  { key: 'scheduled', name: 'Agendado', color: '#8b5cf6' },
  { key: 'in_treatment', name: 'Em tratamento', color: '#f59e0b' },
  { key: 'loyal', name: 'Fidelizado', color: '#10b981' },
  { key: 'lost', name: 'Perdido', color: '#ef4444' },
];

/** Where the rules move an opportunity until an admin picks other stages. */
export const RULE_DEFAULT_STAGE = { firstBooking: 'scheduled', firstCompletion: 'in_treatment' } as const;

export const MAX_STAGES = 50;
