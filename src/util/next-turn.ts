// A build at 10 000 apps is a few stages of tens of milliseconds each: awaited between them, this
// lets the event loop answer sockets, timers and HTTP requests, instead of blocking for their sum.

/** Resolves on the event loop's next turn, after the I/O callbacks waiting now. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
