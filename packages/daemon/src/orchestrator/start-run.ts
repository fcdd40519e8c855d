import { randomBytes } from 'node:crypto';
import {
  OrcError,
  formatCount,
  StartRunInput,
  assertValidTaskGraph,
  taskSpecIssue,
  type TaskIssue,
  type ConfigLayer,
  type ResolvedConfig,
} from '@orc/shared';
import { Run, type RunDeps } from '../run/run.js';
import type { RunDocument } from '../store/run-document.js';
import { loadTaskMasterProject, type TaskMasterImport } from '../taskmaster/import-tasks.js';
import type { TaskMasterSource } from '../taskmaster/taskmaster-source.js';
import { GitWorkspace } from '../workspace/git-workspace.js';
import { resolveRunRemote } from '../workspace/run-remote.js';
import { runConfigOver } from './run-config.js';
import { keepRunEnvironment } from './run-environment.js';
import { writesBack } from './run-preview.js';

export interface StartRunContext {
  /** The daemon's configuration, under the run's own. */
  base: ResolvedConfig;
  /** The state directory: attempt worktrees live under it. */
  home: string;
  /** The layers the daemon's configuration was made of when it started (where its own keys are from). */
  daemonLayers: readonly ConfigLayer[];
  hasApiKey: boolean;
  /** The runs there are, so a new id is new. */
  runs: { has(runId: string): boolean };
  depsFor: (config: ResolvedConfig, workspace?: GitWorkspace) => RunDeps;
  /** The Task Master source of a run whose tasks come from a project. */
  sourceFor: (runId: string, source: RunDocument['source']) => TaskMasterSource | undefined;
}

/**
 * What a client asked for, checked: the input, the task list's graph, the Task Master project read (and
 * nothing written), the run's configuration resolved over the daemon's. Shared by a start and a preview.
 */
export async function prepareRun(
  rawInput: unknown,
  context: Pick<StartRunContext, 'base' | 'hasApiKey' | 'home' | 'daemonLayers'>,
): Promise<{
  parsed: ReturnType<typeof StartRunInput.parse>;
  project: TaskMasterImport | undefined;
  config: ResolvedConfig;
}> {
  const result = StartRunInput.safeParse(rawInput);
  if (!result.success)
    throw new OrcError('TASK_FILE_INVALID', `invalid run: ${inputIssue(rawInput, result.error.issues[0]!)}`);
  const parsed = result.data;
  if (parsed.tasks) assertValidTaskGraph(parsed.tasks, parsed.source ?? 'the task list', 'TASK_FILE_INVALID');
  const tm = parsed.taskmaster;
  // TASKMASTER_TAG is the caller's: the daemon's own environment is not the user's shell.
  const project = tm
    ? await loadTaskMasterProject(tm.path, { tag: tm.tag, env: tm.env ?? {}, only: tm.only })
    : undefined;
  const config = runConfigOver(
    context.base,
    parsed.config,
    context.hasApiKey,
    { home: context.home, layers: context.daemonLayers },
    parsed.configFrom,
  );
  return { parsed, project, config };
}

/**
 * What is wrong with a run's input: a task by its id and the field, as a tasks file's errors say it
 * (`task t4: dependencies 7: …`), never the schema's path (`tasks.3.dependencies.0: …`).
 */
function inputIssue(rawInput: unknown, issue: TaskIssue): string {
  const [list, index, ...inside] = issue.path;
  const tasks = (rawInput as { tasks?: unknown } | null)?.tasks;
  if (list === 'tasks' && typeof index === 'number' && Array.isArray(tasks))
    return taskSpecIssue(tasks[index], index, { ...issue, path: inside });
  return `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
}

/**
 * A new run from what a client asked for: the input checked, the task list or Task Master project read
 * and checked, the run's configuration resolved over the daemon's, the repository opened for runs whose
 * workers edit one, and the run created and started.
 */
export async function startRun(
  rawInput: unknown,
  context: StartRunContext,
): Promise<{ run: Run; source: TaskMasterSource | undefined }> {
  const { parsed: input, project, config } = await prepareRun(rawInput, context);
  if (project && project.specs.length === 0) {
    throw new OrcError(
      'TASK_FILE_INVALID',
      `${project.file} (tag ${project.tag}) has no task to run: ${project.skipped.length} done or cancelled, ${project.notRunnable.length} deferred, blocked or in review${project.excluded.length > 0 ? `, ${project.excluded.length} left out by --only` : ''}`,
    );
  }
  const id = newRunId(context.runs);
  const workerProvider = config.models.worker.provider ?? config.models.provider;
  const workdir = input.workdir ?? process.cwd();
  // Agents on other machines (`orc worker`) clone the repository's remote and push their task branches there.
  const remote =
    workerProvider === 'claude-code' && config.execution.backend === 'redis'
      ? await resolveRunRemote(workdir, config.repository.remote)
      : undefined;
  // Claude Code workers edit a repository: each run works on its own integration branch there.
  const workspace =
    workerProvider === 'claude-code'
      ? await GitWorkspace.open(workdir, id, { home: context.home, ...(remote !== undefined && { remote }) })
      : undefined;
  const deps = context.depsFor(config, workspace);
  const simulated = deps.providers.manager.name === 'simulated' || deps.providers.worker.name === 'simulated';
  const runSource = project && {
    kind: 'taskmaster' as const,
    file: project.file,
    tag: project.tag,
    writeBack: writesBack(simulated, input.taskmaster?.writeSimulated),
    imported: project.statuses,
    ...(project.excluded.length > 0 && { excluded: project.excluded }),
  };
  const source = context.sourceFor(id, runSource);
  const heldIds = new Set(project?.notRunnable.map((t) => t.id));
  const imported = project
    ? [
        ...project.specs,
        // Deferred and blocked tasks are shown, held. A task held because it waits for another held one
        // keeps that link (who holds whom up, for the inbox; a retry of it waits for that task), no other.
        ...project.notRunnable.map((t) => ({
          id: t.id,
          title: t.title,
          description: t.reason,
          dependencies: t.waitsFor !== undefined && heldIds.has(t.waitsFor) ? [t.waitsFor] : [],
          priority: 'medium' as const,
        })),
      ]
    : input.tasks;
  const goal =
    input.goal ??
    (project
      ? `Complete the Task Master tasks of ${project.file} (tag ${project.tag})`
      : `Complete the ${tasksOf(input.tasks!.length)} from ${input.source ?? 'the task list'}`);
  await keepRunEnvironment(context.home, id, config.claude_cli.environment);
  const run = await Run.create(
    { ...deps, ...(source && { source }) },
    {
      id,
      goal,
      imported,
      ...(project && {
        held: Object.fromEntries(project.notRunnable.map((t) => [t.id, t.reason])),
        source: runSource,
      }),
      ...(workspace && {
        workspace: {
          workdir: workspace.repo,
          merge: input.merge === true,
          ...(workspace.start && { start: workspace.start }),
          ...(remote !== undefined && { remote }),
        },
      }),
      config,
      simulated,
    },
  );
  return { run, source };
}

/**
 * A new run's id. From the system's randomness, not the daemon's seeded Random: ids must not repeat
 * across daemons that share a state directory, and a seed would replay them.
 */
function newRunId(runs: { has(runId: string): boolean }): string {
  for (;;) {
    const id = `r${randomBytes(4).toString('hex').slice(0, 7)}`;
    if (!runs.has(id)) return id;
  }
}

/** `1 task`, `10,000 tasks`: a goal made for a task list reads as words. */
function tasksOf(n: number): string {
  return `${formatCount(n)} task${n === 1 ? '' : 's'}`;
}
