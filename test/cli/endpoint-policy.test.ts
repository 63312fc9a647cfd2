// When a named endpoint is resolved again and whether the answer moves it.
import { describe, expect, test } from "bun:test";
import {
  chooseEndpoint,
  DEFAULT_REFRESH_MS,
  FAILING_AFTER_MS,
  initialFollowState,
  isFailing,
  observe,
  resolveDue,
  RETRY_MS,
  type PeerSample,
} from "../../src/cli/endpoint-policy.ts";

const T0 = 1_700_000_000_000;
const sample = (over: Partial<PeerSample> = {}): PeerSample => ({ endpoint: "198.18.0.1:51820", latestHandshakeMs: T0, txBytes: 1000, rxBytes: 1000, ...over });

describe("endpoint policy", () => {
  test("idle and healthy: only the periodic refresh resolves", () => {
    let s = initialFollowState("198.18.0.1:51820", sample(), T0);
    for (let t = T0 + 5000; t < T0 + DEFAULT_REFRESH_MS; t += 5000) {
      s = observe(s, sample(), t);
      expect(resolveDue(s, sample(), t, DEFAULT_REFRESH_MS)).toBeNull();
    }
    expect(resolveDue(s, sample(), T0 + DEFAULT_REFRESH_MS, DEFAULT_REFRESH_MS)).toBe("refresh");
  });

  test("sending with no answer: failing after KEEPALIVE+REKEY timeouts, then retried at most every RETRY_MS", () => {
    let s = initialFollowState("198.18.0.1:51820", sample(), T0);
    let tx = 1000;
    let firstFailing = 0;
    for (let t = T0 + 5000; t <= T0 + 60_000; t += 5000) {
      tx += 148; // handshake initiations and data going out, nothing coming back
      const now = sample({ txBytes: tx });
      s = observe(s, now, t);
      if (firstFailing === 0 && resolveDue(s, now, t, DEFAULT_REFRESH_MS) === "failing") {
        firstFailing = t;
        s = { ...s, lastResolveMs: t };
      }
    }
    expect(firstFailing - T0).toBe(FAILING_AFTER_MS);
    const t = firstFailing + RETRY_MS - 5000;
    expect(resolveDue(s, sample({ txBytes: tx }), t, DEFAULT_REFRESH_MS)).toBeNull();
    expect(resolveDue(s, sample({ txBytes: tx }), firstFailing + RETRY_MS, DEFAULT_REFRESH_MS)).toBe("failing");
  });

  test("an answer (rx grows) ends failing at once", () => {
    let s = initialFollowState("198.18.0.1:51820", sample(), T0);
    s = observe(s, sample({ txBytes: 2000 }), T0 + 20_000);
    expect(isFailing(s, sample({ txBytes: 2000 }), T0 + 20_000)).toBe(true);
    s = observe(s, sample({ txBytes: 2100, rxBytes: 1100 }), T0 + 25_000);
    expect(isFailing(s, sample({ txBytes: 2100, rxBytes: 1100 }), T0 + 25_000)).toBe(false);
  });

  test("a changed record moves an endpoint that is where DNS said", () => {
    const s = initialFollowState("198.18.0.1:51820", sample(), T0);
    expect(chooseEndpoint(s, sample(), ["198.18.0.2:51820"], T0 + 1000)).toBe("198.18.0.2:51820");
    expect(chooseEndpoint(s, sample(), ["198.18.0.1:51820", "198.18.0.2:51820"], T0 + 1000)).toBeNull();
    expect(chooseEndpoint(s, sample(), [], T0 + 1000)).toBeNull();
  });

  test("a roamed endpoint that works is never overridden; one that stopped working is", () => {
    const s = initialFollowState("198.18.0.9:51820", sample(), T0);
    const roamed = sample({ endpoint: "198.18.0.7:40000", latestHandshakeMs: T0 + 1000 });
    expect(chooseEndpoint(s, roamed, ["198.18.0.9:51820"], T0 + 5000)).toBeNull();
    // Handshake long gone: the roamed address no longer proves anything.
    const stale = sample({ endpoint: "198.18.0.7:40000", latestHandshakeMs: T0 - 200_000 });
    expect(chooseEndpoint(s, stale, ["198.18.0.9:51820"], T0 + 5000)).toBe("198.18.0.9:51820");
    // Silent for a while (we send, nothing back) but its last handshake is still valid: it stays.
    let quiet = observe(s, sample({ txBytes: 5000 }), T0 + 20_000);
    quiet = observe(quiet, sample({ txBytes: 6000 }), T0 + 25_000);
    const silent = sample({ endpoint: "198.18.0.7:40000", latestHandshakeMs: T0 - 60_000, txBytes: 6000 });
    expect(isFailing(quiet, silent, T0 + 25_000)).toBe(true);
    expect(chooseEndpoint(quiet, silent, ["198.18.0.9:51820"], T0 + 25_000)).toBeNull();
  });
});
