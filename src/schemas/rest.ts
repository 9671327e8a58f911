import { z } from 'zod';
import { ApiCode, Color, DepartmentCode, Email, Id, Name, Password, Phone, Role } from './common.js';
import { CampaignKind, RecipientStatus } from './views.js';
import { MAX_PHONE_INPUTS } from '../campaigns/campaign-csv.js';
import { CUSTOM_FIELD_NAME, MAX_CUSTOM_FIELDS, MAX_CUSTOM_FIELD_VALUE_LENGTH, MAX_NAME_LENGTH, MAX_TAGS, MAX_TAG_LENGTH, normaliseTags } from '../domain/contact-fields.js';

// One schema per request body and query. Validation (gateways/rest) and the OpenAPI document
// (docs/openapi.json, GET /api/v1/openapi.json) are both generated from these.

export const SessionCreate = z.strictObject({ email: Email, password: z.string().min(1).max(200) }).meta({ id: 'SessionCreate' });

export const DepartmentCreate = z
  .strictObject({
    name: Name,
    code: DepartmentCode,
    timeZone: z.string().min(1).max(64).optional().meta({ description: 'IANA time zone for quiet hours' }),
  })
  .meta({ id: 'DepartmentCreate' });

export const UserCreate = z
  .strictObject({
    email: Email,
    name: Name,
    role: Role,
    departmentIds: z.array(Id).max(50),
    password: Password,
    personalNumber: Phone.optional().meta({ description: 'A number from GET /numbers/available' }),
    personalAreaCode: z
      .string()
      .regex(/^[2-9]\d{2}$/)
      .optional()
      .meta({ description: 'Pick the first available number in this area code when personalNumber is absent' }),
  })
  .refine((u) => u.personalNumber !== undefined || u.personalAreaCode !== undefined, {
    message: 'give personalNumber or personalAreaCode',
    path: ['personalNumber'],
  })
  .meta({ id: 'UserCreate' });

export const UserPatch = z
  .strictObject({
    name: Name.optional(),
    role: Role.optional(),
    departmentIds: z.array(Id).max(50).optional(),
    password: Password.optional(),
    currentPassword: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .meta({ description: 'Your current password: required to change your own password, ignored otherwise' }),
    disabled: z.boolean().optional(),
  })
  .meta({ id: 'UserPatch' });

const CustomFields = z
  .record(z.string().regex(CUSTOM_FIELD_NAME, 'field names are letters, digits and _'), z.string().max(MAX_CUSTOM_FIELD_VALUE_LENGTH))
  .refine((r) => Object.keys(r).length <= MAX_CUSTOM_FIELDS, `at most ${MAX_CUSTOM_FIELDS} custom fields`);

// Tags as given: the rules (contact-fields.ts normaliseTags) judge them; the bounds here only keep
// an oversized list from being read at all. The core stores them normalised.
const Tags = z
  .array(z.string().max(4 * MAX_TAG_LENGTH))
  .max(5 * MAX_TAGS)
  .superRefine((tags, ctx) => {
    const result = normaliseTags(tags);
    if ('problem' in result) ctx.addIssue({ code: 'custom', message: result.problem });
  })
  .meta({
    description: `Labels such as "fall-2026": at most ${MAX_TAGS}, each 1 to ${MAX_TAG_LENGTH} letters, digits, spaces and - _ . / : ; compared and stored lowercase, each once`,
  });

export const ContactCreate = z
  .strictObject({
    firstName: Name,
    lastName: z.string().trim().max(MAX_NAME_LENGTH).default(''),
    phone: Phone,
    staffId: Id.nullable().optional(),
    customFields: CustomFields.default({}),
    tags: Tags.default([]),
  })
  .meta({ id: 'ContactCreate' });

