import { z } from 'zod';
import { isoTimestamp } from '../../../shared/api/common.js';
import { AppError, notFound } from '../../lib/errors.js';
import { publicRoute, route, uuidParam } from '../../http/route.js';
import { LocalStorage, type Storage } from '../../infra/storage.js';
import { ALLOWED_FILE_TYPES, MAX_FILE_BYTES, type FileService } from './service.js';

const fileResponse = z.object({
  id: z.uuid(),
  filename: z.string(),
  contentType: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  createdAt: isoTimestamp,
});
const tag = 'Files';

export const fileRoutes = (filesService: FileService, storage: Storage) => [
  route({
    method: 'post',
    path: '/files',
    summary: `Upload a file (multipart field "file", up to ${MAX_FILE_BYTES / 1024 / 1024} MB)`,
    tag,
    access: 'files:write',
    status: 201,
    upload: { field: 'file', maxBytes: MAX_FILE_BYTES, types: ALLOWED_FILE_TYPES },
    response: fileResponse,
    handler: async ({ ctx, req }) => {
      if (!req.file) throw new AppError(400, 'file_required', 'Send the file in the multipart field "file"');
      return filesService.upload(ctx, req.file);
    },
  }),
  route({
    method: 'get',
    path: '/files/:id',
    summary: 'Redirect to a short-lived signed URL of the file',
    tag,
    access: 'files:read',
    status: 302,
    schemas: { params: uuidParam },
    handler: async ({ ctx, params, res }) => {
      res.redirect(302, await filesService.downloadUrl(ctx, params.id));
      return undefined;
    },
  }),
  route({
    method: 'delete',
    path: '/files/:id',
    summary: 'Delete a file',
    tag,
    access: 'files:write',
    schemas: { params: uuidParam },
    handler: async ({ ctx, params }) => filesService.remove(ctx, params.id),
  }),
  publicRoute({
    method: 'get',
    path: '/files/content/:token',
    summary: 'File bytes behind a signed URL (local storage only; Supabase serves its own)',
    tag,
    schemas: { params: z.strictObject({ token: z.string().min(20).max(2000) }) },
    handler: async ({ params, res }) => {
      const signed = storage instanceof LocalStorage ? storage.verify(params.token) : null;
      if (!signed || !(storage instanceof LocalStorage)) throw notFound('File');
      const data = await storage.read(signed.key).catch(() => null);
      if (!data) throw notFound('File');
      res.attachment(signed.downloadName);
      res.set('Cache-Control', 'private, no-store');
      res.send(data);
      return undefined;
    },
  }),
];
