import type { TaskPage } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import type { RowWindow } from './attach-state.js';
import { RowFetcher } from './row-fetcher.js';

/** A daemon whose answers come when the test says. */
class Pages {
  readonly asked: { window: RowWindow; signal: AbortSignal; answer: () => void }[] = [];
  readonly got: number[] = [];
  readonly fetcher = new RowFetcher(
    ({ window }, signal) =>
      new Promise<TaskPage>((resolve) => {
        const page = { runId: 'r', lastEventId: 1, offset: window.offset, total: 1000, tasks: [] };
        this.asked.push({ window, signal, answer: () => resolve(page) });
      }),
    (page) => this.got.push(page.offset),
    () => undefined,
  );
}

const want = (offset: number, limit: number, shows = { offset, limit }) => ({
  window: { offset, limit },
  shows,
});
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('row fetcher', () => {
  it('drops a request a newer key moved away from, and asks for the new rows at once', async () => {
    const pages = new Pages();
    pages.fetcher.want(want(980, 20, { offset: 990, limit: 10 }));
    // The same rows again (the next frame): still on their way, not asked twice.
    pages.fetcher.want(want(980, 20, { offset: 990, limit: 10 }));
    pages.fetcher.want(want(975, 30, { offset: 985, limit: 10 }));
    expect(pages.asked.map((a) => a.window.offset)).toEqual([980]);
    // Home while End's rows are on their way: End's request is dropped, Home's sent without waiting.
    pages.fetcher.want(want(0, 20));
    expect(pages.asked.map((a) => a.window.offset)).toEqual([980, 0]);
    expect(pages.asked[0]!.signal.aborted).toBe(true);
    pages.asked[0]!.answer();
    pages.asked[1]!.answer();
    await turn();
    expect(pages.got).toEqual([0]);
    // Nothing in flight: the next want is asked.
    pages.fetcher.want(want(500, 20));
    pages.fetcher.cancel();
    expect(pages.asked[2]!.signal.aborted).toBe(true);
    pages.asked[2]!.answer();
    await turn();
    expect(pages.got).toEqual([0]);
  });

  it('asks again for rows of another filter, even when a request for the same rows is on its way', () => {
    const pages = new Pages();
    pages.fetcher.want(want(0, 20));
    const failed = { status: ['failed' as const] };
    pages.fetcher.want({ ...want(0, 20), query: failed });
    expect(pages.asked.map((a) => a.signal.aborted)).toEqual([true, false]);
    // The same filter again: on its way already.
    pages.fetcher.want({ ...want(0, 20), query: failed });
    expect(pages.asked).toHaveLength(2);
  });
});
