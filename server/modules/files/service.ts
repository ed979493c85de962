import { createHash, randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { files } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { notFound } from '../../lib/errors.js';
import type { AuditScope, AuditService } from '../audit/service.js';
import type { Providers } from '../module.js';

export const MAX_FILE_BYTES = 25 * 1024 * 1024;
export const ALLOWED_FILE_TYPES = [
  'application/pdf',
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/heic',
  'text/plain',
  'audio/ogg',
  'audio/mpeg',
  'video/mp4',
  'application/msword',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
] as const;
/** Signed download links live just long enough for the redirect to be followed. */
const SIGNED_URL_SECONDS = 60;

export interface UploadedFile {
  originalname: string;
  mimetype: string;
  size: number;
  buffer: Buffer;
}

/**
 * A feature that links files to its rows (medical records) may refuse reading or deleting them;
 * it throws an AppError to refuse. Files do not know which features use them.
 */
export type FileAccessGuard = (ctx: TenantContext, fileId: string, operation: 'read' | 'delete') => Promise<void>;

const columns = {
  id: files.id,
  filename: files.filename,
  contentType: files.contentType,
  size: files.size,
  sha256: files.sha256,
  createdAt: files.createdAt,
};

export class FileService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly providers: Pick<Providers, 'fileAccessGuards'>,
  ) {}

  /** Throws the first refusal of a feature that links this file (a medical record attachment). */
  async checkGuards(ctx: TenantContext, fileId: string, operation: 'read' | 'delete') {
    for (const guard of this.providers.fileAccessGuards) await guard(ctx, fileId, operation);
  }

  /** `ctx` may be a job's (actor null): WhatsApp media are stored by the media job. */
  async upload(ctx: AuditScope & { requestId?: string | null }, file: UploadedFile) {
    const id = randomUUID();
    // Keys never contain user input: the name lives in the database only.
    const storageKey = `${ctx.clinicId}/${id}`;
    await this.infra.storage.put(storageKey, file.buffer, file.mimetype);
    const filename = file.originalname.replace(/[\\/\r\n"]/g, '_').slice(0, 200) || 'arquivo';
    const row = await new ClinicData(ctx.clinicId, this.infra.db).transaction(async (data, tx) => {
      const [inserted] = await data
        .insert(files, {
          id,
          storageKey,
          filename,
          contentType: file.mimetype,
          size: file.size,
          sha256: createHash('sha256').update(file.buffer).digest('hex'),
          uploadedBy: ctx.actor?.type === 'user' ? ctx.actor.userId : null,
        })
        .returning(columns);
      if (!inserted) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'file.uploaded', entityType: 'file', entityId: id, details: { size: file.size, contentType: file.mimetype } }, tx);
      await this.infra.events.publish(tx, 'file.created', { id, filename, contentType: inserted.contentType, size: inserted.size }, ctx);
      return inserted;
    });
    return row;
  }

  async get(clinicId: string, id: string) {
    const [row] = await new ClinicData(clinicId, this.infra.db).pick({ ...columns, storageKey: files.storageKey }, files, eq(files.id, id));
    if (!row) throw notFound('File');
    return row;
  }

  async downloadUrl(ctx: TenantContext, id: string): Promise<string> {
    const file = await this.get(ctx.clinicId, id);
    await this.checkGuards(ctx, id, 'read');
    await this.audit.record(ctx, { action: 'file.downloaded', entityType: 'file', entityId: id });
    return this.infra.storage.signedUrl(file.storageKey, SIGNED_URL_SECONDS, file.filename);
  }

  async remove(ctx: TenantContext, id: string) {
    const file = await this.get(ctx.clinicId, id);
    await this.checkGuards(ctx, id, 'delete');
    await new ClinicData(ctx.clinicId, this.infra.db).transaction(async (data, tx) => {
      await data.delete(files, eq(files.id, id));
      await this.audit.record(ctx, { action: 'file.deleted', entityType: 'file', entityId: id }, tx);
      await this.infra.events.publish(tx, 'file.deleted', { id }, ctx);
    });
    await this.infra.storage.delete(file.storageKey);
  }
}
