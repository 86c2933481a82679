// Credentials alone: API key matching, bearer parsing, and receiver-token verification against forged tokens.
import t from 'tap'
import { SignJWT } from 'jose'
import { AuthFailure, PublisherKeys, ReceiverTokens, bearerCredential } from '../src/auth.js'

export const SECRET = 'test-secret-that-is-at-least-32-bytes-long'
const key = new TextEncoder().encode(SECRET)
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
const now = () => Math.floor(Date.now() / 1000)

t.test('PublisherKeys matches any configured key and nothing else', async t => {
  const keys = new PublisherKeys(['k'.repeat(24), 'rotated-key-000000000000'])
  t.ok(keys.enabled)
  t.equal(keys.match('k'.repeat(24)), 1)
  t.equal(keys.match('rotated-key-000000000000'), 2)
  t.equal(keys.match('k'.repeat(23)), 0)
  t.equal(keys.match(''), 0)
  t.notOk(new PublisherKeys([]).enabled)
  t.equal(new PublisherKeys([]).match('anything'), 0)
})

t.test('bearerCredential reads "Bearer <credential>" only', async t => {
  t.equal(bearerCredential('Bearer abc.def'), 'abc.def')
  t.equal(bearerCredential('bearer  abc'), 'abc', 'the scheme is case-insensitive')
  t.equal(bearerCredential(undefined), null)
  t.equal(bearerCredential('Basic dXNlcjpwYXNz'), null)
  t.equal(bearerCredential('Bearer'), null)
  t.equal(bearerCredential('Bearer a b'), null)
})

t.test('minted tokens verify for their user and topics', async t => {
  const tokens = new ReceiverTokens(SECRET)
  const minted = await tokens.mint('alice', ['news'], 60)
  t.match(minted.expiresAt, /^\d{4}-\d\d-\d\dT/)
  const verified = await tokens.verify(minted.token, 'alice', ['news'])
  t.same(verified.topics, ['news'])
  t.equal(verified.exp * 1000, Date.parse(minted.expiresAt))
  const any = await tokens.mint('alice', undefined, 60)
  t.same((await tokens.verify(any.token, 'alice', ['x', 'y'])).topics, null, 'no topics claim: any topic')
  const star = await tokens.mint('alice', ['*'], 60)
  t.same((await tokens.verify(star.token, 'alice', ['x'])).topics, ['*'])
})

t.test('every forged, stale or mismatched token is refused with the reason', async t => {
  const tokens = new ReceiverTokens(SECRET)
  const sign = (claims: Record<string, unknown>, alg = 'HS256', secret = key) => {
    let jwt = new SignJWT(claims).setProtectedHeader({ alg }).setSubject('alice')
    if (!('noExp' in claims)) jwt = jwt.setExpirationTime(now() + 60)
    return jwt.sign(secret)
  }
  const good = await sign({})
  const [header, payload, signature] = good.split('.') as [string, string, string]
  const cases: Array<[string, string, string[], number, RegExp]> = [
    ['expired', await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime(now() - 10).sign(key), [], 401, /^token expired$/],
    ['no exp', await sign({ noExp: true }), [], 401, /^token exp claim is missing$/],
    // Regression: these three said "claim is missing or invalid", or blamed the URL for a sub that is not a string.
    ['nbf in the future', await sign({ nbf: now() + 60 }), [], 401, /^token is not valid yet: its nbf claim is in the future \(check the clocks of the issuer and of this node\)$/],
    ['exp not a number', await sign({ noExp: true, exp: 'soon' }), [], 401, /^token exp claim is invalid$/],
    ['sub not a string', await new SignJWT({ sub: 123 as unknown as string }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(now() + 60).sign(key), [], 401, /^token sub claim must be a string: the user id$/],
    ['HS512 instead of HS256', await sign({}, 'HS512'), [], 401, /algorithm must be HS256/],
    ['alg none', `${b64({ alg: 'none' })}.${payload}.`, [], 401, /algorithm must be HS256|malformed/],
    ['wrong secret', await sign({}, 'HS256', new TextEncoder().encode('another-secret-that-is-32-bytes-long!!')), [], 401, /signature is invalid/],
    ['tampered payload', `${header}.${b64({ sub: 'mallory', exp: now() + 60 })}.${signature}`, [], 401, /signature is invalid/],
    ['garbage', 'not-a-jwt', [], 401, /malformed/],
    ['sub of another user', await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('bob').setExpirationTime(now() + 60).sign(key), [], 401, /sub does not match/],
    ['topic not in the claim', await sign({ topics: ['news'] }), ['news', 'admin'], 403, /does not allow topic "admin"/],
    ['topics claim not a list', await sign({ topics: 'news' }), [], 401, /topics claim must be an array/],
    // Regression: a token a shared secret signed for another service (its own aud) opened a connection here.
    ['aud of another service', await sign({ aud: 'billing' }), [], 401, /^token aud claim names another service: a receiver token has no aud, or "pushwire" among them$/],
    ['aud list without ours', await sign({ aud: ['billing', 'mail'] }), [], 401, /aud claim names another service/]
  ]
  for (const [name, token, topics, statusCode, message] of cases) {
    await t.rejects(tokens.verify(token, 'alice', topics), { name: 'AuthFailure', statusCode, message }, name)
  }
  t.type(new AuthFailure(403, 'x'), Error)
  for (const aud of ['pushwire', ['billing', 'pushwire']]) t.ok(await tokens.verify(await sign({ aud }), 'alice', []), `aud ${JSON.stringify(aud)}`)
})
