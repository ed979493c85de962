import type { Infra } from '../infra/index.js';
import type { AnyJobDef } from '../infra/queue.js';
import type { RouteDef } from '../http/route.js';
import { apiKeyRoutes } from './api-keys/routes.js';
import { ApiKeyService } from './api-keys/service.js';
import { auditRoutes } from './audit/routes.js';
import { AuditService } from './audit/service.js';
import { authRoutes } from './auth/routes.js';
import { AuthService } from './auth/service.js';
import { clinicRoutes } from './clinic/routes.js';
import { contactRoutes } from './contacts/routes.js';
import { ContactService } from './contacts/service.js';
import { Timeline } from './contacts/timeline.js';
import { ClinicService } from './clinic/service.js';
import { fileRoutes } from './files/routes.js';
import { FileService } from './files/service.js';
import { anamnesisRoutes } from './anamnesis/routes.js';
import { AnamnesisService } from './anamnesis/service.js';
import { TemplateService } from './anamnesis/templates.js';
import { lgpdRoutes } from './lgpd/routes.js';
import { LgpdService } from './lgpd/service.js';
import { recordRoutes } from './records/routes.js';
import { RecordService } from './records/service.js';
import { createIntegrations, type Integrations } from './integrations/index.js';
import { platformJobs } from './platform/jobs.js';
import { realtimeSubscriber } from './realtime/subscriber.js';
import { createScheduling, type Scheduling } from './scheduling/index.js';
import { appointmentAnonymizer } from './scheduling/anonymize.js';
import { teamRoutes } from './team/routes.js';
import { TeamService } from './team/service.js';

export interface Services {
  audit: AuditService;
  auth: AuthService;
  clinic: ClinicService;
  team: TeamService;
  apiKeys: ApiKeyService;
  files: FileService;
  contacts: ContactService;
  timeline: Timeline;
  scheduling: Scheduling;
  records: RecordService;
  anamnesisTemplates: TemplateService;
  anamnesis: AnamnesisService;
  lgpd: LgpdService;
  integrations: Integrations;
}

export interface Modules {
  services: Services;
  routes: RouteDef[];
  jobs: AnyJobDef[];
}

/**
 * Every feature, wired once. A feature reaches another only through the services passed to it;
 * a new feature adds its service, routes and jobs here and nothing else changes.
 */
export function createModules(infra: Infra): Modules {
  const audit = new AuditService(infra.db);
  const auth = new AuthService(infra, audit);
  const clinic = new ClinicService(infra, audit);
  const apiKeys = new ApiKeyService(infra, audit);
  const team = new TeamService(infra, audit, apiKeys);
  const files = new FileService(infra, audit);
  const contacts = new ContactService(infra, audit);
  const timeline = new Timeline();
  // Accounts (see loadAccount) carry clinic names and zones; a member's own role change drops
  // their account synchronously (TeamService), because permissions ride on it.
  infra.events.subscribe({ name: 'account-cache', events: ['clinic.updated'], handle: (event) => auth.forgetClinic(event.clinicId) });
  infra.events.subscribe(realtimeSubscriber(infra.realtime));
  const { scheduling, routes: schedulingRoutes } = createScheduling(infra, { audit, contacts, team, clinic, timeline });
  const records = new RecordService(infra, audit, contacts, files, scheduling.appointments);
  timeline.register('medical_record', (ctx, contactId) => records.timelineItems(ctx, contactId));
  const anamnesisTemplates = new TemplateService(infra, audit);
  const anamnesis = new AnamnesisService(infra, audit, contacts, anamnesisTemplates, clinic);
  timeline.register('anamnesis', (ctx, contactId) => anamnesis.timelineItems(ctx, contactId));
  const lgpd = new LgpdService(infra, audit, contacts, records, anamnesis);
  lgpd.registerSection('appointments', (ctx, contactId) => scheduling.appointments.forContact(ctx.clinicId, contactId));
  // Every feature anonymises its own free text about the patient.
  lgpd.onAnonymize(appointmentAnonymizer(scheduling.calendars));
  lgpd.onAnonymize((tx, ctx, contactId, redact) => records.anonymize(tx, ctx, contactId, redact));
  lgpd.onAnonymize((tx, ctx, contactId, redact) => anamnesis.anonymize(tx, ctx.clinicId, contactId, redact));
  lgpd.onAnonymize((tx, ctx, _contactId, redact) => infra.events.redactPatient(tx, ctx.clinicId, redact));
  contacts.registerClinicalHistory((clinicId, contactId) => records.hasRecords(clinicId, contactId));
  contacts.registerClinicalHistory((clinicId, contactId) => anamnesis.hasResponses(clinicId, contactId));
  const { integrations, routes: integrationRoutes, jobs: integrationJobs } = createIntegrations(infra);

  return {
    services: { audit, auth, clinic, team, apiKeys, files, contacts, timeline, scheduling, records, anamnesisTemplates, anamnesis, lgpd, integrations },
    routes: [
      ...authRoutes(auth, infra.sessions, infra.realtime),
      ...clinicRoutes(clinic),
      ...teamRoutes(team, auth, infra.sessions),
      ...apiKeyRoutes(apiKeys),
      ...fileRoutes(files, infra.storage),
      ...auditRoutes(audit),
      ...contactRoutes(contacts, timeline),
      ...schedulingRoutes,
      ...recordRoutes(records),
      ...anamnesisRoutes(anamnesisTemplates, anamnesis),
      ...lgpdRoutes(lgpd),
      ...integrationRoutes,
    ],
    jobs: [...platformJobs(infra), ...auth.jobs(), ...integrationJobs],
  };
}
