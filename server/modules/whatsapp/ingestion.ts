import type { Infra } from '../../infra/index.js';
import type { ContactService } from '../contacts/service.js';
import type { FileService } from '../files/service.js';
import type { WebhookInbox } from '../integrations/webhooks.js';
import type { Module } from '../module.js';
import { WhatsappContacts } from './contacts.js';
import { WhatsappHistory } from './history.js';
import { WhatsappIngest, type ConnectionEventHandler } from './ingest.js';
import { WhatsappMedia, type MediaDownloader } from './media.js';
import { evolutionWebhookRoutes } from './webhook.js';

export interface IngestionDeps {
  contacts: ContactService;
  files: FileService;
  integrations: { inbox: WebhookInbox };
  download: MediaDownloader;
  connectionEvents?: ConnectionEventHandler;
}

export interface WhatsappIngestion {
  ingest: WhatsappIngest;
  media: WhatsappMedia;
  history: WhatsappHistory;
}

/**
 * The inbound half of WhatsApp: the Evolution webhook receivers, the processor the integrations
 * inbox job runs, the media job, and the patient's messages in timeline, export, erasure and delete.
 */
export function whatsappIngestionModule(infra: Infra, deps: IngestionDeps): Module<{ whatsappIngestion: WhatsappIngestion }> {
  const who = new WhatsappContacts(infra, deps.contacts);
  const ingest = new WhatsappIngest(infra, who, deps.connectionEvents);
  const media = new WhatsappMedia(infra, deps.files, deps.download);
  const history = new WhatsappHistory(infra);
  return {
    name: 'whatsapp-ingestion',
    services: { whatsappIngestion: { ingest, media, history } },
    routes: evolutionWebhookRoutes(infra, deps.integrations.inbox),
    jobs: [...media.jobs(), ...history.jobs()],
    provides: {
      webhookProcessors: { evolution: ingest.process },
      timeline: { message: (ctx, contactId) => history.timeline(ctx, contactId) },
      exportSections: { whatsapp: (ctx, contactId) => history.exportSection(ctx, contactId) },
      anonymizers: [(tx, ctx, contactId) => history.anonymize(tx, ctx, contactId)],
      dependents: [(clinicId, contactId) => history.hasMessages(clinicId, contactId)],
    },
  };
}
