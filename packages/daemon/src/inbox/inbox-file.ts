import { chmod, copyFile, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { InboxItem, RunWaits } from '@orc/shared';
import type { Logger } from 'pino';
import * as z from 'zod';
import type { Clock } from '../clock.js';
import { isErrno, writeFileDurably } from '../store/durable-json-file.js';

/** An item as the inbox keeps it: what it shows, plus its identity and the ids of the events it made. */
export const StoredItem = InboxItem.extend({
  /** One open item per key; an answered one is not opened again while its situation lasts. */
  key: z.string(),
  /** When it was last revised (its `inbox.revised`, replayed). */
  revisedAt: z.string().optional(),
  events: z.object({
    opened: z.number().int().positive(),
    notified: z.number().int().positive().optional(),
    /** The last revision's: what it shows now (see `inbox.revised`). */
    revised: z.number().int().positive().optional(),
    closed: z.number().int().positive().optional(),
  }),
});
export type StoredItem = z.infer<typeof StoredItem>;

/** `inbox.json`: the inbox of one state directory. */
export const InboxDocument = z.object({
  version: z.literal(1),
  /** The number of the next item (`i<n>`). */
  nextItem: z.number().int().positive(),
  lastEventId: z.number().int().nonnegative(),
  items: z.array(StoredItem),
  /** Keys answered while their situation still holds (a quota a person chose to wait out). */
  standing: z.array(z.string()),
  /** How long each run waited for a person, closed items counted. */
  waits: z.record(z.string(), RunWaits),
});
export type InboxDocument = z.infer<typeof InboxDocument>;

/** The longest wait between two tries of a write that failed. */
const MAX_RETRY_MS = 30_000;

/**
 * `inbox.json`, written whole, atomically and durably (temp file, fsync, rename) like the run documents.
 * Writes are coalesced: one in flight, the latest state next. A write that fails (a full disk, a state
 * directory that cannot be written) is tried again with backoff until it goes through, and the inbox
 * goes on in memory meanwhile: an item is never lost or held back because the disk is.
 */
export class InboxFile {
  private dirty = false;
  private writing: Promise<void> | undefined;
  private snapshot: (() => InboxDocument) | undefined;
  private closed = false;
  /** Set while writes fail: what went wrong, for the log (said once per failing streak). */
  failing: string | undefined;
  private readonly wake = new AbortController();

  constructor(
    readonly path: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * The document on disk; undefined when there is none. A document that cannot be read is kept beside it
   * (`inbox.json.damaged-<time>`) and the inbox starts empty: what runs wait for is found again from the
   * runs themselves.
   */
  async read(): Promise<InboxDocument | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
    let why: string;
    try {
      const parsed = InboxDocument.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
      why = `does not match its schema (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''})`;
    } catch (error) {
      why = `is not valid JSON (${(error as Error).message})`;
    }
    const kept = `${this.path}.damaged-${new Date(this.clock.now()).toISOString().replace(/[:.]/g, '')}`;
    await copyFile(this.path, kept, constants.COPYFILE_EXCL).catch(() => undefined);
    await chmod(kept, 0o600).catch(() => undefined);
    this.logger.error({ file: this.path, kept }, `the inbox ${why}; it starts empty, the damaged file kept`);
    return undefined;
  }

  /** Asks for the document to be written; `snapshot` is read when the write starts. */
  save(snapshot: () => InboxDocument): void {
    this.snapshot = snapshot;
    this.dirty = true;
    this.writing ??= this.write();
  }

  /** Resolves once what was asked for so far is on disk (or the file was closed). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** One last write of what is pending; after it, a failed write is not tried again. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake.abort();
    await this.flush();
  }

  private async write(): Promise<void> {
    let delay = 500;
    while (this.dirty && this.snapshot) {
      this.dirty = false;
      const text = `${JSON.stringify(this.snapshot(), null, 1)}\n`;
      try {
        await writeFileDurably(this.path, text);
        if (this.failing !== undefined) this.logger.info({ file: this.path }, 'the inbox is written again');
        this.failing = undefined;
        delay = 500;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (this.failing === undefined)
          this.logger.error(
            { err: error, file: this.path },
            'cannot write the inbox; kept in memory, retrying',
          );
        this.failing = message;
        if (this.closed) break;
        this.dirty = true;
        await this.clock.sleep(delay, this.wake.signal).catch(() => undefined);
        delay = Math.min(MAX_RETRY_MS, delay * 2);
      }
    }
    this.writing = undefined;
  }
}
