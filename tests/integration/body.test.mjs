// body.test.mjs — what the upstream receives. The client's body goes up
// byte for byte; when the gateway must change a field (the model a route
// picked, or OpenAI stream usage it always asks for) the change is spliced
// into the client's bytes: numbers, escapes, key order and spacing the
// client wrote stay exactly as written. On the way back, a stream whose
// usage chunk the client did not ask for reaches it byte for byte without
// that chunk, however the upstream's writes split it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startGateway, stop, post, recordOf } from './lib.mjs';

let upstream, gw;
const received = [];
let receivedHeaders = {};

// A stream with a comment, CRLF line ends and the usage chunk, written in
// 37-byte pieces so that events, line ends and the usage chunk are split.
const CHUNK = (delta) => `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"frag","choices":[{"index":0,"delta":${delta},"finish_reason":null}],"usage":null}`;
const FRAG_KEPT = [
  `: keep-alive\r\ndata: ${CHUNK('{"content":"a \\"quoted\\" word"}')}\r\n\r\n`,
  `data: ${CHUNK('{"content":"b"}')}\n\n`,
];
const FRAG_USAGE = 'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"frag","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n';
const FRAG_DONE = 'data: [DONE]\n\n';

async function writeFragmented(res) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const whole = FRAG_KEPT.join('') + FRAG_USAGE + FRAG_DONE;
  for (let i = 0; i < whole.length; i += 37) {
    res.write(whole.slice(i, i + 37));
    await new Promise((r) => setTimeout(r, 3));
  }
  res.end();
}

before(async () => {
  upstream = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      received.push(body);
      receivedHeaders = req.headers;
      if (/"model"\s*:\s*"frag"/.test(body)) {
        writeFragmented(res);
        return;
      }
      const stream = /"stream"\s*:\s*true/.test(body);
      if (!stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}\n\n');
      res.write('data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n');
      res.write('data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n');
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${upstream.address().port}/v1`;
  gw = await startGateway({
    providers: `{ name = "up", format = "openai", base_url = "${url}", api_key = "k", models = { "m", "other", "frag" } },`,
    policies: { 'alias.lua': 'return { route = function(req) if req.model == "alias" then return "up/other" end end }\n' },
  });
});

after(async () => {
  await stop(gw.proc);
  upstream.close();
});

async function forwarded(body) {
  received.length = 0;
  const r = await post(`${gw.url}/v1/chat/completions`, body);
  assert.equal(r.status, 200, r.text);
  assert.equal(received.length, 1);
  return received[0];
}

const MSG = '"messages":[{"role":"user","content":"caf\\u00e9 \\"q\\" 1.0"}]';

test('an unchanged body goes up byte for byte', async () => {
  const body = `{ "model" : "m",\n ${MSG}, "temperature": 1.0, "n": 1e0, "top_p": 0.10 }`;
  assert.equal(await forwarded(body), body);
});

test('a routed model is spliced in, the rest untouched', async () => {
  const body = `{"model":"alias",${MSG},"temperature":1.0}`;
  assert.equal(await forwarded(body), `{"model":"other",${MSG},"temperature":1.0}`);
});

test('stream usage is asked for in every shape of stream_options', async () => {
  const cases = [
    [`{"model":"m","stream":true,${MSG}}`, `{"model":"m","stream":true,${MSG},"stream_options":{"include_usage":true}}`],
    [`{"model":"m","stream":true,"stream_options":{},${MSG}}`, `{"model":"m","stream":true,"stream_options":{"include_usage":true},${MSG}}`],
    [`{"model":"m","stream":true,"stream_options":null,${MSG}}`, `{"model":"m","stream":true,"stream_options":{"include_usage":true},${MSG}}`],
    [`{"model":"m","stream":true,"stream_options":{"include_usage":false},${MSG}}`, `{"model":"m","stream":true,"stream_options":{"include_usage":true},${MSG}}`],
    [`{"model":"m","stream":true,"stream_options":{"x":1.50},${MSG}}`, `{"model":"m","stream":true,"stream_options":{"include_usage":true,"x":1.50},${MSG}}`],
    [`{"model":"alias","stream":true,${MSG} }`, `{"model":"other","stream":true,${MSG} ,"stream_options":{"include_usage":true}}`],
  ];
  for (const [sent, expected] of cases) {
    received.length = 0;
    const r = await post(`${gw.url}/v1/chat/completions`, sent);
    assert.equal(r.status, 200, r.text);
    assert.equal(received[0], expected, `for ${sent}`);
    JSON.parse(received[0]);
    // The client did not ask for usage: the usage chunk is not passed on.
    assert.doesNotMatch(r.text, /"usage"/, sent);
    assert.match(r.text, /data: \[DONE\]/);
  }
});

test('a client that asks for usage gets it, body untouched', async () => {
  const body = `{"model":"m","stream":true,"stream_options":{"include_usage":true},${MSG}}`;
  received.length = 0;
  const r = await post(`${gw.url}/v1/chat/completions`, body);
  assert.equal(received[0], body);
  assert.match(r.text, /"usage":\{"prompt_tokens":3/);
});

test('a stripped usage chunk leaves every other byte as the upstream sent it', async () => {
  const r = await post(`${gw.url}/v1/chat/completions`, `{"model":"frag","stream":true,${MSG}}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text, FRAG_KEPT.join('') + FRAG_DONE);
  const rec = await recordOf(gw, r.headers.get('x-moongate-request-id'));
  assert.equal(rec.tokens_input, 3);
  assert.equal(rec.tokens_output, 2);
});

test('client credentials, hop-by-hop and gateway headers stay behind; the provider key goes up', async () => {
  const r = await post(`${gw.url}/v1/chat/completions`, `{"model":"m",${MSG}}`, {
    authorization: 'Bearer client-secret', 'x-api-key': 'client-secret-2', cookie: 'session=abc',
    'x-moongate-debug': '1', 'proxy-authorization': 'Basic eA==', 'x-custom-trace': 'kept',
  });
  assert.equal(r.status, 200, r.text);
  const h = receivedHeaders;
  assert.equal(h.authorization, 'Bearer k');
  for (const gone of ['x-api-key', 'cookie', 'x-moongate-debug', 'proxy-authorization'])
    assert.equal(h[gone], undefined, gone);
  assert.equal(h['x-custom-trace'], 'kept');
  assert.equal(h['accept-encoding'], 'identity');
  assert.equal(h['content-length'], String(`{"model":"m",${MSG}}`.length));
});
