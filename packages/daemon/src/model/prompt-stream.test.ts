import { describe, expect, it } from 'vitest';
import { PromptStream } from './prompt-stream.js';

describe('PromptStream', () => {
  it('gives the first message, then each pushed one, and stays open until ended', async () => {
    const stream = new PromptStream('task');
    const seen: string[] = [];
    const reading = (async () => {
      for await (const message of stream) seen.push(message);
    })();
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['task']);
    stream.push('an answer to a permission request');
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['task', 'an answer to a permission request']);
    stream.end();
    await reading;
    stream.push('too late');
    expect(seen).toHaveLength(2);
  });
});
