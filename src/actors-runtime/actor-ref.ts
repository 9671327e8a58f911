import { AppError, type ErrorCode } from '../errors.js';
import type { ActorHost } from './actor-host.js';

// The actor-reference port: how a service on the node that received a request reaches an actor,
// wherever its activation runs. Commands and replies are plain data that survive a JSON round
// trip, so the same port can be carried by NATS request/reply to the owning node (as colyseus
// calls a room on another process with `remoteRoomCall`). The service authorises before it
// routes; the owner only runs the actor.

/** A reply as it crosses the port: the actor's answer, or the typed error it refused with. */
export type ActorOutcome<Reply> = { ok: true; reply: Reply } | { ok: false; error: { code: ErrorCode; message: string } };

// Commands and replies must be plain JSON data (no classes, functions, Dates, undefined in arrays):
// the in-process reference sends them in wire form, so a field that does not survive fails here.
export interface ActorRef<Command, Reply> {
  /** Delivers the command to the actor (activating it where it is placed) and resolves its reply. */
  ask(actorId: string, command: Command): Promise<Reply>;
}

/**
 * The in-process reference: the owner is this node. Commands and replies still go through their
 * wire form, so whatever works here also works across nodes (and a non-serialisable field fails
 * here first).
 */
export class LocalActorRef<Command, Reply> implements ActorRef<Command, Reply> {
  constructor(private readonly host: ActorHost<Command, Reply>) {}

  async ask(actorId: string, command: Command): Promise<Reply> {
    const outcome = await serveCommand(this.host, actorId, JSON.stringify(command));
    return unwrapOutcome<Reply>(outcome);
  }
}

/** The owner's side: runs a command in its wire form and answers in wire form. */
export async function serveCommand<Command, Reply>(host: ActorHost<Command, Reply>, actorId: string, wire: string): Promise<string> {
  let outcome: ActorOutcome<Reply>;
  try {
    outcome = { ok: true, reply: await host.ask(actorId, JSON.parse(wire) as Command) };
  } catch (e) {
    // Only typed errors cross the port; anything else is the owner's bug and stays in its logs.
    if (!(e instanceof AppError)) throw e;
    outcome = { ok: false, error: { code: e.code, message: e.message } };
  }
  return JSON.stringify(outcome);
}

/** The caller's side: the reply, or the owner's typed error thrown again here. */
export function unwrapOutcome<Reply>(wire: string): Reply {
  const outcome = JSON.parse(wire) as ActorOutcome<Reply>;
  if (!outcome.ok) throw new AppError(outcome.error.code, outcome.error.message);
  return outcome.reply;
}
