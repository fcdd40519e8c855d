import { describe, expect, it } from 'vitest';
import { keyFingerprint } from './key-fingerprint.js';

describe('keyFingerprint', () => {
  it('names a key by 16 hex digits that hold nothing of it, the same every time', () => {
    const key = 'sk-ant-api03-secret-value-0000';
    const fingerprint = keyFingerprint(key);
    expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint).not.toContain('secret');
    expect(keyFingerprint(key)).toBe(fingerprint);
    expect(keyFingerprint('sk-ant-api03-secret-value-0001')).not.toBe(fingerprint);
    expect(keyFingerprint(undefined)).toBe('no-key');
  });

  it('is salted: not the plain SHA-256 of the key', async () => {
    const { createHash } = await import('node:crypto');
    const key = 'sk-ant-api03-another';
    expect(createHash('sha256').update(key).digest('hex')).not.toContain(keyFingerprint(key));
  });
});
