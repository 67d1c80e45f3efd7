import type { HttpClient } from './clients.js';
import type { ServerProcess } from './server-process.js';

export interface AbResult<K extends string> {
  /** Per-request latencies (ms) per variant, all rounds together. */
  ms: Record<K, number[]>;
  /** Median of each round, per variant, in round order. */
  roundMedians: Record<K, number[]>;
  /** Connections each variant's server accepted during the measurement. */
  connections: Record<K, number>;
}

/**
 * Runs one client against each variant in turn — A B A B … for `rounds` rounds of
 * `perRound` sequential requests — after a short warm-up, so that the noise of a
 * shared machine falls on every variant alike.
 */
export async function compareAlternating<K extends string>(
  client: HttpClient,
  servers: Record<K, ServerProcess>,
  { rounds, perRound, onRound }: { rounds: number; perRound: number; onRound?: (round: number) => void },
): Promise<AbResult<K>> {
  const keys = Object.keys(servers) as K[];
  const init = <T>(f: () => T) => Object.fromEntries(keys.map((k) => [k, f()])) as Record<K, T>;
  const result: AbResult<K> = { ms: init(() => []), roundMedians: init(() => []), connections: init(() => 0) };
  for (const k of keys) await client.run(servers[k].url, 5); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const k of keys) {
      const before = (await servers[k].stats()).accepted;
      const ms = await client.run(servers[k].url, perRound);
      result.connections[k] += (await servers[k].stats()).accepted - before;
      result.ms[k].push(...ms);
      result.roundMedians[k].push([...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)]!);
    }
    onRound?.(round + 1);
  }
  return result;
}

/**
 * The median of the per-round ratios a / b: each pair was measured back to back, so
 * slow phases of a shared machine cancel out of each ratio.
 */
export function roundRatio(a: readonly number[], b: readonly number[]): number {
  const ratios = a.map((x, i) => x / b[i]!).sort((x, y) => x - y);
  return ratios[Math.floor(ratios.length / 2)]!;
}
