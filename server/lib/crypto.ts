import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for secrets at rest (OAuth refresh tokens, Evolution instance keys). The key is the
 * SHA-256 of ENCRYPTION_KEY (a random string of 32+ characters); the output carries its version,
 * so the scheme can change without breaking stored values.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(private readonly encryptionKey: string) {
    this.key = createHash('sha256').update(encryptionKey).digest();
  }

  /** A key of its own for another use of ENCRYPTION_KEY (HKDF-SHA256, one label per use). */
  deriveKey(label: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.encryptionKey, 'operabase', label, 32));
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }

  /** Throws when the value was not sealed with this key or was altered. */
  open(sealed: string): string {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('Unknown sealed value format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }
}
