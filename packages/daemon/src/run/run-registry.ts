import {
  damagedHistoryFix,
  FINISHED_RUN_STATUSES,
  OrcError,
  ZERO_USAGE,
  type OrcEvent,
  type RunDamage,
  type RunSummary,
  type RunView,
  type TaskPage,
  type TaskQuery,
} from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt, WAIT_CALLED_OFF, type Clock } from '../clock.js';
import { isDamagedFileError, type DamagedFileError } from '../store/damaged-file-error.js';
import type { KeptRunDocument, RunIndexEntry } from '../store/run-document.js';
import { summarizeRun } from '../store/run-summary.js';
import type { RunStore, StoredRun } from '../store/store.js';
import type { EventBatchText } from './event-batch-text.js';
import type { FollowOptions } from './run-journal.js';
import { batchesOf, eventsOf } from './event-batches.js';
import { loadRunDocument, type LoadedRun } from './run-loader.js';
import type { Run } from './run.js';

export interface RunRegistryOptions {
  store: RunStore;
  clock: Clock;
  logger: Logger;
  /** Brings a run back from its document (with its providers, workspace and write-backs). */
  restore(doc: KeptRunDocument): Promise<Run>;
  /** Told when a finished run is let go, to finish and drop what was attached to it. */
  onUnload?(runId: string): Promise<void> | void;
  /**
   * How long a finished run stays in memory after its last use. A finished run of 100,000 tasks holds
   * about 600 MB and takes 3 s to load, so a person paging through it is served from memory, and an
   * idle daemon holds none.
   */
  idleMs?: number;
  /** Finished runs kept in memory at most, however recently used; the least recently used goes first. */
  maxIdle?: number;
  /**
   * A full garbage collection, asked for once a finished run is let go while no run is active. V8 gives
   * its heap back only after a mark-compact, and a daemon with nothing to do makes none: a 100,000-task
   * run shown and let go left ~250 MB resident until the next run (bench history: 324 MB, the idle
   * daemon 90 MB). While a run is active its own allocations bring collections anyway.
   */
  collectGarbage?(): void;
}

/** A run in memory; `leases` count the calls and streams using it, which keep it there. */
interface LiveEntry {
  kind: 'live';
  run: Run;
  leases: number;
  lastUsed: number;
  idle?: AbortController;
  damage?: RunDamage;
}
/** A finished run on disk only, known by its summary. */
interface DormantEntry {
  kind: 'dormant';
  summary: RunSummary;
  loading?: Promise<void>;
  /** The run's files being let go of; a load waits for it. */
  unloading?: Promise<void>;
}
/** A run whose files could not be read back: shown, never run, its files left as they are. */
interface DamagedEntry {
  kind: 'damaged';
  summary: RunSummary;
}
type Entry = LiveEntry | DormantEntry | DamagedEntry;

/**
 * Every run of the state directory, by id: active runs in memory; finished runs on disk, listed from
 * the index and loaded when a call needs them, then let go once unused for `idleMs`; damaged runs as
 * what is known of them and why. The daemon's start and its idle memory so do not grow with history.
 */
