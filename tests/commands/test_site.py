"""``scholar-stats site THEME --site DIR [--from RESULTS] [ID ...]`` (issue 20, items 1 and 5):
with ``--from`` not one request reaches Scholar; without it the fetch is ``fetch``'s (same exit
codes, same gate); the id comes from the command line or the site; only changed files are
written, all or none, never over a file a person wrote; bad input is one line and exit 2."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from support.cli_helpers import run_cli, run_main
from support.fake_scholar import REAL_ID, FakeScholar

SECOND = "SiteAuthor02"


@pytest.fixture
def results(fake_scholar: FakeScholar, tmp_path: Path) -> Path:
    """A results folder as ``fetch --out`` writes it for the real saved profile; the fake
    Scholar's request log emptied after it."""
    out = tmp_path / "results"
    assert run_main(["fetch", REAL_ID, "--out", str(out)])[0] == 0
    fake_scholar.requests.clear()
    return out


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root``: its bytes and its modification time (ns)."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("theme", ["al-folio", "jekyll", "hugo"])
def test_from_makes_no_request_and_an_unchanged_run_leaves_every_file_as_it_was(
    theme: str, results: Path, fake_scholar: FakeScholar, tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.md").write_text("my page\n")
    code, out, err = run_main(["site", theme, "--site", str(site), "--from", str(results),
                               REAL_ID])
    assert (code, err) == (0, "")
    written = snapshot(site)
    assert len(written) == {"al-folio": 2, "jekyll": 3, "hugo": 3}[theme]
    assert out.count("written") == len(written) - 1
    code, out, err = run_main(["site", theme, REAL_ID, "--site", str(site), "--from",
                               str(results)])  # the id before the flags, too
    assert (code, err) == (0, "")
    assert "up to date" in out
    assert snapshot(site) == written  # not one byte, not one rewrite
    assert fake_scholar.requests == []


def test_without_from_it_fetches_as_fetch_does(
    fake_scholar: FakeScholar, tmp_path: Path,
) -> None:
    site, out = tmp_path / "site", tmp_path / "out"
    site.mkdir()
    code, stdout, err = run_main(["site", "jekyll", "--site", str(site), "--out", str(out),
                                  REAL_ID])
    assert code == 0, err
    assert f"{REAL_ID}: Doaa Elmatary: 56 citations" in stdout  # fetch's own line
    assert len(fake_scholar.profile_requests()) == 1
    assert json.loads((out / "gs_data.json").read_text())["citedby"] == 56
    data = yaml.safe_load((site / "_data" / "scholar_stats.yml").read_text())
    assert data["authors"][REAL_ID]["metrics"]["citations"] == 56

    # the next fetch of the same numbers: the site's files stay as they are, even when they
    # hold another fetch time (as after a fetch the day before)
    data_file = site / "_data" / "scholar_stats.yml"
    updated = json.loads((out / "gs_data.json").read_text())["updated"]
    data_file.write_text(data_file.read_text().replace(updated, "2026-01-01T00:00:00+00:00"))
    assert "2026-01-01T00:00:00" in data_file.read_text()
    before = snapshot(site)
    code, stdout, err = run_main(["site", "jekyll", "--site", str(site), "--out", str(out),
                                  REAL_ID])
    assert code == 0, err
    assert len(fake_scholar.profile_requests()) == 2
    assert "up to date" in stdout
    assert snapshot(site) == before

    # blocked: fetch's exit 3; the site's files stay, drawn from the data kept in --out
    fake_scholar.mode = "403"
    code, _stdout, err = run_main(["site", "jekyll", "--site", str(site), "--out", str(out),
                                   REAL_ID])
    assert code == 3, err
    assert snapshot(site) == before


def test_a_fetch_that_never_got_data_writes_nothing(
    fake_scholar: FakeScholar, tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    fake_scholar.mode = "captcha"
    code, _out, err = run_main(["site", "hugo", "--site", str(site), "--out",
                                str(tmp_path / "out"), REAL_ID])
    assert code == 3, err
    assert "files in" in err and "unchanged" in err
    assert list(site.iterdir()) == []
    fake_scholar.mode = "ok"
    assert run_main(["site", "hugo", "--site", str(site), "--out", str(tmp_path / "out"),
                     "AAAAAAAAAAAA"])[0] == 4  # Scholar's sign-in page: author not found


def test_several_authors_each_in_its_folder(fake_scholar: FakeScholar, tmp_path: Path) -> None:
    fake_scholar.add_profile(SECOND, pubs=3, citations=700)
    site, out = tmp_path / "site", tmp_path / "out"
    site.mkdir()
    code, _out, err = run_main(["site", "jekyll", "--site", str(site), "--out", str(out),
                                REAL_ID, SECOND])
    assert code == 0, err
    data = yaml.safe_load((site / "_data" / "scholar_stats.yml").read_text())
    assert data["default"] == REAL_ID
    assert data["authors"][SECOND]["metrics"]["citations"] == 700
    fake_scholar.requests.clear()
    hugo = tmp_path / "hugo"
    hugo.mkdir()
    assert run_main(["site", "hugo", "--site", str(hugo), "--from", str(out)])[0] == 0
    assert set(yaml.safe_load((hugo / "data" / "scholar_stats.yaml").read_text())[
        "authors"]) == {REAL_ID, SECOND}  # the ids the results folder holds
    assert fake_scholar.requests == []


def test_a_file_the_user_wrote_is_never_overwritten(results: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    mine = site / "_includes" / "scholar-stats.html"
    mine.parent.mkdir(parents=True)
    mine.write_text("<p>my own include</p>\n")
    code, _out, err = run_main(["site", "jekyll", "--site", str(site), "--from", str(results)])
    assert code == 2
    assert str(mine) in err and err.count("\n") == 1 and "nothing was written" in err
    assert mine.read_text() == "<p>my own include</p>\n"
    assert not (site / "_data").exists()  # all or nothing: the data file was not written either
    mine.unlink()
    assert run_main(["site", "jekyll", "--site", str(site), "--from", str(results)])[0] == 0

    # an al-folio site's own _data/citations.yml is taken over; a hand-made one is not
    alfolio = tmp_path / "alfolio"
    (alfolio / "_data").mkdir(parents=True)
    (alfolio / "_data" / "socials.yml").write_text(f"scholar_userid: {REAL_ID}\n")
    citations = alfolio / "_data" / "citations.yml"
    citations.write_text("metadata:\n  last_updated: '2024-01-01'\npapers:\n"
                         f"  {REAL_ID}:9yKSN-GCB0IC:\n    citations: 0\n"
                         "    title: Polar coded\n    year: '2018'\n")
    assert run_main(["site", "al-folio", "--site", str(alfolio), "--from", str(results)])[0] == 0
    assert len(yaml.safe_load(citations.read_text())["papers"]) == 12
    citations.write_text("# my notes\npapers: {}\n")
    code, _out, err = run_main(["site", "al-folio", "--site", str(alfolio), "--from",
                                str(results)])
    assert code == 2 and str(citations) in err
    assert citations.read_text() == "# my notes\npapers: {}\n"


@pytest.mark.parametrize("theme,files,found", [
    ("al-folio", {"_data/socials.yml": f"scholar_userid: {REAL_ID}\n"}, True),
    ("al-folio", {"_config.yml": f"title: x\nscholar_userid: '{REAL_ID}'\n"}, True),
    ("al-folio", {"_data/socials.yml": f"# scholar_userid: {REAL_ID}\n"}, False),
    ("jekyll", {"_config.yml": "author:\n  googlescholar: "
                f'"https://scholar.google.com/citations?user={REAL_ID}&hl=en"\n'}, True),
    ("jekyll", {"_config.yml": "author:\n  googlescholar: \n"}, False),
    ("hugo", {"hugo.toml": f'[params]\nscholar = "scholar.google.com/citations?user={REAL_ID}"\n'},
     True),
    ("hugo", {"config/_default/params.yaml": "social:\n  - icon: google-scholar\n    link: "
              f"https://scholar.google.de/citations?hl=de&user={REAL_ID}\n"}, True),
    ("hugo", {"content/authors/admin/_index.md": "---\ntitle: Me\nsocial:\n  - icon: "
              f"google-scholar\n    link: 'https://scholar.google.com/citations?user={REAL_ID}'"
              "\n---\nAbout me.\n"}, True),
    ("hugo", {"hugo.toml": f'# scholar = "https://scholar.google.com/citations?user={REAL_ID}"\n'},
     False),
])
def test_the_id_the_site_names(theme: str, files: dict[str, str], found: bool, results: Path,
                               fake_scholar: FakeScholar, tmp_path: Path) -> None:
    site = tmp_path / "site"
    for name, text in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    empty = tmp_path / "empty"  # a results folder with no record: the id must come from the site
    shutil.copytree(results, empty / REAL_ID)
    code, _out, err = run_main(["site", theme, "--site", str(site), "--from", str(empty)])
    assert code == 0, err  # the subfolder's record is found either way
    # without --from the id is needed to fetch
    code, _out, err = run_main(["site", theme, "--site", str(site), "--out", str(tmp_path / "o")])
    if found:
        assert code == 0, err
        assert [r for r in fake_scholar.profile_requests() if f"user={REAL_ID}" in r]
    else:
        assert code == 2 and "no Scholar id" in err and err.count("\n") == 1


def test_bad_input_is_one_line_and_exit_2(results: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    other = tmp_path / "other"
    shutil.copytree(results, other)
    record = json.loads((other / "gs_data.json").read_text())
    record["citedby"] = "many"
    (other / "gs_data.json").write_text(json.dumps(record))
    cases = {
        "no such folder": ["site", "hugo", "--site", str(tmp_path / "nowhere"), "--from",
                           str(results)],
        "no gs_data.json of SiteAuthor02": ["site", "hugo", "--site", str(site), "--from",
                                            str(results), SECOND],
        "is not a record": ["site", "hugo", "--site", str(site), "--from", str(other)],
        "--from": ["site", "hugo", "--site", str(site), "--from", str(tmp_path / "none")],
        "invalid choice": ["site", "wordpress", "--site", str(site)],
        "is not a Google Scholar id": ["site", "hugo", "--site", str(site), "--from", str(results),
                             "not-an-id"],
    }
    for expected, argv in cases.items():
        code, _out, err = run_main(argv)
        assert code == 2, (argv, err)
        assert expected in err, (expected, err)
    assert list(site.iterdir()) == []


def test_from_makes_no_request_as_a_real_process(results: Path, fake_scholar: FakeScholar,
                                                 tmp_path: Path) -> None:
    """The command line as the Action runs it: a subprocess, the variables instead of flags."""
    site = tmp_path / "site"
    site.mkdir()
    done = run_cli(["site", "al-folio", REAL_ID], env={
        "SCHOLAR_STATS_SITE": str(site), "SCHOLAR_STATS_FROM": str(results)})
    assert done.returncode == 0, done.stderr
    assert (site / "_data" / "citations.yml").exists()
    assert fake_scholar.requests == []
    assert os.stat(site / "_data" / "citations.yml").st_size > 100


def test_write_site_says_what_it_wrote(results: Path, fake_scholar: FakeScholar,
                                       tmp_path: Path) -> None:
    """The call the Action makes after its own fetch: the paths written, none when nothing
    changed (so it commits only then)."""
    from scholar_stats.commands.site import write_site

    site = tmp_path / "site"
    site.mkdir()
    assert write_site("hugo", site, results) == [
        "data/scholar_stats.yaml", "layouts/shortcodes/scholar-stats.html"]
    assert write_site("hugo", site, results, [REAL_ID]) == []
    record = json.loads((results / "gs_data.json").read_text())
    record["citedby"] += 1
    (results / "gs_data.json").write_text(json.dumps(record))
    assert write_site("hugo", site, results) == ["data/scholar_stats.yaml"]
    assert fake_scholar.requests == []


def test_ids_after_a_double_dash_even_one_starting_with_a_dash(
    fake_scholar: FakeScholar, tmp_path: Path,
) -> None:
    """How the Action calls it: ``site THEME --site S --from R -- IDS`` (a Scholar id may start
    with ``-``, which only ``--`` keeps from being read as a flag)."""
    dashed = "-SiteAuthor3"
    fake_scholar.add_profile(dashed, pubs=2, citations=300)
    out, site = tmp_path / "out", tmp_path / "site"
    site.mkdir()
    assert run_main(["fetch", "--out", str(out), "--", dashed, REAL_ID])[0] == 0
    fake_scholar.requests.clear()
    code, _out, err = run_main(["site", "jekyll", "--site", str(site), "--from", str(out),
                                "--", dashed, REAL_ID])
    assert code == 0, err
    data = yaml.safe_load((site / "_data" / "scholar_stats.yml").read_text())
    assert data["default"] == dashed and data["authors"][dashed]["metrics"]["citations"] == 300
    assert fake_scholar.requests == []
