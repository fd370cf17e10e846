#!/usr/bin/env python3
"""plugins/nginx/tests/upstream.py - a fake OpenAI-compatible inference
server for the nginx module's tests (tests/integration/40-nginx.sh).

    upstream.py PORT LOGFILE

It speaks just enough of the API: POST /v1/chat/completions and
/v1/completions answer with the last user message (or the prompt) as the
model's reply, as one JSON body or, with "stream": true, as a
text/event-stream of chunks, a few characters each, ending in
"data: [DONE]". GET /chat?text=...&stream=1 does the same for curl, with
knobs in the query:

    text=...     the reply                 completion=1  /v1/completions shape
    stream=1     SSE instead of JSON       split=N       write each event in
    delay=S      seconds between chunks                  pieces of N bytes
    n=N          repeat the text N times   crlf=1        CRLF line ends
    mutate=SEED  the body (JSON, or the whole SSE stream) with a few random
                 byte edits (flips, structural bytes inserted, cuts,
                 repeats), written in random pieces; same SEED, same bytes
    mode=...     malformed  (JSON: not JSON; SSE: a broken event midway)
                 gzip       (gzip-encoded JSON whatever was asked)
                 endless    (stream until the client goes away)
                 plain      (text/plain body)

Every request and every client that went away is logged, one line each,
to LOGFILE (the tests read it: accept-encoding seen, "gone after N").
"""

import gzip
import json
import random
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG_LOCK = threading.Lock()
LOG_PATH = None


