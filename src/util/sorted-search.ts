// One binary search for the lists the router keeps sorted in code-unit order (the model's apps by
// name, the render's host views by host): a few keys are looked up there, with no map of every item.

/** Where the item whose key is `key` is in `items` (sorted by `keyOf`, code units), or -1. */
export function indexOfSorted<T>(items: readonly T[], key: string, keyOf: (item: T) => string): number {
  let low = 0;
  let high = items.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const at = keyOf(items[middle]!);
    if (at === key) return middle;
    if (at < key) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}
