import { synthesizePlatform, exampleSpec } from "./constructs/index.js";
import { writeFileSync, mkdirSync } from "node:fs";
mkdirSync("/tmp/zp-synth", { recursive: true });
for (const env of ["dev","staging","prod"] as const) writeFileSync(`/tmp/zp-synth/${env}.yaml`, synthesizePlatform(exampleSpec(env)).yaml);
