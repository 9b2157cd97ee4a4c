import type { Program } from '../../lib/program.js';
import { resolveConfig, type ServerConfig } from './config.js';
import { parseOptions, usage, type ServerOptions } from './options.js';
import { startServer } from './start.js';

export const program: Program<ServerOptions, ServerConfig> = { parseOptions, usage, resolveConfig, start: startServer };
