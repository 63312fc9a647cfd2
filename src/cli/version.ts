import { defineCommand } from "citty";
import { VERSION } from "../version.ts";
import { writeData } from "./log.ts";

export default defineCommand({
  meta: { name: "version", description: "Print the version" },
  run() {
    writeData(VERSION);
  },
});
