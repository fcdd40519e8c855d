import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as z from 'zod';

const TakeBacksFile = z.object({ v: z.literal(1), ids: z.array(z.string()) });

/**
 * The jobs a daemon gave up on (taken back, or cut off by Redis going away) that its workers have not
 * been told of yet: a take-back cannot cross Redis while Redis is down, and a worker left untold goes on
 * making (and paying for) an attempt nobody waits for. The ids are kept until the word is in Redis, in a
 * file (0600) when one is given, so a daemon restarted meanwhile still sends them.
 */
export class TakeBacks {
  private readonly pending = new Set<string>();
  /** The ids the file holds. */
  private kept = new Set<string>();

  constructor(private readonly file?: string) {
    if (file === undefined) return;
    try {
      const parsed = TakeBacksFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (parsed.success) for (const id of parsed.data.ids) this.pending.add(id);
      this.kept = new Set(this.pending);
    } catch {
      // None kept yet (or a torn file: its ids' jobs end at their timeout).
    }
  }

  get ids(): string[] {
    return [...this.pending];
  }

  /**
   * Not written yet: with Redis up the word is sent within a round trip, and writing the file for each
   * take-back cost two small writes per call given up on. Whoever cannot send it calls `keep`.
   */
  add(id: string): void {
    this.pending.add(id);
  }

  /** The workers were told (the word is in Redis). */
  sent(id: string): void {
    this.pending.delete(id);
    if (this.kept.has(id)) this.save();
  }

  /** Writes the ids not sent yet, when they cannot be sent now (Redis away, the daemon stopping). */
  keep(): void {
    if ([...this.pending].some((id) => !this.kept.has(id))) this.save();
  }

  private save(): void {
    if (this.file === undefined) return;
    // Written whole and renamed: a few ids at most, and only while Redis is away.
    const temp = `${this.file}.tmp`;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      writeFileSync(temp, `${JSON.stringify({ v: 1, ids: this.ids })}\n`, { mode: 0o600 });
      renameSync(temp, this.file);
      this.kept = new Set(this.pending);
    } catch {
      // A full or read-only disk: the ids stay in memory, and are sent when Redis is back.
    }
  }
}
