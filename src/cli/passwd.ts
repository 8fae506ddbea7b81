// `paas-router passwd <user>`: prints a `user:$scrypt$...` line for listen_auth_file. The password
// comes from standard input (first line), or from a prompt without echo on a terminal.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { hashPassword } from '../server/auth.js';
import { EXIT_OK, EXIT_USAGE } from './common.js';

async function readPassword(input: NodeJS.ReadStream, err: NodeJS.WritableStream): Promise<string> {
  if (input.isTTY) {
    err.write('password: ');
    const muted = new Writable({ write: (_chunk, _enc, cb) => cb() });
    const rl = createInterface({ input, output: muted, terminal: true });
    const line = await new Promise<string>((resolve) => rl.once('line', resolve));
    rl.close();
    err.write('\n');
    return line;
  }
  let text = '';
  for await (const chunk of input) text += chunk;
  return text.split(/\r?\n/)[0] ?? '';
}

export async function passwdCommand(user: string, input: NodeJS.ReadStream, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  if (user === '' || /[\s:]/.test(user)) {
    err.write('paas-router: a user name may not be empty or contain spaces or ":"\n');
    return EXIT_USAGE;
  }
  const password = await readPassword(input, err);
  if (password.length < 12) {
    err.write('paas-router: the password must be at least 12 characters long\n');
    return EXIT_USAGE;
  }
  out.write(`${user}:${await hashPassword(password)}\n`);
  return EXIT_OK;
}
