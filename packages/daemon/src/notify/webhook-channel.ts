import { redactUrl } from '@orc/shared';
import type { Notification, NotificationChannel } from './notifier.js';

/**
 * `notifications.webhook`: a POST of `{ "text": … }`, which a Slack incoming webhook posts as is, with
 * the same text as `content` for a Discord one. Any 2xx answer is a delivery. The URL is the webhook's
 * secret: it is shown and logged by its origin only.
 */
export class WebhookChannel implements NotificationChannel {
  readonly name = 'webhook';
  readonly available = true;
  readonly target: string;

  constructor(private readonly url: string) {
    this.target = redactUrl(url);
  }

  async deliver(notification: Notification, signal: AbortSignal): Promise<void> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: notification.text, content: notification.text }),
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason as Error;
      // fetch says "fetch failed" and keeps why in its cause (ECONNREFUSED, ENOTFOUND, …).
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(
        `${this.target} could not be reached (${cause?.code ?? cause?.message ?? String(error)})`,
        {
          cause: error,
        },
      );
    }
    // Read to the end, so the connection can be reused or closed.
    const body = (await response.text().catch(() => '')).trim();
    if (!response.ok)
      throw new Error(`${this.target} answered ${response.status}${body ? `: ${body.slice(0, 200)}` : ''}`);
  }
}
