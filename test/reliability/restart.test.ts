// kill -9 of a daemon with a live session, then the operator's restart
// (`tunnel up FILE` again): how long until traffic flows again. The killed
// side has lost its keys, so it must be the one to speak first (a restarted
// responder cannot decrypt the old session; the peer only re-handshakes on
// its own after REKEY_TIMEOUT + KEEPALIVE_TIMEOUT, as in every WireGuard),
// and once it has, both directions must work with no loss.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { describePrivileged } from "../support/privileges.ts";
import { alive, daemonPid, pingStats, startTopology, up, type Topology } from "./harness.ts";

const PREFIX = "rrs";
/** TIME_TO_TRAFFIC_MS bounds kill -9 → `tunnel up` → first answered ping (binary start, TUN, one handshake). */
const TIME_TO_TRAFFIC_MS = 5000;

describePrivileged("reliability: kill -9 and restart", { root: true, commands: ["ip", "ping"] }, () => {
  let t: Topology;

  beforeAll(async () => {
    t = await startTopology(PREFIX, 74, 52130);
  }, 60_000);

  afterAll(() => t?.stop());

  test(`after kill -9, tunnel up brings traffic back within ${TIME_TO_TRAFFIC_MS / 1000} s`, async () => {
    for (let round = 0; round < 2; round++) {
      const pid = daemonPid(t.nsB, t.names.b);
      process.kill(pid, "SIGKILL");
      const killedAt = performance.now();
      while (alive(pid) && performance.now() - killedAt < 3000) await Bun.sleep(10);
      expect(alive(pid)).toBe(false);
      up(t.bin, t.nsB, t.configs.b);
      const upMs = performance.now() - killedAt;
      let firstReplyMs: number | null = null;
      while (performance.now() - killedAt < TIME_TO_TRAFFIC_MS + 5000) {
        const out = t.nsB.exec(["ping", "-c", "1", "-W", "0.5", t.inner.a], { allowFail: true });
        if (out.includes(" 0% packet loss")) {
          firstReplyMs = performance.now() - killedAt;
          break;
        }
      }
      const both = [await pingStats(t.nsB, t.inner.a, 10, 0.05), await pingStats(t.nsA, t.inner.b, 10, 0.05)];
      const newPid = daemonPid(t.nsB, t.names.b);
      console.log(
        `restart ${round + 1}: tunnel up returned ${(upMs / 1000).toFixed(2)} s after kill -9; first answered ping at ${firstReplyMs === null ? "never" : `${(firstReplyMs / 1000).toFixed(2)} s`}; loss after: B→A ${both[0]!.lossPercent} %, A→B ${both[1]!.lossPercent} %`,
      );
      expect(newPid).not.toBe(pid);
      expect(firstReplyMs).not.toBeNull();
      expect(firstReplyMs!).toBeLessThanOrEqual(TIME_TO_TRAFFIC_MS);
      expect(both.map((p) => p.lossPercent)).toEqual([0, 0]);
    }
  }, 60_000);
});
