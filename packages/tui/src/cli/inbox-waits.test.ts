import { describe, expect, it } from 'vitest';
import { waitsLines } from './inbox.command.js';

describe('waitsLines', () => {
  it('names a wait for a person apart from the pauses that end by themselves', () => {
    expect(
      waitsLines({
        agentMs: 0,
        permissions: 0,
        runMs: 65_000,
        backendMs: 3_000,
        quotaMs: 7_200_000,
        storageMs: 40_000,
      }),
    ).toEqual([
      'waited for you: the run stood still 1m05s for a person',
      'waited for Redis: the run stood still 3s while its server could not be reached',
      "waited for the usage limit: the run stood still 2h00m until the account's limit reset",
      'waited for storage: the run stood still 40s while the state directory could not be written',
    ]);
  });

  it('says nothing of a run that never waited', () => {
    expect(waitsLines({ agentMs: 0, permissions: 0, runMs: 0 })).toEqual([]);
    expect(waitsLines(undefined)).toEqual([]);
  });
});
