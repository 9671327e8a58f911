import { z } from 'zod';
import { MAX_NAME_LENGTH } from '../domain/contact-fields.js';
import { toE164 } from '../domain/phone.js';
import { ERROR_CODES } from '../errors.js';

// Building blocks shared by the REST and webhook schemas. Phone numbers are normalised to E.164
// during validation, so the core only ever sees canonical numbers.

export const Id = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be an id').meta({ description: 'A sortable 26-character id' });

export const Phone = z
  .string()
  .max(32)
  .transform((v, ctx) => {
    const e164 = toE164(v);
    if (e164 === null) {
      ctx.addIssue({ code: 'custom', message: 'must be a valid phone number' });
      return z.NEVER;
    }
    return e164;
  })
  .meta({ description: 'A phone number; stored as E.164 (+16175550123)', examples: ['+16175550123'] });

export const Email = z
  .email()
  .max(254)
  .transform((e) => e.toLowerCase());

export const Color = z
  .string()
  .regex(/^#[0-9a-fA-F]{6}$/, 'must be a #RRGGBB color')
  .transform((c) => c.toLowerCase());

export const ApiCode = z
  .string()
  .min(2)
  .max(40)
  .regex(/^[a-z0-9][a-z0-9-]*[a-z0-9]$/, 'must be lower-case letters, digits and dashes (URL-safe)');

export const DepartmentCode = z
  .string()
  .min(2)
  .max(12)
  .regex(/^[A-Za-z0-9]+$/, 'must be letters and digits')
  .transform((c) => c.toUpperCase());

export const Role = z.enum(['owner', 'deptAdmin', 'staff']);

export const Name = z.string().trim().min(1).max(MAX_NAME_LENGTH);

export const Password = z.string().min(8, 'must be at least 8 characters').max(200);

export const ErrorCode = z.enum(ERROR_CODES).meta({ id: 'ErrorCode', description: 'Stable error codes: docs/errors.md' });

export const ErrorBody = z
  .object({
    error: z.object({
      code: ErrorCode,
      message: z.string().meta({ description: 'For people; may change' }),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional().meta({ description: 'validation_failed: each field and why' }),
    }),
  })
  .meta({ id: 'Error', description: 'Every error answer' });
