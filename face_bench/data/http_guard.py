"""urllib openers for downloads: redirects to http(s) only, and a deadline on every socket.

urllib's ``timeout`` bounds each socket read, so a server sending a byte every few seconds,
in its headers or its body, keeps a download alive forever. Each connection made through
``guarded_opener`` gets a timer that shuts its socket down when the whole download's time
is up, which ends whatever read is waiting on it.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from face_bench.core.errors import FetchError

SCHEMES = ("http", "https")


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a few redirects, and only to http(s): never to ``file://`` or ``ftp://``."""

    max_redirections = 5

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme not in SCHEMES:
            raise FetchError(
                f"cannot download {req.full_url}: the server redirects to {newurl}, "
                "which is not an http(s) URL"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _shut_down(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: the download ended in time
        sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def guarded_opener(deadline: float) -> Iterator[urllib.request.OpenerDirector]:
    """An opener whose connections are shut down at ``deadline`` (a ``time.monotonic()``)."""
    timers: list[threading.Timer] = []

    def watch(sock: Any) -> None:
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), _shut_down, (sock,))
        timer.daemon = True
        timers.append(timer)
        timer.start()

    class HTTP(http.client.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            watch(self.sock)

    class HTTPS(http.client.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            watch(self.sock)

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(HTTP, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            extra = vars(self).get("_check_hostname")  # a parameter until Python 3.12
            kwargs = {} if extra is None else {"check_hostname": extra}
            return self.do_open(HTTPS, req, context=vars(self).get("_context"), **kwargs)

    try:
        yield urllib.request.build_opener(_HttpOnlyRedirects, HTTPHandler, HTTPSHandler)
    finally:
        for timer in timers:
            timer.cancel()
