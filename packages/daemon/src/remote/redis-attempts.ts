import { hostname } from 'node:os';
import type { QuotaStatus, RemoteWorkers } from '@orc/shared';
import { createRequire } from 'node:module';
import type * as Bullmq from 'bullmq';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { CallCancelledError, ModelError } from '../model/model-error.js';
import type { ModelRequest, ModelResponse } from '../model/provider.js';
import type { CallObserver, CallOutcome, QuotaAsk, QuotaPermit } from '../quota/quota-governor.js';
import type { CallShape } from '../quota/token-estimator.js';
import type { AttemptBackend, AttemptJob } from '../run/attempt-backend.js';
import {
  AttemptProgress,
  AttemptResult,
  DAEMONS_KEY,
  KEY_PREFIX,
  PRESENCE_EVERY_MS,
  WorkerPresence,
  TAKEN_BACK_TTL_S,
  cancelChannel,
  livePresences,
  takenBackKey,
  workersKey,
  type AttemptJobData,
  type DaemonPresence,
} from './attempt-wire.js';
import { quiet, shownUrl } from './redis-connection.js';
import { DaemonAsks } from './remote-permissions.js';
import { readSharedQuotas } from './shared-quota-status.js';
import { TakeBacks } from './take-backs.js';

export interface RedisAttemptsOptions {
  /** A ready connection (`connectRedis`); it reconnects by itself, and is closed with this. */
  connection: Redis;
  url: string;
  queue: string;
  /** BullMQ's stall interval the workers use (ms): a dead worker's job goes to another after about twice it. */
  stallMs: number;
  clock: Clock;
  logger: Logger;
  /** How long Redis may be gone before a call gives up and its run pauses (default 10 s). */
  lostAfterMs?: number;
  /** How often a waiting call asks for its job's state, beside BullMQ's events (default 1 s). */
  pollMs?: number;
  /** Told of every call the workers make for this daemon, as the local governor tells it of its own. */
  observer?: CallObserver;
  /** The take-backs not yet sent (kept in memory when absent). */
  takeBacks?: TakeBacks;
}

/** A remote call as the daemon follows it: on the queue, taken by a worker and waiting for its quota, or sent. */
interface RemoteCall {
  call: CallShape;
  state: 'queued' | 'waiting' | 'sent';
  /** The run's word for a long wait for quota, told when the worker's governor says so. */
  onLongWait: ModelRequest['onQuotaWait'];
}

/**
 * Answers are kept for an hour, the last 2,000 at most, so a daemon that comes back takes what its
 * workers finished meanwhile, and Redis does not fill up with prompts (a job holds its task's prompt
 * and answer, a few KB). An answer gone by then is made again.
 */
const KEEP_ANSWERS = { age: 3600, count: 2000 };

/**
 * The Redis backend of a daemon: each attempt is a BullMQ job on the daemon's queue, with the attempt's
 * id as the job's id, and `orc worker` processes on any machine take them. The daemon stays the one
 * brain: it plans, reviews and journals; a job carries the prompt, and its return value (the answer, or
 * why there is none) comes back here. Adding a job whose id exists does nothing, and an answer is taken
 * from the job by id, so an attempt is never made or counted twice; a task whose previous attempt was cut
 * off (the daemon stopped, Redis went away) takes that job's answer when a worker finished it meanwhile.
 *
 * The daemon says it is alive in `orc:daemons` (so workers find its queue with no flag) and reads the
 * workers' presence for `orc ls`.
 */
export class RedisAttempts implements AttemptBackend {
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly eventsConnection: Redis;
  /** What a job in flight is told as it goes (its text, its session), by job id. */
  private readonly listeners = new Map<string, ModelRequest>();
  /** Calls waiting for a job to end, woken by BullMQ's events. */
  private readonly wakers = new Map<string, Set<() => void>>();
  private readonly presence: NodeJS.Timeout;
  /** Remote agents' permission asks, put to each attempt's inbox. */
  private readonly asks: DaemonAsks;
  /** The calls in flight on the workers, by job id (a job's previous id too). */
  private readonly calls = new Map<string, RemoteCall>();
  /** The quotas the workers keep in Redis, as last read (every presence beat). */
  private quotas: QuotaStatus[] = [];
  /** Jobs given up on whose workers are not told yet: sent when Redis answers. */
  private readonly takeBacks: TakeBacks;
  private sending: Promise<void> | undefined;
  private downSince: number | undefined;
  private closed = false;
  private detached = false;
  readonly runsElsewhere = true;

