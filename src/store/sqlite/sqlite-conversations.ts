import type { Conversation, Folder } from '../../domain/types.js';
import type { ConversationRepo } from '../store.js';
import { notFound } from '../../errors.js';
import { assertLockTokenAdvances } from '../adapter-rules.js';
import type { ConversationTable } from './conversation-table.js';
import { boundedLimit, type SqliteContext } from './sqlite-context.js';

export class SqliteConversationRepo implements ConversationRepo {
  constructor(
    private readonly ctx: SqliteContext,
    private readonly table: ConversationTable,
  ) {}

  get(id: string): Promise<Conversation | null> {
    return this.ctx.read(() => this.table.get(id));
  }

  getByPair(accountId: string, contactId: string): Promise<Conversation | null> {
    return this.ctx.read(() => this.table.getByPair(accountId, contactId));
  }

  list(
    accountId: string,
    folder: Folder,
    page: { limit: number; before?: { lastMessageAt: number; id: string } },
  ): Promise<Conversation[]> {
    return this.ctx.read(() =>
      this.table.page({
        accountId,
        folder,
        limit: boundedLimit(page.limit),
        ...(page.before ? { beforeAt: page.before.lastMessageAt, beforeId: page.before.id } : {}),
      }),
    );
  }

  setFolder(id: string, folder: Folder, at: number): Promise<Conversation> {
    return this.update(id, (c) => ({ ...c, folder, updatedAt: at }));
  }

  markRead(id: string, at: number): Promise<Conversation> {
    return this.update(id, (c) => ({ ...c, unread: 0, updatedAt: at }));
  }

  advanceLockToken(id: string, expected: number, next: number): Promise<boolean> {
    return this.ctx.write(() => {
      assertLockTokenAdvances(expected, next);
      if (this.table.advanceLockToken(id, expected, next)) return true;
      if (!this.table.get(id)) throw notFound('Conversation');
      return false;
    });
  }

  private update(id: string, change: (c: Conversation) => Conversation): Promise<Conversation> {
    return this.ctx.write(() => {
      const current = this.table.get(id);
      if (!current) throw notFound('Conversation');
      const next = change(current);
      this.table.save(next);
      return next;
    });
  }
}
