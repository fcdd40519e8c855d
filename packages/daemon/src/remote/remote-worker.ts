import { hostname } from 'node:os';
import { OrcError, isOrcError, type ProviderName, type ResolvedConfig } from '@orc/shared';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import type { Clock } from '../clock.js';
import { CallCancelledError, ModelError } from '../model/model-error.js';
import type { ModelProvider, ModelRequest, ModelResponse } from '../model/provider.js';
import type { ProviderFactory } from '../orchestrator/providers.js';
import { QuotaGovernor } from '../quota/quota-governor.js';
import {
  AttemptFailure,
  AttemptJobData,
  DAEMONS_KEY,
  DaemonPresence,
  KEY_PREFIX,
  PRESENCE_EVERY_MS,
  cancelChannel,
  livePresences,
  takenBackKey,
  workersKey,
  type AttemptProgress,
  type AttemptResult,
  type PushedWork,
  type WorkerPresence,
} from './attempt-wire.js';
import { RemoteAgents } from './remote-agent-attempt.js';
import { WorkerAsks } from './remote-permissions.js';
import { connectRedis, quiet, shownUrl, type RedisTarget } from './redis-connection.js';
import { RedisQuotaLedger } from './redis-quota-ledger.js';
import { shareQuotaHolds } from './shared-holds.js';

export interface RemoteWorkerOptions {
  target: RedisTarget;
  /** Where the URL came from (`--redis`, a file's `redis.url`, the default), said when it starts. */
  targetFrom?: string;
  /** The daemon's queue; unset: the one daemon that says it is alive on this Redis. */
  queue?: string;
  concurrency: number;
  /** This machine's configuration: its providers, its key, its simulated latency. */
  config: ResolvedConfig;
  apiKey: string | undefined;
  providers: ProviderFactory;
  clock: Clock;
  /** Where what goes wrong is logged; pino on stderr at `logLevel` (default `warn`) when absent. */
  logger?: Logger;
  logLevel?: string;
  /** What a person running `orc worker` is told (connected, waiting for a daemon, stopping). */
  say: (line: string) => void;
  /** How long the first connection may take before the worker gives up (default 5 s). */
  connectTimeoutMs?: number;
  /** Where Claude Code attempts clone their run's remote and work (`--workdir-root`); unset: none taken. */
  workdirRoot?: string;
}

/** A worker that took its queue and runs jobs until `stop`. */
export interface RunningWorker {
  readonly id: string;
  readonly queue: string;
  /** Stops taking jobs; the jobs in hand finish first unless `force`. */
  stop(force?: boolean): Promise<void>;
}

/** Text is sent on in batches: one progress event per job per this many ms. */
const TEXT_BATCH_MS = 250;

/**
 * `orc worker`: takes attempts from a daemon's queue on Redis and makes each worker model call with this
 * machine's own provider and key (a job carries the prompt, never a credential). The answer, or why there
 * is none, is the job's return value; what the model writes as it goes is the job's progress. A job this
 * worker holds renews its lock while it runs: if the process dies, BullMQ hands the job to another worker
 * after the stall interval the daemon publishes. A job the daemon takes back is aborted here.
 */
