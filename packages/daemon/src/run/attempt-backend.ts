import type { ProviderName } from '@orc/shared';
import type { ModelProvider, ModelRequest, ModelResponse } from '../model/provider.js';
import type { AgentCheckout } from '../remote/attempt-wire.js';
import type { QuotaAsk, QuotaGovernor, QuotaPermit } from '../quota/quota-governor.js';

/** Which attempt a call is: what a remote backend names its job by, so a result is taken once. */
export interface AttemptJob {
  /** Unique per attempt of a task of a run (`attemptJobId`). */
  id: string;
  runId: string;
  taskId: string;
  attempt: number;
  /** The provider the run names for its workers; a remote worker makes its own, with its own key. */
  provider: ProviderName;
  /** The run's limit on the attempt (`execution.worker_timeout`), for a remote worker to stop at too. */
  timeoutMs: number;
  /** A Claude Code attempt's repository, for a worker on another machine (`PushedAttempt`). */
  checkout?: AgentCheckout;
  /**
   * The job of the task's previous attempt, when that attempt was cut off (the daemon stopped, the
   * backend went away): a remote worker may have finished it meanwhile, and its answer is taken instead
   * of paying for the work again.
   */
  previous?: string;
}

/**
 * Where a run's attempts are carried out. The run keeps everything else (the attempt's record, its
 * charge, the journal, the review); the backend admits the call and makes it: in the daemon (`local`,
 * today's path and the fastest on one machine) or as a job other machines' `orc worker` processes take
 * (`redis`).
 */
export interface AttemptBackend {
  /** Attempts run on other machines: agents there clone the run's remote and push their work. */
  readonly runsElsewhere: boolean;
  /** Waits until the call may go (its quota, a place among the calls in flight). */
  admit(ask: Omit<QuotaAsk, 'quota'>, signal: AbortSignal): Promise<QuotaPermit>;
  /** The worker model's call for `job`; failures are thrown as `ModelError`. */
  complete(job: AttemptJob, request: ModelRequest): Promise<ModelResponse>;
  /** Resolves once the backend can take calls again (a run paused for it goes on then). */
  whenReachable?(signal: AbortSignal): Promise<void>;
}

/** Attempts made in the daemon: the daemon's quota governor admits them, the run's provider makes them. */
export function localBackend(provider: ModelProvider, governor: QuotaGovernor): AttemptBackend {
  return {
    runsElsewhere: false,
    admit: (ask, signal) => governor.admit({ ...ask, quota: provider.quotaOf?.(ask.call.model) }, signal),
    complete: (_job, request) => provider.complete(request),
  };
}

/**
 * `<run>.<task>.<n>`. The task id is escaped so the id never holds a `:` (BullMQ's key separator) and
 * is never all digits (BullMQ keeps those for its own ids).
 */
export function attemptJobId(runId: string, taskId: string, attempt: number): string {
  return `${runId}.${encodeURIComponent(taskId).replaceAll('.', '%2E')}.${attempt}`;
}