  constructor(private readonly options: RedisAttemptsOptions) {
    const { connection, queue } = options;
    this.takeBacks = options.takeBacks ?? new TakeBacks();
    const bullmq = loadBullmq();
    this.queue = new bullmq.Queue(queue, { connection, prefix: KEY_PREFIX });
    this.asks = new DaemonAsks(connection, queue);
    // BullMQ leaves a connection it was given open: this one is closed with the rest in `close`.
    this.eventsConnection = quiet(connection.duplicate());
    this.events = new bullmq.QueueEvents(queue, { connection: this.eventsConnection, prefix: KEY_PREFIX });
    // Errors are the connection's going and coming; the calls in flight see them as waits.
    this.queue.on('error', () => {});
    this.events.on('error', () => {});
    this.events.on('progress', ({ jobId, data }) => this.progress(jobId, data));
    const wake = (jobId: string) => this.wakers.get(jobId)?.forEach((waker) => waker());
    this.events.on('completed', ({ jobId }) => wake(jobId));
    this.events.on('failed', ({ jobId }) => wake(jobId));
    connection.on('ready', () => {
      this.downSince = undefined;
      this.announce();
      void this.sendTakeBacks();
    });
    connection.on('close', () => (this.downSince ??= options.clock.now()));
    if (!this.reachable) this.downSince = options.clock.now();
    this.presence = setInterval(() => this.announce(), PRESENCE_EVERY_MS);
    this.presence.unref();
    this.announce();
    // Those a daemon before this one could not send.
    void this.sendTakeBacks();
  }

  get queueName(): string {
    return this.options.queue;
  }

  /** Whether Redis answers now. */
  get reachable(): boolean {
    return this.options.connection.status === 'ready';
  }

  /**
   * Workers are the daemon's cap and each worker's governor paces its key's quota, so the daemon admits
   * every call at once; the permit tells the daemon's metrics how the call ended.
   */
  admit(ask: Omit<QuotaAsk, 'quota'>): Promise<QuotaPermit> {
    const { observer } = this.options;
    let ended = false;
    const end = (outcome: CallOutcome) => {
      if (ended) return;
      ended = true;
      observer?.ended(ask.call, outcome);
    };
    return Promise.resolve({
      ...FREE_PERMIT,
      succeeded: (usage, costUsd = 0) => end({ kind: 'succeeded', usage, costUsd }),
      failed: (error) => end({ kind: 'failed', error }),
    });
  }

  /** Calls sent by the workers and not answered, and calls queued or waiting at a worker for their quota. */
  get callCounts(): { inFlight: number; waiting: number } {
    let inFlight = 0;
    let waiting = 0;
    for (const call of new Set(this.calls.values())) {
      if (call.state === 'sent') inFlight += 1;
      else waiting += 1;
    }
    return { inFlight, waiting };
  }

  /** The workers' shared quotas, with this daemon's calls waiting at a worker for each model. */
  sharedQuotas(): QuotaStatus[] {
    const waiting = new Map<string, number>();
    for (const { call, state } of new Set(this.calls.values()))
      if (state === 'waiting') waiting.set(call.model, (waiting.get(call.model) ?? 0) + 1);
    return this.quotas.map((quota) => ({ ...quota, waiting: waiting.get(quota.model) ?? 0 }));
  }

