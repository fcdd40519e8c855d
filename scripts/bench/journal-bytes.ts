import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** The events of a journal emitted in a window, and their bytes: what each subscriber was sent then. */
export interface JournalBytes {
  events: number;
  /** Bytes of their JSON lines (UTF-8, without the newlines): a batch's text is these, joined. */
  bytes: number;
}

/**
 * Counts the lines of `events.jsonl` whose `at` lies in [from, to) (ms since the epoch), reading the
 * time where the journal writes it (`{"id":…,"runId":…,"at":"…"`) rather than parsing each line.
 */
export async function journalBytesBetween(file: string, from: number, to: number): Promise<JournalBytes> {
  const fromIso = new Date(from).toISOString();
  const toIso = new Date(to).toISOString();
  let events = 0;
  let bytes = 0;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    const at = line.indexOf('"at":"');
    if (at === -1) continue;
    const time = line.slice(at + 6, at + 30);
    if (time < fromIso || time >= toIso) continue;
    events++;
    bytes += Buffer.byteLength(line);
  }
  return { events, bytes };
}
