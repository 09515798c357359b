"""The shared OpenAI-compatible client against a scripted loopback server: retries, limits, accounting."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import threading
import time

import pytest

from reward_funcs.client import ChatClient, EndpointConfig, EndpointError
from tests.doubles.scripted_server import Reply, ScriptedOpenAIServer

MESSAGES = [{"role": "user", "content": "hi"}]


async def chat_once(client: ChatClient, **sampling):
    try:
        return await client.chat(MESSAGES, **sampling)
    finally:
        await client.aclose()


def fast_client(*servers, **kwargs) -> ChatClient:
    endpoints = [EndpointConfig(base_url=s.base_url, model="m", timeout=kwargs.pop("timeout", 5.0)) for s in servers]
    return ChatClient(endpoints, backoff_base=0.01, backoff_max=0.05, **kwargs)


def test_chat_returns_text_reasoning_and_counts_tokens():
    with ScriptedOpenAIServer(lambda r: Reply(text="ok", reasoning="hmm", prompt_tokens=7, completion_tokens=3)) as s:
        client = fast_client(s)
        result = asyncio.run(chat_once(client, temperature=0.0))
    assert (result.text, result.reasoning, result.attempts) == ("ok", "hmm", 1)
    assert client.usage.prompt_tokens == 7 and client.usage.completion_tokens == 3 and client.usage.requests == 1
    assert s.requests[0].body["temperature"] == 0.0 and s.requests[0].body["model"] == "m"


@pytest.mark.parametrize(
    "failure",
    [Reply(status=500), Reply(status=503), Reply(status=429, headers={"Retry-After": "0"}), Reply(drop=True)],
    ids=["500", "503", "429", "dropped"],
)
def test_transient_failures_are_retried(failure):
    calls = itertools.count()
    with ScriptedOpenAIServer(lambda r: failure if next(calls) < 2 else Reply(text="fine")) as s:
        client = fast_client(s)
        result = asyncio.run(chat_once(client))
    assert result.text == "fine" and result.attempts == 3 and client.usage.retries == 2


def test_timeout_is_retried_then_reported():
    with ScriptedOpenAIServer(lambda r: Reply(text="late", delay_s=1.0)) as s:
        client = fast_client(s, timeout=0.1, max_retries=1)
        with pytest.raises(EndpointError, match="timed out"):
            asyncio.run(chat_once(client))
    assert client.usage.failures == 1 and client.usage.retries == 1


@pytest.mark.parametrize("reply", [Reply(status=400), Reply(garbage=b"<html>oops"), Reply(garbage=b'{"choices": []}')])
def test_permanent_failures_are_not_retried(reply):
    with ScriptedOpenAIServer(lambda r: reply) as s:
        client = fast_client(s)
        with pytest.raises(EndpointError) as err:
            asyncio.run(chat_once(client))
    assert not err.value.retryable and len(s.requests) == 1


def test_concurrency_limit_and_load_sharing_across_endpoints():
    peak = {"now": 0, "max": 0}
    lock = threading.Lock()

    def responder(request):
        with lock:
            peak["now"] += 1
            peak["max"] = max(peak["max"], peak["now"])
        return Reply(text="x", delay_s=0.05)

    def done(_):
        with lock:
            peak["now"] -= 1

    with ScriptedOpenAIServer(responder) as a, ScriptedOpenAIServer(responder) as b:
        endpoints = [EndpointConfig(base_url=srv.base_url, model="m", max_concurrency=3) for srv in (a, b)]
        client = ChatClient(endpoints)

        async def run():
            async def one():
                result = await client.chat(MESSAGES)
                done(result)
                return result

            try:
                return await asyncio.gather(*(one() for _ in range(24)))
            finally:
                await client.aclose()

        start = time.perf_counter()
        results = asyncio.run(run())
        elapsed = time.perf_counter() - start
    assert len(results) == 24 and {r.endpoint for r in results} == {a.base_url, b.base_url}
    assert peak["max"] <= 6  # 3 per endpoint
    assert len(a.requests) >= 8 and len(b.requests) >= 8
    assert elapsed >= 0.05 * 24 / 6


def test_chat_many_sync_works_inside_a_running_loop(monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", "sk-secret")
    with ScriptedOpenAIServer(lambda r: Reply(text=r.last_text.upper())) as s:
        client = ChatClient([EndpointConfig(base_url=s.base_url, model="m", api_key_env="JUDGE_KEY")])

        async def caller_with_a_loop():
            return client.chat_many_sync([[{"role": "user", "content": w}] for w in ("a", "b")])

        results = asyncio.run(caller_with_a_loop())
        client.close()
    assert [r.text for r in results] == ["A", "B"]
    assert s.requests[0].headers["authorization"] == "Bearer sk-secret"


@pytest.mark.parametrize("unusable", [Reply(garbage=b"<html>oops"), Reply(text=""), Reply(text="  \n")])
def test_unusable_replies_are_retried_when_asked(unusable):
    calls = itertools.count()
    with ScriptedOpenAIServer(lambda r: unusable if next(calls) < 2 else Reply(text="fine")) as s:
        client = fast_client(s, retry_unusable=True)
        result = asyncio.run(chat_once(client))
    assert result.text == "fine" and result.attempts == 3


def test_submit_gives_each_result_as_it_arrives():
    with ScriptedOpenAIServer(lambda r: Reply(text=r.last_text, delay_s=0.3 if r.last_text == "slow" else 0)) as s:
        client = fast_client(s)
        futures = {client.submit([{"role": "user", "content": w}]): w for w in ("slow", "quick")}
        order = [futures[f] for f in concurrent.futures.as_completed(futures)]
        client.close()
    assert order == ["quick", "slow"]


def test_check_served_model_names_what_the_server_serves():
    listing = json.dumps({"object": "list", "data": [{"id": "served/model"}]}).encode()
    with ScriptedOpenAIServer(
        lambda r: Reply(garbage=listing) if r.path.endswith("/models") else Reply(text="x")
    ) as s:
        good = ChatClient([EndpointConfig(base_url=s.base_url, model="served/model")])
        bad = ChatClient([EndpointConfig(base_url=s.base_url, model="other")])
        good.check_served_model()
        with pytest.raises(EndpointError, match=r"does not serve model 'other'; it serves \['served/model'\]"):
            bad.check_served_model()
        good.close()
        bad.close()
    assert not [r for r in s.requests if r.path.endswith("/chat/completions")]  # the listing sufficed