export class RunRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly idleMs: number;
  private readonly maxIdle: number;
  private closed = false;

  constructor(private readonly options: RunRegistryOptions) {
    this.idleMs = options.idleMs ?? 30_000;
    this.maxIdle = options.maxIdle ?? 2;
  }

  /**
   * Reads what the state directory holds. A finished run whose document looks whole stays on disk;
   * every other run is loaded, and restored (an executing run goes on by itself). A finished run that
   * writes back to a Task Master file is restored too, so a write-back a crash cut short catches up.
   */
  async open(): Promise<void> {
    const { store, logger } = this.options;
    const { runs, problems } = await store.listRuns();
    for (const problem of problems) logger.warn({ problem }, 'the run index was repaired');
    for (const stored of runs) {
      if (stored.summary && !stored.entry?.source) {
        const suspect = await this.suspect(stored.id, stored.summary);
        if (suspect === undefined) {
          this.entries.set(stored.id, { kind: 'dormant', summary: stored.summary });
          continue;
        }
        logger.warn({ runId: stored.id, suspect }, 'a finished run looks damaged; loading it');
      }
      const entry = await this.bring(stored, true);
      this.entries.set(stored.id, entry);
      // A finished run restored (to catch up its write-back) is let go like any other.
      if (entry.kind === 'live') this.considerUnload(entry);
    }
  }

  has(runId: string): boolean {
    return this.entries.has(runId);
  }

  /** A run just created. */
  add(run: Run): void {
    const entry: LiveEntry = { kind: 'live', run, leases: 0, lastUsed: this.options.clock.now() };
    this.entries.set(run.id, entry);
    this.watch(entry);
  }

  /** The runs in memory (active ones, and finished ones loaded for a call). */
  *loaded(): Iterable<Run> {
    for (const entry of this.entries.values()) if (entry.kind === 'live') yield entry.run;
  }

  summaries(): RunSummary[] {
    return [...this.entries.values()].map((entry) => this.summaryOf(entry)).sort(byCreated);
  }

  /** The run for a client; a damaged one (maybe found so by loading it now) as what is known of it. */
  async view(runId: string, full: boolean): Promise<RunView> {
    if (this.entry(runId).kind !== 'damaged') {
      try {
        return await this.use(runId, async (run, live) =>
          withDamage(await run.clientView(full), live.damage),
        );
      } catch (error) {
        if (this.entry(runId).kind !== 'damaged') throw error;
      }
    }
    return { ...this.summaryOf(this.entry(runId)), tasks: [], busyWorkers: 0 };
  }

  /** A page of the run's tasks; a damaged run has none to show. */
  async page(runId: string, query: TaskQuery): Promise<TaskPage> {
    if (this.entry(runId).kind !== 'damaged') {
      try {
        return await this.use(runId, (run) => run.taskPage(query));
      } catch (error) {
        if (this.entry(runId).kind !== 'damaged') throw error;
      }
    }
    const { lastEventId } = this.summaryOf(this.entry(runId));
    return { runId, lastEventId, offset: query.offset, total: 0, tasks: [] };
  }

  /** Runs `act` on the run, loading it first if it is on disk; a damaged run is refused. */
  async use<T>(runId: string, act: (run: Run, entry: LiveEntry) => T | Promise<T>): Promise<T> {
    const entry = await this.acquire(runId);
    try {
      return await act(entry.run, entry);
    } finally {
      this.release(entry);
    }
  }

  /**
   * The run's events after `afterId`, then live ones; the run stays in memory while they stream. A
   * damaged run's journal is replayed as far as it can be read (a hole ends the stream with where it
   * is), and nothing more comes. An unknown run throws at the call.
   */
  events(runId: string, afterId: number, signal: AbortSignal): AsyncIterable<OrcEvent> {
    this.entry(runId);
    return eventsOf(this.stream(runId, afterId, signal), signal);
  }

  /** The same stream in batches: one per group commit once live (see RunJournal.eventBatches). */
  eventBatches(
    runId: string,
    afterId: number,
    signal: AbortSignal,
    follow?: FollowOptions,
  ): AsyncIterable<EventBatchText> {
    this.entry(runId);
    return this.stream(runId, afterId, signal, follow);
  }

  /**
   * Resolves when the run has finished or waits for a person: at once for a run on disk (finished) or
   * damaged (it waits for a person already).
   */
  async settled(runId: string, signal?: AbortSignal): Promise<RunSummary> {
    if (this.entry(runId).kind === 'live') {
      try {
        return await this.use(runId, async (run, live) => withDamage(await run.settled(signal), live.damage));
      } catch (error) {
        if (this.entry(runId).kind !== 'damaged') throw error;
      }
    }
    return this.summaryOf(this.entry(runId));
  }

  /**
   * Forgets a finished or damaged run, letting go of it first if it is in memory; the caller deletes its
   * files. A run that has not finished is refused: it must be cancelled first.
   */
  async remove(runId: string): Promise<void> {
    const entry = this.entry(runId);
    if (entry.kind === 'live') {
      const { status } = entry.run.summary();
      if (!FINISHED_RUN_STATUSES.has(status)) {
        throw new OrcError(
          'INVALID_STATE',
          `run ${runId} is ${status}; cancel it first (orc cancel ${runId})`,
        );
      }
      this.entries.delete(runId);
      entry.idle?.abort(WAIT_CALLED_OFF);
      await entry.run.close(0);
      await this.options.onUnload?.(runId);
    } else {
      this.entries.delete(runId);
      if (entry.kind === 'dormant') await entry.unloading;
    }
    await this.options.store.unloadRun(runId);
  }

  /** Stops every run in memory (see Run.close); nothing is loaded any more. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    // Loads under way end first, so what they brought back is closed too.
    const loading = [...this.entries.values()].flatMap((e) =>
      e.kind === 'dormant' && e.loading ? [e.loading] : [],
    );
    await Promise.allSettled(loading);
    const live: Run[] = [];
    const unloading: Promise<void>[] = [];
    for (const entry of this.entries.values()) {
      if (entry.kind === 'live') {
        entry.idle?.abort(WAIT_CALLED_OFF);
        live.push(entry.run);
      } else if (entry.kind === 'dormant' && entry.unloading) {
        unloading.push(entry.unloading);
      }
    }
    await Promise.all([...unloading, ...live.map((run) => run.close(graceMs))]);
  }

  private async *stream(
    runId: string,
    afterId: number,
    signal: AbortSignal,
    follow?: FollowOptions,
  ): AsyncGenerator<EventBatchText> {
    const known = this.entry(runId);
    if (known.kind === 'damaged') {
      try {
        yield* batchesOf(this.options.store.readEvents(runId, afterId), afterId, signal);
      } catch (error) {
        throw isDamagedFileError(error) ? historyError(runId, error) : error;
      }
      if (!signal.aborted) {
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      }
      return;
    }
    const entry = await this.acquire(runId);
    try {
      yield* entry.run.eventBatches(afterId, signal, follow);
    } catch (error) {
      // A hole in the history a client asked for: the run is told to be damaged from now on.
      if (isDamagedFileError(error)) {
        entry.damage ??= { ...damageOf(error), at: isoAt(this.options.clock) };
        throw historyError(runId, error);
      }
      throw error;
    } finally {
      this.release(entry);
    }
  }

  /**
   * Reads every run's journal through, for `orc doctor`: a start reads no more of a journal than its
   * document lacks, so a hole in the history before it (a good `state.json` put back beside a journal
   * with a line cut out) showed only when `orc logs` stopped at it. A run found so says it from then on
   * (`damage`, its status unchanged: it runs from its document); damaged runs are known already.
   */
  async checkHistories(signal?: AbortSignal): Promise<RunSummary[]> {
    const at = isoAt(this.options.clock);
    for (const [runId, entry] of this.entries) {
      if (signal?.aborted) break;
      if (entry.kind === 'damaged' || this.summaryOf(entry).damage !== undefined) continue;
      try {
        for await (const _ of this.options.store.readEvents(runId, 0)) if (signal?.aborted) break;
      } catch (error) {
        if (!isDamagedFileError(error)) throw error;
        const damage = { ...damageOf(error), at };
        const now = this.entries.get(runId);
        if (now?.kind === 'live') now.damage ??= damage;
        else if (now?.kind === 'dormant') now.summary = withDamage(now.summary, damage);
      }
    }
    return this.summaries();
  }

  /**
   * What looks wrong with a finished run's files at a glance (their first and last bytes): a document
   * that does not begin or end as one, or a journal whose last event is not the one the index knows.
   */
  private async suspect(runId: string, summary: RunSummary): Promise<string | undefined> {
    const { store } = this.options;
    try {
      const damage = await store.probeRun(runId);
      if (damage) return damage.message;
      const last = (await store.lastEvent(runId))?.id ?? 0;
      return last === summary.lastEventId
        ? undefined
        : `the journal ends at event ${last}, not ${summary.lastEventId}`;
    } catch (error) {
      return messageOf(error);
    }
  }

  private entry(runId: string): Entry {
    const entry = this.entries.get(runId);
    if (!entry) throw new OrcError('RUN_NOT_FOUND', `no run "${runId}"; orc ls lists the runs`);
    return entry;
  }

  private async acquire(runId: string): Promise<LiveEntry> {
    for (;;) {
      const entry = this.entry(runId);
      switch (entry.kind) {
        case 'damaged':
          throw damagedError(entry.summary);
        case 'live':
          entry.leases++;
          entry.idle?.abort(WAIT_CALLED_OFF);
          entry.idle = undefined;
          return entry;
        case 'dormant':
          entry.loading ??= this.load(runId, entry);
          await entry.loading;
      }
    }
  }

  private release(entry: LiveEntry): void {
    entry.leases--;
    entry.lastUsed = this.options.clock.now();
    this.considerUnload(entry);
  }

  private async load(runId: string, dormant: DormantEntry): Promise<void> {
    if (this.closed) {
      throw new OrcError('INVALID_STATE', `the daemon is stopping; ask for run ${runId} once it is back`);
    }
    await dormant.unloading;
    const entry = await this.bring({ id: runId, summary: dormant.summary }, false);
    // What was found of it on disk before (a hole in its history) is still so.
    if (entry.kind === 'live' && dormant.summary.damage) entry.damage ??= dormant.summary.damage;
    this.entries.set(runId, entry);
    if (entry.kind === 'damaged') throw damagedError(entry.summary);
  }

  /** A run read from disk: restored, or (at start) left on disk when finished, or damaged. */
  private async bring(stored: StoredRun, atStart: boolean): Promise<Entry> {
    const { store, logger } = this.options;
    const now = isoAt(this.options.clock);
    let loaded: LoadedRun;
    try {
      loaded = await loadRunDocument(store, stored.id, { now, logger });
    } catch (error) {
      loaded = {
        damage: { file: store.stateFile(stored.id), reason: `cannot be read: ${messageOf(error)}`, at: now },
      };
    }
    if ('damage' in loaded) return this.damaged(stored, loaded.damage, loaded.known);
    const { doc } = loaded;
    if (atStart && FINISHED_RUN_STATUSES.has(doc.status) && !doc.source) {
      // Its journal went on past its saved document (an earlier version listed a checkpoint after the
      // run ended): saved caught up, so the next start does not load a run that is whole.
      if (stored.summary !== undefined && doc.lastEventId > stored.summary.lastEventId) {
        await store.saveRebuilt(doc).catch((error: unknown) => {
          logger.warn({ err: error, runId: stored.id }, 'a finished run could not be saved caught up');
        });
      }
      await store.unloadRun(stored.id);
      return { kind: 'dormant', summary: summarizeRun(doc) };
    }
    let run: Run;
    try {
      run = await this.options.restore(doc);
    } catch (error) {
      const damage = isDamagedFileError(error)
        ? { file: error.file, reason: error.reason, at: now }
        : { file: store.stateFile(stored.id), reason: `cannot be restored: ${messageOf(error)}`, at: now };
      return this.damaged(stored, damage, doc);
    }
    const history = store.journalDamage(stored.id);
    const damage = doc.damage ?? (history && { ...damageOf(history), at: now });
    const entry: LiveEntry = {
      kind: 'live',
      run,
      leases: 0,
      lastUsed: this.options.clock.now(),
      ...(damage && { damage }),
    };
    this.watch(entry);
    return entry;
  }

  private async damaged(
    stored: StoredRun,
    damage: RunDamage,
    known?: KeptRunDocument,
  ): Promise<DamagedEntry> {
    const { store, logger } = this.options;
    logger.error({ runId: stored.id, damage }, 'a run is damaged; it is kept as it is, not run');
    await store.unloadRun(stored.id);
    // Its events can be read up to the journal's last one, and no further; its work stopped by then.
    // (`null`: the journal is empty; `undefined`: its last line cannot be read.)
    const last = await store.lastEvent(stored.id).then(
      (event) => event ?? null,
      () => undefined,
    );
    const summary = damagedSummary(stored, damage, known, last?.at);
    if (last !== undefined) summary.lastEventId = last?.id ?? 0;
    return { kind: 'damaged', summary };
  }

  /** A run that finishes is let go once nothing uses it. */
  private watch(entry: LiveEntry): void {
    entry.run.onEvent((event) => {
      if (event.type === 'run.status' && FINISHED_RUN_STATUSES.has(event.status)) this.considerUnload(entry);
    });
  }

  private considerUnload(entry: LiveEntry): void {
    if (this.closed || entry.leases > 0 || !this.finished(entry)) return;
    const idle = [...this.entries.values()]
      .filter((e): e is LiveEntry => e.kind === 'live' && e.leases === 0 && this.finished(e))
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const oldest of idle.slice(0, Math.max(0, idle.length - this.maxIdle))) this.unload(oldest);
    if (this.entries.get(entry.run.id) !== entry) return;
    entry.idle?.abort(WAIT_CALLED_OFF);
    const idleFor = new AbortController();
    entry.idle = idleFor;
    this.options.clock.sleep(this.idleMs, idleFor.signal).then(
      () => this.unload(entry),
      () => undefined, // used again, or the daemon stops
    );
  }

  /**
   * Collects from a turn of its own once the run is let go, in a function of its own: a closure made in
   * `unload` shares its scope, which holds the run, and the collection would find it still in use.
   */
  private collectOnceLetGo(unloading: Promise<void>): void {
    void unloading.then(() =>
      setImmediate(() => {
        const active = [...this.entries.values()].some((e) => e.kind === 'live' && !this.finished(e));
        if (!this.closed && !active) this.options.collectGarbage?.();
      }),
    );
  }

  private finished(entry: LiveEntry): boolean {
    return FINISHED_RUN_STATUSES.has(entry.run.summary().status);
  }

  private unload(entry: LiveEntry): void {
    const runId = entry.run.id;
    if (this.closed || this.entries.get(runId) !== entry || entry.leases > 0 || !this.finished(entry)) return;
    entry.idle?.abort(WAIT_CALLED_OFF);
    const unloading = (async () => {
      await entry.run.close(0);
      await this.options.onUnload?.(runId);
      await this.options.store.unloadRun(runId);
    })().catch((error: unknown) =>
      this.options.logger.warn({ err: error, runId }, 'could not let go of a finished run'),
    );
    this.entries.set(runId, { kind: 'dormant', summary: this.summaryOf(entry), unloading });
    this.collectOnceLetGo(unloading);
  }

  private summaryOf(entry: Entry): RunSummary {
    return entry.kind === 'live' ? withDamage(entry.run.summary(), entry.damage) : entry.summary;
  }
}

