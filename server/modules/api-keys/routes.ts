import { z } from 'zod';
import { isoTimestamp } from '../../../shared/api/common.js';
import { API_KEY_SCOPES } from '../../lib/permissions.js';
import { route, uuidParam } from '../../http/route.js';
import type { ApiKeyService } from './service.js';

const apiKey = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  lastUsedAt: isoTimestamp.nullable(),
  createdAt: isoTimestamp,
});
const tag = 'API keys';

export const apiKeyRoutes = (keys: ApiKeyService) => [
  route({
    method: 'get',
    path: '/api-keys',
    summary: 'Active API keys of the clinic (admins); secrets are never shown again',
    tag,
    access: 'api_keys:manage',
    response: z.object({ items: z.array(apiKey) }),
    handler: async ({ ctx }) => ({ items: await keys.list(ctx.clinicId) }),
  }),
  route({
    method: 'post',
    path: '/api-keys',
    summary: 'Create a scoped API key (admins); the secret is in this answer only',
    tag,
    access: 'api_keys:manage',
    userOnly: true,
    status: 201,
    schemas: {
      body: z.strictObject({
        name: z.string().trim().min(1).max(100),
        scopes: z.array(z.enum(API_KEY_SCOPES as [string, ...string[]])).min(1).max(50),
      }),
    },
    response: apiKey.extend({ key: z.string() }),
    handler: async ({ ctx, body }) => keys.create(ctx, body),
  }),
  route({
    method: 'delete',
    path: '/api-keys/:id',
    summary: 'Revoke an API key (admins)',
    tag,
    access: 'api_keys:manage',
    schemas: { params: uuidParam },
    handler: async ({ ctx, params }) => keys.revoke(ctx, params.id),
  }),
];
