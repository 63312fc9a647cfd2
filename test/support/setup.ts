// Preloaded by bunfig.toml for every test file: deterministic, colour-free output.
process.env.NO_COLOR = "1";
