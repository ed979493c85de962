import { z } from 'zod';
import { whatsappLink, whatsappNumber, whatsappNumberCreate, whatsappNumberCreated, whatsappNumberReconnected, whatsappQrQuery } from '../../../shared/api/whatsapp-numbers.js';
import { route, uuidParam } from '../../http/route.js';
import type { NumberService } from './numbers.js';

const tag = 'WhatsApp';

export const numberRoutes = (numbers: NumberService) => [
  route({
    method: 'get',
    path: '/whatsapp/numbers',
    summary: "The clinic's WhatsApp numbers and their connection state",
    tag,
    access: 'whatsapp:read',
    response: z.object({ items: z.array(whatsappNumber) }),
    handler: async ({ ctx }) => ({ items: await numbers.list(ctx) }),
  }),
  route({
    method: 'post',
    path: '/whatsapp/numbers',
    summary: 'Create a number (an Evolution instance with its webhook) and return its first QR; `professionalId` makes it private',
    tag,
    access: 'whatsapp:manage',
    status: 201,
    schemas: { body: whatsappNumberCreate },
    response: whatsappNumberCreated,
    handler: async ({ ctx, body }) => numbers.create(ctx, body),
  }),
  route({
    method: 'get',
    path: '/whatsapp/numbers/:id',
    summary: 'One number and its state',
    tag,
    access: 'whatsapp:read',
    schemas: { params: uuidParam },
    response: whatsappNumber,
    handler: async ({ ctx, params }) => numbers.get(ctx, params.id),
  }),
  route({
    method: 'get',
    path: '/whatsapp/numbers/:id/qr',
    summary: 'A QR to link the phone, or with ?phone= a pairing code; `open` when already linked',
    tag,
    access: 'whatsapp:manage',
    schemas: { params: uuidParam, query: whatsappQrQuery },
    response: whatsappLink,
    // E.164 without the plus: the digits Evolution expects in `?number=`.
    handler: async ({ ctx, params, query }) => numbers.qr(ctx, params.id, query.phone?.slice(1)),
  }),
  route({
    method: 'post',
    path: '/whatsapp/numbers/:id/reconnect',
    summary: 'Repair a number (instance recreated if gone, webhook set again) and return a QR or `open`',
    tag,
    access: 'whatsapp:manage',
    schemas: { params: uuidParam },
    response: whatsappNumberReconnected,
    handler: async ({ ctx, params }) => numbers.reconnect(ctx, params.id),
  }),
  route({
    method: 'post',
    path: '/whatsapp/numbers/:id/logout',
    summary: 'Unlink the phone; the number and its conversations stay',
    tag,
    access: 'whatsapp:manage',
    schemas: { params: uuidParam },
    response: whatsappNumber,
    handler: async ({ ctx, params }) => numbers.logout(ctx, params.id),
  }),
  route({
    method: 'delete',
    path: '/whatsapp/numbers/:id',
    summary: 'Delete a number and its Evolution instance; 409 number_has_conversations when it has history (log out instead)',
    tag,
    access: 'whatsapp:manage',
    schemas: { params: uuidParam },
    handler: async ({ ctx, params }) => numbers.remove(ctx, params.id),
  }),
];
