import { createHash, randomBytes } from 'node:crypto';

/** An unguessable URL-safe token (256 bits). */
export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url');
/** Tokens are stored only as their SHA-256; they are long and random, so a slow hash adds nothing. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
