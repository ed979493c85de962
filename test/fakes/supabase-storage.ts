import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { LocalHttpFake } from './local-http-fake.js';

interface StoredObject {
  data: Buffer;
  contentType: string;
}

/**
 * A Supabase Storage API on 127.0.0.1 speaking the paths and shapes @supabase/storage-js uses:
 * upload `POST /storage/v1/object/{bucket}/{path}`, sign `POST /storage/v1/object/sign/{bucket}/{path}`
 * `{expiresIn}` -> `{signedURL}`, download `GET` of that URL with its token, authenticated
 * download `GET /storage/v1/object/{bucket}/{path}`, delete
 * `DELETE /storage/v1/object/{bucket}` `{prefixes}`. Every API call must carry the service key as
 * `apikey` and `Authorization: Bearer`; downloads need only the signed token.
 */
export class FakeSupabaseStorage extends LocalHttpFake {
  /** `bucket/path` -> object */
  readonly objects = new Map<string, StoredObject>();
  readonly requests: { method: string; path: string }[] = [];
  protected readonly server: Server;
  private readonly secret = randomUUID();

  constructor(readonly serviceKey: string) {
    super();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => json(res, 500, { statusCode: '500', error: 'internal', message: String(err) }));
    });
  }


  private sign(objectPath: string, expiresAt: number) {
    const payload = Buffer.from(JSON.stringify({ url: objectPath, exp: expiresAt })).toString('base64url');
    const mac = createHmac('sha256', this.secret).update(payload).digest('base64url');
    return `${payload}.${mac}`;
  }

  private verify(token: string, objectPath: string): boolean {
    const [payload, mac] = token.split('.');
    if (!payload || !mac || createHmac('sha256', this.secret).update(payload).digest('base64url') !== mac) return false;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { url: string; exp: number };
    return claims.url === objectPath && claims.exp > Date.now() / 1000;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.url);
    const path = decodeURIComponent(url.pathname);
    this.requests.push({ method: req.method ?? '', path });
    const body = await readBody(req);

    const signed = /^\/storage\/v1\/object\/sign\/(.+)$/.exec(path);
    if (req.method === 'GET' && signed?.[1]) {
      const objectPath = signed[1];
      const object = this.objects.get(objectPath);
      if (!this.verify(url.searchParams.get('token') ?? '', objectPath)) return json(res, 400, { statusCode: '400', error: 'InvalidJWT', message: 'invalid signature' });
      if (!object) return json(res, 400, { statusCode: '404', error: 'not_found', message: 'Object not found' });
      const download = url.searchParams.get('download');
      res.writeHead(200, {
        'content-type': object.contentType,
        ...(download !== null ? { 'content-disposition': `attachment; filename="${download}"` } : {}),
      });
      res.end(object.data);
      return;
    }

    if (req.headers.apikey !== this.serviceKey || req.headers.authorization !== `Bearer ${this.serviceKey}`) {
      return json(res, 400, { statusCode: '403', error: 'Unauthorized', message: 'invalid apikey or authorization' });
    }

    if (req.method === 'POST' && signed?.[1]) {
      const { expiresIn } = JSON.parse(body.toString() || '{}') as { expiresIn?: number };
      if (!this.objects.has(signed[1])) return json(res, 400, { statusCode: '404', error: 'not_found', message: 'Object not found' });
      if (typeof expiresIn !== 'number' || expiresIn < 1) return json(res, 400, { statusCode: '400', error: 'invalid', message: 'expiresIn required' });
      const token = this.sign(signed[1], Math.floor(Date.now() / 1000) + expiresIn);
      return json(res, 200, { signedURL: `/object/sign/${encodeURI(signed[1])}?token=${token}` });
    }

    const object = /^\/storage\/v1\/object\/([^/]+)(?:\/(.+))?$/.exec(path);
    if (req.method === 'POST' && object?.[1] && object[2]) {
      const key = `${object[1]}/${object[2]}`;
      if (this.objects.has(key) && req.headers['x-upsert'] !== 'true') return json(res, 400, { statusCode: '409', error: 'Duplicate', message: 'The resource already exists' });
      this.objects.set(key, { data: body, contentType: String(req.headers['content-type'] ?? 'application/octet-stream') });
      return json(res, 200, { Id: randomUUID(), Key: key });
    }
    if (req.method === 'GET' && object?.[1] && object[2]) {
      const stored = this.objects.get(`${object[1]}/${object[2]}`);
      if (!stored) return json(res, 400, { statusCode: '404', error: 'not_found', message: 'Object not found' });
      res.writeHead(200, { 'content-type': stored.contentType });
      res.end(stored.data);
      return;
    }
    if (req.method === 'DELETE' && object?.[1] && !object[2]) {
      const { prefixes } = JSON.parse(body.toString() || '{}') as { prefixes?: string[] };
      if (!Array.isArray(prefixes)) return json(res, 400, { statusCode: '400', error: 'invalid', message: 'prefixes required' });
      const removed = prefixes.filter((p) => this.objects.delete(`${object[1]}/${p}`)).map((p) => ({ name: p, bucket_id: object[1] }));
      return json(res, 200, removed);
    }
    json(res, 404, { statusCode: '404', error: 'not_found', message: `No route ${req.method} ${path}` });
  }
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
