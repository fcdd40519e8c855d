import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type ConfigInput,
  FINISHED_RUN_STATUSES,
  formatBytes,
  isOrcError,
  answerHint,
  jsonSyntaxProblem,
  formatCount,
  LIMITS,
  RUN_ITEM_TYPES,
  type OrcEvent,
  loadConfig,
  OrcError,
  ProviderName,
  TaskSpec,
  taskSpecIssue,
  type InboxItem,
  type RunSummary,
  type TaskMasterInput,
  type TaskSpecInput,
  simulatedLabel,
} from '@orc/shared';
import { detectTaskMasterPath, locateTaskMasterFile } from '@orc/daemon/client';
import type { Command } from 'commander';
import { CommandFailed, EXIT, UsageError } from './cli-error.js';
import { awaitUnderWay } from './await-under-way.js';
import { withClient } from './daemon-connection.js';
import { endsFollowing } from './event-line.js';
import { followEvents, interruptSignal } from './follow-events.js';
import { emit, formatCounts, spendNote, summaryJson } from './output.js';
import { formatCost } from '../screen/format.js';
import { looksLikePath } from './path-argument.js';
import { ProgressView } from './progress-view.js';
import { previewLines, sourceName, writeBackLine } from './run-preview-lines.js';

interface RunOptions {
  workers?: string;
  provider?: string;
  detach?: boolean;
  json?: boolean;
  taskmaster?: string | boolean;
  tag?: string;
  workdir?: string;
  merge?: boolean;
  remote?: string;
  only?: string;
  writeSimulated?: boolean;
  dryRun?: boolean;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'start a run from a goal or a tasks file (JSON) and follow it; --detach returns at once. Exits 0 when ' +
        'the run completed, 1 failed or cancelled, 6 paused or waiting for approval (stderr says how to go on)',
    )
    .argument('[goal-or-tasks-file...]', 'a goal in words, a JSON tasks file, or a Task Master project')
    .option('--workers <n>', 'workers for this run (execution.max_workers)')
    .option('--provider <name>', `model provider: ${ProviderName.options.join(', ')}`)
    .option(
      '--taskmaster [dir]',
      'run a Task Master project (default: the current directory), writing status back',
    )
    .option(
      '--tag <tag>',
      'the Task Master tag to run (default: TASKMASTER_TAG, the current tag, then master)',
    )
    .option(
      '--workdir <repo>',
      'the git repository claude-code workers edit (default: the current directory)',
    )
    .option('--merge', 'merge the run into the starting branch when it completes (claude-code workers)')
    .option(
      '--remote <name-or-url>',
      'the git remote orc workers on other machines fetch and push (execution.backend redis; default origin)',
    )
    .option('--only <ids>', 'run only these Task Master tasks and what they need (e.g. 3,5.2)')
    .option('--write-simulated', 'write to Task Master even on the simulated model (not done by default)')
    .option('--dry-run', 'print what would run, in what order, and what is held and why; start nothing')
    .option('--detach', 'print the run id and return; the run goes on in the daemon')
    .option('--json', 'print one JSON document (the run summary) and nothing else')
    .action(async (words: string[], options: RunOptions) => {
      await runCommand(words, options);
    });
}

