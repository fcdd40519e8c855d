import type { ConfigInput, RunSummary, TaskSpecInput } from '@orc/shared';
import { sleep, type BenchDaemon, type ProcIo } from '../bench-daemon.js';
import { waitForRun } from '../run-watch.js';

export interface MeasuredRun {
  runId: string;
  summary: RunSummary;
  /** From the `runs.start` call to the run's `finishedAt`, in ms. */
  wallMs: number;
  /** What the daemon wrote for this run, once its writes settled. */
  io: ProcIo;
  /** Bytes of the run's folder on disk at the end. */
  diskBytes: number;
  /** CPU the daemon used between the start and the end of the run, in ms. */
  cpuMs: number;
}

/** Zero-latency simulated model on 16 workers: only the engine, the store and the RPC layer cost time. */
export const ZERO_LATENCY: ConfigInput = {
  execution: { max_workers: 16 },
  simulated: { seed: 6, latency_ms: { min: 0, max: 0 } },
};

/**
 * Starts a run on the daemon, waits for it to finish, then for the daemon's writes to settle, and
 * returns the wall time and the daemon's write counters over the run.
 */
export async function measuredRun(
  daemon: BenchDaemon,
  tasks: TaskSpecInput[],
  config: ConfigInput,
  timeoutMs: number,
): Promise<MeasuredRun> {
  const before = daemon.io();
  const cpuBefore = daemon.cpuMs();
  const started = Date.now();
  const { id } = await daemon.client.trpc.runs.start.mutate({ tasks, config, source: 'bench' });
  const summary = await waitForRun(daemon.client, id, { timeoutMs, pollMs: 25 });
  const wallMs = Date.parse(summary.finishedAt ?? summary.updatedAt) - started;
  const cpuMs = daemon.cpuMs() - cpuBefore;
  const after = await settledIo(daemon);
  return {
    runId: id,
    summary,
    wallMs,
    io: {
      wchar: after.wchar - before.wchar,
      syscw: after.syscw - before.syscw,
      writeBytes: after.writeBytes - before.writeBytes,
    },
    diskBytes: daemon.runDirBytes(id),
    cpuMs,
  };
}

/** The daemon's write counters once they stop moving (coalesced saves and checkpoints land late). */
async function settledIo(daemon: BenchDaemon): Promise<ProcIo> {
  let last = daemon.io();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    await sleep(300);
    const now = daemon.io();
    if (now.wchar === last.wchar && now.syscw === last.syscw) return now;
    last = now;
  }
  return last;
}
