import type { Account, ApiKey, Contact, Department, Message, User } from '../../src/domain/types.js';
import type { ConversationView } from '../../src/services/conversation-service.js';

// What clients see of each record. Secrets (password hashes, key hashes) never leave the core;
// fencing tokens leave only through the lock protocol.

export const userView = (u: User) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  departmentIds: u.departmentIds,
  disabled: u.disabled,
  createdAt: u.createdAt,
});

export const departmentView = (d: Department) => ({ id: d.id, name: d.name, code: d.code, timeZone: d.timeZone, createdAt: d.createdAt });

export const accountView = (a: Account, memberIds?: string[]) => ({
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

export const contactView = (c: Contact) => ({
  id: c.id,
  firstName: c.firstName,
  lastName: c.lastName,
  phone: c.phone,
  staffId: c.staffId,
  customFields: c.customFields,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
});

export const conversationView = ({ conversation: c, contact }: ConversationView) => ({
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

export const messageView = (m: Message) => ({
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

export const apiKeyView = (k: ApiKey) => ({
  id: k.id,
  departmentId: k.departmentId,
  name: k.name,
  prefix: k.prefix,
  createdAt: k.createdAt,
  revokedAt: k.revokedAt,
});
