import type {
  Account,
  Contact,
  Conversation,
  Department,
  Message,
  User,
} from '../../src/domain/types.js';
import type { ErrorCode } from '../../src/errors.js';
import { AppError } from '../../src/errors.js';
import { newId } from '../../src/ids.js';
import { expect } from 'vitest';

// Builders for the store contract suite: complete, valid records with unique ids, numbers and
// phones, so each test spells out only what it is about.

export const T0 = Date.UTC(2026, 0, 5, 15, 0, 0);

let serial = 0;
const next = (): number => ++serial;

/** A fresh E.164 number in the 617 area code (pool numbers and student phones alike). */
export function phone(): string {
  return `+1617${String(2_000_000 + next()).padStart(7, '0')}`;
}

export function department(over: Partial<Department> = {}): Department {
  const n = next();
  return { id: newId(T0), name: `Department ${n}`, code: `D${n}`, timeZone: 'America/New_York', createdAt: T0, ...over };
}

export function user(over: Partial<User> = {}): User {
  const n = next();
  return {
    id: newId(T0),
    email: `user${n}@example.edu`,
    name: `User ${n}`,
    role: 'staff',
    departmentIds: [],
    passwordHash: 'scrypt$hash',
    disabled: false,
    createdAt: T0,
    ...over,
  };
}

export function groupAccount(departmentId: string, over: Partial<Account> = {}): Account {
  const n = next();
  return {
    id: newId(T0),
    kind: 'group',
    name: `Outreach ${n}`,
    apiCode: `outreach-${n}`,
    departmentId,
    ownerUserId: null,
    color: '#1e88e5',
    forwardingNumber: null,
    numbers: Array.from({ length: 6 }, phone),
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

export function personalAccount(ownerUserId: string, over: Partial<Account> = {}): Account {
  return {
    id: newId(T0),
    kind: 'personal',
    name: 'Personal',
    apiCode: null,
    departmentId: null,
    ownerUserId,
    color: null,
    forwardingNumber: null,
    numbers: [phone()],
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

export function contact(over: Partial<Contact> = {}): Contact {
  const n = next();
  return {
    id: newId(T0),
    firstName: `First${n}`,
    lastName: `Last${n}`,
    phone: phone(),
    staffId: null,
    customFields: {},
    tags: [],
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

export function conversation(accountId: string, contactId: string, over: Partial<Conversation> = {}): Conversation {
  return {
    id: newId(T0),
    accountId,
    contactId,
    folder: 'archived',
    unread: 0,
    senderNumber: null,
    lastMessageAt: null,
    lastMessagePreview: null,
    lastMessageDirection: null,
    lockToken: 0,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

interface MessageParty {
  account: Account;
  contact: Contact;
  /** The pool number the message goes to (inbound) or comes from (outbound). */
  poolNumber?: string;
  at?: number;
  text?: string;
}

export function inboundMessage(p: MessageParty, over: Partial<Message> = {}): Message {
  const at = p.at ?? T0;
  return {
    id: newId(at),
    conversationId: newId(at),
    accountId: p.account.id,
    contactId: p.contact.id,
    direction: 'inbound',
    text: p.text ?? 'Hi, is the deadline Friday?',
    encoding: 'GSM-7',
    segments: 1,
    status: 'received',
    fromNumber: p.contact.phone,
    toNumber: p.poolNumber ?? p.account.numbers[0]!,
    sentByUserId: null,
    sentByName: null,
    providerId: `plivo-${newId(at)}`,
    statusSequence: 0,
    errorCode: null,
    quietHoursTimeZone: null,
    createdAt: at,
    updatedAt: at,
    ...over,
  };
}

export function outboundMessage(p: MessageParty, over: Partial<Message> = {}): Message {
  const at = p.at ?? T0;
  return {
    id: newId(at),
    conversationId: newId(at),
    accountId: p.account.id,
    contactId: p.contact.id,
    direction: 'outbound',
    text: p.text ?? 'Your application is complete.',
    encoding: 'GSM-7',
    segments: 1,
    status: 'queued',
    fromNumber: p.poolNumber ?? p.account.numbers[0]!,
    toNumber: p.contact.phone,
    sentByUserId: 'user-dana',
    sentByName: 'Dana Reyes',
    providerId: null,
    statusSequence: 0,
    errorCode: null,
    quietHoursTimeZone: null,
    createdAt: at,
    updatedAt: at,
    ...over,
  };
}

/** Awaits a rejection and checks it is an AppError with `code`. */
export async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<AppError> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected a rejection with '${code}', got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}
