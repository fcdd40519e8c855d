import type { QuotaStatus, Usage } from '@orc/shared';
import type { Clock } from '../clock.js';
import { CallCancelledError, ModelError } from '../model/model-error.js';
import type { QuotaIdentity } from '../model/provider.js';
import { ModelQuota } from './model-quota.js';
import { minimumCacheableTokens, prefixHash } from './prefix-cache.js';
import type { LedgerAnswer, QuotaLedger } from './quota-ledger.js';
import type { RateLimitReport } from './rate-limit-report.js';
import { TokenEstimator, type CallEstimate, type CallShape } from './token-estimator.js';

/** A wait this long or longer is a pause a person sees (`waiting for quota until HH:MM`), not a delay. */
export const LONG_WAIT_MS = 60_000;
/**
 * How long calls wait for another call writing their prefix to the cache. The API makes the entry
 * readable once that answer begins (a second or two); past this the call goes and writes it too.
 */
const PREFIX_WAIT_MS = 15_000;
/**
 * How soon a call the ledger cannot place yet asks again when no time is known (a call in flight
 * elsewhere must end first; its end also wakes it, this is for an end not heard of: a lease expired).
 */
const LEDGER_RETRY_MS = 1_000;

/** A call asking to go. */
export interface QuotaAsk {
  runId: string;
  /** The quota it spends (`provider.quotaOf(model)`); none: only the machine's cap on calls applies. */
  quota: QuotaIdentity | undefined;
  call: CallShape;
  /** The call will wait `LONG_WAIT_MS` or more: called once for each new end of the wait. */
  onLongWait?: (wait: QuotaWait) => void;
}

/** A long wait: whose quota, until when (epoch ms), and why in words. */
export interface QuotaWait {
  model: string;
  until: number;
  reason: string;
}

/** Every call of a quota waits until `until` (epoch ms), for `reason`. */
export interface QuotaHold {
  key: string;
  model: string;
  metered: boolean;
  until: number;
  reason: string;
}

/** Told of every call the governor admits and of its end (the daemon's metrics). */
export interface CallObserver {
  /** The call was admitted after waiting `waitedMs` for its quota or a place. */
  admitted(call: CallShape, waitedMs: number): void;
  ended(call: CallShape, outcome: CallOutcome): void;
}

export type CallOutcome =
  { kind: 'succeeded'; usage: Usage; costUsd: number } | { kind: 'failed'; error: unknown };

/** An admitted call: it reports its answer's headers and its end. */
export interface QuotaPermit {
  /** Give to the provider's request: the answer's rate-limit headers come back through it. */
  readonly onRateLimits: (report: RateLimitReport) => void;
  /** Give to the provider's request: the answer began, so a prefix it wrote can be read from the cache. */
  readonly onAnswer: () => void;
  /** The call ended with an answer; `costUsd` is what it was charged. */
  succeeded(usage: Usage, costUsd?: number): void;
  /** The call ended without one (refused, failed, aborted). */
  failed(error: unknown): void;
  /**
   * The call waits on a person (a tool permission): its place among the calls in flight is let go so
   * other calls go on; the function returned takes it back when the agent goes on.
   */
  standBy(): () => void;
}

interface Waiter {
  ask: QuotaAsk;
  quota: ModelQuota | undefined;
  /** As estimated when it asked; made again while it waits, as answers teach the estimator. */
  estimate: CallEstimate;
  /** The cache-marked prefix, when it is long enough for the API to cache. */
  prefix: string | undefined;
  since: number;
  notifiedUntil: number | undefined;
  /** Admitted or cancelled: an answer of the ledger that comes later gives its place back. */
  settled: boolean;
  admit: (permit: QuotaPermit) => void;
  cancel: () => void;
}

/** The waiting calls of one quota, one queue per run, served in turn so runs share it fairly. */
interface Lane {
  runs: Map<string, Waiter[]>;
  order: string[];
  next: number;
}

