"""SSRF protection: which addresses a webhook may reach, checked on the address actually dialled.

The check runs inside the HTTP client's network backend, after DNS resolution and right before
the connection is made, so a name that resolves to a public address at creation and to
127.0.0.1 at delivery (DNS rebinding) is still refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpcore
import httpx


class UnsafeAddressError(httpcore.ConnectError):
    """The URL's host resolves to an address webhooks may not reach."""


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses,
    including IPv4 addresses mapped into IPv6."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refuse_unsafe(host: str, addresses: Iterable[str]) -> None:
    blocked = [a for a in addresses if not is_public_address(a)]
    if blocked:
        raise UnsafeAddressError(
            f"{host} resolves to a non-public address ({', '.join(blocked)}); "
            "set WEBHOOKS_ALLOW_PRIVATE_URLS=true to allow it"
        )


async def check_host(host: str, port: int) -> None:
    """At creation: refuse a host any of whose addresses is not public."""
    try:
        addresses = await resolve(host, port)
    except OSError as err:
        raise UnsafeAddressError(f"cannot resolve {host}: {err}") from None
    refuse_unsafe(host, addresses)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, refuses unsafe addresses, then dials the checked address."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port)
        except OSError as err:
            raise httpcore.ConnectError(f"cannot resolve {host}: {err}") from err
        refuse_unsafe(host, addresses)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as err:
                last = err
        raise last or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def http_client(*, allow_private: bool, timeout: float, max_connections: int = 200) -> httpx.AsyncClient:
    """The one client a worker shares: keep-alive pool, no redirects, and the address guard."""
    transport = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=100)
    )
    if not allow_private:
        # httpx takes no network backend of its own, so the pool it built gets ours.
        transport._pool._network_backend = _GuardedBackend()
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        cookies=NoCookies(),
    )


class NoCookies(CookieJar):
    """A jar that keeps nothing. One client serves every workspace's webhooks: a cookie one
    receiver sets must not go with another workspace's deliveries to the same host."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        pass

    def set_cookie(self, cookie: Cookie) -> None:
        pass
