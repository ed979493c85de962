export const ROLES = ['admin', 'professional', 'receptionist'] as const;
export type Role = (typeof ROLES)[number];

interface Rule {
  roles: readonly Role[];
  /** Clinical data: the member must also be a professional. */
  professionalOnly?: boolean;
  /** Whether an API key may be granted this permission as a scope. */
  apiKey: boolean;
}

const everyone = ROLES;
const admin = ['admin'] as const;
const staffWhoSeePatients = ['admin', 'professional'] as const;

/** The one permission table. Every check in the API goes through `can`. */
export const PERMISSIONS = {
  'clinic:read': { roles: everyone, apiKey: true },
  'clinic:manage': { roles: admin, apiKey: false },
  'team:read': { roles: everyone, apiKey: true },
  'team:manage': { roles: admin, apiKey: false },
  'api_keys:manage': { roles: admin, apiKey: false },
  'audit:read': { roles: admin, apiKey: false },
  'jobs:read': { roles: admin, apiKey: false },
  'files:read': { roles: everyone, apiKey: true },
  'files:write': { roles: everyone, apiKey: true },
  'contacts:read': { roles: everyone, apiKey: true },
  'contacts:write': { roles: everyone, apiKey: true },
  'contacts:delete': { roles: ['admin', 'receptionist'], apiKey: false },
  'appointments:read': { roles: everyone, apiKey: true },
  'appointments:write': { roles: everyone, apiKey: true },
  /** Encaixe: booking over another appointment on purpose. */
  'appointments:overbook': { roles: admin, apiKey: false },
  /** Appointment tags and the clinic's holiday calendar. */
  'schedule:manage': { roles: ['admin', 'receptionist'], apiKey: true },
  // Clinical data (LGPD art. 11): members who are professionals, never API keys.
  'records:read': { roles: staffWhoSeePatients, professionalOnly: true, apiKey: false },
  'records:write': { roles: staffWhoSeePatients, professionalOnly: true, apiKey: false },
  'anamnesis:read': { roles: staffWhoSeePatients, professionalOnly: true, apiKey: false },
  /** The record assistant sends a patient's records to the model provider: as reading them, never a key. */
  'records:assist': { roles: staffWhoSeePatients, professionalOnly: true, apiKey: false },
  'contacts:export': { roles: staffWhoSeePatients, professionalOnly: true, apiKey: false },
  // Who read a patient's clinical data: professionals and the clinic's admins.
  'clinical_access_log:read': { roles: staffWhoSeePatients, apiKey: false },
  // Templates hold questions, not answers; sending a form exposes no answers.
  'anamnesis_templates:read': { roles: everyone, apiKey: false },
  'anamnesis_templates:manage': { roles: staffWhoSeePatients, apiKey: false },
  'anamnesis:send': { roles: everyone, apiKey: false },
  'contacts:anonymize': { roles: admin, apiKey: false },
  // WhatsApp: the numbers' state is for everyone; linking, unlinking and settings for admins.
  'whatsapp:read': { roles: everyone, apiKey: true },
  'whatsapp:manage': { roles: admin, apiKey: false },
  // The shared inbox (a private number's conversations are narrowed further, to its professional and admins).
  'conversations:read': { roles: everyone, apiKey: true },
  'conversations:write': { roles: everyone, apiKey: true },
  // Knowledge bases the assistant answers from, and the assistant's settings and usage.
  'knowledge:read': { roles: everyone, apiKey: true },
  'knowledge:manage': { roles: admin, apiKey: false },
  'ai:manage': { roles: admin, apiKey: false },
  'ai_templates:read': { roles: everyone, apiKey: true },
  'ai_templates:manage': { roles: ['admin', 'receptionist'], apiKey: false },
  // A professional links their own Google Calendar; admins see and remove every link of the clinic.
  'calendar:connect': { roles: everyone, professionalOnly: true, apiKey: false },
  'calendar:manage': { roles: admin, apiKey: false },
  // CRM pipeline: the board and its tasks for the whole team (and N8N); stages and rules for admins.
  'pipeline:read': { roles: everyone, apiKey: true },
  'pipeline:write': { roles: everyone, apiKey: true },
  'pipeline:manage': { roles: admin, apiKey: false },
  // Outbound webhooks: their secrets and targets are the clinic's keys to its data, like API keys.
  'webhooks:manage': { roles: admin, apiKey: false },
  // Reports: operational figures for the whole team (and BI tools by key); revenue and prices for admins only.
  'analytics:read': { roles: everyone, apiKey: true },
  'analytics:financial': { roles: admin, apiKey: false },
  // Appointment reminders over WhatsApp: when, which template and number, quiet hours.
  'reminders:manage': { roles: admin, apiKey: false },
} as const satisfies Record<string, Rule>;

export type Permission = keyof typeof PERMISSIONS;
export const API_KEY_SCOPES = (Object.keys(PERMISSIONS) as Permission[]).filter((p) => PERMISSIONS[p].apiKey);

export type Actor =
  | { type: 'user'; userId: string; role: Role; isProfessional: boolean }
  | { type: 'api_key'; apiKeyId: string; scopes: readonly string[] }
  /** A feature acting on its own (the assistant booking, a reminder confirming): never behind a route, holds no permission. */
  | { type: 'system'; service: SystemService };

/** Features that change clinic data on their own; recorded as the actor of their audit rows and events. */
export type SystemService = 'assistant' | 'reminders' | 'webhooks';

export function can(actor: Actor, permission: Permission): boolean {
  const rule: Rule = PERMISSIONS[permission];
  if (actor.type === 'system') return false;
  if (actor.type === 'api_key') return rule.apiKey && actor.scopes.includes(permission);
  if (!rule.roles.includes(actor.role)) return false;
  return !rule.professionalOnly || actor.isProfessional;
}

