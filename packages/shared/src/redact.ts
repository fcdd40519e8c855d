/** Anthropic keys (`sk-ant-…`) and anything labelled as a key or token; used by the logger and error paths. */
const SECRET_PATTERNS: readonly RegExp[] = [
  /sk-ant-[A-Za-z0-9_-]{8,}/g,
  /\b(x-api-key|authorization)(["':=\s]+)((?:(?:Bearer|Basic)\s+)?[^\s"',}]+)/gi,
];

export const REDACTED = '[redacted]';

/** Replaces anything that looks like an API key in a piece of text. */
export function redactSecrets(text: string, extraSecrets: readonly string[] = []): string {
  let out = text;
  for (const secret of extraSecrets) if (secret.length >= 8) out = out.split(secret).join(REDACTED);
  out = out.replace(SECRET_PATTERNS[0]!, REDACTED);
  out = out.replace(SECRET_PATTERNS[1]!, (_m, name: string, sep: string) => `${name}${sep}${REDACTED}`);
  return out;
}

/** Shape check only: a key is `sk-ant-` followed by its body. Says what is wrong without echoing it. */
export function apiKeyProblem(key: string): string | undefined {
  if (key.trim() !== key) return 'ANTHROPIC_API_KEY has leading or trailing whitespace';
  if (!/^sk-ant-[A-Za-z0-9_-]{16,}$/.test(key) && !/^[A-Za-z0-9_-]{16,}$/.test(key)) {
    return 'ANTHROPIC_API_KEY does not look like an Anthropic API key (expected sk-ant-…)';
  }
  return undefined;
}

/**
 * A URL to name in a log or on screen without what may be a secret in it: a webhook's path and query
 * are its password (`https://hooks.slack.com/services/T0/B0/XXXX`), so only the origin is kept.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const hidden = parsed.pathname !== '/' || parsed.search !== '' || parsed.username !== '';
    return `${parsed.protocol}//${parsed.host}${hidden ? `/${REDACTED}` : ''}`;
  } catch {
    return REDACTED;
  }
}

/**
 * A server URL to keep (a run's `redis.url` in its document and journal): without the password it may
 * carry, the user kept. The password comes from the environment instead (`redis.password_env`).
 */
export function urlWithoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');
  }
}
