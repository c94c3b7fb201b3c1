"""python -m tctcb.export ...  (thin: parses arguments in _cli.main)."""
import sys

from tctcb.export._cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
