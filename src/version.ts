// The version printed by `tunnel --version`. package.json is bundled into the
// compiled binary, so this works with no files next to the executable.
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
