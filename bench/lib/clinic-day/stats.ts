// Per-route latency samples and status counts of a load run, kept in memory (a 10-minute run of
// 1,000 users is about 70,000 samples: plain arrays are enough).

export interface RouteFigures {
  route: string;
  count: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Answers by status class or cause: '2xx', '4xx' (unexpected), '409' (an expected conflict), '5xx', 'error' (no answer). */
  statuses: Record<string, number>;
}

export const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

export class LoadStats {
  private readonly samples = new Map<string, number[]>();
  private readonly statuses = new Map<string, Record<string, number>>();
  /** Unexpected answers, a few of each kind, for the report. */
  readonly examples: string[] = [];
  private recording = true;

  /** Moves what was recorded so far into `into` (the ramp's share of the steady routes goes to the ramp). */
  moveTo(into: LoadStats) {
    for (const [route, list] of this.samples) into.samples.set(route, [...(into.samples.get(route) ?? []), ...list]);
    for (const [route, counts] of this.statuses) {
      const target = into.statuses.get(route) ?? {};
      for (const [kind, n] of Object.entries(counts)) target[kind] = (target[kind] ?? 0) + n;
      into.statuses.set(route, target);
    }
    into.examples.push(...this.examples.slice(0, Math.max(0, 20 - into.examples.length)));
    this.samples.clear();
    this.statuses.clear();
    this.examples.length = 0;
  }

  /** Stops recording (the drain after the load is not part of the figures). */
  pause() {
    this.recording = false;
  }

  record(route: string, ms: number, status: number | 'error', expected: readonly number[] = [], detail = '') {
    if (!this.recording) return;
    const kind = status === 'error' ? 'error' : expected.includes(status) ? String(status) : `${Math.floor(status / 100)}xx`;
    const counts = this.statuses.get(route) ?? {};
    counts[kind] = (counts[kind] ?? 0) + 1;
    this.statuses.set(route, counts);
    if (kind !== '2xx' && !expected.includes(status as number) && this.examples.length < 20) this.examples.push(`${route}: ${status} ${detail.slice(0, 200)}`);
    const list = this.samples.get(route) ?? [];
    list.push(ms);
    this.samples.set(route, list);
  }

  count(kind: string): number {
    let n = 0;
    for (const counts of this.statuses.values()) n += counts[kind] ?? 0;
    return n;
  }

  figures(seconds: number): RouteFigures[] {
    return [...this.samples.entries()]
      .map(([route, list]) => {
        const sorted = [...list].sort((a, b) => a - b);
        return {
          route,
          count: sorted.length,
          perSecond: sorted.length / seconds,
          p50: quantile(sorted, 0.5),
          p95: quantile(sorted, 0.95),
          p99: quantile(sorted, 0.99),
          max: sorted.at(-1) ?? 0,
          statuses: this.statuses.get(route) ?? {},
        };
      })
      .sort((a, b) => b.count - a.count);
  }

  /** All routes together. */
  overall(seconds: number): Omit<RouteFigures, 'route' | 'statuses'> {
    const all = [...this.samples.values()].flat();
    all.sort((a, b) => a - b);
    return { count: all.length, perSecond: all.length / seconds, p50: quantile(all, 0.5), p95: quantile(all, 0.95), p99: quantile(all, 0.99), max: all.at(-1) ?? 0 };
  }
}
