// The run's table and its verdicts against issue #15's targets.
import { machine } from '../process.js';
import type { ClinicDayResult } from './index.js';
import { quantile, type LoadStats } from './stats.js';

export const TARGETS = { p95Ms: 200, p99Ms: 1000, rssMiB: 2048 } as const;

export interface Verdict {
  name: string;
  ok: boolean;
  detail: string;
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const total = (stats: LoadStats, kind: string) => stats.count(kind);

/** Per instance: max RSS, worst and median interval loop-lag p99, CPU share of the steady phase. */
export function instanceSummary(result: ClinicDayResult) {
  return result.stack.instances.map((instance) => {
    const samples = result.sampler.instances.filter((s) => s.instance === instance.name);
    // Lag of the steady phase: the ramp's sign-ins (argon2) are a burst of their own.
    const lags = samples
      .filter((s) => s.at > result.steadyFrom)
      .map((s) => s.loopLagP99Ms)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    return {
      name: instance.name,
      rssMaxMiB: Math.max(...samples.map((s) => s.rssMiB)),
      heapMaxMiB: Math.max(...samples.map((s) => s.heapUsedMiB).filter(Number.isFinite)),
      lagP99WorstMs: lags.at(-1) ?? NaN,
      lagP99MedianMs: quantile(lags, 0.5),
      sockets: Math.max(...samples.map((s) => s.sockets).filter(Number.isFinite)),
    };
  });
}

export function verdicts(result: ClinicDayResult): Verdict[] {
  const { stats, rampStats, invariants: inv } = result;
  const overall = stats.overall(result.steadySeconds);
  const rss = Math.max(...instanceSummary(result).map((i) => i.rssMaxMiB));
  const count = (kind: string) => total(stats, kind) + total(rampStats, kind);
  return [
    { name: `p95 < ${TARGETS.p95Ms} ms`, ok: overall.p95 < TARGETS.p95Ms, detail: `${ms(overall.p95)} ms over ${overall.count} requests` },
    { name: `p99 < ${TARGETS.p99Ms} ms`, ok: overall.p99 < TARGETS.p99Ms, detail: `${ms(overall.p99)} ms` },
    { name: 'zero 5xx', ok: count('5xx') === 0, detail: `${count('5xx')}` },
    { name: 'every request answered', ok: count('error') === 0 && result.userStartFailures === 0, detail: `${count('error')} without an answer, ${result.userStartFailures} users could not sign in or connect` },
    { name: 'no unexpected 4xx', ok: count('4xx') === 0, detail: `${count('4xx')}` },
    { name: 'inbound messages stored exactly once', ok: inv.inboundLost === 0 && inv.inboundDuplicated === 0, detail: `${inv.inboundAcked} acknowledged, ${inv.inboundLost} lost, ${inv.inboundDuplicated} duplicated` },
    { name: 'sends handed to the gateway exactly once', ok: inv.sendsLost === 0 && inv.sendsDuplicated === 0 && inv.sendsNotSent === 0, detail: `${inv.sendsAccepted} accepted, ${inv.sendsLost} lost, ${inv.sendsDuplicated} duplicated, ${inv.sendsNotSent} not sent` },
    { name: 'no double booking', ok: inv.doubleBookings === 0 && inv.racesWonTwice === 0, detail: `${inv.races} raced slots, ${inv.racesWonTwice} won twice, ${inv.doubleBookings} overlapping appointments` },
    { name: 'Google changes synced', ok: inv.calendarEventsMissing === 0, detail: `${inv.calendarEventsMissing} announced events not stored` },
    { name: `RSS < ${TARGETS.rssMiB} MiB`, ok: rss < TARGETS.rssMiB, detail: `${rss.toFixed(0)} MiB max` },
  ];
}

function table(stats: LoadStats, seconds: number): string[] {
  const head = `${'route'.padEnd(38)} ${'n'.padStart(7)} ${'req/s'.padStart(7)} ${'p50'.padStart(6)} ${'p95'.padStart(6)} ${'p99'.padStart(6)} ${'max'.padStart(6)}  statuses`;
  const rows = stats.figures(seconds).map(
    (f) =>
      `${f.route.padEnd(38)} ${String(f.count).padStart(7)} ${f.perSecond.toFixed(1).padStart(7)} ${ms(f.p50).padStart(6)} ${ms(f.p95).padStart(6)} ${ms(f.p99).padStart(6)} ${ms(f.max).padStart(6)}  ${Object.entries(f.statuses)
        .map(([k, n]) => `${k}:${n}`)
        .join(' ')}`,
  );
  const all = stats.overall(seconds);
  rows.push(`${'all'.padEnd(38)} ${String(all.count).padStart(7)} ${all.perSecond.toFixed(1).padStart(7)} ${ms(all.p50).padStart(6)} ${ms(all.p95).padStart(6)} ${ms(all.p99).padStart(6)} ${ms(all.max).padStart(6)}`);
  return [head, ...rows];
}

export function report(result: ClinicDayResult): string {
  const o = result.options;
  const requests = result.stats.overall(result.steadySeconds).count;
  const gen = result.sampler.generator.filter((g) => g.at > result.steadyFrom);
  const lines = [
    `clinic day: ${result.usersStarted} users (${o.instances} instance${o.instances > 1 ? 's behind nginx' : ''}), steady ${result.steadySeconds.toFixed(0)} s; ${machine()}; load average ${result.loadAverage.map((l) => l.toFixed(1)).join(' ')}`,
    '',
    'steady phase (latency in ms, as the generator saw it):',
    ...table(result.stats, result.steadySeconds),
    '',
    'ramp (sign-ins, socket handshakes, and what users did while others signed in):',
    ...table(result.rampStats, result.rampSeconds),
    '',
  ];
  for (const i of instanceSummary(result)) {
    lines.push(`instance ${i.name}: RSS max ${i.rssMaxMiB.toFixed(0)} MiB, heap used max ${i.heapMaxMiB.toFixed(0)} MiB, steady event-loop lag p99 ${ms(i.lagP99MedianMs)} ms (median window), ${ms(i.lagP99WorstMs)} ms (worst window), ${i.sockets} sockets`);
  }
  lines.push(
    `server CPU: ${result.serverCpuSeconds.toFixed(1)} s in ${result.steadySeconds.toFixed(0)} s = ${((result.serverCpuSeconds / result.steadySeconds) * 100).toFixed(0)} % of one core (idle baseline ${(result.idleCpuShare * 100).toFixed(1)} %), ${((result.serverCpuSeconds * 1000) / Math.max(1, requests)).toFixed(2)} ms per request, ${(((result.serverCpuSeconds - result.idleCpuShare * result.steadySeconds) * 1000) / Math.max(1, requests)).toFixed(2)} ms above the idle baseline`,
    `Postgres (every local postgres process, on the same two cores): ${result.postgresCpuSeconds.toFixed(1)} s = ${((result.postgresCpuSeconds / result.steadySeconds) * 100).toFixed(0)} % of one core, ${((result.postgresCpuSeconds * 1000) / Math.max(1, requests)).toFixed(2)} ms per request`,
    `as the instances timed their answers (request log, steady phase): p50 ${ms(result.serverLatency.p50)}, p95 ${ms(result.serverLatency.p95)}, p99 ${ms(result.serverLatency.p99)} ms over ${result.serverLatency.count} answers`,
    `generator (steady phase): CPU max ${(Math.max(...gen.map((g) => g.cpuShare)) * 100).toFixed(0)} % of a core, its loop lag p99 max ${ms(Math.max(...gen.map((g) => g.loopLagP99Ms)))} ms; socket events received ${result.socketEvents}, socket errors ${result.socketErrors}`,
    result.invariants.drained ? `queues drained ${result.invariants.drainSeconds.toFixed(1)} s after the load` : `queues NOT drained ${result.invariants.drainSeconds.toFixed(0)} s after the load: "lost" counts what was still queued`,
  );
  if (result.stats.examples.length + result.rampStats.examples.length > 0) lines.push('', 'unexpected answers (first few):', ...[...result.rampStats.examples, ...result.stats.examples].slice(0, 10).map((e) => `  ${e}`));
  if (result.errorLogs.length > 0) lines.push('', `errors logged by the instances (${result.errorLogs.length}, first few):`, ...result.errorLogs.slice(0, 10).map((e) => `  ${e}`));
  lines.push('');
  for (const v of verdicts(result)) lines.push(`${v.ok ? 'PASS' : 'FAIL'} ${v.name}: ${v.detail}`);
  return lines.join('\n');
}
