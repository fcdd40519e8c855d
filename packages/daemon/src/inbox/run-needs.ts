import {
  formatCost,
  describeSourceChange,
  FINISHED_RUN_STATUSES,
  type InboxChoice,
  type TaskRecord,
  type TaskStatus,
} from '@orc/shared';
import type { Run } from '../run/run.js';
import { cancelledTasks } from '../run/held-by-person.js';
import { itemKey, type ItemSpec } from './inbox.js';

/**
 * What a run waits for a person on, read off its state: at most one whole-run item (its plan, or the pause
 * it is in), and per task an item for a task out of retries or reworks, or a task held in Task Master that
 * others wait on. Only what really stops something: a pause a person chose, a quota that resets soon or a
 * held task nothing waits on is no item.
 */

/** A quota pause shorter than this goes on by itself before a person could act: no item. */
export const LONG_QUOTA_WAIT_MS = 15 * 60_000;

/** Plan lines an item shows; `orc show` has the rest. */
const PLAN_LINES = 60;

const choice = (id: string, key: string, label: string, needsNote?: boolean): InboxChoice => ({
  id,
  key,
  label,
  ...(needsNote && { needsNote }),
});
const RESUME = choice('resume', 'r', 'resume the run');
const CANCEL = choice('cancel', 'c', 'cancel the run');

/** The whole-run item the run's state asks for, if any. */
export function runNeeds(run: Run, now: number): ItemSpec[] {
  const snapshot = run.actor.getSnapshot();
  const id = run.id;
  const message = snapshot.context.pause?.message;
  const spec = (
    type: ItemSpec['type'],
    question: string,
    choices: InboxChoice[],
    detail?: string,
  ): ItemSpec[] => [
    {
      type,
      runId: id,
      key: itemKey(type, id),
      question,
      choices,
      ...(detail !== undefined && detail !== '' && { detail }),
    },
  ];
  if (snapshot.matches('awaitingApproval')) {
    const tasks = [...run.tasks.values()];
    return spec(
      'plan_approval',
      `run ${id} planned ${tasks.length} task${tasks.length === 1 ? '' : 's'}: approve the plan?`,
      [
        choice('approve', 'a', 'approve: the workers start'),
        choice('edit', 'e', 'have the manager change it (say how in a note)', true),
        choice('refuse', 'x', 'refuse: the run is cancelled'),
      ],
      planText(run.doc.planSummary, tasks),
    );
  }
  if (snapshot.matches({ paused: 'budget' }))
    return spec('budget', `run ${id} is paused at its budget: ${message ?? run.budget.describe(id)}`, [
      choice('resume', 'r', `go on past the budget (orc resume ${id} --budget <usd> sets a new one)`),
      CANCEL,
    ]);
  if (snapshot.matches({ paused: 'quota' })) {
    const until = snapshot.context.pause?.until;
    if (until !== undefined && until - now < LONG_QUOTA_WAIT_MS) return [];
    const when = until === undefined ? 'until someone resumes it' : `until ${new Date(until).toISOString()}`;
    return spec(
      'quota',
      `run ${id} waits for a usage limit of the account, ${when}`,
      [
        ...(until === undefined ? [] : [choice('wait', 'w', 'let it go on by itself then')]),
        choice('resume', 'r', 'try again now'),
        CANCEL,
      ],
      message,
    );
  }
  if (snapshot.matches({ paused: 'provider' }))
    return spec(
      'provider',
      `run ${id} is paused: the model provider refused it (log in, or add credit, then resume)`,
      [RESUME, CANCEL],
      message,
    );
  if (snapshot.matches({ paused: 'source' }))
    return spec(
      'source',
      `run ${id} is paused: its Task Master file cannot be read (fix it, then resume)`,
      [RESUME, CANCEL],
      message,
    );
  if (snapshot.matches({ paused: 'storage' }))
    return spec(
      'storage',
      `run ${id} is paused: the state directory cannot be written (free space or fix permissions; it goes on by itself once it can write)`,
      [choice('resume', 'r', 'try again now'), CANCEL],
      message,
    );
  if (snapshot.matches({ paused: 'backend' }))
    return spec(
      'backend',
      `run ${id} is paused: the Redis server its workers use cannot be reached (start it or fix redis.url; it goes on by itself once it answers)`,
      [choice('resume', 'r', 'try again now'), CANCEL],
      message,
    );
  if (snapshot.matches({ paused: 'held' })) {
    const cancelled = cancelledHoldingWork(run);
    const one = cancelled.length === 1;
    const shown = cancelled.slice(0, 20).join(', ') + (cancelled.length > 20 ? ', …' : '');
    const waited = cancelled.some((taskId) => anyPendingAfter(run, taskId));
    return spec(
      'run_held',
      waited
        ? `run ${id} is paused (held): the work left waits for ${one ? 'task' : 'tasks'} ${shown}, cancelled by a person`
        : `run ${id} is paused (held): ${one ? 'task' : 'tasks'} ${shown}, cancelled by a person, ${one ? 'waits' : 'wait'} for you before the run's final review`,
      [
        choice(
          'retry',
          'r',
          `run the cancelled ${one ? 'task' : 'tasks'} again${waited ? ', then what waits' : ''}`,
        ),
        choice(
          'skip',
          's',
          `skip the cancelled ${one ? 'task' : 'tasks'}: ${waited ? 'what waits goes on' : `the run finishes without ${one ? 'it' : 'them'}`}`,
        ),
        CANCEL,
      ],
      message,
    );
  }
  return [];
}

