"""What the tests share, imported as ``support.<module>`` (``pyproject.toml`` puts ``tests/`` on
the path); no test module imports another.

Servers on 127.0.0.1 that play the outside world:

* ``fake_scholar``: a fake Google Scholar serving the real saved pages, misbehaving on request
  (``REAL_ID``: the real saved page most tests fetch).
* ``fake_serpapi``: a fake SerpApi serving real saved answers and its error bodies.
* ``webhook_receiver``: a webhook receiver that records every POST and answers as told.
* ``git_servers``: git over smart HTTP (``git http-backend``), with basic auth.
* ``hostile``: adversaries the fakes do not play (a silent port, an unconnectable one, a
  trickling server), and the CLI run as a process with its wall time and peak memory.

Running the code under test, and what it is given:

* ``cli_helpers``: ``scholar-stats`` in-process or as a real subprocess; the hashes of the files
  a run leaves.
* ``service_helpers``: a store with authors, an in-process client, a real uvicorn, a TCP
  forwarder that can take a database away, log capture.
* ``store_helpers``: database URLs (SQLite file, PostgreSQL schema), fetch outcomes built from
  plain numbers, a store of the first release.
* ``git_repos``: a bare remote, a working clone, git without user config (``git_env``, autouse).
* ``github_action``: ``action.yml``, its step's script and the runner's environment.
* ``doctored_pages``: a real saved page doctored to lie, each case with the part it breaks.
* ``planted_secrets``: the secrets a run is given, the doctors that echo them, the search for
  them in every output.
* ``browser_helpers``: headless Chromium (the DOM after scripts ran, screenshots), static sites.
* ``waiting``: ``wait_until``, the one way a test waits for something to happen.
* ``scheduling``: a fake clock for the refresh engine, and a scheduler whose ticks can be
  awaited.
* ``paths``: the repository, the fixtures, this package.

Scripts run as processes of their own:

* ``small_disk``: a real small or read-only disk (a tmpfs in a mount namespace).
* ``service_flood``: a stranger's flood of requests.
* ``without_extras``: a module run as a base install would run it, the extras hidden.
"""
