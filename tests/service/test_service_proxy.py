"""``serve`` behind a proxy. The example nginx file (docs/examples/nginx-scholar-stats.conf,
shown by docs/deploy.md), run on loopback with TLS (a certificate made here) in front of a real
``serve`` limited to 64 open files: the pages' snippets say https, and 300 idle or slow clients
that starve ``serve`` when they reach it directly cost it nothing through nginx. And
``SCHOLAR_STATS_FORWARDED_ALLOW_IPS``: ``X-Forwarded-Proto`` is believed from the trusted
addresses only."""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from support.service_helpers import FRESH, ROOT, fill_store, free_port, running_serve
from support.waiting import wait_until

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
OPENSSL = shutil.which("openssl")
HOST = "stats.example.org"
OPEN_FILES = 64  # serve's limit (ulimit -n): far fewer than the slow clients
SLOW_CLIENTS = 300
BOUND = 0.5  # seconds: no public answer waits this long (docs/failure-model.md, "The service")
SNIPPET = f"/authors/{FRESH}/badges/citations.svg"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'proxy.db'}"
    fill_store(url)
    return url


NGINX_FILE = ROOT / "docs" / "examples" / "nginx-scholar-stats.conf"


def example_nginx_file() -> str:
    """The example file docs/deploy.md shows (included, never copied: one file)."""
    page = (ROOT / "docs" / "deploy.md").read_text("utf-8")
    assert '--8<-- "docs/examples/nginx-scholar-stats.conf"' in page
    assert "server_name" not in page  # the page includes the file, it does not copy it
    return NGINX_FILE.read_text("utf-8")


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for HOST and 127.0.0.1, and its key."""
    assert OPENSSL is not None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@contextmanager
def running_nginx(work: Path, upstream_port: int) -> Iterator[tuple[int, Path]]:
    """nginx with the example file (its name, port and certificate filled in) on a free
    loopback port; yields the port and the certificate."""
    assert NGINX is not None
    cert, key = certificate(work)
    site = example_nginx_file()
    port = free_port()
    for old, new in (("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
                     ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
                     (f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(cert)),
                     (f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(key))):
        assert site.count(old) == 1, old
        site = site.replace(old, new)
    (work / "scholar-stats.conf").write_text(site)
    temp = work / "nginx-temp"
    temp.mkdir()
    (work / "nginx.conf").write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
worker_rlimit_nofile 8192;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {work}/scholar-stats.conf;
}}
""")
    proc = subprocess.Popen([NGINX, "-c", str(work / "nginx.conf"), "-p", str(work)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def up() -> bool:
            assert proc.poll() is None, proc.communicate()[1].decode()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_until(up, "nginx came up", timeout=10)
        yield port, cert
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def https_client(port: int, cert: Path) -> httpx.Client:
    """A client of nginx on loopback that asks for HOST, checking nginx's certificate."""
    context = ssl.create_default_context(cafile=str(cert))
    return httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=context, timeout=5,
                        headers={"Host": HOST})


def slow_clients(stack: ExitStack, port: int, *, tls: bool) -> int:
    """SLOW_CLIENTS connections that stay open: half send nothing, half send a request's first
    headers and never finish it (over TLS when ``tls``). Returns how many are open."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    opened = 0
    for n in range(SLOW_CLIENTS):
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
        if n % 2:
            if tls:
                sock = stack.enter_context(context.wrap_socket(sock, server_hostname=HOST))
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ".encode())
        opened += 1
    return opened


def timed_get(client: httpx.Client, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    status = client.get(path).status_code
    return status, time.perf_counter() - started


@pytest.mark.skipif(NGINX is None or OPENSSL is None, reason="nginx or openssl is not installed")
def test_the_readmes_nginx_serves_https_and_holds_slow_clients(db_url: str,
                                                                 tmp_path: Path) -> None:
    with running_serve(db_url, tmp_path, open_files=OPEN_FILES) as (base, _proc), \
            running_nginx(tmp_path, int(base.rsplit(":", 1)[1])) as (port, cert), \
            https_client(port, cert) as client:
        page = client.get(f"/authors/{FRESH}/")
        assert page.status_code == 200
        assert f"https://{HOST}{SNIPPET}" in page.text and "http://" + HOST not in page.text
        assert client.get(SNIPPET).status_code == 200

        # the control: reaching serve directly, the slow clients leave it no file for others
        with ExitStack() as stack, httpx.Client(base_url=base, timeout=2) as direct:
            assert slow_clients(stack, int(base.rsplit(":", 1)[1]), tls=False) == SLOW_CLIENTS
            time.sleep(0.5)
            with pytest.raises(httpx.TransportError):
                for _ in range(3):
                    direct.get(SNIPPET)
        time.sleep(1)  # they went away: serve closes what they held

        # through nginx: the same clients wait there, serve answers as ever
        with ExitStack() as stack:
            assert slow_clients(stack, port, tls=True) == SLOW_CLIENTS
            time.sleep(0.5)
            answers = [timed_get(client, path) for _ in range(10)
                       for path in (SNIPPET, f"/authors/{FRESH}/gs_data.json", "/")]
            with httpx.Client(base_url=base, timeout=2) as direct:
                assert direct.get(SNIPPET).status_code == 200
    assert {status for status, _ in answers} == {200}
    worst = max(took for _, took in answers)
    print(f"\nthrough nginx, with {SLOW_CLIENTS} slow clients: worst answer {worst * 1000:.0f} ms")
    assert worst < BOUND, f"an answer took {worst:.2f} s"


def page_scheme(base: str, source: str, forwarded: str | None) -> str:
    """The scheme the author page's snippets give, asked from address ``source``."""
    transport = httpx.HTTPTransport(local_address=source)
    headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
    with httpx.Client(transport=transport, headers=headers) as client:
        text = client.get(f"{base}/authors/{FRESH}/").text
    found = set(re.findall(r"(https?)://127\.0\.0\.1:\d+" + re.escape(SNIPPET), text))
    assert len(found) == 1, found
    return found.pop()


def test_forwarded_proto_is_believed_from_trusted_proxies_only(db_url: str,
                                                                tmp_path: Path) -> None:
    with running_serve(db_url, tmp_path) as (base, _proc):  # the default: this machine's proxy
        assert page_scheme(base, "127.0.0.1", None) == "http"
        assert page_scheme(base, "127.0.0.1", "https") == "https"
        assert page_scheme(base, "127.0.0.2", "https") == "http"  # not a trusted address
    env = {"SCHOLAR_STATS_FORWARDED_ALLOW_IPS": "10.0.0.0/8, 127.0.0.2"}
    with running_serve(db_url, tmp_path, env) as (base, _proc):
        assert page_scheme(base, "127.0.0.1", "https") == "http"
        assert page_scheme(base, "127.0.0.2", "https") == "https"
