import { describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { errorForLog } from '../../server/infra/logger.js';
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
