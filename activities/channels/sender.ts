import type { OutgoingNotification } from '../notifier';

/** One channel: sends a notification, or says it had nowhere to send it (no token, server or recipient). */
export interface ChannelSender {
  send(notification: OutgoingNotification): Promise<'sent' | 'skipped'>;
}
