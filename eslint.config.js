// Flat config: typescript-eslint's recommended rules on every TypeScript source.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "deploy/", "node_modules/", "coverage/", ".tmp/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        setImmediate: "readonly",
        URL: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
    },
  },
  {
    // The deployment kit reaches the runtime only through its shared names and the protocol, so
    // synthesis never loads the server (test/kit/bundle.test.ts proves the bundle stays clean).
    files: ["constructs/**/*.ts", "stacks/**/*.ts", "policies/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: ["zeromq", "nats", "prom-client", "pino"].map((name) => ({
            name,
            message: "The kit (constructs, stacks, policies) must not load runtime packages.",
          })),
          patterns: [
            {
              regex: "(^|/)runtime/(?!config/names\\.js$|protocol/)",
              message:
                "The kit imports only runtime/config/names.js and runtime/protocol/ (no I/O, no runtime packages).",
            },
          ],
        },
      ],
    },
  },
);