const UNMETERED = '';

/**
 * The daemon's one admission controller: every model call of every run asks it before it is sent. It
 * keeps each quota (account and model) as the answers' rate-limit headers describe it, estimates each
 * call's tokens (the prompt, the prefix the cache will serve, what similar answers used) and admits a call
 * when it fits what is left, within `execution.machine_max_in_flight` calls in flight. Runs waiting on
 * the same quota take turns. A wait of a minute or more (a `retry-after`, a usage limit's reset) is told
 * to the call's run, which pauses until then; the call keeps its place and goes at that time.
 */
export class QuotaGovernor {
  private readonly quotas = new Map<string, ModelQuota>();
  private readonly lanes = new Map<string, Lane>();
  private readonly estimator = new TokenEstimator();
  private readonly counts = new Map<string, { admitted: number; refused: number }>();
  private inFlight = 0;
  private readonly holdListeners: ((hold: QuotaHold) => void)[] = [];
  private admissions = 0;
  private laneCursor = 0;
  private wake: { at: number; stop: AbortController } | undefined;
  /** Most calls ever in flight at once, for tests and benchmarks. */
  peak = 0;

  constructor(
    private readonly clock: Clock,
    readonly maxInFlight: number,
    private readonly observer?: CallObserver,
    /** Where metered quotas' buckets are kept with other processes on the same key (`orc worker`). */
    private readonly ledger?: QuotaLedger,
  ) {
    ledger?.onRoom((key) => {
      const quota = this.quotas.get(key);
      if (!quota) return;
      quota.ledgerSaid(undefined);
      this.pump();
    });
  }

  /** Calls admitted and not yet ended, over every quota. */
  get inFlightCalls(): number {
    return this.inFlight;
  }

  /** Calls waiting to be admitted, over every quota (the unmetered ones too). */
  get waitingCalls(): number {
    let waiting = 0;
    for (const lane of this.lanes.values()) for (const queue of lane.runs.values()) waiting += queue.length;
    return waiting;
  }

  /** Tells `listener` of every hold a refusal puts on a quota, so other processes on the same key can keep it. */
  onHold(listener: (hold: QuotaHold) => void): void {
    this.holdListeners.push(listener);
  }

  /**
   * Holds every call of the quota until `until` (epoch ms): a hold another process on the same key was
   * told of (a `retry-after`, a usage limit's reset). Not told to `onHold` listeners again.
   */
  hold(quota: QuotaIdentity, model: string, until: number, reason: string): void {
    if (until <= this.clock.now()) return;
    this.quotaFor(quota, model).blockUntil(until, reason);
    this.pump();
  }

