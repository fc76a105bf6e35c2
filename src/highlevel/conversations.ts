// Sending a message (spec apps/conversations.json). Conversations is the one API ledgerlink uses that
// declares Version 2021-04-15 rather than 2021-07-28.
import { z } from 'zod';
import { CONVERSATIONS_API_VERSION, type HighLevelHttp } from './http.ts';

export const sentMessageSchema = z.looseObject({
  conversationId: z.string(),
  messageId: z.string(),
  emailMessageId: z.string().optional(),
  msg: z.string().optional(),
  status: z.string().optional(),
});
export type SentMessage = z.infer<typeof sentMessageSchema>;

export type MessageInput =
  | {
      type: 'SMS';
      contactId: string;
      message: string;
      fromNumber?: string;
      toNumber?: string;
      scheduledTimestamp?: number;
    }
  | {
      type: 'Email';
      contactId: string;
      subject: string;
      html?: string;
      message?: string;
      emailFrom?: string;
      emailTo?: string;
      scheduledTimestamp?: number;
    };

export class ConversationsApi {
  constructor(private readonly http: HighLevelHttp) {}

  /**
   * Sends an SMS or email to a contact. Not retried after a 5xx or lost connection: the message may have
   * gone out, and a second one would reach the customer.
   */
  sendMessage(input: MessageInput): Promise<SentMessage> {
    return this.http.request({
      method: 'POST',
      path: '/conversations/messages',
      body: input,
      version: CONVERSATIONS_API_VERSION,
      schema: sentMessageSchema,
    });
  }
}
