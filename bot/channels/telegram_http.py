"""PTB's HTTP layer on aiohttp (the channel's `Bot` uses it for every Bot API call)."""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """PTB's HTTP layer on aiohttp.

    PTB's default (httpx/httpcore) scans every pooled connection with syscalls on each request; with hundreds of
    chats sending at once that cost most of the bot's CPU time. aiohttp's connector does not.
    """

    def __init__(self, connection_pool_size: int = 256, timeout: float = 10.0) -> None:
        self._limit = connection_pool_size
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit), headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")

        def chosen(value: Any) -> float | None:
            return self._timeout if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value

        connect, pool = chosen(connect_timeout), chosen(pool_timeout)
        timeout = aiohttp.ClientTimeout(
            connect=None if connect is None or pool is None else connect + pool,  # includes waiting for the pool
            sock_connect=connect,
            sock_read=chosen(read_timeout),  # aiohttp has no write timeout; the read timeout bounds the wait
        )
        data: Any = None
        if request_data is not None:
            data = request_data.json_parameters  # form-encoded, like PTB's default
            if request_data.contains_files:
                form = aiohttp.FormData()
                for name, value in data.items():
                    form.add_field(name, value)
                for name, (filename, content, mime_type) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mime_type)
                data = form
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}") from exc
