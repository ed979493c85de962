/**
 * A clinic's busy day as load, for benches and fault scripts (bench/clinic-day.ts, bench/soak.ts):
 *
 *   const day = await ClinicDay.start({ users: 1000, instances: 1 }); // stack + seed + samplers
 *   await day.rampUp();            // users sign in and open sockets; webhooks and pushes start
 *   await day.hold(600);           // steady phase (a fault script injects its fault meanwhile)
 *   const result = await day.finish();   // stop the load, drain, check invariants
 *   console.log(report(result));   // table and PASS/FAIL against the targets
 *   await day.stop();              // processes, nginx, database and Redis keys removed
 *
 * `day.stack` has the instances (pid, url, logs), the fakes and the database URL; `day.stats`
 * the latencies so far. Every piece is in its own file of this folder.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { startInbound, type InboundOptions } from './inbound.js';
import { checkInvariants, type Invariants } from './invariants.js';
import { Sampler } from './sampler.js';
import { seedClinics, type Seeded } from './seed.js';
import { startStack, type Stack, type StackOptions } from './stack.js';
import { LoadStats, quantile } from './stats.js';
import { postgresCpuSeconds } from '../process.js';
import { startUsers } from './users.js';
import type { LogLine } from '../../../scripts/rehearsal/instance.js';

export { report, verdicts, type Verdict } from './report.js';

const IDLE_SECONDS = 10;

export interface ClinicDayOptions extends StackOptions {
  users: number;
  /** Seconds over which users sign in (default: 10 a second, 10 s to 120 s). */
  rampSeconds?: number;
  usersPerClinic?: number;
  inbound?: InboundOptions;
  /** Cores the load generator (this process) runs on; default [1]. */
  generatorCpus?: number[];
  sampleEveryMs?: number;
  log?: (line: string) => void;
}

export interface ClinicDayResult {
  options: ClinicDayOptions;
  stack: Stack;
  steadySeconds: number;
  /** Epoch ms the steady phase began (samples before it are the ramp's). */
  steadyFrom: number;
  rampSeconds: number;
  stats: LoadStats;
  rampStats: LoadStats;
  sampler: Sampler;
  invariants: Invariants;
  usersStarted: number;
  userStartFailures: number;
  socketErrors: number;
  socketEvents: number;
  /** Server CPU seconds in the steady phase, all instances. */
  serverCpuSeconds: number;
  /** Postgres's CPU seconds in the steady phase (every local postgres process). */
  postgresCpuSeconds: number;
  /** The instances' own timing of their answers in the steady phase (request log), ms. */
  serverLatency: { count: number; p50: number; p95: number; p99: number };
  /** Share of a core the instances used idle, before any user (queues, relay, probes, scrapes). */
  idleCpuShare: number;
  loadAverage: number[];
  /** The instances' error lines (a 5xx's cause), summarised: what to read first when a verdict fails. */
  errorLogs: string[];
}

export class ClinicDay {
  readonly stats = new LoadStats();
  readonly rampStats = new LoadStats();
  private users?: ReturnType<typeof startUsers>;
  private inbound?: ReturnType<typeof startInbound>;
  private steadyAt = 0;
  private steadyFrom = 0;
  private idleCpuShare = 0;
  private rampSeconds = 0;
  private cpuAtSteady = 0;
  private postgresCpuAtSteady = 0;

  private constructor(
    readonly options: ClinicDayOptions,
    readonly stack: Stack,
    readonly seeded: Seeded,
    readonly sampler: Sampler,
  ) {}

  static async start(options: ClinicDayOptions): Promise<ClinicDay> {
    const log = options.log ?? ((line: string) => console.log(line));
    // The generator keeps off the server's core (taskset on this very process).
    spawnSync('taskset', ['-a', '-p', '-c', (options.generatorCpus ?? [1]).join(','), String(process.pid)], { stdio: 'ignore' });
    const stack = await startStack(options);
    try {
      log(`stack: ${stack.instances.length} instance(s) ${stack.instances.map((i) => `pid ${i.pid}`).join(', ')}${stack.nginx ? ` behind nginx ${stack.url}` : ''}; database ${new URL(stack.databaseUrl).pathname.slice(1)}`);
      const seeded = await seedClinics(stack, { users: options.users, usersPerClinic: options.usersPerClinic, log });
      const sampler = new Sampler(stack, options.sampleEveryMs);
      await sampler.start();
      return new ClinicDay(options, stack, seeded, sampler);
    } catch (err) {
      await stack.stop();
      throw err;
    }
  }

