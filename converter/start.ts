/**
 * yurtctl as a one-shot command for lib/program.ts's runCommand: argv parsed (options.ts), then the
 * command dispatched (commands.ts). Every failure ends as one line `yurtctl <command>: <message>
 * (<CODE>)` on stderr and an exit code derived from the code's status (docs/converter.md).
 */
import { isYurtError } from '../lib/errors.js';
import { commandExitCode, type Command, type CommandDeps, type CommandIo } from '../lib/program.js';
import { convert, doctor, node, nodeDoctor, revert, status } from './commands.js';
import { upgrade } from './upgrade.js';
import { exitCodeFor } from './errors.js';
import { parseCommand } from './options.js';
import { cliVersion } from './version.js';

export type Io = CommandIo;

async function dispatch(argv: string[], deps: CommandDeps): Promise<number> {
  const command = parseCommand(argv, deps.env);
  switch (command.cmd) {
    case 'help':
      deps.stdout.write(`${command.text}\n`);
      return 0;
    case 'version':
      deps.stdout.write(`yurtctl ${cliVersion()}\n`);
      return 0;
    case 'convert':
      return convert(command.options, deps);
    case 'upgrade':
      return upgrade(command.options, deps);
    case 'revert':
      return revert(command.options, deps);
    case 'status':
      return status(command.options, deps);
    case 'node':
      return node(command.options, deps);
    case 'doctor':
      return doctor(command.options, deps);
    case 'node-doctor':
      return nodeDoctor(command.options, deps);
  }
}

export const yurtctl: Command = {
  commandName: (argv) => {
    const name = argv[0] === 'node' && argv[1] && !argv[1].startsWith('-') ? `node ${argv[1]}` : (argv[0] ?? '');
    return name.startsWith('-') ? '' : name;
  },
  start: dispatch,
  exitCode: (err) => (isYurtError(err) ? exitCodeFor(err.statusCode) : 1),
  // Not one of yurtctl's failures: a bug, so the stack goes with it.
  unexpected: (err) => `${(err as Error)?.stack ?? String(err)} (CNV_ERR_INTERNAL)`,
};

/** One yurtctl run on `io`: the exit code (what main.ts does, minus the process). */
export function run(argv: string[], io: Io): Promise<number> {
  return commandExitCode('yurtctl', () => yurtctl, argv, io);
}
