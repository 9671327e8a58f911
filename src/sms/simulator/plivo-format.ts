// Plivo's wire formats for times, money and numbers, in one place.

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Callback times: `YYYY-mm-dd HH:MM:SS.ffffff`, UTC. */
export function callbackTime(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds() * 1000, 6)}`
  );
}

/** Record times (message_time, added_on...): `YYYY-mm-dd HH:MM:SS+00:00`. */
export function recordTime(ms: number): string {
  return `${callbackTime(ms).slice(0, 19)}+00:00`;
}

export function recordDate(ms: number): string {
  return callbackTime(ms).slice(0, 10);
}

/** Money as Plivo writes it: a string with five decimals. */
export function money(amount: number): string {
  return amount.toFixed(5);
}

/**
 * Plivo strips `/ - . + ( )` and whitespace from numbers; what is left must be digits. Returns the
 * digits (country code first, no '+'), or null.
 */
export function plivoDigits(input: string): string | null {
  const digits = input.replace(/[\s/\-.+()]/g, '');
  return /^\d{8,15}$/.test(digits) ? digits : null;
}

export function e164FromDigits(digits: string): string {
  return /^\d+$/.test(digits) ? `+${digits}` : digits;
}
