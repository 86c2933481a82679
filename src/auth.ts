// Credentials: publisher API keys (compared in constant time) and receiver JWTs (HS256 only, exp required).
import { createHash, timingSafeEqual } from 'node:crypto'
import { SignJWT, errors as jose, jwtVerify } from 'jose'

/** An authentication or authorization refusal, answered before any work is done. */
export class AuthFailure extends Error {
  constructor (readonly statusCode: 401 | 403, message: string) {
    super(message)
    this.name = 'AuthFailure'
  }
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest()

export class PublisherKeys {
  readonly #digests: Buffer[]

  constructor (keys: readonly string[]) {
    this.#digests = keys.map(sha256)
  }

  get enabled (): boolean { return this.#digests.length > 0 }

  /**
   * The 1-based number of the matching key, or 0. Digests have equal length, and every key is compared,
   * so the time taken tells nothing about how close a guess was or which key matched.
   */
  match (presented: string): number {
    const digest = sha256(presented)
    let found = 0
    this.#digests.forEach((candidate, index) => {
      if (timingSafeEqual(candidate, digest) && found === 0) found = index + 1
    })
    return found
  }
}

/** The credential of an `Authorization: Bearer <credential>` header, or null. */
export function bearerCredential (header: string | undefined): string | null {
  const match = /^Bearer +([^\s]+) *$/i.exec(header ?? '')
  return match === null ? null : match[1] as string
}

export interface VerifiedToken {
  /** Seconds since the epoch. */
  exp: number
  /** The topics the token allows, or null when it has no topics claim (any topic). */
  topics: string[] | null
}

const ALGORITHM = 'HS256'
/** The aud a receiver token may carry; tokens without one are ours too (those /tokens mints, and most backends'). */
const AUDIENCE = 'pushwire'

export class ReceiverTokens {
  readonly #key: Uint8Array

  constructor (secret: string) {
    this.#key = new TextEncoder().encode(secret)
  }

  async mint (userId: string, topics: string[] | undefined, ttlSeconds: number): Promise<{ token: string, expiresAt: string }> {
    // exp is in whole seconds: rounded up, so the token lives at least ttlSeconds (down, a 1 s token could last 1 ms).
    const exp = Math.ceil(Date.now() / 1000) + ttlSeconds
    const token = await new SignJWT(topics === undefined ? {} : { topics })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(this.#key)
    return { token, expiresAt: new Date(exp * 1000).toISOString() }
  }

  /** Verifies a receiver token for a user and the topics it asks for; throws AuthFailure (401 or 403). */
  async verify (token: string, userId: string, topics: readonly string[]): Promise<VerifiedToken> {
    let payload
    try {
      ({ payload } = await jwtVerify(token, this.#key, { algorithms: [ALGORITHM], requiredClaims: ['exp', 'sub'] }))
    } catch (err) {
      throw new AuthFailure(401, describeJoseError(err))
    }
    if (typeof payload.sub !== 'string') throw new AuthFailure(401, 'token sub claim must be a string: the user id')
    if (payload.sub !== userId) throw new AuthFailure(401, 'token sub does not match the user id in the URL')
    // A secret shared with other services must not let their tokens in: an aud, when there is one, must name us.
    if (payload.aud !== undefined && ![payload.aud].flat().includes(AUDIENCE)) {
      throw new AuthFailure(401, `token aud claim names another service: a receiver token has no aud, or "${AUDIENCE}" among them`)
    }
    const allowed = parseTopicsClaim(payload.topics)
    if (allowed !== null && !allowed.includes('*')) {
      const denied = topics.find(topic => !allowed.includes(topic))
      if (denied !== undefined) throw new AuthFailure(403, `token does not allow topic ${JSON.stringify(denied)}`)
    }
    return { exp: payload.exp as number, topics: allowed }
  }
}

function parseTopicsClaim (claim: unknown): string[] | null {
  if (claim === undefined) return null
  if (Array.isArray(claim) && claim.every(topic => typeof topic === 'string')) return claim
  throw new AuthFailure(401, 'token topics claim must be an array of strings')
}

function describeJoseError (err: unknown): string {
  if (err instanceof jose.JWTExpired) return 'token expired'
  if (err instanceof jose.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return `token ${err.claim} claim is missing`
    // jose checks no other claim against the clock here: exp has an error of its own, and iat is not checked.
    if (err.claim === 'nbf' && err.reason === 'check_failed') return 'token is not valid yet: its nbf claim is in the future (check the clocks of the issuer and of this node)'
    return `token ${err.claim} claim is invalid`
  }
  if (err instanceof jose.JOSEAlgNotAllowed) return `token algorithm must be ${ALGORITHM}`
  if (err instanceof jose.JWSSignatureVerificationFailed) return 'token signature is invalid'
  return 'token is malformed'
}
