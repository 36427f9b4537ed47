"""The documentation's pictures, made by the project itself from saved Scholar pages.

Everything runs on loopback: the test suite's fake Scholar (tests/support/fake_scholar.py) serves
the real saved profiles of tests/fixtures/scholar/, ``scholar-stats fetch`` draws the kit
(the seven badges, the chart, the card), ``authors add``/``refresh``/``groups add`` fill a
SQLite store from the same pages, and a real ``scholar-stats serve`` on 127.0.0.1 draws a badge
in every style and is screenshotted by headless Chromium (the index, an author's page and a
group's page, in light and dark).

    python docs/make_pictures.py              # rewrite docs/images/
    python docs/make_pictures.py --out DIR    # elsewhere (the test compares the SVGs)

The chart and the card follow ``prefers-color-scheme``; the light and dark files shown in the
pages are the drawn file with that rule forced off or on. tests/project/test_docs_pictures.py
checks that the committed SVGs are what this script draws today, byte for byte.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.browser_helpers import CHROMIUM, screenshot  # noqa: E402 - after the path
from support.fake_scholar import running_fake_scholar  # noqa: E402
from support.service_helpers import free_port  # noqa: E402
from support.waiting import wait_until  # noqa: E402

AUTHOR = "amIMrIEAAAAJ"  # a saved profile page (tests/fixtures/scholar/SOURCES.md)
MEMBERS = (AUTHOR, "LZ5D_p4AAAAJ")  # the group "lab"
METRICS = ("citations", "citations-5y", "h-index", "h-index-5y", "i10-index", "i10-index-5y",
           "publications")
STYLES = ("flat", "flat-square", "plastic", "for-the-badge", "social")
DARK_RULE = "@media (prefers-color-scheme: dark)"
PAGES = {"index": ("/", (1100, 330)), "author": (f"/authors/{AUTHOR}/", (1100, 1500)),
         "group": ("/groups/lab/", (1100, 400))}


def cli(*args: str, env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "scholar_stats", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"scholar-stats {' '.join(args)} failed:\n{done.stderr}")


def themed(svg: bytes, dark: bool) -> bytes:
    """The picture as a viewer in light (or dark) mode sees it, whatever the reader's mode."""
    text = svg.decode("utf-8")
    if text.count(DARK_RULE) != 1:
        raise SystemExit("make_pictures: the picture should have one dark rule")
    return text.replace(DARK_RULE, "@media all" if dark else "@media not all").encode("utf-8")


def draw_kit(results: Path, out: Path) -> None:
    for metric in METRICS:
        (out / f"badge-{metric}.svg").write_bytes((results / "badges" / f"{metric}.svg")
                                                  .read_bytes())
    for name in ("chart", "card"):
        drawn = (results / f"{name}.svg").read_bytes()
        for dark in (False, True):
            (out / f"{name}-{'dark' if dark else 'light'}.svg").write_bytes(themed(drawn, dark))


def serve(db: str, env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(cwd / "serve.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "scholar_stats", "serve", "--db", db,
                             "--port", str(port), "--no-scheduler"], env=env, cwd=cwd,
                            stdout=log, stderr=log)

    def up() -> bool:
        if proc.poll() is not None:
            raise SystemExit("serve stopped:\n" + (cwd / "serve.log").read_text())
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(up, "serve came up", timeout=60)
    return proc, base


def make(out: Path) -> list[Path]:
    if CHROMIUM is None:
        raise SystemExit("make_pictures: no Chromium on PATH (apt-get install chromium)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, running_fake_scholar() as fake:
        work = Path(scratch)
        env = {**os.environ, "SCHOLAR_STATS_SCHOLAR_URL": fake.url, "SCHOLAR_STATS_DELAY": "0",
               "SCHOLAR_STATS_BACKOFF": "0.05", "PYTHONPATH": str(ROOT)}
        for name in ("SCHOLAR_STATS_DB", "SCHOLAR_STATS_PROXY", "SCHOLAR_STATS_SOURCE",
                     "SERPAPI_API_KEY", "SCHOLAR_STATS_OUT"):
            env.pop(name, None)
        cli("fetch", AUTHOR, "--out", str(work / "results"), env=env, cwd=work)
        draw_kit(work / "results", out)

        db = f"sqlite:///{work / 'store.db'}"
        cli("authors", "add", *MEMBERS, "--db", db, env=env, cwd=work)
        cli("refresh", "--db", db, env=env, cwd=work)
        cli("groups", "add", "lab", *MEMBERS, "--db", db, env=env, cwd=work)
        proc, base = serve(db, env, work)
        try:
            for style in STYLES:
                answer = httpx.get(f"{base}/authors/{AUTHOR}/badges/citations.svg",
                                   params={"style": style}, timeout=30)
                answer.raise_for_status()
                (out / f"badge-style-{style}.svg").write_bytes(answer.content)
            for name, (path, size) in PAGES.items():
                for dark in (False, True):
                    shot = out / f"{name}-{'dark' if dark else 'light'}.png"
                    screenshot(base + path, shot, work / "chromium", dark=dark, size=size)
        finally:
            proc.terminate()
            proc.wait(20)
    return sorted(out.iterdir())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    for path in make(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
