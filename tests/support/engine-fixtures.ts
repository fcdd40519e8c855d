import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  OrcEvent,
  ZERO_USAGE,
  loadConfig,
  type ConfigInput,
  type FinalReview,
  type LoadedConfig,
  type Plan,
  type ProviderName,
  type TaskReview,
  type TaskSpecInput,
  type Usage,
} from '@orc/shared';
import {
  CallCancelledError,
  createOrchestrator,
  seededRandom,
  type Clock,
  type ModelProvider,
  type ModelPurpose,
  type ModelRequest,
  type ModelResponse,
  type Orchestrator,
  type OrchestratorOptions,
} from '@orc/daemon';

/**
 * Fakes and helpers for engine tests: a scripted model provider that records what it is asked, a seeded
 * random task graph, a counting wrapper for any provider, a manual clock, and temp state directories.
 */

/** One call a fake provider received, with the task it is about when the prompt names one. */
export interface RecordedCall {
  purpose: ModelPurpose;
  taskId: string | undefined;
  /** 1-based count of calls with this purpose and task so far (the first review of t3 is 1). */
  n: number;
  request: ModelRequest;
  /** Set when the caller's signal aborted while the call was in flight. */
  aborted: boolean;
}

/** An answer: text, or text with usage. Throw (e.g. a ModelError) from the script to fail the call. */
export type ScriptedAnswer = string | { text: string; usage?: Usage; stopReason?: string };

export interface ScriptedProviderOptions {
  name?: ProviderName;
  /** Default: a plan of two independent tasks. */
  plan?: (call: RecordedCall) => ScriptedAnswer | Plan;
  /** Default: `result of <task> #<n>`. */
  work?: (call: RecordedCall) => ScriptedAnswer;
  /** Default: accept. */
  review?: (call: RecordedCall) => ScriptedAnswer | TaskReview;
  /** Default: success. */
  finalReview?: (call: RecordedCall) => ScriptedAnswer | FinalReview;
  /** Usage reported for a successful call with no usage of its own (default: zero). */
  usage?: (call: RecordedCall) => Usage;
  /** Real milliseconds each call takes before it answers (default 0). */
  latencyMs?: number | ((call: RecordedCall) => number);
}

export interface ScriptedProvider extends ModelProvider {
  readonly calls: readonly RecordedCall[];
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Calls of one purpose (and task). */
  callsFor(purpose: ModelPurpose, taskId?: string): RecordedCall[];
  /** From now on calls wait (before answering) until `release()`; a waiting call still sees its signal. */
  hold(): void;
  release(): void;
  /** Resolves once `count` calls are in flight at the same time. */
  whenInFlight(count: number, timeoutMs?: number): Promise<void>;
}

export const DEFAULT_TEST_PLAN: Plan = {
  summary: 'Two independent tasks.',
  tasks: [
    { id: 'a', title: 'First part', description: 'Do the first part.', dependencies: [], priority: 'medium' },
    {
      id: 'b',
      title: 'Second part',
      description: 'Do the second part.',
      dependencies: [],
      priority: 'medium',
    },
  ],
};

/** The task a work or review prompt is about (`# Task <id>:` / `result for task <id>:`). */
export function taskIdOf(request: ModelRequest): string | undefined {
  const match =
    /^# Task (\S+): /m.exec(request.prompt) ??
    /^Review the worker's result for task (\S+): /m.exec(request.prompt);
  return match?.[1];
}

