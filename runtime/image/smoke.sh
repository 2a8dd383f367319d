#!/usr/bin/env bash
# Smoke-tests the runtime image built by `npm run image`: see runtime/image/smoke-test.ts.
# Usage: runtime/image/smoke.sh [IMAGE]     (default zeroplane:<package.json version>)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/../.."
# shellcheck source=engine.sh
source "$here/engine.sh"
exec npx --no-install tsx runtime/image/smoke-test.ts "$@"
