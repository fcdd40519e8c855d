import { appendFile, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskRecord } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DamagedFileError } from './damaged-file-error.js';
import { TaskText } from './run-document.js';
import { SettledSegment } from './settled-segment.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orc-segment-'));
  file = join(dir, 'settled.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const settled = (id: string, result = `result of ${id}`): TaskText => {
  const record: TaskRecord = {
    id,
    title: `task "${id}"\twith a tab`,
    description: 'd',
    dependencies: [],
    priority: 'medium',
    status: 'done',
    result,
    attempts: [
      {
        n: 1,
        worker: 0,
        startedAt: '2025-01-01T00:00:00.000Z',
        outcome: 'succeeded',
        usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
        costUsd: 0.25,
      },
    ],
    reworks: 0,
  };
  return TaskText.of(record);
};

const segment = () => new SettledSegment(file, 'settled.jsonl');

async function damageOf(promise: Promise<unknown>): Promise<DamagedFileError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DamagedFileError);
  return error as DamagedFileError;
}

describe('SettledSegment', () => {
  it('writes each settled text once, 0600, and reads back texts that parse to the same records', async () => {
    const writer = segment();
    const a = settled('a');
    // An id with a quote and a backslash in it.
    const b = settled('b"\\x');
    await writer.write([a, b]);
    const size = writer.ref.bytes;
    expect(size).toBe((await stat(file)).size);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(writer.holds(a) && writer.holds(b)).toBe(true);
    // Held already: nothing is written again.
    await writer.write([a, b]);
    expect(writer.ref.bytes).toBe(size);

    const read = await segment().read(size);
    expect([...read.keys()]).toEqual(['a', 'b"\\x']);
    const readA = read.get('a')!;
    expect(readA.json).toBe(a.json);
    expect(readA.title).toBe(a.title);
    expect(readA.status).toBe('done');
    expect(readA.attemptCosts).toEqual([0.25]);
    expect(readA.record()).toEqual(a.record());
  });

  it('reads what the task graph and the forecast need from the head, the record left as text', async () => {
    const record = { ...settled('a').record(), dependencies: ['x', 'y'] };
    const writer = segment();
    await writer.write([TaskText.of(record)]);
    const head = (await readFile(file, 'utf8')).split('\t')[0]!;
    expect(JSON.parse(head)).toEqual(['a', 'done', record.title, [0.25], ['x', 'y']]);
    const read = (await segment().read(writer.ref.bytes)).get('a')!;
    // Its JSON is not parsed for them: a text whose record says otherwise still answers from its head.
    expect(read.dependencies).toEqual(['x', 'y']);
  });

  it("reads a line of the version whose head carried the first attempt's start (six fields)", async () => {
    const record = { ...settled('a').record(), dependencies: ['x'] };
    const head = ['a', 'done', record.title, [0.25], ['x'], Date.parse('2025-01-01T00:00:00.000Z')];
    const line = `${JSON.stringify(head)}\t${JSON.stringify(record)}\n`;
    await writeFile(file, line);
    const read = (await segment().read(Buffer.byteLength(line))).get('a')!;
    expect(read.dependencies).toEqual(['x']);
    expect(read.attemptCosts).toEqual([0.25]);
    expect(read.record()).toEqual(record);
  });

  it('reads text that is not ASCII as UTF-8', async () => {
    const record = { ...settled('é').record(), title: 'naïve “quotes” ✓', result: 'résumé 日本' };
    const writer = segment();
    await writer.write([TaskText.of(record)]);
    const read = (await segment().read(writer.ref.bytes)).get('é')!;
    expect(read.title).toBe(record.title);
    expect(read.record()).toEqual(record);
  });

  it('reads a line of an earlier version (a head of four fields): its dependencies parsed when asked for', async () => {
    const record = { ...settled('a').record(), dependencies: ['x'] };
    const line = `${JSON.stringify(['a', 'done', record.title, [0.25]])}\t${JSON.stringify(record)}\n`;
    await writeFile(file, line);
    const read = (await segment().read(Buffer.byteLength(line))).get('a')!;
    expect(read.dependencies).toEqual(['x']);
    expect(read.record()).toEqual(record);
  });

  it('finds a head whose dependencies or first start are not of their kind, or of another length, damaged', async () => {
    const record = settled('a').record();
    for (const head of [
      ['a', 'done', 't', [0.25], 'x', null],
      ['a', 'done', 't', [0.25], [1], null],
      ['a', 'done', 't', [0.25], [], 'yesterday'],
      ['a', 'done', 't'],
      ['a', 'done', 't', [0.25], [], null, 'more'],
    ]) {
      const line = `${JSON.stringify(head)}\t${JSON.stringify(record)}\n`;
      await writeFile(file, line);
      expect((await damageOf(segment().read(Buffer.byteLength(line)))).reason).toContain('line 1');
    }
  });

  it('gives the event loop turns while it makes the lines of a plan, and writes them all', async () => {
    // Each record counts its serialisation: a turn that sees some made and not all came in the middle.
    let made = 0;
    const waiting = Array.from({ length: 20_000 }, (_, i) => {
      const record: TaskRecord = { ...settled(`w${i}`).record(), status: 'pending', result: 'x'.repeat(100) };
      return Object.assign(record, {
        toJSON: () => {
          made++;
          return { ...record, toJSON: undefined };
        },
      });
    });
    const writer = segment();
    let between = 0;
    const timer = setInterval(() => {
      if (made > 0 && made < waiting.length) between++;
    }, 0);
    try {
      await writer.write(waiting);
    } finally {
      clearInterval(timer);
    }
    expect(between).toBeGreaterThan(0);
    expect(writer.ref.bytes).toBe((await stat(file)).size);
    expect(waiting.every((task) => writer.holds(task))).toBe(true);
    const read = await segment().read(writer.ref.bytes);
    expect(read.size).toBe(20_000);
    expect(read.get('w19999')!.record()).toEqual(JSON.parse(JSON.stringify(waiting[19_999])));
  });

  it("takes an id's last line: a task that settled again after a rollback or a retry", async () => {
    const writer = segment();
    await writer.write([settled('a', 'first'), settled('b')]);
    const again = settled('a', 'second');
    expect(writer.holds(again)).toBe(false);
    await writer.write([again, settled('b')]);
    const read = await segment().read(writer.ref.bytes);
    expect(read.get('a')!.record().result).toBe('second');
    expect(read.size).toBe(2);
    // A document written before the second line took the first.
    const before = await segment().read((await readFile(file, 'utf8')).indexOf('\n', 10) + 1);
    expect(before.get('a')!.record().result).toBe('first');
  });

  it('reads only the bytes a document relies on: a torn write past them is ignored, then written over', async () => {
    const writer = segment();
    await writer.write([settled('a')]);
    const bytes = writer.ref.bytes;
    // A crash in the middle of the next write.
    await appendFile(file, '["b","done","task b",[]]\t{"id":"b","sta');
    const reader = segment();
    expect([...(await reader.read(bytes)).keys()]).toEqual(['a']);
    // The reopened segment writes where the whole lines end.
    await reader.write([settled('c')]);
    const text = await readFile(file, 'utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(2);
    expect([...(await segment().read(reader.ref.bytes)).keys()]).toEqual(['a', 'c']);
  });

  it('says which file is damaged: missing, cut short, or a line that is not a settled task', async () => {
    expect((await segment().read(0)).size).toBe(0);
    expect((await damageOf(segment().read(10))).reason).toMatch(
      /^is missing; the run document takes 10 bytes/,
    );

    const writer = segment();
    await writer.write([settled('a'), settled('b')]);
    const bytes = writer.ref.bytes;
    await truncate(file, bytes - 5);
    const cut = await damageOf(segment().read(bytes));
    expect(cut.file).toBe(file);
    expect(cut.message).toBe(
      `${file} holds ${bytes - 5} bytes, but the run document takes ${bytes}; it was cut short`,
    );

    await writeFile(file, '["a","done","t",[]]\t{"id":"a"}\nnot a line at all\n');
    const line = await damageOf(segment().read((await stat(file)).size));
    expect(line.reason).toBe("line 2 is not a settled task's record");
    expect(line.message.split('\n')).toHaveLength(1);
  });
});

describe('SettledSegment: waiting tasks', () => {
  it('holds a waiting record as the object written, and writes it again once it is replaced', async () => {
    const writer = segment();
    const waiting: TaskRecord = {
      ...settled('w').record(),
      status: 'pending',
      result: undefined,
      attempts: [],
    };
    await writer.write([waiting]);
    expect(writer.holds(waiting)).toBe(true);
    // A record is replaced, never changed, when its task moves: a copy is not the one written.
    const freed = { ...waiting, status: 'ready' as const };
    expect(writer.holds(freed)).toBe(false);
    await writer.write([freed]); // live: not written
    const bytes = writer.ref.bytes;
    // Its last line is still the waiting record: what a ready task's change line is made from.
    expect(writer.earlier('w')).toBe(waiting);
    const read = await segment().read(bytes);
    expect(read.get('w')!.status).toBe('pending');
    expect(read.get('w')!.record()).toEqual(JSON.parse(JSON.stringify(waiting)));
  });
});
