import type { Infra } from '../../infra/index.js';
import type { Module, Providers } from '../module.js';
import { n8nWebhookRoutes } from './routes.js';
import { IntegrationService } from './service.js';
import { WebhookInbox } from './webhooks.js';

export interface Integrations {
  connections: IntegrationService;
  inbox: WebhookInbox;
}

/** Connections, the inbound webhook inbox and the providers' webhook routes. */
export function integrationsModule(infra: Infra, deps: { providers: Providers }): Module<{ integrations: Integrations }> {
  const connections = new IntegrationService(infra);
  // Each provider's module gives its processor (`provides.webhookProcessors`); N8N events need none
  // beyond being stored and marking the connection alive.
  const inbox = new WebhookInbox(infra, connections, deps.providers);
  return { name: 'integrations', services: { integrations: { connections, inbox } }, routes: n8nWebhookRoutes(inbox), jobs: inbox.jobs() };
}
