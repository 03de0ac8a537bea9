"""A real HTTP server on 127.0.0.1 for the download tests, with a misbehaving provider's habits.

Each served path can be told to: throttle (pause between blocks), drop the connection after
some bytes (once per entry of ``drop_after``), stall longer than the client's timeout,
answer given statuses first (429/503 with Retry-After), require a bearer token, serve a
corrupt body, ignore Range requests, or answer with an HTML login page. Every request is
logged (path, Range, whether an Authorization header came, and its value), so tests can
count requests and check what was sent. A minimal NASA CMR granule search (UMM-JSON, paged
with CMR-Search-After) lists the registered granules.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CMR_PATH = "/search/granules.umm_json"


@dataclass
class Behaviour:
    token: str | None = None
    fail: list[int] = field(default_factory=list)
    retry_after: str | None = "0"
    drop_after: list[int] = field(default_factory=list)
    stall_after: int | None = None
    stall_s: float = 0.0
    throttle_s: float = 0.0
    block: int = 16384
    corrupt: bool = False
    ignore_range: bool = False
    html: bool = False


@dataclass
class Request:
    path: str
    range: str | None
    authorization: str | None


@dataclass
class Granule:
    short_name: str
    name: str  # the provider's file name
    path: str  # where the server serves it
    checksum: str | None = None  # md5 published in the catalogue (None: the file's own)


class LocalServer:
    """Serves registered bytes at paths; ``with LocalServer() as srv: srv.url(path)``."""

    def __init__(self, page_size: int = 2) -> None:
        self.files: dict[str, bytes] = {}
        self.behaviour: dict[str, Behaviour] = {}
        self.granules: list[Granule] = []
        self.requests: list[Request] = []
        self.page_size = page_size
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, data: bytes, **behaviour) -> str:
        self.files[path] = data
        self.behaviour[path] = Behaviour(**behaviour)
        return self.url(path)

    def add_granule(self, short_name: str, name: str, path: str, data: bytes, **kw) -> None:
        checksum = kw.pop("checksum", None)
        self.add(path, data, **kw)
        self.granules.append(Granule(short_name, name, path, checksum))

    def count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def log(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # ------------------------------------------------------------------------------ CMR

    def cmr_page(self, query: dict[str, list[str]], after: str | None) -> tuple[dict, str | None]:
        short = query.get("short_name", [""])[0]
        patterns = query.get("readable_granule_name[]", [])
        hits = [
            g
            for g in self.granules
            if g.short_name == short
            and (not patterns or any(fnmatch.fnmatch(g.name, p) for p in patterns))
        ]
        start = int(after or 0)
        page = hits[start : start + self.page_size]
        items = [self._umm(g) for g in page]
        nxt = str(start + len(page)) if start + len(page) < len(hits) else None
        return {"hits": len(hits), "took": 1, "items": items}, nxt

    def _umm(self, g: Granule) -> dict:
        data = self.files[g.path]
        md5 = g.checksum or hashlib.md5(data).hexdigest()
        return {
            "meta": {"concept-id": f"G-{g.name}", "provider-id": "LOCAL"},
            "umm": {
                "GranuleUR": g.name.rsplit(".", 1)[0],
                "DataGranule": {
                    "ArchiveAndDistributionInformation": [
                        {
                            "Name": g.name,
                            "SizeInBytes": len(data),
                            "Size": round(len(data) / 1e6, 2),
                            "SizeUnit": "MB",
                            "Checksum": {"Value": md5, "Algorithm": "MD5"},
                        }
                    ]
                },
                "RelatedUrls": [
                    {"URL": f"s3://bucket/{g.name}", "Type": "GET DATA VIA DIRECT ACCESS"},
                    {"URL": self.url(g.path), "Type": "GET DATA"},
                    {"URL": self.url(g.path) + ".xml", "Type": "EXTENDED METADATA"},
                ],
            },
        }


def _handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - silence the default stderr log
            pass

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            path = parts.path
            with server._lock:
                server.requests.append(
                    Request(path, self.headers.get("Range"), self.headers.get("Authorization"))
                )
            if path == CMR_PATH:
                body, nxt = server.cmr_page(
                    parse_qs(parts.query), self.headers.get("CMR-Search-After")
                )
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.nasa.cmr.umm_results+json")
                self.send_header("Content-Length", str(len(raw)))
                if nxt:
                    self.send_header("CMR-Search-After", nxt)
                self.end_headers()
                self.wfile.write(raw)
                return
            b = server.behaviour.get(path)
            data = server.files.get(path)
            if data is None or b is None:
                return self._plain(404, b"not found")
            if b.fail:
                status = b.fail.pop(0)
                extra = {"Retry-After": b.retry_after} if b.retry_after is not None else {}
                return self._plain(status, b"try later", extra)
            if b.token is not None and self.headers.get("Authorization") != f"Bearer {b.token}":
                return self._plain(401, b"HTTP Basic: Access denied.")
            if b.html:
                return self._plain(
                    200, b"<!DOCTYPE html><html><body>Earthdata Login</body></html>",
                    {"Content-Type": "text/html; charset=utf-8"},
                )  # fmt: skip
            if b.corrupt:
                data = bytes((x * 7 + 13) % 256 for x in range(len(data)))
            start = 0
            rng = self.headers.get("Range")
            if rng and not b.ignore_range:
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(data):
                    return self._plain(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            limit = len(data)
            if b.drop_after:
                limit = min(limit, b.drop_after.pop(0))
            sent = start
            try:
                while sent < limit:
                    if b.stall_after is not None and sent >= b.stall_after:
                        b.stall_after = None  # once
                        time.sleep(b.stall_s)
                        break  # then hang up, as a stuck server eventually does
                    end = min(sent + b.block, limit)
                    self.wfile.write(data[sent:end])
                    self.wfile.flush()
                    sent = end
                    if b.throttle_s:
                        time.sleep(b.throttle_s)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True

        def _plain(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            headers = {"Content-Type": "text/plain", **(headers or {})}
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
