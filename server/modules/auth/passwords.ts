import argon2 from 'argon2';

// OWASP's argon2id baseline (19 MiB, t=2): ~30 ms here, strong enough and cheap enough for login bursts.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string) => argon2.hash(password, OPTIONS);

/** Unknown users still pay for one verification, so timing does not reveal which emails exist. */
const DUMMY_HASH = hashPassword('operabase-timing-equaliser');

export async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash ?? (await DUMMY_HASH), password);
  } catch {
    return false;
  }
}
