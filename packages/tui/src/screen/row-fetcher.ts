import type { TaskPage } from '@orc/shared';
import type { RowWant, RowWindow } from './attach-state.js';

/**
 * Asks the daemon for the rows the table wants (`tasks.page`), one request at a time: a key that moves
 * the table elsewhere while a page is on its way drops that request and asks for its own rows at once,
 * rather than waiting for an answer it no longer shows; a request whose rows still cover the screen is
 * left to land.
 */
export class RowFetcher {
  private inFlight: { window: RowWindow; abort: AbortController } | undefined;

  constructor(
    private readonly fetch: (window: RowWindow, signal: AbortSignal) => Promise<TaskPage>,
    private readonly onPage: (page: TaskPage) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  want(want: RowWant | undefined): void {
    if (want === undefined) return;
    const current = this.inFlight;
    if (current !== undefined && covers(current.window, want.shows)) return;
    current?.abort.abort();
    const request = { window: want.window, abort: new AbortController() };
    this.inFlight = request;
    this.fetch(want.window, request.abort.signal).then(
      (page) => {
        if (this.inFlight !== request) return;
        this.inFlight = undefined;
        this.onPage(page);
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
