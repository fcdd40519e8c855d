import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from './daemon-info.js';

let parent: ReturnType<typeof spawn> | undefined;
afterEach(() => {
  parent?.kill('SIGKILL');
  parent = undefined;
});

describe('isProcessAlive', () => {
  it('counts a running process, and not a gone one', () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(2 ** 22 + 12345)).toBe(false);
  });

  it.runIf(process.platform === 'linux')('does not count a zombie nobody has reaped', async () => {
    // sh starts a child that exits at once, then becomes `sleep`, which never reaps it.
    parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const zombie = await new Promise<number>((resolve) =>
      parent!.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    const deadline = Date.now() + 5000;
    while (isProcessAlive(zombie) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(isProcessAlive(zombie)).toBe(false);
    // It still answers signals, which is what fooled the old check.
    expect(() => process.kill(zombie, 0)).not.toThrow();
    expect(isProcessAlive(parent.pid!)).toBe(true);
  });
});
