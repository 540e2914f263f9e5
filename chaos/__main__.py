"""python -m chaos [--short] [--repeat N] [--seed S] [--scenario NAME]"""

import sys

from chaos.runner import main

sys.exit(main())
