import sys

from ucc_research.cli import main

sys.exit(main())
