import { describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { Writable } from 'node:stream';
import { createLogger, errorForLog } from '../../server/infra/logger.js';
import { getTestApp } from '../helpers/app.js';

describe('errorForLog', () => {
  it('keeps the driver message and code of a failed query but none of its parameters', async () => {
    const app = await getTestApp();
    const cpf = '39053344705';
    const err = await app.infra.db
      .execute(sql`select ${cpf}::text as cpf, ${'não-é-data'}::date as d`)
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeDefined();
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).toContain(cpf);
    const logged = JSON.stringify(errorForLog(err));
    expect(logged).not.toContain(cpf);
    expect(logged).toContain('22007');
  });
});

describe('logger', () => {
  it('redacts secrets and health data at the top level and one level down', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({ level: 'info', destination });
    log.info({ password: 'senha-secreta', patient: { cpf: '39053344705' }, req: { headers: { cookie: 'opb.sid=abc' } }, clinicId: 'c1' }, 'teste');
    const [line] = lines;
    expect(line).toContain('"clinicId":"c1"');
    expect(line).not.toMatch(/senha-secreta|39053344705|opb\.sid=abc/);
  });
});
