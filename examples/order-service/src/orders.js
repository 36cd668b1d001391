// The in-memory order store. It is per process (each replica has its own), and bounded: past
// `capacity` the oldest order is dropped, so a load test cannot exhaust the pod's memory.

/**
 * @typedef {{ id: string, item: string, qty: number, createdAt: string }} Order
 */

export function createOrderStore({ capacity = 10_000, now = () => new Date() } = {}) {
  /** @type {Map<string, Order>} insertion order is creation order */
  const orders = new Map();
  let nextId = 1;

  return {
    /** @returns {Order} */
    add({ item, qty }) {
      const order = { id: String(nextId++), item, qty, createdAt: now().toISOString() };
      orders.set(order.id, order);
      if (orders.size > capacity) orders.delete(orders.keys().next().value);
      return order;
    },
    /** @returns {Order | undefined} */
    get: (id) => orders.get(id),
    /** Newest first, at most `limit`. */
    list(limit) {
      return [...orders.values()].reverse().slice(0, limit);
    },
    get size() {
      return orders.size;
    },
  };
}
