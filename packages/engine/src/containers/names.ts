import { randomBytes, randomInt } from 'node:crypto';
import { InvalidArgument } from '@berth/core';

const adjectives = [
  'brave',
  'calm',
  'eager',
  'fond',
  'gentle',
  'happy',
  'keen',
  'lucid',
  'merry',
  'nimble',
  'proud',
  'quiet',
  'rapid',
  'sharp',
  'steady',
  'swift',
  'tidy',
  'vivid',
  'warm',
  'witty',
  'bold',
  'clever',
  'daring',
  'frosty',
  'golden',
  'humble',
  'jolly',
  'lively',
  'mellow',
  'patient',
];
// Harbours and ports, for an engine named after a ship's berth.
const places = [
  'aden',
  'bergen',
  'cadiz',
  'dover',
  'esbjerg',
  'flensburg',
  'genoa',
  'hamburg',
  'izmir',
  'kiel',
  'lisbon',
  'malta',
  'naples',
  'oslo',
  'piraeus',
  'rotterdam',
  'split',
  'tallinn',
  'trieste',
  'valletta',
  'antwerp',
  'bilbao',
  'calais',
  'gdansk',
  'hull',
  'leith',
  'marseille',
  'rijeka',
  'stavanger',
  'tromso',
];

/** A fresh container id: 64 lowercase hex characters. */
export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

/** A readable name like `brave_lisbon`, avoiding those `taken` reports as used. */
export function generateName(taken: (name: string) => boolean): string {
  for (let i = 0; i < 50; i++) {
    const name = `${adjectives[randomInt(adjectives.length)]}_${places[randomInt(places.length)]}`;
    if (!taken(name)) return name;
  }
  for (;;) {
    const name = `${adjectives[randomInt(adjectives.length)]}_${places[randomInt(places.length)]}${randomInt(1000)}`;
    if (!taken(name)) return name;
  }
}

// Docker's character set. Docker also demands two characters at least; berth accepts
// one (`--name x`), which no valid Docker name conflicts with.
const validName = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Check a user-given name (Docker's characters); returns it without a leading slash. */
export function validateName(name: string): string {
  if (!validName.test(name)) {
    throw new InvalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.startsWith('/') ? name.slice(1) : name;
}
