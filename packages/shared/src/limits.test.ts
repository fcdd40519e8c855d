import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, LIMITS, RPC_LIMITS, summaryGoal } from './limits.js';
import { Plan } from './plan.js';
import { RollbackInput, StartRunInput } from './rpc.js';
import { TaskRecord, TaskSpec } from './task.js';

function firstIssue(result: {
  success: boolean;
  error?: { issues: { path: PropertyKey[]; message: string }[] };
}) {
  expect(result.success).toBe(false);
  const issue = result.error!.issues[0]!;
  return `${issue.path.map(String).join('.')}: ${issue.message}`;
}

/** `n` tasks of about `bytes` bytes of JSON each. */
function tasks(n: number, bytes = 40) {
  const pad = 'x'.repeat(Math.max(0, bytes - 60));
  return Array.from({ length: n }, (_, i) => ({ id: `t${i}`, title: `task ${i}`, description: pad }));
}

describe('input limits', () => {
  it('admits a run of 100,000 tasks from a 20 MB task list', () => {
    const list = tasks(LIMITS.tasks, 210);
    const json = JSON.stringify({ tasks: list });
    expect(json.length).toBeGreaterThanOrEqual(20_000_000);
    expect(json.length).toBeLessThan(LIMITS.taskFileBytes);
    expect(json.length).toBeLessThan(RPC_LIMITS.requestBytes);
    const parsed = StartRunInput.safeParse({ tasks: list });
    expect(parsed.success).toBe(true);
  });

  it('refuses one task more, naming the count and the limit, before parsing any task', () => {
    const list = tasks(LIMITS.tasks + 1);
    (list[5] as { title: unknown }).title = 42; // would be an issue of its own if tasks were parsed
    expect(firstIssue(StartRunInput.safeParse({ tasks: list }))).toBe(
      'tasks: 100,001 tasks, over the limit of 100,000',
    );
  });

  it.each([
    [
      'goal',
      { goal: 'g'.repeat(LIMITS.goalChars + 1) },
      'goal: 100,001 characters, over the limit of 100,000',
    ],
    [
      'title',
      { tasks: [{ id: 'a', title: 't'.repeat(LIMITS.titleChars + 1) }] },
      'tasks.0.title: 501 characters, over the limit of 500',
    ],
    [
      'description',
      { tasks: [{ id: 'a', title: 't', description: 'd'.repeat(LIMITS.descriptionChars + 1) }] },
      'tasks.0.description: 20,001 characters, over the limit of 20,000',
    ],
    [
      'details',
      { tasks: [{ id: 'a', title: 't', details: 'd'.repeat(LIMITS.detailsChars + 1) }] },
      'tasks.0.details: 100,001 characters, over the limit of 100,000',
    ],
    [
      'source path',
      { goal: 'g', source: '/'.repeat(LIMITS.pathChars + 1) },
      'source: 4,097 characters, over the limit of 4,096',
    ],
  ])('refuses a %s over its limit with a message naming it', (_what, input, message) => {
    expect(firstIssue(StartRunInput.safeParse(input))).toBe(message);
  });

  it('admits every field at its limit', () => {
    const task = {
      id: 'a',
      title: 't'.repeat(LIMITS.titleChars),
      description: 'd'.repeat(LIMITS.descriptionChars),
      details: 'd'.repeat(LIMITS.detailsChars),
    };
    expect(StartRunInput.safeParse({ tasks: [task] }).success).toBe(true);
    expect(StartRunInput.safeParse({ goal: 'g'.repeat(LIMITS.goalChars) }).success).toBe(true);
  });

  it('takes a task list with its goal (a plan orc plan wrote), and refuses a goal beside a Task Master project', () => {
    const tasks = [{ id: 'a', title: 'A' }];
    expect(StartRunInput.safeParse({ goal: 'Ship v2', tasks }).success).toBe(true);
    expect(firstIssue(StartRunInput.safeParse({ goal: 'Ship v2', taskmaster: { path: '/p' } }))).toMatch(
      /give exactly one of a goal, a task list/,
    );
    expect(firstIssue(StartRunInput.safeParse({ tasks, taskmaster: { path: '/p' } }))).toMatch(
      /give exactly one of/,
    );
    expect(firstIssue(StartRunInput.safeParse({ goal: 'g'.repeat(LIMITS.goalChars + 1), tasks }))).toMatch(
      /^goal: /,
    );
  });

  it('bounds the lists and ids of the other inputs', () => {
    const ids = Array.from({ length: LIMITS.tasks + 1 }, (_, i) => `t${i}`);
    expect(
      firstIssue(
        RollbackInput.safeParse({ runId: 'r', checkpointId: 'c', strategy: 'selective', tasks: ids }),
      ),
    ).toBe('tasks: 100,001 tasks, over the limit of 100,000');
    expect(firstIssue(RollbackInput.safeParse({ runId: 'r'.repeat(129), checkpointId: 'c' }))).toBe(
      'runId: 129 characters, over the limit of 128',
    );
  });

  it('holds the manager to the same limits as a task list', () => {
    const plan = {
      summary: 's',
      tasks: [
        {
          id: 't1',
          title: 't'.repeat(LIMITS.titleChars + 1),
          description: 'd',
          dependencies: [],
          priority: 'high',
        },
      ],
    };
    expect(firstIssue(Plan.safeParse(plan))).toBe('tasks.0.title: 501 characters, over the limit of 500');
  });

  it('still reads task records stored before the limits existed', () => {
    const stored = {
      id: 't1',
      title: 't'.repeat(LIMITS.titleChars * 4),
      description: 'd'.repeat(LIMITS.descriptionChars * 2),
      status: 'done',
      attempts: [],
      reworks: 0,
    };
    expect(TaskRecord.safeParse(stored).success).toBe(true);
    expect(TaskSpec.safeParse({ id: 't1', title: stored.title }).success).toBe(false);
  });
});

describe('summaryGoal', () => {
  it('keeps a short goal and cuts a long one to the summary length with an ellipsis', () => {
    expect(summaryGoal('build it')).toBe('build it');
    const long = 'g'.repeat(LIMITS.goalChars);
    const cut = summaryGoal(long);
    expect(cut).toHaveLength(LIMITS.summaryGoalChars);
    expect(cut.endsWith('…')).toBe(true);
    expect(summaryGoal('g'.repeat(LIMITS.summaryGoalChars))).toBe('g'.repeat(LIMITS.summaryGoalChars));
  });
});

describe('formatBytes', () => {
  it('says sizes the way the messages do', () => {
    expect(formatBytes(40 * 1024 * 1024)).toBe('40 MiB');
    expect(formatBytes(1.5 * 1024 * 1024)).toBe('1.5 MiB');
    expect(formatBytes(256 * 1024)).toBe('256 KiB');
    expect(formatBytes(12)).toBe('12 bytes');
  });
});

describe('formatCount', () => {
  it('groups as en-US does, whole numbers by hand', () => {
    for (const n of [0, 7, 999, 1000, 12_345, 100_000, 1_234_567, -1234, -999, 1.5, 12_345.25, 2 ** 60])
      expect(formatCount(n)).toBe(n.toLocaleString('en-US'));
  });
});
