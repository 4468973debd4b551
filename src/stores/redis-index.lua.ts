/**
 * The server-side script behind `RedisStore.indexSession`: an upsert into one
 * user's hash (field = session id, value = the entry as JSON) that also drops
 * the user's expired entries and sets the hash's own expiry, in one atomic
 * step on the user's key.
 *
 * KEYS[1]  the user's hash
 * KEYS[2]  the session's key, only where both keys may go in one command (not
 *          on a Cluster, where they live in different slots); without it the
 *          caller has checked that the session exists before
 * ARGV[1]  the session id (the field)
 * ARGV[2]  now, in ms since the epoch, by the clock that computed expiresAt
 * ARGV[3]  the entry's head: `{"expiresAt":<ms or null>,"lastActiveAt":<ms>,`
 * ARGV[4]  the entry's tail: `"createdAt":<ms>,"userAgent":<JSON string>}`
 *
 * Values are never decoded with cjson (it would round numbers and respell
 * strings): every value this store writes starts with the same two members,
 * and neither a JSON number nor null holds a comma, so plain patterns read
 * them. A field whose value does not start that way was not written by this
 * store; it can neither be listed nor expire, so it is dropped.
 *
 * The hash lives until its latest entry expires (PEXPIRE relative to ARGV[2],
 * so clock skew between the app and Redis does not matter), or for ever when
 * an entry never expires (PERSIST).
 *
 * Returns 1 when the entry was written, 0 when KEYS[2] was given and does not
 * exist (a session removed meanwhile stays out of the index).
 */
export const INDEX_SCRIPT = String.raw`
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local user, sid, now = KEYS[1], ARGV[1], tonumber(ARGV[2])

-- an entry already indexed keeps its createdAt and userAgent
local known = redis.call('HGET', user, sid)
local tail = known and string.match(known, '^{"expiresAt":[^,]*,"lastActiveAt":[^,]*,("createdAt":.*)$') or ARGV[4]
redis.call('HSET', user, sid, ARGV[3] .. tail)

local latest, forever = nil, false
local fields = redis.call('HGETALL', user)
for i = 1, #fields, 2 do
  local expires = string.match(fields[i + 1], '^{"expiresAt":([^,]*),"lastActiveAt":')
  local at = tonumber(expires)
  if expires == 'null' then
    forever = true
  elseif at and at > now then
    if not latest or at > latest then latest = at end
  else
    redis.call('HDEL', user, fields[i])
  end
end

if forever then
  redis.call('PERSIST', user)
elseif latest then
  redis.call('PEXPIRE', user, string.format('%.0f', math.ceil(latest - now)))
end
return 1
`;
