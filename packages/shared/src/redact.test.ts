import { describe, expect, it } from 'vitest';
import { REDACTED, apiKeyProblem, redactSecrets, redactUrl, urlWithoutPassword } from './redact.js';

const KEY = 'sk-ant-api03-Abc_def-0123456789xyzXYZ';

describe('redactSecrets', () => {
  it('removes an Anthropic key anywhere in text', () => {
    const out = redactSecrets(`request failed with key ${KEY} (401)`);
    expect(out).toBe(`request failed with key ${REDACTED} (401)`);
  });

  it('removes every occurrence', () => {
    const out = redactSecrets(`${KEY} and again ${KEY}`);
    expect(out).not.toContain('sk-ant-api03');
    expect(out.split(REDACTED)).toHaveLength(3);
  });

  it.each([
    ['a header line', 'x-api-key: abc123secret', 'x-api-key: [redacted]'],
    [
      'a JSON header',
      '{"X-Api-Key":"abc123secret","accept":"json"}',
      '{"X-Api-Key":"[redacted]","accept":"json"}',
    ],
    ['an assignment', 'x-api-key=abc123secret next', 'x-api-key=[redacted] next'],
  ])('removes an x-api-key value in %s', (_what, text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  it.each([
    ['a bearer header', 'Authorization: Bearer opaque-token-123', 'Authorization: [redacted]'],
    ['a JSON bearer header', '{"authorization":"Bearer opaque-token-123"}', '{"authorization":"[redacted]"}'],
    ['a basic header', 'authorization: Basic dXNlcjpwYXNz', 'authorization: [redacted]'],
    ['a bare token', 'authorization=opaque-token-123', 'authorization=[redacted]'],
  ])('removes an authorization value in %s', (_what, text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
    expect(redactSecrets(text)).not.toMatch(/opaque-token|dXNlcjpwYXNz/);
  });

  it('removes extra secrets of eight characters or more, but leaves shorter ones (too likely to be words)', () => {
    expect(redactSecrets('proxy password hunter22 in use', ['hunter22'])).toBe(
      `proxy password ${REDACTED} in use`,
    );
    expect(redactSecrets('the cat sat', ['cat'])).toBe('the cat sat');
  });

  it('leaves ordinary text alone', () => {
    const text = 'task t1 done: wrote 3 files; authorization is handled by the proxy';
    expect(redactSecrets('task t1 done: wrote 3 files')).toBe('task t1 done: wrote 3 files');
    expect(redactSecrets(text)).toContain('task t1 done');
  });
});

describe('apiKeyProblem', () => {
  it('accepts a well-formed key', () => {
    expect(apiKeyProblem(KEY)).toBeUndefined();
  });

  it.each([
    ' ' + KEY,
    KEY + '\n',
    'sk-ant-short',
    'not a key at all',
    'sk-ant-api03-abc$defghijklmnopqrstuv',
  ])('rejects a malformed key without echoing it (%#)', (key) => {
    const problem = apiKeyProblem(key);
    expect(problem).toMatch(/^ANTHROPIC_API_KEY /);
    expect(problem).not.toContain(key.trim());
  });
});

describe('redactUrl', () => {
  it('keeps the origin of a webhook and hides its secret path and query', () => {
    const url = 'https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX?thread=1';
    expect(redactUrl(url)).toBe('https://hooks.slack.com/[redacted]');
    expect(redactUrl(url)).not.toContain('SECRET');
    expect(redactUrl('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(redactUrl('https://user:pw@example.com/')).toBe('https://example.com/[redacted]');
  });

  it('hides a string that is not a URL altogether', () => {
    expect(redactUrl('not a url with a token')).toBe('[redacted]');
  });
});

describe('urlWithoutPassword', () => {
  it('drops the password, keeps the user and the rest', () => {
    expect(urlWithoutPassword('redis://:s3cret-pw@127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(urlWithoutPassword('rediss://orc:s3cret-pw@queue.internal:6380/2')).toBe(
      'rediss://orc@queue.internal:6380/2',
    );
    expect(urlWithoutPassword('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
