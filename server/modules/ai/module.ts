import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { ContactService } from '../contacts/service.js';
import type { Module } from '../module.js';
import type { Scheduling } from '../scheduling/module.js';
import type { TeamService } from '../team/service.js';
import { AiConfigService } from './config.js';
import { aiRoutes } from './routes.js';
import { AiTemplateService } from './templates.js';
import { AiUsageService } from './usage.js';

/** The assistant's settings, message templates and the usage ledger (docs/ai.md). */
export function aiModule(
  infra: Infra,
  deps: { audit: AuditService; clinic: ClinicService; team: TeamService; contacts: ContactService; scheduling: Scheduling },
): Module<{ aiConfig: AiConfigService; aiTemplates: AiTemplateService; aiUsage: AiUsageService }> {
  const aiConfig = new AiConfigService(infra, deps.audit, deps.clinic, deps.team);
  const aiTemplates = new AiTemplateService(infra, deps.audit, deps.clinic, deps.contacts, deps.scheduling);
  const aiUsage = new AiUsageService(infra, deps.clinic, aiConfig);
  return {
    name: 'ai',
    services: { aiConfig, aiTemplates, aiUsage },
    routes: aiRoutes(aiConfig, aiTemplates, aiUsage),
    metrics: Object.values(aiUsage.metrics),
  };
}
