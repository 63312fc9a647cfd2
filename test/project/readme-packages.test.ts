// The README's test section lists the Debian packages `npm test` installs;
// the list the installer reads is test/support/debian-packages.ts. They
// must not drift apart.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { DEBIAN_TEST_PACKAGES } from "../support/debian-packages.ts";

test("the README names exactly the packages install-deps.ts installs, in its order", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const m = /The list is `test\/support\/debian-packages\.ts`:\s*`([^`]+)`/.exec(readme);
  expect(m).not.toBeNull();
  expect(m![1]!.split(/\s+/)).toEqual([...DEBIAN_TEST_PACKAGES]);
});
