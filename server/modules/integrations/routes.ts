import { z } from 'zod';
import { webhookRoute, type RouteDef } from '../../http/route.js';
import { verifyStandardWebhook } from './standard-webhooks.js';
import type { WebhookInbox } from './webhooks.js';

const n8nEvent = z.looseObject({ type: z.string().min(1).max(100) });

/** Events an N8N flow sends back to the clinic, signed the Standard Webhooks way. */
export const n8nWebhookRoutes = (inbox: WebhookInbox): RouteDef[] => [
  webhookRoute({
    method: 'post',
    path: '/webhooks/n8n/:ref',
    summary: 'Inbound event from an N8N flow (Standard Webhooks signature); stored, answered, then processed by a job',
    tag: 'Integrations',
    provider: 'n8n',
    verify: verifyStandardWebhook,
    schemas: { body: n8nEvent },
    response: z.object({ received: z.literal(true), duplicate: z.boolean() }),
    handler: async ({ ctx, body, req }) => {
      // Verified above: the id is part of what was signed.
      const externalId = req.get('webhook-id') as string;
      const { duplicate } = await inbox.receive(ctx, { externalId, type: body.type, payload: body });
      return { received: true, duplicate };
    },
  }),
];
