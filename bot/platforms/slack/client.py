"""Slack's Web API and ``response_url`` clients: ``TASTEMAKER_SLACK_API_URL`` as base URL, and
429s retried after ``Retry-After`` (Bolt's ``respond`` does not retry); the start-up token check."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from config.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
RATE_LIMIT_RETRIES = 3


def api_base_url(settings: Settings) -> str:
    url = settings.slack_api_url or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def _retry_handlers() -> list[RetryHandler]:
    return [ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]


def ensure_rate_limit_retries(client: WebClient) -> WebClient:
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return client


def use_api_url(client: WebClient, settings: Settings) -> WebClient:
    """Point a client someone else built (Bolt's own) at ``TASTEMAKER_SLACK_API_URL`` and retry its
    429s; before its first call."""
    client.base_url = api_base_url(settings)
    return ensure_rate_limit_retries(client)


# The start-up check reports its own failure in one line (``PlatformError``); the SDK's own log
# lines about the same failed call ("Failed to send a request…", "Going to retry…") would repeat it.
_PROBE_LOG = logging.getLogger(f"{__name__}.probe")
_PROBE_LOG.setLevel(logging.CRITICAL)


def check_token(settings: Settings) -> None:
    """``auth.test`` with ``SLACK_BOT_TOKEN``; raises the SDK's error
    (``SlackApiError`` when Slack refuses the token, ``OSError``/``URLError`` when it is unreachable;
    one retry of a connection error first)."""
    client = WebClient(
        token=settings.slack_bot_token,
        base_url=api_base_url(settings),
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
        logger=_PROBE_LOG,
        timeout=10,
    )
    client.auth_test()


def web_client(settings: Settings, token: str | None = None) -> WebClient:
    """The Web API client: ``TASTEMAKER_SLACK_API_URL`` as base URL, 429s retried after Retry-After."""
    return WebClient(
        token=token if token is not None else settings.slack_bot_token,
        base_url=api_base_url(settings),
        retry_handlers=_retry_handlers(),
    )


def respond_via(response_url: str | None, payload: dict[str, Any]) -> bool:
    """POST to a command's ``response_url``, retrying 429s (Bolt's ``respond`` does not)."""
    if not response_url:
        log.warning("no response_url to answer on")
        return False
    hook = WebhookClient(url=response_url, retry_handlers=_retry_handlers())
    resp = hook.send_dict(payload)
    if resp.status_code != 200:
        log.warning("response_url answered %s: %s", resp.status_code, resp.body)
        return False
    return True
