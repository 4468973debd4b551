// CommonJS entry: `require('koa-session-store')` returns the factory itself,
// as 2.0 did, with the named exports hanging off it.
import { session } from './middleware.js';
import * as api from './index.js';

const factory = Object.assign(session, { ...api, session, default: session });

export = factory;