  async complete(job: AttemptJob, request: ModelRequest): Promise<ModelResponse> {
    const data: AttemptJobData = {
      v: 1,
      runId: job.runId,
      taskId: job.taskId,
      attempt: job.attempt,
      provider: job.provider,
      purpose: 'work',
      model: request.model,
      system: request.system,
      prompt: request.prompt,
      maxTokens: request.maxTokens,
      ...(request.budgetUsd !== undefined && { budgetUsd: request.budgetUsd }),
      timeoutMs: job.timeoutMs,
      ...(job.checkout && { checkout: job.checkout }),
    };
    this.listeners.set(job.id, request);
    if (job.previous) this.listeners.set(job.previous, request);
    const followed: RemoteCall = { call: request, state: 'queued', onLongWait: request.onQuotaWait };
    this.calls.set(job.id, followed);
    if (job.previous) this.calls.set(job.previous, followed);
    const told = { answered: false };
    try {
      return await this.answer(job, data, request, told);
    } catch (error) {
      // Given up (cancelled, paused, timed out, or Redis gone past `lostAfterMs`): its worker stops, now
      // or once Redis is back; the run's next attempt is a job of its own. Not when the daemon stops:
      // the workers finish, and the daemon takes their answers when it is back.
      if (!told.answered && !this.detached) {
        this.takeBack(job.id);
        if (job.previous) this.takeBack(job.previous);
      }
      throw error;
    } finally {
      this.listeners.delete(job.id);
      this.asks.forget(job.id);
      this.calls.delete(job.id);
      if (job.previous) {
        this.listeners.delete(job.previous);
        this.asks.forget(job.previous);
        this.calls.delete(job.previous);
      }
    }
  }

  /**
   * The daemon is stopping: calls cut off from now on leave their jobs to the workers, whose answers the
   * daemon takes when it is back.
   */
  detach(): void {
    this.detached = true;
  }

  private async answer(
    job: AttemptJob,
    data: AttemptJobData,
    request: ModelRequest,
    told: { answered: boolean },
  ): Promise<ModelResponse> {
    {
      const result =
        (job.previous !== undefined && (await this.collect(job.previous, request.signal))) ||
        (await this.run(job.id, data, request.signal));
      told.answered = true;
      if (result.ok) {
        const { text, usage, stopReason, costUsd, meta, pushed } = result;
        return {
          text,
          usage,
          stopReason,
          ...(costUsd !== undefined && { costUsd }),
          // An agent's pushed commit goes to its attempt (PushedAttempt), which fetches it.
          meta: { ...meta, worker: result.worker, ...(pushed && { pushed }) },
        };
      }
      throw new ModelError(result.error.category, result.error.message, result.error.details);
    }
  }

  /** Waits until Redis answers again (a run paused for it goes on then). */
  async whenReachable(signal: AbortSignal): Promise<void> {
    while (!this.reachable) {
      await sleepFor(this.options.pollMs ?? 1_000, signal);
    }
  }

