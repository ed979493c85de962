import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../server/lib/crypto.js';

describe('SecretBox', () => {
  const box = new SecretBox('k'.repeat(40));

  it('round-trips and never stores the plaintext', () => {
    const sealed = box.seal('refresh-token-123');
    expect(sealed).not.toContain('refresh-token-123');
    expect(box.open(sealed)).toBe('refresh-token-123');
    expect(box.seal('x')).not.toBe(box.seal('x'));
  });

  it('refuses a value altered or sealed under another key', () => {
    const sealed = box.seal('segredo');
    const parts = sealed.split('.');
    const data = Buffer.from(parts[3] as string, 'base64url');
    data[0] = (data[0] as number) ^ 1;
    expect(() => box.open([parts[0], parts[1], parts[2], data.toString('base64url')].join('.'))).toThrow();
    expect(() => new SecretBox('z'.repeat(40)).open(sealed)).toThrow();
  });
});
