import { constants as osConstants } from 'node:os';
import { InvalidArgument } from '@berth/core';

const signalNumbers: Record<string, string> = {
  '1': 'SIGHUP',
  '2': 'SIGINT',
  '3': 'SIGQUIT',
  '6': 'SIGABRT',
  '9': 'SIGKILL',
  '10': 'SIGUSR1',
  '12': 'SIGUSR2',
  '14': 'SIGALRM',
  '15': 'SIGTERM',
  '17': 'SIGCHLD',
  '18': 'SIGCONT',
  '19': 'SIGSTOP',
  '20': 'SIGTSTP',
};

/** `HUP`, `sighup`, `SIGHUP` and `1` all become `SIGHUP`; anything else is an InvalidArgument. */
export function normaliseSignal(signal: string): string {
  const s = signal.trim().toUpperCase();
  if (signalNumbers[s]) return signalNumbers[s];
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  if (!(name in osConstants.signals)) throw new InvalidArgument(`Invalid signal: ${signal}`);
  return name;
}
