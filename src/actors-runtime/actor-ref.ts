import { AppError, type ErrorCode } from '../errors.js';
import type { ActorHost } from './actor-host.js';

// The actor-reference port: how a service on the node that received a request reaches an actor,
// wherever its activation runs. Commands and replies are plain data that survive a JSON round
// trip, so the same port can be carried by NATS request/reply to the owning node (as colyseus
// calls a room on another process with `remoteRoomCall`). The service authorises before it
// routes; the owner only runs the actor.

/** A reply as it crosses the port: the actor's answer, or the typed error it refused with. */
export type ActorOutcome<Reply> = { ok: true; reply: Reply } | { ok: false; error: { code: ErrorCode; message: string } };

/**
 * `T` itself when it is plain JSON data (what comes out of `JSON.parse(JSON.stringify(x))`
 * unchanged: strings, finite-number-typed fields, booleans, null, arrays and objects of them,
 * optional fields), `never` inside it where it is not (functions, methods, so Dates, Maps,
 * class instances; bigint; symbols; undefined in an array). A command or reply type that is not
 * plain data then fails to compile where a reference is made for it.
 */
export type PlainData<T> = T extends string | number | boolean | null
  ? T
  : T extends readonly (infer E)[]
    ? undefined extends E
      ? never
      : readonly PlainData<E>[]
    : T extends (...args: never[]) => unknown
      ? never
      : T extends object
        ? { [K in keyof T]: undefined extends T[K] ? PlainData<Exclude<T[K], undefined>> | undefined : PlainData<T[K]> }
        : never;

// Commands and replies must be plain JSON data: a reference to another node carries them in wire
// form. The in-process reference does not encode them (a JSON round trip per command was most of
// what the port cost): the types catch a field that would not survive (PlainData), and what
// crosses is treated as read-only by both sides, as the memory bus treats its events.
export interface ActorRef<Command, Reply> {
  /** Delivers the command to the actor (activating it where it is placed) and resolves its reply. */
  ask(actorId: string, command: Command): Promise<Reply>;
}

/**
 * The in-process reference: the owner is this node. Commands and replies are handed over as they
 * are, checked to be plain data by their types; errors arrive as the wire would carry them (a
 * typed error's code and message, anything else the owner's own bug).
 */
export class LocalActorRef<Command, Reply> implements ActorRef<Command, Reply> {
  constructor(
    private readonly host: ActorHost<Command, Reply>,
    // Nothing to pass: with a command or reply type that is not plain data, the compiler asks for
    // an argument named after the problem instead.
    ..._plainData: [Command] extends [PlainData<Command>]
      ? [Reply] extends [PlainData<Reply>]
        ? []
        : [replyIsNotPlainData: never]
      : [commandIsNotPlainData: never]
  ) {}

  async ask(actorId: string, command: Command): Promise<Reply> {
    try {
      return await this.host.ask(actorId, command);
    } catch (e) {
      if (e instanceof AppError) throw new AppError(e.code, e.message);
      throw e;
    }
  }
}

/**
 * The owner's side: runs a command and answers with its outcome, both plain data that the carrier
 * encodes once (a request's JSON holds the command itself, not the command's JSON as a string).
 */
export async function serveCommand<Command, Reply>(host: ActorHost<Command, Reply>, actorId: string, command: Command): Promise<ActorOutcome<Reply>> {
  try {
    return { ok: true, reply: await host.ask(actorId, command) };
  } catch (e) {
    // Only typed errors cross the port; anything else is the owner's bug and stays in its logs.
    if (!(e instanceof AppError)) throw e;
    return { ok: false, error: { code: e.code, message: e.message } };
  }
}

/** The caller's side: the reply, or the owner's typed error thrown again here. */
export function unwrapOutcome<Reply>(outcome: ActorOutcome<Reply>): Reply {
  if (!outcome.ok) throw new AppError(outcome.error.code, outcome.error.message);
  return outcome.reply;
}
