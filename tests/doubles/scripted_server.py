"""A scripted OpenAI-compatible server on loopback, for tests and benchmarks of everything that calls a model.

It speaks real HTTP/1.1 (keep-alive, Content-Length bodies) on 127.0.0.1 from a background thread, so the project's
real client is exercised end to end. Each POST to `/v1/chat/completions` is answered by a `responder(request)`
callable that returns a `Reply`: text, an HTTP status, a delay, a garbage body, or a dropped connection.

    with ScriptedOpenAIServer(lambda req: Reply(text="<answer>B</answer>")) as server:
        EndpointConfig(base_url=server.base_url, model="judge")

Bounded by construction: it serves only while the `with` block runs and stops itself on exit.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay_s: float = 0.0
    garbage: bytes | None = None  # sent as the 200 body instead of a chat completion
    drop: bool = False  # close the connection without answering
    headers: dict[str, str] = field(default_factory=dict)
    reasoning: str | None = None
    prompt_tokens: int = 10
    completion_tokens: int | None = None


@dataclass
class Request:
    path: str
    body: dict
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", [])

    @property
    def last_text(self) -> str:
        """The text of the last message, whether its content is a string or a list of parts."""
        content = self.messages[-1]["content"] if self.messages else ""
        if isinstance(content, str):
            return content
        return "\n".join(part.get("text", "") for part in content if part.get("type") == "text")


class ScriptedOpenAIServer:
    def __init__(self, responder: Callable[[Request], Reply]):
        self.responder = responder
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> ScriptedOpenAIServer:
        self._thread = threading.Thread(target=self._serve, name="scripted-openai-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("scripted OpenAI server did not start within 10 s")
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._handlers: set[asyncio.Task] = set()
        server = await asyncio.start_server(self._track, "127.0.0.1", 0, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()
        for task in list(self._handlers):  # idle keep-alive connections wait on a read: end them
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()

    async def _track(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._handlers.add(task)
        try:
            await self._handle(reader, writer)
        finally:
            self._handlers.discard(task)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                with self._lock:
                    self.requests.append(request)
                reply = self.responder(request)
                if reply.delay_s:
                    await asyncio.sleep(reply.delay_s)
                if reply.drop:
                    break
                writer.write(_render(reply, request))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return None
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    raw = await reader.readexactly(int(headers.get("content-length", 0)))
    return Request(path=path, body=json.loads(raw) if raw else {}, headers=headers)


def _render(reply: Reply, request: Request) -> bytes:
    if reply.status != 200:
        body = json.dumps({"error": {"message": f"scripted status {reply.status}"}}).encode()
    elif reply.garbage is not None:
        body = reply.garbage
    else:
        message = {"role": "assistant", "content": reply.text}
        if reply.reasoning is not None:
            message["reasoning_content"] = reply.reasoning
        completion_tokens = reply.completion_tokens if reply.completion_tokens is not None else len(reply.text.split())
        body = json.dumps(
            {
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "model": request.body.get("model", ""),
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": reply.prompt_tokens + completion_tokens,
                },
            }
        ).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **reply.headers}
    head = f"HTTP/1.1 {reply.status} Scripted\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + body
