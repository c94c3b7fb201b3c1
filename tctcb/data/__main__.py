"""``python -m tctcb.data list|verify|jsonl`` (see ``tctcb.data._cli``)."""
import sys

from ._cli import main

sys.exit(main())
