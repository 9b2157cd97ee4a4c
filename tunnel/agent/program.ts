import type { Program } from '../../lib/program.js';
import { resolveConfig, type AgentConfig } from './config.js';
import { parseOptions, usage, type AgentOptions } from './options.js';
import { startAgent } from './start.js';

export const program: Program<AgentOptions, AgentConfig> = { parseOptions, usage, resolveConfig, start: startAgent };
