// plugins/nginx/tests/openai_stream.mjs - the official openai npm client
// talking to nginx with ngx_http_sluice_module (tests/integration/40-nginx.sh).
//
//   node openai_stream.mjs BASE_URL TEXT [stream|json]
//
// Asks the fake upstream (upstream.py echoes the last message) for TEXT,
// streaming or not, and prints one line of JSON: the content the client
// assembled, the last finish_reason, and how many chunks it saw.
import OpenAI from 'openai';

const [baseURL, text, how = 'stream'] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: 'test-key', maxRetries: 0,
                            timeout: 20000 });
const req = { model: 'fake-1', messages: [{ role: 'user', content: text }] };

if (how === 'json') {
  const r = await client.chat.completions.create(req);
  console.log(JSON.stringify({ content: r.choices[0].message.content,
                               finish: r.choices[0].finish_reason,
                               chunks: 1 }));
} else {
  const stream = await client.chat.completions.create({ ...req,
                                                        stream: true });
  let content = '';
  let finish = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    const c = chunk.choices[0];
    if (c && c.delta && c.delta.content) content += c.delta.content;
    if (c && c.finish_reason) finish = c.finish_reason;
  }
  console.log(JSON.stringify({ content, finish, chunks }));
}
