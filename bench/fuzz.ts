/**
 * The stateful API fuzzer of test/http/fuzz.test.ts with a long budget: `npm run bench -- fuzz`
 * (FUZZ_RUNS, default 3000; FUZZ_SEED, default a new one each run, printed so a finding can be
 * replayed). Embedded mode unless TEST_DATABASE_URL / TEST_REDIS_URL are set, as for the tests.
 * Not a speed figure: it fails when the fuzzer finds a 5xx, another clinic's ids, or a lost or
 * twice-sent message; it prints how many operations were answered with a 2xx.
 */
import { spawnSync } from 'node:child_process';

const runs = process.env.FUZZ_RUNS ?? '3000';
const seed = process.env.FUZZ_SEED ?? String(Date.now() % 2_147_483_647);
console.log(`fuzz: ${runs} chains, seed ${seed} (replay with FUZZ_SEED=${seed} FUZZ_RUNS=${runs} npx vitest run test/http/fuzz.test.ts)`);
const result = spawnSync('npx', ['vitest', 'run', 'test/http/fuzz.test.ts'], { stdio: 'inherit', env: { ...process.env, FUZZ_RUNS: runs, FUZZ_SEED: seed } });
process.exit(result.status ?? 1);
