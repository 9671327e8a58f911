import { parseArgs } from 'node:util';

// `npm run text -- --from +16175550123 --to +16175550100 "Hi"`: texts in as a student's phone
// through the simulator's handset controls. `--inbox +16175550123` prints what that phone
// received; `--call --from A --to B` places a voice call. SWITCHBOARD_URL says where the controls
// are: the app in simulator mode (default http://127.0.0.1:3000) or a standalone simulator.

const USAGE = `Usage:
  npm run text -- --from +16175550123 --to +16175550100 "message text"
  npm run text -- --inbox +16175550123
  npm run text -- --call --from +16175550123 --to +16175550100
Environment: SWITCHBOARD_URL (default http://127.0.0.1:3000)`;

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

async function request(method: 'GET' | 'POST', url: string, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
    fail(`Could not reach ${new URL(url).origin} (${why}). Is Switchboard running in simulator mode?`, 1);
  }
  const text = await res.text();
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // Not JSON: shown as it is.
  }
  if (!res.ok) {
    const err = (value as { error?: { code?: string; message?: string } } | null)?.error;
    if (res.status === 404 && err?.code === 'not_found' && /No route/.test(err.message ?? '')) {
      fail(`${new URL(url).origin} has no simulator controls: Switchboard is probably talking to real Plivo.`, 1);
    }
    fail(`HTTP ${res.status}: ${err?.message ?? text}`, 1);
  }
  return value;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      inbox: { type: 'string' },
      call: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const base = (process.env['SWITCHBOARD_URL'] ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');

  if (values.inbox !== undefined) {
    const r = (await request('GET', `${base}/simulator/messages?number=${encodeURIComponent(values.inbox)}`)) as {
      messages: Array<{ from: string; text: string; receivedAt: string }>;
    };
    if (r.messages.length === 0) process.stdout.write(`${values.inbox} has received no messages.\n`);
    for (const m of r.messages) process.stdout.write(`${m.receivedAt}  from ${m.from}: ${m.text}\n`);
    return;
  }

  if (!values.from || !values.to) fail(USAGE);
  if (values.call) {
    const r = (await request('POST', `${base}/simulator/calls`, { from: values.from, to: values.to })) as {
      status: string;
      error: string | null;
      dial: { numbers: string[] } | null;
      actions: Array<{ verb: string; text?: string }>;
    };
    if (r.status !== 'answered') fail(`Call failed: ${r.error ?? 'no answer'}`, 1);
    if (r.dial) process.stdout.write(`Call forwarded to ${r.dial.numbers.join(', ')}\n`);
    for (const a of r.actions) if (a.verb === 'speak') process.stdout.write(`Heard: ${a.text ?? ''}\n`);
    if (!r.dial && !r.actions.some((a) => a.verb === 'speak')) process.stdout.write(`Answered: ${JSON.stringify(r.actions)}\n`);
    return;
  }

  const text = positionals.join(' ');
  if (text.trim() === '') fail(`Give the message text.\n${USAGE}`);
  const r = (await request('POST', `${base}/simulator/messages`, { from: values.from, to: values.to, text })) as {
    messageUuid: string;
    delivery: { state: string; status: number | null; error: string | null; nextAttemptAt: string | null };
  };
  const d = r.delivery;
  const detail =
    d.state === 'delivered'
      ? `delivered to Switchboard (HTTP ${d.status})`
      : d.state === 'retrying'
        ? `Switchboard did not accept it (${d.error ?? 'error'}); Plivo retries at ${d.nextAttemptAt}`
        : d.state === 'received'
          ? `received, but ${d.error ?? 'nothing to deliver it to'}`
          : `undelivered (${d.error ?? 'error'})`;
  process.stdout.write(`Sent ${r.messageUuid}: ${detail}\n`);
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message : String(e), 1));