export function createScriptedProvider(options: ScriptedProviderOptions = {}): ScriptedProvider {
  const calls: RecordedCall[] = [];
  const seen = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  const inFlightWaiters = new Set<() => void>();

  const answerOf = (call: RecordedCall): ScriptedAnswer => {
    switch (call.purpose) {
      case 'plan': {
        const plan = options.plan?.(call) ?? DEFAULT_TEST_PLAN;
        return isPlain(plan) ? plan : JSON.stringify(plan);
      }
      case 'work':
        return options.work?.(call) ?? `result of ${call.taskId ?? '?'} #${call.n}`;
      case 'review': {
        const review = options.review?.(call) ?? { verdict: 'accept', feedback: 'Looks right.' };
        return isPlain(review) ? review : JSON.stringify(review);
      }
      case 'final-review': {
        const review = options.finalReview?.(call) ?? {
          verdict: 'success',
          summary: 'Everything was done.',
          followUps: [],
        };
        return isPlain(review) ? review : JSON.stringify(review);
      }
    }
  };

  const provider: ScriptedProvider = {
    name: options.name ?? 'anthropic',
    get calls() {
      return calls;
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    callsFor: (purpose, taskId) =>
      calls.filter((c) => c.purpose === purpose && (taskId === undefined || c.taskId === taskId)),
    hold() {
      if (gate) return;
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
    },
    release() {
      gate?.open();
      gate = undefined;
    },
    whenInFlight: (count, timeoutMs = 5000) =>
      waitFor(() => inFlight >= count, inFlightWaiters, timeoutMs, `${count} calls in flight`),
    async complete(request) {
      const taskId = taskIdOf(request);
      const key = `${request.purpose}|${taskId ?? ''}`;
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      const call: RecordedCall = { purpose: request.purpose, taskId, n, request, aborted: false };
      calls.push(call);
      if (request.signal.aborted) {
        call.aborted = true;
        throw new CallCancelledError('the call was cancelled before it started');
      }
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      for (const wake of inFlightWaiters) wake();
      const onAbort = () => (call.aborted = true);
      request.signal.addEventListener('abort', onAbort, { once: true });
      try {
        const latency = typeof options.latencyMs === 'function' ? options.latencyMs(call) : options.latencyMs;
        if (latency) await abortable(delay(latency), request.signal);
        if (gate) await abortable(gate.promise, request.signal);
        const answer = answerOf(call);
        const text = typeof answer === 'string' ? answer : answer.text;
        request.onText?.(text);
        return {
          text,
          usage:
            (typeof answer === 'string' ? undefined : answer.usage) ?? options.usage?.(call) ?? ZERO_USAGE,
          stopReason: (typeof answer === 'string' ? undefined : answer.stopReason) ?? 'end_turn',
        };
      } finally {
        inFlight -= 1;
        request.signal.removeEventListener('abort', onAbort);
      }
    },
  };
  return provider;
}

/** A provider that passes every call to `inner` and counts the calls in flight. */
export interface CountingProvider extends ModelProvider {
  readonly inFlight: number;
  readonly maxInFlight: number;
  readonly total: number;
}

export function countingProvider(inner: ModelProvider): CountingProvider {
  let inFlight = 0;
  let maxInFlight = 0;
  let total = 0;
  return {
    name: inner.name,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get total() {
      return total;
    },
    async complete(request): Promise<ModelResponse> {
      inFlight += 1;
      total += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await inner.complete(request);
      } finally {
        inFlight -= 1;
      }
    },
  };
}

/**
 * A random task graph, the same for the same seed: `size` tasks `t1…tN`, each depending on up to
 * `maxDeps` earlier tasks among the `window` before it (so the graph is deep as well as wide).
 */
export function randomDag(
  seed: number,
  size: number,
  options: { maxDeps?: number; window?: number } = {},
): TaskSpecInput[] {
  const random = seededRandom(seed);
  const maxDeps = options.maxDeps ?? 3;
  const window = options.window ?? 40;
  const priorities = ['critical', 'high', 'medium', 'low'] as const;
  const tasks: TaskSpecInput[] = [];
  for (let i = 1; i <= size; i++) {
    const deps = new Set<string>();
    const want = Math.floor(random() * (maxDeps + 1));
    for (let k = 0; k < want && i > 1; k++) {
      const back = 1 + Math.floor(random() * Math.min(window, i - 1));
      deps.add(`t${i - back}`);
    }
    tasks.push({
      id: `t${i}`,
      title: `Task ${i}`,
      description: `Step ${i} of the generated graph.`,
      dependencies: [...deps],
      priority: priorities[Math.floor(random() * priorities.length)]!,
    });
  }
  return tasks;
}

/** A clock that only moves when told; sleeps resolve when `advance` passes their deadline. */
export class ManualClock implements Clock {
  private time: number;
  private readonly sleepers: { until: number; resolve: () => void }[] = [];
  /** Every `sleep` asked for, in ms. */
  readonly sleeps: number[] = [];

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const sleeper = { until: this.time + ms, resolve };
      this.sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers.splice(this.sleepers.indexOf(sleeper), 1);
          reject(signal.reason as Error);
        },
        { once: true },
      );
      this.wake();
    });
  }

  advance(ms: number): void {
    this.time += ms;
    this.wake();
  }

  private wake(): void {
    for (const sleeper of [...this.sleepers]) {
      if (sleeper.until <= this.time) {
        this.sleepers.splice(this.sleepers.indexOf(sleeper), 1);
        sleeper.resolve();
      }
    }
  }
}

