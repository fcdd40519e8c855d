import { describe, expect, it } from 'vitest';
import { DaemonRestart } from './daemon-restart.js';

/** A start the test ends when it likes, counting the calls. */
function controlledStart() {
  const calls: ((text: string | undefined) => void)[] = [];
  const fails: ((error: Error) => void)[] = [];
  const start = () =>
    new Promise<string | undefined>((resolve, reject) => {
      calls.push(resolve);
      fails.push(reject);
    });
  return { start, calls, fails };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('DaemonRestart', () => {
  it('starts the daemon once while a start is on its way, says what it did, and again at the next loss', async () => {
    const { start, calls } = controlledStart();
    const said: string[] = [];
    const restart = new DaemonRestart(start, { started: (text) => said.push(text), failed: () => undefined });
    expect(restart.lost(false)).toBe('starting');
    // The client reports every failed reconnect: no second start meanwhile.
    expect(restart.lost(false)).toBe('waiting');
    expect(calls).toHaveLength(1);
    calls[0]!('the daemon (pid 12) had died; started a new one (pid 40), and the runs it held go on');
    await settled();
    expect(said).toEqual([
      'the daemon (pid 12) had died; started a new one (pid 40), and the runs it held go on',
    ]);
    expect(restart.lost(false)).toBe('starting');
    expect(calls).toHaveLength(2);
    // One answered meanwhile (another command started it): nothing to say.
    calls[1]!(undefined);
    await settled();
    expect(said).toHaveLength(1);
  });

  it('says a start that failed, and tries nothing without a way to start one', async () => {
    const { start, fails } = controlledStart();
    const failures: unknown[] = [];
    const restart = new DaemonRestart(start, { started: () => undefined, failed: (e) => failures.push(e) });
    restart.lost(false);
    fails[0]!(new Error('the state directory is not writable'));
    await settled();
    expect(failures).toEqual([new Error('the state directory is not writable')]);
    expect(
      new DaemonRestart(undefined, { started: () => undefined, failed: () => undefined }).lost(false),
    ).toBe('waiting');
  });

  it('leaves a daemon stopped on purpose stopped: no start, at this loss or while it lasts', () => {
    const { start, calls } = controlledStart();
    const restart = new DaemonRestart(start, { started: () => undefined, failed: () => undefined });
    expect(restart.lost(true)).toBe('stopped');
    expect(restart.lost(true)).toBe('stopped');
    expect(calls).toHaveLength(0);
    // Started again by someone, then killed: that one is brought back.
    expect(restart.lost(false)).toBe('starting');
    expect(calls).toHaveLength(1);
  });
});
