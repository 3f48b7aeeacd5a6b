"""An HTTP client for the CLI, turning problem responses into `CliError`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
import typer

from strongroom.defaults import DEFAULT_ADDR


class CliError(Exception):
    """An error to show in one or two lines, then exit non-zero."""

    def __init__(self, message: str, hint: str | None = None, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


AddrOption = Annotated[
    str,
    typer.Option("--addr", envvar="STRONGROOM_ADDR", help="Server address (URL or host:port)."),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="STRONGROOM_TOKEN", help="Bearer token.", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DEFAULT = DEFAULT_ADDR


ADDR_HINT = "set --addr or STRONGROOM_ADDR to host:port or http(s)://host:port"


def base_url(addr: str) -> str:
    addr = addr.strip()
    scheme, sep, rest = (addr if "://" in addr else f"http://{addr}").partition("://")
    return scheme + sep + rest.rstrip("/")


def _bad_address(addr: str, reason: str) -> CliError:
    return CliError(f"invalid server address {addr!r}: {reason}", ADDR_HINT)


def checked_url(addr: str) -> str:
    """The base URL for ``addr``; `CliError` naming the problem if it is not usable."""
    url = base_url(addr)
    try:
        parsed = httpx.URL(url)
        host, _ = parsed.host, parsed.port
    except (httpx.InvalidURL, ValueError) as exc:
        raise _bad_address(addr, str(exc)) from None
    if parsed.scheme not in ("http", "https"):
        raise _bad_address(addr, "the scheme must be http or https")
    if not host:
        raise _bad_address(addr, "no host given")
    return url


def _checked_token(token: str | None) -> str | None:
    if token is None:
        return None
    token = token.strip()
    if not (token.isascii() and token.isprintable()):
        raise CliError(
            "the token is malformed (a token is printable ASCII)",
            "set --token or STRONGROOM_TOKEN to a valid token",
        )
    return token or None


class Client:
    """Calls one Strongroom server."""

    def __init__(self, addr: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = checked_url(addr)
        token = _checked_token(token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        except (httpx.InvalidURL, ValueError) as exc:
            raise _bad_address(addr, str(exc)) from None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200,),
        form: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=json, params=params, data=form)
        except httpx.UnsupportedProtocol as exc:
            raise _bad_address(self.url, str(exc)) from None
        except httpx.TransportError as exc:
            raise CliError(
                f"cannot reach Strongroom at {self.url} ({type(exc).__name__})",
                "is the server running? set --addr or STRONGROOM_ADDR",
            ) from None
        except (httpx.InvalidURL, ValueError) as exc:
            # Building the request failed: a host name that cannot be encoded, and such.
            raise _bad_address(self.url, str(exc) or type(exc).__name__) from None
        except httpx.HTTPError as exc:
            raise CliError(f"request to {self.url} failed ({type(exc).__name__})") from None
        if response.status_code not in ok:
            raise _problem(response)
        return response

    @contextmanager
    def stream(
        self, method: str, path: str, *, params: dict[str, Any] | None = None
    ) -> Iterator[httpx.Response]:
        """A streamed response (200 only); problems and transport errors as `CliError`."""
        try:
            with self._http.stream(method, path, params=params) as response:
                if response.status_code != 200:
                    response.read()
                    raise _problem(response)
                yield response
        except httpx.TransportError as exc:
            raise CliError(
                f"the transfer from {self.url} failed ({type(exc).__name__})",
                "is the server running? try again",
            ) from None

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"{self.url} did not answer with JSON", "is that a Strongroom server?"
            ) from None

    def get(self, path: str, **kw: Any) -> Any:
        return self._json(self.request("GET", path, **kw))

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self._json(self.request("POST", path, json=body, **kw))


_HINTS = {
    "urn:strongroom:problem:sealed": "unseal it: strongroom operator unseal",
    "urn:strongroom:problem:not-initialized": "initialise it: strongroom operator init",
    "urn:strongroom:problem:unauthenticated": "set --token or STRONGROOM_TOKEN to a valid token",
    "urn:strongroom:problem:forbidden": "ask for a token with that scope",
}


def _problem(response: httpx.Response) -> CliError:
    try:
        body = response.json()
        detail = str(body.get("detail") or body.get("title") or "request failed")
        kind = str(body.get("type", ""))
        errors = body.get("errors")
        if errors:
            detail += ": " + "; ".join(f"{e.get('loc')}: {e.get('msg')}" for e in errors)
        if "error" in body and "type" not in body:  # an RFC 6749 OAuth error
            detail = str(body.get("error_description") or body["error"])
    except (ValueError, AttributeError):
        detail, kind = f"HTTP {response.status_code}", ""
    return CliError(f"{detail} (HTTP {response.status_code})", _HINTS.get(kind))
