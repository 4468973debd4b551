// A CommonJS module in both builds (the .cts extension makes tsc emit .cjs), so it can load
// optional native peers synchronously from the ES module build too: `session({ encrypt: true })`
// then fails at start-up, not on a request, when sodium-native is missing.
import { createRequire } from 'node:module';

export const nativeRequire: NodeJS.Require = createRequire(__filename);
