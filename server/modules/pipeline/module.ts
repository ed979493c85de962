import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { ContactService } from '../contacts/service.js';
import { defineSubscriber, type Module } from '../module.js';
import type { Scheduling } from '../scheduling/module.js';
import type { TeamService } from '../team/service.js';
import { ActivityService } from './activities.js';
import { anonymizePipeline } from './anonymize.js';
import { HistoryService } from './history.js';
import { Members } from './members.js';
import { OpportunityService } from './opportunities.js';
import { pipelineRoutes } from './routes.js';
import { RuleService } from './rules.js';
import { StageService } from './stages.js';

export interface Pipeline {
  stages: StageService;
  opportunities: OpportunityService;
  history: HistoryService;
  activities: ActivityService;
  rules: RuleService;
}

/** The CRM board: stages, opportunities with their history, activities and tasks, and the booking rules. */
export function pipelineModule(
  infra: Infra,
  deps: { audit: AuditService; contacts: ContactService; team: TeamService; clinic: ClinicService; scheduling: Scheduling },
): Module<{ pipeline: Pipeline }> {
  const members = new Members(deps.team);
  const stages = new StageService(infra, deps.audit);
  const opportunities = new OpportunityService(infra, deps.audit, deps.contacts, members, stages);
  const history = new HistoryService(infra, opportunities);
  const activities = new ActivityService(infra, deps.audit, deps.contacts, deps.clinic, members, opportunities);
  const rules = new RuleService(infra, deps.audit, stages, opportunities, deps.scheduling.appointments);
  const pipeline = { stages, opportunities, history, activities, rules };

  return {
    name: 'pipeline',
    services: { pipeline },
    routes: pipelineRoutes(pipeline),
    subscribers: [defineSubscriber({ name: 'pipeline-rules', events: ['appointment.created', 'appointment.updated'], handle: (event) => rules.handle(event) })],
    provides: {
      timeline: {
        pipeline_move: (ctx, contactId) => history.timeline(ctx, contactId),
        pipeline_activity: (ctx, contactId) => activities.timeline(ctx, contactId),
      },
      exportSections: {
        pipeline: async (ctx, contactId) => ({
          opportunities: await opportunities.forContact(ctx.clinicId, contactId),
          history: await history.exportFor(ctx.clinicId, contactId),
          activities: await activities.forContact(ctx.clinicId, contactId),
        }),
      },
      anonymizers: [(tx, ctx, contactId) => anonymizePipeline(tx, ctx, contactId)],
      dependents: [async (clinicId, contactId) => (await opportunities.hasAny(clinicId, contactId)) || (await activities.hasAny(clinicId, contactId))],
    },
  };
}
