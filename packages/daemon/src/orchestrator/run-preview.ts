import { OrcError, type ResolvedConfig, type RunModels, type RunPreview, type TaskSpec } from '@orc/shared';
import type { TaskMasterImport } from '../taskmaster/import-tasks.js';
import { startOrder } from '../scheduling/start-order.js';

/** The models a run on `config` would use, as its summary shows them, without making the providers. */
export function modelsOf(config: ResolvedConfig): RunModels {
  const manager = config.models.manager.provider ?? config.models.provider;
  const worker = config.models.worker.provider ?? config.models.provider;
  return {
    manager: { provider: manager, model: config.models.manager.model },
    worker: { provider: worker, model: config.models.worker.model },
    simulated: manager === 'simulated' || worker === 'simulated',
  };
}

/**
 * What a run would do (`orc run … --dry-run`): the tasks it would start, in order, what it holds and
 * why, and whether it would write to Task Master. A goal has no tasks until the manager plans it.
 */
export function previewRun(
  input: { tasks?: TaskSpec[] | undefined; writeSimulated?: boolean | undefined },
  project: TaskMasterImport | undefined,
  models: RunModels,
): RunPreview {
  const specs = project?.specs ?? input.tasks;
  if (!specs) {
    throw new OrcError(
      'TASK_FILE_INVALID',
      'a goal has no tasks until the manager plans it when the run starts; --dry-run previews a tasks file or a Task Master project',
    );
  }
  return {
    ...(project && {
      source: {
        kind: 'taskmaster' as const,
        file: project.file,
        tag: project.tag,
        writeBack: writesBack(models.simulated, input.writeSimulated),
      },
    }),
    models,
    order: startOrder(specs).map(({ id, title, priority, dependencies }) => ({
      id,
      title,
      priority,
      dependencies,
    })),
    held: (project?.notRunnable ?? []).map(({ id, title, status, reason }) => ({
      id,
      title,
      status,
      reason,
    })),
    skipped: project?.skipped ?? [],
    excluded: project?.excluded ?? [],
  };
}

/** A simulated "done" is not work done: a run on the simulated model writes to Task Master only when asked. */
export function writesBack(simulated: boolean, writeSimulated: boolean | undefined): boolean {
  return !simulated || writeSimulated === true;
}
