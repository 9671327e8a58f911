import type { Account, ApiKey, Contact, Department, Message, User } from '../../src/domain/types.js';
import type { ConversationView as ConversationRecord } from '../../src/services/conversation-service.js';
import type { AccountLockView } from '../../src/locks/lock-view.js';
import type * as V from '../../src/schemas/views.js';
import type { z } from 'zod';
import { json, type HttpResult } from '../http/types.js';

// What clients see of each record, typed by the response schemas in src/schemas/views.ts (which the
// OpenAPI and AsyncAPI documents are generated from). Secrets (password hashes, key hashes) never
// leave the core; fencing tokens leave only through the lock protocol.

export const userView = (u: User): V.UserView => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  departmentIds: u.departmentIds,
  disabled: u.disabled,
  createdAt: u.createdAt,
});

export const departmentView = (d: Department): V.DepartmentView => ({ id: d.id, name: d.name, code: d.code, timeZone: d.timeZone, createdAt: d.createdAt });

export const accountView = (a: Account, memberIds?: string[]): V.AccountView => ({
  id: a.id,
  kind: a.kind,
  name: a.name,
  apiCode: a.apiCode,
  departmentId: a.departmentId,
  color: a.color,
  numbers: a.numbers,
  forwardingNumber: a.forwardingNumber,
  ...(memberIds ? { memberIds } : {}),
  createdAt: a.createdAt,
  updatedAt: a.updatedAt,
});

export const contactView = (c: Contact): V.ContactView => ({
  id: c.id,
  firstName: c.firstName,
  lastName: c.lastName,
  phone: c.phone,
  staffId: c.staffId,
  customFields: c.customFields,
  tags: c.tags,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
});

export const conversationView = ({ conversation: c, contact }: ConversationRecord): V.ConversationView => ({
  id: c.id,
  accountId: c.accountId,
  contact,
  folder: c.folder,
  unread: c.unread,
  senderNumber: c.senderNumber,
  lastMessageAt: c.lastMessageAt,
  lastMessagePreview: c.lastMessagePreview,
  lastMessageDirection: c.lastMessageDirection,
  createdAt: c.createdAt,
});

export const messageView = (m: Message): V.MessageView => ({
  id: m.id,
  conversationId: m.conversationId,
  direction: m.direction,
  text: m.text,
  encoding: m.encoding,
  segments: m.segments,
  status: m.status,
  from: m.fromNumber,
  to: m.toNumber,
  sentBy: m.sentByUserId || m.sentByName ? { userId: m.sentByUserId, name: m.sentByName } : null,
  errorCode: m.errorCode,
  createdAt: m.createdAt,
  updatedAt: m.updatedAt,
});

export const apiKeyView = (k: ApiKey): V.ApiKeyView => ({
  id: k.id,
  departmentId: k.departmentId,
  name: k.name,
  prefix: k.prefix,
  createdAt: k.createdAt,
  revokedAt: k.revokedAt,
});

/** The lock board and lock answers: the core's view is already what clients see. */
export const lockView = (l: AccountLockView): z.infer<typeof V.LockView> => l;

/**
 * A JSON answer whose body the compiler checks against its documented schema (the schema is passed
 * for its type: the body is what the OpenAPI document says the route answers).
 */
export function respond<S extends z.ZodType>(status: number, _documented: S, body: z.output<S>): HttpResult {
  return json(status, body);
}