def log(line):
    with LOG_LOCK:
        with open(LOG_PATH, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def tokens(text):
    """Cut a reply into model-like tokens: ASCII runs of up to 4
    characters, one character otherwise."""
    out, cur = [], ""
    for ch in text:
        if ord(ch) < 128 and len(cur) < 4:
            cur += ch
            continue
        if cur:
            out.append(cur)
            cur = ""
        if ord(ch) < 128:
            cur = ch
        else:
            out.append(ch)
    if cur:
        out.append(cur)
    return out


# Bytes that mean something to an SSE or JSON parser.
STRUCTURAL = b'\n\r:{}[]",\\ \x00\xe4\xbd\xa0data: [DONE]'


def mutate(data, seed):
    """A few random edits of `data`, decided by `seed` alone."""
    rnd = random.Random(seed)
    b = bytearray(data)
    for _ in range(rnd.randint(1, 6)):
        if not b:
            break
        at = rnd.randrange(len(b))
        op = rnd.randrange(5)
        if op == 0:
            b[at] ^= 1 << rnd.randrange(8)
        elif op == 1:
            k = rnd.randrange(len(STRUCTURAL))
            b[at:at] = STRUCTURAL[k:k + rnd.randint(1, 6)]
        elif op == 2:
            del b[at:at + rnd.randint(1, 40)]
        elif op == 3:
            b[at:at] = b[at:at + rnd.randint(1, 60)]
        else:
            del b[at:]
    return bytes(b), rnd


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        opts = {
            "text": q.get("text", "Hello there, how can I help you today?"),
            "stream": q.get("stream") == "1",
            "completion": q.get("completion") == "1",
            "split": int(q.get("split", "0")),
            "delay": float(q.get("delay", "0")),
            "n": int(q.get("n", "1")),
            "crlf": q.get("crlf") == "1",
            "mode": q.get("mode", ""),
            "model": "fake-1",
            "mutate": q.get("mutate"),
        }
        self.answer(opts)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        completion = self.path.endswith("/completions") and \
            "chat" not in self.path
        if completion:
            text = body.get("prompt", "")
        else:
            msgs = body.get("messages") or [{"content": ""}]
            text = msgs[-1].get("content", "")
        opts = {"text": text, "stream": bool(body.get("stream")),
                "completion": completion, "split": 7, "delay": 0.01,
                "n": 1, "crlf": False, "mode": "",
                "model": body.get("model", "fake-1"), "mutate": None}
        self.answer(opts)

    def answer(self, o):
        log("request %s %s accept-encoding=%s" % (
            self.command, self.path,
            self.headers.get("Accept-Encoding", "-")))
        if o["mutate"] is not None:
            self.mutated(o)
        elif o["stream"]:
            self.stream(o)
        else:
            self.whole(o)

    def chunk(self, o, i, text, finish=None):
        if o["completion"]:
            choice = {"index": 0, "text": text, "finish_reason": finish}
            obj = "text_completion"
        else:
            choice = {"index": 0, "delta": {"content": text},
                      "finish_reason": finish}
            if i == 0:
                choice["delta"]["role"] = "assistant"
            obj = "chat.completion.chunk"
        return {"id": "cmpl-test", "object": obj, "created": 1700000000,
                "model": o["model"], "choices": [choice]}

    def whole(self, o):
        text = o["text"] * o["n"]
        if o["completion"]:
            choice = {"index": 0, "text": text, "finish_reason": "stop"}
        else:
            choice = {"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": text}}
        body = json.dumps({
            "id": "cmpl-test", "object": "chat.completion",
            "created": 1700000000, "model": o["model"], "choices": [choice],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7,
                      "total_tokens": 12}}, ensure_ascii=False).encode()
        ctype = "application/json"
        headers = []
        if o["mode"] == "malformed":
            body = b'{"id": "cmpl-test", "choices": [ {"message": '
        elif o["mode"] == "gzip":
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
        elif o["mode"] == "plain":
            body = text.encode()
            ctype = "text/plain; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def stream(self, o):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        eol = "\r\n" if o["crlf"] else "\n"
        toks = tokens(o["text"]) * o["n"]
        sent = 0
        try:
            i = 0
            while True:
                if o["mode"] == "endless":
                    tok = toks[i % len(toks)]
                elif i < len(toks):
                    tok = toks[i]
                else:
                    break
                if o["mode"] == "malformed" and i == 2:
                    self.send(o, 'data: {"choices": [ {"delta": ' + eol + eol)
                ev = "data: " + json.dumps(self.chunk(o, i, tok),
                                           ensure_ascii=False) + eol + eol
                self.send(o, ev)
                sent += 1
                i += 1
                if o["delay"]:
                    time.sleep(o["delay"])
            self.send(o, "data: " + json.dumps(self.chunk(o, i, "", "stop"))
                      + eol + eol)
            self.send(o, "data: [DONE]" + eol + eol)
        except (BrokenPipeError, ConnectionResetError):
            log("gone after %d events" % sent)

    def mutated(self, o):
        """A valid body, then mutate(): a parser's hostile input."""
        toks = tokens(o["text"])
        if o["stream"]:
            evs = ["data: " + json.dumps(self.chunk(o, i, t),
                                         ensure_ascii=False) + "\n\n"
                   for i, t in enumerate(toks)]
            evs.append("data: [DONE]\n\n")
            body = "".join(evs).encode()
            ctype = "text/event-stream"
        else:
            body = json.dumps({"id": "cmpl-test", "object": "chat.completion",
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant",
                                                        "content": o["text"]}}]},
                              ensure_ascii=False).encode()
            ctype = "application/json"
        body, rnd = mutate(body, int(o["mutate"]))
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if not o["stream"]:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            k = 0
            while k < len(body):
                n = rnd.randint(1, 64)
                self.wfile.write(body[k:k + n])
                self.wfile.flush()
                k += n
        except (BrokenPipeError, ConnectionResetError):
            log("gone during a mutated body")

    def send(self, o, ev):
        data = ev.encode()
        step = o["split"] or len(data)
        for k in range(0, len(data), step):
            self.wfile.write(data[k:k + step])
            self.wfile.flush()
            if o["split"] and o["delay"] == 0:
                time.sleep(0.0005)


def main():
    global LOG_PATH
    port = int(sys.argv[1])
    LOG_PATH = sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    log("listening on %d" % port)
    srv.serve_forever()


if __name__ == "__main__":
    main()