export async function startRemoteWorker(options: RemoteWorkerOptions): Promise<RunningWorker> {
  const { target, say, clock } = options;
  const logger = options.logger ?? pino({ level: options.logLevel ?? 'warn' }, pino.destination(2));
  const from = options.targetFrom === undefined ? '' : ` (from ${options.targetFrom})`;
  const connection = await connectRedis(target, options.connectTimeoutMs ?? 5_000).catch((error: unknown) => {
    throw isOrcError(error) ? new OrcError(error.code, `${error.message}${from}`) : error;
  });
  const found = await findQueue(connection, options).catch((error: unknown) => {
    connection.disconnect();
    throw error;
  });
  const { queue, stallMs } = found;
  const id = `${hostname()}-${process.pid}`;
  const startedAt = clock.now();
  // The key's buckets are every worker's on it: a place lasts as a job's lock, so a killed worker's
  // places go when its jobs do.
  const ledger = await RedisQuotaLedger.open(connection, stallMs);
  const governor = new QuotaGovernor(clock, options.concurrency, undefined, ledger);
  // A wait the API asks of one worker on this key is kept by every worker on it.
  const stopSharing = await shareQuotaHolds({ connection, governor, apiKey: options.apiKey, worker: id });
  const providers = new Map<ProviderName, ModelProvider>();
  const providerFor = (name: ProviderName): ModelProvider => {
    let provider = providers.get(name);
    if (!provider) {
      provider = options.providers(name, options.config, { apiKey: options.apiKey, clock });
      providers.set(name, provider);
    }
    return provider;
  };
  const agents = new RemoteAgents({ ...options, workdirRoot: options.workdirRoot });
  await agents.open().catch((error: unknown) => {
    stopSharing();
    connection.disconnect();
    throw error;
  });
  /**
   * The jobs in hand, by lock token: the same job can be in hand twice, when Redis lost it (restarted
   * empty) and the daemon added it again, and only the newer one is the job's.
   */
  const running = new Map<string, RunningJob>();
  const stop = (entry: RunningJob, why: string) => {
    if (entry.controller.signal.aborted) return;
    logger.info({ jobId: entry.jobId }, why);
    entry.controller.abort();
  };

  const asks = new WorkerAsks(queue);
  const subscriber = quiet(connection.duplicate());
  await subscriber.subscribe(cancelChannel(queue), asks.channel);
  /** The daemon gave the job up: nobody waits for its answer, so it is not paid for any further. */
  const stopTakenBack = (jobId: string) => {
    for (const entry of running.values())
      if (entry.jobId === jobId) stop(entry, 'the daemon took this attempt back; stopping it');
  };
  subscriber.on('message', (channel: string, message: string) =>
    channel === asks.channel ? asks.answered(message) : stopTakenBack(message),
  );

  const presence = (): WorkerPresence => ({
    id,
    host: hostname(),
    pid: process.pid,
    concurrency: options.concurrency,
    startedAt,
    seenAt: clock.now(),
    running: [...running.values()].map((entry) => entry.presence),
  });
  /** Says what it runs now; on every job taken and ended, and every few seconds as a heartbeat. */
  const announce = () => {
    if (connection.status !== 'ready') return;
    void connection.hset(workersKey(queue), id, JSON.stringify(presence())).catch(() => undefined);
  };
  /** Which of `ids` the daemon gave up on; none known while Redis is away. */
  const takenBack = async (ids: string[]): Promise<Set<string>> => {
    if (ids.length === 0 || connection.status !== 'ready') return new Set();
    const words = await connection.mget(ids.map((jobId) => takenBackKey(queue, jobId))).catch(() => []);
    return new Set(ids.filter((_, index) => words[index] != null));
  };
  /**
   * Stops the jobs in hand that are no longer this worker's to finish: those the daemon gave up on (its
   * message is lost on a worker cut off from Redis when it was sent), and those whose lock is gone or
   * another worker's (Redis lost the job, or handed it on after this worker was cut off past its lock:
   * their answer would be refused). Read on every heartbeat and reconnection.
   */
  const dropNotOurs = async () => {
    const entries = [...running.entries()];
    if (entries.length === 0 || connection.status !== 'ready') return;
    const [given, locks] = await Promise.all([
      takenBack(entries.map(([, entry]) => entry.jobId)),
      connection.mget(entries.map(([, entry]) => jobLockKey(queue, entry.jobId))).catch(() => undefined),
    ]);
    for (const [index, [token, entry]] of entries.entries()) {
      if (given.has(entry.jobId)) stop(entry, 'the daemon took this attempt back; stopping it');
      else if (locks && locks[index] !== token && running.has(token))
        stop(
          entry,
          'this attempt is no longer held here (Redis lost it or gave it to another worker); stopping it',
        );
    }
  };
  const beatAndCheck = () => {
    announce();
    void dropNotOurs();
  };
  const runJob = async (job: Job, token = `${job.id}`): Promise<AttemptResult> => {
    const parsed = AttemptJobData.safeParse(job.data);
    if (!parsed.success)
      return refuse(id, `job ${job.id} is not an attempt this worker reads (a newer daemon?)`);
    const data = parsed.data;
    if (data.provider === 'claude-code' && data.checkout === undefined)
      return refuse(
        id,
        `job ${job.id} is a Claude Code attempt without its repository (a daemon of another version?)`,
      );
    const controller = new AbortController();
    const jobId = job.id!;
    // The job again (Redis lost it and the daemon added it anew): the one still in hand is not its any more.
    for (const entry of running.values())
      if (entry.jobId === jobId)
        stop(entry, 'this attempt was given to this worker anew; stopping the one before');
    // Asked once it is in hand, so a take-back sent meanwhile stops it either way.
    running.set(token, {
      jobId,
      controller,
      presence: { runId: data.runId, taskId: data.taskId, attempt: data.attempt, since: clock.now() },
    });
    if ((await takenBack([jobId])).has(jobId) || controller.signal.aborted) {
      // A job the daemon gave up on, handed on after its worker was cut off: nobody waits for its answer.
      running.delete(token);
      return {
        ok: false,
        error: { category: 'transient', message: 'the daemon took this attempt back', details: {} },
        worker: id,
      };
    }
    const timer = setTimeout(() => controller.abort(), data.timeoutMs);
    announce();
    const tell = (progress: AttemptProgress) => job.updateProgress(progress).catch(() => undefined);
    let text = '';
    let flushing: NodeJS.Timeout | undefined;
    const flush = () => {
      flushing = undefined;
      if (text === '') return;
      void tell({ kind: 'text', text });
      text = '';
    };
    void tell({ kind: 'started', worker: id });
    let permit: Awaited<ReturnType<QuotaGovernor['admit']>> | undefined;
    try {
      // A keyless worker cannot make a run's API calls: it says so by its name (the daemon's key is no use
      // here), and as a transient failure, so the attempt is retried, where a worker with a key may take it.
      if (data.provider === 'anthropic' && !options.apiKey)
        return {
          ok: false,
          error: {
            category: 'transient',
            message: `orc worker ${id} has no Anthropic API key; set ANTHROPIC_API_KEY where that worker runs and start it again`,
            details: {},
          },
          worker: id,
        };
      const provider = providerFor(data.provider);
      const call = {
        purpose: 'work' as const,
        model: data.model,
        system: data.system,
        prompt: data.prompt,
        maxTokens: data.maxTokens,
      };
      const asked = clock.now();
      permit = await governor.admit(
        {
          runId: data.runId,
          quota: provider.quotaOf?.(data.model),
          call,
          // The daemon's run pauses for it, as for a local call's long wait.
          onLongWait: (wait) => void tell({ kind: 'quota-wait', ...wait }),
        },
        controller.signal,
      );
      void tell({ kind: 'admitted', waitedMs: clock.now() - asked });
      const request: ModelRequest = {
        ...call,
        signal: controller.signal,
        onText: (piece) => {
          text += piece;
          flushing ??= setTimeout(flush, TEXT_BATCH_MS);
        },
        onSession: (sessionId) => void tell({ kind: 'session', sessionId }),
        onRefusal: (refusal) => void tell({ kind: 'refusal', refusal }),
        onRateLimits: permit.onRateLimits,
        onAnswer: permit.onAnswer,
        ...(data.budgetUsd !== undefined && { budgetUsd: data.budgetUsd }),
      };
      // An agent works in a clone of the run's remote and pushes its work before it answers.
      const response: ModelResponse & { pushed?: PushedWork } = data.checkout
        ? await agents.complete(job.id!, data.checkout, {
            ...request,
            permissions: asks.permissionsFor(job.id!, (progress) => void tell(progress)),
          })
        : await provider.complete(request);
      permit.succeeded(response.usage, response.costUsd);
      logger.debug({ jobId: job.id, runId: data.runId, taskId: data.taskId }, 'attempt answered');
      return {
        ok: true,
        text: response.text,
        usage: response.usage,
        stopReason: response.stopReason,
        ...(response.costUsd !== undefined && { costUsd: response.costUsd }),
        ...(response.meta !== undefined && { meta: response.meta }),
        ...(response.pushed !== undefined && { pushed: response.pushed }),
        worker: id,
      };
    } catch (error) {
      permit?.failed(error);
      if (controller.signal.aborted || error instanceof CallCancelledError)
        return {
          ok: false,
          error: { category: 'transient', message: 'the attempt was taken back or timed out', details: {} },
          worker: id,
        };
      if (error instanceof ModelError)
        return {
          ok: false,
          error: {
            category: error.category,
            message: error.message,
            details: AttemptFailure.shape.details.parse(error.details),
          },
          worker: id,
        };
      logger.error({ err: error, jobId: job.id }, 'an attempt failed unexpectedly');
      return refuse(id, error instanceof Error ? error.message : String(error));
    } finally {
      clearTimeout(timer);
      if (flushing) clearTimeout(flushing);
      flush();
      running.delete(token);
      announce();
    }
  };

  // BullMQ leaves a connection it was given open: this one is closed in `stop`.
  const workerConnection = quiet(connection.duplicate());
  const worker = new Worker(queue, runJob, {
    connection: workerConnection,
    prefix: KEY_PREFIX,
    // Named, so the daemon sees it among the queue's connections (and sees it gone with them).
    name: id,
    concurrency: options.concurrency,
    // A job's lock lasts the stall interval and is renewed at half of it; a dead worker's job is found
    // stalled at the next check and handed on.
    lockDuration: stallMs,
    stalledInterval: stallMs,
    // Each stall is a worker that died holding it; only a job that kills every worker should fail.
    maxStalledCount: 10,
  });
  worker.on('error', (error) => logger.debug({ err: error.message }, 'BullMQ worker'));

  announce();
  const beat = setInterval(beatAndCheck, PRESENCE_EVERY_MS);
  let wasDown = false;
  let stopping: Promise<void> | undefined;
  connection.on('close', () => {
    if (!wasDown && stopping === undefined) say(`lost Redis at ${shownUrl(target.url)}; reconnecting`);
    wasDown = true;
  });
  connection.on('ready', () => {
    if (wasDown) say(`reconnected to Redis at ${shownUrl(target.url)}`);
    wasDown = false;
    beatAndCheck();
  });
  say(
    `worker ${id} takes attempts from queue ${queue} on ${shownUrl(target.url)}${from} (concurrency ${options.concurrency})` +
      (options.workdirRoot === undefined
        ? ''
        : `; Claude Code agents work in clones under ${options.workdirRoot}`),
  );
  if (!options.apiKey)
    say(
      'no ANTHROPIC_API_KEY here: jobs of runs on the anthropic provider fail at this worker and are retried',
    );

  return {
    id,
    queue,
    stop(force = false) {
      if (force) for (const entry of running.values()) entry.controller.abort();
      stopping ??= (async () => {
        clearInterval(beat);
        await worker.close(force).catch(() => undefined);
        if (connection.status === 'ready')
          await connection.hdel(workersKey(queue), id).catch(() => undefined);
        stopSharing();
        ledger.close();
        governor.close();
        await agents.stop();
        for (const provider of providers.values())
          if ('stop' in provider && typeof provider.stop === 'function')
            await (provider.stop as () => unknown)();
        subscriber.disconnect();
        workerConnection.disconnect();
        connection.disconnect();
      })();
      return stopping;
    },
  };
}

