import { and, eq } from 'drizzle-orm';
import { messages } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { defineJob, type AnyJobDef } from '../../infra/queue.js';
import type { TenantContext } from '../../http/context.js';
import { conflict, notFound } from '../../lib/errors.js';
import type { ContactWriter } from '../contacts/service.js';
import { ALLOWED_FILE_TYPES, MAX_FILE_BYTES, type FileService } from '../files/service.js';

declare module '../../infra/queue.js' {
  interface JobMap {
    /** Ids only: the file comes from Evolution, never through Redis. */
    'whatsapp.media': { messageId: string };
  }
}

/** Fetch tries before a medium is marked failed (backoff 1 s, 2 s, 4 s, 8 s between them). */
export const MEDIA_ATTEMPTS = 5;
/** What WhatsApp media may be stored as: the clinic's file rules (25 MB, the files module's types). */
export const MEDIA_MAX_BYTES = MAX_FILE_BYTES;
const MEDIA_TYPES: readonly string[] = ALLOWED_FILE_TYPES;

/** `/chat/getBase64FromMediaMessage` of the number's instance, through the Evolution client. */
export type MediaDownloader = (scope: { clinicId: string }, numberId: string, externalId: string) => Promise<{ mimetype: string; fileName?: string | undefined; base64: string }>;

class MediaRefused extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

const EXTENSIONS: Record<string, string> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp', 'audio/ogg': 'ogg', 'audio/mpeg': 'mp3', 'video/mp4': 'mp4', 'application/pdf': 'pdf' };

/**
 * A message's media: fetched from Evolution into the clinic's files by the `whatsapp.media` job
 * (`pending` -> `stored` with `file_id`, or `failed` after the last try or for a refused type or
 * size), `message.updated` each time. `retryMedia` starts again from a failure.
 */
export class WhatsappMedia {
  constructor(
    private readonly infra: Pick<Infra, 'db' | 'events' | 'queue'>,
    private readonly files: FileService,
    private readonly download: MediaDownloader,
  ) {}

  jobs(): AnyJobDef[] {
    return [
      defineJob({
        name: 'whatsapp.media',
        queue: 'whatsapp',
        attempts: MEDIA_ATTEMPTS,
        handler: async (data, job) => {
          if (!job.clinicId) throw new Error('media job without a clinic');
          const scope: ContactWriter = { clinicId: job.clinicId, actor: null, requestId: job.requestId };
          const clinic = new ClinicData(job.clinicId, this.infra.db);
          const [row] = await clinic
            .pick(
              { id: messages.id, externalId: messages.externalId, state: messages.mediaState, mimetype: messages.mediaMimetype, fileName: messages.mediaFileName, conversationId: messages.conversationId, numberId: messages.numberId },
              messages,
              eq(messages.id, data.messageId),
            );
          if (!row || row.state !== 'pending' || !row.externalId) return;
          await clinic.update(messages, { mediaAttempts: job.attempt }, eq(messages.id, row.id));
          try {
            const media = await this.download(scope, row.numberId, row.externalId);
            const mimetype = (media.mimetype || row.mimetype || '').split(';')[0]!.trim().toLowerCase();
            if (!MEDIA_TYPES.includes(mimetype)) throw new MediaRefused('media_type_not_allowed');
            const buffer = Buffer.from(media.base64, 'base64');
            if (buffer.length === 0) throw new Error('empty media');
            if (buffer.length > MEDIA_MAX_BYTES) throw new MediaRefused('media_too_large');
            const name = media.fileName ?? row.fileName ?? `${row.externalId}.${EXTENSIONS[mimetype] ?? 'bin'}`;
            const file = await this.files.upload(scope, { originalname: name, mimetype, size: buffer.length, buffer });
            await this.finish(scope, row, { mediaState: 'stored', fileId: file.id, error: null });
            job.log.info({ messageId: row.id, size: buffer.length }, 'whatsapp media stored');
          } catch (err) {
            const refused = err instanceof MediaRefused;
            if (!refused && job.attempt < MEDIA_ATTEMPTS) throw err;
            job.log.warn({ messageId: row.id, attempt: job.attempt, reason: refused ? err.code : (err as Error).name }, 'whatsapp media failed');
            await this.finish(scope, row, { mediaState: 'failed', error: refused ? err.code : 'media_fetch_failed' });
          }
        },
      }),
    ];
  }

  private async finish(scope: ContactWriter, row: { id: string; conversationId: string; numberId: string }, set: { mediaState: 'stored' | 'failed'; fileId?: string; error: string | null }) {
    await new ClinicData(scope.clinicId, this.infra.db).transaction(async (data, tx) => {
      const [updated] = await data
        .update(messages, { ...set, updatedAt: new Date() }, eq(messages.id, row.id), eq(messages.mediaState, 'pending'))
        .returning({ status: messages.status });
      if (updated) await this.infra.events.publish(tx, 'message.updated', { id: row.id, conversationId: row.conversationId, numberId: row.numberId, status: updated.status, mediaState: set.mediaState }, scope);
    });
  }

  /** Fetch a failed medium again (the inbox exposes it as an action); 409 unless it failed. */
  async retryMedia(ctx: TenantContext, messageId: string): Promise<{ id: string; mediaState: 'pending' }> {
    const data = new ClinicData(ctx.clinicId, this.infra.db);
    const [row] = await data.pick({ id: messages.id, state: messages.mediaState, attempts: messages.mediaAttempts, conversationId: messages.conversationId, numberId: messages.numberId, status: messages.status }, messages, eq(messages.id, messageId));
    if (!row) throw notFound('Message');
    if (row.state !== 'failed') throw conflict('media_not_failed', 'Only media that failed to download can be fetched again');
    await data.transaction(async (d, tx) => {
      const [changed] = await d.update(messages, { mediaState: 'pending', error: null, updatedAt: new Date() }, and(eq(messages.id, row.id), eq(messages.mediaState, 'failed'))).returning({ id: messages.id });
      if (!changed) throw conflict('media_not_failed', 'Only media that failed to download can be fetched again');
      await this.infra.events.publish(tx, 'message.updated', { id: row.id, conversationId: row.conversationId, numberId: row.numberId, status: row.status, mediaState: 'pending' }, ctx);
    });
    // A new job id: the first job's id is spent.
    await this.infra.queue.add('whatsapp.media', { messageId: row.id }, { jobId: `media:${row.id}:retry:${Date.now()}`, context: ctx });
    return { id: row.id, mediaState: 'pending' };
  }
}
