import { describe, expect, it } from 'vitest';
import { nextTaskStatus } from './task.machine.js';

describe('task machine', () => {
  it('walks the happy path', () => {
    expect(nextTaskStatus('pending', 'task.unblocked')).toBe('ready');
    expect(nextTaskStatus('ready', 'task.assign')).toBe('running');
    expect(nextTaskStatus('running', 'task.work_done')).toBe('reviewing');
    expect(nextTaskStatus('reviewing', 'task.accept')).toBe('done');
  });

  it('sends reworked and interrupted work back to the queue', () => {
    expect(nextTaskStatus('reviewing', 'task.rework')).toBe('ready');
    expect(nextTaskStatus('running', 'task.interrupt')).toBe('ready');
  });

  it('refuses moves the machine does not allow', () => {
    expect(nextTaskStatus('done', 'task.assign')).toBeUndefined();
    expect(nextTaskStatus('pending', 'task.assign')).toBeUndefined();
    expect(nextTaskStatus('done', 'task.retry')).toBeUndefined();
    expect(nextTaskStatus('running', 'task.skip')).toBeUndefined();
  });

  it('lets a person retry or skip a failed task, and resets anything', () => {
    expect(nextTaskStatus('failed', 'task.retry')).toBe('pending');
    expect(nextTaskStatus('failed', 'task.skip')).toBe('skipped');
    expect(nextTaskStatus('done', 'task.reset')).toBe('pending');
    expect(nextTaskStatus('pending', 'task.reset')).toBe('pending');
  });
});
