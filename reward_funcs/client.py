"""One OpenAI-compatible chat client for every model call the project makes.

The model judge (rewards), the synthesis pipeline (vlm / reasoner / judge roles) and the MM-Vet grader all talk to
`vllm serve`-style endpoints through this client, so retries, concurrency limits and token accounting behave the same
everywhere.

- Several endpoints can serve one role: each request goes to the endpoint with the lowest load relative to its own
  `max_concurrency`, and a retried request may move to another endpoint.
- Timeouts, HTTP 429, HTTP 5xx and dropped connections are retried with exponential backoff and full jitter (429
  honours `Retry-After`); other 4xx replies and replies that are not a chat completion fail at once.
- The API key is read from the environment variable each endpoint names, never stored in a config file or logged.

A client binds to the event loop it is first used in. Async callers `await client.chat(messages)`; sync callers
(TRL reward functions run synchronously) use `client.chat_many_sync(batch)`, which runs the batch on a private
background loop so it works whether or not the calling thread already has a running loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


@dataclass
class EndpointConfig:
    """One OpenAI-compatible server (e.g. `vllm serve MODEL --port 8000` -> base_url http://host:8000/v1).

    The one endpoint config of the project: the judge reward's `JudgeConfig`, the eval judge's `JudgeSettings` and the
    synthesis roles' endpoints are this type (the judges subclass it with their own settings)."""

    base_url: str = field(metadata={"help": "OpenAI-compatible base URL, e.g. http://localhost:8000/v1."})
    model: str = field(metadata={"help": "Model name the endpoint serves (`vllm serve MODEL`)."})
    api_key_env: str | None = field(
        default="OPENAI_API_KEY", metadata={"help": "Environment variable holding the API key (never stored)."}
    )
    max_concurrency: int = field(default=16, metadata={"help": "Requests in flight at once on this endpoint."})
    timeout: float = field(default=300.0, metadata={"help": "Seconds one request may take before a retry."})
    sampling: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "Sent with every request as-is (temperature, top_p, max_tokens)."}
    )

    def __post_init__(self):
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1 for endpoint {self.base_url}, got {self.max_concurrency}")
        self.base_url = self.base_url.rstrip("/")

    def api_key(self) -> str:
        # vLLM accepts any key unless started with --api-key; "EMPTY" is the convention its docs use.
        return (os.environ.get(self.api_key_env) if self.api_key_env else None) or "EMPTY"


@dataclass
class ChatResult:
    text: str
    reasoning: str | None  # `reasoning_content` from reasoning parsers (vLLM --reasoning-parser, DeepSeek API)
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    endpoint: str
    latency_s: float
    attempts: int


class EndpointError(RuntimeError):
    """A request that could not be completed; `retryable` tells whether retries were exhausted or pointless."""

    def __init__(
        self, message: str, *, status: int | None = None, retryable: bool = False, retry_after: float | None = None
    ):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the server asked us to wait (HTTP Retry-After)


@dataclass
class UsageStats:
    requests: int = 0
    failures: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    busy_seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


class _EndpointState:
    def __init__(self, config: EndpointConfig):
        self.config = config
        self.in_flight = 0

    @property
    def load(self) -> float:
        return self.in_flight / self.config.max_concurrency


