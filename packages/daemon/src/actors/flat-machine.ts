import { and, assign, not, or, type AnyStateMachine, type EventObject } from 'xstate';

/** A machine's snapshot as one object: its context, with the state it is in as `status`. */
export type FlatRecord = { readonly status: string };

type Check<R, E> = (record: R, event: E) => boolean;
type Update<R, E> = (record: R, event: E) => R;

/** One transition a state may take on an event, ready to run: its guard, where it goes, every assign in order. */
interface Step<R, E> {
  guard: Check<R, E> | undefined;
  target: string | undefined;
  /** Whether XState's `can` counts it: it goes somewhere or does something. */
  counts: boolean;
  /** The source's exit actions (when it leaves), the transition's own, the target's entry actions. */
  updates: Update<R, E>[];
}

type StateNode = AnyStateMachine['root'];
/** What the compiler reads of an XState transition's definition. */
interface Definition {
  source: StateNode;
  target?: readonly StateNode[] | undefined;
  actions: readonly unknown[];
  guard?: unknown;
}

/** XState's own implementations of its built-in guards and of `assign`, to recognise them by. */
const AND = (and([]) as unknown as { check: unknown }).check;
const OR = (or([]) as unknown as { check: unknown }).check;
const NOT = (not(() => true) as unknown as { check: unknown }).check;
const ASSIGN = (assign({}) as unknown as { resolve: unknown }).resolve;

/** How many eventless transitions one event may set off before it is a loop (XState has no bound). */
const MAX_EVENTLESS = 100;

/**
 * A flat XState machine (one level of atomic states, every action an `assign`) run from its definition
 * without XState's interpreter: the transitions of each state and event are found once, and an event
 * is a lookup, the guards and the assigns, then the target's eventless transitions. The result is the
 * one XState's macrostep gives (flat-machine.test.ts runs every state and event through both).
 *
 * Why: a task takes 5 events in its life, each an XState macrostep of ~9 µs of CPU (XState's floor:
 * configurations, exit and entry sets, a snapshot made and cloned per action), ~45 µs a task, about a
 * tenth of the daemon's CPU for a 10,000-task run. Run so, the same 5 events cost ~3 µs.
 *
 * The machine's snapshot is a record: the context with the state as `status`, so a task's record is its
 * snapshot and nothing is made between them. Guards and assigns get `{ context, event }` (the record
 * as the context); nothing spawns, sends, emits, raises or is delayed, or the machine is refused here.
 */
export class FlatMachine<R extends FlatRecord, E extends EventObject> {
  private readonly steps = new Map<string, Map<string, Step<R, E>[]>>();
  private readonly eventless = new Map<string, Step<R, E>[]>();

  constructor(private readonly machine: AnyStateMachine) {
    const root = machine.root;
    if (root.type !== 'compound') throw this.refused('its root has no states');
    if (root.invoke.length > 0) throw this.refused('its root invokes actors');
    const states = Object.values(root.states);
    for (const state of states) {
      if (state.type !== 'atomic') throw this.refused(`state ${state.key} is ${state.type}, not atomic`);
      if (state.invoke.length > 0) throw this.refused(`state ${state.key} invokes actors`);
    }
    for (const state of states) {
      const byEvent = new Map<string, Step<R, E>[]>();
      // A state's own transitions come first; the root's apply when none of the state's is enabled.
      for (const node of [state, root]) {
        for (const [type, transitions] of node.transitions) {
          if (type.includes('*')) throw this.refused(`it takes wildcard events (${type})`);
          const list = byEvent.get(type) ?? [];
          for (const transition of transitions) list.push(this.step(state, transition));
          byEvent.set(type, list);
        }
      }
      this.steps.set(state.key, byEvent);
      const always = [...(state.always ?? []), ...(root.always ?? [])].map((t) => this.step(state, t));
      if (always.length > 0) this.eventless.set(state.key, always);
    }
  }

  /**
   * The record the event leaves, or undefined when the machine takes nothing in the state the record is
   * in (a guard or assign that throws throws here, and nothing changed).
   */
  transition(record: R, event: E): R | undefined {
    let next: R | undefined;
    const step = this.enabled(this.steps.get(record.status)?.get(event.type), record, event);
    if (step) next = this.take(step, record, event);
    let current = next ?? record;
    for (let n = 0; ; n++) {
      const always = this.enabled(this.eventless.get(current.status), current, event);
      if (!always) return next;
      if (n === MAX_EVENTLESS) throw new Error(`machine ${this.machine.id}: eventless transitions loop`);
      current = next = this.take(always, current, event);
    }
  }

  /** Whether the machine takes the event in the state the record is in (XState's `snapshot.can`). */
  can(record: R, event: E): boolean {
    return this.enabled(this.steps.get(record.status)?.get(event.type), record, event)?.counts === true;
  }

