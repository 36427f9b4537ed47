import sys

from scholar_stats.cli import main

sys.exit(main())
