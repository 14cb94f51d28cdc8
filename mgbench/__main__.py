import sys

from mgbench.cli import main

sys.exit(main())
