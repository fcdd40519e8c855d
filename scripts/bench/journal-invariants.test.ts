import type { NewEvent, OrcEvent } from '@orc/shared';
import { ZERO_USAGE } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { checkJournal, documentDisagreements } from './journal-invariants.js';

const AT = '2026-11-30T10:00:00.000Z';
const journal = (...events: NewEvent[]): OrcEvent[] =>
  events.map((event, i) => ({ ...event, id: i + 1, runId: 'r1', at: AT }));
const assigned = (taskId: string, attempt = 1): NewEvent => ({
  type: 'task.assigned',
  taskId,
  worker: 0,
  attempt,
});
const worked = (taskId: string, attempt = 1): NewEvent => ({
  type: 'task.worked',
  taskId,
  attempt,
  output: 'answer',
  usage: ZERO_USAGE,
  costUsd: 0,
});
const completed = (taskId: string, attempt = 1): NewEvent => ({
  type: 'task.completed',
  taskId,
  attempt,
  result: 'answer',
  usage: ZERO_USAGE,
  costUsd: 0,
});
const rolledBack = (checkpointId: string, resetTasks: string[]): NewEvent => ({
  type: 'run.rolled_back',
  checkpointId,
  strategy: 'full',
  resetTasks,
});
const noCheckpoint = () => new Set<string>();

describe('checkJournal', () => {
  it('passes a journal where each task is worked, reviewed and done once, and again after a rollback', () => {
    const events = journal(
      assigned('a'),
      worked('a'),
      completed('a'),
      rolledBack('cp1', ['a']),
      assigned('a', 2),
      worked('a', 2),
      completed('a', 2),
    );
    expect(checkJournal(events, noCheckpoint)).toEqual({ done: new Set(['a']), violations: [] });
  });

  it('names a task done twice, a done task run again, an answer paid twice, and an id gap', () => {
    const events = journal(
      assigned('a'),
      worked('a'),
      assigned('a', 2),
      completed('a', 2),
      assigned('a', 3),
      completed('a', 3),
    );
    events[5]!.id = 9;
    expect(checkJournal(events, noCheckpoint).violations).toEqual([
      "a's answer of attempt 1 was paid again by attempt 2 (event 3)",
      'a was done and ran again (event 5)',
      'event 6 has id 9',
      'a completed twice (event 9)',
    ]);
  });

  it('takes a task a rollback changed as its checkpoint had it: done, when it was done there', () => {
    const events = journal(rolledBack('cp3', ['a', 'b']), assigned('a'));
    const verdict = checkJournal(events, () => new Set(['a']));
    expect(verdict.done).toEqual(new Set(['a']));
    expect(verdict.violations).toEqual(['a was done and ran again (event 2)']);
  });
});

describe('documentDisagreements', () => {
  it('names each task the document and the journal see differently', () => {
    const tasks = [
      { id: 'a', status: 'done' as const },
      { id: 'b', status: 'done' as const },
      { id: 'c', status: 'pending' as const },
    ];
    expect(documentDisagreements(tasks, new Set(['a', 'c']))).toEqual([
      'b is done in the document, not done in the journal',
      'c is pending in the document, done in the journal',
    ]);
  });
});