/** The queue to take jobs from: the one named, or the one daemon alive on this Redis (waiting for one). */
async function findQueue(
  connection: Redis,
  options: RemoteWorkerOptions,
): Promise<{ queue: string; stallMs: number }> {
  const daemons = async () =>
    livePresences(await connection.hgetall(DAEMONS_KEY), DaemonPresence, options.clock.now());
  if (options.queue !== undefined) {
    const named = (await daemons()).find((daemon) => daemon.queue === options.queue);
    return { queue: options.queue, stallMs: named?.stallMs ?? 30_000 };
  }
  let told = false;
  for (;;) {
    const live = await daemons();
    if (live.length === 1) return { queue: live[0]!.queue, stallMs: live[0]!.stallMs };
    if (live.length > 1) {
      const names = live.map((daemon) => `${daemon.queue} (${daemon.host}, pid ${daemon.pid})`).join(', ');
      throw new OrcError(
        'CONFIG_INVALID',
        `several daemons use Redis at ${shownUrl(options.target.url)}: ${names}; pick one with --queue`,
      );
    }
    if (!told)
      options.say(`waiting for a daemon with execution.backend "redis" on ${shownUrl(options.target.url)}`);
    told = true;
    await options.clock.sleep(1_000);
  }
}

/** A job in hand: which job, how to stop it, and what `orc ls` shows of it. */
interface RunningJob {
  jobId: string;
  controller: AbortController;
  presence: WorkerPresence['running'][number];
}

/** BullMQ's lock of a job in hand: the token of the worker that holds it, gone when nobody does. */
function jobLockKey(queue: string, jobId: string): string {
  return `${KEY_PREFIX}:${queue}:${jobId}:lock`;
}

function refuse(worker: string, message: string): AttemptResult {
  return { ok: false, error: { category: 'permanent', message, details: {} }, worker };
}
