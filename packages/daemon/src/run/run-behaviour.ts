import {
  plural,
  costFigure,
  formatCost,
  FINISHED_RUN_STATUSES,
  SETTLED_STATUSES,
  plannedTasks,
  type FinalReview,
} from '@orc/shared';
import { assign, fromPromise } from 'xstate';
import { managerMachine, type PlanResult } from '../actors/manager.machine.js';
import { runMachine, type RollbackPlan, type RollbackRequest } from '../actors/run.machine.js';
import { isoAt } from '../clock.js';
import { backoffDelay } from '../model/model-error.js';
import { FinalReviewOverBudget } from './manager-calls.js';
import type { Run } from './run.js';
import { commitRollback, prepareRollback, type RollbackDeps } from './run-rollback.js';

/**
 * The run machine as one run drives it: each action and actor the machine names, done with the run's
 * parts. Kept apart from the machine so the machine reads as the run's states, and apart from `Run` so
 * each piece of behaviour reads as what a state does.
 */
export function provideRunMachine(run: Run) {
  const { clock, random, retryBaseMs, logger } = run.deps;
  const waitUntil = fromPromise<void, { until: number }>(({ input, signal }) =>
    clock.sleep(Math.max(0, input.until - clock.now()), signal),
  );
  return runMachine.provide({
    actors: {
      manager: managerMachine.provide({
        actors: {
          requestPlan: fromPromise(({ input, signal }) =>
            run.manager.plan(run.doc.goal, input.feedback, signal),
          ),
          waitUntil,
        },
        actions: {
          announcePlanning: (_, params) => run.emit({ type: 'run.planning', attempt: params.attempt }),
          announceRejected: (_, params) =>
            run.emit({ type: 'run.plan_rejected', attempt: params.attempt, error: params.error }),
          scheduleBackoff: assign({
            backoffUntil: ({ context }) =>
              clock.now() + backoffDelay(context.retries, context.failure?.retryAfterMs, random, retryBaseMs),
          }),
        },
      }),
      settle: fromPromise(() => settle(run)),
      finalReview: fromPromise(async ({ signal }) => {
        try {
          return await run.manager.finalReview(run.doc.planSummary ?? '', [...run.tasks.values()], signal);
        } catch (error) {
          if (!(error instanceof FinalReviewOverBudget)) throw error;
          // The run pauses at its budget, as before an attempt; on resume it settles and reviews again.
          const { costUsd, limit = 0 } = run.budget;
          run.emit(
            costUsd >= limit
              ? { type: 'run.budget_exceeded', costUsd, limitUsd: limit }
              : {
                  type: 'run.budget_would_exceed',
                  costUsd,
                  limitUsd: limit,
                  neededUsd: error.expectedUsd,
                  underWayUsd: 0,
                },
          );
          run.actor.send({
            type: 'run.budget_reached',
            message: run.budget.describeFinalReview(run.id, error.expectedUsd),
          });
          // Leaving `reviewing` stops this actor: its outcome is never read.
          return new Promise<never>(() => {});
        }
      }),
      rollback: fromPromise<RollbackPlan, RollbackRequest>(({ input }) => {
        run.rollingBack = prepareRollback(rollbackDeps(run), input);
        return run.rollingBack;
      }),
      quotaReset: fromPromise<void, { until: number | undefined }>(({ input, signal }) =>
        input.until === undefined
          ? new Promise<void>(() => {}) // no known reset: a person resumes the run
          : clock.sleep(Math.max(0, input.until - clock.now()), signal),
      ),
      probeStorage: fromPromise(async ({ signal }) => {
        for (let wait = PROBE_FIRST_MS; ; wait = Math.min(wait * 2, PROBE_MAX_MS)) {
          if (await storageTakesWrites(run)) return;
          await clock.sleep(wait, signal);
        }
      }),
      probeBackend: fromPromise(async ({ signal }) => {
        await run.deps.backend?.whenReachable?.(signal);
      }),
      drain: fromPromise(() => run.drain()),
    },
    actions: {
      announce: (_, { status, reason, message, resumeAt, model }) =>
        run.announce(status, reason, message, resumeAt, model),
      applyPlan: (_, { result }) => applyPlan(run, result),
      beginRollback: ({ context }) => {
        const request = context.rollback!;
        run.emit({
          type: 'run.rollback_started',
          checkpointId: request.checkpointId,
          strategy: request.strategy,
          ...(request.tasks !== undefined && { tasks: request.tasks }),
        });
      },
      commitRollback: ({ context }, { plan }) => commitRollback(rollbackDeps(run), context.rollback!, plan),
      rollbackFailed: ({ context }, { error }) => {
        const message = error instanceof Error ? error.message : String(error);
        logger.warn({ runId: run.id, error: message }, 'rollback failed; nothing changed');
        run.emit({
          type: 'run.rollback_failed',
          checkpointId: context.rollback!.checkpointId,
          error: message,
        });
      },
      storeFinalReview: (_, { review, error }) => storeFinalReview(run, review, error),
      startWork: () => run.scheduler.startWork(),
      cancelWork: () => {
        run.scheduler.pool.releaseAll();
        run.scheduler.train?.interrupt();
        const at = isoAt(clock);
        // Settled tasks stay as they are; the machine decides for the others (a blocked one is cancelled too).
        const open = [...run.tasks.rows()].filter(
          (task) => task.status === 'blocked' || !SETTLED_STATUSES.has(task.status),
        );
        for (const task of open) run.tasks.send(task.id, { type: 'task.cancel', at });
      },
      finish: (_, { error }) => finish(run, error),
    },
    guards: {
      allTasksDone: () => run.scheduler.allTasksDone(),
      // Tasks a person gave (a task list, Task Master) are approved already: only a plan waits.
      approvalRequired: () => run.config.execution.approve_plan && !run.doc.importedTasks,
    },
  });

  function storeFinalReview(run: Run, review: FinalReview | undefined, error: unknown): void {
    if (review) run.doc.finalReview = review;
    if (error !== undefined)
      logger.warn(
        { runId: run.id, error: error instanceof Error ? error.message : JSON.stringify(error) },
        'final review failed',
      );
  }
}

