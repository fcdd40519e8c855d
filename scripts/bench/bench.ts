import type { CaseContext } from './cases/case-context.js';
import { chaosCase } from './cases/chaos.js';
import { fanOutCase } from './cases/fan-out.js';
import { hostileClientCase } from './cases/hostile-client.js';
import { historyCase } from './cases/history.js';
import { largeRunCases } from './cases/large-run.js';
import { liveScreenCase } from './cases/live-screen.js';
import { makespanCase } from './cases/makespan.js';
import { promptCacheCase } from './cases/prompt-cache.js';
import { rateLimitCase } from './cases/rate-limit.js';
import { sharedLimitCase } from './cases/shared-limit.js';
import { recoveryCase } from './cases/recovery.js';
import { touchesCase } from './cases/touches.js';
import { scaleCase } from './cases/scale.js';
import { scaleOutCase } from './cases/scale-out.js';
import { CASE_NAMES, machineInfo, type BenchReport, type CaseName, type CaseResult } from './report.js';

export interface BenchOptions {
  quick: boolean;
  /** Only these cases (all by default). */
  only?: readonly CaseName[];
  keep?: boolean;
  profileDir?: string;
  log?: (line: string) => void;
}

/**
 * The cases, in the order the table shows them. Cases that share a run are produced together, so the
 * 10,000-task run behind overhead, persistence and reattach is paid for once.
 */
const GROUPS: { cases: readonly CaseName[]; run: (ctx: CaseContext) => Promise<CaseResult[]> }[] = [
  { cases: ['makespan'], run: async (ctx) => [await makespanCase(ctx)] },
  { cases: ['overhead', 'persistence', 'reattach'], run: largeRunCases },
  { cases: ['touches'], run: async (ctx) => [await touchesCase(ctx)] },
  { cases: ['fan-out'], run: async (ctx) => [await fanOutCase(ctx)] },
  { cases: ['recovery'], run: async (ctx) => [await recoveryCase(ctx)] },
  { cases: ['scale'], run: async (ctx) => [await scaleCase(ctx)] },
  { cases: ['live screen'], run: async (ctx) => [await liveScreenCase(ctx)] },
  { cases: ['history'], run: async (ctx) => [await historyCase(ctx)] },
  { cases: ['rate limit'], run: async (ctx) => [await rateLimitCase(ctx)] },
  { cases: ['shared limit'], run: async (ctx) => [await sharedLimitCase(ctx)] },
  { cases: ['prompt cache'], run: async (ctx) => [await promptCacheCase(ctx)] },
  { cases: ['hostile client'], run: async (ctx) => [await hostileClientCase(ctx)] },
  { cases: ['chaos'], run: async (ctx) => [await chaosCase(ctx)] },
  { cases: ['scale out'], run: async (ctx) => [await scaleOutCase(ctx)] },
];

/** Runs the benchmark cases, one daemon (and state dir) per group, and returns every figure. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const started = Date.now();
  const ctx: CaseContext = {
    quick: options.quick,
    keep: options.keep ?? false,
    log: options.log ?? (() => undefined),
    ...(options.profileDir !== undefined && { profileDir: options.profileDir }),
  };
  const wanted = new Set<CaseName>(options.only ?? CASE_NAMES);
  const results: CaseResult[] = [];
  for (const group of GROUPS) {
    if (!group.cases.some((name) => wanted.has(name))) continue;
    for (const result of await group.run(ctx)) if (wanted.has(result.name)) results.push(result);
  }
  results.sort((a, b) => CASE_NAMES.indexOf(a.name) - CASE_NAMES.indexOf(b.name));
  return {
    quick: options.quick,
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    machine: machineInfo(),
    cases: results,
  };
}
