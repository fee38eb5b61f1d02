import type { ContainerState } from '@berth/core';

/** Docker's human duration: "Less than a second", "5 seconds", "About a minute", "3 hours", "2 weeks". */
export function humanDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.round(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.round(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.round(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.round(hours / 24 / 30)} months`;
  return `${Math.round(hours / 24 / 365)} years`;
}

/** The STATUS column of `docker ps`: "Up 3 seconds", "Exited (3) 5 minutes ago", "Created". */
export function statusText(state: ContainerState, now = Date.now()): string {
  switch (state.Status) {
    case 'running':
      return `Up ${humanDuration(now - Date.parse(state.StartedAt))}`;
    case 'paused':
      return `Up ${humanDuration(now - Date.parse(state.StartedAt))} (Paused)`;
    case 'restarting':
      return `Restarting (${state.ExitCode}) ${humanDuration(now - Date.parse(state.FinishedAt))} ago`;
    case 'exited':
      return `Exited (${state.ExitCode}) ${humanDuration(now - Date.parse(state.FinishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}
