"""`python -m bench`: every benchmark (see `bench.run`)."""

import sys

from bench.run import main

sys.exit(main())
