"""`evonas serve-lm`: our local LM behind an OpenAI-compatible HTTP API, so that several searches on one
host share one model. Requests are served one at a time (the model is the bottleneck, not HTTP)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from evojax_nas.lm.base import LanguageModel

MAX_BODY_BYTES = 1 << 20


def _completion(model_name: str, texts: list[str], chat: bool) -> dict[str, Any]:
    choices = [{"index": i, "finish_reason": "stop",
                **({"message": {"role": "assistant", "content": t}} if chat else {"text": t})}
               for i, t in enumerate(texts)]
    return {"id": f"cmpl-{time.time_ns()}", "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()), "model": model_name, "choices": choices}


def make_handler(lm: LanguageModel, model_name: str) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one model."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, code: int, message: str) -> None:
            self._send(code, {"error": {"message": message, "type": "invalid_request_error"}})

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model_name, "object": "model"}]})
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:  # noqa: N802
            chat = self.path.rstrip("/") == "/v1/chat/completions"
            if not chat and self.path.rstrip("/") != "/v1/completions":
                return self._error(404, f"no route {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                return self._error(413, "request body too large")
            try:
                body = json.loads(self.rfile.read(length))
                prompt = (body["messages"][-1]["content"] if chat else body["prompt"])
                if not isinstance(prompt, str):
                    raise TypeError("prompt must be a string")
                stop = body.get("stop") or []
                stop = [stop] if isinstance(stop, str) else list(stop)
                n, temperature = int(body.get("n", 1)), float(body.get("temperature", 1.0))
                max_tokens, seed = int(body.get("max_tokens", 256)), int(body.get("seed", 0))
                if not (1 <= n <= 64 and 1 <= max_tokens <= 4096 and 0.0 <= temperature <= 2.0):
                    raise ValueError("need 1 <= n <= 64, 1 <= max_tokens <= 4096, 0 <= temperature <= 2")
            except (ValueError, KeyError, TypeError, IndexError) as err:
                return self._error(400, f"bad request: {err}")
            with lock:
                texts = lm.generate([prompt], n, temperature, max_tokens, stop, seed)[0]
            self._send(200, _completion(model_name, texts, chat))

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the search prints its own progress

    return Handler


def serve(lm: LanguageModel, host: str = "127.0.0.1", port: int = 8000,
          model_name: str = "evonas") -> ThreadingHTTPServer:
    """Start serving in a background thread; returns the server (call shutdown() to stop)."""
    server = ThreadingHTTPServer((host, port), make_handler(lm, model_name))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
