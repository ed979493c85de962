import { describe, expect, it } from 'vitest';
import { getTestApp } from '../../helpers/app.js';
import { anonymous } from '../../helpers/clinic.js';

describe('scheduling in the API document', () => {
  it('documents the patient and scheduling routes with their inputs', async () => {
    const app = await getTestApp();
    const res = await anonymous(app).get('/api/openapi.json');
    expect(res.status).toBe(200);
    const paths = Object.keys(res.body.paths);
    for (const p of ['/api/contacts', '/api/contacts/{id}/timeline', '/api/appointments', '/api/appointments/{id}/status', '/api/availability', '/api/appointment-tags/{id}', '/api/schedule-blocks', '/api/holidays']) {
      expect(paths).toContain(p);
    }
    const post = res.body.paths['/api/appointments'].post;
    expect(JSON.stringify(post)).toContain('Idempotency-Key');
    expect(JSON.stringify(post)).toContain('recurrence');
  }, 60_000);
});
