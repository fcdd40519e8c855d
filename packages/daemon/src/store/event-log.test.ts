import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrcEvent } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DamagedFileError } from './damaged-file-error.js';
import { EventLog } from './event-log.js';
import { JournalBehindError } from './write-failure.js';

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
  it('tells when an event is on disk, and that it will not be when the append fails or the log closes', async () => {
    const log = new EventLog(file);
    const second = log.waitDurable(2);
    let settled = false;
    void second.then(() => (settled = true));
    await log.append([event(1)]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(settled).toBe(false);
    await log.append([event(2)]);
    await second;
    await log.waitDurable(2); // at once now
    await log.close();
    await expect(log.waitDurable(3)).rejects.toBeInstanceOf(JournalBehindError);

    // A journal that cannot be written: what waits for its events hears why, at once.
    const broken = new EventLog(join(dir, 'no-such-dir', 'events.jsonl'));
    const waiting = broken.waitDurable(1);
    await expect(broken.append([event(1)])).rejects.toThrow(/ENOENT/);
    await expect(waiting).rejects.toThrow(/the journal does not hold event 1 yet: ENOENT/);
    await expect(broken.waitDurable(1)).rejects.toBeInstanceOf(JournalBehindError);
    await broken.close();
  });

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
    await expect(collect(log, 0)).rejects.toThrow(
      `${file} has a hole: event 2 is missing before line 3 (line 2 is not valid JSON)`,
    );
  });

  it('never replays a journal with a hole as if it were whole', async () => {
    const lines = (ids: number[]) => ids.map((id) => JSON.stringify(event(id))).join('\n') + '\n';
    await writeFile(file, lines([1, 2, 3, 6, 7]));
    const log = new EventLog(file);
    const seen: number[] = [];
    const read = (async () => {
      for await (const e of log.read(0)) seen.push(e.id);
    })();
    await expect(read).rejects.toBeInstanceOf(DamagedFileError);
    await expect(collect(log, 0)).rejects.toThrow(`${file} has a hole: events 4–5 are missing before line 4`);
    expect(seen).toEqual([1, 2, 3]); // what comes before the hole, and nothing after it
    // A reader that has everything up to the hole and past it reads on, and is told of the hole behind it.
    let told: DamagedFileError | undefined;
    const after: number[] = [];
    for await (const e of log.read(6, { onEarlierDamage: (damage) => (told = damage) })) after.push(e.id);
    expect(after).toEqual([7]);
    expect(told?.reason).toBe('has a hole: events 4–5 are missing before line 4');
    // Asking from inside the hole is refused too.
    await expect(collect(log, 4)).rejects.toThrow('event 5 is missing before line 4');
  });

  it('refuses ids out of order or twice, and a damaged last line, but passes over junk that hid nothing', async () => {
    const line = (id: number) => JSON.stringify(event(id));
    await writeFile(file, [line(1), line(2), line(2), line(3)].join('\n') + '\n');
    await expect(collect(new EventLog(file), 0)).rejects.toThrow(
      'is out of order: event 2 at line 3 comes after event 2',
    );
    await writeFile(file, [line(1), 'junk', line(2), '{"id": "x"}', line(3)].join('\n') + '\n');
    expect(await collect(new EventLog(file), 0)).toEqual([1, 2, 3]);
    await writeFile(file, [line(1), line(2), 'junk'].join('\n') + '\n');
    await expect(collect(new EventLog(file), 0)).rejects.toThrow(
      'is damaged from event 3 on: line 3 is not valid JSON',
    );
    await expect(new EventLog(file).lastId()).rejects.toThrow('has a last line that is not valid JSON');
  });

  it('knows the last event on disk: read from the tail once, then from its own appends', async () => {
    await writeFile(file, [1, 2, 3].map((id) => JSON.stringify(event(id))).join('\n') + '\n');
    const log = new EventLog(file);
    expect(await log.durableId()).toBe(3);
    await log.append([event(4), event(5)]);
    expect(await log.durableId()).toBe(5);
    await log.close();
    expect(await new EventLog(join(dir, 'none.jsonl')).durableId()).toBe(0);
  });

  it('reads the events after an id in a long journal from near them, and tells a hole past them by its line', async () => {
    // Long lines, one of them longer than a probe's read, and a hole near the end.
    const ids = [...range(1, 3_000), ...range(3_002, 3_010)];
    const text = (id: number) =>
      JSON.stringify(event(id, id === 1_500 ? 'z'.repeat(100_000) : 'y'.repeat(300)));
    await writeFile(file, ids.map(text).join('\n') + '\n');
    const log = new EventLog(file);
    for (const afterId of [1, 1_499, 1_500, 2_000, 2_990]) {
      const read: number[] = [];
      for await (const e of log.read(afterId)) {
        read.push(e.id);
        if (e.id === 3_000) break;
      }
      expect(read).toEqual(range(afterId + 1, 3_000));
    }
    await expect(collect(log, 2_990)).rejects.toThrow(
      `${file} has a hole: event 3001 is missing before line 3001`,
    );
  });

  it('tells no hole behind the events it reads from near them when there is none, and one that it passes', async () => {
    // A restore catches up from its document's event and starts reading near it: the lines before that
    // start are not read, so its first line (id 1,5xx, not 1) is no hole. Told as one, a run that went
    // on after a rollback and a kill -9 showed "damaged: events 1–1576 are missing before line 1".
    const long = (ids: number[]) =>
      ids.map((id) => JSON.stringify(event(id, 'y'.repeat(300)))).join('\n') + '\n';
    await writeFile(file, long(range(1, 3_000)));
    let told: DamagedFileError | undefined;
    const whole: number[] = [];
    for await (const e of new EventLog(file).read(2_000, { onEarlierDamage: (damage) => (told = damage) }))
      whole.push(e.id);
    expect(whole).toEqual(range(2_001, 3_000));
    expect(told).toBeUndefined();
    // A hole among the lines the read passes over on its way is still told, by its line in the file.
    await writeFile(file, long([...range(1, 1_990), ...range(1_993, 3_000)]));
    const after: number[] = [];
    for await (const e of new EventLog(file).read(2_000, { onEarlierDamage: (damage) => (told = damage) }))
      after.push(e.id);
    expect(after).toEqual(range(2_001, 3_000));
    expect(told?.reason).toBe('has a hole: events 1991–1992 are missing before line 1991');
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