export const ContactPatch = z
  .strictObject({
    firstName: Name.optional(),
    lastName: z.string().trim().max(MAX_NAME_LENGTH).optional(),
    staffId: Id.nullable().optional().meta({ description: 'null clears the assignment' }),
    customFields: CustomFields.optional().meta({ description: "Replaces the contact's custom fields" }),
    tags: Tags.optional().meta({ description: "Replaces the contact's tags ([] clears them)" }),
  })
  .meta({ id: 'ContactPatch' });

export const UserListQuery = z.object({ departmentId: Id.optional().meta({ description: 'Only the people of this department' }) });

export const ContactQuery = z.object({
  search: z.string().max(100).optional(),
  staffId: Id.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export const NumberSearchQuery = z.object({
  areaCode: z.string().regex(/^[2-9]\d{2}$/, 'must be a three-digit area code'),
  prefix: z
    .string()
    .regex(/^[2-9]\d{2}$/, 'must be a three-digit exchange (NXX)')
    .optional(),
  limit: z.coerce.number().int().min(1).max(20).default(20),
});

const SixNumbers = z
  .array(Phone)
  .length(6, 'a group account has exactly six numbers')
  .refine((ns) => new Set(ns).size === ns.length, 'the six numbers must be distinct');

export const GroupAccountCreate = z
  .strictObject({
    name: Name,
    apiCode: ApiCode.optional(),
    departmentId: Id,
    color: Color,
    numbers: SixNumbers,
    forwardingNumber: Phone.nullable().optional(),
    memberIds: z.array(Id).max(500),
  })
  .meta({ id: 'GroupAccountCreate' });

export const GroupAccountPatch = z
  .strictObject({
    name: Name.optional(),
    apiCode: ApiCode.optional(),
    color: Color.optional(),
    numbers: SixNumbers.optional(),
    forwardingNumber: Phone.nullable().optional(),
  })
  .meta({ id: 'GroupAccountPatch' });

export const MembersPut = z.strictObject({ memberIds: z.array(Id).max(500) }).meta({ id: 'MembersPut' });

export const ConversationListQuery = z.object({
  folder: z.enum(['inbox', 'archived']).default('inbox'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z
    .string()
    .regex(/^\d{1,16}_[0-9A-HJKMNP-TV-Z]{26}$/, 'must be a cursor from a previous page')
    .optional(),
});

export const MessageListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: Id.optional(),
});

const Text = z.string().max(1600).meta({ description: 'The text; merge fields such as {FirstName} fill per recipient' });

export const Compose = z
  .strictObject({
    groupAccountCode: ApiCode.optional().meta({ description: 'Send from this group account; absent: your personal account' }),
    to: z
      .array(z.union([Id, Phone]))
      .max(10_000)
      .default([])
      .meta({ description: 'Contact ids or phone numbers' }),
    text: Text,
    sendToMyStudentsOnly: z.boolean().default(false),
    sendAsStaff: z.boolean().default(false),
    sendAnyway: z.boolean().default(false).meta({ description: 'Confirms a bulk send after 20:00, or a scheduledAt after 20:00' }),
    scheduledAt: z
      .number()
      .int()
      .optional()
      .meta({
        description:
          'Epoch ms: send then instead of now, as a campaign of kind `message` (201, the campaign; list, read and cancel it under /campaigns). A campaign’s schedule rules apply: at most a year ahead, 06:00–22:00 in the department time zone, after 20:00 with sendAnyway. Not with sendToMyStudentsOnly or sendAsStaff',
      }),
  })
  .meta({ id: 'Compose' });

export const CampaignCreate = z
  .strictObject({
    groupAccountCode: ApiCode.optional().meta({ description: 'Send from this group account; absent: your personal account' }),
    name: z.string().trim().min(1).max(120),
    text: Text,
    recipients: z
      .strictObject({
        phones: z
          .array(z.string().max(64))
          .max(MAX_PHONE_INPUTS)
          .default([])
          .meta({ description: 'Phone numbers in any common style; one that is not a phone number is counted as invalid, not refused' }),
        contactIds: z.array(Id).max(100_000).default([]),
        csv: z
          .string()
          .min(1)
          .optional()
          .meta({
            description:
              'A CSV file as text: its Phone column (as in a contact import) gives one recipient per row; a row whose cell is no phone number (or blank) is counted as invalid, a phone already listed as a duplicate. Other columns are not read: merge fields come from the contact on file',
          }),
        filter: z
          .strictObject({
            customFields: z
              .record(z.string().min(1).max(120), z.string().max(500))
              .optional()
              .meta({ description: 'Contacts whose custom fields have exactly these values (names in any case)' }),
            myStudents: z.boolean().default(false).meta({ description: 'Personal accounts only: the contacts assigned to you' }),
            tags: Tags.optional().meta({ description: 'Contacts carrying every one of these tags (any case)' }),
          })
          .optional()
          .meta({ description: 'A saved filter over contacts, read when the campaign is expanded' }),
      })
      .meta({ description: 'Recipients from any mix of these; a phone appearing twice is sent to once and counted as a duplicate' }),
    scheduledAt: z
      .number()
      .int()
      .optional()
      .meta({ description: 'Epoch ms: start then (at most a year ahead, 06:00–22:00 in the department time zone); absent: a draft to start' }),
    sendAnyway: z.boolean().default(false).meta({ description: 'Confirms a scheduled start after 20:00' }),
  })
  .meta({ id: 'CampaignCreate' });

export const CampaignStart = z
  .strictObject({ sendAnyway: z.boolean().default(false).meta({ description: 'Confirms a start (or resume) after 20:00' }) })
  .meta({ id: 'CampaignStart' });

export const CampaignListQuery = z.object({
  account: z.union([z.literal('personal'), ApiCode]).meta({ description: '`personal`, or a group account’s apiCode' }),
  kind: CampaignKind.optional().meta({ description: 'Only campaigns, or only scheduled messages; absent: both' }),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  before: Id.optional(),
});

export const CampaignRecipientsQuery = z.object({
  status: RecipientStatus.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.coerce.number().int().min(-1).optional().meta({ description: 'The last `seq` of the previous page' }),
});

export const CampaignPreviewQuery = z
  .object({
    phone: Phone.optional().meta({ description: 'A recipient by phone (any common style); a phone with no contact previews with empty name fields' }),
    contactId: Id.optional().meta({ description: 'A recipient by contact id' }),
  })
  .refine((q) => (q.phone === undefined) !== (q.contactId === undefined), { message: 'give exactly one of phone and contactId', path: ['phone'] });

export const Reply = z
  .strictObject({
    text: Text,
    lockToken: z.number().int().min(1).optional().meta({ description: 'Required for group accounts (the lock grant)' }),
  })
  .meta({ id: 'Reply' });

export const Measure = z.strictObject({ text: z.string().max(1600) }).meta({ id: 'Measure' });

export const ContactImportJson = z
  .strictObject({ csv: z.string().min(1).meta({ description: 'The CSV file as text' }) })
  .meta({ id: 'ContactImportJson' });

export const ApiKeyCreate = z.strictObject({ name: Name }).meta({ id: 'ApiKeyCreate' });

export const LocksQuery = z.object({ departmentId: Id });

/** The request headers of the routes that send texts (parsed by src/services/idempotency.ts). */
export const SendHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .min(1)
    .max(257)
    .optional()
    .meta({
      description:
        'Makes the send safe to retry: the same key with the same body answers the first outcome (same status and body) and sends nothing again, also after a restart; ' +
        'the same key with another body is refused (422 idempotency_key_reused); while the first request is still being processed, 409 idempotency_key_in_flight. ' +
        'Keys are per caller and kept 24 hours (IDEMPOTENCY_KEY_TTL_MS). 1 to 255 printable ASCII characters, as a quoted string ("…") or bare.',
      examples: ['"8e03978e-40d5-43e8-bc93-6894a57f9324"'],
    }),
});
