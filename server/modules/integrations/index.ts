import type { Infra } from '../../infra/index.js';
import type { AnyJobDef } from '../../infra/queue.js';
import type { RouteDef } from '../../http/route.js';
import { n8nWebhookRoutes } from './routes.js';
import { IntegrationService } from './service.js';
import { WebhookInbox } from './webhooks.js';

export interface Integrations {
  connections: IntegrationService;
  inbox: WebhookInbox;
}

/** Connections, the inbound webhook inbox and the providers' webhook routes. */
export function createIntegrations(infra: Infra): { integrations: Integrations; routes: RouteDef[]; jobs: AnyJobDef[] } {
  const connections = new IntegrationService(infra);
  // N8N events need no work beyond being stored and marking the connection alive; later providers add theirs.
  const inbox = new WebhookInbox(infra, connections, {});
  return { integrations: { connections, inbox }, routes: n8nWebhookRoutes(inbox), jobs: inbox.jobs() };
}
