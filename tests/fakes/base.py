"""What the loopback fakes of the listening services share: a threaded HTTP server on 127.0.0.1
(port 0), a log of every request, scripted answers for the next requests (a 5xx, malformed JSON, a
429 with reset headers, an API error), and a way to hold requests after the n-th (the kill -9 tests
stop the syncing process while it waits for one)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    path: str
    params: dict[str, str]
    status: int  # what the fake answered


@dataclass
class Answer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    ctype: str = "application/json"


class FakeService:
    """Subclasses implement :meth:`answer` (path, query parameters → :class:`Answer`)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._scripted: list[Answer] = []
        self._cond = threading.Condition()
        self._hold_after: int | None = None
        self._holding = 0
        self._stopped = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeService:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- scripting ----------------------------------------------------------------------------

    def script(self, *answers: Answer) -> None:
        """Answer the next requests with these, in order (then as usual)."""
        with self._cond:
            self._scripted.extend(answers)

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        self.script(*[Answer(status, "<html>Internal Server Error</html>", ctype="text/html")] * times)

    def malformed_next(self, times: int = 1) -> None:
        self.script(*[Answer(200, '{"payload": {"listens": [{"listened_at": 1')] * times)

    def hold_after(self, n: int | None) -> None:
        """Requests after the ``n``-th wait (unanswered) until :meth:`release` or :meth:`stop`."""
        with self._cond:
            self._hold_after = n
            self._cond.notify_all()

    def release(self) -> None:
        self.hold_after(None)

    def wait_held(self, timeout: float = 30.0) -> None:
        """Until a request is being held."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._holding > 0, timeout):
                raise AssertionError(f"no request was held; served {len(self.requests)}")

    def wait_served(self, n: int, timeout: float = 30.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= n, timeout):
                raise AssertionError(f"served {len(self.requests)} requests, not {n}")

    @property
    def served(self) -> int:
        with self._cond:
            return len(self.requests)

    # --- serving ----------------------------------------------------------------------------

    def answer(self, path: str, params: dict[str, str]) -> Answer:
        raise NotImplementedError

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        with self._cond:
            while (
                self._hold_after is not None and len(self.requests) >= self._hold_after and not self._stopped
            ):
                self._holding += 1
                self._cond.notify_all()
                self._cond.wait(0.1)
                self._holding -= 1
            scripted = self._scripted.pop(0) if self._scripted else None
        answer = scripted or self.answer(url.path, params)
        with self._cond:
            self.requests.append(Request(url.path, params, answer.status))
            self._cond.notify_all()
        data = answer.body.encode("utf-8")
        try:
            h.send_response(answer.status)
            h.send_header("Content-Type", answer.ctype)
            h.send_header("Content-Length", str(len(data)))
            for k, v in answer.headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client was killed meanwhile
            pass


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
