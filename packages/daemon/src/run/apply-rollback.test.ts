import { nextAttemptNumber, type TaskRecord, type TaskStatus } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { applyRollback, downstreamOf } from './apply-rollback.js';

function record(
  id: string,
  dependencies: string[],
  status: TaskStatus,
  extra: Partial<TaskRecord> = {},
): TaskRecord {
  return {
    id,
    title: `Task ${id}`,
    description: `Do ${id}.`,
    dependencies,
    priority: 'medium',
    status,
    attempts: [],
    reworks: 0,
    ...(status === 'done' && { result: `result of ${id}` }),
    ...extra,
  };
}

const byId = (tasks: TaskRecord[]) => new Map(tasks.map((t) => [t.id, t]));

// a → b → c, and d on its own. The checkpoint was taken when only a was done.
const saved = [
  record('a', [], 'done'),
  record('b', ['a'], 'ready'),
  record('c', ['b'], 'pending'),
  record('d', [], 'ready'),
];

describe('applyRollback', () => {
  it('full: brings back the checkpoint as it was, with queued work pending again', () => {
    const running = {
      n: 1,
      worker: 1,
      startedAt: '2026-01-01T00:00:00.000Z',
      outcome: 'running' as const,
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0,
    };
    const current = [
      record('a', [], 'done'),
      record('b', ['a'], 'done'),
      record('c', ['b'], 'running', { worker: 1, attempts: [running] }),
      record('d', [], 'failed', { error: 'boom' }),
    ];
    const { tasks, reset } = applyRollback('full', current, saved, []);
    const out = byId(tasks);
    expect(tasks.map((t) => [t.id, t.status])).toEqual([
      ['a', 'done'],
      ['b', 'pending'],
      ['c', 'pending'],
      ['d', 'pending'],
    ]);
    expect(out.get('b')!.result).toBeUndefined();
    expect(out.get('d')!.error).toBeUndefined();
    // c loses its attempt, b its result, d its failure.
    expect(reset.sort()).toEqual(['b', 'c', 'd']);
    // A task that waited to run and waits again is not reset, nor one put back in the queue as it was.
    const waiting = [
      record('a', [], 'done'),
      record('b', ['a'], 'ready'),
      record('c', ['b'], 'pending'),
      record('d', [], 'ready'),
    ];
    expect(applyRollback('full', waiting, saved, []).reset).toEqual([]);
    expect(applyRollback('selective', current, current, ['b']).reset.sort()).toEqual(['b']);
    // The saved records are copied, not shared.
    expect(saved[1]!.status).toBe('ready');
  });

  it('partial: keeps tasks done since whose inputs did not change, and resets those downstream of a change', () => {
    const current = [
      record('a', [], 'done'),
      // b's description changed since the checkpoint, so its result (and c's, built on it) cannot stand.
      record('b', ['a'], 'done', { description: 'Do b differently.' }),
      record('c', ['b'], 'done'),
      record('d', [], 'done', { result: 'result of d, kept' }),
    ];
    const { tasks, reset, kept } = applyRollback('partial', current, saved, []);
    const out = byId(tasks);
    expect(kept.sort()).toEqual(['a', 'd']);
    expect(out.get('a')!.status).toBe('done');
    expect(out.get('d')!).toMatchObject({ status: 'done', result: 'result of d, kept' });
    expect(out.get('b')!).toMatchObject({ status: 'pending', description: 'Do b.' });
    expect(out.get('b')!.result).toBeUndefined();
    expect(out.get('c')!.status).toBe('pending');
    expect(reset.sort()).toEqual(['b', 'c']);
  });

  it('partial: a dependency that is no longer done takes its dependents back to the checkpoint', () => {
    const savedDone = [record('a', [], 'done', { result: 'old a' }), record('b', ['a'], 'pending')];
    const current = [record('a', [], 'failed', { error: 'redo failed' }), record('b', ['a'], 'done')];
    const { tasks } = applyRollback('partial', current, savedDone, []);
    const out = byId(tasks);
    expect(out.get('a')!).toMatchObject({ status: 'done', result: 'old a' });
    expect(out.get('b')!.status).toBe('pending');
  });

  it('selective: resets the named tasks and everything downstream, keeps the rest as it is now', () => {
    const current = [
      record('a', [], 'done'),
      record('b', ['a'], 'done', { reworks: 2, startedAt: '2026-01-01T00:00:00.000Z' }),
      record('c', ['b'], 'done'),
      record('d', [], 'done'),
      record('e', ['c', 'd'], 'failed', { error: 'bad' }),
    ];
    const { tasks, reset } = applyRollback('selective', current, saved, ['b']);
    // Its time starts over with it (orc show, the terminal UI's task time).
    expect(byId(tasks).get('b')!.startedAt).toBeUndefined();
    const out = byId(tasks);
    expect(out.get('a')!.status).toBe('done');
    expect(out.get('d')!.status).toBe('done');
    for (const id of ['b', 'c', 'e']) {
      expect(out.get(id)!.status).toBe('pending');
      expect(out.get(id)!.result).toBeUndefined();
      expect(out.get(id)!.error).toBeUndefined();
      expect(out.get(id)!.reworks).toBe(0);
    }
    expect(reset.sort()).toEqual(['b', 'c', 'e']);
  });

  it('marks an attempt that was in flight in the checkpoint as interrupted, not running', () => {
    const attempt = {
      n: 1,
      worker: 0,
      startedAt: '2026-01-01T00:00:00.000Z',
      outcome: 'running' as const,
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0,
    };
    const savedMidRun = [record('a', [], 'running', { worker: 0, attempts: [attempt] })];
    const current = [record('a', [], 'done')];
    const { tasks } = applyRollback('full', current, savedMidRun, []);
    expect(tasks[0]!.status).toBe('pending');
    expect(tasks[0]!.worker).toBeUndefined();
    // Nothing runs it after a rollback; a "running" attempt would show forever in `orc show`.
    expect(tasks[0]!.attempts[0]!.outcome).toBe('interrupted');
    expect(tasks[0]!.attempts[0]!.endedAt).toBeUndefined();

    // The same attempt ended since: it keeps that end, so its time is what it worked, not until now.
    const ended = { ...attempt, outcome: 'succeeded' as const, endedAt: '2026-01-01T00:00:01.000Z' };
    const after = applyRollback('full', [record('a', [], 'done', { attempts: [ended] })], savedMidRun, []);
    expect(after.tasks[0]!.attempts[0]).toMatchObject({ outcome: 'interrupted', endedAt: ended.endedAt });
  });

  it('starts over a task it resets, rather than review an answer it had waiting; one it leaves keeps its answer', () => {
    const answered = {
      n: 1,
      worker: 0,
      startedAt: '2026-01-01T00:00:00.000Z',
      outcome: 'succeeded' as const,
      output: 'an answer',
      diff: 'a diff',
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0,
    };
    const current = [
      record('a', [], 'reviewing', { attempts: [answered] }),
      record('d', [], 'reviewing', { attempts: [answered] }),
    ];
    const { tasks } = applyRollback('selective', current, current, ['a']);
    const out = byId(tasks);
    expect(out.get('a')!.attempts[0]).toMatchObject({
      outcome: 'succeeded',
      output: undefined,
      diff: undefined,
    });
    expect(out.get('d')!.attempts[0]).toMatchObject({ output: 'an answer', diff: 'a diff' });
    // Full, to a checkpoint that had these answers: they are still the tasks' last attempts, so kept.
    const full = applyRollback('full', current, current, []).tasks;
    expect(full.every((t) => t.attempts[0]!.output === 'an answer')).toBe(true);
    // ... unless the task was tried again since: then it is worked again.
    const retried = { ...answered, n: 2, outcome: 'failed' as const, output: undefined };
    const since = [record('a', [], 'ready', { attempts: [answered, retried] }), current[1]!];
    const fullSince = byId(applyRollback('full', since, current, []).tasks);
    expect(fullSince.get('a')!.attempts[0]!.output).toBeUndefined();
    expect(fullSince.get('d')!.attempts[0]!.output).toBe('an answer');
  });

  it('partial: keeps an answer given since to unchanged inputs; full to before it works the task again', () => {
    const answered = {
      n: 1,
      worker: 0,
      startedAt: '2026-01-01T00:00:00.000Z',
      outcome: 'succeeded' as const,
      output: 'an answer',
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0,
    };
    const current = [
      record('a', [], 'done'),
      record('b', ['a'], 'reviewing', { attempts: [answered] }),
      record('c', ['b'], 'pending'),
      record('d', [], 'reviewing', { attempts: [answered], description: 'Do d differently.' }),
    ];
    const partial = byId(applyRollback('partial', current, saved, []).tasks);
    expect(partial.get('b')!).toMatchObject({ status: 'pending', attempts: [{ output: 'an answer' }] });
    // d's spec changed since the checkpoint: its answer answered another question.
    expect(partial.get('d')!.attempts).toEqual([]);
    const full = byId(applyRollback('full', current, saved, []).tasks);
    expect(full.get('b')!.attempts).toEqual([]);
  });

  it('downstreamOf follows dependents transitively and includes the named tasks', () => {
    const tasks = [
      record('a', [], 'done'),
      record('b', ['a'], 'done'),
      record('c', ['b'], 'done'),
      record('d', [], 'done'),
      record('e', ['d', 'c'], 'done'),
    ];
    expect([...downstreamOf(tasks, ['b'])].sort()).toEqual(['b', 'c', 'e']);
    expect([...downstreamOf(tasks, ['d'])].sort()).toEqual(['d', 'e']);
  });

  it("numbers the redo after the attempts it took off the record, and starts the task's time over", () => {
    const attempt = (n: number, startedAt: string) => ({
      n,
      worker: 0,
      startedAt,
      endedAt: startedAt,
      outcome: 'succeeded' as const,
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0,
    });
    // The checkpoint had a running (its first attempt under way); since, attempts 2 and 3 made it done.
    const savedMidRun = [
      record('a', [], 'running', {
        worker: 0,
        readyAt: '2026-01-01T00:00:00.000Z',
        startedAt: '2026-01-01T00:00:00.000Z',
        attempts: [{ ...attempt(1, '2026-01-01T00:00:00.000Z'), outcome: 'running', endedAt: undefined }],
      }),
      record('b', [], 'pending'),
    ];
    const current = [
      record('a', [], 'done', {
        startedAt: '2026-01-01T00:00:00.000Z',
        attempts: [1, 2, 3].map((n) => attempt(n, `2026-01-01T00:0${n}:00.000Z`)),
      }),
      record('b', [], 'done', { attempts: [attempt(1, '2026-01-01T00:04:00.000Z')] }),
    ];
    const { tasks } = applyRollback('full', current, savedMidRun, []);
    const [a, b] = tasks;
    expect(a!.attempts.map((x) => x.n)).toEqual([1]);
    expect(a!.lastAttempt).toBe(3);
    expect(nextAttemptNumber(a!)).toBe(4);
    expect(b!.attempts).toEqual([]);
    expect(nextAttemptNumber(b!)).toBe(2);
    // Its start is the redo's, not the first one before the rollback (which read earlier than readyAt).
    expect(a!.startedAt).toBeUndefined();
    expect(a!.readyAt).toBeUndefined();
    // A selective rollback keeps the attempts on the record: the numbers go on from them.
    const selective = applyRollback('selective', current, savedMidRun, ['a']).tasks[0]!;
    expect(selective.lastAttempt).toBeUndefined();
    expect(nextAttemptNumber(selective)).toBe(4);
    // Rolled back again, to before anything: the highest number stays the one to go on from.
    const again = applyRollback('full', tasks, [record('a', [], 'pending'), record('b', [], 'pending')], []);
    expect(nextAttemptNumber(again.tasks[0]!)).toBe(4);
  });
});
