"""``python -m rollout_trace_kit.writer``: the reference writer, speaking the driver protocol."""

import sys

from .adapter import main

sys.exit(main())
