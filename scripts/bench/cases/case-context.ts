import { startBenchDaemon, type BenchDaemon } from '../bench-daemon.js';

/** What every case is given. */
export interface CaseContext {
  /** Small versions of every case, for `npm test`: seconds, not minutes. */
  quick: boolean;
  /** Progress lines for a person watching (stderr), never part of the table. */
  log: (line: string) => void;
  /** Keep the temp state directories. */
  keep: boolean;
  /** Write a CPU profile of every daemon here (`node --cpu-prof`). */
  profileDir?: string;
}

/** How a case starts its daemon, with the run's keep and profile settings. */
export function daemonOptions(ctx: CaseContext, env: Record<string, string> = {}) {
  return { keep: ctx.keep, env, ...(ctx.profileDir !== undefined && { profileDir: ctx.profileDir }) };
}

export function elapsedSince(start: number): number {
  return (Date.now() - start) / 1000;
}

/** Runs `body` on a fresh daemon, disposed of afterwards whatever happens. */
export async function withDaemon<T>(ctx: CaseContext, body: (daemon: BenchDaemon) => Promise<T>): Promise<T> {
  const daemon = await startBenchDaemon(daemonOptions(ctx));
  try {
    return await body(daemon);
  } finally {
    await daemon.dispose();
  }
}
