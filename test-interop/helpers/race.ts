// The keep-alive race harness: lanes of clients that idle for gaps spread across
// the moment the server really closes an idle connection, then send again.
export interface RaceOutcome {
  tries: number;
  ok: number;
  /** Requests that went over a connection reused after the gap. */
  reused: number;
  errors: Array<{ lane: number; code: string }>;
  statuses: Record<number, number>;
}

export interface Lane {
  /** One request; resolves with the status and whether the connection was reused. */
  send(): Promise<{ status: number; reused: boolean }>;
  close(): Promise<void>;
}

export async function raceHarness(
  makeLane: (n: number) => Lane,
  { lanes, triesPerLane, gapMs, spreadMs }: { lanes: number; triesPerLane: number; gapMs: number; spreadMs: number },
): Promise<RaceOutcome> {
  const outcome: RaceOutcome = { tries: 0, ok: 0, reused: 0, errors: [], statuses: {} };
  await Promise.all(
    Array.from({ length: lanes }, async (_, n) => {
      const lane = makeLane(n);
      try {
        await lane.send(); // opens the connection
        for (let i = 0; i < triesPerLane; i++) {
          const gap = gapMs + (Math.random() * 2 - 1) * spreadMs;
          await new Promise((r) => setTimeout(r, gap));
          outcome.tries++;
          try {
            const { status, reused } = await lane.send();
            outcome.statuses[status] = (outcome.statuses[status] ?? 0) + 1;
            if (status < 500) outcome.ok++;
            if (reused) outcome.reused++;
          } catch (err) {
            outcome.errors.push({ lane: n, code: (err as NodeJS.ErrnoException).code ?? String(err) });
          }
        }
      } finally {
        await lane.close();
      }
    }),
  );
  return outcome;
}
