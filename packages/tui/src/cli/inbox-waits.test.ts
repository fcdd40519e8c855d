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

describe('waitsLines of a run still waiting', () => {
  const waits = { agentMs: 0, permissions: 0, runMs: 0, storageMs: 20_000 };

  it('tells a storage wait in the present while the run is paused for it, in the past once it goes on', () => {
    expect(waitsLines(waits, { status: 'paused', pauseReason: 'storage' })).toEqual([
      'waiting for storage: the run has stood still 20s so far, while the state directory cannot be written',
    ]);
    expect(waitsLines(waits, { status: 'executing' })).toEqual([
      'waited for storage: the run stood still 20s while the state directory could not be written',
    ]);
  });

  it('tells no wait for a person in the present while the run is paused by one (orc pause, orc rollback)', () => {
    // orc inbox has no item for these pauses: "waiting for you" beside "nothing waits for you" misled.
    for (const pauseReason of ['user', 'rollback'] as const)
      expect(
        waitsLines({ agentMs: 0, permissions: 0, runMs: 5_000 }, { status: 'paused', pauseReason }),
      ).toEqual(['waited for you: the run stood still 5s for a person']);
  });

  it("tells a person's wait in the present while the plan waits for approval", () => {
    expect(waitsLines({ agentMs: 0, permissions: 0, runMs: 5_000 }, { status: 'awaiting_approval' })).toEqual(
      ['waiting for you: the run has stood still 5s so far for a person'],
    );
    expect(
      waitsLines(
        { agentMs: 0, permissions: 0, runMs: 5_000, quotaMs: 60_000 },
        { status: 'paused', pauseReason: 'quota' },
      ),
    ).toEqual([
      'waited for you: the run stood still 5s for a person',
      "waiting for the usage limit: the run has stood still 1m00s so far, until the account's limit resets",
    ]);
  });
});
