"""Google Scholar: ``client`` fetches the pages over HTTP, ``parse`` turns them into an
``AuthorData``."""
