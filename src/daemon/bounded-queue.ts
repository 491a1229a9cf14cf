/**
 * The inference queue between capture and the network: bounded, and when full the *oldest* item
 * goes. The newest audio is what matters for someone in danger now; a backlog of old windows would
 * only make every later decision later.
 */
export class BoundedQueue<T> {
  private items: T[] = [];
  private droppedTotal = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`queue max must be a whole number >= 1 (got ${max})`);
  }

  /** Adds the item; returns how many old items were dropped to make room (0 or more). */
  push(item: T): number {
    this.items.push(item);
    let dropped = 0;
    while (this.items.length > this.max) {
      this.items.shift();
      dropped++;
    }
    this.droppedTotal += dropped;
    return dropped;
  }

  /** Takes everything queued, oldest first. */
  takeAll(): T[] {
    const out = this.items;
    this.items = [];
    return out;
  }

  get length(): number {
    return this.items.length;
  }

  /** Items dropped since the queue was made. */
  get dropped(): number {
    return this.droppedTotal;
  }

  get full(): boolean {
    return this.items.length >= this.max;
  }
}
