import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { AppError } from '../errors.js';

// A generic actor host: one activation per actor id on this node, a mailbox that runs everything
// done to that activation one at a time (commands and the actor's own timed work), activation on
// first use, and passivation when the actor says it is idle. It knows nothing of what the actors
// are: a behaviour activates them (reading their state from the store) and each activation
// handles its commands. Commands come in through an actor reference (actor-ref.ts), never
// straight from a service, so the host can live on another node.

/** One running activation, as the host sees it. */
export interface HostedActor<Command, Reply> {
  /** Handles one command; runs inside the actor's mailbox. */
  receive(command: Command): Promise<Reply> | Reply;
  /** True when the activation may be stopped: nothing held, nobody watching. */
  isIdle(): boolean;
  /** Resolves once the activation's own background work (e.g. saves behind) is done. */
  settled(): Promise<void>;
  /** Stops the activation (its timers, its machine); resolves once its background work is done. Called once, by the host. */
  stop(): Promise<void> | void;
}

/** What an activation may ask of its host. */
export interface ActorSelf {
  readonly id: string;
  /** Runs `work` in this activation's mailbox, after what is queued (e.g. a timer's transition). */
  enqueue<T>(work: () => Promise<T> | T): Promise<T>;
  /** Stops this activation now (e.g. the store showed that another owner took over). */
  passivate(): void;
  /** The activation's state changed outside a command: look again at whether it is idle. */
  changed(): void;
  /**
   * Whether placement still gives this node the actor. An activation asks right before it claims
   * its owner epoch, so a node that is not the owner never fences the owner off.
   */
  owned(): boolean;
}

export interface ActorBehavior<Command, Reply> {
  /** Makes an activation for `id`, from the store. Throws Passivated when another activation won. */
  activate(self: ActorSelf): Promise<HostedActor<Command, Reply>>;
}

export interface ActorHostOptions {
  clock: Clock;
  log: Logger;
  /** An idle activation is stopped after this long without use. */
  passivateAfterMs: number;
  /** Whether this node owns actor `id` now (placement); absent: it owns every actor (one node). */
  owns?: (id: string) => boolean;
}

/** The activation was stopped before a queued command reached it; the command retries afresh. */
export class Passivated extends Error {
  override name = 'Passivated';
}

/** This node does not own the actor (placement gave it to another node, or this node lost its lease). */
export class NotOwner extends Error {
  override name = 'NotOwner';
}

interface Entry<Command, Reply> {
  self: ActorSelf;
  actor: HostedActor<Command, Reply> | null;
  mailbox: Promise<unknown>;
  passivation: TimerHandle | null;
  /** When the activation last became idle (null: in use). */
  idleSince: number | null;
  stopped: boolean;
}

export class ActorHost<Command, Reply> {
  private readonly entries = new Map<string, Entry<Command, Reply>>();
  private readonly activating = new Map<string, Promise<Entry<Command, Reply>>>();
  /** Stopped activations whose background work is not done yet. */
  private readonly draining = new Set<Promise<unknown>>();
  /** Activations being stopped, by actor id: the next activation of the same id waits for its stop. */
  private readonly stoppingById = new Map<string, Promise<unknown>>();
  private stopping = false;

  constructor(
    private readonly behavior: ActorBehavior<Command, Reply>,
    private readonly o: ActorHostOptions,
  ) {}

  /** Delivers a command to the actor's activation on this node, activating it when needed. */
  async ask(id: string, command: Command): Promise<Reply> {
    for (let attempt = 0; ; attempt++) {
      try {
        const entry = await this.entryFor(id);
        const reply = await this.enqueue(entry, () => {
          if (entry.stopped || !entry.actor) throw new Passivated();
          return entry.actor.receive(command);
        });
        this.passivateIfIdle(entry);
        return reply;
      } catch (e) {
        if (e instanceof Passivated && attempt < 3) continue;
        throw e instanceof Passivated ? new AppError('conflict', 'The conversation is busy; try again') : e;
      }
    }
  }

  /** Delivers a command only if the actor is active here; resolves undefined otherwise. */
  async tell(id: string, command: Command): Promise<Reply | undefined> {
    const entry = this.entries.get(id);
    if (!entry || entry.stopped) return undefined;
    return this.ask(id, command);
  }

  isActive(id: string): boolean {
    return this.entries.has(id);
  }

  activeCount(): number {
    return this.entries.size;
  }

  /** The activations on this node now (ids), e.g. to find the ones a revoked user holds. */
  activeIds(): string[] {
    return [...this.entries.keys()];
  }

  /** The live activation of `id`, for reads that need no mailbox (undefined when not active). */
  peek(id: string): HostedActor<Command, Reply> | undefined {
    const entry = this.entries.get(id);
    return entry && !entry.stopped ? (entry.actor ?? undefined) : undefined;
  }

  /**
   * Resolves once everything queued on the activations so far has run, and their background work
   * (saves behind) is done, including what that work queued in turn. For callers that must know
   * nothing more is on its way.
   */
  async settled(): Promise<void> {
    const pendingWork = () => [...this.activating.values(), ...[...this.entries.values()].map((e) => e.mailbox), ...this.draining];
    for (let before = pendingWork(); ; ) {
      await Promise.allSettled(before);
      await Promise.allSettled([...this.entries.values()].map((e) => e.actor?.settled()));
      const after = pendingWork();
      if (after.length === before.length && after.every((p, i) => p === before[i])) return;
      before = after;
    }
  }

