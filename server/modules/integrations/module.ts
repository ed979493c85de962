import type { Infra } from '../../infra/index.js';
import type { Module } from '../module.js';
import { n8nWebhookRoutes } from './routes.js';
import { IntegrationService } from './service.js';
import { WebhookInbox } from './webhooks.js';

export interface Integrations {
  connections: IntegrationService;
  inbox: WebhookInbox;
}

/** Connections, the inbound webhook inbox and the providers' webhook routes. */
export function integrationsModule(infra: Infra): Module<{ integrations: Integrations }> {
  const connections = new IntegrationService(infra);
  // N8N events need no work beyond being stored and marking the connection alive; later providers add theirs.
  const inbox = new WebhookInbox(infra, connections, {});
  return { name: 'integrations', services: { integrations: { connections, inbox } }, routes: n8nWebhookRoutes(inbox), jobs: inbox.jobs() };
}
