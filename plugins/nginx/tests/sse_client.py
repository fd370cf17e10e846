#!/usr/bin/env python3
"""plugins/nginx/tests/sse_client.py - read a text/event-stream the way a
chat client does, with timing (tests/integration/40-nginx.sh).

    sse_client.py URL

Prints one line of JSON: the concatenated delta.content (or text) of the
chunks, the last finish_reason, whether [DONE] came, the SSE comments
(the module's summary), and the arrival time in milliseconds (from the
request) of the first and last chunk that carried text, and of each
text-carrying chunk (`times`).
"""
import json
import sys
import time
import urllib.request


def main():
    t0 = time.monotonic()
    content, finish, done, comments, times = "", None, False, [], []
    with urllib.request.urlopen(sys.argv[1], timeout=30) as resp:
        data = []
        for raw in resp:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith(":"):
                comments.append(line[1:].strip())
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
            elif line == "" and data:
                ev = "\n".join(data)
                data = []
                if ev == "[DONE]":
                    done = True
                    continue
                for ch in json.loads(ev).get("choices", []):
                    text = (ch.get("delta") or {}).get("content") or \
                        ch.get("text") or ""
                    if text:
                        content += text
                        times.append(int((time.monotonic() - t0) * 1000))
                    if ch.get("finish_reason"):
                        finish = ch["finish_reason"]
    print(json.dumps({"content": content, "finish": finish, "done": done,
                      "comments": comments, "times": times},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
