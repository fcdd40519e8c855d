import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ZERO_USAGE,
  foldTaskEvent,
  type Attempt,
  type NewEvent,
  type OrcEvent,
  type TaskRecord,
} from '@orc/shared';
import { pino } from 'pino';
import { tempGitRepo, type TempGitRepo } from '@orc/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelError } from '../model/model-error.js';
import { resumePrompt } from '../model/prompts.js';
import { GitWorkspace } from '../workspace/git-workspace.js';
import { listWorktrees } from '../workspace/worktrees.js';
import { AgentAttempts, type AttemptRecord } from './agent-attempts.js';

let repo: string;
let home: string;
let workspace: GitWorkspace;
let events: NewEvent[];

let fixture: TempGitRepo;

beforeEach(async () => {
  fixture = await tempGitRepo('orc-agent-attempts-');
  ({ repo, home } = fixture);
  workspace = await GitWorkspace.open(repo, 'r1', { home });
  events = [];
});

afterEach(async () => {
  await fixture.remove();
});

function agents(): AgentAttempts {
  return new AgentAttempts({
    workspace: () => workspace,
    emit: (event) => events.push(event),
    logger: pino({ level: 'silent' }),
  });
}

function task(attempts: Attempt[] = []): TaskRecord {
  return {
    id: 't1',
    title: 'T',
    description: '',
    dependencies: [],
    priority: 'medium',
    status: 'running',
    attempts,
    reworks: 0,
  };
}

/** An attempt record over a plain object, changed in place as the task actor would replace it. */
function recorded(attempt: Attempt): AttemptRecord {
  return { n: attempt.n, current: () => attempt, change: (change) => Object.assign(attempt, change) };
}

function attempt(n: number): Attempt {
  return {
    n,
    worker: 0,
    startedAt: '2026-11-30T00:00:00Z',
    outcome: 'running',
    usage: ZERO_USAGE,
    costUsd: 0,
  };
}

describe('AgentAttempts', () => {
  it('journals the session as soon as it is known, and each refusal, on the attempt', async () => {
    const first = attempt(1);
    const agent = await agents().begin(task([first]), recorded(first), 'the task');
    const request = agent.request;
    expect(request.workdir).toBe(workspace.worktreePath('t1', 1));
    expect(request.resume).toBeUndefined();
    request.onSession?.('session-1');
    const refusal = { tool: 'Bash', subject: 'curl x', reason: 'needs approval', at: '2026-11-30T00:00:01Z' };
    request.onRefusal?.(refusal);
    expect(first).toMatchObject({ sessionId: 'session-1', refusals: [refusal] });
    expect(events).toEqual([
      { type: 'task.session', taskId: 't1', attempt: 1, sessionId: 'session-1' },
      { type: 'task.tool_refused', taskId: 't1', attempt: 1, refusal },
    ]);
    // Folding the same events into a record that missed them (a client, a restore) gives the same attempt.
    const caughtUp = events.reduce(
      (record, event, i) =>
        foldTaskEvent(record, { ...event, id: i + 1, runId: 'r1', at: refusal.at } as Extract<
          OrcEvent,
          { taskId: string }
        >),
      task([attempt(1)]),
    );
    expect(caughtUp.attempts[0]).toMatchObject({ sessionId: 'session-1', refusals: [refusal] });
  });

  it('after a crash the next attempt goes on with the session in the same worktree; the rest is cleaned up', async () => {
    const first = attempt(1);
    const record = task([first]);
    const agent = await agents().begin(record, recorded(first), 'the task');
    agent.request.onSession?.('session-1');
    await writeFile(join(agent.request.workdir!, 'half.txt'), 'half done\n');
    // Another task's attempt without a session: nothing to resume there.
    const other = { ...task([attempt(1)]), id: 't2' };
    const otherPath = (await workspace.prepareAttempt('t2', 1)).path;

    // The daemon dies; the restore marks the attempts interrupted and puts the tasks back in the queue.
    first.outcome = 'interrupted';
    record.status = 'ready';
    other.attempts[0]!.outcome = 'interrupted';
    other.status = 'ready';
    const restarted = agents();
    await restarted.restore([record, other]);
    expect(existsSync(otherPath)).toBe(false);

    const second = attempt(2);
    record.attempts.push(second);
    const resumed = await restarted.begin(record, recorded(second), 'the task');
    expect(resumed.request).toMatchObject({
      workdir: workspace.worktreePath('t1', 1),
      resume: 'session-1',
      prompt: resumePrompt('the task'),
    });
    expect(second).toMatchObject({ resumes: 1, sessionId: 'session-1' });
    // Told at once, before the agent says anything: the attempt goes on with that session.
    expect(events.at(-1)).toEqual({
      type: 'task.session',
      taskId: 't1',
      attempt: 2,
      sessionId: 'session-1',
      resumes: 1,
    });
    expect(await readFile(join(resumed.request.workdir!, 'half.txt'), 'utf8')).toBe('half done\n');
    resumed.request.onSession?.('session-1');
    expect(events.at(-1)).toEqual({
      type: 'task.session',
      taskId: 't1',
      attempt: 2,
      sessionId: 'session-1',
      resumes: 1,
    });

    await writeFile(join(resumed.request.workdir!, 'done.txt'), 'done\n');
    expect(await resumed.commit('t1: T')).toContain('+done');
    second.outcome = 'succeeded';
    await resumed.end({ closing: false, error: undefined });
    expect(await listWorktrees(repo)).toHaveLength(1);
  });

  it('keeps the worktree of a session a usage limit or a daemon stop cut off, and only then', async () => {
    const set = agents();
    const record = task();
    const cases: [string, { closing: boolean; error: unknown }, boolean][] = [
      [
        'quota',
        {
          closing: false,
          error: new ModelError('permanent', 'limit', { pauseRun: true, pauseReason: 'quota' }),
        },
        true,
      ],
      ['daemon stop', { closing: true, error: undefined }, true],
      ['other failure', { closing: false, error: new ModelError('transient', 'boom') }, false],
    ];
    for (const [name, cutOff, kept] of cases) {
      const next = attempt(record.attempts.length + 1);
      record.attempts.push(next);
      const agent = await set.begin(record, recorded(next), 'the task');
      agent.request.onSession?.(`session-${next.n}`);
      next.outcome = 'interrupted';
      await agent.end(cutOff);
      const after = attempt(next.n + 1);
      const probe = await set.begin(
        { ...record, attempts: [...record.attempts, after] },
        recorded(after),
        'the task',
      );
      expect(probe.request.resume, name).toBe(kept ? `session-${next.n}` : undefined);
      await probe.end({ closing: false, error: undefined });
    }
  });
});
