import { ManualClock } from '@orc/test-support';
import { describe, expect, it } from 'vitest';
import { OutputBatcher } from './output-batcher.js';

/** A batcher on a manual clock, with what it handed on. */
function batcher() {
  const clock = new ManualClock(0);
  const told: string[] = [];
  const output = new OutputBatcher(clock, (text) => told.push(text), 100);
  /** Moves the clock past the interval and lets the batcher's wait end. */
  const tick = async () => {
    clock.advance(100);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { output, told, tick };
}

describe('OutputBatcher', () => {
  it('hands streamed text on at most once an interval, and the rest when the call ends without an answer', async () => {
    const { output, told, tick } = batcher();
    output.push('a');
    output.push('b');
    expect(told).toEqual([]);
    await tick();
    expect(told).toEqual(['ab']);
    output.push('c');
    output.flush();
    expect(told).toEqual(['ab', 'c']);
  });

  it('leaves an answer that came whole to the answer: nothing is handed on, none of it was streamed', () => {
    const { output, told } = batcher();
    output.push('the whole ');
    output.push('answer');
    expect(output.answered('the whole answer')).toEqual({ streamed: 0 });
    expect(told).toEqual([]);
  });

  it('says how much of the answer was streamed when only its last piece waits', async () => {
    const { output, told, tick } = batcher();
    output.push('the first part, ');
    await tick();
    output.push('the rest');
    expect(output.answered('the first part, the rest')).toEqual({ streamed: 'the first part, '.length });
    expect(told).toEqual(['the first part, ']);
    // Nothing more comes of the wait that was on.
    await tick();
    expect(told).toEqual(['the first part, ']);
  });

  it('says an answer the stream told whole was streamed whole', async () => {
    const { output, told, tick } = batcher();
    output.push('all of it');
    await tick();
    expect(output.answered('all of it')).toEqual({ streamed: 'all of it'.length });
    expect(told).toEqual(['all of it']);
  });

  it('hands on what waits when the stream was not the answer (an agent narrating its steps)', async () => {
    const { output, told, tick } = batcher();
    output.push('reading the files\n');
    await tick();
    output.push('writing the change\n');
    expect(output.answered('Done: the change is written.')).toBeUndefined();
    expect(told).toEqual(['reading the files\n', 'writing the change\n']);
  });
});
