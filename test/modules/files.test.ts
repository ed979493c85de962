import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { files } from '../../shared/schema/index.js';
import { LocalStorage } from '../../server/infra/storage.js';
import { buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { anonymous, createClinic, type TestClinic } from '../helpers/clinic.js';
import { FakeSupabaseStorage } from '../fakes/supabase-storage.js';

const PDF = Buffer.from('%PDF-1.4\nlaudo de teste\n%%EOF');

async function upload(clinic: TestClinic, data = PDF, contentType = 'application/pdf', filename = 'laudo.pdf') {
  return clinic.admin.agent.post('/api/files').attach('file', data, { filename, contentType });
}

/** Follows the redirect of GET /api/files/:id by hand and returns the signed location. */
async function signedLocation(clinic: TestClinic, id: string): Promise<string> {
  const res = await clinic.receptionist.agent.get(`/api/files/${id}`).redirects(0);
  expect(res.status).toBe(302);
  return res.headers.location as string;
}

describe('files on local disk', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await getTestApp();
  });

  it('uploads, redirects to a signed URL that serves the bytes, and deletes', async () => {
    const clinic = await createClinic({ app });
    const res = await upload(clinic);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ filename: 'laudo.pdf', contentType: 'application/pdf', size: PDF.length });
    expect(res.body.sha256).toMatch(/^[0-9a-f]{64}$/);

    const location = await signedLocation(clinic, res.body.id);
    expect(location).toMatch(/^\/api\/files\/content\//);
    // The signed URL alone is enough (no session): it is what a browser follows.
    const content = await anonymous(app).get(location).buffer(true);
    expect(content.status).toBe(200);
    expect(Buffer.from(content.body as Buffer).equals(PDF)).toBe(true);
    expect(content.headers['content-disposition']).toContain('laudo.pdf');
    expect(content.headers['cache-control']).toContain('no-store');

    const del = await clinic.admin.agent.delete(`/api/files/${res.body.id}`);
    expect(del.status).toBe(204);
    expect((await clinic.admin.agent.get(`/api/files/${res.body.id}`).redirects(0)).status).toBe(404);
    expect((await anonymous(app).get(location)).status).toBe(404);
    expect(await app.infra.db.select().from(files).where(eq(files.id, res.body.id))).toEqual([]);
  });

  it('refuses files over 25 MB (413) and types outside the list (415), storing nothing', async () => {
    const clinic = await createClinic({ app });
    const big = await upload(clinic, Buffer.alloc(25 * 1024 * 1024 + 1, 1));
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
    const exe = await upload(clinic, Buffer.from('MZ'), 'application/x-msdownload', 'virus.exe');
    expect(exe.status).toBe(415);
    expect(exe.body.error.code).toBe('unsupported_file_type');
    const json = await clinic.admin.agent.post('/api/files').send({ file: 'x' });
    expect(json.status).toBe(415);
    const empty = await clinic.admin.agent.post('/api/files').field('other', 'x');
    expect(empty.status).toBe(400);
    expect(await app.infra.db.select().from(files).where(eq(files.clinicId, clinic.id))).toEqual([]);
  });

  it('answers 404 for an expired or forged link and for another clinic’s file', async () => {
    const [clinic, other] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const res = await upload(clinic);
    const location = await signedLocation(clinic, res.body.id);
    const [, token = ''] = /content\/(.+)$/.exec(location) ?? [];
    const [payload, signature = ''] = token.split('.');
    const forged = `${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await anonymous(app).get(`/api/files/content/${forged}`)).status).toBe(404);
    expect((await anonymous(app).get(`/api/files/content/${'x'.repeat(40)}`)).status).toBe(404);

    const storage = app.infra.storage as LocalStorage;
    const expired = await storage.signedUrl(`${clinic.id}/${res.body.id}`, -5, 'laudo.pdf');
    expect((await anonymous(app).get(expired)).status).toBe(404);

    const foreign = await other.admin.agent.get(`/api/files/${res.body.id}`).redirects(0);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('not_found');
    expect((await other.admin.agent.delete(`/api/files/${res.body.id}`)).status).toBe(404);
    // Still there for its own clinic.
    expect((await clinic.admin.agent.get(`/api/files/${res.body.id}`).redirects(0)).status).toBe(302);
  });
});

describe('files on Supabase Storage (fake server speaking its API)', () => {
  const SERVICE_KEY = 'service-role-key-for-tests';
  let storage: FakeSupabaseStorage;
  let app: TestApp;

  beforeAll(async () => {
    storage = await new FakeSupabaseStorage(SERVICE_KEY).start();
    app = await buildTestApp({ env: { SUPABASE_URL: storage.url, SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY, SUPABASE_STORAGE_BUCKET: 'clinica-arquivos' } });
  });
  afterAll(async () => {
    await app.close();
    await storage.stop();
  });

  it('stores in the private bucket, redirects to a signed URL that serves the bytes, and deletes', async () => {
    expect(app.infra.storage.kind).toBe('supabase');
    const clinic = await createClinic({ app });
    const res = await upload(clinic, Buffer.from('\x89PNG imagem'), 'image/png', 'raio-x.png');
    expect(res.status).toBe(201);
    const key = `clinica-arquivos/${clinic.id}/${res.body.id}`;
    expect(storage.objects.get(key)?.contentType).toBe('image/png');

    const location = await signedLocation(clinic, res.body.id);
    expect(location.startsWith(`${storage.url}/storage/v1/object/sign/clinica-arquivos/${clinic.id}/${res.body.id}?token=`)).toBe(true);
    const download = await fetch(location);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).toString()).toBe('\x89PNG imagem');
    expect(download.headers.get('content-disposition')).toContain('raio-x.png');

    // Another clinic gets 404 and no URL is signed for it.
    const other = await createClinic({ app });
    const signs = storage.requests.filter((r) => r.path.startsWith('/storage/v1/object/sign/') && r.method === 'POST').length;
    expect((await other.admin.agent.get(`/api/files/${res.body.id}`).redirects(0)).status).toBe(404);
    expect(storage.requests.filter((r) => r.path.startsWith('/storage/v1/object/sign/') && r.method === 'POST').length).toBe(signs);

    expect((await clinic.admin.agent.delete(`/api/files/${res.body.id}`)).status).toBe(204);
    expect(storage.objects.has(key)).toBe(false);
    expect((await fetch(location)).status).toBe(400);
  });

  it('a wrong service key is refused by the storage server and the upload fails without a row', async () => {
    const wrong = await buildTestApp({ env: { SUPABASE_URL: storage.url, SUPABASE_SERVICE_ROLE_KEY: 'not-the-key' } });
    try {
      const clinic = await createClinic({ app: wrong });
      const res = await upload(clinic);
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(res.body.error.code).toBe('internal_error');
      expect(JSON.stringify(res.body)).not.toContain('Supabase');
      expect(await wrong.infra.db.select().from(files).where(eq(files.clinicId, clinic.id))).toEqual([]);
    } finally {
      await wrong.close();
    }
  });
});
