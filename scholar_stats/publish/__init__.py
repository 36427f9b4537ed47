"""Publishing results to a git branch: git plumbing (``git``), reading and comparing result
files (``results``), the publish loop (``branch``) and the GitHub Action entry point
(``action``)."""
