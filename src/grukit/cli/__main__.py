import sys

from grukit.cli import main

sys.exit(main())
