import Anthropic, {
  AnthropicError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import { zodOutputFormat } from '@anthropic-ai/sdk/helpers/zod';
import type { JSONOutputFormat, MessageStreamParams } from '@anthropic-ai/sdk/resources/messages/messages';
import { redactSecrets } from '@orc/shared';
import type * as z from 'zod';
import { CallCancelledError, ModelError } from './model-error.js';
import type { ModelRequest, ModelResponse } from './provider.js';
import { readRateLimitHeaders } from '../quota/rate-limit-report.js';
import { parseRetryAfter } from './retry-after.js';

/**
 * One streamed Messages API call per request through the official SDK. The SDK does not retry (our own
 * layer does, so every attempt is counted once), and every failure leaves as a classified `ModelError`
 * whose message never carries the API key. This module is loaded on the first call: importing the SDK
 * costs a starting daemon about 240 ms (measured on the shared 2-core machine), and a daemon on the
 * simulated model never needs it.
 */
export function createAnthropicClient(apiKey: string, baseURL: string | undefined, timeoutMs: number) {
  const client = new Anthropic({
    apiKey,
    maxRetries: 0,
    timeout: timeoutMs,
    // The daemon owns logging; the SDK would otherwise write to the console.
    logLevel: 'off',
    ...(baseURL !== undefined ? { baseURL } : {}),
  });
  return (request: ModelRequest, secrets: readonly string[]) =>
    streamMessage(client, request, timeoutMs, secrets);
}

async function streamMessage(
  client: Anthropic,
  request: ModelRequest,
  timeoutMs: number,
  secrets: readonly string[],
): Promise<ModelResponse> {
  if (request.signal.aborted) throw new CallCancelledError('the model call was cancelled before it started');
  const controller = new AbortController();
  let timedOut = false;
  // The call crosses a real network in real time, as the SDK's own timeout does: a real timer (the run's
  // deadline for the whole attempt goes through the Clock, run/deadline.ts).
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const cancel = (): void => controller.abort();
  request.signal.addEventListener('abort', cancel, { once: true });
  // A throwing onText is the caller's bug: stop the stream and hand its error back unchanged.
  let callbackFailure: { error: unknown } | undefined;

  let message: Anthropic.Message;
  try {
    const stream = client.messages.stream(messageParams(request), { signal: controller.signal });
    // The answer's headers say where the quota stands: the governor reads them as soon as they arrive.
    // An answer without them (a compatible server that meters nothing) says so at once, with no buckets:
    // until then the governor sends one call at a time, and waiting for this one's end held the others
    // for its whole stream.
    stream.on('connect', () => {
      const at = Date.now();
      request.onRateLimits?.(readRateLimitHeaders(stream.response?.headers, at) ?? { at, buckets: {} });
    });
    let answering = false;
    stream.on('text', (delta) => {
      if (!answering) {
        answering = true;
        request.onAnswer?.();
      }
      if (callbackFailure || !request.onText) return;
      try {
        request.onText(delta);
      } catch (error) {
        callbackFailure = { error };
        stream.abort();
      }
    });
    message = await stream.finalMessage();
  } catch (error) {
    if (callbackFailure) throw callbackFailure.error;
    if (request.signal.aborted) throw new CallCancelledError('the model call was cancelled');
    if (timedOut || error instanceof APIConnectionTimeoutError) {
      throw new ModelError(
        'recoverable',
        `the Anthropic API call timed out after ${formatSeconds(timeoutMs)}`,
      );
    }
    throw classifyAnthropicError(error, secrets, client.baseURL);
  } finally {
    clearTimeout(timer);
    request.signal.removeEventListener('abort', cancel);
  }

  if (message.stop_reason === 'max_tokens') {
    throw new ModelError('recoverable', `the answer hit max_tokens (${request.maxTokens})`);
  }
  const usage = message.usage;
  return {
    text: message.content.map((block) => (block.type === 'text' ? block.text : '')).join(''),
    usage: {
      inputTokens: usage.input_tokens,
      outputTokens: usage.output_tokens,
      cacheReadTokens: usage.cache_read_input_tokens ?? 0,
      cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
    },
    stopReason: message.stop_reason ?? 'unknown',
  };
}

/**
 * The request as current models accept it: no `tool_choice`, no sampling parameters, no assistant prefill
 * (each is a 400). The system prompt is one block ending in the prompt-cache breakpoint.
 */
function messageParams(request: ModelRequest): MessageStreamParams {
  return {
    model: request.model,
    max_tokens: request.maxTokens,
    // The API refuses an empty text block, so an empty system prompt is left out.
    ...(request.system !== ''
      ? { system: [{ type: 'text', text: request.system, cache_control: { type: 'ephemeral' } }] }
      : {}),
    messages: [{ role: 'user', content: request.prompt }],
    ...(request.outputSchema ? { output_config: { format: outputFormat(request.outputSchema) } } : {}),
  };
}

const formats = new WeakMap<z.ZodType, JSONOutputFormat>();

/**
 * The JSON Schema of a zod schema as the API wants it. The SDK helper's `parse` is left out on purpose:
 * with it the SDK would throw away an answer that fails to parse, and the caller wants the raw text to
 * validate, report and send back for repair.
 */
function outputFormat(schema: z.ZodType): JSONOutputFormat {
  let format = formats.get(schema);
  if (!format) {
    const { type, schema: jsonSchema } = zodOutputFormat(schema);
    format = { type, schema: jsonSchema };
    formats.set(schema, format);
  }
  return format;
}

/** One classification for every SDK failure; texts from the server or SDK are redacted with the key. */
export function classifyAnthropicError(
  error: unknown,
  secrets: readonly string[],
  baseURL?: string,
): ModelError {
  const clean = (text: string): string => redactSecrets(text, secrets);
  if (error instanceof APIConnectionTimeoutError) {
    return new ModelError('recoverable', 'the Anthropic API did not answer in time (request timed out)');
  }
  if (error instanceof APIConnectionError) {
    const where = baseURL ? ` at ${baseURL}` : '';
    return new ModelError(
      'transient',
      clean(
        `could not reach the Anthropic API${where}: ${causeChain(error)}; check the network or the base URL`,
      ),
    );
  }
  if (error instanceof APIUserAbortError)
    return new ModelError('transient', 'the Anthropic API call was aborted');
  if (error instanceof APIError) {
    const status = error.status as number | undefined;
    const type = error.type ?? 'error';
    const detail = clean(error.apiMessage ?? error.message);
    if (status === undefined) {
      // An `error` event inside an SSE stream that had already started.
      const rateLimited = type === 'overloaded_error' || type === 'rate_limit_error';
      return new ModelError('transient', `the Anthropic API stream failed midway (${type}): ${detail}`, {
        rateLimited,
      });
    }
    const headers = error.headers as Headers | undefined;
    const retryAfterMs = parseRetryAfter(headers);
    const rateLimits = readRateLimitHeaders(headers, Date.now());
    const details = {
      status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(rateLimits !== undefined &&
        Object.keys(rateLimits.buckets).length > 0 &&
        (status === 429 || status === 529) && { rateLimits }),
    };
    if (status === 429) {
      return new ModelError('transient', `the Anthropic API rate limit was reached (429): ${detail}`, {
        ...details,
        rateLimited: true,
      });
    }
    if (status === 529) {
      return new ModelError('transient', `the Anthropic API is overloaded (529): ${detail}`, {
        ...details,
        rateLimited: true,
      });
    }
    if (status >= 500 || status === 408 || status === 409) {
      return new ModelError('transient', `the Anthropic API failed (${status} ${type}): ${detail}`, details);
    }
    // A rejected key fails every call the same way: the run pauses for a person instead of failing each task.
    return new ModelError('permanent', permanentReason(status, type, detail), {
      ...details,
      ...(status === 401 && { pauseRun: true }),
    });
  }
  if (error instanceof AnthropicError) {
    // A stream cut short, or an answer the SDK could not read: worth another attempt.
    return new ModelError('transient', clean(`the Anthropic API call failed: ${causeChain(error)}`));
  }
  return new ModelError('transient', clean(`the Anthropic API call failed: ${causeChain(error)}`));
}

function permanentReason(status: number, type: string, detail: string): string {
  switch (status) {
    case 401:
      return 'the Anthropic API rejected the API key (401); check ANTHROPIC_API_KEY';
    case 403:
      return `the Anthropic API refused access (403 ${type}): ${detail}; check that the key may use this model`;
    case 404:
      return `the Anthropic API found no such model or endpoint (404): ${detail}; check the model name and the base URL`;
    case 413:
      return `the request is too large for the Anthropic API (413): ${detail}; shorten the prompt`;
    default:
      return `the Anthropic API rejected the request (${status} ${type}): ${detail}`;
  }
}

/** "Connection error. <- fetch failed <- connect ECONNREFUSED 127.0.0.1:1": the useful part is deep down. */
function causeChain(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    parts.push(current instanceof Error ? current.message : describe(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.filter((p) => p !== '').join(' <- ');
}

function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}
