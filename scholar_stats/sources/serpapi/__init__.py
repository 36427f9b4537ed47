"""SerpApi's ``google_scholar_author`` engine: the same Scholar profile as JSON, fetched from
SerpApi's addresses. ``client`` talks to SerpApi over HTTP, ``parse`` turns its JSON pages into
the ``AuthorData`` the Scholar parser produces."""
