import type { z } from 'zod';
import type { HttpRequest } from '../http/types.js';
import { AppError, type FieldIssue } from '../../src/errors.js';

// Request parsing at the edge: JSON bodies and query strings validated against their schema.
// Every failure becomes `validation_failed` (or `bad_request` for unreadable JSON) with the
// offending paths, never an exception that reaches a client as a 500.

export function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
}

export function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = issuesOf(result.error);
    throw new AppError('validation_failed', `Invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { details: issues });
  }
  return result.data;
}

export function jsonBody<S extends z.ZodType>(req: HttpRequest, schema: S): z.output<S> {
  const type = req.headers['content-type'] ?? '';
  if (req.body.length > 0 && !/^application\/(.+\+)?json\b/i.test(type)) {
    throw new AppError('unsupported_media_type', 'Send JSON with Content-Type: application/json');
  }
  let value: unknown;
  try {
    value = req.body.length === 0 ? {} : JSON.parse(req.body.toString('utf8'));
  } catch {
    throw new AppError('bad_request', 'The body is not valid JSON');
  }
  return validate(schema, value, 'body');
}

export function queryOf<S extends z.ZodType>(req: HttpRequest, schema: S): z.output<S> {
  return validate(schema, Object.fromEntries(req.query), 'query');
}

export function bearerToken(req: HttpRequest): string | null {
  const h = req.headers['authorization'];
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : null;
}