  private serverCpu() {
    return this.sampler.instances.length === 0 ? 0 : this.stack.instances.reduce((sum, i) => sum + (this.sampler.instances.filter((s) => s.instance === i.name).at(-1)?.cpuSeconds ?? 0), 0);
  }

  /** Patients write first (conversations to answer), then users sign in over the ramp; returns when all are working. */
  async rampUp() {
    const log = this.options.log ?? ((line: string) => console.log(line));
    // The idle baseline: what the instances spend with nobody on them.
    await this.sampler.sample();
    const idleFrom = this.serverCpu();
    await this.hold(IDLE_SECONDS);
    await this.sampler.sample();
    this.idleCpuShare = (this.serverCpu() - idleFrom) / IDLE_SECONDS;
    this.inbound = startInbound(this.stack, this.seeded, this.stats, this.options.inbound);
    await this.inbound.prime(3);
    const rampSeconds = this.options.rampSeconds ?? Math.min(120, Math.max(10, this.options.users / 10));
    const rampAt = performance.now();
    this.users = startUsers(this.seeded, { count: this.options.users, base: this.stack.url, rampSeconds, rampStats: this.rampStats, stats: this.stats });
    await this.users.ramp;
    this.rampSeconds = (performance.now() - rampAt) / 1000;
    log(`ramp: ${this.users.started} users signed in with a socket in ${this.rampSeconds.toFixed(0)} s, paced over ${rampSeconds} s (${this.users.startFailures} failed)`);
    await this.sampler.sample();
    this.steadyAt = performance.now();
    this.steadyFrom = Date.now();
    this.cpuAtSteady = this.serverCpu();
    this.postgresCpuAtSteady = postgresCpuSeconds();
    // What the ramp recorded of the steady routes belongs to the ramp.
    this.stats.moveTo(this.rampStats);
  }

  async hold(seconds: number) {
    await new Promise((r) => setTimeout(r, seconds * 1000));
  }

  async finish(): Promise<ClinicDayResult> {
    if (!this.users || !this.inbound) throw new Error('rampUp() first');
    const steadySeconds = (performance.now() - this.steadyAt) / 1000;
    await this.sampler.sample();
    const serverCpuSeconds = this.serverCpu() - this.cpuAtSteady;
    const postgresCpu = postgresCpuSeconds() - this.postgresCpuAtSteady;
    const steadyTo = Date.now();
    this.stats.pause();
    await Promise.all([this.users.stop(), this.inbound.stop()]);
    const invariants = await checkInvariants(this.stack, this.users.ledger, this.inbound.ledger);
    await this.sampler.stop();
    const logs = this.stack.instances.map((i) => ({ name: i.name, lines: i.logs() }));
    const answered = logs
      .flatMap((l) => l.lines)
      .filter((l) => l.msg === 'request completed' && typeof l.ms === 'number' && Number(l.time) >= this.steadyFrom && Number(l.time) <= steadyTo)
      .map((l) => l.ms as number)
      .sort((a, b) => a - b);
    return {
      options: this.options,
      stack: this.stack,
      steadySeconds,
      steadyFrom: this.steadyFrom,
      rampSeconds: this.rampSeconds,
      stats: this.stats,
      rampStats: this.rampStats,
      sampler: this.sampler,
      invariants,
      usersStarted: this.users.started,
      userStartFailures: this.users.startFailures,
      socketErrors: this.users.ledger.socketErrors,
      socketEvents: this.users.ledger.socketEvents,
      serverCpuSeconds,
      postgresCpuSeconds: postgresCpu,
      serverLatency: { count: answered.length, p50: quantile(answered, 0.5), p95: quantile(answered, 0.95), p99: quantile(answered, 0.99) },
      idleCpuShare: this.idleCpuShare,
      loadAverage: os.loadavg(),
      errorLogs: logs.flatMap((l) => l.lines.filter((line) => line.level >= 50).map((line) => `${l.name}: ${errorSummary(line)}`)),
    };
  }

  stop() {
    return this.stack.stop();
  }
}

function errorSummary(line: LogLine): string {
  const err = line.err as { type?: string; code?: string; message?: string } | undefined;
  const cause = err ? ` ${err.type ?? 'Error'}${err.code ? ` ${err.code}` : ''}: ${(err.message ?? '').slice(0, 200)}` : '';
  return `${line.msg}${line.requestId ? ` (request ${String(line.requestId)})` : ''}${cause}`;
}
