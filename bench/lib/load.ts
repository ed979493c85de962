import autocannon from 'autocannon';

export interface Stage {
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** CPU the server process spent, in seconds: per request, it holds up on a noisy host where req/s does not. */
  serverCpu: number;
}

/**
 * Load with connections ramped stage by stage (a saturated Node accepts only so many new
 * connections a second; opening hundreds at once measures the accept queue, not the server).
 * Every answer must be 2xx: a fast 401 would flatter the figure.
 */
export async function ramp(url: string, headers: Record<string, string>, stages: number[], seconds: number, serverCpu: () => number): Promise<Stage[]> {
  const out: Stage[] = [];
  for (const connections of stages) {
    const cpuBefore = serverCpu();
    const result = await autocannon({ url, connections, duration: seconds, headers, pipelining: 1 });
    const cpu = serverCpu() - cpuBefore;
    if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
      throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts at ${connections} connections`);
    }
    out.push({ connections, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total, serverCpu: cpu });
  }
  return out;
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