/** A temp state directory (never the real home); `remove()` deletes it. */
export async function tempHome(
  prefix = 'orc-engine-',
): Promise<{ home: string; remove: () => Promise<void> }> {
  const home = await mkdtemp(join(tmpdir(), prefix));
  return { home, remove: () => rm(home, { recursive: true, force: true }) };
}

/** An orchestrator on a temp home whose manager and workers are one fake provider. */
export interface TestEngine {
  home: string;
  orchestrator: Orchestrator;
  /** Closes the orchestrator (aborting what is in flight) and deletes the home. */
  close(): Promise<void>;
}

export async function openTestEngine(
  options: {
    provider?: ModelProvider;
    config?: ConfigInput;
    home?: string;
  } & Pick<OrchestratorOptions, 'retryBaseMs' | 'clock'> = {},
): Promise<TestEngine> {
  const temp = options.home === undefined ? await tempHome() : undefined;
  const home = options.home ?? temp!.home;
  const provider = options.provider;
  const orchestrator = await createOrchestrator({
    home,
    loaded: testConfig(home, { models: { provider: 'simulated' }, ...options.config }),
    retryBaseMs: options.retryBaseMs ?? 1,
    ...(options.clock && { clock: options.clock }),
    ...(provider && { providers: () => provider }),
  });
  return {
    home,
    orchestrator,
    async close() {
      await orchestrator.close(0);
      await temp?.remove();
    },
  };
}

/** Config from defaults and `overrides` only: no user config, no environment beyond `env`. */
export function testConfig(
  home: string,
  overrides: ConfigInput = {},
  env: NodeJS.ProcessEnv = {},
): LoadedConfig {
  return loadConfig({ env, cwd: home, skipUserConfig: true, overrides });
}

/** Every event in a run's `events.jsonl`, parsed; a torn last line (a crash mid-append) is left out. */
export async function readJournal(home: string, runId: string): Promise<OrcEvent[]> {
  let text: string;
  try {
    text = await readFile(join(home, 'runs', runId, 'events.jsonl'), 'utf8');
  } catch {
    return [];
  }
  const events: OrcEvent[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    try {
      events.push(OrcEvent.parse(JSON.parse(line)));
    } catch (error) {
      if (i === lines.length - 1) break;
      throw error;
    }
  }
  return events;
}

/** Every file under a directory with its contents, for "nothing changed" and "no secret" checks. */
export async function readTree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (path: string, rel: string): Promise<void> => {
    const info = await stat(path).catch(() => undefined);
    if (!info) return;
    // A file or folder can vanish between the stat and the read (a temp file renamed over its target,
    // a finished run's segment deleted): it is read as absent, as a stat that came later would have.
    if (info.isDirectory()) {
      const names = await readdir(path).catch(absentIfGone);
      for (const name of (names ?? []).sort()) await walk(join(path, name), rel ? `${rel}/${name}` : name);
    } else {
      const text = await readFile(path, 'utf8').catch(absentIfGone);
      if (text !== undefined) out.set(rel, text);
    }
  };
  await walk(dir, '');
  return out;
}

/**
 * The tree once background writes have stopped (coalesced document saves and checkpoints can land after
 * a run has settled): two reads `quietMs` apart that agree.
 */
export async function quietTree(dir: string, quietMs = 60, timeoutMs = 5000): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  let last = await readTree(dir);
  for (;;) {
    await delay(quietMs);
    const next = await readTree(dir);
    if (sameTree(last, next) || Date.now() > deadline) return next;
    last = next;
  }
}

function absentIfGone(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw error;
}

function sameTree(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([path, text]) => b.get(path) === text);
}

/** Polls `check` until it holds (real time); rejects naming `what` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

function isPlain(value: unknown): value is ScriptedAnswer {
  return typeof value === 'string' || (typeof value === 'object' && value !== null && 'text' in value);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new CallCancelledError('the call was cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new CallCancelledError('the call was cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function waitFor(
  check: () => boolean,
  waiters: Set<() => void>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(wake);
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const wake = () => {
      if (!check()) return;
      clearTimeout(timer);
      waiters.delete(wake);
      resolve();
    };
    waiters.add(wake);
  });
}

export { seededRandom };
