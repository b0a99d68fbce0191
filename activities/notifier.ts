/** A notification as it leaves the outbox for a channel. */
export type { OutgoingNotification } from '../billing/notification-messages';
import type { OutgoingNotification } from '../billing/notification-messages';

/**
 * Where notifications go. Slack and email implementations plug in here
 * later; delivery bookkeeping (claiming, marking delivered) stays in
 * deliverNotifications, so a channel only has to send or throw.
 */
export interface Notifier {
  send(notification: OutgoingNotification): Promise<void>;
}

/** The default channel: one log line per notification. */
export function createLogNotifier(log: (line: string) => void = (line) => console.log(line)): Notifier {
  return {
    async send(n) {
      log(`notification ${n.kind} org=${n.organizationId} key=${n.dedupeKey} ${JSON.stringify(n.payload)}`);
    },
  };
}