  /**
   * Stops every activation at once, and goes on taking commands (for the actors placement gives
   * this node again): the node lost its lease, so other nodes may run these actors now.
   */
  passivateAll(): void {
    for (const e of [...this.entries.values()]) this.passivate(e);
  }

  /** Stops every activation; resolves once their background work is done. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const e of [...this.entries.values()]) this.passivate(e);
    await Promise.allSettled([...this.draining]);
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  private async entryFor(id: string): Promise<Entry<Command, Reply>> {
    const live = this.entries.get(id);
    if (live && !live.stopped) return live;
    let pending = this.activating.get(id);
    if (!pending) {
      pending = this.activate(id).finally(() => this.activating.delete(id));
      this.activating.set(id, pending);
    }
    return pending;
  }

  private async activate(id: string): Promise<Entry<Command, Reply>> {
    const owned = () => this.o.owns?.(id) ?? true;
    if (!owned()) throw new NotOwner(`this node does not own ${id}`);
    const entry: Entry<Command, Reply> = {
      self: {
        id,
        // An activation's own work (a timer's transition) runs only while this node owns it.
        enqueue: (work) =>
          this.enqueue(entry, () => {
            if (!owned()) {
              this.passivate(entry);
              throw new Passivated();
            }
            return work();
          }),
        passivate: () => this.passivate(entry),
        changed: () => this.passivateIfIdle(entry),
        owned,
      },
      actor: null,
      mailbox: Promise.resolve(),
      passivation: null,
      idleSince: null,
      stopped: false,
    };
    // The activation's own start-up work (e.g. re-arming timers) may already use the mailbox.
    let ready!: () => void;
    entry.mailbox = new Promise<void>((resolve) => (ready = resolve));
    try {
      // A previous activation being stopped may still be writing what it decided (a lock's saves
      // behind): read before those land, the store would restore an older state, and the new
      // epoch would then refuse the late writes. One writer at a time, per actor, on this node too.
      const previous = this.stoppingById.get(id);
      if (previous) await previous;
      entry.actor = await this.behavior.activate(entry.self);
    } finally {
      ready();
    }
    if (entry.stopped) throw new Passivated();
    this.entries.set(id, entry);
    return entry;
  }

  private enqueue<T>(entry: Entry<Command, Reply>, work: () => Promise<T> | T): Promise<T> {
    const next = entry.mailbox.then(work, work);
    // Settles with nothing: `next.catch()` would settle with the reply and keep it (and whatever
    // it refers to) until the actor's next command, long enough to be promoted on a busy node.
    entry.mailbox = next.then(settledNothing, settledNothing);
    return next;
  }

  /**
   * Idle and unused for passivateAfterMs: stop the activation (checked again when the time comes,
   * in the mailbox after what is queued). Keeping it that long spares the next command on a busy
   * actor a re-activation from the store. An actor in use keeps the timer it has: when it fires,
   * an actor that is busy is left alone (the next idle moment arms it again) and one that became
   * idle again meanwhile waits out the rest from that moment. So an actor used many times a second
   * arms one timer per passivateAfterMs, not one per command.
   */
  private passivateIfIdle(entry: Entry<Command, Reply>): void {
    if (!this.isIdle(entry)) {
      entry.idleSince = null;
      return;
    }
    entry.idleSince ??= this.o.clock.now();
    if (!entry.passivation) this.armPassivation(entry, this.o.passivateAfterMs);
  }

  private armPassivation(entry: Entry<Command, Reply>, ms: number): void {
    entry.passivation = this.o.clock.setTimeout(() => {
      entry.passivation = null;
      void this.enqueue(entry, () => {
        if (!this.isIdle(entry)) return;
        const idleSince = (entry.idleSince ??= this.o.clock.now());
        const left = idleSince + this.o.passivateAfterMs - this.o.clock.now();
        if (left > 0) this.armPassivation(entry, left);
        else this.passivate(entry);
      });
    }, ms);
  }

  private isIdle(entry: Entry<Command, Reply>): boolean {
    return !entry.stopped && entry.actor !== null && entry.actor.isIdle();
  }

  private passivate(entry: Entry<Command, Reply>): void {
    if (entry.stopped) return;
    if (entry.passivation) this.o.clock.clearTimeout(entry.passivation);
    entry.passivation = null;
    entry.stopped = true;
    const failed = (err: unknown) => this.o.log.error({ err, actorId: entry.self.id }, 'stopping an actor failed');
    try {
      const done = entry.actor?.stop();
      if (done) {
        const id = entry.self.id;
        const tracked: Promise<unknown> = done.catch(failed).finally(() => {
          this.draining.delete(tracked);
          if (this.stoppingById.get(id) === tracked) this.stoppingById.delete(id);
        });
        this.draining.add(tracked);
        this.stoppingById.set(id, tracked);
      }
    } catch (err) {
      failed(err);
    }
    if (this.entries.get(entry.self.id) === entry) this.entries.delete(entry.self.id);
  }
}

function settledNothing(): void {}
