import type { TaskPage } from '@orc/shared';
import type { RowWant, RowWindow } from './attach-state.js';

/**
 * Asks the daemon for the rows the table wants (`tasks.page`), one request at a time: a key that moves
 * the table elsewhere while a page is on its way drops that request and asks for its own rows at once,
 * rather than waiting for an answer it no longer shows; a request whose rows still cover the screen is
 * left to land. A request for rows of another filter (`query`) is superseded.
 */
export class RowFetcher {
  private inFlight: { want: RowWant; abort: AbortController } | undefined;

  constructor(
    private readonly fetch: (want: RowWant, signal: AbortSignal) => Promise<TaskPage>,
    private readonly onPage: (page: TaskPage, want: RowWant) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  want(want: RowWant | undefined): void {
    if (want === undefined) return;
    const current = this.inFlight;
    if (current !== undefined && current.want.query === want.query && covers(current.want.window, want.shows))
      return;
    current?.abort.abort();
    const request = { want, abort: new AbortController() };
    this.inFlight = request;
    this.fetch(want, request.abort.signal).then(
      (page) => {
        if (this.inFlight !== request) return;
        this.inFlight = undefined;
        this.onPage(page, want);
      },
      (error: unknown) => {
        if (this.inFlight !== request) return;
        this.inFlight = undefined;
        this.onError(error);
      },
    );
  }

  /** Drops the request in flight (the screen reconnects, switches runs or closes). */
  cancel(): void {
    this.inFlight?.abort.abort();
    this.inFlight = undefined;
  }
}

function covers(window: RowWindow, rows: RowWindow): boolean {
  return window.offset <= rows.offset && window.offset + window.limit >= rows.offset + rows.limit;
}
