import { RPC_LIMITS } from '@orc/shared';
import { WebSocket } from 'ws';

/**
 * A batch larger than this is sent one call a frame. tRPC batches every call made in the same tick into
 * one frame; two large `runs.start` calls batched together could pass `RPC_LIMITS.requestBytes` though
 * each alone fits (`limitsLink` checks each call).
 */
const SPLIT_ABOVE_CHARS = 1024 * 1024;

/** The `ws` client tRPC's ws link opens, accepting replies up to the daemon's own bound on them. */
export class ClientWebSocket extends WebSocket {
  constructor(address: string | URL, protocols?: string | string[]) {
    super(address, protocols, { maxPayload: RPC_LIMITS.replyBytes });
  }

  override send(data: Parameters<WebSocket['send']>[0], ...rest: unknown[]): void {
    const sendOne = super.send.bind(this) as (...args: unknown[]) => void;
    if (typeof data === 'string' && data.length > SPLIT_ABOVE_CHARS && data.startsWith('[')) {
      for (const message of JSON.parse(data) as unknown[]) sendOne(JSON.stringify(message));
      return;
    }
    sendOne(data, ...rest);
  }
}
