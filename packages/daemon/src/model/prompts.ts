import type { Plan, TaskRecord } from '@orc/shared';

/**
 * Prompts for the manager and the workers. Each is split into a stable `system` part (role, rules, the
 * goal and the plan), which is the same for every call of a run and is cached, and a short `prompt` part
 * that changes per call.
 */
const MANAGER_ROLE = `You are the manager of a team of AI workers. You plan work as a graph of tasks with dependencies,
review each worker's result, and judge the whole run. Be concrete and brief.`;

const WORKER_ROLE = `You are a worker on a team managed by a lead. Do exactly the task you are given, using the results
of the tasks it depends on. Answer with the finished work itself, then a one-paragraph summary.`;

/** How much of each dependency's result a worker sees; longer results are cut with a note. */
const DEPENDENCY_RESULT_LIMIT = 4000;

export function planPrompt(goal: string, feedback: string | undefined): { system: string; prompt: string } {
  return {
    system: `${MANAGER_ROLE}\n\nThe goal of this run:\n${goal}`,
    prompt: [
      'Plan this goal as tasks that workers can do in parallel where possible.',
      'Give each task a short unique id, a title, a self-contained description, the ids it depends on and a priority.',
      'Dependencies must form no cycle; prefer a wide graph to a long chain.',
      'Where tasks edit a repository, give each the paths or globs it will create or edit (`touches`, e.g. "src/ui/**"), [] when unknown: tasks whose touches overlap are not run at the same time, so name what each really changes and split shared files out where you can.',
      feedback ? `\nYour previous plan was refused: ${feedback}\nAnswer with a corrected plan.` : '',
    ].join('\n'),
  };
}

/**
 * The plan in the prefix is bounded: every call carries it (read from the cache at a tenth of the input
 * price, but carried all the same), so a plan of thousands of tasks shows its first ones and a count.
 * 24,000 characters is about 6,000 tokens: a 50-task plan fits whole with 400-character descriptions.
 */
const PLAN_PREFIX_CHARS = 24_000;
const PLAN_DESCRIPTION_CHARS = 400;

/**
 * The run's stable context, the same in every worker and review call: the goal and the plan, every task
 * by id, title and description. It follows the role in the system prompt, whose end carries the cache
 * breakpoint; what changes from call to call (the task, its inputs, feedback) comes after, in the prompt.
 */
export function runContext(
  goal: string,
  planSummary: string | undefined,
  tasks: Iterable<Pick<TaskRecord, 'id' | 'title' | 'description'>>,
  /** How many tasks there are: only the first ones are read. */
  taskCount: number,
): string {
  const parts = [`The goal of this run:\n${goal}`];
  if (planSummary) parts.push(`The plan:\n${planSummary}`);
  if (taskCount > 0) {
    const lines: string[] = [];
    let size = 0;
    for (const task of tasks) {
      const description = oneLine(clip(task.description, PLAN_DESCRIPTION_CHARS));
      const line = `- ${task.id}: ${oneLine(task.title)}${description ? ` — ${description}` : ''}`;
      if (size + line.length > PLAN_PREFIX_CHARS) {
        lines.push(`- … and ${taskCount - lines.length} more tasks`);
        break;
      }
      lines.push(line);
      size += line.length + 1;
    }
    parts.push(`Its tasks (${taskCount}; each worker does one of them):\n${lines.join('\n')}`);
  }
  return parts.join('\n\n');
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function workPrompt(
  context: string,
  task: TaskRecord,
  dependencies: readonly TaskRecord[],
  feedback: string | undefined,
): { system: string; prompt: string } {
  const deps = dependencies
    .map((d) => `## Result of ${d.id}: ${d.title}\n${clip(d.result ?? '')}`)
    .join('\n\n');
  return {
    system: `${WORKER_ROLE}\n\n${context}`,
    prompt: [
      `# Task ${task.id}: ${task.title}`,
      task.description,
      task.details ? `\nDetails:\n${task.details}` : '',
      deps ? `\n${deps}` : '',
      feedback ? `\nYour previous answer was sent back by the reviewer: ${feedback}` : '',
    ].join('\n'),
  };
}

export function reviewPrompt(
  context: string,
  task: TaskRecord,
  result: string,
  /** The task's change to the repository, already bounded (workers that edit files). */
  diff?: string,
): { system: string; prompt: string } {
  return {
    system: `${MANAGER_ROLE}\n\n${context}`,
    prompt: [
      `Review the worker's result for task ${task.id}: ${task.title}`,
      task.description,
      `\n## Result\n${clip(result, 20_000)}`,
      diff !== undefined ? `\n## The change it made\n${diff || '(no file changed)'}` : '',
      '\nAnswer accept when it does the task, rework with specific feedback when it can be fixed, fail when it cannot.',
    ].join('\n'),
  };
}

export function finalReviewPrompt(
  context: string,
  plan: Pick<Plan, 'summary'>,
  tasks: Iterable<Pick<TaskRecord, 'id' | 'status' | 'title' | 'error'>>,
) {
  const lines = Array.from(
    tasks,
    (t) => `- ${t.id} [${t.status}] ${t.title}${t.error ? ` (error: ${t.error})` : ''}`,
  );
  return {
    system: `${MANAGER_ROLE}\n\n${context}`,
    prompt: `The run has ended. Plan: ${plan.summary}\nTasks:\n${lines.join('\n')}\n\nJudge the whole run: did it reach the goal, and what should follow?`,
  };
}

function clip(text: string, limit = DEPENDENCY_RESULT_LIMIT): string {
  return text.length <= limit
    ? text
    : `${text.slice(0, limit)}\n[… ${text.length - limit} more characters cut]`;
}

/**
 * What an agent is told when its interrupted session goes on (a daemon restart, a usage limit): its
 * conversation and its worktree are as it left them. The task comes again at the end, for a session whose
 * conversation is lost and starts afresh in the same worktree.
 */
export function resumePrompt(taskPrompt: string): string {
  return [
    'Your work on this task was interrupted (the orchestrator restarted, or a usage limit paused the run).',
    'Go on from where you stopped: the files in the working directory are as you left them.',
    'When the task is done, answer with the finished work and a one-paragraph summary, as asked before.',
    '',
    'The task, as given at the start:',
    taskPrompt,
  ].join('\n');
}
