"""The role clients: `reward_funcs.client.ChatClient` spread over several connection pools.

httpx's connection pool rescans every connection for every queued request whenever one finishes, so one pool with
C = 64 connections costs O(C^2) CPU per request and a single core saturates long before C / L requests per second.
`RoleClient` keeps the shared client's behaviour (retries, endpoint load sharing, accounting) but splits a role's
concurrency into lanes of at most `lane_size` connections, each lane its own ChatClient with its own pool, and sends
each request to the least-loaded lane.
"""

from __future__ import annotations

import math
from dataclasses import replace

from reward_funcs.client import ChatClient, ChatResult, EndpointConfig, UsageStats

DEFAULT_LANE_SIZE = 8


class RoleClient:
    def __init__(self, endpoints: list[EndpointConfig], *, lane_size: int = DEFAULT_LANE_SIZE, **client_options):
        total = sum(e.max_concurrency for e in endpoints)
        lanes = max(1, math.ceil(total / lane_size))
        self.lanes: list[ChatClient] = []
        self.capacity: list[int] = []
        for lane in range(lanes):
            # Endpoint e gets max_concurrency // lanes slots in every lane, plus one in the first remainder lanes.
            shares = [(e, e.max_concurrency // lanes + (lane < e.max_concurrency % lanes)) for e in endpoints]
            lane_endpoints = [replace(e, max_concurrency=share) for e, share in shares if share > 0]
            if lane_endpoints:
                self.lanes.append(ChatClient(lane_endpoints, **client_options))
                self.capacity.append(sum(e.max_concurrency for e in lane_endpoints))
        self.in_flight = [0] * len(self.lanes)

    async def chat(self, messages: list[dict], **sampling) -> ChatResult:
        lane = min(range(len(self.lanes)), key=lambda i: self.in_flight[i] / self.capacity[i])
        self.in_flight[lane] += 1
        try:
            return await self.lanes[lane].chat(messages, **sampling)
        finally:
            self.in_flight[lane] -= 1

    @property
    def usage(self) -> UsageStats:
        total = UsageStats()
        for lane in self.lanes:
            for key, value in lane.usage.as_dict().items():
                setattr(total, key, getattr(total, key) + value)
        return total

    async def aclose(self) -> None:
        for lane in self.lanes:
            await lane.aclose()
