import type { TaskRecord } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { DamagedFileError } from './damaged-file-error.js';
import { TaskText } from './run-document.js';
import { changeLineOf, recordOfChangeLine } from './task-change-line.js';

const waiting: TaskRecord = {
  id: 't1',
  title: 'task 1',
  description: 'd'.repeat(500),
  dependencies: ['t0'],
  priority: 'medium',
  status: 'pending',
  attempts: [],
  reworks: 0,
};
const lacks = (id: string) => new DamagedFileError('state.json', `lacks ${id}`);

describe('change lines', () => {
  it('write the fields that changed from the record the segment holds, and read back the whole record', () => {
    const ready: TaskRecord = { ...waiting, status: 'ready', readyAt: '2025-01-01T00:00:00.000Z' };
    const line = changeLineOf(ready, waiting);
    expect(line).toBe('{"@":"t1","status":"ready","readyAt":"2025-01-01T00:00:00.000Z"}');
    // From the segment's text (a restore): arrays equal in value are not changes.
    const text = TaskText.of(waiting);
    expect(changeLineOf(ready, text)).toBe(line);
    const settled = new Map([['t1', text]]);
    const read = recordOfChangeLine(line!, settled, lacks);
    expect(read).toEqual(ready);
    expect(JSON.stringify(read)).toBe(JSON.stringify(ready));
    // Changed arrays are written whole.
    const edited: TaskRecord = { ...ready, dependencies: ['t0', 't9'] };
    expect(recordOfChangeLine(changeLineOf(edited, text)!, settled, lacks)).toEqual(edited);
  });

  it('are not made without an earlier record, or when a field went; a missing base is damage', () => {
    expect(changeLineOf(waiting, undefined)).toBeUndefined();
    const base: TaskRecord = { ...waiting, status: 'failed', error: 'boom' };
    expect(changeLineOf({ ...waiting, status: 'ready' }, base)).toBeUndefined();
    expect(() => recordOfChangeLine('{"@":"t2","status":"ready"}', new Map(), lacks)).toThrow('lacks t2');
    expect(recordOfChangeLine('{"@":', new Map(), lacks)).toBeUndefined();
  });
});
