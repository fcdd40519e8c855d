import type { OrcClient } from '@orc/daemon/client';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { summaryJson } from './output.js';

/**
 * `orc show <run> --json`: the run as one JSON document (the summary and `extra`, then every task whole), written
 * as it is fetched: the summary from `runs.get`, then the tasks a page at a time (`tasks.page` with
 * `full`), each page written before the next is asked for. A 100,000-task run in one `runs.get` with
 * `full` was a 56 MB reply, built whole in the daemon and again here; this way neither side holds more
 * than a page, and a reader gets the first tasks at once. A live run's pages are each as of the moment
 * they were asked for; a finished run's are all the same.
 */
export async function writeRunJson(
  client: OrcClient,
  runId: string,
  out: Writable,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const { tasks: _firstPage, ...view } = await client.trpc.runs.get.query({ runId });
  const head = JSON.stringify({ ...summaryJson(view), ...extra }, null, 2);
  await write(out, `${head.slice(0, -2)},\n  "tasks": [`);
  let offset = 0;
  for (;;) {
    const page = await client.trpc.tasks.page.query({ runId, offset, full: true });
    const text = page.tasks
      .map((task, i) => `${offset + i === 0 ? '' : ','}\n${indent(JSON.stringify(task, null, 2))}`)
      .join('');
    await write(out, text);
    offset += page.tasks.length;
    if (page.tasks.length === 0 || offset >= page.total) break;
  }
  await write(out, `${offset === 0 ? '' : '\n  '}]\n}\n`);
}

function indent(json: string): string {
  return `    ${json.replaceAll('\n', '\n    ')}`;
}

/** Writes, and waits when the reader is behind (a pipe's buffer is full) before the next page is fetched. */
async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}