/**
 * The tasks a person cancelled: what holds a run in `paused.held`, whether other tasks wait for them or
 * not (a cancelled task nothing waited for once failed the run after a paid final review).
 */
export function cancelledHoldingWork(run: Run): string[] {
  return cancelledTasks(run.tasks);
}

function anyPendingAfter(run: Run, taskId: string): boolean {
  return run.scheduler.graph
    .dependentsOf(taskId)
    .some((dependent) => run.tasks.statusOf(dependent) === 'pending');
}

/** The item one task asks for, if any (`run` decides what its tasks mean: failed, held, waited on). */
export function taskNeeds(run: Run, task: TaskRecord): ItemSpec[] {
  if (run.status === 'cancelled') return [];
  const base = { runId: run.id, taskId: task.id };
  if (task.status === 'failed' || (task.status === 'blocked' && task.held === undefined)) {
    return [
      {
        ...base,
        type: 'task_failed',
        key: itemKey('task_failed', run.id, task.id),
        question: failedQuestion(run, task),
        ...(task.error !== undefined &&
          (task.error.length > 200 || run.budget.stoppedAt(task) !== undefined) && { detail: task.error }),
        choices: [
          retryChoice(run, [task]),
          ...allCappedChoice(run, task),
          choice('skip', 's', 'skip it: what waits for it goes on'),
          // A run that has ended cannot be cancelled: offered, the answer would do nothing.
          ...(FINISHED_RUN_STATUSES.has(run.status) ? [] : [CANCEL]),
        ],
      },
    ];
  }
  if (task.status !== 'blocked' || task.held === undefined || !isHeldRoot(run, task)) return [];
  const waiting = waitingOn(run, task.id);
  if (waiting.length === 0) return [];
  const status = task.sourceChange?.status ?? run.doc.source?.imported?.[task.id] ?? 'held';
  return [
    {
      ...base,
      type: 'held',
      key: itemKey('held', run.id, task.id),
      question: `task ${task.id} is ${status} in Task Master and ${waiting.length} task${waiting.length === 1 ? ' waits' : 's wait'} for it`,
      detail: [
        task.sourceChange ? describeSourceChange(task.sourceChange) : task.held,
        `waiting: ${waiting.slice(0, 20).join(', ')}${waiting.length > 20 ? `, and ${waiting.length - 20} more` : ''}`,
        'To run it, set it to pending in Task Master, then answer retry.',
      ].join('\n'),
      choices: [
        retryChoice(
          run,
          [task, ...heldBehind(run, task.id).map((id) => run.taskRecord(id))],
          'run it and what waits for it (once it is pending in Task Master)',
        ),
        choice('skip', 's', 'skip it: what waits for it goes on'),
      ],
    },
  ];
}

/**
 * What a failed or blocked task's item asks. A task that stopped at the cost cap of a task says so with
 * the cap as it is now and what a retry needs (its own error names the cap it stopped at, and a person
 * may have raised it since for another task: a trial read the old cap beside a plain retry).
 */
function failedQuestion(run: Run, task: TaskRecord): string {
  const what = `task ${task.id} of run ${run.id} ${task.status === 'failed' ? 'failed' : 'is blocked'}`;
  const stopped = run.budget.stoppedAt(task);
  const cap = run.budget.taskLimit;
  if (stopped === undefined || cap === undefined)
    return `${what}: ${clip(task.error ?? 'no reason given', 200)}`;
  const at = `${what} at the cost cap of a task (${formatCost(stopped.underUsd)}): it has cost ${formatCost(stopped.spentUsd)}`;
  if (cap + 1e-6 < stopped.capUsd)
    return `${at} and a retry needs ${formatCost(stopped.capUsd)}${cap === stopped.underUsd ? '' : ` (the cap is ${formatCost(cap)} now)`}`;
  return `${at}; the cap is ${formatCost(cap)} now, enough for a retry`;
}