/** What a rollback works with: the run's parts. */
function rollbackDeps(run: Run): RollbackDeps {
  return {
    runId: run.id,
    doc: run.doc,
    checkpoints: run.checkpoints,
    merges: run.scheduler.merges,
    tasks: run.tasks,
    workspace: () => run.deps.workspace,
    interrupt: () => run.scheduler.interrupt(),
    reschedule: () => run.scheduler.reschedule(),
    emit: (event) => run.emit(event),
    journalled: () => run.journal.drain(),
  };
}

/** How often a run paused for its disk asks whether it takes writes again: soon at first, then less. */
const PROBE_FIRST_MS = 500;
const PROBE_MAX_MS = 5_000;

/**
 * Whether the state directory takes the run's writes again, from the cheapest question to the one that
 * must succeed: a small file, then the events waiting in the journal, then the run's document.
 */
async function storageTakesWrites(run: Run): Promise<boolean> {
  const { store } = run.deps;
  try {
    await store.probeWrite(run.id);
    await run.journal.retryNow();
    run.save();
    await store.flush(run.id);
    return true;
  } catch {
    return false;
  }
}

/** The plan is in: the run's tasks are made from it, held ones wait, and a first checkpoint is taken. */
function applyPlan(run: Run, result: PlanResult): void {
  if (!result.ok) return;
  const at = isoAt(run.deps.clock);
  run.doc.planSummary = result.plan.summary;
  // A run restored before its first snapshot starts over from its imported tasks: what the journal
  // says they did before the crash stays (finished tasks are not run again, attempt numbers go on).
  const before = new Map([...run.tasks.values()].map((task) => [task.id, task]));
  run.tasks.replaceAll(plannedTasks(result.plan.tasks, before));
  run.emit({ type: 'run.planned', summary: result.plan.summary, tasks: result.plan.tasks });
  const free = run.scheduler.rebuild();
  for (const [id, reason] of Object.entries(run.doc.heldTasks ?? {})) {
    run.tasks.send(id, { type: 'task.hold', reason, imported: true, at });
  }
  run.scheduler.unblock(free, at);
  // Taken once the run is executing: the snapshot then no longer carries the plan and the imported tasks
  // (a 10,000-task plan made the first checkpoint three times the size of the run document).
  queueMicrotask(() => void run.checkpoints.auto('planned'));
}

/**
 * Before the final review: accepted work has landed, the run's branch is left for review or merged
 * when asked, and everything that follows the events (a Task Master write-back) has caught up.
 */
async function settle(run: Run): Promise<void> {
  await run.scheduler.merges.idle();
  const workspace = run.deps.workspace;
  if (workspace) {
    const merge = run.doc.workspace?.merge === true && run.scheduler.allTasksDone();
    const result = await workspace.finish({ merge });
    run.emit({
      type: 'run.integrated',
      branch: workspace.branch,
      merged: result.merged,
      message: result.merged
        ? `merged ${workspace.branch} into ${result.into} (${result.commit.slice(0, 12)})`
        : result.message,
    });
  }
  // A progress checkpoint the last tasks made is listed before the run ends: its `checkpoint.created`
  // journalled after `run.completed` was past the final document and the index's summary, so every start
  // of the daemon took the finished run for damaged and loaded it (a 100,000-task run: 0.7 s of CPU).
  await run.checkpoints.written();
  await run.journal.drain();
  await Promise.all([...run.settleHooks].map((hook) => hook()));
}