function withDamage<T extends RunSummary>(summary: T, damage: RunDamage | undefined): T {
  return damage && !summary.damage ? { ...summary, damage } : summary;
}

/**
 * What is known of a damaged run: its document's head, or its index entry, and the damage. It works no
 * more: its time ends where its record does (`lastAt`, its journal's last event), not at the clock (a
 * damaged run that had worked 20 s read 4m57s in orc ls, its age).
 */
function damagedSummary(
  stored: StoredRun,
  damage: RunDamage,
  known: KeptRunDocument | undefined,
  lastAt: string | undefined,
): RunSummary {
  const base: RunSummary = known
    ? summarizeRun({ ...known, tasks: [] })
    : (stored.summary ?? placeholderSummary(stored.id, stored.entry));
  // Its tasks as the index last counted them, when it did: a damaged run of 5 tasks read `0/0`.
  const { taskCounts = {}, taskTotal = 0 } = stored.summary ?? {};
  const summary: RunSummary = { ...base, status: 'damaged', taskCounts, taskTotal, damage };
  if (base.finishedAt === undefined && base.idleSince === undefined)
    summary.idleSince = [lastAt, base.updatedAt]
      .filter((at): at is string => at !== undefined && !Number.isNaN(Date.parse(at)))
      .reduce((latest, at) => (Date.parse(at) > Date.parse(latest) ? at : latest), base.createdAt);
  return summary;
}

