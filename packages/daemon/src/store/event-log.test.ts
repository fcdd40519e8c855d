import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrcEvent } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLog } from './event-log.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orc-events-'));
  file = join(dir, 'events.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const event = (id: number, text = 'x'): OrcEvent => ({
  id,
  runId: 'r1',
  at: '2025-01-01T00:00:00.000Z',
  type: 'worker.output',
  taskId: 't1',
  worker: 0,
  text,
});

async function collect(log: EventLog, afterId: number): Promise<number[]> {
  const ids: number[] = [];
  for await (const e of log.read(afterId)) ids.push(e.id);
  return ids;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('EventLog', () => {
  it('group-commits concurrent appends: few fsyncs, every line in order, file 0600', async () => {
    let commits = 0;
    const log = new EventLog(file, { onWrite: () => commits++ });
    await Promise.all(range(1, 500).map((id) => log.append([event(id)])));
    expect(commits).toBeLessThanOrEqual(3);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as OrcEvent).id)).toEqual(range(1, 500));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await log.close();
  });

  it('reads exactly the events after an id', async () => {
    const log = new EventLog(file);
    expect(await collect(log, 0)).toEqual([]); // no file yet
    expect(await log.lastId()).toBe(0);
    await log.append(range(1, 30).map((id) => event(id)));
    await log.append([event(31)]);
    expect(await collect(log, 0)).toEqual(range(1, 31));
    expect(await collect(log, 20)).toEqual(range(21, 31));
    expect(await collect(log, 31)).toEqual([]);
    expect(await log.lastId()).toBe(31);
    await log.close();
    await expect(log.append([event(32)])).rejects.toThrow('closed');
  });

  it('ignores a line torn by a crash, and cuts it off before appending', async () => {
    const log = new EventLog(file);
    await log.append([event(1), event(2), event(3)]);
    await log.close();
    await appendFile(file, '{"id":4,"runId":"r1","at":"2025'); // the crash

    const reopened = new EventLog(file);
    expect(await collect(reopened, 0)).toEqual([1, 2, 3]);
    expect(await reopened.lastId()).toBe(3);
    await reopened.append([event(4), event(5)]);
    expect(await collect(reopened, 0)).toEqual([1, 2, 3, 4, 5]);
    expect((await readFile(file, 'utf8')).split('\n')).toHaveLength(6);
    await reopened.close();
  });

  it('fails with the line number when a line in the middle is damaged', async () => {
    await writeFile(file, `${JSON.stringify(event(1))}\nnot json\n${JSON.stringify(event(3))}\n`);
    const log = new EventLog(file);
    await expect(collect(log, 0)).rejects.toThrow(`${file}: line 2 is not valid JSON`);
  });

  it('handles a 100k-line journal quickly, and a last line longer than the tail it first reads', async () => {
    const lines = range(1, 100_000).map((id) => JSON.stringify(event(id)));
    lines.push(JSON.stringify(event(100_001, 'y'.repeat(200_000))));
    await writeFile(file, lines.join('\n') + '\n');
    const log = new EventLog(file);

    let started = performance.now();
    expect(await log.lastId()).toBe(100_001);
    expect(performance.now() - started).toBeLessThan(200);

    started = performance.now();
    expect(await collect(log, 99_990)).toEqual(range(99_991, 100_001));
    expect(await collect(log, 0)).toHaveLength(100_001);
    expect(performance.now() - started).toBeLessThan(3000);
  });
});
