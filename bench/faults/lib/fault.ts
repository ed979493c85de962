// One fault script's frame: the stack up, the clinic set up, the load running, the fault injected,
// the load kept on until past the recovery bound, then the invariants checked.
import { check, Harness, sleep } from '../../../scripts/rehearsal/harness.js';
import type { Instance } from '../../../scripts/rehearsal/instance.js';
import { setUpClinic, type FaultClinic } from './clinic.js';
import { LoadDriver, type DriverOptions } from './driver.js';
import { checkInvariants, type FaultWindow } from './invariants.js';
import { buildCurrent, FaultStack, type AppBuild } from './stack.js';

export interface FaultContext {
  h: Harness;
  stack: FaultStack;
  clinic: FaultClinic;
  driver: LoadDriver;
  instances: Instance[];
  short: boolean;
}

export interface FaultSpec {
  name: string;
  title: string;
  instances?: number;
  /** Builds to start, in order (the deploy fault starts an older one); this checkout by default. */
  build?: (stack: FaultStack) => Promise<AppBuild>;
  env?: Record<string, string>;
  assistant?: boolean;
  driver?: DriverOptions;
  /** Bound for the stored work (queues, outbox, sends) to be done after the fault; the checks return as soon as it is. */
  recoveryMs: (short: boolean) => number;
  /** Bound for requests to be answered normally again: 10 s, 8 s in the short form. */
  answersBackMs?: (short: boolean) => number;
  allowLostConnections?: boolean;
  /** Injects the fault under load and ends it; returns what happened and, when it is not now, when the fault ended. */
  inject: (ctx: FaultContext) => Promise<{ detail: string; end?: number }>;
  /** Checks of this fault beyond the shared invariants. */
  checks?: (ctx: FaultContext, window: FaultWindow) => Promise<void>;
}

const WARM_MS = 3000;
const running = new Set<Harness>();

/** On SIGINT/SIGTERM: the running faults' cleanups (instances, Postgres, Redis, work folders), then exit. */
export function cleanUpOnSignals(also: () => void) {
  const stop = async () => {
    also();
    await Promise.all([...running].map((h) => h.cleanup()));
    process.exit(130);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

export async function runFault(spec: FaultSpec, short: boolean): Promise<boolean> {
  const h = new Harness(`fault ${spec.name}`);
  running.add(h);
  try {
    let ctx: FaultContext | undefined;
    const ready = await h.step(`${spec.name}: stack up (private Postgres and Redis, fakes, ${spec.instances ?? 1} instance(s) in production mode), clinic set up`, async () => {
      const stack = await FaultStack.start(h, spec.name, spec.env);
      const build = await (spec.build ?? buildCurrent)(stack);
      const instances = await stack.startInstances(spec.instances ?? 1, build);
      const clinic = await setUpClinic(stack, { assistant: spec.assistant });
      const driver = new LoadDriver(stack, clinic, instances.map((i) => i.url), spec.driver);
      ctx = { h, stack, clinic, driver, instances, short };
      return `${build.label}: ${instances.map((i) => `${i.name} ${i.url}`).join(', ')}; ${clinic.conversationIds.length} conversations on one open number`;
    });
    if (!ready || !ctx) return h.summary();
    const c = ctx;
    const recoveryMs = spec.recoveryMs(short);
    let window: FaultWindow | undefined;
    await h.step(`${spec.name}: ${spec.title}${short ? ' (short form)' : ''}, under load`, async () => {
      c.driver.start(c.instances[0]?.url as string);
      await sleep(WARM_MS);
      const start = Date.now();
      const { detail, end } = await spec.inject(c);
      window = { start, end: end ?? Date.now(), answersBackMs: spec.answersBackMs?.(short) ?? (short ? 8_000 : 10_000), recoveryMs };
      // Keep the load on past the answers' bound: the answers after it must all succeed.
      await sleep(Math.max(0, window.end + window.answersBackMs + 3000 - Date.now()));
      await c.driver.stop(recoveryMs + 30_000);
      return detail;
    });
    if (window) {
      await h.step('no instance crashed', async () => {
        const crashed = c.stack.instances.filter((i) => i.crashed);
        check(crashed.length === 0, `${crashed.map((i) => i.name).join(', ')} exited by itself: ${crashed.map((i) => i.tail(6)).join('\n')}`);
        return `${c.stack.live().length} instance(s) running`;
      });
      await checkInvariants(h, c.stack, c.clinic, c.driver, window, { allowLostConnections: spec.allowLostConnections });
      await spec.checks?.(c, window);
      await h.step('no error logged by an instance outside the fault', async () => {
        const w = window as FaultWindow;
        const lines = c.stack.instances.flatMap((i) => i.logs().filter((l) => l.level >= 50 && ((l.time as number) < w.start - 1000 || (l.time as number) > w.end + w.recoveryMs)).map((l) => `${i.name}: ${l.msg}`));
        check(lines.length === 0, `${lines.length} error lines: ${[...new Set(lines)].slice(0, 5).join(' | ')}`);
        return 'none';
      });
    }
    c.driver.closeSocket();
    const passed = h.summary();
    if (!passed) process.stdout.write(`\n${c.stack.tails()}\n`);
    return passed;
  } finally {
    running.delete(h);
    await h.cleanup();
  }
}