  private enabled(steps: Step<R, E>[] | undefined, record: R, event: E): Step<R, E> | undefined {
    if (steps === undefined) return undefined;
    for (const step of steps) if (step.guard === undefined || step.guard(record, event)) return step;
    return undefined;
  }

  private take(step: Step<R, E>, record: R, event: E): R {
    let next = record;
    for (const update of step.updates) next = update(next, event);
    if (step.target === undefined) return next;
    // A fresh object: the record it came from is someone else's (immutable records).
    if (next === record) next = { ...record };
    (next as { status: string }).status = step.target;
    return next;
  }

  // ── Compiled once, from the machine's definition ────────────────────────────────────────────────

  private step(from: StateNode, transition: Definition): Step<R, E> {
    const targets = transition.target ?? [];
    if (targets.length > 1) throw this.refused(`a transition of ${from.key} has ${targets.length} targets`);
    const target = targets[0];
    if (target !== undefined && target.parent !== this.machine.root)
      throw this.refused(`a transition of ${from.key} targets ${target.id}, not a state of its root`);
    // From a state to itself XState leaves and enters it or not depending on `reenter`: not used, not run.
    // (The root's transition to a state leaves the state the machine is in and enters the target.)
    if (target === transition.source) throw this.refused(`state ${from.key} has a transition to itself`);
    const actions = transition.actions.map((action) => this.update(action));
    const updates = target
      ? [...from.exit.map((a) => this.update(a)), ...actions, ...target.entry.map((a) => this.update(a))]
      : actions;
    return {
      guard: transition.guard === undefined ? undefined : this.guard(transition.guard),
      target: target?.key,
      counts: target !== undefined || transition.actions.length > 0,
      updates,
    };
  }

  /** An action as an update of the record: only assigns (named, with params, or inline). */
  private update(action: unknown): Update<R, E> {
    const named = typeof action === 'string' ? action : isTyped(action) ? action.type : undefined;
    const resolved = named === undefined ? action : this.machine.implementations.actions[named];
    const params = isTyped(action) && 'params' in action ? action.params : undefined;
    if (typeof resolved !== 'function' || (resolved as { resolve?: unknown }).resolve !== ASSIGN)
      throw this.refused(`its action ${named ?? describe(action)} is not an assign`);
    const { assignment } = resolved as unknown as { assignment: unknown };
    const paramsOf = (context: R, event: E) =>
      typeof params === 'function' ? (params as (args: unknown) => unknown)({ context, event }) : params;
    if (typeof assignment === 'function') {
      const assigner = assignment as (args: { context: R; event: E }, params: unknown) => object;
      return (context, event) =>
        Object.assign({}, context, assigner({ context, event }, paramsOf(context, event)));
    }
    const entries = Object.entries(assignment as Record<string, unknown>);
    return (context, event) => {
      const partial: Record<string, unknown> = {};
      const args = { context, event };
      for (const [key, value] of entries) {
        partial[key] =
          typeof value === 'function'
            ? (value as (a: typeof args, p: unknown) => unknown)(args, paramsOf(context, event))
            : value;
      }
      return Object.assign({}, context, partial);
    };
  }

  /** A guard as a check: inline, named (with params), or XState's `and`, `or`, `not` of guards. */
  private guard(guard: unknown): Check<R, E> {
    if (typeof guard === 'function') {
      const { check, guards } = guard as { check?: unknown; guards?: unknown[] };
      if (check === undefined) {
        const inline = guard as (args: { context: R; event: E }, params: undefined) => boolean;
        return (context, event) => inline({ context, event }, undefined);
      }
      const parts = (guards ?? []).map((g) => this.guard(g));
      if (check === AND) return (r, e) => parts.every((part) => part(r, e));
      if (check === OR) return (r, e) => parts.some((part) => part(r, e));
      if (check === NOT) return (r, e) => !parts[0]!(r, e);
      throw this.refused('it uses a built-in guard other than and, or, not');
    }
    const name = typeof guard === 'string' ? guard : isTyped(guard) ? guard.type : describe(guard);
    const params = isTyped(guard) && 'params' in guard ? guard.params : undefined;
    const resolved = this.machine.implementations.guards[name];
    // Looked up when it is checked, as XState does: a guard never checked need not exist.
    if (resolved === undefined)
      return () => {
        throw new Error(`Guard '${name}' is not implemented.`);
      };
    if (typeof resolved !== 'function' || 'check' in resolved) return this.guard(resolved);
    const implementation = resolved as (args: { context: R; event: E }, params: unknown) => boolean;
    return (context, event) =>
      implementation(
        { context, event },
        typeof params === 'function' ? (params as (args: unknown) => unknown)({ context, event }) : params,
      );
  }

  private refused(why: string): Error {
    return new Error(`machine ${this.machine.id} cannot run as a flat machine: ${why}`);
  }
}

function isTyped(value: unknown): value is { type: string; params?: unknown } {
  return (
    typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
  );
}

function describe(value: unknown): string {
  return typeof value === 'function' ? value.name || '(anonymous)' : JSON.stringify(value);
}