async function runCommand(words: string[], options: RunOptions): Promise<void> {
  const overrides = flagOverrides(options);
  // Validates the client's layers here, so a mistake names its file before anything is started. Only
  // what the user set goes: the daemon puts it over its own configuration, whose settings a default
  // here would hide (its backend; its API key deciding the provider when none is chosen).
  const loaded = loadConfig({ overrides });
  const { providerChosen } = loaded;
  const start = {
    ...whatToRun(words, options),
    config: loaded.set,
    configFrom: loaded.setBy,
    // Used only when workers are claude-code agents, which edit this repository.
    workdir: resolve(options.workdir ?? '.'),
    ...(options.merge && { merge: true }),
  };
  await withClient(async (client, connection) => {
    if (options.dryRun) {
      const preview = await client.trpc.runs.preview.query(start);
      emit(options, preview, () => previewLines(preview));
      return;
    }
    const started = await client.trpc.runs.start.mutate(start);
    if (started.source && !started.source.writeBack) {
      const { source } = started;
      process.stderr.write(`orc: run ${started.id} reads ${sourceName(source)}; ${writeBackLine(source)}\n`);
    }
    if (started.models.simulated && loaded.apiKey !== undefined && !providerChosen) {
      // The key stays in the daemon's environment: one started before the key was set never sees it.
      process.stderr.write(
        `orc: run ${started.id} is SIMULATED: the daemon was started without ANTHROPIC_API_KEY and does not see yours; ` +
          `to use real models, restart it (orc daemon stop) and run again\n`,
      );
    }
    const verify = loaded.config.integration?.verify;
    if (verify !== undefined && started.models.worker.provider !== 'claude-code') {
      // Only Claude Code workers edit a repository; other workers' runs have nothing to merge or verify.
      process.stderr.write(
        `orc: integration.verify is set, but run ${started.id}'s workers (${started.models.worker.provider}) ` +
          `edit no repository, so nothing is merged or verified; set models.worker.provider to claude-code ` +
          `for the merge train\n`,
      );
    }
    if (options.detach) {
      emit(options, summaryJson(started), () => started.id);
      return;
    }
    if (!options.json && process.stdout.isTTY && process.stdin.isTTY) {
      // On a terminal the run opens in the terminal UI; q detaches and the run goes on. Once the run is
      // over the screen closes and leaves its summary in the scrollback. The screen (blessed) is loaded
      // by the commands that draw it only (see main.ts).
      const { attachScreen } = await import('../screen/screen.js');
      const shown = await attachScreen({ trpc: client.trpc, connection }, started.id, {
        showProgressBar: loaded.config.monitoring.show_progress_bar,
        exitOnFinish: true,
        bell: loaded.config.notifications.bell,
      });
      if (shown.outcome === 'finished' && (shown.status === 'failed' || shown.status === 'cancelled'))
        throw new CommandFailed(`run ${started.id} ${shown.status}; orc show ${started.id} says why`);
      return;
    }
    const tty = !options.json && process.stdout.isTTY === true;
    const everyMs = loaded.config.monitoring.progress_interval * 1000;
    const view = new ProgressView(tty, undefined, everyMs);
    if (!options.json) {
      process.stdout.write(
        `run ${started.id} started${simulatedLabel(started)}; Ctrl-C detaches, the run goes on\n`,
      );
      if (tty) view.seed(await client.trpc.runs.get.query({ runId: started.id }));
    }
    const signal = interruptSignal();
    const onEvent = (event: OrcEvent) => {
      if (!options.json) view.onEvent(event);
    };
    const lastId = await followEvents(client, {
      runId: started.id,
      afterId: 0,
      onEvent,
      until: endsFollowing,
      signal,
      connection,
    });
    // What is under way at a pause lands before the line that tells the run's spend.
    const final = await awaitUnderWay(client, {
      runId: started.id,
      afterId: lastId,
      onEvent,
      say: (text) => {
        if (!options.json) process.stdout.write(`${text}\n`);
      },
      signal,
      connection,
    });
    view.end();
    const { tasks: _tasks, ...summary } = final;
    const waiting = (await client.trpc.inbox.list.query({ runId: final.id })).items;
    if (signal.aborted && !FINISHED_RUN_STATUSES.has(final.status)) {
      const busy = final.busyWorkers > 0 ? `, ${formatCost(final.costUsd)} spent and more still landing` : '';
      emit(
        options,
        summaryJson(summary),
        () =>
          `detached from ${final.id} (${final.status}${busy}); follow it with orc logs ${final.id} --follow`,
      );
      return;
    }
    // An item about the pause says why and how to go on: the run's own hint beside it would be a second one.
    const pauseItem = waiting.some((item) => item.taskId === undefined && RUN_ITEM_TYPES.has(item.type));
    emit(options, { ...summaryJson(summary), finalReview: final.finalReview }, () => [
      `run ${final.id} ${final.status}${simulatedLabel(final)}: ${formatCounts(final)}, ${formatCost(final.costUsd)}${spendNote(final)}`,
      ...(final.finalReview ? [`review: ${final.finalReview.verdict}: ${final.finalReview.summary}`] : []),
      ...(final.status === 'paused' && !pauseItem
        ? [
            final.pauseReason === 'held'
              ? `paused (held): ${final.pauseMessage ?? 'the work left waits for tasks you cancelled'}`
              : `paused (${final.pauseReason ?? 'unknown'}); continue with orc resume ${final.id}`,
          ]
        : []),
      ...waiting.map((item) => `needs you: ${item.question} (${answerHint(item)})`),
    ]);
    if (final.status === 'failed')
      throw new CommandFailed(`run ${final.id} failed: ${final.error ?? 'see orc show'}`);
    if (final.status === 'cancelled') throw new CommandFailed(`run ${final.id} was cancelled`);
    // Paused or waiting for its plan's approval: not done, so `orc run … && next` must not go on.
    if (final.status !== 'completed') throw new CommandFailed(stoppedShort(final, waiting), EXIT.paused);
  });
}