/** Stamps the end of the run and announces how it ended; a finished run lets go of its journal file. */
function finish(run: Run, error: string | undefined): void {
  const { doc } = run;
  const status = run.status;
  const at = isoAt(run.deps.clock);
  doc.finishedAt = at;
  if (status === 'completed') {
    doc.finalReview ??= {
      verdict: 'success',
      summary: 'Every task is done (the final review could not be written).',
      followUps: [],
    };
    run.emit({ type: 'run.completed', review: doc.finalReview }, at);
  } else if (status === 'failed') {
    doc.error = error ?? failureSummary(run);
    const { finalReview } = doc;
    run.emit({ type: 'run.failed', error: doc.error, ...(finalReview && { review: finalReview }) }, at);
  } else if (status === 'cancelled') run.emit({ type: 'run.cancelled' }, at);
  void run.journal
    .drain()
    .then(async () => {
      if (!FINISHED_RUN_STATUSES.has(run.status)) return;
      run.journal.forgetRecent();
      await run.deps.store.releaseRun?.(run.id);
    })
    .catch((error: unknown) =>
      run.deps.logger.warn({ err: error, runId: run.id }, 'could not release a finished run'),
    );
}

function failureSummary(run: Run): string {
  const tasks = [...run.tasks.values()];
  const failed = tasks.filter((t) => t.status === 'failed');
  const blocked = tasks.filter((t) => t.status === 'blocked' && t.held === undefined);
  const cancelled = tasks.filter((t) => t.status === 'cancelled');
  const waiting = run.scheduler.graph.count('pending');
  const parts: string[] = [];
  // A task at its cost cap cannot be retried as it is (run-control's retryTask refuses): its fix, raising
  // the cap, comes first, where a person reads (a new-user trial was told to fix the cause and retry, and
  // the retry was refused).
  const capped = failed.flatMap((task) => {
    const cap = run.budget.capToRetry(task);
    return cap === undefined ? [] : [{ task, cap }];
  });
  const first = capped[0];
  // The cap once, with the figure a retry needs: each capped task's own error names it again.
  if (first)
    parts.push(
      `${capped.length === 1 ? `task ${first.task.id} is` : `${capped.length} tasks (first: ${first.task.id}) are`} at the cost cap of a task (execution.max_task_cost_usd ${formatCost(run.budget.taskLimit ?? 0)}) and ${first.task.id} needs ${formatCost(first.cap)} to be retried: ${run.budget.retryCommand(first.task.id, first.cap)} (or more) raises it${capped.length > 1 ? ` (orc inbox has each task's figure; orc retry ${run.id} --all-capped --task-budget ${costFigure(Math.max(...capped.map((c) => c.cap)))} runs them all)` : ''}`,
    );
  // Tasks that stopped at a cap a person has raised since (for another task): a plain retry runs them.
  const cappedIds = new Set(capped.map(({ task }) => task.id));
  const fit = failed.filter((task) => !cappedIds.has(task.id) && run.budget.stoppedAt(task) !== undefined);
  const fitFirst = fit[0];
  if (fitFirst)
    parts.push(
      `${fit.length === 1 ? `task ${fitFirst.id}` : `${fit.length} tasks (first: ${fitFirst.id})`} stopped at the cost cap of a task before it was raised to ${formatCost(run.budget.taskLimit ?? 0)}, enough now: orc retry ${run.id} ${fitFirst.id} runs it again${fit.length > 1 ? `, orc retry ${run.id} --all-capped runs them all` : ''}`,
    );
  for (const task of fit) cappedIds.add(task.id);
  const otherFailed = failed.filter((task) => !cappedIds.has(task.id));
  if (otherFailed.length > 0)
    parts.push(
      `${plural(otherFailed.length, capped.length > 0 ? 'other task' : 'task')} failed (first: ${otherFailed[0]!.id}: ${otherFailed[0]!.error ?? 'no reason'})`,
    );
  if (blocked.length > 0)
    parts.push(
      `${plural(blocked.length, 'task')} blocked (first: ${blocked[0]!.id}: ${blocked[0]!.error ?? 'waits for a person'})`,
    );
  if (cancelled.length > 0)
    parts.push(
      `${plural(cancelled.length, 'task')} cancelled by a person (first: ${cancelled[0]!.id}; edit, retry or skip it)`,
    );
  if (waiting > 0) parts.push(`${plural(waiting, 'task')} never ran because a dependency did not finish`);
  // When the cap is all that failed, raising it is the fix; anything else needs its cause fixed first.
  const otherCause = otherFailed.length > 0 || blocked.length > 0 || cancelled.length > 0;
  if (cappedIds.size === 0 || otherCause) parts.push(`fix the cause, then orc retry ${run.id} <task>`);
  return parts.join('; ');
}
