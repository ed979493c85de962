import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../server/infra/logger.js';
import { requestLogger } from '../../server/http/request-log.js';

function appWithCapturedLog() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const app = express();
  app.use(requestLogger(app, createLogger({ level: 'info', destination }), { quietPaths: ['/api/health'] }));
  app.get('/api/health', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/work', (req, res) => {
    req.log.info({ step: 'inside' }, 'working');
    res.json({ id: req.id });
  });
  // Express routes ignore case: every spelling of a token path reaches the same handler.
  app.get(['/api/public/anamnesis/:token', '/api/files/content/:token'], (_req, res) => void res.json({}));
  app.get('/boom', (_req, res) => void res.status(500).json({}));
  const settled = () => new Promise((resolve) => setTimeout(resolve, 20));
  return { app, lines, settled };
}

describe('request log', () => {
  it('keeps a well-formed incoming X-Request-Id, stamps it on every line and echoes it', async () => {
    const { app, lines, settled } = appWithCapturedLog();
    const res = await request(app).get('/work?cpf=12345678909').set('X-Request-Id', 'alb-trace.1:2').set('Cookie', 'opb.sid=secret-session');
    await settled();
    expect(res.headers['x-request-id']).toBe('alb-trace.1:2');
    expect(res.body.id).toBe('alb-trace.1:2');
    expect(lines.find((l) => l.msg === 'working')).toMatchObject({ reqId: 'alb-trace.1:2', step: 'inside' });
    expect(lines.find((l) => l.msg === 'request completed')).toMatchObject({ reqId: 'alb-trace.1:2', method: 'GET', url: '/work', status: 200, level: 'info' });
    // Neither the query string nor any header reaches the log.
    expect(JSON.stringify(lines)).not.toMatch(/12345678909|secret-session/);
  });

  it('replaces a malformed request id with a fresh UUID', async () => {
    const { app } = appWithCapturedLog();
    const res = await request(app).get('/work').set('X-Request-Id', 'bad id with spaces "&" ${x}');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs server errors at error level and leaves healthy health checks out', async () => {
    const { app, lines, settled } = appWithCapturedLog();
    await request(app).get('/api/health').expect(200);
    await request(app).get('/boom').expect(500);
    await settled();
    expect(lines.map((l) => [l.url, l.level])).toEqual([['/boom', 'error']]);
  });

  it('masks the token of public paths in any letter case', async () => {
    const { app, lines, settled } = appWithCapturedLog();
    for (const url of ['/api/public/anamnesis/tok-aaa', '/api/Public/anamnesis/tok-bbb', '/API/PUBLIC/ANAMNESIS/tok-ccc', '/api/Files/Content/tok-ddd?x=1']) {
      await request(app).get(url).expect(200);
    }
    await settled();
    expect(JSON.stringify(lines)).not.toMatch(/tok-/);
    expect(lines.map((l) => l.url)).toEqual(['/api/public/anamnesis/[redacted]', '/api/Public/anamnesis/[redacted]', '/API/PUBLIC/ANAMNESIS/[redacted]', '/api/Files/Content/[redacted]']);
  });
});
