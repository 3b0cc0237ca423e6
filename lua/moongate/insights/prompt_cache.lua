-- prompt_cache — prompt prefixes sent again and again without provider
-- cache hits (the same system prompt or first 1 KiB of prompt), and
-- senders whose system prompt changes on nearly every request — a sign of
-- a timestamp or id early in it that breaks every cache.
-- Saving estimate: each repeat after the first reads CACHEABLE_TOKENS
-- (the 1 KiB the prefix hash covers, ~256 tokens) at the cached-read price
-- instead of the input price, scaled from 7 days to 30.

local M = { name = "prompt_cache" }

local MIN_REPEATS = 5
local CACHEABLE_TOKENS = 256
local MAX_HIT_RATE = 0.2

function M.generate(data, u)
  local out = {}
  local total, count, examples = 0, 0, {}
  for _, r in ipairs(data.prompt_repeats or {}) do
    if r.count >= MIN_REPEATS and r.price and r.tokens_input > 0
        and r.cached_read / r.tokens_input < MAX_HIT_RATE then
      local cached = (r.price.cached_read or 0) > 0 and r.price.cached_read or r.price.input
      local per = math.min(r.tokens_input, CACHEABLE_TOKENS) * (r.price.input - cached) / 1e6
      local saving = (r.count - 1) * per * 30 / 7
      if saving > 0 then
        total, count = total + saving, count + 1
        if #examples < 3 then
          examples[#examples + 1] = string.format("a %s prompt sent %d times to %s (%s cached)",
            r.kind, r.count, r.model, u.pct(r.cached_read / r.tokens_input))
        end
      end
    end
  end
  if count > 0 and total >= 0.01 then
    out[#out + 1] = {
      key = "repeats",
      priority = total >= 10 and 2 or 3,
      title = string.format("%d repeated prompt prefix%s could be cache hits", count, count == 1 and "" or "es"),
      explanation = string.format("In the last 7 days: %s. Enabling prompt caching for them " ..
        "(stable prefix first, cache_control for Anthropic) would save about %s a month.",
        table.concat(examples, "; "), u.usd(total)),
      monthly_saving = total,
      actions = { { action = "dismiss", label = "Dismiss" } },
    }
  end
  for _, c in ipairs(data.prompt_churn or {}) do
    if c.requests >= 20 and c.distinct_system / c.requests >= 0.9 then
      out[#out + 1] = {
        key = "churn:" .. c.who,
        priority = 2,
        title = "System prompt changes on almost every request (" .. c.who .. ")",
        explanation = string.format("%d requests from %s carried %d different system prompts. " ..
          "Something variable sits in the system prompt — a timestamp, a UUID, a counter — and " ..
          "no provider cache can reuse it. Move the variable part to the end of the prompt.",
          c.requests, c.who, c.distinct_system),
        actions = { { action = "dismiss", label = "Dismiss" } },
      }
    end
  end
  return out
end

return M
