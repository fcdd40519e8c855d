import { randomBytes } from 'node:crypto';
import {
  OrcError,
  StartRunInput,
  assertValidTaskGraph,
  resolveConfig,
  type ResolvedConfig,
} from '@orc/shared';
import { Run, type RunDeps } from '../run/run.js';
import { loadTaskMasterProject } from '../taskmaster/import-tasks.js';
import { GitWorkspace } from '../workspace/git-workspace.js';

export interface StartRunContext {
  /** The daemon's configuration, under the run's own. */
  base: ResolvedConfig;
  /** The state directory: attempt worktrees live under it. */
  home: string;
  hasApiKey: boolean;
  /** The runs there are, so a new id is new. */
  runs: ReadonlyMap<string, unknown>;
  depsFor: (config: ResolvedConfig, workspace?: GitWorkspace) => RunDeps;
}

/**
 * A new run from what a client asked for: the input checked, the task list or Task Master project read
 * and checked, the run's configuration resolved over the daemon's, the repository opened for runs whose
 * workers edit one, and the run created and started.
 */
export async function startRun(rawInput: unknown, context: StartRunContext): Promise<Run> {
  const parsed = StartRunInput.safeParse(rawInput);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new OrcError('TASK_FILE_INVALID', `invalid run: ${where}${issue.message}`);
  }
  const input = parsed.data;
  if (input.tasks) assertValidTaskGraph(input.tasks, input.source ?? 'the task list', 'TASK_FILE_INVALID');
  const project = input.taskmaster
    ? await loadTaskMasterProject(input.taskmaster.path, { tag: input.taskmaster.tag })
    : undefined;
  if (project && project.specs.length === 0) {
    throw new OrcError(
      'TASK_FILE_INVALID',
      `${project.file} (tag ${project.tag}) has no task to run: ${project.skipped.length} done or cancelled, ${project.notRunnable.length} deferred or blocked`,
    );
  }
  const config = input.config
    ? resolveConfig(
        [
          { source: 'daemon configuration', values: context.base },
          { source: 'run configuration', values: input.config },
        ],
        context.hasApiKey,
      )
    : context.base;
  const id = newRunId(context.runs);
  const workerProvider = config.models.worker.provider ?? config.models.provider;
  // Claude Code workers edit a repository: each run works on its own integration branch there.
  const workspace =
    workerProvider === 'claude-code'
      ? await GitWorkspace.open(input.workdir ?? process.cwd(), id, { home: context.home })
      : undefined;
  const deps = context.depsFor(config, workspace);
  const imported = project
    ? [
        ...project.specs,
        // Deferred and blocked tasks are shown, held, without links the engine could never satisfy.
        ...project.notRunnable.map((t) => ({
          id: t.id,
          title: t.title,
          description: t.reason,
          dependencies: [],
          priority: 'medium' as const,
        })),
      ]
    : input.tasks;
  const goal =
    input.goal ??
    (project
      ? `Complete the Task Master tasks of ${project.file} (tag ${project.tag})`
      : `Complete the ${input.tasks!.length} tasks from ${input.source ?? 'the task list'}`);
  return Run.create(deps, {
    id,
    goal,
    imported,
    ...(project && {
      held: Object.fromEntries(project.notRunnable.map((t) => [t.id, `${t.status}: ${t.reason}`])),
      source: { kind: 'taskmaster' as const, file: project.file, tag: project.tag },
    }),
    ...(workspace && {
      workspace: {
        workdir: workspace.repo,
        merge: input.merge === true,
        ...(workspace.start && { start: workspace.start }),
      },
    }),
    config,
    simulated: deps.providers.manager.name === 'simulated' || deps.providers.worker.name === 'simulated',
  });
}

function newRunId(runs: ReadonlyMap<string, unknown>): string {
  for (;;) {
    const id = `r${randomBytes(4).toString('hex').slice(0, 7)}`;
    if (!runs.has(id)) return id;
  }
}