/** Why a followed run stopped short of completing, and how it goes on, in one line (for stderr). */
function stoppedShort(run: RunSummary, waiting: readonly InboxItem[]): string {
  const paused = run.status === 'paused';
  const state = paused
    ? `paused (${run.pauseReason ?? 'unknown'})`
    : run.status === 'awaiting_approval'
      ? 'waiting for its plan to be approved'
      : run.status;
  const [item, ...more] = waiting;
  const how =
    item !== undefined
      ? `it needs you: ${item.question} (${answerHint(item)})${more.length > 0 ? `; ${more.length} more in orc inbox` : ''}`
      : paused && run.pauseReason === 'held'
        ? (run.pauseMessage ?? 'the work left waits for tasks you cancelled')
        : paused
          ? `continue with orc resume ${run.id}`
          : `orc show ${run.id} says what it waits for`;
  return `run ${run.id} is ${state}, not completed; ${how}`;
}

/** A goal, a tasks file, or a Task Master project (asked for, or found at the path given). */
function whatToRun(words: string[], options: RunOptions) {
  const what = whatToRunFrom(words, options);
  if (!('taskmaster' in what)) {
    if (options.only !== undefined)
      throw new UsageError('--only picks tasks of a Task Master project; give --taskmaster <dir>');
    if (options.writeSimulated)
      throw new UsageError('--write-simulated goes with a Task Master project; give --taskmaster <dir>');
  }
  return what;
}

/** The Task Master side of a run: the caller's TASKMASTER_TAG travels with it (the daemon's is not yours). */
function taskMasterInput(path: string, options: RunOptions): TaskMasterInput {
  const envTag = process.env['TASKMASTER_TAG'];
  const only = options.only?.split(',').map((id) => id.trim());
  if (only?.some((id) => id === ''))
    throw new UsageError(`--only takes task ids separated by commas, e.g. 3,5.2 (got "${options.only}")`);
  return {
    path,
    ...(options.tag !== undefined && { tag: options.tag }),
    ...(envTag !== undefined && { env: { TASKMASTER_TAG: envTag } }),
    ...(only && { only }),
    ...(options.writeSimulated && { writeSimulated: true }),
  };
}

function whatToRunFrom(words: string[], options: RunOptions) {
  if (options.taskmaster !== undefined) {
    if (words.length > 0) throw new UsageError('--taskmaster takes the project directory, not a goal');
    const dir = resolve(typeof options.taskmaster === 'string' ? options.taskmaster : '.');
    return { taskmaster: taskMasterInput(dir, options) };
  }
  if (words.length === 0) throw new UsageError('give a goal, a tasks file or --taskmaster <dir>');
  const single = words.length === 1 ? resolve(words[0]!) : undefined;
  if (single !== undefined && looksLikePath(words[0]!) && !existsSync(single)) {
    throw new UsageError(
      `${words[0]}: no such file or directory (${single}); give a tasks file or project that exists, or a goal in words`,
    );
  }
  if (single !== undefined && existsSync(single)) {
    const isDir = statSync(single).isDirectory();
    const taskmaster = detectTaskMasterPath(single);
    if (taskmaster !== undefined && (isDir || !looksLikeOurTasksFile(single))) {
      return { taskmaster: taskMasterInput(taskmaster, options) };
    }
    if (isDir) {
      // A project `task-master init` made has no tasks file yet: that says so, with how to make one.
      if (existsSync(resolve(single, '.taskmaster'))) locateTaskMasterFile(single);
      throw new UsageError(
        `${single} is a directory without a Task Master project; give a goal or a tasks file`,
      );
    }
  }
  if (single !== undefined && looksLikeTasksFile(words[0]!)) {
    // A plan `orc plan` wrote keeps its goal: the workers' prompts start with it, and orc ls shows it.
    const tasks = readTasksFile(single);
    const goal = tasksFileGoal(single);
    return { tasks, source: single, ...(goal !== undefined && { goal }) };
  }
  if (options.tag !== undefined) throw new UsageError('--tag goes with a Task Master project');
  const goal = words.join(' ');
  if (goal.trim().length > LIMITS.goalChars) {
    throw new UsageError(
      `the goal is ${formatCount(goal.trim().length)} characters, over the limit of ` +
        `${formatCount(LIMITS.goalChars)}; shorten it, or give the work as a tasks file`,
    );
  }
  return { goal, source: 'goal' };
}

