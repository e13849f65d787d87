"""HTTP mode facing the internet: real HTTP requests and raw sockets against the real Bolt app on
its ``waitress`` server (127.0.0.1:0). Whatever is not a well-formed request signed by Slack gets a
4xx — never a 500, never a traceback in the log; idle and half-sent connections cost no thread and
are closed after the configured timeout, while signed commands are still acknowledged in time."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest

from bot.platforms.slack.app import build_app
from bot.platforms.slack.server import Limits, SlackHttpServer, make_http_server
from bot.service import Service
from config.settings import Settings
from tests.platforms.bot_process import wait_for_job_runs
from tests.platforms.fake_slack import FakeSlack
from tests.platforms.slack.harness import (
    ACK_BUDGET,
    SECRET,
    SlackClient,
    at,
    plays,
    slack_http_bot,
    slack_who,
)

IDLE = 300  # idle connections held open against the server
THREAD_BOUND = 40  # threads this test process may have while they are open
LIMITS = Limits(channel_timeout=3, cleanup_interval=1)  # short, so the test sees them closed


@pytest.fixture
def served(
    service: Service, slack_settings: Settings, fake: FakeSlack, executor: ThreadPoolExecutor
) -> Iterator[tuple[SlackHttpServer, SlackClient]]:
    server = make_http_server(build_app(service, slack_settings, listener_executor=executor), limits=LIMITS)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server, SlackClient(server.server_port, fake)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert not thread.is_alive()


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text, caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    # Nothing above DEBUG about them either ("Task queue depth" is waitress's note on its own queue).
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name != "waitress.queue"]
    assert not warned, caplog.text


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send ``data`` as is (a request with ``Connection: close``, or one the server refuses) and read
    until the server closes: (status, whole answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)  # may be refused before all of it is sent: the answer is there then
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    answer = b"".join(chunks)
    return int(answer.split(b" ", 2)[1]), answer


# --- bad requests: 4xx, no traceback ----------------------------------------------------------


BAD_HEADERS = {
    "forged": lambda ts, sig: {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + "0" * 64},
    "timestamp-abc": lambda ts, sig: {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": sig},
    "timestamp-empty": lambda ts, sig: {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": sig},
    "timestamp-float": lambda ts, sig: {"X-Slack-Request-Timestamp": ts + ".5", "X-Slack-Signature": sig},
    "timestamp-sign": lambda ts, sig: {"X-Slack-Request-Timestamp": "+" + ts, "X-Slack-Signature": sig},
    "timestamp-huge": lambda ts, sig: {"X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": sig},
    "timestamp-superscript": lambda ts, sig: {
        "X-Slack-Request-Timestamp": ts + "²",
        "X-Slack-Signature": sig,
    },
    "stale": lambda ts, sig: {"X-Slack-Request-Timestamp": str(int(ts) - 301), "X-Slack-Signature": sig},
    "future": lambda ts, sig: {"X-Slack-Request-Timestamp": str(int(ts) + 301), "X-Slack-Signature": sig},
    "no-timestamp": lambda ts, sig: {"X-Slack-Signature": sig},
    "no-signature": lambda ts, sig: {"X-Slack-Request-Timestamp": ts},
    "signature-not-hex": lambda ts, sig: {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + "é" * 64,
    },
    "signature-v1": lambda ts, sig: {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v1" + sig[2:]},
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_unauthenticated_requests_get_401_without_a_traceback(
    served: tuple[SlackHttpServer, SlackClient],
    fake: FakeSlack,
    service: Service,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    _, slack = served
    form = slack.form("/played", "Radiohead - Creep")
    body = urlencode(form)
    good = slack.signed_headers(body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **BAD_HEADERS[case](good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"]),
    }
    with caplog.at_level(logging.DEBUG):
        replies = [slack.post(body, headers) for _ in range(100 if case == "timestamp-abc" else 3)]
        assert {r.status for r in replies} == {401}, case
        _, ok = slack.command("/played", "Portishead - Roads")  # the server is fine afterwards
        fake.wait_for(at(ok))
    no_traceback(caplog)
    assert not fake.delivered(at(form))
    assert plays(service, slack_who()) == {"Portishead – Roads": 1}


def signed_post(slack: SlackClient, body: bytes, content_type: str) -> tuple[int, bytes]:
    """POST ``body`` (any bytes) signed with the signing secret, over a raw socket."""
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    head = (
        f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nX-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {sig}\r\n"
        "Connection: close\r\n\r\n"
    )
    return raw_exchange(slack.port, head.encode("latin-1") + body)


FORM = "application/x-www-form-urlencoded"
BAD_BODIES = {
    "latin-1 form": (b"command=%2Fplayed&text=Bj\xf6rk+-+J\xf3ga&trigger_id=t1", FORM),
    "random bytes": (bytes(range(128, 256)) * 4, FORM),
    "json that does not parse": (b'{"type": "event_callback", ', "application/json"),
    "json array": (b'[{"trigger_id": "t1"}]', "application/json"),
    "json string": (b'"just a string"', "application/json"),
    "payload that does not parse": (b"payload=%7Bnot+json", FORM),
    "payload array": (b"payload=%5B1%2C2%5D", FORM),
}


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_malformed_bodies_get_400_without_a_traceback(
    served: tuple[SlackHttpServer, SlackClient], caplog: pytest.LogCaptureFixture, case: str, signed: bool
) -> None:
    _, slack = served
    body, ctype = BAD_BODIES[case]
    with caplog.at_level(logging.DEBUG):
        if signed:
            status, answer = signed_post(slack, body, ctype)
        else:
            head = (
                f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            status, answer = raw_exchange(slack.port, head.encode() + body)
    assert status == 400, answer
    no_traceback(caplog)


def test_over_size_bodies_get_413(
    served: tuple[SlackHttpServer, SlackClient], caplog: pytest.LogCaptureFixture, fake: FakeSlack
) -> None:
    server, slack = served
    over = server.limits.max_body + 1
    with caplog.at_level(logging.DEBUG):
        # Announced too large: answered from the headers alone, the body is never read.
        head = f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: {over}\r\n\r\n"
        status, _ = raw_exchange(slack.port, head.encode())
        assert status == 413
        # Chunked, growing past the cap: cut off once it does.
        chunk = b"a" * 65536
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(over // len(chunk) + 1))
        head = "POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        status, _ = raw_exchange(slack.port, head.encode() + chunked + b"0\r\n\r\n")
        assert status == 413
        # A signed request just under the cap is read and answered.
        padding = "x" * (server.limits.max_body - 2000)  # a field Slack might add, ignored
        body = urlencode(slack.form("/tastemaker", "help", padding=padding))
        assert len(body) <= server.limits.max_body
        status, answer = signed_post(slack, body.encode(), FORM)
        assert status == 200 and b"/tastemaker help" in answer
    no_traceback(caplog)


def test_other_paths_and_methods(served: tuple[SlackHttpServer, SlackClient]) -> None:
    _, slack = served
    assert (
        raw_exchange(slack.port, b"GET /slack/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0]
        == 405
    )
    assert (
        raw_exchange(
            slack.port, b"POST /admin HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )[0]
        == 404
    )
    assert raw_exchange(slack.port, b"NONSENSE\r\n\r\n")[0] == 400
    bad_length = b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n"
    assert raw_exchange(slack.port, bad_length)[0] == 400


# --- idle connections: no thread each, closed after the timeout -------------------------------


def test_idle_connections_hold_no_threads_and_are_closed(
    served: tuple[SlackHttpServer, SlackClient], fake: FakeSlack
) -> None:
    server, slack = served
    before = threading.active_count()
    partial = [
        b"",  # connected, nothing sent
        b"POST /slack/events HTTP/1.1\r\n",  # a request line
        b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applicat",  # half a header
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\ncommand=%2Fpl",  # half a body
    ]
    socks: list[socket.socket] = []
    try:
        opened = time.monotonic()
        for n in range(IDLE):
            sock = socket.create_connection(("127.0.0.1", slack.port), timeout=5)
            socks.append(sock)
            if partial[n % len(partial)]:
                sock.sendall(partial[n % len(partial)])
        deadline = time.monotonic() + 10
        while server.open_connections() < IDLE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.open_connections() == IDLE  # accepted, not waiting in the backlog
        held = threading.active_count()
        waitress_threads = [t for t in threading.enumerate() if t.name.startswith("waitress-")]

        # Signed commands are acknowledged in time while all of that is open.
        acks = []
        for n in range(10):
            reply, form = slack.command("/played", f"Artist {n} - Song {n}")
            assert reply.status == 200
            acks.append(reply.seconds)
            fake.wait_for(at(form))
        worst = max(acks)
        assert worst < ACK_BUDGET, worst
        assert held < THREAD_BOUND, held
        assert held - before <= 1, (before, held)
        assert len(waitress_threads) == LIMITS.threads

        # Every idle connection is closed by the server once it was silent channel_timeout seconds.
        sel = selectors.DefaultSelector()
        for sock in socks:
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ)
        closed_at: list[float] = []
        limit = LIMITS.channel_timeout + LIMITS.cleanup_interval + 5
        while len(closed_at) < IDLE and time.monotonic() - opened < limit:
            for key, _ in sel.select(timeout=0.5):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except ConnectionResetError:
                    data = b""
                if not data:  # EOF: the server closed it
                    sel.unregister(sock)
                    closed_at.append(time.monotonic() - opened)
        sel.close()
        assert len(closed_at) == IDLE, f"{len(closed_at)} of {IDLE} closed"
        assert min(closed_at) >= LIMITS.channel_timeout - 1, min(closed_at)
        assert server.open_connections() == 0
        print(
            f"\n{IDLE} idle connections: {held} threads in the process ({before} before, "
            f"{len(waitress_threads)} waitress workers); 10 signed /played acked, worst "
            f"{worst * 1000:.1f} ms; all closed {min(closed_at):.1f}–{max(closed_at):.1f} s after "
            f"opening (channel_timeout {LIMITS.channel_timeout} s)"
        )
    finally:
        for sock in socks:
            sock.close()


def test_shutdown_closes_open_connections(
    service: Service, slack_settings: Settings, executor: ThreadPoolExecutor
) -> None:
    server = make_http_server(build_app(service, slack_settings, listener_executor=executor))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    socks = [socket.create_connection(("127.0.0.1", server.server_port), timeout=5) for _ in range(20)]
    try:
        deadline = time.monotonic() + 5
        while server.open_connections() < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        before = time.monotonic()
        server.shutdown()
        server.server_close()
        thread.join(5)
        assert not thread.is_alive() and time.monotonic() - before < 7
        assert not [t for t in threading.enumerate() if t.name.startswith("waitress-")]
        for sock in socks:
            assert sock.recv(1) == b""  # closed by the server
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.server_port), timeout=1).close()
    finally:
        for sock in socks:
            sock.close()


def test_the_running_bot_holds_idle_connections_without_threads(tmp_path: Path, fake: FakeSlack) -> None:
    """`tastemaker run --http-port` itself (default limits): 300 half-sent requests open, the process
    keeps its thread count, and a signed /played is acknowledged in time."""
    bot = slack_http_bot(tmp_path, fake)
    socks: list[socket.socket] = []
    try:
        port = int(bot.wait_for_line(r"listening on http://127\.0\.0\.1:(\d+)/slack/events").group(1))
        bot.wait_for_line(r"tastemaker: serving slack")
        wait_for_job_runs(f"sqlite:///{tmp_path / 'x.db'}", "batch")
        proc = psutil.Process(bot.proc.pid)
        before = proc.num_threads()
        for _ in range(IDLE):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
            socks.append(sock)
        time.sleep(1.0)  # let the server accept them all
        held = proc.num_threads()
        client = SlackClient(port, fake)
        reply, form = client.command("/played", "Low - Words")
        assert reply.status == 200 and reply.seconds < ACK_BUDGET, reply
        fake.wait_for(at(form), timeout=10)
        assert held < THREAD_BOUND and held - before <= 2, (before, held)
        print(
            f"\nbot process: {before} threads, {held} with {IDLE} half-sent connections; "
            f"ack {reply.seconds * 1000:.1f} ms"
        )
    finally:
        for sock in socks:
            sock.close()
        code = bot.stop()
    assert code == 0, (bot.stdout, bot.stderr)
    assert "Traceback" not in bot.stderr, bot.stderr
