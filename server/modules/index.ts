import type { Infra } from '../infra/index.js';
import { aiModule } from './ai/module.js';
import { anamnesisModule } from './anamnesis/module.js';
import { analyticsModule } from './analytics/module.js';
import { apiKeysModule } from './api-keys/module.js';
import { assistantModule } from './assistant/module.js';
import type { AssistantTool } from './assistant/tool.js';
import { assistantTools } from './assistant/tools/index.js';
import { auditModule } from './audit/module.js';
import { authModule, googleSignInModule } from './auth/module.js';
import { clinicModule } from './clinic/module.js';
import { clinicalAssistantModule } from './clinical-assistant/module.js';
import { contactsModule } from './contacts/module.js';
import { filesModule } from './files/module.js';
import { googleCalendarModule } from './google-calendar/module.js';
import { inboxModule } from './inbox/module.js';
import { integrationsModule } from './integrations/module.js';
import { knowledgeModule } from './knowledge/module.js';
import { lgpdModule } from './lgpd/module.js';
import { outboundWebhooksModule } from './outbound-webhooks/module.js';
import { Providers, type Module } from './module.js';
import { pipelineModule } from './pipeline/module.js';
import { platformModule } from './platform/module.js';
import { realtimeModule } from './realtime/module.js';
import { recordsModule } from './records/module.js';
import { remindersModule } from './reminders/module.js';
import { schedulingModule } from './scheduling/module.js';
import { teamModule } from './team/module.js';
import { whatsappIngestionModule } from './whatsapp/ingestion.js';
import { whatsappModule } from './whatsapp/module.js';

export type Modules = ReturnType<typeof createModules>;

/**
 * Every feature, listed once in dependency order; each gets the services it needs from the
 * modules before it (docs/modules.md). `extra` modules come last (tests use them, e.g. to add a busy source);
 * `assistantTools` replaces the tools the assistant's model may call (tests give their own).
 */
export function createModules(infra: Infra, extra: readonly Module[] = [], opts: { assistantTools?: AssistantTool[] } = {}) {
  const providers = new Providers();
  const platform = platformModule(infra);
  const realtime = realtimeModule(infra);
  const audit = auditModule(infra);
  const auth = authModule(infra, audit.services);
  const clinic = clinicModule(infra, audit.services);
  const apiKeys = apiKeysModule(infra, audit.services);
  const team = teamModule(infra, { ...audit.services, ...apiKeys.services, ...auth.services });
  const googleSignIn = googleSignInModule(infra, { ...auth.services, ...team.services });
  const files = filesModule(infra, { ...audit.services, providers });
  const contacts = contactsModule(infra, { ...audit.services, providers });
  const scheduling = schedulingModule(infra, { ...audit.services, ...contacts.services, ...team.services, ...clinic.services, providers });
  const records = recordsModule(infra, { ...audit.services, ...contacts.services, ...files.services, ...scheduling.services });
  const anamnesis = anamnesisModule(infra, { ...audit.services, ...contacts.services, ...clinic.services });
  const lgpd = lgpdModule(infra, { ...audit.services, ...contacts.services, ...records.services, ...anamnesis.services, providers });
  const integrations = integrationsModule(infra, { providers });
  const whatsapp = whatsappModule(infra, { ...audit.services, ...team.services, ...integrations.services });
  const whatsappIngestion = whatsappIngestionModule(infra, { ...contacts.services, ...files.services, ...integrations.services, ...whatsapp.services });
  const inbox = inboxModule(infra, { ...files.services, channels: whatsapp.services.whatsapp.channels });
  const knowledge = knowledgeModule(infra, audit.services);
  const ai = aiModule(infra, { ...audit.services, ...clinic.services, ...team.services, ...contacts.services, ...scheduling.services });
  const assistant = assistantModule(infra, { ...ai.services, ...knowledge.services, ...clinic.services, ...inbox.services, providers, tools: opts.assistantTools ?? assistantTools({ ...scheduling.services, ...clinic.services, ...team.services }) });
  const clinicalAssistant = clinicalAssistantModule(infra, { ...records.services, ...anamnesis.services, ...contacts.services, ...ai.services });
  const pipeline = pipelineModule(infra, { ...audit.services, ...contacts.services, ...team.services, ...clinic.services, ...scheduling.services });
  const googleCalendar = googleCalendarModule(infra, { ...audit.services, ...integrations.services, ...scheduling.services });
  const analytics = analyticsModule(infra, { ...team.services, ...clinic.services, ...scheduling.services });
  const reminders = remindersModule(infra, { ...audit.services, ...clinic.services, ...contacts.services, ...scheduling.services, aiTemplates: ai.services.aiTemplates, inbox: inbox.services.inbox });
  const outboundWebhooks = outboundWebhooksModule(infra, audit.services);

  return wire(infra, providers, [platform, realtime, audit, auth, clinic, apiKeys, team, googleSignIn, files, contacts, scheduling, records, anamnesis, lgpd, integrations, whatsapp, whatsappIngestion, inbox, knowledge, ai, assistant, clinicalAssistant, pipeline, googleCalendar, analytics, reminders, outboundWebhooks, ...extra]);
}

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
type ServicesOf<M> = M extends Module<infer S> ? S : never;

/**
 * One loop per kind: services merged, answers added to the registry in module order (the order
 * anonymisers run in), subscribers subscribed; routes, jobs and metrics go to the app and the queue.
 */
function wire<const L extends readonly Module[]>(infra: Infra, providers: Providers, modules: L) {
  const services: Record<string, unknown> = {};
  const names = new Set<string>();
  for (const module of modules) {
    if (names.has(module.name)) throw new Error(`Module "${module.name}" is listed twice`);
    names.add(module.name);
    for (const [key, service] of Object.entries(module.services)) {
      if (Object.hasOwn(services, key)) throw new Error(`Service "${key}" of module "${module.name}" is declared by another module too`);
      services[key] = service;
    }
  }
  for (const module of modules) providers.add(module.name, module.provides ?? {});
  for (const module of modules) for (const subscriber of module.subscribers ?? []) infra.events.subscribe(subscriber);
  return {
    services: services as UnionToIntersection<ServicesOf<L[number]>>,
    routes: modules.flatMap((module) => module.routes ?? []),
    jobs: modules.flatMap((module) => module.jobs ?? []),
    metrics: modules.flatMap((module) => module.metrics ?? []),
  };
}
