// A booted VM saved once and resumed by every later run: the cold boot's disk
// (a qcow2 over the image, frozen after the save) and the migration stream of
// its paused RAM and devices. Keyed by the image, the accelerator and the VM's
// hardware (which includes its name and addresses), so a resumed guest is
// always exactly the one that was saved.
import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Accel } from "./accel.ts";
import { cacheDir, inputKey, markUsed, sh, withLock } from "./cache.ts";
import type { Image } from "./image.ts";
import { hardwareArgs, type VmSpec } from "./qemu.ts";

export interface Snapshot {
  key: string;
  /** Frozen disk: run on an overlay of it, never on it. */
  disk: string;
  /** Migration stream for `-incoming exec:cat STATE`. */
  state: string;
}

/**
 * ensureSnapshot returns spec's snapshot, calling coldBoot(disk, statePath)
 * first when there is none: it must boot from disk, bring the guest to a
 * settled state and write the stream to statePath.
 */
export async function ensureSnapshot(
  spec: VmSpec,
  image: Image,
  accel: Accel,
  coldBoot: (disk: string, statePath: string) => Promise<void>,
): Promise<{ snapshot: Snapshot; created: boolean }> {
  const key = inputKey({ image: image.key, build: image.buildId, accel, hardware: hardwareArgs(spec, image, accel) });
  const dir = cacheDir("snap", key);
  const snapshot = { key, disk: join(dir, "disk.qcow2"), state: join(dir, "state") };
  return withLock(dir, async () => {
    if (existsSync(join(dir, "done"))) {
      markUsed(dir);
      return { snapshot, created: false };
    }
    rmSync(snapshot.disk, { force: true });
    await sh(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", image.rootImg, snapshot.disk]);
    const partial = `${snapshot.state}.tmp`;
    await coldBoot(snapshot.disk, partial);
    renameSync(partial, snapshot.state);
    writeFileSync(join(dir, "done"), `${spec.name}\n`);
    return { snapshot, created: true };
  });
}

/** overlayOn makes a throw-away qcow2 whose backing file is the snapshot's frozen disk. */
export async function overlayOn(snapshot: Snapshot, path: string): Promise<void> {
  await sh(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", snapshot.disk, path]);
}