  /** The queue, whether Redis answers, and the workers that said they are alive lately with what each runs. */
  async status(): Promise<RemoteWorkers> {
    const { url, queue, connection, clock } = this.options;
    const shown = { url: shownUrl(url), queue, reachable: this.reachable };
    if (!this.reachable) return { ...shown, workers: [] };
    const [values, clients] = await Promise.all([
      connection.hgetall(workersKey(queue)).catch(() => ({})),
      this.queue.getWorkers().catch(() => undefined),
    ]);
    // A worker killed without a word is gone as soon as its connection is, not when its presence ages out.
    const connected = clients && new Set(clients.map((client) => client['rawname']?.split(':w:').at(-1)));
    const live = livePresences(values, WorkerPresence, clock.now());
    return {
      ...shown,
      workers: live.filter((worker) => !connected || connected.has(worker.id)),
      quotas: this.sharedQuotas(),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.takeBacks.keep();
    clearInterval(this.presence);
    for (const wakers of this.wakers.values()) wakers.forEach((waker) => waker());
    if (this.reachable)
      await this.options.connection.hdel(DAEMONS_KEY, this.options.queue).catch(() => undefined);
    // With Redis away BullMQ's closes wait for a reconnection that never comes (a daemon stopped while
    // Redis was down did not stop): their connections are ended below either way.
    await within(this.events.close(), 1_000);
    await within(this.queue.close(), 1_000);
    this.eventsConnection.disconnect();
    this.options.connection.disconnect();
  }

  /** The answer of an earlier attempt's job a worker finished or still works on; none if it is gone or failed. */
  private async collect(id: string, signal: AbortSignal): Promise<AttemptResult | undefined> {
    const state = await this.step(() => this.queue.getJobState(id), signal);
    if (state === 'unknown' || state === 'failed') return undefined;
    const result = await this.until(id, undefined, signal);
    if (!result.ok) return undefined;
    this.options.logger.info({ jobId: id }, 'took the answer of an attempt a worker finished meanwhile');
    return result;
  }

  /** Adds the job (nothing if it exists) and waits for its answer. */
  private async run(id: string, data: AttemptJobData, signal: AbortSignal): Promise<AttemptResult> {
    await this.step(() => this.add(id, data), signal);
    return this.until(id, data, signal);
  }

  private add(id: string, data: AttemptJobData): Promise<unknown> {
    return this.queue.add('attempt', data, {
      jobId: id,
      // The run retries, with its review's feedback and its backoff; BullMQ only hands a dead worker's job on.
      attempts: 1,
      removeOnComplete: KEEP_ANSWERS,
      removeOnFail: KEEP_ANSWERS,
    });
  }

  /**
   * Waits for job `id` to end, woken by BullMQ's events and asking every `pollMs` in case an event was
   * missed while Redis was away. A job Redis lost (restarted without persistence) is added again from
   * `data`. Waiting twice for one job gets its one answer twice: the job is the attempt.
   */
  private async until(
    id: string,
    data: AttemptJobData | undefined,
    signal: AbortSignal,
  ): Promise<AttemptResult> {
    const { pollMs = 1_000 } = this.options;
    for (;;) {
      const state = await this.step(() => this.queue.getJobState(id), signal);
      if (state === 'completed' || state === 'failed') {
        const job = await this.step(() => this.queue.getJob(id), signal);
        if (state === 'completed') {
          const parsed = AttemptResult.safeParse(job?.returnvalue);
          if (parsed.success) return parsed.data;
          return failure('permanent', `worker answered job ${id} in a form this daemon does not read`);
        }
        // BullMQ failed it itself: its workers stalled on it more times than allowed.
        return failure(
          'transient',
          `the job was given up by its workers: ${job?.failedReason ?? 'no reason'}`,
        );
      }
      if (state === 'unknown') {
        if (data === undefined) return failure('transient', `job ${id} is gone`);
        this.options.logger.warn({ jobId: id }, 'Redis lost a job in flight; adding it again');
        await this.step(() => this.add(id, data), signal);
      }
      await this.wait(id, pollMs, signal);
    }
  }

  /** One Redis command, given up when the call is taken back or Redis stays away past `lostAfterMs`. */
  private async step<T>(command: () => Promise<T>, signal: AbortSignal): Promise<T> {
    const { lostAfterMs = 10_000, clock } = this.options;
    const stop = new AbortController();
    const gone = async (): Promise<never> => {
      for (;;) {
        if (signal.aborted) throw this.cancelled();
        if (this.downSince !== undefined && clock.now() - this.downSince >= lostAfterMs) throw this.lost();
        await sleepFor(250, stop.signal).catch(() => undefined);
        if (stop.signal.aborted) return new Promise<never>(() => {});
      }
    };
    try {
      return await Promise.race([command(), gone()]);
    } finally {
      stop.abort();
    }
  }

  private wait(id: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        const wakers = this.wakers.get(id);
        wakers?.delete(done);
        if (wakers?.size === 0) this.wakers.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      const wakers = this.wakers.get(id) ?? new Set();
      wakers.add(done);
      this.wakers.set(id, wakers);
    });
  }

  /** The daemon took the task back: the job goes if no worker has it, and a worker that has it is told to stop. */
  private cancelled(): CallCancelledError {
    return new CallCancelledError('the attempt was taken back');
  }

  private lost(): ModelError {
    return new ModelError(
      'transient',
      `Redis at ${shownUrl(this.options.url)} cannot be reached; the run goes on by itself once it answers (start the server, or check its address, password and TLS)`,
      { pauseRun: true, pauseReason: 'backend' },
    );
  }

  /**
   * Tells the job's workers to stop and drops it: now if Redis answers, else once it does (kept until
   * then, across a restart of the daemon too). The word is a key a worker reads before it starts a job
   * and while it runs one, and a message for the worker that runs it now.
   */
  takeBack(id: string): void {
    this.takeBacks.add(id);
    void this.sendTakeBacks();
  }

  private sendTakeBacks(): Promise<void> {
    this.sending ??= (async () => {
      const { connection, queue } = this.options;
      // Those given up on meanwhile are sent in the same turn.
      for (;;) {
        const id = this.takeBacks.ids[0];
        if (id === undefined || this.closed || !this.reachable) break;
        try {
          await connection
            .multi()
            .set(takenBackKey(queue, id), '1', 'EX', TAKEN_BACK_TTL_S)
            .publish(cancelChannel(queue), id)
            .exec();
        } catch {
          break; // Redis went again: sent when it is back.
        }
        this.takeBacks.sent(id);
        // A job no worker holds goes; one a worker holds ends with its worker's word.
        await this.queue.remove(id).catch(() => undefined);
      }
      // What could not be sent is kept on disk, for this daemon once Redis is back or the next one.
      this.takeBacks.keep();
    })().finally(() => (this.sending = undefined));
    return this.sending;
  }

  private progress(jobId: string, data: unknown): void {
    const request = this.listeners.get(jobId);
    const parsed = AttemptProgress.safeParse(data);
    if (!request || !parsed.success) return;
    const told = parsed.data;
    switch (told.kind) {
      case 'text':
        request.onText?.(told.text);
        return;
      case 'session':
        request.onSession?.(told.sessionId);
        return;
      case 'refusal':
        request.onRefusal?.(told.refusal);
        return;
      case 'ask':
        this.asks.ask(jobId, told.ask, request);
        return;
      case 'started': {
        this.options.logger.debug({ jobId, worker: told.worker }, 'a worker took the job');
        const followed = this.calls.get(jobId);
        if (followed) followed.state = 'waiting';
        return;
      }
      case 'quota-wait': {
        const { model, until, reason } = told;
        this.calls.get(jobId)?.onLongWait?.({ model, until, reason: `${reason}, at its worker` });
        return;
      }
      case 'admitted': {
        const followed = this.calls.get(jobId);
        if (followed) followed.state = 'sent';
        this.options.observer?.admitted(request, told.waitedMs);
        return;
      }
    }
  }

  private announce(): void {
    if (this.closed || !this.reachable) return;
    readSharedQuotas(this.options.connection).then(
      (quotas) => (this.quotas = quotas),
      () => undefined,
    );
    const presence: DaemonPresence = {
      queue: this.options.queue,
      host: hostname(),
      pid: process.pid,
      seenAt: this.options.clock.now(),
      stallMs: this.options.stallMs,
    };
    void this.options.connection
      .hset(DAEMONS_KEY, this.options.queue, JSON.stringify(presence))
      .catch(() => undefined);
  }
}

const FREE_PERMIT: QuotaPermit = {
  onRateLimits: () => {},
  onAnswer: () => {},
  succeeded: () => {},
  failed: () => {},
  standBy: () => () => {},
};

function failure(category: 'transient' | 'permanent', message: string): AttemptResult {
  return { ok: false, error: { category, message, details: {} }, worker: '' };
}

/** Waits for `promise` at most `ms`; its failure is ignored. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}

function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', abort, { once: true });
  });
}

/**
 * BullMQ, loaded when a run first chooses the Redis backend: imported with the daemon, it was a quarter
 * of a restart of a 100,000-task run before dispatch resumed (~300 ms of 2.3 s at load 7, most of it
 * its dependencies' modules), for a backend most daemons never open.
 */
function loadBullmq(): typeof Bullmq {
  return createRequire(import.meta.url)('bullmq') as typeof Bullmq;
}