class ChatClient:
    def __init__(
        self,
        endpoints: Sequence[EndpointConfig],
        *,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_unusable: bool = False,
    ):
        if not endpoints:
            raise ValueError("ChatClient needs at least one endpoint")
        self._states = [_EndpointState(cfg) for cfg in endpoints]
        self.max_retries = max_retries
        # Replies that are not a chat completion, or whose content is empty, fail at once by default (a judge or a
        # synthesis role treats them as the model's answer); evaluation retries them like transient failures.
        self.retry_unusable = retry_unusable
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.usage = UsageStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http: aiohttp.ClientSession | None = None
        self._slot_freed: asyncio.Condition | None = None
        self._background: threading.Thread | None = None

    @property
    def endpoints(self) -> list[EndpointConfig]:
        return [state.config for state in self._states]

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            total = sum(state.config.max_concurrency for state in self._states)
            # aiohttp rather than httpx: httpx's pool rescans every connection per queued request, O(C^2) CPU at
            # the concurrency a synthesis run uses (measured 11.5 ms vs <1 ms per request at C=64).
            connector = aiohttp.TCPConnector(limit=total, limit_per_host=0, ssl=None)
            self._http = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
            self._slot_freed = asyncio.Condition()
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("a ChatClient is bound to the event loop it was first used in; create one per loop")

    async def _acquire(self) -> _EndpointState:
        async with self._slot_freed:
            while True:
                state = min(self._states, key=lambda s: s.load)
                if state.in_flight < state.config.max_concurrency:
                    state.in_flight += 1
                    return state
                await self._slot_freed.wait()

    async def _release(self, state: _EndpointState) -> None:
        async with self._slot_freed:
            state.in_flight -= 1
            self._slot_freed.notify(1)

    async def chat(self, messages: list[dict], **sampling: Any) -> ChatResult:
        """One chat completion; retries transient failures, raises EndpointError when it cannot complete."""
        self._bind()
        start = time.perf_counter()
        for attempt in range(1, self.max_retries + 2):
            state = await self._acquire()
            try:
                result = await self._post(state, messages, sampling)
            except EndpointError as err:
                await self._release(state)
                if not err.retryable or attempt > self.max_retries:
                    self.usage.failures += 1
                    raise
                self.usage.retries += 1
                await asyncio.sleep(self._backoff(attempt, err.retry_after))
                continue
            await self._release(state)
            result.latency_s = time.perf_counter() - start
            result.attempts = attempt
            self.usage.requests += 1
            self.usage.prompt_tokens += result.prompt_tokens
            self.usage.completion_tokens += result.completion_tokens
            self.usage.busy_seconds += result.latency_s
            return result
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))

    async def _post(self, state: _EndpointState, messages: list[dict], sampling: dict) -> ChatResult:
        cfg = state.config
        body = {"model": cfg.model, "messages": messages, **cfg.sampling, **sampling}
        headers = {"Authorization": f"Bearer {cfg.api_key()}"}
        timeout = aiohttp.ClientTimeout(total=cfg.timeout)
        try:
            async with self._http.post(
                f"{cfg.base_url}/chat/completions", json=body, headers=headers, timeout=timeout
            ) as reply:
                status, raw = reply.status, await reply.read()
                retry_after = _retry_after_seconds(reply.headers.get("Retry-After"))
        except asyncio.TimeoutError as err:
            raise EndpointError(f"{cfg.base_url}: timed out after {cfg.timeout}s", retryable=True) from err
        except aiohttp.ClientError as err:  # refused, reset, dropped mid-reply
            raise EndpointError(f"{cfg.base_url}: connection failed ({type(err).__name__})", retryable=True) from err
        if status != 200:
            raise EndpointError(
                f"{cfg.base_url}: HTTP {status}: {raw[:200]!r}",
                status=status,
                retryable=status in RETRYABLE_STATUS or status >= 500,
                retry_after=retry_after,
            )
        result = _parse_completion(raw, cfg.base_url, retryable=self.retry_unusable)
        if self.retry_unusable and not result.text.strip():
            raise EndpointError(f"{cfg.base_url}: empty completion", retryable=True)
        return result

    def submit(self, messages: list[dict], **sampling: Any) -> concurrent.futures.Future:
        """Start one chat from sync code on the client's background loop; the future holds a ChatResult or raises
        EndpointError. Lets a caller handle each result as it arrives (`concurrent.futures.as_completed`)."""
        return asyncio.run_coroutine_threadsafe(self.chat(messages, **sampling), self._background_loop())

    def check_served_model(self) -> None:
        """Fail before any real request when an endpoint does not serve the configured model name.

        `GET /models` answers on vLLM and SGLang; a server that lists nothing (`transformers serve` pinned to one
        model) gets a one-token request instead, which it refuses with a 4xx naming the model it serves."""

        async def check(state: _EndpointState) -> None:
            cfg = state.config
            headers = {"Authorization": f"Bearer {cfg.api_key()}"}
            served: list[str] = []
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError, TypeError):
                async with self._http.get(
                    f"{cfg.base_url}/models", headers=headers, timeout=aiohttp.ClientTimeout(total=cfg.timeout)
                ) as reply:
                    if reply.status == 200:
                        served = [entry["id"] for entry in (await reply.json(content_type=None))["data"]]
            if served and cfg.model not in served:
                raise EndpointError(f"{cfg.base_url} does not serve model {cfg.model!r}; it serves {served}")
            if not served:
                try:
                    await self._post(state, [{"role": "user", "content": "hi"}], {"max_tokens": 1})
                except EndpointError as err:
                    if err.status is not None and 400 <= err.status < 500 and err.status not in RETRYABLE_STATUS:
                        raise EndpointError(
                            f"{cfg.base_url} refused model {cfg.model!r}: {err}", status=err.status
                        ) from err
                    if err.status is None and not err.retryable:
                        raise

        async def check_all():
            await asyncio.gather(*(check(state) for state in self._states))

        asyncio.run_coroutine_threadsafe(check_all(), self._background_loop()).result()

    def chat_many_sync(self, batch: Sequence[list[dict]], **sampling: Any) -> list[ChatResult | EndpointError]:
        """Run a batch of chats concurrently from sync code; each slot holds the result or the error."""

        async def run_all():
            return await asyncio.gather(
                *(self.chat(messages, **sampling) for messages in batch), return_exceptions=True
            )

        results = asyncio.run_coroutine_threadsafe(run_all(), self._background_loop()).result()
        for item in results:
            if isinstance(item, BaseException) and not isinstance(item, EndpointError):
                raise item
        return results

    def _background_loop(self) -> asyncio.AbstractEventLoop:
        if self._background is None:
            loop = asyncio.new_event_loop()
            self._background = threading.Thread(target=loop.run_forever, name="chat-client-loop", daemon=True)
            self._background.start()
            asyncio.run_coroutine_threadsafe(_bind_to(self), loop).result()
        return self._loop

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()

    def close(self) -> None:
        """Close a client used through `chat_many_sync` (stops its background loop)."""
        if self._background is not None:
            asyncio.run_coroutine_threadsafe(self.aclose(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._background.join(timeout=5)
            self._background = None


async def _bind_to(client: ChatClient) -> None:
    client._bind()


def _retry_after_seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _parse_completion(raw: bytes, base_url: str, retryable: bool = False) -> ChatResult:
    try:
        payload = json.loads(raw)
        choice = payload["choices"][0]
        message = choice["message"]
        text = message.get("content") or ""
        if not isinstance(text, str):
            raise TypeError(f"content is {type(text).__name__}")
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise EndpointError(
            f"{base_url}: reply is not a chat completion ({err}): {raw[:200]!r}", retryable=retryable
        ) from err
    usage = payload.get("usage") or {}
    return ChatResult(
        text=text,
        reasoning=message.get("reasoning_content") or message.get("reasoning"),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason=choice.get("finish_reason"),
        endpoint=base_url,
        latency_s=0.0,
        attempts=1,
    )
