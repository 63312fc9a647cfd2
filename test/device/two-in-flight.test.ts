// The two-batch rule shared by outbound and inbound: a batch completes only
// after the one filled before it, a batch finished at submit completes at once,
// and settle completes what is left, oldest first.
import { expect, test } from "bun:test";
import { type FlightBatch, TwoInFlight } from "../../src/device/two-in-flight.ts";

class FakeBatch implements FlightBatch {
  inFlight = false;
  /** helpersTake: the next submit leaves the job pending (on helpers) rather than running it at once. */
  helpersTake = true;
  readonly crypto = {
    pending: false,
    submit: () => {
      this.crypto.pending = this.helpersTake;
    },
  };
  constructor(readonly name: string) {}
}

function pair() {
  const order: string[] = [];
  const a = new FakeBatch("a");
  const b = new FakeBatch("b");
  const flights = new TwoInFlight(a, b, (_now, done) => {
    done.crypto.pending = false;
    done.inFlight = false;
    order.push(done.name);
  });
  return { order, a, b, flights };
}

test("on helpers: each dispatch completes the batch before it, and settle the last", () => {
  const { order, flights } = pair();
  expect(flights.current.name).toBe("a");
  flights.dispatch(0);
  expect(order).toEqual([]);
  expect(flights.inFlight).toBe(true);
  expect(flights.current.name).toBe("b");
  flights.dispatch(0);
  expect(order).toEqual(["a"]);
  flights.dispatch(0);
  expect(order).toEqual(["a", "b"]);
  flights.settle(0);
  expect(order).toEqual(["a", "b", "a"]);
  expect(flights.inFlight).toBe(false);
});

test("a job done at submit completes at once, after the older batch still in flight", () => {
  const { order, a, b, flights } = pair();
  flights.dispatch(0); // a on the helpers
  b.helpersTake = false;
  flights.dispatch(0); // b done at submit: a must complete first
  expect(order).toEqual(["a", "b"]);
  expect(a.inFlight || b.inFlight).toBe(false);
});

test("settle with nothing in flight completes nothing", () => {
  const { order, flights } = pair();
  flights.settle(0);
  expect(order).toEqual([]);
});