  /** Waits until the call may go; rejects with CallCancelledError when `signal` aborts first. */
  admit(ask: QuotaAsk, signal?: AbortSignal): Promise<QuotaPermit> {
    if (signal?.aborted) return Promise.reject(cancelled());
    const quota = ask.quota && this.quotaFor(ask.quota, ask.call.model);
    const estimate = this.estimator.estimate(ask.call);
    const cacheable =
      quota !== undefined &&
      ask.quota?.metered === true &&
      ask.call.system !== '' &&
      estimate.prefixTokens >= minimumCacheableTokens(ask.call.model);
    const prefix = cacheable ? prefixHash(ask.call.system) : undefined;
    const now = this.clock.now();
    // Nothing waits and there is room: the call goes now, as the queue would send it, without one.
    // (Most calls of a run go at once; the queue and its turn cost ~4 µs a call, 2 calls a task.)
    const waiterOf = (admit: Waiter['admit'], cancel: Waiter['cancel']): Waiter => ({
      ask,
      quota,
      estimate,
      prefix,
      since: now,
      notifiedUntil: undefined,
      settled: false,
      admit,
      cancel,
    });
    if (this.lanes.size === 0 && this.inFlight < this.maxInFlight && !quota?.shared) {
      let permit: QuotaPermit | undefined;
      const waiter = waiterOf(
        (given) => {
          waiter.settled = true;
          permit = given;
        },
        () => undefined,
      );
      const gated = prefix !== undefined && quota!.prefixes.state(prefix, now) === 'writing';
      const wait = gated ? undefined : quota?.waitFor(this.need(waiter, now), now);
      if (!gated && (wait === undefined || (wait.ms === 0 && wait.known))) {
        this.admitted(waiter, now);
        return Promise.resolve(permit!);
      }
    }
    return new Promise<QuotaPermit>((resolve, reject) => {
      let waiting = true;
      let listening = false;
      const onAbort = () => {
        waiter.cancel();
        this.pump();
      };
      const waiter = waiterOf(
        (permit) => {
          waiting = false;
          waiter.settled = true;
          if (listening) signal?.removeEventListener('abort', onAbort);
          resolve(permit);
        },
        () => {
          waiting = false;
          waiter.settled = true;
          if (listening) signal?.removeEventListener('abort', onAbort);
          this.remove(waiter);
          reject(cancelled());
        },
      );
      this.enqueue(waiter);
      this.pump();
      // Most calls go at once: the signal is listened to only by a call that waits (a listener added
      // and taken off again for each call cost ~0.1 s over a 10,000-task run).
      if (waiting && signal) {
        listening = true;
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /** The daemon stops: calls still waiting are cancelled, and no timer is left behind. */
  close(): void {
    this.wake?.stop.abort();
    this.wake = undefined;
    for (const lane of [...this.lanes.values()]) {
      for (const queue of [...lane.runs.values()]) for (const waiter of [...queue]) waiter.cancel();
    }
  }

  /** Every quota the daemon has seen, for a person (`daemon.health`). */
  status(): { models: QuotaStatus[]; inputEstimateError: number; estimatedCalls: number } {
    const now = this.clock.now();
    const models = [...this.quotas.values()].map((quota): QuotaStatus => {
      const blockedUntil = quota.blockedUntil(now);
      const counts = this.counts.get(quota.key) ?? { admitted: 0, refused: 0 };
      return {
        key: quota.key,
        model: quota.model,
        limits: quota.limits(),
        inFlight: quota.inFlight,
        waiting: [...(this.lanes.get(quota.key)?.runs.values() ?? [])].reduce((n, q) => n + q.length, 0),
        admitted: counts.admitted,
        rateLimited: counts.refused,
        ...(blockedUntil !== undefined && { blockedUntil: new Date(blockedUntil).toISOString() }),
      };
    });
    const { mean, calls } = this.estimator.inputError;
    return { models, inputEstimateError: mean, estimatedCalls: calls };
  }

  private quotaFor(identity: QuotaIdentity, model: string): ModelQuota {
    let quota = this.quotas.get(identity.key);
    if (!quota) {
      quota = new ModelQuota(
        identity.key,
        model,
        identity.metered,
        this.ledger !== undefined && identity.metered,
      );
      this.quotas.set(identity.key, quota);
    }
    return quota;
  }

  private enqueue(waiter: Waiter): void {
    const key = waiter.quota?.key ?? UNMETERED;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { runs: new Map(), order: [], next: 0 };
      this.lanes.set(key, lane);
    }
    let queue = lane.runs.get(waiter.ask.runId);
    if (!queue) {
      queue = [];
      lane.runs.set(waiter.ask.runId, queue);
      lane.order.push(waiter.ask.runId);
    }
    queue.push(waiter);
  }

  private remove(waiter: Waiter): void {
    const key = waiter.quota?.key ?? UNMETERED;
    const lane = this.lanes.get(key);
    const queue = lane?.runs.get(waiter.ask.runId);
    if (!lane || !queue) return;
    const index = queue.indexOf(waiter);
    if (index >= 0) queue.splice(index, 1);
    if (queue.length > 0) return;
    lane.runs.delete(waiter.ask.runId);
    const at = lane.order.indexOf(waiter.ask.runId);
    lane.order.splice(at, 1);
    if (lane.next > at) lane.next -= 1;
    if (lane.order.length === 0) this.lanes.delete(key);
  }

  /** Admits every call that fits now, lane by lane, and sets a timer for the next that will. */
  private pump(): void {
    const now = this.clock.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    const keys = [...this.lanes.keys()];
    for (let i = 0; i < keys.length && this.inFlight < this.maxInFlight; i++) {
      const key = keys[(this.laneCursor + i) % keys.length]!;
      for (;;) {
        const lane = this.lanes.get(key);
        if (!lane || this.inFlight >= this.maxInFlight) break;
        const { waiter, gatedUntil } = this.candidate(lane, now);
        if (gatedUntil !== undefined) wakeAt = Math.min(wakeAt, gatedUntil);
        if (!waiter) break;
        const wait = waiter.quota?.waitFor(this.need(waiter, now), now);
        if (wait === undefined || (wait.ms === 0 && wait.known)) {
          if (!waiter.quota?.shared) {
            this.admitNow(waiter, lane, now);
            continue;
          }
          this.reserve(waiter, now);
          break;
        }
        if (wait.ms > 0) wakeAt = Math.min(wakeAt, now + wait.ms);
        if (wait.known && wait.ms >= LONG_WAIT_MS)
          this.tellLongWait(lane, waiter.quota!, now + wait.ms, wait.reason);
        break;
      }
    }
    this.laneCursor = keys.length === 0 ? 0 : (this.laneCursor + 1) % keys.length;
    this.schedule(wakeAt, now);
  }

  /**
   * The next call of the lane, runs taking turns; a call whose prefix another call is writing waits for
   * that answer (`gatedUntil`: when it stops waiting), and the next run's call may go meanwhile.
   */
  private candidate(lane: Lane, now: number): { waiter?: Waiter; gatedUntil?: number } {
    let gatedUntil: number | undefined;
    for (let i = 0; i < lane.order.length; i++) {
      const runId = lane.order[(lane.next + i) % lane.order.length]!;
      const head = lane.runs.get(runId)![0]!;
      const writing = head.prefix !== undefined && head.quota!.prefixes.state(head.prefix, now) === 'writing';
      if (writing && now - head.since < PREFIX_WAIT_MS) {
        gatedUntil = Math.min(gatedUntil ?? Number.POSITIVE_INFINITY, head.since + PREFIX_WAIT_MS);
        continue;
      }
      return { waiter: head, ...(gatedUntil !== undefined && { gatedUntil }) };
    }
    return gatedUntil !== undefined ? { gatedUntil } : {};
  }

  /** What the call will be charged: the prefix is free when the cache will serve it. */
  private need(waiter: Waiter, now: number): { input: number; output: number } {
    waiter.estimate = this.estimator.estimate(waiter.ask.call);
    const { prefixTokens, promptTokens, outputTokens } = waiter.estimate;
    const cached =
      waiter.prefix !== undefined && waiter.quota!.prefixes.state(waiter.prefix, now) === 'cached';
    return { input: promptTokens + (cached ? 0 : prefixTokens), output: outputTokens };
  }

  private tellLongWait(lane: Lane, quota: ModelQuota, until: number, reason: string): void {
    for (const queue of lane.runs.values()) {
      for (const waiter of queue) {
        // A wait that moves by less than a second is the same wait.
        if (waiter.notifiedUntil !== undefined && Math.abs(waiter.notifiedUntil - until) < 1000) continue;
        waiter.notifiedUntil = until;
        waiter.ask.onLongWait?.({ model: quota.model, until, reason });
      }
    }
  }

  /**
   * Asks the ledger for the call's place in its shared quota; the quota's next call waits for the
   * answer. The call holds a place among the calls in flight meanwhile, so the cap holds.
   */
  private reserve(waiter: Waiter, now: number): void {
    const quota = waiter.quota!;
    quota.asking = true;
    this.inFlight += 1;
    const answered = (answer: LedgerAnswer) => {
      quota.asking = false;
      this.inFlight -= 1;
      const at = this.clock.now();
      if (!answer.ok) {
        // Not known: a call must end first, here (heard of on the room channel) or in a process that
        // died holding its place (no one says when that expires): asked again soon either way.
        const ms = answer.known ? answer.ms : LEDGER_RETRY_MS;
        quota.ledgerSaid({ until: at + ms, known: answer.known, reason: answer.reason });
      } else if (waiter.settled) {
        this.ledger!.release(quota.key, answer.flight, {
          outputTokens: 0,
          answered: false,
          sent: false,
          refused: false,
        });
      } else {
        quota.ledgerSaid(undefined);
        this.remove(waiter);
        this.admitted(waiter, at, answer.flight);
      }
      this.pump();
    };
    this.ledger!.reserve(quota.key, quota.model, this.need(waiter, now)).then(answered, () =>
      answered({
        ok: false,
        ms: LEDGER_RETRY_MS,
        known: true,
        reason: 'the shared quota on Redis to answer',
      }),
    );
  }

  private admitNow(waiter: Waiter, lane: Lane, now: number): void {
    const runId = waiter.ask.runId;
    const queue = lane.runs.get(runId)!;
    queue.shift();
    const at = lane.order.indexOf(runId);
    if (queue.length === 0) {
      lane.runs.delete(runId);
      lane.order.splice(at, 1);
      lane.next = lane.order.length === 0 ? 0 : at % lane.order.length;
      if (lane.order.length === 0) this.lanes.delete(waiter.quota?.key ?? UNMETERED);
    } else lane.next = (at + 1) % lane.order.length;
    this.admitted(waiter, now);
  }

  /** The call goes: counted, and given its permit (`flight`: its place in the ledger's quota). */
  private admitted(waiter: Waiter, now: number, flight?: string): void {
    const call = ++this.admissions;
    this.inFlight += 1;
    this.peak = Math.max(this.peak, this.inFlight);
    const { quota, prefix } = waiter;
    if (quota) {
      quota.admit({ call, at: now, ...this.need(waiter, now) });
      if (prefix !== undefined) quota.prefixes.sent(prefix, call, now);
      this.count(quota.key).admitted += 1;
    }
    this.observer?.admitted(waiter.ask.call, now - waiter.since);
    waiter.admit(this.permit(call, waiter, flight));
  }

  private permit(call: number, waiter: Waiter, flight: string | undefined): QuotaPermit {
    const { quota, prefix, ask } = waiter;
    const sentAt = this.clock.now();
    let answered = false;
    let ended = false;
    const end = (outcome: { answered: boolean; outputTokens: number; refused?: boolean }) => {
      if (ended) return false;
      ended = true;
      this.inFlight -= 1;
      quota?.finished(call, outcome, this.clock.now());
      if (flight !== undefined)
        this.ledger!.release(quota!.key, flight, {
          ...outcome,
          sent: true,
          refused: outcome.refused === true,
        });
      if (prefix !== undefined && !answered) quota!.prefixes.failed(prefix, call);
      return true;
    };
    const answer = () => {
      if (answered) return;
      answered = true;
      if (prefix !== undefined) quota!.prefixes.answered(prefix, call, this.clock.now());
    };
    return {
      onRateLimits: (report) => {
        if (ended || !quota) return;
        // Stamped on the governor's clock: the provider reads headers on the system's.
        const stamped = { ...report, at: this.clock.now() };
        quota.report(call, stamped, sentAt);
        if (flight !== undefined) this.ledger!.observe(quota.key, flight, quota.ledgerReadings(stamped));
        this.pump();
      },
      onAnswer: () => {
        if (ended) return;
        answer();
        this.pump();
      },
      succeeded: (usage, costUsd = 0) => {
        answer();
        if (!end({ answered: true, outputTokens: usage.outputTokens })) return;
        this.observer?.ended(ask.call, { kind: 'succeeded', usage, costUsd });
        if (ask.quota?.metered) this.estimator.learn(ask.call, usage);
        this.pump();
      },
      failed: (error) => {
        if (ended) return;
        // Read before the call's place is given back: the ledger places a reading by its call's admission.
        if (quota && error instanceof ModelError) this.readRefusal(quota, call, sentAt, error, flight);
        const refused = error instanceof ModelError && error.details.status === 429;
        end({ answered: false, outputTokens: 0, refused });
        this.observer?.ended(ask.call, { kind: 'failed', error });
        if (quota && error instanceof ModelError) this.refused(quota, error, ask);
        this.pump();
      },
      standBy: () => {
        if (ended) return () => {};
        this.inFlight -= 1;
        this.pump();
        // Taken back at once, past the cap if need be: the agent is already mid-call and cannot wait.
        return () => {
          if (ended) return;
          this.inFlight += 1;
          this.peak = Math.max(this.peak, this.inFlight);
        };
      },
    };
  }

  /** A failed call's headers (a refusal's say what is left) are read as an answer's are. */
  private readRefusal(
    quota: ModelQuota,
    call: number,
    sentAt: number,
    error: ModelError,
    flight: string | undefined,
  ): void {
    const { rateLimits } = error.details;
    if (!rateLimits) return;
    const stamped = { ...rateLimits, at: this.clock.now() };
    quota.report(call, stamped, sentAt);
    if (flight !== undefined) this.ledger!.observe(quota.key, flight, quota.ledgerReadings(stamped));
  }

  /** A refusal: a `retry-after` or a usage limit holds every call of the quota. */
  private refused(quota: ModelQuota, error: ModelError, ask: QuotaAsk): void {
    const now = this.clock.now();
    const { details } = error;
    let until: number | undefined;
    let reason = '';
    if (details.status === 429) {
      this.count(quota.key).refused += 1;
      if (details.retryAfterMs !== undefined) {
        until = now + details.retryAfterMs;
        reason = `the API asked to wait ${Math.ceil(details.retryAfterMs / 1000)} s (429)`;
      }
    } else if (details.pauseReason === 'quota' && details.resumeAt !== undefined) {
      until = details.resumeAt;
      reason = 'a usage limit of the account';
    }
    if (until === undefined || until <= now) return;
    quota.blockUntil(until, reason);
    for (const listener of this.holdListeners)
      listener({ key: quota.key, model: quota.model, metered: ask.quota?.metered === true, until, reason });
    // The refused call itself waits in its worker's backoff; its run hears of a long wait too.
    if (until - now >= LONG_WAIT_MS && details.pauseRun !== true)
      ask.onLongWait?.({ model: quota.model, until, reason });
  }

  private count(key: string): { admitted: number; refused: number } {
    let counts = this.counts.get(key);
    if (!counts) {
      counts = { admitted: 0, refused: 0 };
      this.counts.set(key, counts);
    }
    return counts;
  }

  private schedule(at: number, now: number): void {
    if (this.wake && this.wake.at <= at && this.wake.at > now) return;
    this.wake?.stop.abort();
    this.wake = undefined;
    if (!Number.isFinite(at)) return;
    const stop = new AbortController();
    this.wake = { at, stop };
    this.clock.sleep(Math.max(1, at - now), stop.signal).then(
      () => {
        if (this.wake?.stop === stop) this.wake = undefined;
        this.pump();
      },
      () => undefined,
    );
  }
}

function cancelled(): CallCancelledError {
  return new CallCancelledError('the call was cancelled while it waited for quota');
}
