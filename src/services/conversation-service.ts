import type { Contact, Conversation, Folder, Message } from '../domain/types.js';
import type { Principal } from '../auth/principal.js';
import type { CoreContext } from './context.js';
import { accessibleConversation, resolveAccountRef } from './account-access.js';

// Reading an account's folders and histories, and moving conversations between Inbox and Archived.

export interface ConversationView {
  conversation: Conversation;
  contact: Pick<Contact, 'id' | 'firstName' | 'lastName' | 'phone'> | null;
}

export class ConversationService {
  constructor(private readonly c: CoreContext) {}

  async list(
    p: Principal,
    accountRef: string,
    q: { folder: Folder; limit: number; before?: { lastMessageAt: number; id: string } | undefined },
  ): Promise<{ items: ConversationView[]; nextBefore: string | null }> {
    const account = await resolveAccountRef(this.c, p, accountRef);
    const conversations = await this.c.store.conversations.list(account.id, q.folder, {
      limit: q.limit,
      ...(q.before ? { before: q.before } : {}),
    });
    const contacts = new Map((await this.c.store.contacts.getMany(conversations.map((x) => x.contactId))).map((x) => [x.id, x]));
    const last = conversations.at(-1);
    return {
      items: conversations.map((conversation) => ({ conversation, contact: pickContact(contacts.get(conversation.contactId)) })),
      nextBefore: last && conversations.length === q.limit ? `${last.lastMessageAt ?? 0}_${last.id}` : null,
    };
  }

  async get(p: Principal, id: string): Promise<ConversationView> {
    const { conversation } = await accessibleConversation(this.c, p, id);
    return { conversation, contact: pickContact((await this.c.store.contacts.get(conversation.contactId)) ?? undefined) };
  }

  async messages(p: Principal, id: string, page: { limit: number; before?: string | undefined }): Promise<Message[]> {
    const { conversation } = await accessibleConversation(this.c, p, id);
    return this.c.store.messages.listForConversation(conversation.id, { limit: page.limit, ...(page.before ? { before: page.before } : {}) });
  }

  async setFolder(p: Principal, id: string, folder: Folder): Promise<Conversation> {
    const { conversation } = await accessibleConversation(this.c, p, id);
    if (conversation.folder === folder) return conversation;
    const updated = await this.c.store.conversations.setFolder(conversation.id, folder, this.c.clock.now());
    this.c.events.emit({ type: 'conversation', accountId: updated.accountId, conversation: updated });
    return updated;
  }

  async markRead(p: Principal, id: string): Promise<Conversation> {
    const { conversation } = await accessibleConversation(this.c, p, id);
    if (conversation.unread === 0) return conversation;
    const updated = await this.c.store.conversations.markRead(conversation.id, this.c.clock.now());
    this.c.events.emit({ type: 'conversation', accountId: updated.accountId, conversation: updated });
    return updated;
  }
}

function pickContact(c: Contact | undefined): ConversationView['contact'] {
  return c ? { id: c.id, firstName: c.firstName, lastName: c.lastName, phone: c.phone } : null;
}
