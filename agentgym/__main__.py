"""`python -m agentgym ...` is the `agentgym` command."""

import sys

from agentgym.cli import main

sys.exit(main())
