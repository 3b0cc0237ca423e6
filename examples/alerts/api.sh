#!/bin/sh
# examples/alerts/api.sh — channels, rules, tests, history, insights and
# what-if through the admin API. Needs MOONGATE (URL) and MOONGATE_TOKEN.
set -eu
U=${MOONGATE:-http://127.0.0.1:8080}
H="authorization: Bearer ${MOONGATE_TOKEN:?set MOONGATE_TOKEN to the admin token}"
api() { curl -sS -X "$1" -H "$H" -H 'content-type: application/json' "$U$2" ${3:+-d "$3"}; echo; }

# Channels (secrets are never shown back).
api POST /api/alerts/channels '{"name":"ops-slack","type":"slack","url":"https://hooks.slack.com/services/T000/B000/XXXX"}'
api POST /api/alerts/channels '{"name":"oncall-mail","type":"email","url":"smtp://mail.example.com:587","from":"moongate@example.com","to":["oncall@example.com"],"username":"moongate","password":"app-password"}'
api POST /api/alerts/channels '{"name":"signed","type":"webhook","url":"https://example.com/hook","secret":"change-me"}'
api POST /api/alerts/test '{"channel":"ops-slack"}'

# A rule stored in SQLite, evaluated beside the policy rules.
api POST /api/alerts/rules '{"name":"openai_errors","metric":"error_rate","window":"10m","threshold":0.05,"min_samples":20,"filters":{"provider":"openai"},"channels":["ops-slack"]}'
api PATCH /api/alerts/rules/openai_errors '{"threshold":0.1}'
api POST /api/alerts/mute '{"rule":"openai_errors","seconds":3600}'
api GET /api/alerts/rules
api GET /api/alerts/active
api GET '/api/alerts/history?limit=20'

# Insights: run now, then act on one by id.
api POST /api/insights/generate
# api POST /api/insights/action '{"id":"<id>","action":"apply"}'

# What-if: would routing short prompts to a small model have paid off?
api POST /api/whatif '{"since":"7d","policy":"return { route = function(req) if (req.tokens_in or 0) < 1000 then return \"gpt-4o-mini\" end end }"}'
