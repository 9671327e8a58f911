import { describe, expect, it } from 'vitest';
import { checkFrame, checkHttpAnswer, seen, takeViolations } from '../helpers/conformance.js';

// The conformance check the integration tests run every answer and frame through: it must refuse
// what the documents do not describe, or a test passing through it proves nothing.

const ID = '01J0000000000000000000000A';
const user = { id: ID, email: 'dana@college.edu', name: 'Dana Reyes', role: 'staff', departmentIds: [ID], disabled: false, createdAt: 1 };
const lock = { conversationId: ID, accountId: ID, state: 'locked', holder: { userId: ID, name: 'Dana Reyes' }, since: 5 };
const JSON_TYPE = 'application/json; charset=utf-8';

describe('the HTTP conformance check', () => {
  it('accepts an answer as documented and records the operation', () => {
    checkHttpAnswer('GET', `/api/v1/users/${ID}?x=1`, 200, JSON_TYPE, JSON.stringify(user));
    checkHttpAnswer('DELETE', '/api/v1/sessions', 204, null, '');
    checkHttpAnswer('POST', '/webhooks/plivo/message', 200, 'text/plain; charset=utf-8', '');
    expect(seen().operations).toMatchObject({ getUser: [200], deleteSession: [204], plivoInboundMessage: [200] });
  });

  it('refuses a field the description does not have, and a missing one', () => {
    expect(() => checkHttpAnswer('GET', `/api/v1/users/${ID}`, 200, JSON_TYPE, JSON.stringify({ ...user, passwordHash: 'x' }))).toThrow(/does not allow/);
    const { email: _email, ...partial } = user;
    expect(() => checkHttpAnswer('GET', `/api/v1/users/${ID}`, 200, JSON_TYPE, JSON.stringify(partial))).toThrow(/email/);
  });

  it('refuses an undocumented status, media type or route', () => {
    expect(() => checkHttpAnswer('GET', `/api/v1/users/${ID}`, 409, JSON_TYPE, JSON.stringify({ error: { code: 'conflict', message: 'x' } }))).toThrow(/does not list/);
    expect(() => checkHttpAnswer('GET', '/healthz', 200, 'text/html', '<p>ok</p>')).toThrow(/as "text\/html"/);
    expect(() => checkHttpAnswer('GET', '/api/v1/nowhere', 200, JSON_TYPE, '{}')).toThrow(/no documented operation/);
    expect(() => checkHttpAnswer('DELETE', '/api/v1/sessions', 204, JSON_TYPE, '{}')).toThrow(/with a body/);
  });

  it('lets faults fall to the default answer, with an error body of a known code', () => {
    checkHttpAnswer('GET', `/api/v1/users/${ID}`, 500, JSON_TYPE, JSON.stringify({ error: { code: 'internal', message: 'x' } }));
    checkHttpAnswer('GET', '/api/v1/nowhere', 404, JSON_TYPE, JSON.stringify({ error: { code: 'not_found', message: 'x' } }));
    expect(() => checkHttpAnswer('GET', `/api/v1/users/${ID}`, 500, JSON_TYPE, JSON.stringify({ error: { code: 'oops', message: 'x' } }))).toThrow(/code/);
  });
});

describe('the WebSocket conformance check', () => {
  it('checks an ack against the ack of the command it answers', () => {
    checkFrame({ type: 'ack', re: 'r1', granted: true, lock, lockToken: 7 }, 'open');
    checkFrame({ type: 'ack', re: 'r2', pong: 5 }, 'ping');
    expect(takeViolations()).toEqual([]);
    checkFrame({ type: 'ack', re: 'r3', granted: true, lock, lockToken: 7 }, 'ping');
    checkFrame({ type: 'ack', re: 'r4', granted: true, lock }, 'open');
    expect(takeViolations()).toEqual([expect.stringMatching(/not pingAck/), expect.stringMatching(/not openAck/)]);
  });

  it('checks events, notices and errors, and refuses an unknown frame', () => {
    checkFrame({ type: 'ack', re: 'hello', protocol: 1, connectionId: 'n1:ab:1', user: { id: ID, name: 'Dana' } }, undefined);
    checkFrame({ type: 'lock', ...lock, lockToken: 3 }, undefined);
    checkFrame({ type: 'error', code: 'access_revoked', message: 'gone', accountId: ID }, undefined);
    checkFrame({ type: 'error', re: 'r5', code: 'not_found', message: 'x' }, 'open');
    expect(takeViolations()).toEqual([]);
    checkFrame({ type: 'lock', ...lock, secret: 1 }, undefined);
    checkFrame({ type: 'error', re: '', code: 'validation_failed', message: 'x' }, undefined);
    checkFrame({ type: 'surprise' }, undefined);
    expect(takeViolations()).toHaveLength(3);
    expect(seen().frames).toEqual(expect.arrayContaining(['hello', 'lock', 'accessRevoked', 'error', 'openAck', 'pingAck']));
  });
});
