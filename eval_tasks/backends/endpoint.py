"""Generation through any OpenAI-compatible chat server, via the project's one client (`reward_funcs.client`).

Several base URLs spread the load (each request goes to the least loaded one; a retried request may move).
Timeouts, 429, 5xx, dropped connections, replies that are not a chat completion and empty completions are retried
with backoff; an item that still fails is reported as failed (the model records it, the next run retries it).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator

from eval_tasks.backends import Completion, GenerationRequest
from eval_tasks.backends.messages import to_openai
from reward_funcs.client import ChatClient, EndpointConfig, EndpointError


class EndpointBackend:
    tokenizer = None  # the server tokenizes

    def __init__(
        self,
        endpoints: list[EndpointConfig],
        *,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
    ):
        self.client = ChatClient(
            endpoints,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            retry_unusable=True,
        )
        self.client.check_served_model()  # a wrong --served-model-name fails here, before any item is sent
        # The client's limits are per endpoint; never hold more prompts (with their encoded images) than can fly.
        self.in_flight = sum(endpoint.max_concurrency for endpoint in endpoints)

    def generate(self, requests: list[GenerationRequest]) -> Iterator[tuple[int, Completion]]:
        pending: dict[concurrent.futures.Future, int] = {}
        queue = iter(range(len(requests)))
        for index in queue:
            pending[self._submit(requests[index])] = index
            if len(pending) >= 2 * self.in_flight:
                break
        while pending:
            done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                yield index, self._completion(future)
                next_index = next(queue, None)
                if next_index is not None:
                    pending[self._submit(requests[next_index])] = next_index

    def _submit(self, request: GenerationRequest) -> concurrent.futures.Future:
        return self.client.submit(to_openai(request.messages), max_tokens=request.max_new_tokens, temperature=0.0)

    @staticmethod
    def _completion(future: concurrent.futures.Future) -> Completion:
        try:
            result = future.result()
        except EndpointError as err:
            return Completion(None, str(err))
        text = result.text
        if result.reasoning:  # a server-side reasoning parser split <think>...</think> off the content: put it back
            text = f"<think>{result.reasoning}</think>{text}"
        return Completion.checked(text, result.prompt_tokens, result.completion_tokens)

    def close(self) -> None:
        self.client.close()
