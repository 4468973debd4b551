/**
 * The server-side script behind `RedisStore.patch`.
 *
 * It runs on the session's single key, so Redis applies it atomically and it
 * works unchanged on Redis Cluster. It never decodes values: Redis' cjson turns
 * `[]` into `{}` and rounds numbers to 14 digits, so instead a small scanner
 * walks the top level of the stored object and keeps the exact text of every
 * value the patch does not touch.
 *
 * KEYS[1]  the session key
 * ARGV[1]  time to live in milliseconds, or '' for none
 * ARGV[2]  the JSON the patch was computed against, or '' (SessionPatch.base)
 * ARGV[3]  the whole JSON after the patch, or '' (SessionPatch.result)
 * ARGV[4]  n, the number of keys to set
 * ARGV[5 .. 4+2n]  pairs of (key as a JSON string token, value as JSON text)
 * ARGV[5+2n ..]    keys to delete, as JSON string tokens
 *
 * When the stored text is still exactly ARGV[2], nobody has written the
 * session since the middleware loaded it, and ARGV[3] is written whole: that
 * skips the scanner, which costs Redis several times a plain SET.
 *
 * Keys are compared as raw JSON tokens: the middleware and the stored text both
 * come from `JSON.stringify`, which always spells a given key the same way.
 *
 * Returns 1 when applied, 0 when the key does not exist (nothing is written, so
 * a patch never resurrects a destroyed or expired session).
 */
export const PATCH_SCRIPT = String.raw`
local text = redis.call('GET', KEYS[1])
if not text then return 0 end
local ttl = ARGV[1]

local function write(json)
  if ttl == '' then
    redis.call('SET', KEYS[1], json)
  else
    redis.call('SET', KEYS[1], json, 'PX', ttl)
  end
  return 1
end

if ARGV[2] ~= '' and text == ARGV[2] then return write(ARGV[3]) end

local find, sub, byte = string.find, string.sub, string.byte
local QUOTE, BACKSLASH, COMMA, COLON = 34, 92, 44, 58
local LBRACE, RBRACE, LBRACKET, RBRACKET = 123, 125, 91, 93

local function fail(why)
  -- the key names a session id, a credential, so it stays out of the message
  error('the stored session is not a JSON object (' .. why .. '); delete its key or save the session again', 0)
end

-- Index of the first non-whitespace character at or after i (JSON whitespace only).
local function skip_ws(i)
  local j = find(text, '[^ \t\n\r]', i)
  if not j then fail('unexpected end') end
  return j
end

-- i is at an opening quote; returns the index of the matching closing quote.
local function string_end(i)
  local j = i + 1
  while true do
    local k = find(text, '["\\]', j)
    if not k then fail('unterminated string') end
    if byte(text, k) == BACKSLASH then
      j = k + 2
    else
      return k
    end
  end
end

-- i is at the first character of a value; returns the index of its last
-- character. Strings are jumped over whole, so braces, brackets and commas
-- inside them do not count.
local function value_end(i)
  local depth = 0
  local j = i
  while true do
    local k = find(text, '["{}%[%],]', j)
    if not k then fail('unexpected end in a value') end
    local c = byte(text, k)
    if c == QUOTE then
      j = string_end(k) + 1
    elseif c == LBRACE or c == LBRACKET then
      depth = depth + 1
      j = k + 1
    elseif depth == 0 then
      -- a comma or closing brace of the top-level object ends the value
      if c == RBRACKET then fail('unbalanced ]') end
      local e = k - 1
      while e >= i do
        local b = byte(text, e)
        if b ~= 32 and b ~= 9 and b ~= 10 and b ~= 13 then break end
        e = e - 1
      end
      if e < i then fail('missing value') end
      return e
    elseif c == COMMA then
      j = k + 1
    else
      depth = depth - 1
      j = k + 1
    end
  end
end

-- Builds the patched text; raises fail() on text that is not a JSON object.
local function rebuild()
  local nset = tonumber(ARGV[4])
  local set, unset = {}, {}
  for n = 1, nset do
    set[ARGV[3 + 2 * n]] = ARGV[4 + 2 * n]
  end
  for n = 5 + 2 * nset, #ARGV do
    unset[ARGV[n]] = true
  end

  local out = {}
  local written = {}
  local i = skip_ws(1)
  if byte(text, i) ~= LBRACE then fail('does not start with {') end
  i = skip_ws(i + 1)
  if byte(text, i) ~= RBRACE then
    while true do
      if byte(text, i) ~= QUOTE then fail('expected a key') end
      local ke = string_end(i)
      local key = sub(text, i, ke)
      i = skip_ws(ke + 1)
      if byte(text, i) ~= COLON then fail('expected :') end
      i = skip_ws(i + 1)
      local ve = value_end(i)
      local replacement = set[key]
      if replacement then
        if not written[key] then
          out[#out + 1] = key .. ':' .. replacement
          written[key] = true
        end
      elseif not unset[key] then
        out[#out + 1] = key .. ':' .. sub(text, i, ve)
      end
      i = skip_ws(ve + 1)
      local c = byte(text, i)
      if c == RBRACE then break end
      if c ~= COMMA then fail('expected , or }') end
      i = skip_ws(i + 1)
    end
  end

  -- keys the stored object did not have yet, in the order the patch lists them
  for n = 1, nset do
    local key = ARGV[3 + 2 * n]
    if not written[key] then
      out[#out + 1] = key .. ':' .. ARGV[4 + 2 * n]
      written[key] = true
    end
  end

  return '{' .. table.concat(out, ',') .. '}'
end

local ok, json = pcall(rebuild)
if not ok then return redis.error_reply(json) end
return write(json)
`;
