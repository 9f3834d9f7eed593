/**
 * At most `capacity` units held at once, granted in the order they were asked for, so a large
 * request is not passed over forever by small ones. A request larger than the whole capacity is
 * granted once nothing else is held: it would otherwise wait for good. The release function is
 * idempotent, so every path (success, failure, a page left unread) may call it.
 */
export interface Semaphore {
  acquire(units?: number): Promise<() => void>;
  /** Units held now. */
  held(): number;
}

export function createSemaphore(capacity: number): Semaphore {
  let held = 0;
  const waiting: Array<{ units: number; grant: () => void }> = [];
  const fits = (units: number) => held === 0 || held + units <= capacity;
  const wake = () => {
    while (waiting.length > 0 && fits(waiting[0]!.units)) {
      const next = waiting.shift()!;
      held += next.units;
      next.grant();
    }
  };
  return {
    async acquire(units = 1) {
      if (waiting.length === 0 && fits(units)) held += units;
      else await new Promise<void>((grant) => waiting.push({ units, grant }));
      let released = false;
      return () => {
        if (released) return;
        released = true;
        held -= units;
        wake();
      };
    },
    held: () => held,
  };
}
