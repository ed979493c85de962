// What every fault script starts: app instances in production mode on a private Postgres and a
// private Redis, the fake Evolution API and the fake OpenAI as HTTP servers, all on free ports in
// one work folder, removed at the end.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../scripts/lib/free-port.js';
import { waitFor, type Harness } from '../../../scripts/rehearsal/harness.js';
import { Instance } from '../../../scripts/rehearsal/instance.js';
import { run } from '../../../scripts/rehearsal/run.js';
import { FakeEvolution } from '../../../test/fakes/evolution.js';
import { FakeOpenAI } from '../../../test/fakes/openai.js';
import { PrivatePostgres, PrivateRedis } from '../../lib/private-services.js';

export const REPO = path.resolve(import.meta.dirname, '../../..');
export const ORIGIN = 'https://app.falhas.operabase.test';

/** The app as production runs it: the esbuild bundle of a source tree (this checkout, or an older commit's). */
export interface AppBuild {
  label: string;
  command: string;
}

/** Builds this checkout's dist/ (what `npm run build` ships) once per run; FAULTS_BUILT=1: the runner built it already. */
let currentBuild: Promise<AppBuild> | undefined;
export function buildCurrent(): Promise<AppBuild> {
  const built = process.env.FAULTS_BUILT === '1' ? Promise.resolve() : run('npm', ['run', 'build', '--silent'], { cwd: REPO });
  currentBuild ??= built.then(() => ({ label: 'this checkout', command: `node ${path.join(REPO, 'dist/index.js')}` }));
  return currentBuild;
}

export class FaultStack {
  readonly instances: Instance[] = [];
  readonly secrets = { SESSION_SECRET: randomBytes(32).toString('base64url'), ENCRYPTION_KEY: randomBytes(32).toString('base64url') };
  databaseUrl = '';

  private constructor(
    readonly workDir: string,
    readonly pg: PrivatePostgres,
    readonly redis: PrivateRedis,
    readonly evo: FakeEvolution,
    readonly openai: FakeOpenAI,
    private readonly env: Record<string, string>,
  ) {}

  /** Services and fakes up, the app's database created (empty: the first instance migrates it). */
  static async start(h: Harness, name: string, env: Record<string, string> = {}): Promise<FaultStack> {
    const workDir = mkdtempSync(path.join(os.tmpdir(), `opb-fault-${name}-`));
    h.log(`work folder ${workDir}`);
    const [pg, redis, evo, openai] = await Promise.all([PrivatePostgres.start(workDir), PrivateRedis.start(workDir), new FakeEvolution().start(), new FakeOpenAI().start()]);
    const stack = new FaultStack(workDir, pg, redis, evo, openai, env);
    h.onCleanup('work folder', () => {
      if (process.env.FAULTS_KEEP !== '1') rmSync(workDir, { recursive: true, force: true });
    });
    h.onCleanup('services and fakes', async () => {
      await Promise.all([pg.stop(), redis.kill(), evo.stop().catch(() => undefined), openai.stop().catch(() => undefined)]);
    });
    h.onCleanup('instances', () => Promise.all(stack.instances.map((i) => i.stop())).then(() => undefined));
    stack.databaseUrl = await pg.createDatabase('app');
    // The fake emits connection.update and send.message on its own, as the real gateway does.
    evo.autoWebhooks = true;
    return stack;
  }

  /** An instance (not started) on a free port; the first one's URL is the public URL Evolution calls back. */
  async addInstance(name: string, build: AppBuild, env: Record<string, string> = {}): Promise<Instance> {
    // freePort() releases the port at once: two instances not yet listening could be handed the same one.
    let port = await freePort();
    while (this.instances.some((i) => i.port === port)) port = await freePort();
    const publicUrl = this.instances[0]?.url ?? `http://127.0.0.1:${port}`;
    const instance = new Instance(name, port, this.workDir, build.command, { ...this.appEnv(name, publicUrl), ...this.env, ...env }, this.workDir);
    this.instances.push(instance);
    return instance;
  }

  /** Starts `count` instances of a build together and waits until each one listens (see launch). */
  async startInstances(count: number, build: AppBuild): Promise<Instance[]> {
    const names = Array.from({ length: count }, (_, i) => String.fromCharCode(65 + this.instances.length + i));
    return Promise.all(names.map((name) => this.launch(name, build)));
  }

  /**
   * Starts an instance and waits for its own startup line on its port: another process of the
   * machine may have taken the port in between (the health check would then be answered by it).
   * Such an instance exits with EADDRINUSE and is replaced on a new port, twice at most.
   */
  async launch(name: string, build: AppBuild, env: Record<string, string> = {}): Promise<Instance> {
    for (let attempt = 1; ; attempt++) {
      const instance = await this.addInstance(name, build, env);
      instance.start();
      try {
        await instance.waitHealthy(120_000);
        await waitFor(`${name}'s startup line`, async () => {
          if (!instance.running) throw new Error(`${name} exited: ${instance.tail(3)}`);
          return instance.logs().find((l) => l.msg === 'operabase api listening' && l.port === instance.port);
        }, 10_000);
        return instance;
      } catch (err) {
        if (attempt === 3 || !instance.tail(20).includes('EADDRINUSE')) throw err;
        this.instances.splice(this.instances.indexOf(instance), 1);
      }
    }
  }

  private appEnv(name: string, publicUrl: string): Record<string, string> {
    return {
      NODE_ENV: 'production',
      APP_VERSION: 'faults',
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redis.url,
      REDIS_PREFIX: 'opb-faults:',
      ...this.secrets,
      CORS_ORIGINS: ORIGIN,
      FILE_STORAGE: 'local',
      DATA_DIR: path.join(this.workDir, `data-${name}`),
      SHUTDOWN_TIMEOUT_MS: '10000',
      LOG_LEVEL: 'info',
      PUBLIC_API_URL: publicUrl,
      EVOLUTION_API_URL: this.evo.url,
      EVOLUTION_API_KEY: this.evo.apiKey,
      EVOLUTION_TIMEOUT_MS: '5000',
      // The driver sends a few messages a second on one number; production's 1/s would only queue them.
      WHATSAPP_SEND_RATE_PER_SECOND: '20',
      WHATSAPP_PROBE_EVERY_MS: '5000',
      OPENAI_API_KEY: this.openai.apiKey,
      OPENAI_BASE_URL: this.openai.baseUrl,
    };
  }

  /** Instances whose process runs. */
  live(): Instance[] {
    return this.instances.filter((i) => i.pid && i.running);
  }

  /** The last lines of every instance's log (for a FAIL). */
  tails(): string {
    return this.instances.map((i) => `--- ${i.logFile}\n${i.tail(10)}`).join('\n');
  }
}
