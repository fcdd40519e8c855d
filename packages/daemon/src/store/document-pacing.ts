/**
 * A document this large is rewritten only once the journal has grown by JOURNAL_PER_DOCUMENT times the
 * document's size since its last write began, however quickly the disk writes it; a smaller one as soon
 * as the writer's spacing lets it. Spaced by time alone (10× the last write's duration), the rewrites of a
 * 100,000-task document (45–85 MB) came as often as the disk allowed: bytes written per task at 100k were
 * 1.45–1.60× those at 1k, moving with the machine's load. Held back by the journal's growth, the
 * document's share is at most a quarter of the journal's (≈3 KB a task), at any load; a restore replays
 * at most four documents' size of journal past it. With settled and waiting tasks named by id (their
 * records in the settled segment), the document of a 100,000-task run is a few MB, so that is a few
 * tens of thousands of events. Held from 64 KB: a 10,000-task run's document is about 200 KB, and spaced by
 * time (a write of the segment and the document took up to 0.6 s at load 10, so 6 s between writes) it was
 * killed at half with 39,000 events past it, against 8,000 for its whole 4.8 MB document on main.
 */
const HOLD_DOCUMENTS_OVER = 64 * 1024;
const JOURNAL_PER_DOCUMENT = 4;

/**
 * When a run's document is written again: a large one once the journal past the last one has grown by
 * JOURNAL_PER_DOCUMENT times its size (see above), a small one as soon as the writer's spacing lets it.
 */
export class DocumentPacing {
  /** Bytes of journal past the document loaded (an estimate), then appended by this process. */
  private journalBytes = 0;
  /** How many of them the last document write saw. */
  private journalBytesAtSave = 0;
  /** The size of the last document written or loaded (0 before either). */
  private documentBytes = 0;
  /** A save asked for and held back until the journal has grown enough. */
  held = false;
  /**
   * Whether the run's journal last told of it finishing (or it was loaded finished): its journal grows
   * no more, so a save (a manual checkpoint's, a rating's) is not held for it. Held, such a write
   * waited for the daemon to close, and a kill -9 before then left a finished run behind its journal,
   * caught up (and rewritten whole: seconds at 100,000 tasks) at the next start.
   */
  finished = false;

  /** Whether the document is large enough to be paced by the journal (its writes then unspaced by time). */
  get paced(): boolean {
    return this.documentBytes > HOLD_DOCUMENTS_OVER;
  }

  /** Whether the document is to wait for more journal before it is written again. */
  get journalTooShort(): boolean {
    return (
      this.paced &&
      !this.finished &&
      this.journalBytes - this.journalBytesAtSave < JOURNAL_PER_DOCUMENT * this.documentBytes
    );
  }

  /**
   * A document loaded is the last one written, `tailBytes` of journal past it: a large one is written
   * again once the journal has grown enough, the events a restore catches up with counting, as it would
   * have been had the daemon lived. Written at the first save instead, a restored 100,000-task run
   * rewrote its 2.4 MB document and offered the segment all its tasks while it began to dispatch again
   * (~0.1 s of CPU before the first dispatch), and added a document's bytes at every restart.
   */
  loaded(documentBytes: number, tailBytes: number): void {
    this.documentBytes = documentBytes;
    this.journalBytes = tailBytes;
    this.journalBytesAtSave = 0;
  }

  journalAppended(bytes: number): void {
    this.journalBytes += bytes;
  }

  /** A document write begins: the journal is counted from now for the next. */
  writing(): void {
    this.journalBytesAtSave = this.journalBytes;
  }

  written(bytes: number): void {
    this.documentBytes = bytes;
  }
}