function placeholderSummary(id: string, entry: RunIndexEntry | undefined): RunSummary {
  const unknown = { provider: 'anthropic' as const, model: 'unknown' };
  const at = entry?.createdAt ?? new Date(0).toISOString();
  return {
    id,
    goal: entry?.goal ?? '(unknown: the run could not be read)',
    status: 'damaged',
    models: { manager: unknown, worker: unknown, simulated: false },
    maxWorkers: 1,
    createdAt: at,
    updatedAt: at,
    taskCounts: {},
    taskTotal: 0,
    usage: ZERO_USAGE,
    costUsd: 0,
    lastEventId: 0,
  };
}

function damagedError(summary: RunSummary): OrcError {
  const damage = summary.damage!;
  return new OrcError(
    'INVALID_STATE',
    `run ${summary.id} is damaged: ${damage.file} ${damage.reason}; it is kept as it is and not run: orc rm ${summary.id} removes it, or put back a good copy of the file and restart the daemon (orc daemon stop, then orc daemon start) to read it again`,
  );
}

/** A replay stopped by damage in the journal, with what a person can do about it. */
export function historyError(runId: string, error: DamagedFileError): OrcError {
  return new OrcError('STORE_ERROR', `${error.message}; ${damagedHistoryFix(runId, error)}`);
}

function damageOf(error: DamagedFileError): Omit<RunDamage, 'at'> {
  const { file, reason, readsOnAfter } = error;
  return { file, reason, ...(readsOnAfter !== undefined && { readsOnAfter }) };
}

function byCreated(a: RunSummary, b: RunSummary): number {
  return a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
