import type { Infra } from '../../infra/index.js';
import type { ContactService } from '../contacts/service.js';
import type { FileService } from '../files/service.js';
import type { WebhookInbox } from '../integrations/webhooks.js';
import type { WebhookConnections } from '../../http/route.js';
import type { Module } from '../module.js';
import { WhatsappContacts } from './contacts.js';
import { WhatsappHistory } from './history.js';
import { WhatsappIngest, type ConnectionEventHandler } from './ingest.js';
import { WhatsappMedia, type MediaDownloader } from './media.js';
import type { Whatsapp } from './module.js';
import type { ConnectionEvent } from './state.js';
import { evolutionWebhookRoutes } from './webhook.js';

export interface IngestionDeps {
  contacts: ContactService;
  files: FileService;
  integrations: { inbox: WebhookInbox; connections: WebhookConnections };
  whatsapp: Whatsapp;
}

/** `connection.update` `{state, statusReason, wuid}` / `qrcode.updated` `{qrcode}` or the QR limit answer, for the numbers' state machine. */
export function connectionEventOf(name: 'connection.update' | 'qrcode.updated', data: Record<string, unknown>): ConnectionEvent | undefined {
  if (name === 'qrcode.updated') {
    if (data.qrcode && typeof data.qrcode === 'object') return { state: 'qr' };
    return typeof data.message === 'string' && /limit/i.test(data.message) ? { state: 'refused', reason: 'qr_limit_reached' } : undefined;
  }
  const state = data.state;
  if (state !== 'connecting' && state !== 'open' && state !== 'close' && state !== 'refused') return undefined;
  const reason = typeof data.statusReason === 'number' || typeof data.statusReason === 'string' ? data.statusReason : null;
  return { state, reason, ...(typeof data.wuid === 'string' ? { phone: data.wuid } : {}) };
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
  const { numbers, channels } = deps.whatsapp;
  const connectionEvents: ConnectionEventHandler = async (scope, number, name, data) => {
    const event = connectionEventOf(name, data);
    if (event) await numbers.applyConnectionEvent(scope.clinicId, number.id, event);
  };
  // Any state: a medium received just before a disconnect is still fetched once it reconnects (retries).
  const download: MediaDownloader = async (scope, numberId, externalId) => (await channels.forNumber(scope.clinicId, numberId, { anyState: true })).client.downloadMedia(externalId);
  const who = new WhatsappContacts(infra, deps.contacts);
  const ingest = new WhatsappIngest(infra, who, deps.whatsapp.lookup, connectionEvents);
  const media = new WhatsappMedia(infra, deps.files, download);
  const history = new WhatsappHistory(infra);
  return {
    name: 'whatsapp-ingestion',
    services: { whatsappIngestion: { ingest, media, history } },
    routes: evolutionWebhookRoutes(deps.whatsapp.lookup, deps.integrations),
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
