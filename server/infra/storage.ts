import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StorageClient } from '@supabase/storage-js';

export interface Storage {
  readonly kind: 'local' | 'supabase';
  put(key: string, data: Buffer, contentType: string): Promise<void>;
  /** The stored bytes, or null when there is no such object. */
  read(key: string): Promise<Buffer | null>;
  /** A URL valid for `expiresInSeconds`; local URLs are relative to the API's origin. */
  signedUrl(key: string, expiresInSeconds: number, downloadName: string): Promise<string>;
  delete(key: string): Promise<void>;
}

export function createStorage(opts: {
  dataDir: string;
  signingKey: string;
  supabase: { url?: string; serviceRoleKey?: string; bucket: string };
}): Storage {
  if (opts.supabase.url && opts.supabase.serviceRoleKey) {
    return new SupabaseStorage(opts.supabase.url, opts.supabase.serviceRoleKey, opts.supabase.bucket);
  }
  return new LocalStorage(path.join(opts.dataDir, 'files'), opts.signingKey);
}

/** Files on local disk, served back through `GET /api/files/content/:token` with an HMAC-signed, expiring token. */
export class LocalStorage implements Storage {
  readonly kind = 'local';

  constructor(
    private readonly root: string,
    private readonly signingKey: string,
  ) {}

  private pathOf(key: string) {
    const full = path.resolve(this.root, key);
    if (!full.startsWith(path.resolve(this.root) + path.sep)) throw new Error('Invalid storage key');
    return full;
  }

  async put(key: string, data: Buffer) {
    const full = this.pathOf(key);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, data);
  }

  async signedUrl(key: string, expiresInSeconds: number, downloadName: string) {
    const payload = Buffer.from(JSON.stringify({ k: key, e: Math.floor(Date.now() / 1000) + expiresInSeconds, n: downloadName })).toString('base64url');
    return `/api/files/content/${payload}.${this.sign(payload)}`;
  }

  /** The key and download name behind a token, or null when it is forged or expired. */
  verify(token: string): { key: string; downloadName: string } | null {
    const [payload, signature] = token.split('.');
    if (!payload || !signature) return null;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    const { k, e, n } = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { k: string; e: number; n: string };
    return e >= Date.now() / 1000 ? { key: k, downloadName: n } : null;
  }

  async read(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(key: string) {
    await rm(this.pathOf(key), { force: true });
  }

  private sign(payload: string) {
    return createHmac('sha256', this.signingKey).update(`file:${payload}`).digest('base64url');
  }
}

/** Supabase Storage: a private bucket; downloads only through short-lived signed URLs. */
export class SupabaseStorage implements Storage {
  readonly kind = 'supabase';
  private readonly client: StorageClient;

  constructor(
    url: string,
    serviceRoleKey: string,
    private readonly bucket: string,
  ) {
    this.client = new StorageClient(`${url.replace(/\/$/, '')}/storage/v1`, {
      apikey: serviceRoleKey,
      Authorization: `Bearer ${serviceRoleKey}`,
    });
  }

  async put(key: string, data: Buffer, contentType: string) {
    const { error } = await this.client.from(this.bucket).upload(key, data, { contentType, upsert: false });
    if (error) throw new Error(`Supabase Storage upload failed: ${error.message}`);
  }

  async read(key: string): Promise<Buffer | null> {
    const { data, error } = await this.client.from(this.bucket).download(key);
    if (error) {
      // Supabase answers a missing object with HTTP 400 and `statusCode: "404"` in the body.
      const { status, statusCode } = error as { status?: number; statusCode?: string };
      if (statusCode === '404' || status === 404) return null;
      throw new Error(`Supabase Storage download failed: ${error.message}`);
    }
    return Buffer.from(await data.arrayBuffer());
  }

  async signedUrl(key: string, expiresInSeconds: number, downloadName: string) {
    const { data, error } = await this.client.from(this.bucket).createSignedUrl(key, expiresInSeconds, { download: downloadName });
    if (error || !data) throw new Error(`Supabase Storage signing failed: ${error?.message ?? 'no URL'}`);
    return data.signedUrl;
  }

  async delete(key: string) {
    const { error } = await this.client.from(this.bucket).remove([key]);
    if (error) throw new Error(`Supabase Storage delete failed: ${error.message}`);
  }
}
