// What the client does after a close or a refused upgrade, and when it replaces a connection whose token expires:
// the whole reconnect policy, in pure functions.

/** reconnect: try again after a backoff; refresh: get a fresh token first; stop: reconnecting cannot help. */
export type Action = 'reconnect' | 'refresh' | 'stop'

/** Codes after which the same request would fail the same way: policy (1008) and client bugs. */
const STOP_CODES = new Set([1002, 1003, 1007, 1008, 1009, 1010])
const TOKEN_EXPIRED = 4001

/**
 * After a close of an open connection. 1001 (server restarting), 1006 (connection lost), 1011 (server error),
 * 1012 and 1013 (try again later) and a plain 1000 from the server all reconnect; 4001 refreshes the token;
 * any other application code (4000-4999) stops, since the client cannot know it is safe to retry.
 */
export function afterClose (code: number): Action {
  if (code === TOKEN_EXPIRED) return 'refresh'
  if (STOP_CODES.has(code) || code >= 4000) return 'stop'
  return 'reconnect'
}

/**
 * After an upgrade that never opened, given the HTTP status the server answers a plain GET of the same URL with
 * (null when the server could not be reached). 426 means that GET passed every check, so the failure was transient.
 */
export function afterRefusal (status: number | null): Action {
  if (status === 401) return 'refresh'
  if (status === 400 || status === 403 || status === 404) return 'stop'
  return 'reconnect'
}

/** Exponential backoff with full jitter: a uniform delay in [0, min(max, initial × 2^attempt)). */
export function backoffDelay (attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}

/** The longest delay a timer takes: a longer one, like Infinity, NaN or 0, fires at once, in browsers and Node alike. */
export const MAX_TIMER_MS = 2 ** 31 - 1
/** How long before its token expires a connection's successor is opened, at most; a quarter of its lifetime at least. */
const REFRESH_LEAD_MS = 30_000
/**
 * A token with less left than this is left to expire (4001, then getToken): refreshing it could not finish in time,
 * and a clock far enough ahead of the server's would otherwise replace every fresh token at once, again and again.
 */
const MIN_REFRESHABLE_MS = 1000

/** When to open a connection's successor, in ms from now, for a token expiring at expiresAt; undefined: do not. */
export function refreshDelay (expiresAt: number, now: number): number | undefined {
  const remainingMs = expiresAt - now
  if (!(remainingMs >= MIN_REFRESHABLE_MS)) return undefined
  return Math.min(MAX_TIMER_MS, remainingMs - Math.min(REFRESH_LEAD_MS, remainingMs / 4))
}

/** When a JWT expires (ms since the epoch), read from its payload without verifying it; undefined for any other text. */
export function tokenExpiry (token: string): number | undefined {
  try {
    const payload = token.split('.')[1] ?? ''
    const { exp } = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown }
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}