function looksLikeOurTasksFile(file: string): boolean {
  try {
    readTasksFile(file);
    return true;
  } catch (error) {
    // Ours in shape but over a limit: say so, rather than try it as Task Master's.
    return isOrcError(error) && error.code === 'LIMIT_EXCEEDED';
  }
}

function flagOverrides(options: RunOptions): ConfigInput {
  const overrides: ConfigInput = {};
  if (options.workers !== undefined) {
    const workers = Number(options.workers);
    if (!Number.isInteger(workers) || workers < 1)
      throw new UsageError(`--workers must be a positive integer (got "${options.workers}")`);
    overrides.execution = { max_workers: workers };
  }
  if (options.provider !== undefined) {
    const provider = ProviderName.safeParse(options.provider);
    if (!provider.success) {
      throw new UsageError(
        `--provider must be one of ${ProviderName.options.join(', ')} (got "${options.provider}")`,
      );
    }
    overrides.models = { provider: provider.data };
  }
  if (options.remote !== undefined) {
    if (options.remote.trim() === '')
      throw new UsageError('--remote takes the name of a git remote of the repository, or a git URL');
    overrides.repository = { remote: options.remote };
  }
  return overrides;
}

function looksLikeTasksFile(arg: string): boolean {
  return arg.endsWith('.json') || (existsSync(arg) && !arg.includes(' '));
}

/** The goal of a `{ "goal", "tasks": [...] }` file (what `orc plan` writes), once `readTasksFile` took it. */
function tasksFileGoal(file: string): string | undefined {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const goal = Array.isArray(raw) ? undefined : (raw as { goal?: unknown }).goal;
  if (typeof goal !== 'string' || goal.trim() === '') return undefined;
  if (goal.trim().length > LIMITS.goalChars) {
    throw new UsageError(
      `${file}: its goal is ${formatCount(goal.trim().length)} characters, over the limit of ` +
        `${formatCount(LIMITS.goalChars)}; shorten it`,
    );
  }
  return goal;
}

/** A tasks file is a JSON array of task specs or `{ "tasks": [...] }`; errors name the file and the task. */
export function readTasksFile(file: string): TaskSpecInput[] {
  let text: string;
  try {
    const bytes = statSync(file).size;
    if (bytes > LIMITS.taskFileBytes) {
      throw new OrcError(
        'LIMIT_EXCEEDED',
        `${file}: is ${formatBytes(bytes)}, over the limit of ${formatBytes(LIMITS.taskFileBytes)} ` +
          `for a tasks file; split the work into several runs`,
      );
    }
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof OrcError) throw error;
    throw new OrcError(
      'TASK_FILE_INVALID',
      `${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the path`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new OrcError(
      'TASK_FILE_INVALID',
      `${file}: is not valid JSON (${jsonSyntaxProblem(error, text)}); a tasks file is a JSON array of tasks, ` +
        `a goal is words in quotes`,
    );
  }
  const list: unknown = Array.isArray(raw) ? raw : (raw as { tasks?: unknown } | null)?.tasks;
  if (!Array.isArray(list)) {
    throw new OrcError('TASK_FILE_INVALID', `${file}: expected a JSON array of tasks or {"tasks": [...]}`);
  }
  if (list.length === 0) throw new OrcError('TASK_FILE_INVALID', `${file}: has no tasks`);
  if (list.length > LIMITS.tasks) {
    throw new OrcError(
      'LIMIT_EXCEEDED',
      `${file}: has ${formatCount(list.length)} tasks, over the limit of ${formatCount(LIMITS.tasks)} ` +
        `in one run; split the work into several runs`,
    );
  }
  return list.map((item: unknown, index) => {
    const parsed = TaskSpec.safeParse(item);
    if (parsed.success) return item as TaskSpecInput;
    const issue = parsed.error.issues[0]!;
    throw new OrcError(
      issue.code === 'too_big' ? 'LIMIT_EXCEEDED' : 'TASK_FILE_INVALID',
      `${file}: ${taskSpecIssue(item, index, issue)}`,
    );
  });
}
