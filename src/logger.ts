import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

// One root logger, passed down; children add `node`, `connId`, `conversationId`, ... Secrets and
// message bodies are redacted by default: logs are read by more people than messages are.
export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'authToken',
  '*.authToken',
  'apiKey',
  '*.apiKey',
  'lockToken',
  '*.lockToken',
  'text',
  '*.text',
  'body.text',
  'Text',
  '*.Text',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
];

export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { ...base },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

export const silentLogger: Logger = pino({ level: 'silent' });
