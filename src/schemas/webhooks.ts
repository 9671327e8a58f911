import { z } from 'zod';
import { fromPlivoDigits } from '../domain/phone.js';

// The form fields of Plivo's webhooks that Switchboard reads (Plivo sends more; they are signed and
// otherwise ignored). Validation (gateways/webhooks) and the OpenAPI document share these schemas.

const PlivoNumber = z
  .string()
  .transform((v, ctx) => {
    const e164 = fromPlivoDigits(v.trim());
    if (!e164) {
      ctx.addIssue({ code: 'custom', message: 'must be a phone number' });
      return z.NEVER;
    }
    return e164;
  })
  .meta({ description: 'A number as Plivo writes it (digits with the country code)', examples: ['16175550123'] });

export const InboundMessageForm = z
  .object({
    From: PlivoNumber,
    To: PlivoNumber.meta({ description: 'The account number texted; decides the account' }),
    Text: z.string().max(5000).default('').meta({ description: 'SMS text' }),
    Body: z.string().max(5000).optional().meta({ description: 'MMS text (used when Text is empty)' }),
    MessageUUID: z.string().min(1).max(64).meta({ description: "Plivo's id; retries are deduplicated by it" }),
  })
  .meta({ id: 'PlivoInboundMessage', description: 'An inbound SMS or MMS (other Plivo fields are accepted and ignored)' });

export const DeliveryReportForm = z
  .object({
    MessageUUID: z.string().min(1).max(64),
    Status: z.string().min(1).max(32).meta({ description: 'queued, sent, delivered, undelivered, failed, …' }),
    Sequence: z.coerce.number().int().min(0).default(0).meta({ description: 'Orders the reports of one message; late ones are ignored' }),
    ErrorCode: z.string().max(16).optional(),
  })
  .meta({ id: 'PlivoDeliveryReport', description: 'A delivery report (other Plivo fields are accepted and ignored)' });

export const VoiceCallForm = z
  .object({
    From: z.string().max(64).default(''),
    To: PlivoNumber.meta({ description: 'The number called; its account decides the forwarding' }),
    CallUUID: z.string().max(64).optional(),
  })
  .meta({ id: 'PlivoVoiceCall', description: 'An incoming call (other Plivo fields are accepted and ignored)' });
