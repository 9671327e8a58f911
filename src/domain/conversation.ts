import type { Conversation, Folder } from './types.js';

/** A conversation as first written: no messages counted yet, never locked. */
export function newConversation(input: { id: string; accountId: string; contactId: string; folder: Folder; senderNumber: string; now: number }): Conversation {
  return {
    id: input.id,
    accountId: input.accountId,
    contactId: input.contactId,
    folder: input.folder,
    unread: 0,
    senderNumber: input.senderNumber,
    lastMessageAt: input.now,
    lastMessagePreview: null,
    lastMessageDirection: null,
    lockToken: 0,
    createdAt: input.now,
    updatedAt: input.now,
  };
}
