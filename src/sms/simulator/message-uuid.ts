import { randomBytes } from 'node:crypto';

// Plivo's message and call ids are version-1 UUIDs (time-based: "db3ce55a-7f1d-11e1-8ea7-…",
// plivo.md), and the simulator mints the same kind. Beyond looking like Plivo's, that matters for
// cost: the first group of a v1 UUID is the low 32 bits of its 100 ns timestamp, so the ids of the
// sends of the last seven minutes sort in the order they were made. Every index keyed by the id (the
// simulator's messages and webhooks, the app's provider ids) then grows at its end instead of at a
// random page, which is what a random (v4) id costs on every insert.

// 100 ns intervals between the Gregorian epoch (1582-10-15) and the Unix epoch.
const GREGORIAN_OFFSET = 122_192_928_000_000_000n;

let lastTicks = 0n;
// Per process: a random clock sequence and node id (multicast bit set: not a MAC address, RFC 9562 §6.10).
const clockSeq = randomBytes(2).readUInt16BE(0) & 0x3fff;
const nodeId = randomBytes(6);
nodeId[0] = nodeId[0]! | 0x01;
const tail = `${(0x8000 | clockSeq).toString(16)}-${nodeId.toString('hex')}`;

/** A new version-1 UUID timed `now` (ms); ids made in one process strictly increase in time. */
export function messageUuid(now: number): string {
  let ticks = BigInt(Math.floor(now)) * 10_000n + GREGORIAN_OFFSET;
  if (ticks <= lastTicks) ticks = lastTicks + 1n;
  lastTicks = ticks;
  const low = Number(ticks & 0xffff_ffffn);
  const mid = Number((ticks >> 32n) & 0xffffn);
  const high = Number((ticks >> 48n) & 0x0fffn) | 0x1000;
  return `${low.toString(16).padStart(8, '0')}-${mid.toString(16).padStart(4, '0')}-${high.toString(16).padStart(4, '0')}-${tail}`;
}