/**
 * A task at its cost cap would fail a plain retry (run-control's retryTask refuses it), so its first
 * choice raises the cap (`raise`, answered with the figure shown or `--budget <usd>`) and runs it; the
 * figure goes with the choice, for `orc inbox` to show.
 */
function retryChoice(run: Run, tasks: TaskRecord[], label = 'run it again'): InboxChoice {
  // A held task's answer runs what waits for it too: its figure covers them all.
  const caps = tasks.flatMap((task) => run.budget.capToRetry(task) ?? []);
  const cap = caps.length === 0 ? undefined : Math.max(...caps);
  if (cap === undefined) {
    const limit = run.budget.stoppedAt(tasks[0]!) === undefined ? undefined : run.budget.taskLimit;
    return choice(
      'retry',
      'r',
      limit === undefined ? label : `${label}, within the ${formatCost(limit)} cap`,
    );
  }
  return {
    ...choice(
      'raise',
      'r',
      `raise the cost cap of a task to ${formatCost(cap)} and ${label} (or raise --budget <usd> for another cap)`,
    ),
    budgetUsd: cap,
  };
}

/**
 * For a task stopped at the cost cap of a task when others are too: one answer that runs them all again,
 * raising the cap first to what the one that needs most needs (`retry_all`; run/retry-capped.ts). Eight
 * tasks stopped at a cap made eight items, each retry its own answer after one raise.
 */
function allCappedChoice(run: Run, task: TaskRecord): InboxChoice[] {
  if (run.budget.stoppedAt(task) === undefined) return [];
  // From the figures kept, not each task's record: every capped task's item asks (its answer checks them).
  const figures = run.budget.cappedFigures().filter(({ taskId }) => {
    const status = run.tasks.statusOf(taskId);
    return status === 'failed' || status === 'blocked';
  });
  if (figures.length < 2) return [];
  const needed = Math.max(...figures.map((figure) => figure.capUsd));
  const cap = run.budget.taskLimit;
  // Not how many: the item is not told again as other tasks stop (the answer's line counts them).
  const all = 'every task stopped at the cap';
  if (cap !== undefined && cap >= needed - 1e-6)
    return [choice('retry_all', 'a', `run ${all} again, within the ${formatCost(cap)} cap`)];
  return [
    {
      ...choice(
        'retry_all',
        'a',
        `raise the cost cap of a task to ${formatCost(needed)} and run ${all} again (or retry_all --budget <usd> for another cap)`,
      ),
      budgetUsd: needed,
    },
  ];
}

const SETTLED_FOR_GOOD: ReadonlySet<TaskStatus> = new Set(['done', 'skipped', 'cancelled']);

/** Held for its own status, not because it waits for another held task. */
function isHeldRoot(run: Run, task: TaskRecord): boolean {
  return !task.dependencies.some((id) => {
    const dependency = run.tasks.get(id);
    return dependency?.status === 'blocked' && dependency.held !== undefined;
  });
}

/** The tasks held because they wait for held `taskId`: an answer to its item runs them with it. */
export function heldBehind(run: Run, taskId: string): string[] {
  return waitingOn(run, taskId).filter((id) => {
    const task = run.tasks.get(id);
    return task?.status === 'blocked' && task.held !== undefined;
  });
}

/** Tasks that wait for `taskId`, directly or through others, and are not settled for good. */
export function waitingOn(run: Run, taskId: string): string[] {
  const graph = run.scheduler.graph;
  const seen = new Set<string>();
  const stack = [...graph.dependentsOf(taskId)];
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    if (seen.has(id)) continue;
    const status = run.tasks.statusOf(id);
    if (status === undefined || SETTLED_FOR_GOOD.has(status)) continue;
    seen.add(id);
    stack.push(...graph.dependentsOf(id));
  }
  return [...seen];
}

function planText(summary: string | undefined, tasks: readonly TaskRecord[]): string {
  const lines = tasks
    .slice(0, PLAN_LINES)
    .map(
      (t) =>
        `${t.id}: ${clip(t.title, 100)}${t.dependencies.length > 0 ? ` (after ${t.dependencies.join(', ')})` : ''}`,
    );
  if (tasks.length > PLAN_LINES) lines.push(`… and ${tasks.length - PLAN_LINES} more (orc show <run>)`);
  return [summary ?? '', ...lines].filter((line) => line !== '').join('\n');
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
